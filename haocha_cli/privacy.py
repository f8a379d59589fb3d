"""Personal data: the key file, and phone numbers stored protected (加密存储) and shown masked.

A phone is kept three ways: a keyed hash (HMAC) to match a repeat rater or a staff member, the number
encrypted (Fernet) for the owning county's return visit, and a mask (138****1234) for everything else.

The key file (``<database>.key``) is bound to its database: the database keeps a check value of the key, and
every load of the keys (``load_keys``) refuses a missing, damaged or other database's key file before anything
is read or written with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlite_utils

from haocha_cli import files
from haocha_cli.db import get_meta, open_db, set_meta, transaction
from haocha_cli.errors import ConfigError, InvalidInput

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}\d{7,8}$")


def key_path(db_path: str | Path) -> Path:
    return Path(str(db_path) + ".key")


# The database keeps a check value of its key (meta ``key_check``), never the key: an HMAC of this label under
# the data key. It tells the database's own key file from any other, and the key cannot be found from it.
KEY_CHECK = "key_check"
_KEY_CHECK_LABEL = b"haocha key check v1"
_KEY_BYTES = 32
_KEY_FILE_MAX = 64 * 1024  # a key file is about 120 bytes
# Every table that keeps data encrypted under the data key, with its column (rejects: the phone cell).
ENCRYPTED_COLUMNS = (("contacts", "phone_enc"), ("staff", "phone_enc"), ("rejects", "phone_enc"),
                     ("rejects", "cells_enc"))
RESTORE_HINT = "restore it from the backup: `haocha backup` copies it beside the backup, as <backup>.key"


@dataclass(frozen=True)
class Keys:
    data_key: bytes  # encrypts and hashes personal data; never rotated (old rows must stay readable)
    qr_secret: bytes  # signs QR tokens; rotating it invalidates every printed code (after its grace period)
    qr_secret_from: str  # "key file" or the env variable's name
    # The secret the last `qr rotate` replaced (in the key file, never in the database), the moment of that
    # rotation and the end of its grace period ('YYYY-MM-DD HH:MM:SS', local time): a token under it still
    # verifies for a rating made before the end of the grace (qr.check_token). None when there is none.
    qr_previous: bytes | None = None
    qr_rotated_at: str | None = None
    qr_previous_until: str | None = None


def key_check_value(data_key: bytes) -> str:
    return hmac.new(data_key, _KEY_CHECK_LABEL, hashlib.sha256).hexdigest()


def holds_encrypted_data(db: sqlite_utils.Database) -> bool:
    """Whether any row of ``db`` is encrypted under its data key (a rater's, a staff member's or a rejected
    row's phone): such a database can never use a new key."""
    return any(db.execute(f"SELECT 1 FROM {table} WHERE {column} IS NOT NULL LIMIT 1").fetchone()
               for table, column in ENCRYPTED_COLUMNS)


def ensure_key_file(db: sqlite_utils.Database, db_path: str | Path,
                    qr_secret_env: str = "HAOCHA_QR_SECRET") -> tuple[Path, bool]:
    """The key file of the database ``db`` at ``db_path``: the one there, checked as ``load_keys`` checks it,
    or a new one (owner-only) when there is none, its check value stored in the database. Returns (path,
    created). A database holding encrypted data never gets a new key (it could never read that data): the
    key file must be restored.

    The key file stays 0600, owner only, even when ``files.group`` opens haocha's other files to a group:
    whoever reads it can read every phone number and forge QR codes."""
    path = key_path(db_path)
    if path.exists():
        load_keys(db_path, qr_secret_env, db=db)
        return path, False
    if holds_encrypted_data(db):
        raise ConfigError(f"the key file {path} is missing; the phone numbers in {db_path} cannot be read without"
                          " it, so init makes no new key", RESTORE_HINT)
    data_key = secrets.token_bytes(_KEY_BYTES)
    try:
        with transaction(db):  # the check value first: a key file that cannot be written rolls it back
            set_meta(db, KEY_CHECK, key_check_value(data_key))
            fd = files.create(path, files.OWNER_ONLY, exclusive=True)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"data_key": _b64(data_key), "qr_secret": _b64(secrets.token_bytes(32))}, fh)
    except FileExistsError:  # another `init` made it meanwhile: checked as any key file
        load_keys(db_path, qr_secret_env, db=db)
        return path, False
    except OSError as exc:
        raise ConfigError(f"cannot write the key file {path}: {exc.strerror}",
                          "check that the folder is writable") from None
    return path, True


def read_key_file(path: Path) -> dict[str, str]:
    """The key file's fields, each checked: a damaged file is one ConfigError naming it and what is wrong."""
    if not path.exists():
        raise ConfigError(f"the key file {path} is missing", RESTORE_HINT)
    if not path.is_file():  # a folder, a device, a pipe: nothing to read a key from (and never read for ever)
        raise ConfigError(f"the key file {path} is damaged (it is not a file)", RESTORE_HINT)
    try:
        with path.open("rb") as fh:
            raw = fh.read(_KEY_FILE_MAX + 1)
        if len(raw) > _KEY_FILE_MAX:
            raise ConfigError(f"the key file {path} is damaged (it is larger than a key file)", RESTORE_HINT)
        data = json.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"the key file {path} cannot be read ({exc.strerror})",
                          "check its owner and mode (0600, haocha's user)") from None
    except ValueError:  # not UTF-8 or not JSON
        raise ConfigError(f"the key file {path} is damaged (it is not JSON)", RESTORE_HINT) from None
    if not isinstance(data, dict):
        raise ConfigError(f"the key file {path} is damaged (it holds no data_key and qr_secret)", RESTORE_HINT)
    for field in ("data_key", "qr_secret"):
        raw = _b64_field(path, data, field)
        if field == "data_key" and len(raw) != _KEY_BYTES:
            raise ConfigError(f"the key file {path} is damaged (its data_key is {len(raw)} bytes, not"
                              f" {_KEY_BYTES})", RESTORE_HINT)
    _check_previous_secret(path, data)
    return data


# The previous QR secret after `qr rotate`: all three fields or none.
PREVIOUS_FIELDS = ("qr_secret_previous", "qr_secret_rotated_at", "qr_secret_previous_until")


def _check_previous_secret(path: Path, data: dict) -> None:
    present = [f for f in PREVIOUS_FIELDS if f in data]
    if not present:
        return
    if len(present) != len(PREVIOUS_FIELDS):
        missing = next(f for f in PREVIOUS_FIELDS if f not in data)
        raise ConfigError(f"the key file {path} is damaged (it has no {missing})", RESTORE_HINT)
    _b64_field(path, data, "qr_secret_previous")
    moments = []
    for field in PREVIOUS_FIELDS[1:]:
        value = data[field]
        try:
            if not (isinstance(value, str) and len(value) == 19):
                raise ValueError
            moments.append(datetime.fromisoformat(value))
        except ValueError:
            raise ConfigError(f"the key file {path} is damaged (its {field} is not a time YYYY-MM-DD HH:MM:SS)",
                              RESTORE_HINT) from None
    if moments[1] < moments[0]:
        raise ConfigError(f"the key file {path} is damaged (its grace period ends before the rotation)",
                          RESTORE_HINT)


def _b64_field(path: Path, data: dict, field: str) -> bytes:
    value = data.get(field)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"the key file {path} is damaged (it has no {field})", RESTORE_HINT)
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:  # binascii.Error, and non-ASCII text
        raise ConfigError(f"the key file {path} is damaged (its {field} is not base64)", RESTORE_HINT) from None


def load_keys(db_path: str | Path, qr_secret_env: str = "HAOCHA_QR_SECRET", *,
              db: sqlite_utils.Database | None = None) -> Keys:
    """The keys of the database at ``db_path`` (open as ``db``, else opened here), from its key file — checked
    first, for every caller: the file is there and whole, and it is this database's (its check value matches
    the one the database keeps). A database made before the check value existed is given it on the first
    load whose key reads the data already encrypted there."""
    if db is None:
        own = open_db(db_path, create=False)
        try:
            return load_keys(db_path, qr_secret_env, db=own)
        finally:
            own.conn.close()
    path = key_path(db_path)
    if not path.exists():
        if holds_encrypted_data(db):
            raise ConfigError(f"the key file {path} is missing; the phone numbers in {db_path} cannot be read"
                              " without it", RESTORE_HINT)
        raise ConfigError(f"the key file {path} is missing", RESTORE_HINT + f"; {db_path} holds no phone numbers yet,"
                          " so `haocha init` may make a new one instead")
    data = read_key_file(path)
    data_key = base64.b64decode(data["data_key"])
    _check_belongs(db, db_path, path, data_key)
    env_secret = os.environ.get(qr_secret_env)
    if env_secret:  # the key file's secrets, current and previous, are not this one's
        return Keys(data_key, env_secret.encode("utf-8"), qr_secret_env)
    previous = ((base64.b64decode(data["qr_secret_previous"]), data["qr_secret_rotated_at"],
                 data["qr_secret_previous_until"]) if "qr_secret_previous" in data else (None, None, None))
    return Keys(data_key, base64.b64decode(data["qr_secret"]), "key file", *previous)


def _check_belongs(db: sqlite_utils.Database, db_path: str | Path, path: Path, data_key: bytes) -> None:
    foreign = ConfigError(f"the key file {path} belongs to another database, not to {db_path}",
                          "restore this database's own key file from the backup: `haocha backup` copies it beside"
                          " the backup, as <backup>.key")
    expected = get_meta(db, KEY_CHECK)
    if expected is not None:
        if not hmac.compare_digest(expected.encode("utf-8"), key_check_value(data_key).encode("ascii")):
            raise foreign
        return
    # Made before the check value: the key must read what is encrypted there; then the value is stored.
    vault = PhoneVault(data_key)
    for table, column in ENCRYPTED_COLUMNS:
        row = db.execute(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL LIMIT 1").fetchone()
        if row is not None and not vault.reads(row[0]):
            raise foreign
    try:
        with transaction(db):
            set_meta(db, KEY_CHECK, key_check_value(data_key))
    except sqlite3.OperationalError:  # a read-only database file: checked all the same, stored next time
        pass


def rotate_qr_secret(db_path: str | Path, qr_secret_env: str = "HAOCHA_QR_SECRET", *, rotated_at: str,
                     previous_until: str) -> None:
    """A new QR secret in the key file. The one it replaces is kept beside it as the previous secret, with
    the moment of the rotation and the end of its grace period (both 'YYYY-MM-DD HH:MM:SS'; equal for no
    grace): a previous secret kept from an earlier rotation is dropped, its grace ends now."""
    if os.environ.get(qr_secret_env):
        raise ConfigError(
            f"the QR secret comes from the environment variable {qr_secret_env}",
            f"set a new value in {qr_secret_env} where it is configured; haocha cannot change it",
        )
    path = key_path(db_path)
    data = read_key_file(path)
    data["qr_secret_previous"] = data["qr_secret"]
    data["qr_secret_rotated_at"] = rotated_at
    data["qr_secret_previous_until"] = previous_until
    _check_previous_secret(path, data)  # the times are haocha's own: refused before the file is touched
    data["qr_secret"] = _b64(secrets.token_bytes(32))
    tmp = path.with_suffix(path.suffix + ".tmp")
    # Owner-only whatever files.group says (the key reads every phone), even over a .tmp left by a crash.
    with files.open_file(tmp, "w", files.OWNER_ONLY, encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# Phone numbers as people write them: full-width digits (a phone keyboard's １３９…), and between the digits
# spaces, dashes, dots, underscores, brackets or invisible zero-width characters.
_DIGIT = "0-9\uff10-\uff19"
_WIDE = str.maketrans("０１２３４５６７８９＋", "0123456789+")
_ZERO_WIDTH = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
_SEPARATORS = f" \t\u00a0\u3000\\-\u2010-\u2015\u2212\uff0d.\uff0e_\uff3f()\uff08\uff09{_ZERO_WIDTH}"
_FIELD_SEPARATORS = re.compile(f"[\\s{_SEPARATORS}]+")  # a phone field: any white space too
# In free text a landline counts only with a real area code (010, 02x, or 0 and three digits from 03xx on)
# and a local number of 7 or 8 digits that starts with 2–9: fewer false alarms among other numbers.
_LANDLINE_STRICT = re.compile(r"0(?:10|2[0-9]|[3-9][0-9]{2})[2-9][0-9]{6,7}")


def _national(digits: str, *, strict: bool) -> str | None:
    """The national number (mobile 1…, landline 0…) of ASCII digits with an optional +86, 0086 or 86
    prefix, or None."""
    landline = _LANDLINE_STRICT if strict else _LANDLINE
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            rest = digits[len(prefix):]
            if _MOBILE.fullmatch(rest) or landline.fullmatch(rest):
                return rest
            return "0" + rest if landline.fullmatch("0" + rest) else None  # +86 532 …: the trunk 0 dropped
    if len(digits) == 13 and digits.startswith("86") and _MOBILE.fullmatch(digits[2:]):
        return digits[2:]  # 8613912345678
    if strict and len(digits) == 12 and digits.startswith("0") and _MOBILE.fullmatch(digits[1:]):
        return digits[1:]  # 013912345678: a mobile dialled from outside its area (a phone field keeps it)
    if _MOBILE.fullmatch(digits) or landline.fullmatch(digits):
        return digits
    return None


def normalize_phone(text: str) -> str | None:
    """Digits of a plausible mainland mobile or landline number, or None if implausible. Full-width digits,
    separators (spaces, dashes, dots, underscores, brackets), zero-width characters and a 86, +86 or 0086
    prefix are taken off: 139.1234.5678, １３９１２３４５６７８ and +86 139 1234 5678 are all 13912345678."""
    digits = _FIELD_SEPARATORS.sub("", str(text).translate(_WIDE))
    number = digits[1:] if digits.startswith("+") else digits
    if not (number.isascii() and number.isdigit()):
        return None
    return _national(digits, strict=False)


# A run of digit groups with separators between them (at most three in a row), perhaps after a + (+86 …).
_DIGIT_RUN = re.compile(f"[+\uff0b]?[{_DIGIT}](?:[{_SEPARATORS}]{{0,3}}[{_DIGIT}])*")
_DIGIT_GROUP = re.compile(f"[{_DIGIT}]+")
_LONGEST_PHONE = 16  # 0086 and a 12-digit landline
# A resident identity card number (居民身份证号码): 6-digit region, birth date, sequence, check digit.
_ID_NUMBER = re.compile(f"(?<![{_DIGIT}])[1-9\uff11-\uff19][{_DIGIT}]{{16}}[{_DIGIT}XxＸｘ](?![{_DIGIT}])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


# How a phone in free text may begin: 0 and an area code or a mobile, 0086, 13–19, or 86 and a mobile.
_PHONE_BEGINS = re.compile(r"0(?:[1-9]|0(?:8(?:6|$)|$)|$)|1(?:[3-9]|$)|8(?:6(?:1|$)|$)")


def _may_begin(digits: str) -> bool:
    return _PHONE_BEGINS.match(digits, 0, 4) is not None


def _phone_spans(text: str, run: re.Match[str]) -> Iterator[tuple[int, int, str]]:
    """The phones in one run of digit groups, as (start, end, mask) spans of ``text``.

    A phone begins and ends on the groups' boundaries (never inside 202406013912345678), the longest
    plausible span from a group wins, and a bare 86 counts as a prefix only when written onto the number
    ("86 139…" leaves the 86 as it is)."""
    plus = run.group()[0] in "+\uff0b"
    groups = [(m.start(), m.end(), m.group().translate(_WIDE)) for m in _DIGIT_GROUP.finditer(text, *run.span())]
    i = 0
    while i < len(groups):
        lead = "+" if i == 0 and plus else ""
        found, national, digits = None, None, lead
        for j in range(i, len(groups) if lead or groups[i][2] != "86" else i):
            digits += groups[j][2]
            if len(digits) > _LONGEST_PHONE + len(lead) or not (lead or _may_begin(digits)):
                break
            if len(digits) >= 10 and (number := _national(digits, strict=True)):
                found, national = j, number  # and on: the longest wins
        if found is None:
            i += 1
            continue
        start, end = run.start() if i == 0 and plus else groups[i][0], groups[found][1]
        # (0532)88886607, （139）1234 5678: the brackets go with the number, not one of them left behind.
        span = text[start:end]
        opened = sum(span.count(c) for c in "(\uff08") - sum(span.count(c) for c in ")\uff09")
        if opened < 0 and start > 0 and text[start - 1] in "(\uff08":
            start -= 1
        elif opened > 0 and end < len(text) and text[end] in ")\uff09":
            end += 1
        yield start, end, mask_phone(national)
        i = found + 1


def _is_id_number(number: str) -> bool:
    from datetime import date

    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    check = "10X98765432"[sum(int(d) * w for d, w in zip(number, _ID_WEIGHTS, strict=False)) % 11]
    return born.year >= 1900 and number[17].upper() == check


def _mask_id(match: re.Match[str]) -> str:
    number = match.group().translate(_WIDE).translate({0xFF38: "X", 0xFF58: "x"})
    return number[:6] + "********" + number[-4:] if _is_id_number(number) else match.group()


def mask_numbers(text: str | None) -> str | None:
    """Free text (a comment "请回电13812345678") with the phone numbers in it masked as ``mask_phone`` masks a
    phone: 13812345678, 138 1234 5678, 138.1234.5678, １３８１２３４５６７８, +86 138-1234-5678 -> 138****5678;
    0532-8888 6666, (0532)88886666, 053288886666 -> 0532****6666. Full-width digits count, and spaces,
    dashes, dots, underscores, brackets and zero-width characters between the digits; the rest of the text
    stays exactly as written. A landline needs its area code (a bare 88886666 is not masked); other numbers
    (370213, 2026-08-31 10:05:00, amounts, 办件编号) stay. A resident ID number (身份证号, its check digit
    right) is personal data too: 370213********1234. Every listing, report and export shows free text so."""
    if not text:
        return text
    text = _ID_NUMBER.sub(_mask_id, text)
    spans = [s for run in _DIGIT_RUN.finditer(text) if run.end() - run.start() >= 10
             for s in _phone_spans(text, run)]
    if not spans:
        return text
    parts, at = [], 0
    for start, end, mask in spans:
        parts += [text[at:start], mask]
        at = end
    return "".join(parts) + text[at:]


def masked_numbers(text: str | None) -> dict[str, list[str]]:
    """The numbers ``mask_numbers`` masks in ``text``, by the mask it gives them, as they are written there:
    {"138****5678": ["138 1234 5678"]} (the rejects round trip gives a masked line its numbers back)."""
    found: dict[str, list[str]] = {}
    if not text:
        return found
    for match in _ID_NUMBER.finditer(text):
        masked = _mask_id(match)
        if masked != match.group():
            found.setdefault(masked, []).append(match.group())
    text = _ID_NUMBER.sub(_mask_id, text)  # as mask_numbers: the phones are looked for after the ID numbers
    for run in _DIGIT_RUN.finditer(text):
        if run.end() - run.start() >= 10:
            for start, end, mask in _phone_spans(text, run):
                found.setdefault(mask, []).append(text[start:end])
    return found


def mask_values(value: Any) -> Any:
    """``mask_numbers`` on every text inside a value (a dict, a list, as JSON loads them); other values stay."""
    if isinstance(value, str):
        return mask_numbers(value)
    if isinstance(value, dict):
        return {k: mask_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_values(v) for v in value]
    return value


def mask_json(text: str | None) -> str | None:
    """A JSON text (an audit event's before/after) with the phone numbers in its strings masked; still the
    same JSON when there is none. Numbers (ids) are left alone: only text is free text."""
    if not text or not _DIGIT_GROUP.search(text):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return mask_numbers(text)
    masked = mask_values(value)
    return text if masked == value else json.dumps(masked, ensure_ascii=False, sort_keys=True)


def mask_phone(phone: str) -> str:
    """138****1234; a landline keeps its area code (010, 02x: three digits; others four) and last four digits:
    0532****6666, 010****6666."""
    if len(phone) == 11 and phone.startswith("1"):
        return phone[:3] + "****" + phone[-4:]
    area = 3 if phone[1:2] in ("1", "2") else 4
    return phone[:area] + "****" + phone[-4:]


class PhoneVault:
    """Hashes, encrypts and decrypts phone numbers with the database's data key."""

    def __init__(self, data_key: bytes):
        from cryptography.fernet import Fernet  # imported here: only commands that touch phones pay for it

        self._hash_key = hmac.new(data_key, b"phone-hash", hashlib.sha256).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(hmac.new(data_key, b"phone-enc", hashlib.sha256).digest()))
        self.hash = lru_cache(maxsize=65536)(self._hash)

    def _hash(self, phone: str) -> str:
        return hmac.new(self._hash_key, phone.encode("ascii"), hashlib.sha256).hexdigest()[:32]

    def protect(self, raw: str) -> tuple[str, str, str]:
        """(hash, encrypted, masked) of a phone; InvalidInput when implausible."""
        phone = normalize_phone(raw)
        if phone is None:
            raise InvalidInput(f"phone number {raw!r} is not plausible", "give an 11-digit mobile or a landline with area code")
        return self.hash(phone), self._fernet.encrypt(phone.encode("ascii")).decode("ascii"), mask_phone(phone)

    def reveal(self, encrypted: str) -> str:
        from cryptography.fernet import InvalidToken

        # UTF-8: a rejected row keeps its phone cell (any text, not only digits) encrypted the same way.
        try:
            return self._fernet.decrypt(encrypted.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            # Written under another key (a key file replaced before the key check existed) or altered.
            raise ConfigError("this phone number was not encrypted with the database's key file and cannot be read",
                              "it was stored while another key file was in place: restore the key file it was"
                              " written with, from the backup of that time") from None

    def reads(self, encrypted: str) -> bool:
        """Whether ``encrypted`` was encrypted under this vault's key."""
        from cryptography.fernet import InvalidToken

        try:
            self._fernet.decrypt(encrypted.encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True
