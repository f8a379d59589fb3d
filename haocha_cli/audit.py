"""The audit trail: an append-only, hash-chained table of every state change.

Each event's hash covers its own fields and the previous event's hash; meta('audit_head') holds the id
and hash of the last event. An edited row breaks its own hash, a removed or reordered row breaks the chain
or the id sequence, and a removed last row no longer matches the head. Triggers guard the events (no update,
no delete) and the head (never removed, only moved forward to the last event).

The head lives in the same file as the events: someone who can write the file can drop the triggers, cut
the tail and rewrite the head to match. What they cannot rewrite is a copy held elsewhere: an **anchor**
(``<id>:<hash>`` of the last event, `haocha audit anchor`, printed in every daily report) proves, with
``verify(db, anchors)``, that event ``id`` still holds that hash and everything up to it is intact
(docs/reliability.md says what is and is not found).

Each event names the role it was taken in (``operator``: admin, city, county:<code>, serve) and the person who
took it (``person``: a workbench account's username, ``os:<login>`` on the command line, ``rater`` on the
rating page). The person is inside the hash. Events written before persons were recorded (schema 8) have an
empty person and keep the hash they were written with.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from functools import cache
from typing import Any

import sqlite_utils

from haocha_cli.clock import now_text
from haocha_cli.db import get_meta
from haocha_cli.errors import InvalidInput

GENESIS = "0" * 64
_FIELDS = ("id", "at", "operator", "action", "entity", "entity_id", "before", "after", "prev_hash")
_COLUMNS = "id, at, operator, person, action, entity, entity_id, before, after, prev_hash, hash"


class Canonical(str):
    """A before or after already in its canonical JSON form (``canonical``): made ahead of the transaction that
    records it (a staged import's thousands of case.open events, worked out while the file is read)."""


def canonical(value: Any) -> Canonical:
    return Canonical(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))


def _canonical(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Canonical):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _hash(row: dict[str, Any]) -> str:
    fields = [row[f] for f in _FIELDS]
    if row.get("person"):  # an event before schema 8 has none: its hash is the one it was written with
        fields.append(row["person"])
    payload = json.dumps(fields, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _actor(operator: Any) -> tuple[str, str]:
    """(role, person) of an ``Operator``. Without a person (a plain role string) the person is the OS login
    of this process: an event never goes unnamed."""
    from haocha_cli.context import os_person

    return str(operator), getattr(operator, "person", "") or os_person()


def record(
    db: sqlite_utils.Database,
    operator: Any,
    action: str,
    entity: str,
    entity_id: str | int,
    before: Any = None,
    after: Any = None,
) -> int:
    """Append one event; call inside the transaction that makes the change."""
    return record_many(db, operator, [(action, entity, entity_id, before, after)])[0]


def record_many(
    db: sqlite_utils.Database, operator: Any, changes: list[tuple[str, str, str | int, Any, Any]]
) -> list[int]:
    """Append one event per (action, entity, entity_id, before, after), chained in order; call inside the
    transaction that makes the changes. Returns their ids. One head read and write for the lot, so that a
    batch opening thousands of cases stays cheap."""
    head = get_meta(db, "audit_head")
    last_id, prev_hash = (int(head.split(":")[0]), head.split(":")[1]) if head else (0, GENESIS)
    at = now_text()
    role, person = _actor(operator)
    rows = []
    # The hash's payload is json.dumps of the fields (_hash), written out here piece by piece: the part that is
    # the same for every event of the call made once (a staged import records 30,000 case.open events in its
    # last transaction). `haocha audit verify` recomputes every hash with _hash.
    dumps = json.dumps
    tail = f", {dumps(person, ensure_ascii=False)}]" if person else "]"
    middles: dict[tuple[str, str], str] = {}
    for action, entity, entity_id, before, after in changes:
        last_id += 1
        middle = middles.get((action, entity))
        if middle is None:
            middle = middles[(action, entity)] = dumps([at, role, action, entity], ensure_ascii=False)[1:-1]
        eid, b, a = str(entity_id), _canonical(before), _canonical(after)
        payload = (f"[{last_id}, {middle}, {dumps(eid, ensure_ascii=False)}, {dumps(b, ensure_ascii=False)},"
                   f" {dumps(a, ensure_ascii=False)}, {dumps(prev_hash)}{tail}")
        digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()
        rows.append((last_id, at, role, person, action, entity, eid, b, a, prev_hash, digest))
        prev_hash = digest
    if not rows:
        return []
    db.conn.executemany(f"INSERT INTO audit_events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    # Not an upsert: the head's triggers refuse an INSERT while a head exists (INSERT OR REPLACE would
    # otherwise move it anywhere) and an UPDATE that does not move it forward to the last event.
    if head:
        db.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", [f"{last_id}:{prev_hash}"])
    else:
        db.execute("INSERT INTO meta(key, value) VALUES ('audit_head', ?)", [f"{last_id}:{prev_hash}"])
    return [r[0] for r in rows]


def events(
    db: sqlite_utils.Database, entity: str | None = None, entity_id: str | None = None, limit: int | None = None,
    *, start: str | None = None, end: str | None = None, operator: str | None = None, action: str | None = None,
    person: str | None = None, scope: tuple[str, list[Any]] | None = None,
) -> list[dict[str, Any]]:
    """The events, oldest first: of an entity (and id), between two days (inclusive), by one operator (role)
    or person, of one action or of actions beginning with a prefix that ends with a dot (``case.``); the
    last ``limit`` of them. ``scope`` is an extra (SQL condition, parameters) over the events, such as
    ``visibility.audit_scope`` gives a county."""
    where, params = [], []
    if entity:
        where.append("entity = ?")
        params.append(entity)
    if entity_id is not None:
        where.append("entity_id = ?")
        params.append(str(entity_id))
    if start:
        where.append("at >= ?")
        params.append(start)
    if end:
        where.append("at < date(?, '+1 day')")
        params.append(end)
    if operator:
        where.append("operator = ?")
        params.append(operator)
    if person:
        where.append("person = ?")
        params.append(person)
    if scope is not None:
        where.append(scope[0])
        params += scope[1]
    if action:
        if action.endswith("."):
            where.append("substr(action, 1, ?) = ?")
            params += [len(action), action]
        else:
            where.append("action = ?")
            params.append(action)
    sql = "SELECT id, at, operator, person, action, entity, entity_id, before, after FROM audit_events"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id"
    if limit:
        sql = f"SELECT * FROM ({sql} DESC LIMIT {int(limit)}) ORDER BY id"
    return [dict(r) for r in db.query(sql, params)]


def log(ctx: Any, entity: str | None = None, entity_id: str | None = None, limit: int | None = None,
        **filters: Any) -> list[dict[str, Any]]:
    """`haocha audit log`: the events this operator may read (``visibility.audit_scope``: all of them for the
    city; a county's own cases, windows, staff and accounts for a county), with the filters of ``events``.
    Another county's events answer as events that do not exist: an empty list. A phone written into a note
    (before/after) is shown masked, as everywhere else; the stored event, and its hash, stay as written."""
    from haocha_cli.privacy import mask_json
    from haocha_cli.visibility import audit_scope

    return [{**e, "before": mask_json(e["before"]), "after": mask_json(e["after"])}
            for e in events(ctx.db, entity, entity_id, limit, scope=audit_scope(ctx), **filters)]


def case_history(db: sqlite_utils.Database, case_id: int | str) -> list[dict[str, Any]]:
    """The events of the case that has this number now (not those of a withdrawn case that had it before)."""
    from haocha_cli.visibility import CURRENT_CASE

    return events(db, "cases", str(case_id), scope=(CURRENT_CASE, []))


_ANCHOR = re.compile(r"([1-9][0-9]{0,18}):([0-9a-fA-F]{64})")
# The triggers that guard the events and the head, as schema.sql creates them.
GUARDS = ("audit_no_update", "audit_no_delete", "audit_head_first", "audit_head_forward", "audit_head_no_delete")


def anchor(db: sqlite_utils.Database) -> str | None:
    """The anchor of the trail as it stands: ``<id>:<hash>`` of the last event (None before the first)."""
    row = db.execute("SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1").fetchone()
    return f"{row[0]}:{row[1]}" if row else None


def parse_anchor(text: str) -> tuple[int, str]:
    """``"120:3f2a…"`` (an event id and its 64-digit SHA-256, as `haocha audit anchor` prints it) → (120, hash)."""
    found = _ANCHOR.fullmatch(text.strip())
    if not found:
        raise InvalidInput(f"{text!r} is not an audit anchor",
                           "write ID:HASH as `haocha audit anchor` and the daily report (审计锚点) print it")
    return int(found.group(1)), found.group(2).lower()


def _short(event_id: int, digest: str) -> str:
    return f"{event_id}:{digest[:12]}…"


def verify(db: sqlite_utils.Database, anchors: Iterable[tuple[int, str]] = ()) -> dict[str, Any]:
    """{'ok': bool, 'events': n, 'problem': text, 'event_id': first bad id, 'anchors': ids of the anchors that
    hold}. Each anchor (id, hash) must be met: event ``id`` exists, holds that hash, and the chain up to it is
    whole, so that removing or rewriting anything up to an anchor is found even with the head rewritten."""
    wanted: dict[int, set[str]] = {}
    for event_id, digest in anchors:
        wanted.setdefault(event_id, set()).add(digest)
    prev_hash, expected_id, count = GENESIS, 1, 0
    cursor = db.execute(f"SELECT {_COLUMNS} FROM audit_events ORDER BY rowid")
    columns = [d[0] for d in cursor.description]
    for values in cursor:
        row = dict(zip(columns, values, strict=True))
        count += 1
        if row["id"] != expected_id:
            return _bad(count, expected_id, f"event {expected_id} is missing or out of order (found {row['id']})")
        if row["prev_hash"] != prev_hash:
            return _bad(count, row["id"], f"event {row['id']} does not follow event {row['id'] - 1} (chain broken)")
        if _hash(row) != row["hash"]:
            return _bad(count, row["id"], f"event {row['id']} was altered after it was written")
        for digest in sorted(wanted.get(row["id"], ())):
            if digest != row["hash"]:
                return _bad(count, row["id"], f"event {row['id']} no longer holds the hash of the anchor "
                                              f"{_short(row['id'], digest)} (it, or the trail before it, was rewritten)")
        prev_hash, expected_id = row["hash"], expected_id + 1
    head = get_meta(db, "audit_head")
    expected_head = f"{expected_id - 1}:{prev_hash}" if count else None
    if head != expected_head:
        if head is None:
            return _bad(count, expected_id - 1, "the record of the last event (meta audit_head) was removed")
        if not _ANCHOR.fullmatch(head):
            return _bad(count, expected_id - 1, "the record of the last event (meta audit_head) was rewritten: "
                                                f"{head[:80]!r}")
        last = int(head.split(":")[0])
        if last < count:  # rows appended behind haocha's back, chained or not
            return _bad(count, last + 1, f"event {last + 1} was added outside haocha (the trail ended at event {last})")
        if last == count:  # the last row rewritten with a hash of its own
            return _bad(count, last, f"event {last} was altered after it was written")
        return _bad(count, expected_id, f"the last event(s) were removed: the trail ended at event {last}")
    beyond = [event_id for event_id in wanted if event_id > count]
    if beyond:  # the tail cut and the head rewritten to match: only a copy held elsewhere tells
        first = min(beyond)
        return _bad(count, first, f"the anchor {_short(first, min(wanted[first]))} names an event the trail no "
                                  f"longer has (it ends at event {count}): events were removed")
    if not count and get_meta(db, "initialised_at") is not None:  # `haocha init` records its own event
        return _bad(count, 1, "every event was removed (the database was initialised, its trail is empty)")
    dropped = _guards_missing(db)
    if dropped:
        return _bad(count, None, f"the guard trigger(s) {', '.join(dropped)} were dropped or changed: the trail "
                                 "can be rewritten without a trace; check it against a backup and against the anchors"
                                 " of archived daily reports (haocha audit verify --anchor ID:HASH)")
    return {"ok": True, "events": count, "problem": None, "event_id": None, "anchors": sorted(wanted)}


def _normalised(sql: str) -> str:
    return " ".join(sql.strip().rstrip(";").split())


@cache
def _guard_sql() -> dict[str, str]:
    """The guard triggers' CREATE statements as schema.sql has them."""
    from haocha_cli.db import _split_sql, migrations

    found = {}
    for _number, _title, sql in migrations():
        for statement in _split_sql(sql):
            name = re.match(r"\s*CREATE TRIGGER (\w+)", statement)
            if name and name.group(1) in GUARDS:
                found[name.group(1)] = _normalised(statement)
    return found


def _guards_missing(db: sqlite_utils.Database) -> list[str]:
    """The guard triggers that are not there as schema.sql made them (dropped, or replaced by another)."""
    present = {name: _normalised(sql or "") for name, sql in
               db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()}
    return [name for name, sql in _guard_sql().items() if present.get(name) != sql]


def _bad(count: int, event_id: int | None, problem: str) -> dict[str, Any]:
    return {"ok": False, "events": count, "problem": problem, "event_id": event_id, "anchors": []}
