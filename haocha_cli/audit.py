"""The audit trail: an append-only, hash-chained table of every state change.

Each event's hash covers its own fields and the previous event's hash; meta('audit_head') holds the id
and hash of the last event. An edited row breaks its own hash, a removed or reordered row breaks the chain
or the id sequence, and a removed last row no longer matches the head.

Each event names the role it was taken in (``operator``: admin, city, county:<code>, serve) and the person who
took it (``person``: a workbench account's username, ``os:<login>`` on the command line, ``rater`` on the
rating page). The person is inside the hash. Events written before persons were recorded (schema 8) have an
empty person and keep the hash they were written with.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlite_utils

from haocha_cli.clock import now_text
from haocha_cli.db import get_meta, set_meta

GENESIS = "0" * 64
_FIELDS = ("id", "at", "operator", "action", "entity", "entity_id", "before", "after", "prev_hash")
_COLUMNS = "id, at, operator, person, action, entity, entity_id, before, after, prev_hash, hash"


def _canonical(value: Any) -> str | None:
    if value is None:
        return None
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
    for action, entity, entity_id, before, after in changes:
        last_id += 1
        row = {"id": last_id, "at": at, "operator": role, "person": person, "action": action, "entity": entity,
               "entity_id": str(entity_id), "before": _canonical(before), "after": _canonical(after),
               "prev_hash": prev_hash}
        row["hash"] = prev_hash = _hash(row)
        rows.append(row)
    if not rows:
        return []
    db.conn.executemany(
        f"INSERT INTO audit_events ({_COLUMNS}) VALUES (:id, :at, :operator, :person, :action, :entity,"
        " :entity_id, :before, :after, :prev_hash, :hash)",
        rows,
    )
    set_meta(db, "audit_head", f"{last_id}:{prev_hash}")
    return [r["id"] for r in rows]


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
    Another county's events answer as events that do not exist: an empty list."""
    from haocha_cli.visibility import audit_scope

    return events(ctx.db, entity, entity_id, limit, scope=audit_scope(ctx), **filters)


def case_history(db: sqlite_utils.Database, case_id: int | str) -> list[dict[str, Any]]:
    """The events of the case that has this number now (not those of a withdrawn case that had it before)."""
    from haocha_cli.visibility import CURRENT_CASE

    return events(db, "cases", str(case_id), scope=(CURRENT_CASE, []))


def verify(db: sqlite_utils.Database) -> dict[str, Any]:
    """{'ok': bool, 'events': n, 'problem': text, 'event_id': first bad id}."""
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
        prev_hash, expected_id = row["hash"], expected_id + 1
    head = get_meta(db, "audit_head")
    expected_head = f"{expected_id - 1}:{prev_hash}" if count else None
    if head != expected_head:
        if head is None:
            return _bad(count, expected_id - 1, "the record of the last event (meta audit_head) was removed")
        last = int(head.split(":")[0])
        if last < count:  # rows appended behind haocha's back, chained or not
            return _bad(count, last + 1, f"event {last + 1} was added outside haocha (the trail ended at event {last})")
        if last == count:  # the last row rewritten with a hash of its own
            return _bad(count, last, f"event {last} was altered after it was written")
        return _bad(count, expected_id, f"the last event(s) were removed: the trail ended at event {last}")
    return {"ok": True, "events": count, "problem": None, "event_id": None}


def _bad(count: int, event_id: int, problem: str) -> dict[str, Any]:
    return {"ok": False, "events": count, "problem": problem, "event_id": event_id}
