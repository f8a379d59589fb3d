"""Rating import (评价导入): files from the rating channels, validated row by row, written as one batch.

One file is one batch and one transaction: the batch row, its ratings, its rejected rows, the daily
aggregates and the rectification cases (整改) of its bad reviews are committed together or not at all, so a
killed import leaves the database as it was and running it again completes it. A file imported before (same
SHA-256) is not read again. A rating id already stored for the source is a duplicate; every other row is
accepted or rejected with a reason, and read = accepted + duplicate + rejected.

The import in five modules, each a part of one batch (``_Job`` below runs it):

- ``import_rules``: what a row must be — the stored column order, the reasons of rejected rows, the time formats;
- ``import_lookups`` (``CatalogueLookups``): the catalogue, indicators and names, looked up once per batch;
- ``import_rows`` (``RowReader``): the header mapped, each row validated into the values stored, or rejected;
- ``import_writer`` (``BatchWriter``): the groups written — ratings, contacts, aggregates, cases, flags —
  staged in short transactions (haocha_cli.staging) or in the caller's one;
- here: the entry points (``import_file``, ``import_records``), the batch's run and summary, the batch listings.

The row loop is the hot path of a million-row file: look-ups are precomputed dicts, nothing but batched SQL
is run per row (multi-row INSERTs, a look-up per group only when a duplicate shows up), phones are hashed
and encrypted once per distinct number, and aggregates are summed in memory and upserted in bulk.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from haocha_cli import audit, files, staging
from haocha_cli import import_writer as writer
from haocha_cli.clock import now
from haocha_cli.context import Context
from haocha_cli.errors import HaochaError, InvalidInput, NotFound
from haocha_cli.import_lookups import CatalogueLookups
from haocha_cli.import_rows import RowReader
from haocha_cli.import_rules import (  # noqa: F401 - the import's public names are importer's
    _LINE_WORD,
    _VALUE_SQL,
    FIRST_REJECTS,
    PHASES,
    RATING_COLUMNS,
    REASON_COLUMN,
    REASONS,
    REF_COLUMN,
    Progress,
    _mask_any,
    _ref_key,
    _Reject,
    _Tally,
    parse_time,
    reject_ref,
)
from haocha_cli.import_writer import BatchWriter, _Held
from haocha_cli.privacy import mask_numbers, mask_values
from haocha_cli.profiles import (
    SCALE_TEXT,
    Profile,
    load_profile,
    normalize_header,
    parse_scale,
)
from haocha_cli.readers import cell_text, check_encoding, open_table, regular_file
from haocha_cli.spreadsheet import csv_safe
from haocha_cli.untrusted import dumps

# --- public API -----------------------------------------------------------------------------------


# Excel's rows per sheet: the bound of a workbook's rows (its stored dimension is often wrong).
XLSX_MAX_ROWS = 1_048_576


def _hash_and_bound(path: str | Path, fmt: str | None) -> tuple[str, int]:
    """The file's SHA-256 and, read in the same pass, a number of records it cannot exceed (the ids a staged
    batch reserves): its line breaks (either kind) + 1 for CSV and JSON Lines, its ``{`` for JSON, Excel's
    limit for a workbook."""
    digest = hashlib.sha256()
    bound = 1
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            if fmt == "json":
                bound += block.count(b"{")
            elif fmt is not None:
                bound += max(block.count(b"\n"), block.count(b"\r"))
    return digest.hexdigest(), (XLSX_MAX_ROWS if fmt == "xlsx" else bound)


def find_batch(db: sqlite_utils.Database, sha256: str) -> int | None:
    """The batch the file of this SHA-256 was imported as; not one still being written (staged), which may yet
    fail: the second import then finds the first one running."""
    row = db.execute("SELECT id FROM batches WHERE sha256 = ? AND id NOT IN (SELECT batch_id FROM pending_imports)",
                     [sha256]).fetchone()
    return row[0] if row else None


def case_rating(db: sqlite_utils.Database, source: str, case_no: str, rating_round: int) -> dict[str, Any] | None:
    """The rating that a service case (办件编号) already has in a round (1 first, 2 追评) from a source, or None.

    一事一评: while there is one, another rating of that case and round from the source is rejected
    ``case_rated_twice`` (an import checks each group of rows so, by the same index); the rating page asks this
    before it shows a follow-up form."""
    row = db.execute("SELECT rating_id, batch_id, line FROM ratings WHERE source = ? AND case_no = ?"
                     " AND rating_round = ? ORDER BY id LIMIT 1", [source, case_no, rating_round]).fetchone()
    return {"rating_id": row[0], "batch": row[1], "line": row[2]} if row else None


def import_file(ctx: Context, path: str | Path, *, profile: str | Path | Profile | None = None,
                level_scale: str | None = None, encoding: str | None = None, source: str | None = None,
                dry_run: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    """Import one rating file as one batch (city's task). Returns the summary (see ``summary`` keys in
    docs/import.md). A file already imported returns status "already imported" and changes nothing.
    ``progress(phase, done, total)`` is told of each phase (``PHASES``) as it goes."""
    ctx.require_city("importing ratings")
    path = Path(path)
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    scale = parse_scale(level_scale, "--level-scale") if level_scale else prof.level_scale
    regular_file(path, folder_hint=f"give the files in it, e.g. haocha import {path / '*.csv'}")
    if encoding:
        check_encoding(encoding)  # before the file is hashed: an unusable --encoding is refused for every file
    table = open_table(path, encoding=encoding)
    try:
        # Staged (haocha_cli.staging): written in short transactions, visible at its end; a dry run, or an
        # import inside the caller's transaction, is one transaction as before.
        staged = not dry_run and not ctx.db.conn.in_transaction
        sha, bound = _hash_and_bound(path, table.format if staged else None)
        existing = find_batch(ctx.db, sha)
        if existing is not None:
            return _already(_file_name(path), existing, sha)
        job = _Job(ctx, prof, scale, source or prof.source, table.format, _file_name(path), sha, table.encoding,
                   dry_run, excel_epoch=table.excel_epoch, row_bound=bound if staged else None)
        return job.run(table.header, table.rows, phases=progress,
                       progress=(lambda: progress("read", table.position(), table.size)) if progress else None)
    finally:
        table.close()


def import_records(ctx: Context, records: Iterable[dict[str, Any]], *, source: str, file_name: str = "form",
                   sha256: str | None = None, fmt: str = "form", profile: str | Path | Profile | None = None,
                   level_scale: str | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Import already-parsed ratings (dicts keyed by field names or any header the profile knows) through
    the same validation, batch and aggregate path as a file; `haocha serve`'s rating page uses it.

    Without ``sha256`` the records are hashed (so the same submission twice is imported once). The
    summary's ``ids`` lists the row ids of the accepted ratings. The caller decides who may call it."""
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    scale = parse_scale(level_scale, "level_scale") if level_scale else prof.level_scale
    records = list(records)
    if sha256 is None:
        payload = json.dumps([source, records], ensure_ascii=False, sort_keys=True, default=str)
        sha256 = hashlib.sha256(payload.encode("utf-8")).hexdigest()
    existing = find_batch(ctx.db, sha256)
    if existing is not None:
        return _already(file_name, existing, sha256)
    rows = ((i, None, r, None, None) if isinstance(r, dict) else (i, None, None, repr(r), "the record is not a dict")
            for i, r in enumerate(records, 1))
    job = _Job(ctx, prof, scale, source, fmt, file_name, sha256, None, dry_run, keep_ids=True)
    return job.run(None, rows)


def _file_name(path: Path) -> str:
    """The file's name as text SQLite can store: bytes that are not UTF-8 (a name from another system's
    code page) become U+FFFD."""
    return path.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _already(name: str, batch_id: int, sha: str) -> dict[str, Any]:
    return {"file": name, "batch": batch_id, "status": "already imported", "sha256": sha,
            "message": f"{name} was already imported as batch {batch_id}; nothing added",
            "rows_read": 0, "accepted": 0, "duplicate": 0, "rejected": 0}


# --- the job ----------------------------------------------------------------------------------------



class _Job(CatalogueLookups, RowReader, BatchWriter):
    """One batch: a producer (RowReader) reads and validates rows into groups, the consumer (BatchWriter) writes
    each group; the look-ups they share are CatalogueLookups'. This class holds the batch's state and runs it.

    (Running the producer in a thread was measured: SQLite releases the GIL while it writes, but the two
    threads then queue for the GIL and the import got slower, not faster.)"""

    def __init__(self, ctx: Context, profile: Profile, scale: str | None, source: str, fmt: str, file_name: str,
                 sha: str, encoding: str | None, dry_run: bool, *, excel_epoch: datetime | None = None,
                 keep_ids: bool = False, row_bound: int | None = None):
        ctx.require_keys()  # a phone in any row needs the key: refused before a row is read, not half-way
        self.ctx, self.db, self.conn = ctx, ctx.db, ctx.db.conn
        self.profile, self.scale, self.source, self.fmt = profile, scale, source, fmt
        self.file_name, self.sha, self.encoding, self.dry_run = file_name, sha, encoding, dry_run
        self.excel_epoch, self.keep_ids = excel_epoch, keep_ids
        # A staged batch (haocha_cli.staging) reserves this many ids for its ratings; None: one transaction.
        self.row_bound = row_bound
        self.staged = row_bound is not None  # import_file stages neither a dry run nor an import in a transaction
        self.rows_table = "rating_rows" if self.staged else "ratings"  # its own rows are not visible until the end
        self.part = 0  # the aggregates' part: the batch's id when staged
        self.last_id: int | None = None  # staged: the last id reserved for its ratings
        self.held: _Held | None = None  # staged: what its last transaction writes (cases, 追评, flags)
        self.deferred_flags: list[Any] = []  # staged: flags.Prepared of the scan running, moved to held
        self.flag_summaries: list[tuple[list[str], dict[str, Any]]] = []  # staged: each scan's rules and summary
        self.word = _LINE_WORD.get(fmt, "line")
        self.read = self.accepted = self.duplicate = 0
        self.reader_tally, self.writer_tally = _Tally(), _Tally()
        self.ignored: list[str] = []
        self.cases_opened = 0
        self.cases_handed = 0  # bad reviews handed to the closed loop (the "cases" phase counts them)
        self.cases_rerated = 0  # cases re-rated (整改复评) by a 追评 of the batch
        self.flags_raised = 0
        self.seconds = {"cases": 0.0, "flags": 0.0}  # the closed loop's and the flag scan's share of the time
        self.tokens_failed = 0
        self.tokens_old = 0  # tokens of the previous QR secret in its grace period (an old sticker: old_token)
        self.restored = 0  # rows of a rejects file whose reject_ref named a reject of this database
        self.levels_by_code = 0
        self.levels_named = False  # set once a level name is read: the file is of names (see CODED_LEVELS)
        self.ids: list[int] = []
        self.now_text = now().isoformat(sep=" ")
        self.gc_was_on = True

    def run(self, header: list[str] | None, rows: Iterator, *, progress: Callable[[], None] | None = None,
            phases: Progress | None = None) -> dict[str, Any]:
        self.phase = phases or _no_phase
        self._load_catalogue()
        if header is not None:
            self._map_header(header)
        else:
            self._json_setup()
        rows = self._restore_rows(rows)
        conn = self.conn
        outer = conn.in_transaction
        restore: list[str] = []
        if outer:
            conn.execute("SAVEPOINT haocha_import")
        else:
            # Foreign keys are checked here, in Python, against the catalogue: SQLite checking them again for
            # every row of a large batch costs a quarter of the insert time. Restored after the batch.
            if conn.execute("PRAGMA foreign_keys").fetchone()[0]:
                conn.execute("PRAGMA foreign_keys = OFF")
                restore.append("PRAGMA foreign_keys = ON")
            cache = conn.execute("PRAGMA cache_size").fetchone()[0]
            if -32768 < cache < 8192:
                conn.execute("PRAGMA cache_size = -32768")
                restore.append(f"PRAGMA cache_size = {cache}")
            if self.staged:
                # Its many commits would each checkpoint the WAL past SQLite's 1,000 pages, writing the same
                # index pages into the database again and again; a checkpoint every writer.STAGE_CHECKPOINT_PAGES.
                pages = conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
                conn.execute(f"PRAGMA wal_autocheckpoint = {writer.STAGE_CHECKPOINT_PAGES}")
                restore.append(f"PRAGMA wal_autocheckpoint = {pages}")
            else:
                conn.execute("BEGIN IMMEDIATE")
        # Nothing a batch allocates holds a cycle; collecting would only walk a million live rows again and again.
        gc_was_on = self.gc_was_on = gc.isenabled()
        gc.disable()
        try:
            if self.staged:
                result = self._run_staged(rows, progress)
            else:
                existing = find_batch(self.db, self.sha)
                if existing is not None:  # imported by another process while this one waited for the lock
                    result = _already(self.file_name, existing, self.sha)
                else:
                    result = self._run(rows, progress)
                keep = not self.dry_run and result["status"] != "already imported"
                if outer:
                    if not keep:
                        conn.execute("ROLLBACK TO haocha_import")
                    conn.execute("RELEASE haocha_import")
                else:
                    conn.execute("COMMIT" if keep else "ROLLBACK")
        except BaseException:
            if outer:
                conn.execute("ROLLBACK TO haocha_import")
                conn.execute("RELEASE haocha_import")
            elif conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            if gc_was_on:
                gc.enable()
            if not outer:
                for statement in restore:
                    conn.execute(statement)
        return result

    def _run_staged(self, rows: Iterator, progress: Callable[[], None] | None) -> dict[str, Any]:
        """The batch staged: under the database's import lock (one staged batch at a time), a batch left by an
        import that died removed first; on any failure what this one wrote is removed again (all or nothing:
        until its last transaction nobody sees it)."""
        with staging.import_lock(self.ctx.db_path, files.modes(self.ctx.config)):
            staging.clear_locked(self.db)
            existing = find_batch(self.db, self.sha)
            if existing is not None:  # imported by another process before this one took the lock
                return _already(self.file_name, existing, self.sha)
            try:
                return self._run(rows, progress)
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                staging.clear_locked(self.db)
                raise

    def _run(self, rows: Iterator, progress: Callable[[], None] | None) -> dict[str, Any]:
        started = time.perf_counter()
        conn = self.conn
        with self._short():
            cur = conn.execute(
                "INSERT INTO batches (file_name, sha256, source, profile, format, encoding, level_scale, operator,"
                " imported_at, rows_read, accepted, rejected, duplicate, ignored_columns, header, staged)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0, '[]', ?, ?)",
                [self.file_name, self.sha, self.source, self.profile.name, self.fmt, self.encoding, self.scale,
                 str(self.ctx.operator), self.now_text, json.dumps(self.header, ensure_ascii=False),
                 int(self.staged)])
            self.batch_id = cur.lastrowid
            self.next_id = staging.next_rating_id(self.db)
            if self.staged:
                self.held = _Held(conn)
                self.part = self.batch_id
                self.last_id = self.next_id + self.row_bound - 1
                conn.execute("INSERT INTO pending_imports (batch_id, first_id, last_id, first_contact_id, started_at,"
                             " pid) VALUES (?, ?, ?, (SELECT coalesce(max(id), 0) + 1 FROM contacts), ?, ?)",
                             [self.batch_id, self.next_id, self.last_id, self.now_text, os.getpid()])
        self.next_contact = (conn.execute("SELECT max(id) FROM contacts").fetchone()[0] or 0) + 1
        self.agg: dict[tuple, list] = {}
        self.ind_agg: dict[tuple, list] = {}
        self.reject_rows: list[tuple] = []
        self.pending_cases: list[dict[str, Any]] = []
        self.pending_followups: list[dict[str, Any]] = []  # the 追评 with a 办件编号 (cases.rerate_by_followups)
        # source and batch are the same for every row: the source (a user's text) is one parameter ?1 that
        # every row of the statement reuses, the batch (our integer) a literal; binding per row is the cost.
        placeholders = [_VALUE_SQL.get(c, "?") for c in RATING_COLUMNS]
        self.row_sql = "(" + ", ".join(["?1", str(self.batch_id), *placeholders]) + ")"
        self.variable_limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self.group_rows = max(1, min(writer.GROUP_ROWS, (self.variable_limit - 1) // len(RATING_COLUMNS)))
        self.insert_head = f"INSERT INTO rating_rows (source, batch_id, {', '.join(RATING_COLUMNS)}) VALUES "
        self.insert_sql: dict[int, str] = {}
        self.days: set[str] = set()
        # The flag scan, a block of FLAG_SCAN_DAYS days at a time, from the batch's rows held since they were
        # written (issue 22: not read back from ratings) while the file comes in day order; a row of a day
        # before the open block ends that (the batch's days are then scanned from the table at the end).
        self.first_id = self.next_id
        self._open_block(None)  # flag_block: the first day of the block being held
        self.flag_rows: list[tuple] = []
        self.flag_stream = not self.dry_run
        self.flagged_days = 0  # days scanned while reading
        self._drive(self._produce(rows), progress)
        with self._short():
            self._flush_rejects()
        self._flush_aggregates()
        cases = self.cases_handed + len(self.pending_cases)
        if cases:
            self.phase("cases", self.cases_handed, cases)
        self._flush_cases()
        if cases:
            self.phase("cases", cases, cases)
        if not self.dry_run:
            self._scan_flags()
        self.phase("write", 0, None)  # the batch row, the audit event and the commit (in run)
        if not self.header:
            self.ignored = list(self.ignored_keys)
        self.rejected = self.reader_tally.rejected + self.writer_tally.rejected
        if self.read == 0:
            raise InvalidInput(f"{self.file_name} has a header but no rows" if self.fmt in ("csv", "xlsx")
                               else f"{self.file_name} holds no ratings",
                               "export the ratings again; nothing was imported")
        if self.accepted + self.duplicate + self.rejected != self.read:
            raise HaochaError(f"internal error: {self.read} rows read but {self.accepted} accepted, "
                              f"{self.duplicate} duplicate, {self.rejected} rejected", "please report this")
        if self.staged and self.read > writer.STAGE_ROWS:
            # The lock left free a moment first: a write waiting through the last aggregates' transactions gets
            # in (SQLite's busy handler tries again every 100 ms) before the longest transaction, the last. (A
            # file of one short transaction has kept nobody waiting long.)
            time.sleep(writer.STAGE_PAUSE_SECONDS)
        with self._short():  # a staged batch's last transaction: the batch appears, whole, at its COMMIT
            if self.staged:
                self._publish()
            conn.execute("UPDATE batches SET rows_read = ?, accepted = ?, rejected = ?, duplicate = ?,"
                         " ignored_columns = ? WHERE id = ?",
                         [self.read, self.accepted, self.rejected, self.duplicate,
                          json.dumps(self.ignored, ensure_ascii=False), self.batch_id])
            summary = self._summary()
            summary["seconds"] = {"total": round(time.perf_counter() - started, 2),
                                  "cases": round(self.seconds["cases"], 2),
                                  "flags": round(self.seconds["flags"], 2)}
            if not self.dry_run:
                audit.record(self.db, self.ctx.operator, "ratings.import", "batches", self.batch_id, None,
                             {k: summary[k] for k in ("file", "sha256", "source", "profile", "format", "rows_read",
                                                      "accepted", "duplicate", "rejected", "cases_opened")})
        return summary

    def _summary(self) -> dict[str, Any]:
        reasons = dict(self.reader_tally.reasons)
        for code, count in self.writer_tally.reasons.items():
            reasons[code] = reasons.get(code, 0) + count
        first = sorted(self.reader_tally.first + self.writer_tally.first, key=lambda r: r["line"])[:FIRST_REJECTS]
        return {
            "file": self.file_name, "batch": None if self.dry_run else self.batch_id,
            "status": "dry run (nothing written)" if self.dry_run else "imported",
            "sha256": self.sha, "format": self.fmt, "encoding": self.encoding, "profile": self.profile.name,
            "source": self.source, "level_scale": SCALE_TEXT[self.scale], "levels_by_code": self.levels_by_code,
            "rows_read": self.read, "accepted": self.accepted, "duplicate": self.duplicate,
            "rejected": self.rejected, "reasons": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
            "first_rejects": first, "ignored_columns": self.ignored,
            "cases_opened": self.cases_opened, "cases_rerated": self.cases_rerated,
            "flags_raised": self.flags_raised,
            "qr_tokens_not_verified": self.tokens_failed, "qr_tokens_old": self.tokens_old,
            "rejects_restored": self.restored,
            **({"ids": self.ids} if self.keep_ids else {}),
        }


def _no_phase(phase: str, done: int, total: int | None) -> None:
    """Where phases go when nobody watches."""



# --- batches --------------------------------------------------------------------------------------


_BATCHES_HINT = "importing is the city's; a county's own ratings: haocha export ratings, its cases: haocha cases list"


def list_batches(ctx: Context) -> list[dict[str, Any]]:
    """The imported batches (city's: a batch mixes the counties' ratings, and its file name and counts are the
    city's import record)."""
    ctx.require_city("the list of imported batches", _BATCHES_HINT)
    return list(ctx.db.query(
        "SELECT id AS batch, imported_at, file_name, format, profile, source, rows_read, accepted, duplicate,"
        " rejected, operator, withdrawn_at AS withdrawn FROM batches"
        " WHERE id NOT IN (SELECT batch_id FROM pending_imports) ORDER BY id"))  # a staged batch being written


def get_batch(db: sqlite_utils.Database, batch_id: int) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM batches WHERE id = ?", [batch_id]))
    if not rows:
        last = db.execute("SELECT max(id) FROM batches").fetchone()[0]
        raise NotFound(f"batch {batch_id} does not exist",
                       f"batches are numbered 1 to {last}" if last else "no file has been imported yet")
    batch = rows[0]
    batch["ignored_columns"] = json.loads(batch["ignored_columns"])
    batch["header"] = json.loads(batch["header"])
    batch["level_scale"] = SCALE_TEXT.get(batch["level_scale"], batch["level_scale"])
    batch["reasons"] = [
        {"code": code, "count": count, "meaning": REASONS.get(code, ""), "example": example}
        for code, count, example in db.execute(
            "SELECT code, count(*), min(reason) FROM rejects WHERE batch_id = ? GROUP BY code ORDER BY count(*) DESC,"
            " code", [batch_id])]
    batch["cases_opened"] = _count_cases(db, batch_id)
    return batch


def show_batch(ctx: Context, batch_id: int) -> dict[str, Any]:
    """`haocha batches show`: one batch with its rejects by reason (city's: the examples are rows of every
    county)."""
    ctx.require_city("reading an imported batch", _BATCHES_HINT)
    return get_batch(ctx.db, batch_id)


def _count_cases(db: sqlite_utils.Database, batch_id: int) -> int:
    return db.execute("SELECT count(*) FROM cases WHERE rating_id IN (SELECT id FROM ratings WHERE batch_id = ?)",
                      [batch_id]).fetchone()[0]


def batch_rejects(ctx: Context, batch_id: int, *, reveal_phones: bool = False, refs: bool = False) -> dict[str, Any]:
    """The rejected rows of a batch as they were read (phones masked unless revealed), with their reason.

    Returns {"batch", "header" (tabular) or None, "format", "rows": [{"line", "code", "reason", and "cells",
    "object" or "text"; with ``refs`` "ref", the row's reject_ref}]}. The rejects are the city's (a batch mixes
    the counties' rows); revealing phones is recorded in the audit trail."""
    ctx.require_city("reading the rejected rows of a batch", _BATCHES_HINT)
    batch = get_batch(ctx.db, batch_id)
    if reveal_phones:
        ctx.require_city("revealing raters' phone numbers")
    header = batch["header"] or None
    try:
        profile: Profile | None = load_profile(batch["profile"])
    except HaochaError:  # a profile file that has moved since: phones stay masked
        profile = None
    phone_pos = None
    if header and profile is not None:
        phone_pos = next((i for i, h in enumerate(header) if profile.field_for(h) == "rater_phone"), None)
    rows = []
    revealed = 0
    ref_key = _ref_key(ctx.keys.data_key) if refs else None
    for line, raw, code, reason, phone_enc in ctx.db.execute(
            "SELECT line, raw, code, reason, phone_enc FROM rejects WHERE batch_id = ? ORDER BY line", [batch_id]):
        # Masked when stored; again by today's rules (a row stored before a shape of phone was known).
        value, reason = mask_values(json.loads(raw)), mask_numbers(reason)
        phone = ctx.vault.reveal(phone_enc) if reveal_phones and phone_enc else None
        entry: dict[str, Any] = {"line": line, "code": code, "reason": reason}
        if ref_key is not None:
            entry["ref"] = reject_ref(ref_key, batch_id, line, raw)
        if isinstance(value, list):
            if phone is not None and phone_pos is not None and phone_pos < len(value):
                value[phone_pos] = phone
                revealed += 1
            entry["cells"] = value
        elif isinstance(value, dict):
            if phone is not None and profile is not None:
                for key in value:
                    if profile.field_for(key) == "rater_phone":
                        value[key] = phone
                        revealed += 1
            entry["object"] = value
        else:
            entry["text"] = value if phone is None else phone  # the whole line, as it was
        rows.append(entry)
    if revealed:
        from haocha_cli.db import transaction

        with transaction(ctx.db):
            audit.record(ctx.db, ctx.operator, "batches.reveal_phones", "batches", batch_id, None,
                         {"phones_revealed": revealed})
    return {"batch": batch_id, "header": header, "format": batch["format"], "rows": rows}


def write_rejects(ctx: Context, batch_id: int, out: str | Path, *, reveal_phones: bool = False) -> int:
    """Write a batch's rejected rows, as they were plus a ``reject_reason`` and a ``reject_ref`` column, to CSV
    (UTF-8 with BOM, so that Excel shows the Chinese) or JSON Lines, by the output file's extension. Returns
    the row count. Imported again once fixed, a row's reject_ref gives its masked cells back (docs/import.md)."""
    import csv

    data = batch_rejects(ctx, batch_id, reveal_phones=reveal_phones, refs=True)
    out = Path(out)
    modes = files.modes(ctx.config)  # rejected rows hold phones (in full with reveal_phones): never 0644
    as_csv = out.suffix.lower() in (".csv", ".txt") or (out.suffix.lower() not in (".jsonl", ".json", ".ndjson")
                                                        and data["header"] is not None)
    try:
        if as_csv:
            with files.open_file(out, "w", modes, encoding="utf-8-sig", newline="") as fh:
                writer = csv.writer(fh)
                header = data["header"]
                if header is None:
                    keys: dict[str, None] = {}
                    for r in data["rows"]:
                        keys.update(dict.fromkeys(r.get("object") or {}))
                    header = list(keys)
                # A batch that was itself a rejects file: its old reason and reference give way to the new ones.
                old = {i for i, h in enumerate(header) if normalize_header(h) in (REASON_COLUMN, REF_COLUMN)}
                writer.writerow([*(h for i, h in enumerate(header) if i not in old), REASON_COLUMN, REF_COLUMN])
                for r in data["rows"]:
                    if "cells" in r:
                        cells = r["cells"] + [""] * (len(header) - len(r["cells"]))
                        if len(r["cells"]) <= len(header):  # (a longer, misaligned row stays as it was)
                            cells = [c for i, c in enumerate(cells) if i not in old]
                    elif "object" in r:
                        cells = [cell_text(r["object"].get(k)) for i, k in enumerate(header) if i not in old]
                    else:
                        cells = [r["text"]] + [""] * (len(header) - len(old) - 1)
                    # Opened in a spreadsheet to be fixed: a cell like =cmd|… must stay text (CSV injection).
                    writer.writerow([csv_safe(c) for c in [*cells, f"{r['code']}: {r['reason']}"]] + [r["ref"]])
        else:
            with files.open_file(out, "w", modes, encoding="utf-8") as fh:
                for r in data["rows"]:
                    if "object" in r:
                        obj = dict(r["object"])
                    elif "cells" in r:
                        obj = dict(zip(data["header"] or [], r["cells"], strict=False))
                    else:
                        obj = {"text": r["text"]}
                    for key in [k for k in obj if normalize_header(k) in (REASON_COLUMN, REF_COLUMN)]:
                        del obj[key]  # a batch that was itself a rejects file: the new reason and reference
                    obj[REASON_COLUMN] = f"{r['code']}: {r['reason']}"
                    obj[REF_COLUMN] = r["ref"]
                    fh.write(dumps(obj) + "\n")  # exact, with no raw control character (untrusted.dumps)
    except OSError as exc:
        raise InvalidInput(f"cannot write {out}: {exc.strerror}", "check that the folder exists and is writable") from None
    return len(data["rows"])

