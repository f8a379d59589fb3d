"""Personal data: the key file, and phone numbers stored protected (加密存储) and shown masked.

A phone is kept three ways: a keyed hash (HMAC) to match a repeat rater or a staff member, the number
encrypted (Fernet) for the owning county's return visit, and a mask (138****1234) for everything else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from haocha_cli import files
from haocha_cli.errors import ConfigError, InvalidInput

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}\d{7,8}$")


def key_path(db_path: str | Path) -> Path:
    return Path(str(db_path) + ".key")


@dataclass(frozen=True)
class Keys:
    data_key: bytes  # encrypts and hashes personal data; never rotated (old rows must stay readable)
    qr_secret: bytes  # signs QR tokens; rotating it invalidates every printed code
    qr_secret_from: str  # "key file" or the env variable's name


def ensure_key_file(db_path: str | Path) -> tuple[Path, bool]:
    """Create the key file (owner-only) if there is none. Returns (path, created).

    The key file stays 0600, owner only, even when ``files.group`` opens haocha's other files to a group:
    whoever reads it can read every phone number and forge QR codes."""
    path = key_path(db_path)
    if path.exists():
        return path, False
    data = {"data_key": _b64(secrets.token_bytes(32)), "qr_secret": _b64(secrets.token_bytes(32))}
    fd = files.create(path, files.OWNER_ONLY, exclusive=True)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    return path, True


def _read_key_file(path: Path) -> dict[str, str]:
    if not path.exists():
        raise ConfigError(
            f"key file {path} is missing",
            "it is made by `haocha init`; restore it from your backup — without it phone numbers cannot be read",
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ConfigError(f"key file {path} is damaged", "restore it from your backup") from None


def load_keys(db_path: str | Path, qr_secret_env: str = "HAOCHA_QR_SECRET") -> Keys:
    data = _read_key_file(key_path(db_path))
    env_secret = os.environ.get(qr_secret_env)
    if env_secret:
        return Keys(base64.b64decode(data["data_key"]), env_secret.encode("utf-8"), qr_secret_env)
    return Keys(base64.b64decode(data["data_key"]), base64.b64decode(data["qr_secret"]), "key file")


def rotate_qr_secret(db_path: str | Path, qr_secret_env: str = "HAOCHA_QR_SECRET") -> None:
    if os.environ.get(qr_secret_env):
        raise ConfigError(
            f"the QR secret comes from the environment variable {qr_secret_env}",
            f"set a new value in {qr_secret_env} where it is configured; haocha cannot change it",
        )
    path = key_path(db_path)
    data = _read_key_file(path)
    data["qr_secret"] = _b64(secrets.token_bytes(32))
    tmp = path.with_suffix(path.suffix + ".tmp")
    # Owner-only whatever files.group says (the key reads every phone), even over a .tmp left by a crash.
    with files.open_file(tmp, "w", files.OWNER_ONLY, encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def normalize_phone(text: str) -> str | None:
    """Digits of a plausible mainland mobile or landline number, or None if implausible."""
    digits = re.sub(r"[\s\-()（）]", "", str(text))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if _MOBILE.match(digits) or _LANDLINE.match(digits):
        return digits
    return None


# Numbers written into free text: a mobile (138 1234 5678, 138-1234-5678) or a landline with its area code.
_MOBILE_IN_TEXT = re.compile(r"(?<![0-9])(?:(?:\+|00)86[- ]?)?(1[3-9][0-9])[- ]?([0-9]{4})[- ]?([0-9]{4})(?![0-9])")
_LANDLINE_IN_TEXT = re.compile(r"(?<![0-9])(0[0-9]{2,3})-([0-9]{7,8})(?![0-9])")


def mask_numbers(text: str | None) -> str | None:
    """Free text (a comment "请回电13812345678") with the phone numbers in it masked: 13812345678 ->
    138****5678, 0532-88886666 -> 0532-****6666. Every listing, report and export shows free text so."""
    if not text:
        return text
    text = _MOBILE_IN_TEXT.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    return _LANDLINE_IN_TEXT.sub(lambda m: f"{m.group(1)}-****{m.group(2)[-4:]}", text)


def mask_phone(phone: str) -> str:
    """138****1234; a landline keeps its area code and last four digits."""
    if len(phone) == 11 and phone.startswith("1"):
        return phone[:3] + "****" + phone[-4:]
    return phone[:4] + "*" * max(len(phone) - 8, 3) + phone[-4:]


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
        # UTF-8: a rejected row keeps its phone cell (any text, not only digits) encrypted the same way.
        return self._fernet.decrypt(encrypted.encode("ascii")).decode("utf-8")
