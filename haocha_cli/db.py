"""Opening the database: migrations from schema.sql, WAL, foreign keys, busy timeout."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import sqlite_utils

from haocha_cli import files
from haocha_cli.errors import DatabaseError
from haocha_cli.resources import resource_path

# A writer waits this long for another's lock: long enough for a cron import of a few million rows (one
# transaction per file), so that a clerk's command waits instead of failing.
BUSY_TIMEOUT_MS = 300_000
_MIGRATION_LINE = re.compile(r"^-- migration (\d+): (.+)$", re.MULTILINE)
# Tables every haocha database has from migration 1 on; their absence means "not ours".
_MARKER_TABLE = "audit_events"


@cache
def migrations() -> list[tuple[int, str, str]]:
    """(number, title, sql) for each block of schema.sql, in order."""
    text = resource_path("schema.sql").read_text(encoding="utf-8")
    marks = list(_MIGRATION_LINE.finditer(text))
    result = []
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        result.append((int(mark.group(1)), mark.group(2).strip(), text[mark.end() : end]))
    numbers = [n for n, _, _ in result]
    if numbers != list(range(1, len(numbers) + 1)):
        raise DatabaseError("schema.sql migrations are not numbered 1, 2, 3 …", "this is a packaging bug")
    return result


def schema_version() -> int:
    return len(migrations())


def open_db(path: str | Path, *, create: bool = True, modes: files.Modes = files.OWNER_ONLY) -> sqlite_utils.Database:
    """Open (and bring up to date) a haocha database.

    With create=False a missing file is an error: commands other than `init` should not silently make an
    empty database in the wrong folder. A new database file is created with ``modes`` (owner-only by
    default) before SQLite opens it; SQLite gives its -wal and -shm the database file's mode.
    """
    path = Path(path)
    if not create and not path.exists():
        raise DatabaseError(
            f"no database at {path}",
            "run `haocha init` first, or point --db / HAOCHA_DB at the right file",
        )
    if path.exists() and path.is_dir():
        raise DatabaseError(f"{path} is a folder, not a database file", "give the path of a .db file")
    if create and not path.exists() and path.parent.is_dir():
        files.touch(path, modes)  # an empty file is an empty database to SQLite
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(
            f"{path} is not a haocha database ({exc})", "check the --db path; haocha never alters such a file"
        ) from None
    _check_ours(conn, path, version)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    if version < schema_version():
        _migrate(conn)
    files.settle_sidecars(path, modes)
    return sqlite_utils.Database(conn)


def _check_ours(conn: sqlite3.Connection, path: Path, version: int) -> None:
    if version > schema_version():
        raise DatabaseError(
            f"{path} was written by a newer haocha (schema {version}, this program knows {schema_version()})",
            "upgrade haocha: `pip install -U haocha`",
        )
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if version == 0 and tables:
        raise DatabaseError(
            f"{path} is not a haocha database (it holds other tables: {', '.join(sorted(tables)[:5])})",
            "check the --db path; haocha never alters such a file",
        )
    if version > 0 and _MARKER_TABLE not in tables:
        raise DatabaseError(
            f"{path} is not a haocha database (no {_MARKER_TABLE} table)",
            "check the --db path; haocha never alters such a file",
        )


def _migrate(conn: sqlite3.Connection) -> None:
    # BEGIN IMMEDIATE serialises two processes that open a fresh database at the same moment.
    for number, _title, sql in migrations():
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            if current >= number:
                conn.execute("ROLLBACK")
                continue
            for statement in _split_sql(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _split_sql(sql: str) -> Iterator[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    buffer = ""
    for line in sql.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer
            buffer = ""
    if buffer.strip():
        yield buffer


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One write transaction, taken at once (BEGIN IMMEDIATE) so that it waits on the busy timeout
    instead of failing half-way with "database is locked"."""
    conn = db.conn
    if conn.in_transaction:
        # Nested use joins the outer transaction: a batch stays all-or-nothing.
        yield db
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


# The ratings every reader sees, as the view ``ratings`` has them (migration 13: a staged batch's ratings are in
# rating_rows with the ids pending_imports reserves until it is visible), for the queries on the table itself,
# those that name an index (INDEXED BY works on a table only). ``+``: the planner never takes the condition for
# a rowid range in place of the query's own index.
PENDING_IDS = ("(SELECT coalesce(min(first_id), 0) FROM pending_imports)"
               " AND (SELECT coalesce(max(last_id), -1) FROM pending_imports)")


def visible_ratings(alias: str = "") -> str:
    """The condition on rating_rows (``alias.``) that leaves out a staged batch not yet visible."""
    return f"+{alias}{'.' if alias else ''}id NOT BETWEEN {PENDING_IDS}"


def get_meta(db: sqlite_utils.Database, key: str, default: str | None = None) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else default


def set_meta(db: sqlite_utils.Database, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, value],
    )
