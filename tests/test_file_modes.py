"""Every file haocha writes is owner-only (0600) under the usual umask 022, or 0640 in the group named by
``[files] group``; the folders it makes for its output are 0700 (0750); `haocha status` says when the
database is open to others, and how to fix it. The demo's files: tests/test_demo.py."""

from __future__ import annotations

import grp
import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from import_support import NOW, good, row, write_csv
from support import ok
from typer.testing import CliRunner

from haocha_cli import backup
from haocha_cli.cli import app

pytestmark = pytest.mark.usefixtures("umask_022")
OWNER_ONLY, GROUP = 0o600, 0o640


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def modes(*paths: Path) -> dict[str, int]:
    return {p.name: mode(p) for p in paths}


def haocha(*args: str):
    return CliRunner().invoke(app, list(args))


def _batch_with_rejects(run, tmp_path: Path) -> None:
    """Batch 1: two good ratings (county 370213's LC01) and a row with an unknown window."""
    path = write_csv(tmp_path / "batch.csv", [good(1), good(2, rater_phone="13812345678"),
                                              row(rating_id="R9", rated_at="2024-05-06 10:00:00",
                                                  window_code="QD99", channel="窗口评价器", item_code="XK01",
                                                  level="满意")])
    ok(run(NOW, "import", str(path)))


def _written_by_every_command(run, tmp_path: Path) -> dict[str, Path]:
    """Each kind of file haocha writes, through the command line, into a folder ``out`` it creates."""
    _batch_with_rejects(run, tmp_path)
    out = tmp_path / "out"
    ok(run(NOW, "report", "daily", "--date", "2024-05-06", "--out", str(out / "reports")))
    os.mkdir(out / "backup")
    for fmt in ("csv", "json", "xlsx"):
        ok(run(NOW, "export", "ratings", "--out", str(out / f"ratings.{fmt}")))
    ok(run(NOW, "export", "cases", "--out", str(out / "cases.csv")))
    ok(run(NOW, "batches", "rejects", "1", "--out", str(out / "rejects.csv")))
    ok(run(NOW, "batches", "rejects", "1", "--out", str(out / "rejects.jsonl")))
    for fmt in ("xlsx", "csv"):
        ok(run(NOW, "cases", "export", "--county", "370213", "--format", fmt, "-o", str(out / f"sheet.{fmt}")))
    ok(run(NOW, "qr", "generate", "--window", "LC01", "--out", str(out / "qr"), "--allow-local"))
    ok(run(NOW, "qr", "sheet", "--out", str(out / "sheets" / "qr-sheet.html"), "--allow-local"))
    ok(run(NOW, "spc", "--county", "370213", "--from", "2024-05-01", "--to", "2024-05-31", "--svg",
           str(out / "chart.svg")))
    ok(run(NOW, "backup", str(out / "backup" / "copy.db")))
    files = {p.relative_to(out).as_posix(): p for p in out.rglob("*") if p.is_file()}
    assert set(files) == {
        "reports/daily-2024-05-06.md", "reports/daily-2024-05-06.html", "ratings.csv", "ratings.json",
        "ratings.xlsx", "cases.csv", "rejects.csv", "rejects.jsonl", "sheet.xlsx", "sheet.csv",
        "qr/370213_LC01-local.png", "qr/370213_LC01-local.svg", "sheets/qr-sheet.html", "chart.svg", "backup/copy.db",
        "backup/copy.db.key"}
    return files


def test_every_file_a_command_writes_is_owner_only(run, tmp_path):
    files = _written_by_every_command(run, tmp_path)
    assert {name: mode(p) for name, p in files.items() if mode(p) != OWNER_ONLY} == {}
    out = tmp_path / "out"
    # the folders haocha made; the one that was there (backup/, made by the test) keeps its 0755
    assert modes(out, out / "reports", out / "qr", out / "sheets", out / "backup") == {
        "out": 0o700, "reports": 0o700, "qr": 0o700, "sheets": 0o700, "backup": 0o755}


def test_a_file_that_existed_is_made_owner_only(run, tmp_path):
    _batch_with_rejects(run, tmp_path)
    old = tmp_path / "ratings.csv"
    old.write_text("an old export\n", encoding="utf-8")
    os.chmod(old, 0o644)
    ok(run(NOW, "export", "ratings", "--out", str(old)))
    ok(run(NOW, "batches", "rejects", "1", "--out", str(old)))
    assert mode(old) == OWNER_ONLY and "reject_reason" in old.read_text(encoding="utf-8-sig")


def test_init_makes_the_database_its_wal_and_shm_owner_only(tmp_path):
    db = tmp_path / "new.db"
    ok(haocha("--db", str(db), "init"))
    assert modes(db, Path(f"{db}.key")) == {"new.db": OWNER_ONLY, "new.db.key": OWNER_ONLY}
    # SQLite gives the -wal and -shm the database file's mode: seen while a reader keeps them open and a
    # command writes
    reader = sqlite3.connect(db)
    try:
        reader.execute("SELECT count(*) FROM audit_events").fetchone()
        ok(haocha("--db", str(db), "--operator", "city", "qr", "rotate", "--yes"))
        assert modes(Path(f"{db}-wal"), Path(f"{db}-shm")) == {"new.db-wal": OWNER_ONLY, "new.db-shm": OWNER_ONLY}
        assert os.path.getsize(f"{db}-wal") > 0
    finally:
        reader.close()
    assert mode(Path(f"{db}.key")) == OWNER_ONLY  # rewritten by the rotation


def test_a_killed_backup_leaves_an_owner_only_part_that_the_next_backup_removes(cli, db_path, tmp_path, monkeypatch):
    dest = tmp_path / "copy.db"
    part = tmp_path / "copy.db.part"

    def killed(_db):  # the process dies while the copy is checked: nothing cleans up after it
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(backup, "_remove", lambda _path: None)
        m.setattr(backup.audit, "verify", killed)
        result = cli("backup", str(dest))
    assert result.exit_code == 1 and result.stderr.startswith("Error: cannot write")
    assert mode(part) == OWNER_ONLY and part.stat().st_size > 0 and not dest.exists()
    # an older haocha's .part (0644) and a stale journal of it: removed, never taken for the new copy's
    os.chmod(part, 0o644)
    Path(f"{part}-journal").write_bytes(b"stale journal")
    ok(cli("backup", str(dest)))
    assert sorted(p.name for p in tmp_path.glob("copy.db*")) == ["copy.db", "copy.db.key"]
    assert modes(dest, Path(f"{dest}.key")) == {"copy.db": OWNER_ONLY, "copy.db.key": OWNER_ONLY}
    assert sqlite3.connect(dest).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _a_group() -> tuple[str, int]:
    """A group this user may give files to: another than its own where there is one (root: any), so that
    the group is seen to be set, else its primary group."""
    own = os.getgid()
    if os.geteuid() == 0:
        others = [g.gr_gid for g in grp.getgrall() if g.gr_gid != own]
    else:
        others = [gid for gid in os.getgroups() if gid != own]
    gid = others[0] if others else own
    return grp.getgrgid(gid).gr_name, gid


def test_files_group_makes_the_files_0640_in_that_group_and_the_key_stays_owner_only(tmp_path, monkeypatch):
    name, gid = _a_group()
    (tmp_path / "haocha.toml").write_text(f'[files]\ngroup = "{name}"\n', encoding="utf-8")
    db = tmp_path / "haocha.db"
    ok(haocha("--db", str(db), "init"))
    monkeypatch.setenv("HAOCHA_DB", str(db))

    def run(when, *args, operator="city"):
        monkeypatch.setenv("HAOCHA_NOW", when)
        return haocha("--operator", operator, *args)

    reader = sqlite3.connect(db)
    try:
        reader.execute("SELECT count(*) FROM audit_events").fetchone()
        files = _written_by_every_command(run, tmp_path)
        sidecars = [Path(f"{db}-wal"), Path(f"{db}-shm")]
        group_files = [db, *sidecars, *(p for n, p in files.items() if n != "backup/copy.db.key")]
        assert {p.name: (mode(p), p.stat().st_gid) for p in group_files
                if (mode(p), p.stat().st_gid) != (GROUP, gid)} == {}
    finally:
        reader.close()
    # whoever reads the key file reads every phone: owner-only, the copy too
    assert modes(Path(f"{db}.key"), files["backup/copy.db.key"]) == {"haocha.db.key": OWNER_ONLY,
                                                                      "copy.db.key": OWNER_ONLY}
    out = tmp_path / "out"
    assert {p.name: (mode(p), p.stat().st_gid) for p in (out, out / "reports", out / "qr")} == {
        "out": (0o750, gid), "reports": (0o750, gid), "qr": (0o750, gid)}
    # status: nothing to do about the files
    data = json.loads(ok(run(NOW, "status", "--format", "json")).stdout)
    assert [line for line in data["to_do"] if "mode" in line] == []


def test_an_unknown_group_is_an_error_and_nothing_is_written(tmp_path):
    toml = tmp_path / "haocha.toml"
    toml.write_text('[files]\ngroup = "no-such-group-haocha"\n', encoding="utf-8")
    before = sorted(tmp_path.iterdir())
    message = (f"Error: {toml}: files.group names the group 'no-such-group-haocha', which this system does not have"
               " (create it with groupadd no-such-group-haocha, or correct [files] group; an empty group means"
               " owner-only files)\n")
    for args in (["init"], ["report", "daily", "--out", "reports"], ["export", "ratings", "--out", "r.csv"]):
        result = haocha("--db", str(tmp_path / "haocha.db"), *args)
        assert (result.exit_code, result.stderr) == (1, message), args
    assert sorted(tmp_path.iterdir()) == before


def test_status_says_when_the_database_or_key_file_is_open_to_others(run, db_path):
    def to_do():
        return json.loads(ok(run("2026-03-02 15:00:00", "status", "--format", "json")).stdout)["to_do"]

    assert to_do() == []
    os.chmod(db_path, 0o644)
    os.chmod(f"{db_path}.key", 0o640)
    # SQLite made the -wal and -shm of this run with the database's mode: they need the fix too
    group = grp.getgrgid(os.stat(db_path).st_gid).gr_name
    assert to_do() == [
        f"the database file {db_path} can be read by every user (mode 0644); it holds personal data: chmod 600"
        f" {db_path} {db_path}-wal {db_path}-shm",
        f"the key file {db_path}.key can be read by the group {group} (mode 0640); it reads every phone: chmod 600"
        f" {db_path}.key"]
    os.chmod(db_path, 0o600)
    os.chmod(f"{db_path}.key", 0o600)
    assert to_do() == []
