"""Staged batches (migration 13): an import that holds the write lock only in short transactions.

A file's batch is written while the file is read, a group of rows per short transaction, so that the rating
page and the workbench write in between (issue 22). Until its last transaction the batch is *pending*: its row
in ``pending_imports`` names the ids reserved for its ratings (``first_id`` … ``last_id``), and the views that
every reader reads (``ratings``, ``daily_agg``, ``daily_indicator_agg``) leave those ratings and the batch's
aggregate rows (``part`` = the batch) out. The last transaction writes the batch's cases, flags and audit
events and deletes the pending row: the batch appears whole, at once, or (after a crash) never.

One staged batch at a time: the importer holds an exclusive lock (``flock``) on ``<database>.import-lock`` for
its whole run. A pending row whose lock nobody holds was left by an import that died; ``clear_abandoned``
removes what it wrote (the next open of the database and the next import call it).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from haocha_cli import files
from haocha_cli.db import transaction
from haocha_cli.errors import DatabaseError, InvalidTransition

# Rows deleted per transaction when an abandoned batch is removed: each such transaction is short.
CLEAR_CHUNK = 20_000


def lock_path(db_path: str | Path) -> Path:
    return Path(f"{db_path}.import-lock")


@contextmanager
def import_lock(db_path: str | Path, modes: files.Modes = files.OWNER_ONLY) -> Iterator[None]:
    """Hold the database's import lock, or raise InvalidTransition at once when another import holds it."""
    path = lock_path(db_path)
    try:
        files.touch(path, modes)
        try:
            fd = os.open(path, os.O_RDWR)
        except PermissionError:  # the lock file of another user (the web server's): a shared open is enough
            fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise DatabaseError(f"the import lock {path} cannot be opened ({exc.strerror})",
                            "run the import as a user who may write in the database's folder") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InvalidTransition(
                "another import into this database is running",
                "wait until it has finished (haocha status shows it), then import again") from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def pending(db: sqlite_utils.Database) -> dict[str, Any] | None:
    """The staged batch not yet visible, if any: batch_id, first_id, last_id, first_contact_id, started_at, pid."""
    rows = list(db.query("SELECT batch_id, first_id, last_id, first_contact_id, started_at, pid FROM pending_imports"))
    return rows[0] if rows else None


def next_rating_id(db: sqlite_utils.Database) -> int:
    """The id a rating written in one transaction (not staged) takes: after every stored or reserved one."""
    return db.execute("SELECT max(coalesce((SELECT max(id) FROM rating_rows), 0),"
                      " coalesce((SELECT max(last_id) FROM pending_imports), 0)) + 1").fetchone()[0]


def clear_abandoned(db: sqlite_utils.Database, db_path: str | Path,
                    modes: files.Modes = files.OWNER_ONLY) -> int | None:
    """Remove a staged batch whose import is no longer running (it died: a kill, a power cut). Returns the
    batch removed, or None (nothing pending, or its import still runs)."""
    if pending(db) is None:
        return None
    try:
        with import_lock(db_path, modes):
            return clear_locked(db)
    except (InvalidTransition, DatabaseError):
        return None  # its import is running, or this user cannot take the lock: left for the next import
    except sqlite3.OperationalError:
        return None  # a read-only open (another user's database file): left for the next import


def clear_locked(db: sqlite_utils.Database) -> int | None:
    """Under the import lock (the caller holds it): delete the pending batch's ratings, aggregate rows and
    rejects, a chunk per short transaction; the pending row, and with it the batch row, go last (until then the
    views hide the rest)."""
    row = pending(db)
    if row is None:
        return None
    batch, first, last = row["batch_id"], row["first_id"], row["last_id"]
    for lo in range(first, last + 1, CLEAR_CHUNK):
        with transaction(db):
            db.execute("DELETE FROM rating_rows WHERE id BETWEEN ? AND ?", [lo, min(last, lo + CLEAR_CHUNK - 1)])
    for table in ("daily_agg_rows", "daily_indicator_agg_rows"):
        # By days (the key's first column): the part is the key's last, so a chunk by part alone scans the table.
        days = [d for (d,) in db.execute(f"SELECT DISTINCT day FROM {table} WHERE part = ? ORDER BY day", [batch])]
        for i in range(0, len(days), 30):
            with transaction(db):
                db.execute(f"DELETE FROM {table} WHERE day BETWEEN ? AND ? AND part = ?",
                           [days[i], days[min(i + 29, len(days) - 1)], batch])
    while True:
        with transaction(db):
            n = db.execute("DELETE FROM rejects WHERE batch_id = ?1 AND line IN"
                           " (SELECT line FROM rejects WHERE batch_id = ?1 ORDER BY line LIMIT ?2)",
                           [batch, CLEAR_CHUNK]).rowcount
        if n < CLEAR_CHUNK:
            break
    # The phones it added (personal data of ratings that never came), unless a rating or case written meanwhile
    # (the rating page's) uses one. Checked here, once; SQLite's own foreign-key check of each deleted contact
    # would scan the cases for each (cases.contact_id has no index, and needs none elsewhere).
    fk = db.execute("PRAGMA foreign_keys").fetchone()[0]
    db.execute("PRAGMA foreign_keys = OFF")
    try:
        with transaction(db):
            db.execute("DELETE FROM contacts WHERE id >= ?1 AND NOT EXISTS (SELECT 1 FROM rating_rows r"
                       " WHERE r.contact_id = contacts.id) AND id NOT IN (SELECT contact_id FROM cases"
                       " WHERE contact_id >= ?1)", [row["first_contact_id"]])
            db.execute("DELETE FROM pending_imports WHERE batch_id = ?", [batch])
            db.execute("DELETE FROM batches WHERE id = ?", [batch])
    finally:
        db.execute(f"PRAGMA foreign_keys = {'ON' if fk else 'OFF'}")
    return batch
