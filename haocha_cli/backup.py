"""Backups (备份) of a live database: SQLite's online backup API copies a consistent snapshot while other
commands keep writing (in WAL mode a reader never blocks a writer), and the key file goes with it — without
the key the phones in the copy can never be read again.

The copy is written beside the destination and renamed when it has passed ``PRAGMA integrity_check`` and
the audit trail's verification, so DEST is either a whole, verified backup or not there.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import sqlite_utils

from haocha_cli import audit, files
from haocha_cli.context import Context
from haocha_cli.db import transaction
from haocha_cli.errors import DatabaseError, InvalidInput
from haocha_cli.privacy import key_path


def backup_database(ctx: Context, dest: str | Path, *, force: bool = False) -> dict[str, Any]:
    """Copy the database of ``ctx`` and its key file to ``dest`` (a file, or a folder to put it in).

    City operator only. An existing DEST (or its key file) is refused unless ``force``. Returns {path,
    key_path, bytes, events, integrity}; the backup is recorded in the source's audit trail."""
    ctx.require_city("backing up the database")
    source = Path(ctx.db_path)
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / source.name
    dest_key = key_path(dest)
    if dest.resolve() == source.resolve():
        raise InvalidInput(f"{dest} is the database itself", "give another file or folder")
    if not dest.parent.is_dir():
        raise InvalidInput(f"cannot write {dest}: folder {dest.parent} does not exist", "create the folder first")
    existing = [p for p in (dest, dest_key) if p.exists()]
    if existing and not force:
        raise InvalidInput(f"{existing[0]} exists already", "choose another name, or give --force to replace it")
    ctx.require_keys()  # missing, damaged or another database's: no backup (the phones could not be read from it)
    key_text = key_path(source).read_text(encoding="utf-8")

    part = dest.with_name(dest.name + ".part")
    key_part = dest_key.with_name(dest_key.name + ".part")
    modes = files.modes(ctx.config)
    # A killed backup leaves its .part (and SQLite's journal of it) behind, owner-only: removed here, so that
    # SQLite never takes a stale journal for the new copy's.
    leftovers = [part, *(part.with_name(part.name + suffix) for suffix in ("-journal", "-wal", "-shm"))]
    try:
        for path in leftovers:
            _remove(path)
        files.touch(part, modes)  # with its mode before SQLite writes a byte into it
        target = sqlite3.connect(part)
        try:
            # One step (-1): the whole snapshot under one read transaction, never restarted by a writer.
            ctx.db.conn.backup(target, pages=-1)
            target.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            integrity = target.execute("PRAGMA integrity_check").fetchone()[0]
            check = audit.verify(sqlite_utils.Database(target))
        finally:
            target.close()
        if integrity != "ok":
            raise DatabaseError(f"the copy failed its integrity check ({integrity})",
                                "run `haocha backup` again; if it fails again, check the disk")
        if not check["ok"]:
            where = "unguarded" if check["event_id"] is None else f"broken at event {check['event_id']}"
            raise DatabaseError(f"the audit trail of the copy is {where}: {check['problem']}",
                                "the source's trail is broken too: `haocha audit verify`")
        # The key file's copy is owner-only (0600) whatever files.group says, as the key file itself; its
        # mode is set even over a .part of another umask left behind.
        with files.open_file(key_part, "w", files.OWNER_ONLY, encoding="utf-8") as fh:
            fh.write(key_text)
        size = part.stat().st_size
        # The key first: a backup killed between the two renames leaves no DEST without the key to its phones.
        os.replace(key_part, dest_key)
        os.replace(part, dest)
    except OSError as exc:
        raise InvalidInput(f"cannot write {dest}: {exc.strerror}", "check that the folder is writable") from None
    finally:
        for path in (*leftovers, key_part):
            _remove(path)
    with transaction(ctx.db):
        audit.record(ctx.db, ctx.operator, "database.backup", "database", str(source.resolve()), None,
                     {"to": str(dest.resolve()), "events": check["events"], "bytes": size})
    return {"path": str(dest), "key_path": str(dest_key), "bytes": size, "events": check["events"],
            "integrity": integrity}


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
