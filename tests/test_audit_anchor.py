"""The audit tail is witnessed (issue 17, item 3): the head record is guarded like the events; `audit anchor`
prints the last event's id and hash, the daily report prints it (审计锚点); and `audit verify --anchor` finds a
cut tail with a rewritten head — the tester's two attacks — which `audit verify` alone cannot.
"""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from haocha_cli.audit import GUARDS, _hash

NOW = "2024-05-31 16:00:00"


@pytest.fixture(autouse=True)
def _now(monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", NOW)


@pytest.fixture
def trail(cli, db_path):
    """The initialised database with five more events (calendar entries): its events as (id, hash)."""
    for day in range(3, 8):
        assert cli("calendar", "add-holiday", f"2024-06-0{day}", "--note", "测试").exit_code == 0
    return _events(db_path)


def _events(db_path) -> list[tuple[int, str]]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT id, hash FROM audit_events ORDER BY id").fetchall()


def _head(db_path) -> str | None:
    with sqlite3.connect(db_path) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'audit_head'").fetchone()
    return row[0] if row else None


def _anchor(cli) -> str:
    result = cli("audit", "anchor")
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


def _attack(db_path, *statements: str, careful: bool = True) -> None:
    """What someone with the sqlite3 shell does: drop the guard triggers (the events' and the head's), change
    the trail, and — careful — create the triggers again exactly as they were, so that nothing looks amiss."""
    conn = sqlite3.connect(db_path)
    saved = [sql for (name, sql) in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
             if name in GUARDS]
    assert len(saved) == len(GUARDS)
    for name in GUARDS:
        conn.execute(f"DROP TRIGGER {name}")
    for sql in statements:
        conn.execute(sql)
    if careful:
        for sql in saved:
            conn.execute(sql)
    conn.commit()
    conn.close()


HEAD_TO_LAST = ("UPDATE meta SET value = (SELECT id || ':' || hash FROM audit_events ORDER BY id DESC LIMIT 1)"
                " WHERE key = 'audit_head'")


def _forge(db_path, count: int) -> None:
    """Append ``count`` events chained to the last one, with correct hashes, and move the head to them."""
    conn = sqlite3.connect(db_path)
    last, prev = conn.execute("SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1").fetchone()
    for event_id in range(last + 1, last + count + 1):
        row = {"id": event_id, "at": NOW, "operator": "city", "person": "os:mallory", "action": "case.close",
               "entity": "cases", "entity_id": "1", "before": None, "after": None, "prev_hash": prev}
        row["hash"] = prev = _hash(row)
        conn.execute("INSERT INTO audit_events (id, at, operator, person, action, entity, entity_id, before, after,"
                     " prev_hash, hash) VALUES (:id, :at, :operator, :person, :action, :entity, :entity_id, :before,"
                     " :after, :prev_hash, :hash)", row)
    conn.execute(HEAD_TO_LAST)
    conn.commit()
    conn.close()


def _fails(cli, *args: str) -> str:
    result = cli("audit", "verify", *args)
    assert result.exit_code == 1, result.stderr
    return result.stderr.strip()


def _pair(event: tuple[int, str]) -> str:
    return f"{event[0]}:{event[1]}"


def _short(anchor: str) -> str:
    event_id, digest = anchor.split(":")
    return f"{event_id}:{digest[:12]}…"


# --- the head's guards -------------------------------------------------------------------------------------


def test_the_head_cannot_be_removed_moved_back_or_moved_anywhere_but_to_the_last_event(trail, db_path):
    head = _head(db_path)
    assert head == _pair(trail[-1])
    conn = sqlite3.connect(db_path)
    back = _pair(trail[-3])
    for sql, params, message in [
        ("DELETE FROM meta WHERE key = 'audit_head'", (), "the audit head cannot be removed"),
        ("DELETE FROM meta", (), "the audit head cannot be removed"),
        ("UPDATE meta SET value = ? WHERE key = 'audit_head'", (back,), "only moves forward"),
        ("UPDATE meta SET value = ? WHERE key = 'audit_head'", (head,), "only moves forward"),  # not forward
        ("UPDATE meta SET value = ? WHERE key = 'audit_head'", (f"{trail[-1][0] + 1}:{'0' * 64}",), "only moves"),
        ("UPDATE meta SET key = 'audit_head_old' WHERE key = 'audit_head'", (), "only moves forward"),
        # what set_meta does (an upsert), and INSERT OR REPLACE, which would skip the UPDATE trigger
        ("INSERT INTO meta(key, value) VALUES ('audit_head', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
         (back,), "only moves forward"),
        ("INSERT OR REPLACE INTO meta(key, value) VALUES ('audit_head', ?)", (head,), "only moves forward"),
    ]:
        with pytest.raises(sqlite3.IntegrityError, match=message):
            conn.execute(sql, params)
    conn.close()
    assert _head(db_path) == head
    # …while every writer still moves it forward: the head of one more event
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TRIGGER audit_no_delete")  # the events' guard only: the cut shows behind the head
    conn.execute("DELETE FROM audit_events WHERE id = ?", [trail[-1][0]])
    with pytest.raises(sqlite3.IntegrityError, match="only moves forward"):
        conn.execute(HEAD_TO_LAST)  # the tester's attack needs the head's trigger dropped as well
    conn.rollback()
    conn.close()


def test_commands_still_move_the_head_forward(cli, trail, db_path):
    assert cli("calendar", "add-workday", "2024-06-08").exit_code == 0
    assert _head(db_path) == _pair(_events(db_path)[-1]) and _events(db_path)[-1][0] == trail[-1][0] + 1
    assert cli("audit", "verify").stderr.strip() == f"audit trail intact: {trail[-1][0] + 1} events"


# --- audit anchor ------------------------------------------------------------------------------------------


def test_audit_anchor_prints_the_last_events_id_and_hash(cli, trail, db_path):
    event_id, digest = trail[-1]
    result = cli("audit", "anchor")
    assert (result.exit_code, result.stdout) == (0, f"{event_id}:{digest}\n")
    assert re.fullmatch(r"\d+:[0-9a-f]{64}\n", result.stdout)
    data = json.loads(cli("audit", "anchor", "--format", "json").stdout)
    assert data == {"anchor": f"{event_id}:{digest}", "event_id": event_id, "hash": digest, "events": event_id}
    assert cli("audit", "anchor", "-f", "csv").stdout == f"anchor,event_id,hash\n{event_id}:{digest},{event_id},{digest}\n"
    assert cli("audit", "anchor", operator="county:370213").stdout == result.stdout  # tells nothing of a county
    assert _events(db_path) == trail  # reading the anchor records nothing


def test_a_broken_trail_gets_no_anchor(cli, trail, db_path):
    _attack(db_path, f"UPDATE audit_events SET after = '{{}}' WHERE id = {trail[2][0]}")
    result = cli("audit", "anchor")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.strip() == (f"Error: audit trail broken at event {trail[2][0]}: event {trail[2][0]} was "
                                     "altered after it was written")


# --- the tester's attacks ----------------------------------------------------------------------------------


def test_a_cut_tail_with_the_head_rewritten_is_found_by_an_anchor_newer_than_the_cut(cli, trail, db_path):
    anchor = _anchor(cli)  # e.g. yesterday's daily report
    older = _pair(trail[5])  # an anchor from before the cut
    cut = trail[-3][0]
    _attack(db_path, f"DELETE FROM audit_events WHERE id >= {cut}", HEAD_TO_LAST)
    # The trail that is left is a whole chain with a head that matches it: alone, it looks intact …
    assert cli("audit", "verify").stderr.strip() == f"audit trail intact: {cut - 1} events"
    # … but the anchor held outside names an event that is gone
    assert _fails(cli, "--anchor", anchor) == (
        f"Error: audit trail broken at event {trail[-1][0]}: the anchor {_short(anchor)} names an event the trail "
        f"no longer has (it ends at event {cut - 1}): events were removed")
    ok = cli("audit", "verify", "--anchor", older)
    assert ok.exit_code == 0 and ok.stderr.strip() == (f"audit trail intact: {cut - 1} events; the anchored events "
                                                       f"hold: {trail[5][0]}")
    # several anchors: the older one holds, the newer one fails
    assert _fails(cli, "--anchor", older, "--anchor", anchor).startswith(f"Error: audit trail broken at event "
                                                                         f"{trail[-1][0]}: the anchor ")
    # the same cut made carelessly (the triggers not put back) is found by `verify` alone
    _attack(db_path, f"DELETE FROM audit_events WHERE id >= {cut - 1}", HEAD_TO_LAST, careful=False)
    assert _fails(cli) == ("Error: audit trail unguarded: the guard trigger(s) audit_no_update, audit_no_delete, "
                           "audit_head_first, audit_head_forward, audit_head_no_delete were dropped or changed: the "
                           "trail can be rewritten without a trace; check it against a backup and against the anchors"
                           " of archived daily reports (haocha audit verify --anchor ID:HASH)")
    backup = cli("backup", str(db_path.parent / "copy.db"))  # nor is such a trail backed up
    assert backup.exit_code == 1 and backup.stderr.startswith(
        "Error: the audit trail of the copy is unguarded: the guard trigger(s) audit_no_update, ")


def test_a_tail_rewritten_as_long_as_before_is_found_by_the_anchors_hash(cli, trail, db_path):
    anchor = _anchor(cli)
    cut = trail[-3][0]
    _attack(db_path, f"DELETE FROM audit_events WHERE id >= {cut}", HEAD_TO_LAST)
    _forge_with_guards_down(db_path, 3)  # new events in place of the three cut, chained, the head on the last
    assert _events(db_path)[-1][0] == trail[-1][0] and _events(db_path)[-1] != trail[-1]
    assert cli("audit", "verify").exit_code == 0
    assert _fails(cli, "--anchor", anchor) == (
        f"Error: audit trail broken at event {trail[-1][0]}: event {trail[-1][0]} no longer holds the hash of the "
        f"anchor {_short(anchor)} (it, or the trail before it, was rewritten)")


def _forge_with_guards_down(db_path, count: int) -> None:
    conn = sqlite3.connect(db_path)
    saved = [sql for (name, sql) in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
             if name in GUARDS]
    for name in GUARDS:
        conn.execute(f"DROP TRIGGER {name}")
    conn.commit()
    conn.close()
    _forge(db_path, count)
    conn = sqlite3.connect(db_path)
    for sql in saved:
        conn.execute(sql)
    conn.commit()
    conn.close()


def test_every_event_and_the_head_removed_is_found(cli, trail, db_path):
    anchor = _anchor(cli)
    _attack(db_path, "DELETE FROM audit_events", "DELETE FROM meta WHERE key = 'audit_head'")
    # `haocha init` records an event: an initialised database with an empty trail is found alone …
    assert _fails(cli) == ("Error: audit trail broken at event 1: every event was removed (the database was "
                           "initialised, its trail is empty)")
    # … unless the record of the initialisation goes too ("intact: 0 events", as the tester saw): the anchor tells
    _attack(db_path, "DELETE FROM meta WHERE key = 'initialised_at'")
    assert cli("audit", "verify").stderr.strip() == "audit trail intact: 0 events"
    assert _fails(cli, "--anchor", anchor) == (
        f"Error: audit trail broken at event {trail[-1][0]}: the anchor {_short(anchor)} names an event the trail "
        "no longer has (it ends at event 0): events were removed")


def test_an_anchor_of_an_event_with_another_hash_fails_naming_it(cli, trail):
    event_id = trail[3][0]
    wrong = f"{event_id}:{trail[4][1]}"
    assert _fails(cli, "--anchor", _pair(trail[1]), "--anchor", wrong) == (
        f"Error: audit trail broken at event {event_id}: event {event_id} no longer holds the hash of the anchor "
        f"{_short(wrong)} (it, or the trail before it, was rewritten)")
    upper = f"{trail[3][0]}:{trail[3][1].upper()}"  # a hash copied in capitals is the same hash
    assert cli("audit", "verify", "--anchor", upper).exit_code == 0


@pytest.mark.parametrize("value", ["x", "", "12", "12:abc", "0:" + "0" * 64, "-3:" + "a" * 64, "12:" + "g" * 64,
                                   "12:" + "a" * 65, "1.5:" + "a" * 64, "99999999999999999999:" + "a" * 64])
def test_a_malformed_anchor_is_a_usage_error(cli, value):
    result = cli("audit", "verify", "--anchor", value)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: Invalid value for --anchor: {value!r} is not an audit anchor (write ID:HASH as `haocha audit "
        "anchor` and the daily report (审计锚点) print it)")


# --- the daily report: an outside witness ------------------------------------------------------------------


def test_the_daily_report_prints_the_anchor_and_verify_checks_it(cli, trail, db_path, tmp_path):
    anchor = _anchor(cli)
    out = tmp_path / "reports"
    assert cli("report", "daily", "--date", "2024-05-30", "--out", str(out), "--quiet").exit_code == 0
    md = (out / "daily-2024-05-30.md").read_text(encoding="utf-8")
    assert f"\n## 审计锚点\n\n{anchor}\n\n" in md
    assert f"haocha audit verify --anchor {anchor}" in md
    html = (out / "daily-2024-05-30.html").read_text(encoding="utf-8")
    assert f"<h2>审计锚点</h2>\n<p>{anchor}</p>" in html
    english = tmp_path / "en"
    assert cli("report", "daily", "--date", "2024-05-30", "--out", str(english), "--lang", "en", "-f", "md").exit_code == 0
    assert f"\n## Audit anchor (审计锚点)\n\n{anchor}\n\n" in (english / "daily-2024-05-30.md").read_text(encoding="utf-8")
    # the archived report's anchor, read back from the file, is what verify takes
    archived = re.search(r"## 审计锚点\n\n(\S+)\n", md).group(1)
    assert cli("calendar", "add-workday", "2024-06-08").exit_code == 0  # the trail goes on
    assert cli("audit", "verify", "--anchor", archived).exit_code == 0
    _attack(db_path, f"DELETE FROM audit_events WHERE id >= {trail[-1][0]}", HEAD_TO_LAST)
    assert _fails(cli, "--anchor", archived).startswith(f"Error: audit trail broken at event {trail[-1][0]}: ")
