"""The audit trail: every state-changing command leaves exactly one event per change (and a refused one
none); tampering with the event rows — edits of any field, a forged or rewritten row, removals, reordering,
the head record — is found by `audit verify` (tests/test_foundation.py has the first cases); and
`haocha backup` makes a verified copy with its key file.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat

import pytest
from import_support import row, write_csv

from haocha_cli.indicators import default_matrix_path, load_matrix

NOW = "2024-05-31 16:00:00"


@pytest.fixture(autouse=True)
def _now(monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", NOW)


def last_id(db_path) -> int:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT max(id) FROM audit_events").fetchone()[0]


class Trail:
    """Runs a command and returns the events it added, as (action, entity, entity_id)."""

    def __init__(self, cli, db_path):
        self.cli, self.db_path = cli, db_path

    def __call__(self, *args: str, operator: str = "city", fails: bool = False) -> list[tuple[str, str, str]]:
        before = last_id(self.db_path)
        result = self.cli(*args, operator=operator)
        assert (result.exit_code != 0) == fails, (args, result.stderr or result.output)
        with sqlite3.connect(self.db_path) as conn:
            return list(conn.execute("SELECT action, entity, entity_id FROM audit_events WHERE id > ? ORDER BY id",
                                     [before]))


def test_every_state_change_is_one_audit_event(cli, db_path, tmp_path):
    trail = Trail(cli, db_path)
    county = "county:370213"
    org = tmp_path / "org.toml"
    org.write_text('[[counties]]\ncode = "370299"\nname = "测试县"\n\n'
                   '[[windows]]\ncode = "TS01"\nname = "测试窗口"\ncounty = "370299"\nkind = "offline"\n\n'
                   '[[windows]]\ncode = "LC02"\nname = "李沧区局2号窗口(新)"\ncounty = "370213"\nkind = "offline"\n'
                   'opening_hours = "09:00-12:00,13:30-17:00"\n', encoding="utf-8")
    assert trail("org", "import", str(org)) == [("catalogue.add", "counties", "370299"),
                                                ("catalogue.add", "windows", "TS01"),
                                                ("catalogue.update", "windows", "LC02")]
    assert trail("org", "import", str(org)) == []  # nothing changed, nothing recorded
    assert trail("org", "remove-window", "TS01") == [("catalogue.delete", "windows", "TS01")]

    matrix = tmp_path / "m.toml"
    matrix.write_text('criteria = ["影响程度", "相关性"]\n[criteria_weights]\n"影响程度" = 3\n"相关性" = 1\n[scores]\n'
                      + "\n".join(f"{i['code']} = [1, 1]" for i in load_matrix(default_matrix_path())["indicators"])
                      + "\n", encoding="utf-8")
    assert trail("indicators", "weigh", str(matrix), "--apply", "--version", "V1.1", "--from", "2026-01-01") == [
        ("indicators.import", "indicator_versions", "V1.1"), ("indicators.activate", "indicator_versions", "V1.1")]
    assert trail("indicators", "weigh", str(matrix)) == []  # a dry weighing

    ratings = write_csv(tmp_path / "r.csv", [
        row(rating_id=f"A{i}", rated_at=f"2024-05-06 10:0{i}:00", window_code="LC01", channel="二维码",
            item_code="XK01", level=level, rater_phone=f"1381234000{i}", anonymous="否")
        for i, level in enumerate(["不满意", "非常不满意", "不满意", "满意"], 1)])
    assert trail("import", str(ratings)) == [("case.open", "cases", "1"), ("case.open", "cases", "2"),
                                             ("case.open", "cases", "3"), ("ratings.import", "batches", "1")]
    assert trail("import", str(ratings)) == []  # the same file again adds nothing

    # Each action of the closed loop, on three cases.
    steps = [
        (("cases", "classify", "1", "rectifiable"), county, "case.classify"),
        (("cases", "revisit", "1", "--outcome", "reached"), county, "case.revisit"),
        (("cases", "contact", "1"), county, "case.contact"),
        (("cases", "close", "1", "--measures", "培训", "--responsible", "张三"), county, "case.close"),
        (("cases", "rerate", "1", "--level", "满意"), county, "case.rerate"),
        (("cases", "reopen", "1", "--reason", "抽查不合格"), "city", "case.reopen"),
        (("cases", "classify", "2", "no-action", "--reason", "误评"), county, "case.classify"),
        (("cases", "approve", "2"), "city", "case.approve"),
        (("cases", "classify", "3", "no-action", "--reason", "误评"), county, "case.classify"),
        (("cases", "reject", "3", "--reason", "属实"), "city", "case.reject"),
        (("cases", "appeal", "3", "--reason", "误操作", "--evidence", "录音"), county, "case.appeal"),
        (("cases", "decide", "3", "--dismiss", "--reason", "证据不足"), "city", "case.decide"),
    ]
    for args, operator, action in steps:
        assert trail(*args, operator=operator) == [(action, "cases", args[2])], args
    # Refused actions change nothing and record nothing.
    assert trail("cases", "close", "2", "--measures", "x", "--responsible", "y", operator=county, fails=True) == []
    assert trail("cases", "approve", "1", operator=county, fails=True) == []
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("案件编号,分类,整改措施,责任人\n1,,重新培训,李四\n", encoding="utf-8")
    assert trail("cases", "classify", "1", "rectifiable", operator=county, fails=True) == []  # reopened: rectifying
    assert trail("cases", "apply", str(sheet), operator=county) == [("case.close", "cases", "1")]

    assert trail("calendar", "add-holiday", "2024-06-03", "--note", "通知") == [
        ("calendar.add-holiday", "calendar", "2024-06-03")]
    assert trail("calendar", "add-workday", "2024-06-08") == [("calendar.add-workday", "calendar", "2024-06-08")]

    # A staff phone added later makes the scan flag the rating made from it: one event for the scan.
    staff = tmp_path / "staff.toml"
    staff.write_text('[[staff]]\ncode = "LC-S09"\nname = "新员工"\ncounty = "370213"\nphone = "13812340004"\n',
                     encoding="utf-8")
    assert trail("org", "import", str(staff)) == [("catalogue.add", "staff", "LC-S09")]
    assert trail("flags", "scan", "--period", "2024-05") == [("flags.scan", "flags", "2024-05-01..2024-05-31")]
    assert trail("flags", "scan", "--period", "2024-05") == []  # nothing new

    assert trail("spotcheck", "sample", "--period", "2024-05", "--seed", "1") == [("spotcheck.sample", "samples", "1")]
    checks = json.loads(cli("spotcheck", "list", "--format", "json").stdout)
    flagged = next(c for c in checks if c["reason"] == "flagged")
    assert trail("spotcheck", "record", str(flagged["id"]), "--outcome", "confirmed") == [
        ("spotcheck.record", "spot_checks", str(flagged["id"]))]

    assert trail("risk", "add", "--step", "评价采集", "--failure-mode", "二维码被替换", "--effect", "e", "--cause", "c",
                 "--controls", "signed tokens", "-s", "6", "-o", "2", "-d", "4", "--code", "R99") == [
        ("risk.load", "risks", "fmea-register.toml"), ("risk.add", "risks", "R99")]  # the default register first
    assert trail("risk", "set", "R99", "--severity", "7") == [("risk.set", "risks", "R99")]
    assert trail("risk", "set", "R99", "--severity", "7") == []
    assert trail("risk", "assess", "--period", "2024-05") == [("risk.assess", "counties", "2024-05")]
    assert trail("qr", "rotate", "--yes") == [("qr.rotate", "qr_secret", "qr")]
    backup = tmp_path / "copy.db"
    assert trail("backup", str(backup)) == [("database.backup", "database", str(db_path.resolve()))]
    assert cli("audit", "verify").exit_code == 0


# --- tampering ----------------------------------------------------------------------------------------------


def _tamper(db_path, *statements: str, params: tuple = ()) -> None:
    # What someone with the sqlite3 shell could do: drop the guard triggers, then edit.
    from haocha_cli.audit import GUARDS

    conn = sqlite3.connect(db_path)
    for trigger in GUARDS:  # those of the events and of the head
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    for sql in statements:
        conn.execute(sql, params if "?" in sql else ())
    conn.commit()
    conn.close()


def _verify(cli) -> str:
    result = cli("audit", "verify")
    assert result.exit_code == 1, result.stderr
    return result.stderr.strip()


@pytest.mark.parametrize("field", ["at", "operator", "action", "entity", "entity_id", "before"])
def test_an_edit_of_any_field_is_found(cli, db_path, field):
    value = "{}" if field == "before" else "2099-01-01 00:00:00" if field == "at" else "forged"
    _tamper(db_path, f"UPDATE audit_events SET {field} = ? WHERE id = 4", params=(value,))
    assert _verify(cli) == "Error: audit trail broken at event 4: event 4 was altered after it was written"


def _hash_of(conn, event_id: int) -> str:
    from haocha_cli.audit import _hash

    cur = conn.execute("SELECT id, at, operator, person, action, entity, entity_id, before, after, prev_hash FROM audit_events"
                       " WHERE id = ?", [event_id])
    return _hash(dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True)))


def test_an_edited_row_given_a_fresh_hash_breaks_the_chain_at_the_next_event(cli, db_path):
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("UPDATE audit_events SET operator = 'county:370213' WHERE id = 3")
    conn.execute("UPDATE audit_events SET hash = ? WHERE id = 3", [_hash_of(conn, 3)])
    conn.commit()
    conn.close()
    assert _verify(cli) == "Error: audit trail broken at event 4: event 4 does not follow event 3 (chain broken)"


def test_swapping_the_contents_of_two_events_is_found(cli, db_path):
    columns = "at, operator, person, action, entity, entity_id, before, after, prev_hash, hash"
    _tamper(db_path, "CREATE TEMP TABLE t AS SELECT * FROM audit_events WHERE id IN (5, 6)",
            f"UPDATE audit_events SET ({columns}) = (SELECT {columns} FROM t WHERE t.id = 6) WHERE id = 5",
            f"UPDATE audit_events SET ({columns}) = (SELECT {columns} FROM t WHERE t.id = 5) WHERE id = 6")
    assert _verify(cli).startswith("Error: audit trail broken at event 5: event 5 ")


def test_an_event_added_behind_haochas_back_is_found_even_when_chained(cli, db_path):
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TRIGGER audit_no_update")
    last, prev = conn.execute("SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1").fetchone()
    conn.execute("INSERT INTO audit_events (id, at, operator, action, entity, entity_id, before, after, prev_hash,"
                 " hash) VALUES (?, '2024-05-31 16:00:00', 'city', 'case.close', 'cases', '1', NULL, NULL, ?, '')",
                 [last + 1, prev])
    conn.execute("UPDATE audit_events SET hash = ? WHERE id = ?", [_hash_of(conn, last + 1), last + 1])
    conn.commit()
    conn.close()
    assert _verify(cli) == (f"Error: audit trail broken at event {last + 1}: event {last + 1} was added outside "
                            f"haocha (the trail ended at event {last})")


def test_the_last_event_rewritten_with_its_own_hash_is_found_by_the_head(cli, db_path):
    conn = sqlite3.connect(db_path)
    last = conn.execute("SELECT max(id) FROM audit_events").fetchone()[0]
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("UPDATE audit_events SET after = '{}' WHERE id = ?", [last])
    conn.execute("UPDATE audit_events SET hash = ? WHERE id = ?", [_hash_of(conn, last), last])
    conn.commit()
    conn.close()
    assert _verify(cli) == f"Error: audit trail broken at event {last}: event {last} was altered after it was written"


def test_removing_the_head_record_is_found(cli, db_path):
    _tamper(db_path, "DELETE FROM meta WHERE key = 'audit_head'")
    assert _verify(cli).endswith("the record of the last event (meta audit_head) was removed")


def test_removing_every_event_is_found(cli, db_path):
    last = last_id(db_path)
    _tamper(db_path, "DELETE FROM audit_events")
    assert _verify(cli) == ("Error: audit trail broken at event 1: the last event(s) were removed: the trail ended "
                            f"at event {last}")


# --- backup -------------------------------------------------------------------------------------------------


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_backup_is_a_verified_copy_with_an_owner_only_key_file(cli, db_path, tmp_path):
    ratings = write_csv(tmp_path / "r.csv", [row(rating_id="B1", rated_at="2024-05-06 10:00:00", window_code="LC01",
                                                 channel="二维码", level="不满意", rater_phone="13812345678")])
    assert cli("import", str(ratings)).exit_code == 0
    dest = tmp_path / "backups" / "haocha-copy.db"
    dest.parent.mkdir()
    result = cli("backup", str(dest))
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith(f"backed up to {dest} (")
    key = tmp_path / "backups" / "haocha-copy.db.key"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert key.read_bytes() == (db_path.parent / "haocha.db.key").read_bytes()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["haocha-copy.db", "haocha-copy.db.key"]  # no .part
    conn = sqlite3.connect(dest)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT rating_id FROM ratings").fetchall() == [("B1",)]
    conn.close()
    # The copy is a working haocha database: its trail verifies and its phones can be read with its key.
    from typer.testing import CliRunner

    from haocha_cli.cli import app

    runner = CliRunner()
    assert runner.invoke(app, ["--db", str(dest), "audit", "verify"]).exit_code == 0
    shown = runner.invoke(app, ["--db", str(dest), "--operator", "county:370213", "cases", "contact", "1"])
    assert shown.stdout == "13812345678\n"


def test_backup_refuses_to_overwrite_unless_forced(cli, db_path, tmp_path):
    dest = tmp_path / "copy.db"
    dest.write_bytes(b"an older backup")
    refused = cli("backup", str(dest))
    assert refused.exit_code == 1
    assert refused.stderr.strip() == f"Error: {dest} exists already (choose another name, or give --force to replace it)"
    assert dest.read_bytes() == b"an older backup" and not (tmp_path / "copy.db.key").exists()
    assert cli("backup", str(dest), "--force").exit_code == 0
    assert sqlite3.connect(dest).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # A folder takes the database's own name; the database itself and a county operator are refused.
    folder = tmp_path / "nightly"
    folder.mkdir()
    assert cli("backup", str(folder)).exit_code == 0 and (folder / "haocha.db").exists()
    itself = cli("backup", str(db_path))
    assert itself.stderr.strip() == f"Error: {db_path} is the database itself (give another file or folder)"
    county = cli("backup", str(tmp_path / "c.db"), operator="county:370213")
    assert county.stderr.startswith("Error: backing up the database is the city bureau's (市局) task")


def test_backup_without_the_key_file_is_refused(cli, db_path, tmp_path):
    (db_path.parent / "haocha.db.key").rename(tmp_path / "elsewhere.key")
    result = cli("backup", str(tmp_path / "copy.db"))
    assert result.exit_code == 1 and "key file" in result.stderr and "is missing" in result.stderr
    assert not (tmp_path / "copy.db").exists()


def test_a_tampered_trail_is_not_backed_up(cli, db_path, tmp_path):
    _tamper(db_path, "UPDATE audit_events SET after = '{}' WHERE id = 2")
    result = cli("backup", str(tmp_path / "copy.db"))
    assert result.stderr.strip().startswith("Error: the audit trail of the copy is broken at event 2: event 2 was "
                                            "altered after it was written")
    assert not (tmp_path / "copy.db").exists() and not (tmp_path / "copy.db.part").exists()




def test_events_recorded_together_hash_as_json_of_their_fields_whatever_their_text(cli, db_path):
    """record_many writes each hash's payload piece by piece (a staged import records 30,000 case.open events
    in its last transaction); `audit verify` recomputes each from the stored fields as one json.dumps."""
    from haocha_cli import audit
    from haocha_cli.context import open_context

    ctx = open_context(db_path, "county:370213", person='张三 "引号" \\ \u2028')
    try:
        audit.record_many(ctx.db, ctx.operator, [
            ("case.open", "cases", 1, None, {"a": '引号"', "b": None, "c": "\n\t"}),
            ("case.note", "cases", "7", {"k": [1, 2.5]}, None),
            ("case.open", "cases", 2, None, audit.canonical({"z": "👍"}))])
        rows = list(ctx.db.query("SELECT * FROM audit_events WHERE entity = 'cases' ORDER BY id"))
    finally:
        ctx.db.close()
    assert [r["action"] for r in rows] == ["case.open", "case.note", "case.open"]
    for r in rows:
        fields = [r[f] for f in ("id", "at", "operator", "action", "entity", "entity_id", "before", "after",
                                 "prev_hash")] + [r["person"]]
        assert r["hash"] == hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode("utf-8")).hexdigest()
    result = cli("audit", "verify")
    assert result.exit_code == 0, result.output
