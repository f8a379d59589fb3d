"""The key file is bound to its database (docs/security.md, "The key file"): `init` stores a check value of the
key in the database, and every command that needs the key checks it first. A missing key on a database holding
phone numbers is never replaced by a new one; another database's key and a damaged key file are refused with
one `Error:` line naming the file, before anything is written; no path ends in a traceback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import stat
from pathlib import Path

import pytest
from cases_support import add_ratings
from import_support import NOW, good, write_csv
from support import ok
from typer.testing import CliRunner

from haocha_cli.bootstrap import init_database
from haocha_cli.cli import app
from haocha_cli.errors import ConfigError
from haocha_cli.privacy import PhoneVault
from haocha_cli.web import app as web_app

COUNTY = "county:370213"  # LC01's county
RESTORE = "restore it from the backup: `haocha backup` copies it beside the backup, as <backup>.key"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def foreign_key_text() -> str:
    """A whole key file as `haocha init` writes it, of another database."""
    return json.dumps({"data_key": b64(secrets.token_bytes(32)), "qr_secret": b64(secrets.token_bytes(32))})


def check_value(key_file: Path) -> str:
    data_key = base64.b64decode(json.loads(key_file.read_text(encoding="utf-8"))["data_key"])
    return hmac.new(data_key, b"haocha key check v1", hashlib.sha256).hexdigest()


def meta(db: Path, key: str) -> str | None:
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    finally:
        conn.close()
    return row[0] if row else None


# (name, what replaces the key file — None: it is missing —, the error's message after "the key file <path> ")
DAMAGED = [
    ("empty object", "{}", "is damaged (it has no data_key)"),
    ("list", "[]", "is damaged (it holds no data_key and qr_secret)"),
    ("not JSON", "data_key=abc", "is damaged (it is not JSON)"),
    ("not UTF-8", b"\xff\xfe{", "is damaged (it is not JSON)"),
    ("non-base64 data_key", json.dumps({"data_key": "not base64!", "qr_secret": b64(b"q" * 32)}),
     "is damaged (its data_key is not base64)"),
    ("short data_key", json.dumps({"data_key": b64(b"k" * 16), "qr_secret": b64(b"q" * 32)}),
     "is damaged (its data_key is 16 bytes, not 32)"),
    ("number data_key", json.dumps({"data_key": 7, "qr_secret": b64(b"q" * 32)}), "is damaged (it has no data_key)"),
    ("no qr_secret", json.dumps({"data_key": b64(b"k" * 32)}), "is damaged (it has no qr_secret)"),
    ("huge", json.dumps({"data_key": "A" * 70_000, "qr_secret": b64(b"q" * 32)}),
     "is damaged (it is larger than a key file)"),
    # The previous QR secret `qr rotate` keeps for its grace period: with both its times, or not at all.
    ("previous secret without its times", json.dumps({"data_key": b64(b"k" * 32), "qr_secret": b64(b"q" * 32),
                                                      "qr_secret_previous": b64(b"p" * 32)}),
     "is damaged (it has no qr_secret_rotated_at)"),
    ("previous secret's end not a time", json.dumps({
        "data_key": b64(b"k" * 32), "qr_secret": b64(b"q" * 32), "qr_secret_previous": b64(b"p" * 32),
        "qr_secret_rotated_at": "2024-05-06 09:00:00", "qr_secret_previous_until": "in 30 days"}),
     "is damaged (its qr_secret_previous_until is not a time YYYY-MM-DD HH:MM:SS)"),
]
BAD_KEYS = ["missing", "foreign", *(name for name, _, _ in DAMAGED)]


def expected_error(kind: str, db: Path, *, init: bool = False) -> str:
    key = f"{db}.key"
    if kind == "missing":
        return (f"Error: the key file {key} is missing; the phone numbers in {db} cannot be read without it"
                + (", so init makes no new key" if init else "") + f" ({RESTORE})")
    if kind == "foreign":
        return (f"Error: the key file {key} belongs to another database, not to {db} (restore this database's own"
                " key file from the backup: `haocha backup` copies it beside the backup, as <backup>.key)")
    message = next(m for name, _, m in DAMAGED if name == kind)
    return f"Error: the key file {key} {message} ({RESTORE})"


def spoil(db: Path, kind: str) -> None:
    key = Path(f"{db}.key")
    if kind == "missing":
        key.unlink()
        return
    text = foreign_key_text() if kind == "foreign" else next(t for name, t, _ in DAMAGED if name == kind)
    key.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))


@pytest.fixture
def phones_db(db_path):
    """The test database with a real-name bad review (case 1, LC01) besides the staff phones of every init."""
    add_ratings(db_path, [{"rated_at": "2024-05-06 09:00:00", "window": "LC01", "level": "不满意",
                           "phone": "13812345678"}])
    return db_path


def test_init_binds_the_key_file_to_its_database(tmp_path):
    db = tmp_path / "new.db"
    init_database(db)
    assert meta(db, "key_check") == check_value(Path(f"{db}.key"))
    assert "data_key" not in meta(db, "key_check")  # a check value, not the key
    assert json.loads(Path(f"{db}.key").read_text(encoding="utf-8"))["data_key"] not in meta(db, "key_check")


@pytest.mark.parametrize("kind", BAD_KEYS)
def test_every_command_that_needs_the_key_refuses_a_bad_one_and_writes_nothing(phones_db, cli, run, tmp_path, kind,
                                                                              monkeypatch):
    ratings = write_csv(tmp_path / "r.csv", [good(1, rater_phone="13912345678")])
    spoil(phones_db, kind)
    key = Path(f"{phones_db}.key")
    key_before = key.read_bytes() if key.exists() else None
    db_before = phones_db.read_bytes()
    error = expected_error(kind, phones_db)

    def refused(result, expected: str = error) -> None:
        assert (result.exit_code, result.stderr.strip()) == (1, expected)
        assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback

    refused(run(NOW, "import", str(ratings)))
    refused(cli("cases", "contact", "1", operator=COUNTY))
    refused(cli("backup", str(tmp_path / "copy.db")))
    refused(cli("qr", "rotate", "--yes"))
    refused(cli("init"), expected_error(kind, phones_db, init=True))
    # serve: refused at start, in one line, before it listens (uvicorn is never reached)
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("serve started with a bad key file"))
    refused(cli("serve"))
    with pytest.raises(ConfigError) as err:
        web_app.create_app(phones_db)
    assert f"Error: {err.value}" == error
    # status shows it as a to-do, and the rest of the screen as always
    status = ok(cli("status", "--format", "json"))
    assert error.removeprefix("Error: ") in json.loads(status.stdout)["to_do"]
    # nothing was written: the database's bytes, no new key file, no copy
    assert phones_db.read_bytes() == db_before and not Path(f"{phones_db}-wal").exists()
    assert (key.read_bytes() if key.exists() else None) == key_before
    assert not (tmp_path / "copy.db").exists() and not (tmp_path / "copy.db.key").exists()


def test_the_database_own_key_restored_works_again(phones_db, cli):
    key = Path(f"{phones_db}.key")
    own = key.read_bytes()
    key.unlink()
    assert cli("cases", "contact", "1", operator=COUNTY).exit_code == 1
    key.write_bytes(own)
    assert ok(cli("cases", "contact", "1", operator=COUNTY)).stdout.strip() == "13812345678"


@pytest.mark.parametrize("kind", [name for name, _, _ in DAMAGED])
def test_init_of_a_new_database_beside_a_damaged_key_file_makes_nothing(tmp_path, kind):
    db = tmp_path / "new.db"
    spoil_text = next(t for name, t, _ in DAMAGED if name == kind)
    Path(f"{db}.key").write_bytes(spoil_text if isinstance(spoil_text, bytes) else spoil_text.encode("utf-8"))
    result = CliRunner().invoke(app, ["--db", str(db), "init"])
    assert (result.exit_code, result.stderr.strip()) == (1, expected_error(kind, db))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.db.key"]  # no database was made


def test_init_without_the_key_on_a_database_without_phones_makes_a_new_one_and_says_so(db_path, cli):
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE staff SET phone_hash = NULL, phone_enc = NULL, phone_masked = NULL")
    conn.commit()
    conn.close()
    key = Path(f"{db_path}.key")
    old_check = meta(db_path, "key_check")
    key.unlink()
    missing = cli("cases", "list")  # needs no key: works
    assert missing.exit_code == 0
    status = json.loads(ok(cli("status", "--format", "json")).stdout)
    assert (f"the key file {key} is missing ({RESTORE}; {db_path} holds no phone numbers yet, so `haocha init` may"
            " make a new one instead)") in status["to_do"]
    result = ok(cli("init"))
    assert result.stderr.splitlines()[0] == (
        f"created a new key file {key} (owner-only; back it up with the database): the database holds no phone"
        " numbers, so none is lost; QR codes printed before no longer verify: print them again (haocha qr generate)")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert meta(db_path, "key_check") == check_value(key) != old_check
    events = sqlite3.connect(db_path).execute(
        "SELECT action, entity, entity_id FROM audit_events ORDER BY id DESC LIMIT 1").fetchall()
    assert events == [("key.create", "key_file", str(key))]
    ok(cli("audit", "verify"))
    # the new key is the database's now: a phone goes in and comes out
    add_ratings(db_path, [{"rated_at": "2024-05-06 09:00:00", "window": "LC01", "level": "不满意",
                           "phone": "13812345678"}])
    assert ok(cli("cases", "contact", "1", operator=COUNTY)).stdout.strip() == "13812345678"
    assert not any("key file" in line for line in json.loads(ok(cli("status", "--format", "json")).stdout)["to_do"])


def test_a_database_made_before_the_check_value_gets_it_on_the_first_load(phones_db, cli):
    conn = sqlite3.connect(phones_db)
    conn.execute("DELETE FROM meta WHERE key = 'key_check'")
    conn.commit()
    conn.close()
    key = Path(f"{phones_db}.key")
    own = key.read_bytes()
    # another database's key cannot read the phones already there: refused, and not taken as this one's
    key.write_text(foreign_key_text(), encoding="utf-8")
    foreign = cli("cases", "contact", "1", operator=COUNTY)
    assert (foreign.exit_code, foreign.stderr.strip()) == (1, expected_error("foreign", phones_db))
    assert meta(phones_db, "key_check") is None
    # its own key reads them: the check value is stored with that load
    key.write_bytes(own)
    assert ok(cli("cases", "contact", "1", operator=COUNTY)).stdout.strip() == "13812345678"
    assert meta(phones_db, "key_check") == check_value(key)


def test_a_phone_encrypted_under_another_key_is_one_error_line(phones_db, cli):
    # What a key replaced before the check value existed left behind: a phone the database's key cannot read.
    other = PhoneVault(secrets.token_bytes(32))
    conn = sqlite3.connect(phones_db)
    conn.execute("UPDATE contacts SET phone_enc = ?", [other.protect("13812345678")[1]])
    conn.commit()
    conn.close()
    result = cli("cases", "contact", "1", operator=COUNTY)
    assert (result.exit_code, result.stderr.strip()) == (1, (
        "Error: this phone number was not encrypted with the database's key file and cannot be read (it was stored"
        " while another key file was in place: restore the key file it was written with, from the backup of that"
        " time)"))
