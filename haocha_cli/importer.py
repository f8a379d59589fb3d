"""Rating import (评价导入): files from the rating channels, validated row by row, written as one batch.

One file is one batch and one transaction: the batch row, its ratings, its rejected rows, the daily
aggregates and the rectification cases (整改) of its bad reviews are committed together or not at all, so a
killed import leaves the database as it was and running it again completes it. A file imported before (same
SHA-256) is not read again. A rating id already stored for the source is a duplicate; every other row is
accepted or rejected with a reason, and read = accepted + duplicate + rejected.

The row loop is the hot path of a million-row file: lookups are precomputed dicts, nothing but batched SQL
is run per row (multi-row INSERTs, a look-up per group only when a duplicate shows up), phones are hashed
and encrypted once per distinct number, and aggregates are summed in memory and upserted in bulk.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import json
import math
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any

import sqlite_utils

from haocha_cli import audit, files, staging
from haocha_cli.clock import now
from haocha_cli.config import LEVELS
from haocha_cli.context import Context
from haocha_cli.db import get_meta
from haocha_cli.errors import HaochaError, InvalidInput, NotFound
from haocha_cli.indicators import in_scope, registry, version_on, weights
from haocha_cli.privacy import mask_numbers, mask_phone, mask_values, masked_numbers, normalize_phone
from haocha_cli.profiles import (
    FIELDS,
    LEVEL_SCALES,
    SCALE_TEXT,
    Profile,
    indicator_aliases,
    load_profile,
    normalize_header,
    normalize_label,
    parse_scale,
)
from haocha_cli.readers import cell_text, check_encoding, open_table, regular_file
from haocha_cli.spreadsheet import csv_safe
from haocha_cli.untrusted import dumps

# Column order of an inserted rating; source (parameter ?1) and batch_id (a literal) precede them.
RATING_COLUMNS = ("id", "rating_id", "line", "rated_at", "day", "window_code", "county_code", "mode", "channel",
                  "item_code", "level", "rating_index", "weights_version", "scores", "problems", "case_no",
                  "rating_round", "comment", "contact_id", "anonymous", "staff_code", "qr_token", "token_ok")
# Optional columns travel as '' / 0 / -1 and become NULL in SQL: binding None is several times slower
# than binding a string in Python's sqlite3 (it goes through the adapter protocol).
_VALUE_SQL = {"scores": "NULLIF(?, '')", "problems": "NULLIF(?, '')", "case_no": "NULLIF(?, '')",
              "comment": "NULLIF(?, '')", "contact_id": "NULLIF(?, 0)", "staff_code": "NULLIF(?, '')",
              "qr_token": "NULLIF(?, '')", "token_ok": "NULLIF(?, -1)"}
GROUP_ROWS = 1000  # rows per multi-row INSERT (fewer if SQLite allows fewer parameters)
AGG_FLUSH_KEYS = 20_000  # daily-aggregate keys held in memory before they are upserted
CASE_FLUSH = 500
AGG_TRANSACTION_ROWS = 10_000  # aggregate rows a staged batch upserts per short transaction
STAGE_ROWS = 10_000  # rows a staged batch validates outside the write lock, then writes in one short transaction
STAGE_PAUSE_SECONDS = 0.15  # the lock left free before a staged batch's last transaction
STAGE_CHECKPOINT_PAGES = 16_384  # a staged batch checkpoints the WAL when it passes this many pages (64 MB)
FLAG_SCAN_DAYS = 7  # days of ratings the suspicious-rating scan reads at once  # bad reviews handed to the closed loop at once
CACHE_LIMIT = 200_000  # phones remembered per import; beyond, the caches start again (memory stays flat)
FIRST_REJECTS = 10
# The phases of a file's import, in order, as ``progress(phase, done, total)`` reports them: "read" in bytes
# of the file (the rows are validated and written as they are read); "cases", the bad reviews handed to
# the closed loop of those in the batch (most are handed while reading: the rest after the last byte);
# "flags", the batch's days scanned for suspicious ratings (not in a dry run); "write", the batch's
# commit, which cannot count (total None). A phase with nothing to do is not reported.
PHASES = ("read", "cases", "flags", "write")
Progress = Callable[[str, int, "int | None"], None]
# Without a declared scale, a file is coded (and stops) when its first CODED_LEVELS levels that are a name or a
# code 1–5 are all codes (or all of them are, in a shorter file); one name among them makes it a file of names,
# where a code rejects its row. Empty and unreadable levels (0, N/A) do not count.
CODED_LEVELS = 100
RAW_LIMIT = 1 << 20  # characters of a rejected line kept when it cannot be split into cells
T = (0.0, 0.0, 25.0, 50.0, 75.0, 100.0)  # t(s) = (s - 1) / 4 * 100, indexed by s
_CASE_NO, _ROUND = RATING_COLUMNS.index("case_no"), RATING_COLUMNS.index("rating_round")
_ROUND_NAMES = {1: "a first rating", 2: "a follow-up rating (追评)"}
# The rejects round trip (docs/import.md): the columns a rejects file adds to the batch's own.
REASON_COLUMN, REF_COLUMN = "reject_reason", "reject_ref"
_REF = re.compile(r"^B(\d{1,18})-L(\d{1,18})-([0-9a-f]{16})$", re.IGNORECASE)

# Reason codes of rejected rows, with what they mean (docs/import.md lists the same).
REASONS = {
    "row_malformed": "the line cannot be split into cells (a quote is not closed or not doubled)",
    "cells_count": "the row has more or fewer cells than the header (truncated or misaligned)",
    "json_invalid": "the line or element is not a JSON object",
    "column_conflict": "two keys of a JSON object give the same field",
    "id_missing": "no rating id (评价编号)",
    "excel_number": "an id, case number or phone that a spreadsheet turned into a number like 3.70E+21",
    "duplicate_in_file": "the rating id appears earlier in the same file",
    "case_rated_twice": "the service case (办件编号) already has a rating of this round from the source, stored or"
                        " earlier in the file: one first rating and one 追评 per 办件 (一事一评)",
    "time_missing": "no rating time (评价时间)",
    "time_invalid": "the time is not a date and time haocha reads, has no time of day, is before 2000-01-01,"
                    " has an offset beyond ±14:00 or falls outside the years 1–9999",
    "time_excel_serial": "a spreadsheet date serial number (45418.39) in a CSV file",
    "time_future": "the time is later than now",
    "channel_missing": "no channel (评价渠道)",
    "channel_unknown": "the channel is neither a national channel nor a label of the profile",
    "channel_mode": "the channel is online-only or offline-only and the window is of the other kind",
    "window_missing": "no window (窗口编码), and none can be derived",
    "window_unknown": "the window code is not in the catalogue (a window of another city?)",
    "window_inactive": "the window was deactivated before the rating's time",
    "item_unknown": "the service item (事项) is neither a code nor a name of the catalogue",
    "item_mismatch": "the item name (事项名称) is not the catalogue's name of the item code (事项编码)",
    "window_mismatch": "the window name (窗口名称) is not the catalogue's name of the window code (窗口编码)",
    "county_mismatch": "the county (区县局, 行政区划代码) or city (所属市) given is not the window's",
    "level_missing": "no level (评价等级)",
    "level_invalid": "the level is not a level name, nor a code of the declared scale",
    "score_invalid": "an indicator score is not a whole number 1–5",
    "score_scope": "an indicator score for an indicator outside the window's mode (online/offline)",
    "problem_unknown": "a problem tag (差评问题) that is not an indicator code or name",
    "indicator_version": "a score or problem tag for an indicator of another indicator-system version than the"
                         " one in force on the rating's day",
    "phone_invalid": "the phone number is not a plausible mobile or landline number",
    "anonymous_invalid": "是否匿名 is not yes/no",
    "round_invalid": "评价次数 is not 1 (first rating) or 2 (追评)",
}

# The window of rating times: from 2000-01-01 (no 好差评 system rated earlier: a year 0001 or 1899 is a broken cell)
# to now (time_future); an offset is a real time zone's, at most 14 hours from UTC.
EARLIEST = datetime(2000, 1, 1)
EARLIEST_TEXT = EARLIEST.isoformat(sep=" ")
MAX_UTC_OFFSET = timedelta(hours=14)

_SCI = re.compile(r"^[+-]?\d+(?:\.\d+)?[eE][+-]?\d+$")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_DATE_TIME = re.compile(
    r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]+(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$")
_CHINESE = re.compile(
    r"^(\d{4})年(\d{1,2})月(\d{1,2})日\s*(?:(\d{1,2})[:时](\d{1,2})(?:[:分](\d{1,2})秒?)?分?)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?$")
_PHONE_MASK = re.compile(r"^(?:\d{3,4}\*{4}\d{2,4}|\*{4})$")  # what _mask_any leaves of a phone cell
_SPLIT_TAGS = re.compile(r"[,，、;；|/\s]+")
_ANONYMOUS = {"": None, "1": 1, "是": 1, "y": 1, "yes": 1, "true": 1, "匿名": 1, "0": 0, "否": 0, "n": 0,
              "no": 0, "false": 0, "实名": 0}
_ROUNDS = {"": 1, "1": 1, "2": 2, "1.0": 1, "2.0": 2, "首次": 1, "首评": 1, "初评": 1, "追评": 2}
_LEVEL_NAMES = {**{name: i + 1 for i, name in enumerate(LEVELS)},
                "very dissatisfied": 1, "dissatisfied": 2, "basically satisfied": 3, "satisfied": 4,
                "very satisfied": 5, "very_dissatisfied": 1, "basically_satisfied": 3, "very_satisfied": 5}
_LINE_WORD = {"csv": "line", "jsonl": "line", "json": "element", "xlsx": "row", "form": "record"}
_UNSEEN = object()  # a name cell not resolved yet (None in the memos means a blank cell)
# 李沧区局, 李沧区烟草专卖局, 李沧分局: a county's bureau stands for the county (longest first)
_AGENCY_SUFFIXES = ("烟草专卖分局", "烟草专卖局", "烟草分局", "烟草局", "分局", "局")


class _Reject(Exception):  # noqa: N818 - a control-flow signal, not an error
    __slots__ = ("code", "reason")

    def __init__(self, code: str, reason: str):
        self.code = code
        self.reason = reason


class _LevelCode(Exception):  # noqa: N818 - a control-flow signal, not an error
    """A level code 1–5, no scale declared, and the file not yet known to be of names: the row is held."""

    __slots__ = ("value",)

    def __init__(self, value: str):
        self.value = value


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


class _Tally:
    """Rejected rows counted by one side (the reader's validation, the writer's duplicate check)."""

    def __init__(self) -> None:
        self.rejected = 0
        self.reasons: dict[str, int] = {}
        self.first: list[dict[str, Any]] = []

    def count(self, line: int, code: str, reason: str) -> None:
        self.rejected += 1
        self.reasons[code] = self.reasons.get(code, 0) + 1
        if len(self.first) < FIRST_REJECTS:
            self.first.append({"line": line, "code": code, "reason": reason})


class _Job:
    """One batch: a producer reads and validates rows into groups, the consumer writes each group.

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

    # -- catalogue lookups, built once --

    def _load_catalogue(self) -> None:
        db = self.db
        self.windows: dict[str, tuple] = {}
        self.online_window: dict[str, tuple | None] = {}
        for code, county, kind, active, deactivated in db.execute(
                "SELECT code, county_code, kind, active, deactivated_at FROM windows"):
            entry = (code, county, kind, active, deactivated)
            self.windows[code] = entry
            self.windows.setdefault(code.upper(), entry)
            if kind == "online" and active:
                # A county with two online channels has no single one to derive a rating's window from.
                self.online_window[county] = None if county in self.online_window else entry
        self.counties = {r[0] for r in db.execute("SELECT code FROM counties")}
        self.items: dict[str, str] = {}
        for code, name, impl in db.execute("SELECT code, name, impl_code FROM items"):
            self.items[code] = code
            self.items.setdefault(name, code)
            self.items.setdefault(code.upper(), code)
            if impl:  # the national implementation code (实施编码) is the item too
                self.items.setdefault(impl, code)
                self.items.setdefault(impl.upper(), code)
        self.channels = dict(self.profile.channels)
        self.day_info: dict[str, tuple] = {}
        self.version_modes: dict[str, dict[str, tuple]] = {}
        self.levels = dict(_LEVEL_NAMES)
        self.score_values = {str(s): s for s in range(1, 6)} | {f"{s}.0": s for s in range(1, 6)} | \
            {name: i + 1 for i, name in enumerate(LEVELS)}
        self._load_indicators()
        self.bad_levels = self.ctx.config.bad_levels
        self.token_cache: dict[tuple[str, str], int] = {}
        self.phone_cache: dict[str, tuple[str, str]] = {}
        self.contact_cache: dict[str, int] = {}
        self._load_names()

    def _load_indicators(self) -> None:
        """Every indicator any version defines (a code has one meaning across versions), each version's
        scopes, and the profile's own indicator columns resolved against them."""
        known = registry(self.db)
        self.ind_order = [r["code"] for r in known]
        self.ind_name = {r["code"]: r["name"] for r in known}
        self.indicator_alias = indicator_aliases(known)
        self.version_scope: dict[str, dict[str, str]] = {}
        for version, code, scope in self.db.execute("SELECT version, code, scope FROM indicator_defs"):
            self.version_scope.setdefault(version, {})[code] = scope
        self.ind_versions = {code: sorted(v for v, s in self.version_scope.items() if code in s) for code in self.ind_order}
        self.ind_columns = dict(self.indicator_alias)
        for key, ref in self.profile.indicator_columns.items():
            code = self.indicator_alias.get(normalize_header(ref))
            if code is None:
                raise InvalidInput(f"profile {self.profile.name}: column {key!r} maps to unknown field or indicator"
                                   f" {ref!r}", f"fields are {', '.join(FIELDS)}; indicators are those of"
                                   " `haocha indicators show`")
            self.ind_columns[key] = code
        for key in self.profile.columns:
            self.ind_columns.pop(key, None)  # the profile's own mapping of a header wins

    def _target(self, name: str) -> str | None:
        """The field or indicator code a header (or JSON key) gives; None for one ignored or unknown."""
        key = normalize_header(name)
        if key in self.profile.columns:
            return self.profile.columns[key] or None
        return self.ind_columns.get(key)

    def _load_names(self) -> None:
        """What the name columns (事项名称, 窗口名称, 区县局, 所属市) are checked against: dicts by normalised
        name, built once; each distinct cell of a file is then resolved once (the named_* memos)."""
        db = self.db
        self.item_names: dict[str, str] = dict(db.execute("SELECT code, name FROM items"))
        self.item_by_key = {normalize_label(name): code for code, name in self.item_names.items()}
        self.item_by_key.update({normalize_label(code): code for code in self.item_names})
        self.window_names: dict[str, str] = dict(db.execute("SELECT code, name FROM windows"))
        self.windows_by_key: dict[str, set[str]] = {}
        for code, name in self.window_names.items():
            for key in (normalize_label(name), normalize_label(code)):
                self.windows_by_key.setdefault(key, set()).add(code)
        self.county_names: dict[str, str] = dict(db.execute("SELECT code, name FROM counties"))
        self.county_by_key = {normalize_label(name): code for code, name in self.county_names.items()}
        self.county_by_key.update({code: code for code in self.county_names})
        # A short name (李沧 for 李沧区, 胶州 for 胶州市) matches when no other county has it.
        shorts: dict[str, list[str]] = {}
        for code, name in self.county_names.items():
            key = normalize_label(name)
            if len(key) > 2 and key[-1] in "区县市旗":
                shorts.setdefault(key[:-1], []).append(code)
        for short, codes in shorts.items():
            if len(codes) == 1:
                self.county_by_key.setdefault(short, codes[0])
        city_code = get_meta(db, "city_code") or str(self.ctx.config["city_code"])
        self.city_name = get_meta(db, "city_name") or str(self.ctx.config["city_name"])
        city_key = normalize_label(self.city_name)
        short_city = [city_key[:-1]] if len(city_key) > 2 and city_key[-1] == "市" else []
        # 青岛市烟草专卖局李沧分局, 青岛市李沧区, 青岛李沧: the city (or its bureau) before a county's name
        self.city_prefixes = [f"{city_key}烟草专卖局", f"{city_key}烟草局", city_key, *short_city]
        self.city_keys = {city_code, city_key, *short_city}
        self.named_items: dict[str, str | None] = {}
        self.named_windows: dict[str, frozenset[str] | None] = {}
        self.named_counties: dict[str, str | None] = {}
        self.named_cities: dict[str, bool | None] = {}

    def _day(self, day: str) -> tuple:
        """(version, {mode: (W, weights, plain index per level)}) of the indicator version in force."""
        version = version_on(self.db, day)
        modes = self.version_modes.get(version)
        if modes is None:
            modes = {}
            for mode, ws in weights(self.db, version).items():
                total = math.fsum(ws.values())
                # Weights are normalised to 1; the float residue is noise, not a weight.
                if abs(total - 1.0) < 1e-9:
                    total = 1.0
                modes[mode] = (total, ws, tuple(total * T[s] for s in range(6)))
            self.version_modes[version] = modes
        info = (version, modes)
        self.day_info[day] = info
        return info

    # -- columns --

    def _map_header(self, header: list[str]) -> None:
        fields: dict[str, int] = {}
        sources: dict[str, str] = {}
        ignored = []
        for i, name in enumerate(header):
            target = self._target(name) if name else None
            if target is None:
                if name:
                    ignored.append(name)
                continue
            if target in fields:
                label = _field_label(target)
                raise InvalidInput(f"{self.file_name}: columns {sources[target]!r} and {name!r} both give {label}",
                                   'remove one of them, or in a profile map the other to "" to ignore it')
            fields[target] = i
            sources[target] = name
        if "item_name" in fields and "item_code" not in fields:
            fields["item_code"] = fields.pop("item_name")  # names only: the name column is the item column
        self.ignored = ignored
        self._check_required(fields, header)
        self.header = header
        self.width = len(header)
        self._build_getters(fields)

    def _check_required(self, fields: dict[str, int], header: list[str]) -> None:
        prof = self.profile
        required = ["rated_at", "level"]
        if not prof.rating_id_from or "rating_id" in fields:
            required.insert(0, "rating_id")
        else:
            required[:0] = [f for f in prof.rating_id_from if f not in prof.defaults]
        if "window_code" not in fields and not (prof.window_from_county and "county_code" in fields):
            required.append("window_code")
        if "channel" not in prof.defaults:
            required.append("channel")
        missing = [f for f in dict.fromkeys(required) if f not in fields and f not in prof.defaults]
        if missing:
            found = ", ".join(h for h in header if h) or "(none)"
            hint = f"columns found: {found}"
            lowered = {normalize_header(h) for h in header}
            if prof.name != "platform" and {"satisfaction", "assesstime"} & lowered:
                hint += "; these look like the provincial platform's fields: try --profile platform"
            raise InvalidInput(f"{self.file_name}: missing required column(s) "
                               f"{', '.join(_field_label(f) for f in missing)}", hint)

    def _build_getters(self, fields: dict[str, int]) -> None:
        """Row cells -> the canonical values in a fixed order, by one itemgetter call: absent fields read
        from a tail of defaults appended to the row."""
        order = list(FIELDS)
        tail: list[str] = []
        positions = []
        for name in order:
            if name in fields:
                positions.append(fields[name])
            else:
                positions.append(self.width + len(tail))
                tail.append(self.profile.defaults.get(name, ""))
        self.tail = tail
        self.getter = itemgetter(*positions)
        self.field_pos = {name: positions[i] for i, name in enumerate(order)}
        self.ind_codes = [c for c in self.ind_order if c in fields]
        self.ind_getter = itemgetter(*[fields[c] for c in self.ind_codes]) if self.ind_codes else None
        if len(self.ind_codes) == 1:
            getter = self.ind_getter
            self.ind_getter = lambda cells: (getter(cells),)
        self.phone_pos = fields.get("rater_phone")
        # Without an id column (or, in JSON, an id value) the profile may build the id from other fields.
        self.rid_from = None
        if self.profile.rating_id_from and ("rating_id" not in fields or not self.header):
            self.rid_from = list(self.profile.rating_id_from)

    def _json_setup(self) -> None:
        """JSON objects are turned into cells in the order of a fixed virtual header."""
        self.json_header = list(FIELDS) + self.ind_order
        self.json_index = {name: i for i, name in enumerate(self.json_header)}
        self.key_cache: dict[str, int | None] = {}
        self.ignored_keys: dict[str, None] = {}
        self.json_defaults = [self.profile.defaults.get(name, "") for name in self.json_header]
        self.header = []
        self.width = len(self.json_header)
        self._build_getters({name: i for i, name in enumerate(self.json_header)})

    def _cells_of(self, obj: dict[str, Any]) -> list[str]:
        cells = list(self.json_defaults)
        taken: dict[int, str] = {}
        for key, value in obj.items():
            index = self.key_cache.get(key, -1)
            if index == -1:
                target = self._target(key)
                index = self.json_index.get(target) if target else None
                self.key_cache[key] = index
                if index is None:
                    self.ignored_keys.setdefault(key)
            if index is None:
                continue
            text = cell_text(value)
            if index in taken:
                if text.strip() and cells[index].strip() and text.strip() != cells[index].strip():
                    raise _Reject("column_conflict", f"keys {taken[index]!r} and {key!r} both give "
                                                     f"{_field_label(self.json_header[index])}, differently")
                if cells[index].strip():
                    continue
            cells[index] = text
            taken[index] = key
        return cells

    # -- the run --

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
                # index pages into the database again and again; a checkpoint every STAGE_CHECKPOINT_PAGES.
                pages = conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
                conn.execute(f"PRAGMA wal_autocheckpoint = {STAGE_CHECKPOINT_PAGES}")
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

    @contextmanager
    def _short(self) -> Iterator[None]:
        """One short write transaction of a staged batch; nothing (the batch's transaction holds) otherwise."""
        conn = self.conn
        if not self.staged or conn.in_transaction:
            yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

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
        self.group_rows = max(1, min(GROUP_ROWS, (self.variable_limit - 1) // len(RATING_COLUMNS)))
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
        if self.staged and self.read > STAGE_ROWS:
            # The lock left free a moment first: a write waiting through the last aggregates' transactions gets
            # in (SQLite's busy handler tries again every 100 ms) before the longest transaction, the last. (A
            # file of one short transaction has kept nobody waiting long.)
            time.sleep(STAGE_PAUSE_SECONDS)
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

    def _publish(self) -> None:
        """A staged batch's last transaction (joined): the batch made visible, then what was held back for it
        written — its cases (planned while reading), the 追评's links to their cases, its flags."""
        from haocha_cli.cases import open_cases, rerate_by_followups, write_cases
        from haocha_cli.flags import store_held

        started = time.perf_counter()
        self.conn.execute("DELETE FROM pending_imports WHERE batch_id = ?", [self.batch_id])
        held = self.held
        self.cases_opened = 0
        for chunk in held.chunks("case"):
            self.cases_opened += self._foreign(write_cases, self.ctx,
                                               [(tuple(values), audit.Canonical(event)) for values, event in chunk])
        bad = self.ctx.config.bad_levels
        for followups in held.chunks("followup"):
            linked, rerated = self._foreign(rerate_by_followups, self.ctx, self.source, followups)
            self.cases_rerated += rerated
            rest = [r for r in followups if int(r["level"]) in bad and r["id"] not in linked]
            if rest:
                self.cases_opened += self._foreign(open_cases, self.ctx, rest) or 0
        self.seconds["cases"] += time.perf_counter() - started
        started = time.perf_counter()
        self.flags_raised = 0
        for block, (rules, summary) in enumerate(self.flag_summaries):
            self.flags_raised += self._foreign(store_held, self.ctx, "temp.haocha_held_flags", block, rules,
                                               summary)["new_total"]
        held.clear()
        self.seconds["flags"] += time.perf_counter() - started

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

    # -- rejects --

    def _reject_row(self, tally: _Tally, line: int, cells: list[str] | None, raw: str | None, code: str,
                    reason: str, obj: dict[str, Any] | None = None) -> tuple:
        """Count a rejected row and return it as stored: phone masked in the row, encrypted beside it.

        A phone number written in another cell (a comment, a misaligned row) is masked too; the cells masked
        are kept as they were, encrypted (cells_enc), for the rejects round trip. A line that could not be
        split is stored masked and kept whole, encrypted, for `--reveal-phones` and the round trip."""
        reason = mask_numbers(reason)  # a reason may quote the cell
        tally.count(line, code, reason)
        phone_enc = cells_enc = None
        originals: dict[str, Any] = {}
        if cells is not None and self.header:
            cells = list(cells[: self.width])
            if self.phone_pos is not None and self.phone_pos < len(cells) and cells[self.phone_pos].strip():
                phone_enc = self._encrypt(cells[self.phone_pos])
                originals[str(self.phone_pos)] = cells[self.phone_pos]
                cells[self.phone_pos] = _mask_any(cells[self.phone_pos])
            shown = []
            for i, cell in enumerate(cells):
                masked = mask_numbers(cell)
                if masked != cell:
                    originals[str(i)] = cell
                shown.append(masked)
            text = json.dumps(shown, ensure_ascii=False)
        elif obj is not None:
            obj = dict(obj)
            for key, value in obj.items():
                value_text = cell_text(value)
                if self.profile.field_for(key) == "rater_phone" and value_text.strip():
                    phone_enc = self._encrypt(value_text)
                    originals[key] = value
                    obj[key] = _mask_any(value_text)
                elif mask_numbers(value_text) != value_text:
                    originals[key] = value
                    obj[key] = mask_numbers(value_text)
            text = json.dumps(obj, ensure_ascii=False, default=str)
        else:
            raw = raw if raw is not None else ""
            if len(raw) > RAW_LIMIT:  # a "line" of a binary file: SQLite stores at most 1 GB in one value
                raw = raw[:RAW_LIMIT] + f"… ({len(raw) - RAW_LIMIT} more characters not kept)"
            masked = mask_numbers(raw)
            if masked != raw:
                phone_enc = self.ctx.vault._fernet.encrypt(raw.encode("utf-8")).decode("ascii")
            text = json.dumps(masked, ensure_ascii=False)
        if originals:
            cells_enc = self.ctx.vault._fernet.encrypt(
                json.dumps(originals, ensure_ascii=False, default=str).encode("utf-8")).decode("ascii")
        return (self.batch_id, line, text, code, reason, phone_enc, cells_enc)

    def _encrypt(self, text: str) -> str:
        return self.ctx.vault._fernet.encrypt(text.strip().encode("utf-8")).decode("ascii")

    # -- the rejects round trip --

    def _restore_rows(self, rows: Iterator) -> Iterator:
        """The rows of a fixed rejects file with their masked cells given back (docs/import.md, "Rejected rows").

        A row whose reject_ref names a reject of this database (its check verifies) takes, in every cell that
        comes back as the rejects file wrote it, the cell as it was: the phone, a comment with a phone in it,
        a cell the file wrote with a leading apostrophe or with visible escapes. A cell that was changed is
        taken as typed. A reference gives back one row per file; one that names no reject here (typed,
        changed, another database's) does nothing. A file without the column is not touched."""
        if self.header:
            found = [i for i, h in enumerate(self.header) if normalize_header(h) == REF_COLUMN]
            if not found:
                return rows
            return self._restoring(rows, found[-1])
        return self._restoring(rows, None)

    def _restoring(self, rows: Iterator, ref_pos: int | None) -> Iterator:
        positions: dict[str, int] = {}
        for i, name in enumerate(self.header or []):
            positions.setdefault(name, i)
            positions.setdefault(normalize_header(name), i)
        used: set[tuple[int, int]] = set()
        for item in rows:
            line, cells, obj, raw, error = item
            if cells is not None:
                ref = cells[ref_pos] if ref_pos is not None and ref_pos < len(cells) else ""
            else:
                ref = obj.get(REF_COLUMN) if obj is not None else None
            if isinstance(ref, str) and ref.strip():
                named, fixes = self._reject_fixes(ref.strip(), used)
                if fixes is not None:
                    if cells is not None:
                        cells, given = _restore_cells(list(cells), positions, ref_pos, fixes)
                    else:
                        obj, given = _restore_object(obj, fixes)
                    if given:  # a reference that fits no cell of the row (another row's) is not used up by it
                        used.add(named)
                        self.restored += 1
                        item = (line, cells, obj, raw, error)
            yield item

    def _reject_fixes(self, ref: str, used: set[tuple[int, int]]) -> tuple[tuple[int, int] | None, tuple | None]:
        """(batch, line) of the reject named by ``ref`` and what it gives back; None when it names none of this
        database's rejects, or one that gave its cells to an earlier row of the file."""
        match = _REF.match(ref)
        if match is None:
            return None, None
        named = (int(match.group(1)), int(match.group(2)))
        if named in used:
            return None, None
        row = self.conn.execute("SELECT r.raw, r.phone_enc, r.cells_enc, b.header, b.profile FROM rejects r"
                                " JOIN batches b ON b.id = r.batch_id WHERE r.batch_id = ? AND r.line = ?",
                                list(named)).fetchone()
        if row is None:
            return None, None
        raw, phone_enc, cells_enc, header, profile = row
        if not hmac.compare_digest(reject_ref(self._ref_key(), *named, raw).lower(), ref.lower()):
            return None, None
        return named, _fixes_of(self.ctx, json.loads(raw), phone_enc, cells_enc, json.loads(header), profile)

    def _ref_key(self) -> bytes:
        key = getattr(self, "ref_key", None)
        if key is None:
            key = self.ref_key = _ref_key(self.ctx.keys.data_key)
        return key

    # -- the producer: read and validate --

    def _produce(self, rows: Iterator) -> Iterator[tuple]:
        """Groups of validated rows: (rows, their cells or objects, their scores, rows whose phone still needs
        a contact id, rejected rows, rows read so far)."""
        return self._validate(rows)

    def _validate(self, rows: Iterator) -> Iterator[tuple]:
        # Locals: this loop runs once per row of a million-row file.
        getter, tail, width, ind_getter = self.getter, self.tail, self.width, self.ind_getter
        is_json = not self.header
        windows, channels, items, levels = self.windows, self.channels, self.items, self.levels
        named_items, named_windows, named_cities = self.named_items, self.named_windows, self.named_cities
        day_info, day_of = self.day_info, self._day
        now_s = self.now_text
        earliest = EARLIEST_TEXT
        fromiso = datetime.fromisoformat
        rounds, anonymous_map = _ROUNDS, _ANONYMOUS
        phone_cache, contact_cache = self.phone_cache, self.contact_cache
        rid_from = self.rid_from
        tally = self.reader_tally
        reject = self._reject_row
        xlsx = self.fmt == "xlsx"
        next_id = self.next_id
        group_rows = self.group_rows
        group: list[list] = []
        group_src: list = []  # cells (or the JSON object) of each grouped row, for a late reject
        group_scores: list = []
        pending: list[list] = []
        rejects: list[tuple] = []
        # No scale declared: rows with a level code wait here until the file shows names or codes (CODED_LEVELS).
        undecided = self.scale is None
        held: list[tuple] = []
        read = 0
        for line, cells, obj, raw, error in rows:
            read += 1
            if cells is None:
                if error is not None:
                    rejects.append(reject(tally, line, None, raw, "row_malformed" if self.fmt == "csv" else "json_invalid",
                                          error))
                    continue
                try:
                    cells = self._cells_of(obj)
                except _Reject as exc:
                    rejects.append(reject(tally, line, None, raw, exc.code, exc.reason, obj))
                    continue
            elif len(cells) != width:
                if len(cells) > width and not any(c.strip() for c in cells[width:]):
                    del cells[width:]  # trailing empty cells (a spreadsheet's ragged right edge)
                elif xlsx and len(cells) < width:
                    cells.extend([""] * (width - len(cells)))
                else:
                    rejects.append(reject(tally, line, cells, None, "cells_count",
                                          f"the row has {len(cells)} cells, the header has {width} "
                                          "(truncated or misaligned)"))
                    continue
            if tail:
                cells.extend(tail)  # absent fields: their defaults (a reject keeps cells[:width])
            try:
                (rid, when, wcode, chan, item, lvl, case_no, rnd, comment, phone, anon, staff, token, problems,
                 scores_text, county, iname, wname, cname, city) = getter(cells)
                # rating id
                if rid_from is None or rid.strip():
                    rid = rid.strip()
                    if not rid:
                        raise _Reject("id_missing", "the rating id (评价编号) is empty")
                    if ("E+" in rid or "e+" in rid) and _SCI.match(rid):
                        raise _excel_number("rating id", rid)
                # time
                if len(when) == 19 and when[10] == " " and when[4] == "-" and when[13] == ":" and when[16] == ":":
                    try:
                        fromiso(when)
                    except ValueError:
                        when = parse_time(when, self.excel_epoch)
                    else:
                        if when < earliest:
                            _in_window(fromiso(when), when)
                else:
                    when = parse_time(when, self.excel_epoch)
                if when > now_s:
                    raise _Reject("time_future", f"the time {when} is later than now ({now_s})")
                day = when[:10]
                # channel
                ch = channels.get(chan)
                if ch is None:
                    ch = self._channel(chan)
                channel, cmode = ch
                # window
                win = windows.get(wcode)
                if win is None:
                    win = self._window(wcode, county, channel, cmode)
                wcode, wcounty, kind, active, deactivated = win
                # what the file says beside the window code: its name, county and city (one lookup each)
                if wname:
                    named = named_windows.get(wname, _UNSEEN)
                    if named is _UNSEEN:
                        named = self._named_window(wname)
                    if named is not None and wcode not in named:
                        raise _Reject("window_mismatch", f"窗口编码 {wcode} is {self.window_names[wcode]}, "
                                                         f"not {wname.strip()}")
                if county or cname:
                    self._check_county(wcode, wcounty, county, cname)
                if city:
                    named = named_cities.get(city, _UNSEEN)
                    if named is _UNSEEN:
                        named = self._named_city(city)
                    if named is False:
                        raise _Reject("county_mismatch", f"窗口编码 {wcode} is in {self.city_name}, "
                                                         f"not {city.strip()}")
                if not active and (deactivated is None or when >= deactivated):
                    raise _Reject("window_inactive", f"window {wcode} was deactivated "
                                  + (f"on {deactivated}, before this rating" if deactivated else
                                     "(no deactivation time is recorded)"))
                if cmode is not None and cmode != kind:
                    raise _Reject("channel_mode", f"channel {chan.strip()} is {cmode} but window {wcode} is {kind}")
                # item
                if item:
                    code = items.get(item)
                    if code is None:
                        code = items.get(item.strip())
                        if code is None:
                            if item.strip():
                                raise _Reject("item_unknown", f"service item {item.strip()!r} is not in the catalogue")
                            code = ""
                else:
                    code = ""
                if iname:  # the item name beside the code: the code is the item, the name must agree
                    named = named_items.get(iname, _UNSEEN)
                    if named is _UNSEEN:
                        named = self._named_item(iname)
                    if named is not None:
                        if not code:
                            if not named:
                                raise _Reject("item_unknown", f"service item {iname.strip()!r} is not in the catalogue")
                            code = named
                        elif named != code:
                            raise _Reject("item_mismatch", f"事项编码 {code} is {self.item_names[code]}, "
                                                           f"not {iname.strip()}")
                # level
                level = levels.get(lvl)
                by_code = False
                if level is None:
                    level, by_code = self._level(lvl, line)
                if undecided:  # a level name: the file is of names, and the codes held are its rows' problems
                    undecided, self.levels_named = False, True
                    for held_line, held_cells, held_obj, value in held:
                        rejects.append(reject(tally, held_line, held_cells, None, "level_invalid",
                                              _stray_code_reason(value), held_obj))
                    held = []
                # optional fields
                if case_no:
                    case_no = case_no.strip()
                    if ("E+" in case_no or "e+" in case_no) and _SCI.match(case_no):
                        raise _excel_number("case number (办件编号)", case_no)
                rnd_value = rounds.get(rnd)
                if rnd_value is None:
                    rnd_value = rounds.get(rnd.strip())
                    if rnd_value is None:
                        raise _Reject("round_invalid", f"评价次数 {rnd.strip()!r} is not 1 (first) or 2 (追评)")
                if not rid:
                    rid = self._compose_id(cells, case_no, rnd_value)
                info = day_info.get(day)
                if info is None:
                    info = day_of(day)
                total, wts, plain = info[1][kind]
                ivals = ind_getter(cells) if ind_getter is not None else ()
                if scores_text or any(ivals):
                    scores = self._scores(ivals, scores_text, kind, info[0], day)
                else:
                    scores = None
                if scores:
                    t_level = T[level]
                    index = total * t_level + sum(wts[c] * (T[s] - t_level) for c, s in scores.items())
                    scores_json = "{" + ",".join([f'"{c}":{s}' for c, s in scores.items()]) + "}"
                else:
                    index = plain[level]
                    scores_json = ""
                problems_json = self._problems(problems, info[0], day) if problems else ""
                contact: int | tuple = 0
                if phone:
                    entry = phone_cache.get(phone)
                    if entry is None:
                        entry = self._phone(phone)
                    contact = contact_cache.get(entry[0]) or entry  # (hash, phone): resolved in bulk
                anonymous = anonymous_map.get(anon)
                if anonymous is None:
                    if anon.strip():
                        anonymous = anonymous_map.get(anon.strip().lower())
                        if anonymous is None:
                            raise _Reject("anonymous_invalid", f"是否匿名 {anon.strip()!r} is not 是/否 (yes/no)")
                    else:
                        anonymous = 0 if phone else 1
                if staff:
                    staff = staff.strip()
                token_ok = -1
                if token:
                    token = token.strip()
                    if token:
                        token_ok = self.token_cache.get((wcode, token))
                        if token_ok is None:
                            token_ok = self._verify_token(wcode, token)
                        if token_ok == 2:  # the previous QR secret's: judged by the rating's time (qr.token_at)
                            token_ok = self._old_token_at(when)
                        if not token_ok:
                            self.tokens_failed += 1
            except _Reject as exc:
                rejects.append(reject(tally, line, None if is_json else cells, None, exc.code, exc.reason,
                                      obj if is_json else None))
                continue
            except _LevelCode as exc:
                held.append((line, None if is_json else cells, obj if is_json else None, exc.value))
                if len(held) >= CODED_LEVELS:
                    raise self._coded_file(held) from None
                continue
            row = [next_id, rid, line, when, day, wcode, wcounty, kind, channel, code, level, index, info[0],
                   scores_json, problems_json, case_no, rnd_value, comment, contact, anonymous, staff, token,
                   token_ok]
            next_id += 1
            if by_code:
                self.levels_by_code += 1
            group.append(row)
            group_src.append(obj if is_json else cells)
            group_scores.append(scores)
            if contact.__class__ is tuple:
                pending.append(row)
            if len(group) >= group_rows:
                self.read = read
                yield (group, group_src, group_scores, pending, rejects, read)
                group, group_src, group_scores, pending, rejects = [], [], [], [], []
            elif len(rejects) >= group_rows:
                yield ([], [], [], [], rejects, read)
                rejects = []
        if held:  # every level read was a code
            raise self._coded_file(held)
        self.read = read
        if group or rejects:
            yield (group, group_src, group_scores, pending, rejects, read)

    # -- per-row helpers off the fast path --

    def _channel(self, text: str) -> tuple[str, str | None]:
        key = normalize_label(text)
        found = self.channels.get(key)
        if found is None:
            if not key:
                raise _Reject("channel_missing", "the channel (评价渠道) is empty")
            raise _Reject("channel_unknown", f"channel {text.strip()!r} is neither a national channel nor a "
                                             f"label of profile {self.profile.name}")
        self.channels[text] = found
        return found

    def _window(self, text: str, county: str, channel: str, cmode: str | None) -> tuple:
        code = text.strip()
        if code:
            found = self.windows.get(code) or self.windows.get(code.upper())
            if found is None:
                raise _Reject("window_unknown", f"window {code} is not in the catalogue (a window of another city?)")
            return found
        if self.profile.window_from_county and county.strip():
            county_code = county.strip()
            if len(county_code) == 12 and county_code.endswith("000000"):
                county_code = county_code[:6]
            if county_code not in self.counties:
                raise _Reject("window_unknown", f"county {county_code} is not in the catalogue (another city?)")
            if cmode != "online":
                raise _Reject("window_missing", f"no window is given, and channel {channel} is not an online "
                                                f"channel whose window could be the county's online channel")
            found = self.online_window.get(county_code)
            if found is None:
                raise _Reject("window_missing", f"no window is given, and county {county_code} has not exactly one "
                                                "active online channel")
            return found
        raise _Reject("window_missing", "the window code (窗口编码) is empty")

    # Name cells, resolved once per distinct text (the memos are cleared past CACHE_LIMIT, as the phones are).
    # None: the cell is blank (nothing to check).

    def _named_item(self, text: str) -> str | None:
        """The item an item-name cell names: its code, or '' when no item has that name (or code)."""
        key = normalize_label(text)
        found = self.item_by_key.get(key, "") if key else None
        return _remember(self.named_items, text, found)

    def _named_window(self, text: str) -> frozenset[str] | None:
        """The windows a window-name cell names (names need not be unique), empty when none has it."""
        key = normalize_label(text)
        found = frozenset(self.windows_by_key.get(key, ())) if key else None
        return _remember(self.named_windows, text, found)

    def _named_county(self, text: str) -> str | None:
        """The county a county cell names: by code (a 9- or 12-digit division code by its first six digits),
        name, short name (李沧), with its bureau's suffix (李沧区局, 李沧区烟草专卖局) or the city before it
        (青岛市李沧区); '' when it names none."""
        found = self.named_counties.get(text, _UNSEEN)
        if found is not _UNSEEN:
            return found  # type: ignore[return-value]
        key = normalize_label(text)
        if not key:
            return _remember(self.named_counties, text, None)
        if key.isdigit() and len(key) in (9, 12):
            key = key[:6]
        found = ""
        for form in self._place_forms(key):
            found = self.county_by_key.get(form, "")
            if found:
                break
        return _remember(self.named_counties, text, found)

    def _named_city(self, text: str) -> bool | None:
        """Whether a city cell (所属市) names the catalogue's city: its code, name or short name (青岛)."""
        key = normalize_label(text)
        if not key:
            return _remember(self.named_cities, text, None)
        if key.isdigit() and len(key) in (9, 12):
            key = key[:6]
        return _remember(self.named_cities, text, any(form in self.city_keys for form in self._place_forms(key)))

    def _place_forms(self, key: str) -> list[str]:
        """A place cell as written, without its bureau's suffix (局, 烟草专卖局), and without the city before it."""
        forms = [key]
        for suffix in _AGENCY_SUFFIXES:
            if key.endswith(suffix) and len(key) > len(suffix):
                forms.append(key[: -len(suffix)])
                break
        for prefix in self.city_prefixes:
            forms += [f[len(prefix):] for f in forms if f.startswith(prefix) and len(f) > len(prefix)]
        return forms

    def _check_county(self, wcode: str, wcounty: str, county: str, cname: str) -> None:
        """The county code (行政区划代码) and county name (区县局) cells, when given, must be the window's county."""
        for text in (county, cname):
            if text:
                named = self._named_county(text)
                if named is not None and named != wcounty:
                    raise _Reject("county_mismatch", f"窗口编码 {wcode} is in {self.county_names.get(wcounty, wcounty)}"
                                                     f" ({wcounty}), not {text.strip()}")

    def _level(self, text: str, line: int) -> tuple[int, bool]:
        """(level, read by code). A code 1–5 is read by the declared scale. Without a scale, a code in a file
        of names rejects its row, and one met before the file is known to be of names raises _LevelCode (the
        row is held back until the file's first CODED_LEVELS levels tell; see _validate). Anything else that
        is neither a name nor a code 1–5 (0, 9, 4.5, N/A) rejects its row."""
        value = text.strip()
        if not value:
            raise _Reject("level_missing", "the level (评价等级) is empty")
        level = self.levels.get(value) or self.levels.get(value.lower())
        if level is not None:
            self.levels[text] = level
            return level, False
        if _NUMBER.match(value):
            number = float(value)
            if not (number.is_integer() and 1 <= number <= 5):
                if self.scale is not None:
                    raise _Reject("level_invalid", f"level code {value} is not 1–5 on the {self.scale} scale")
                raise _Reject("level_invalid", f"{value!r} is not a level ({' / '.join(reversed(LEVELS))}), "
                                               "nor a level code 1–5")
            if self.scale is None:
                if self.levels_named:
                    raise _Reject("level_invalid", _stray_code_reason(value))
                raise _LevelCode(value)
            return LEVEL_SCALES[self.scale][int(number)], True
        raise _Reject("level_invalid", f"{value!r} is not a level ({' / '.join(reversed(LEVELS))})")

    def _coded_file(self, held: list[tuple]) -> InvalidInput:
        """The error that stops a file whose levels are codes and no scale is declared."""
        line, value = held[0][0], held[0][3]
        return InvalidInput(
            f"{self.file_name}: {self.word} {line}: level {value!r} is a numeric code (the file's levels are codes, "
            "not names) and no level scale is declared; nothing was imported",
            "level codes run both ways: give --level-scale national (GB/T 39046: 1 = 非常满意) or "
            "--level-scale platform (5 = 非常满意), or a profile that declares it; names such as 非常满意 "
            "are always accepted")

    def _compose_id(self, cells: list[str], case_no: str, rnd: int) -> str:
        parts = []
        for name in self.rid_from or ["rating_id"]:
            if name == "case_no":
                value = case_no
            elif name == "rating_round":
                value = str(rnd)
            else:
                value = cells[self.field_pos[name]].strip()
            if not value:
                labels = " + ".join(_field_label(n) for n in self.rid_from or ["rating_id"])
                raise _Reject("id_missing", f"the rating id is built from {labels}, and {_field_label(name)} is empty")
            parts.append(value)
        return self.profile.rating_id_separator.join(parts)

    def _of_version(self, code: str, version: str, day: str) -> str:
        """The indicator's scope in the version; raises _Reject when the version has no such indicator."""
        scope = self.version_scope.get(version, {}).get(code)
        if scope is None:
            theirs = ", ".join(self.ind_versions.get(code) or ["no version"])
            raise _Reject("indicator_version", f"indicator {self.ind_name.get(code, code)} ({code}) is of {theirs}, not"
                                               f" of {version} in force on {day} (指标不属于当日适用的指标体系版本)")
        return scope

    def _scores(self, ivals: tuple, scores_text: str, kind: str, version: str, day: str) -> dict[str, int]:
        """The indicator scores given, {code: 1..5} in code order; raises _Reject."""
        given = [(c, v) for c, v in zip(self.ind_codes, ivals, strict=True) if v and not v.isspace()]
        if scores_text and not scores_text.isspace():
            try:
                extra = json.loads(scores_text)
            except ValueError:
                raise _Reject("score_invalid", f"指标评分 {scores_text.strip()[:60]!r} is not a JSON object") from None
            if not isinstance(extra, dict):
                raise _Reject("score_invalid", "指标评分 is not a JSON object {indicator: score}")
            for key, value in extra.items():
                code = self.indicator_alias.get(normalize_header(key))
                if code is None:
                    raise _Reject("score_invalid", f"指标评分 names {key!r}, not an indicator")
                given.append((code, cell_text(value)))
            given.sort()
        scores: dict[str, int] = {}
        values = self.score_values
        for code, value in given:
            score = values.get(value)
            if score is None:
                score = values.get(value.strip())
                if score is None:
                    raise _Reject("score_invalid", f"score of {self.ind_name[code]} ({code}) is {value.strip()!r}; "
                                                   "scores are whole numbers 1–5")
            scope = self._of_version(code, version, day)
            if not in_scope(scope, kind):
                raise _Reject("score_scope", f"indicator {self.ind_name[code]} ({code}) is {scope} only; "
                                             f"the window is {kind}")
            scores[code] = score
        return scores

    def _problems(self, text: str, version: str, day: str) -> str:
        codes: list[str] = []
        for token in _SPLIT_TAGS.split(text.strip()):
            if not token:
                continue
            code = self.indicator_alias.get(normalize_header(token))
            if code is None:
                raise _Reject("problem_unknown", f"problem tag {token!r} is not an indicator code or name")
            self._of_version(code, version, day)
            if code not in codes:
                codes.append(code)
        return json.dumps(codes) if codes else ""

    def _phone(self, text: str) -> tuple[str, str]:
        value = text.strip()
        if ("E+" in value or "e+" in value) and _SCI.match(value):
            raise _excel_number("phone number", value)
        phone = normalize_phone(value)
        if phone is None:
            if _PHONE_MASK.match(value):  # as a rejects file writes it, without the reject_ref that gives it back
                raise _Reject("phone_invalid", f"phone number {value} is masked, as `batches rejects` writes"
                                               " it: only the row's unchanged reject_ref, in the database that wrote"
                                               " it, gives the number back; otherwise type the number in full")
            raise _Reject("phone_invalid", f"phone number {_mask_any(value)} is not a plausible mobile or landline")
        if len(self.phone_cache) > CACHE_LIMIT:
            self.phone_cache.clear()
        entry = (self.ctx.vault.hash(phone), phone)
        self.phone_cache[text] = entry
        return entry

    def _verify_token(self, window: str, token: str) -> int:
        """1 the current QR secret's token, 2 only the previous secret's (whatever the time), 0 neither."""
        from haocha_cli.qr_tokens import token_secret

        ok = token_secret(self.ctx.keys, window, token, int(self.ctx.config["qr.token_length"]))
        if len(self.token_cache) > CACHE_LIMIT:
            self.token_cache.clear()
        self.token_cache[(window, token)] = ok
        return ok

    def _old_token_at(self, when: str) -> int:
        """token_ok of a rating made at ``when`` with a token of the previous QR secret: 1 made before the
        rotation, 2 within its grace period (flag old_token, counted as qr_tokens_old), 0 after it."""
        from haocha_cli.qr_tokens import token_at

        verdict = token_at(self.ctx.keys, 2, when)
        self.tokens_old += verdict == 2
        return verdict

    # -- the consumer: write --

    def _drive(self, producer: Iterator[tuple], progress: Callable[[], None] | None) -> None:
        """Consume the producer's groups: one by one in the batch's transaction, or, staged, STAGE_ROWS rows
        at a time — validated while the write lock is free (advancing the producer), written in one short
        transaction, then aggregated and scanned outside it again. (A transaction per group left the lock free
        only while the next group was validated, some 20 ms, which the rating page's busy handler, waking every
        100 ms, mostly missed; and it wrote the same index pages to the WAL again and again.)"""
        if not self.staged:
            for message in producer:
                self._consume([message], progress)
            return
        held: list[tuple] = []
        rows = 0
        for message in producer:
            held.append(message)
            rows += len(message[0]) + len(message[4])
            if rows >= STAGE_ROWS:
                self._consume(held, progress)
                held, rows = [], 0
        if held:
            self._consume(held, progress)

    def _consume(self, messages: list[tuple], progress: Callable[[], None] | None) -> None:
        written = []
        with self._short():
            for group, group_src, group_scores, pending, rejects, _read in messages:
                if rejects:
                    self.reject_rows.extend(rejects)
                full = len(group)
                if group:
                    group, group_src, group_scores, pending = self._one_per_case(group, group_src, group_scores,
                                                                                 pending)
                if group:
                    if self.last_id is not None and group[-1][0] > self.last_id:
                        raise HaochaError(f"internal error: {self.file_name} holds more rows than its "
                                          f"{self.row_bound} counted", "please report this; nothing was imported")
                    written.append(self._write_group(group, group_src, group_scores, pending, full))
        for group, group_scores in written:  # outside the transaction: the sums, and the flag scan of a block
            self.accepted += len(group)
            self._aggregate(group, group_scores)
        self._after(progress, len(messages))

    def _after(self, progress: Callable[[], None] | None, messages: int) -> None:
        if len(self.reject_rows) >= 1000:
            with self._short():
                self._flush_rejects()
        if len(self.pending_cases) >= CASE_FLUSH or len(self.pending_followups) >= CASE_FLUSH:
            self._flush_cases()
        if len(self.agg) >= AGG_FLUSH_KEYS or len(self.ind_agg) >= AGG_FLUSH_KEYS:
            self._flush_aggregates()
        if progress is not None:
            for _ in range(messages):
                progress()

    def _write_group(self, group: list[list], group_src: list, group_scores: list, pending: list[list],
                     full: int) -> tuple[list, list]:
        """Write a group's new contacts and its ratings; returns the rows written and their scores."""
        if pending:
            self._resolve_contacts(pending)
        count = len(group)
        # A group that lost rows to case_rated_twice goes in one row per statement: a statement of every
        # odd size would stay prepared in the connection's statement cache, a large program apiece.
        size = count if count == full else 1
        sql = self.insert_sql.get(size)
        if sql is None:
            sql = self.insert_sql[size] = (self.insert_head + ", ".join([self.row_sql] * size)
                                           + " ON CONFLICT (source, rating_id) DO NOTHING")
        if size == count:
            inserted = self.conn.execute(sql, [self.source, *chain.from_iterable(group)]).rowcount
        else:
            inserted = self.conn.executemany(sql, ([self.source, *row] for row in group)).rowcount
        if inserted != count:
            group, group_scores = self._sort_out_duplicates(group, group_src, group_scores)
        return group, group_scores

    def _aggregate(self, group: list[list], group_scores: list) -> None:
        agg, ind_agg, bad_levels = self.agg, self.ind_agg, self.bad_levels
        for row, scores in zip(group, group_scores, strict=True):
            day, wcode, county, kind, channel, code, level, index = row[4:12]
            key = (day, wcode, code, channel)
            entry = agg.get(key)
            if entry is None:
                entry = agg[key] = [county, kind, 0, 0, 0, 0, 0, 0, 0.0, 0.0]
            entry[2] += 1
            entry[2 + level] += 1
            entry[8] += index
            entry[9] += index * index
            if scores:
                for c, s in scores.items():
                    ikey = (day, wcode, code, channel, c)
                    e = ind_agg.get(ikey)
                    if e is None:
                        e = ind_agg[ikey] = [county, kind, 0, 0, 0, 0, 0, 0]
                    e[2] += 1
                    e[3] += s
                    e[4] += s * s
                    e[5] += level
                    e[6] += level * level
                    e[7] += s * level
            if row[_ROUND] == 2 and row[_CASE_NO]:  # a 追评 of a 办件: its case's re-rating, maybe
                rating = _rating_dict(row, self.source, self.batch_id)
                self.pending_followups.append(rating)
                if level in bad_levels:
                    self.pending_cases.append(rating)
            elif level in bad_levels:
                self.pending_cases.append(_rating_dict(row, self.source, self.batch_id))
        self.days.update(row[4] for row in group)
        if self.flag_stream:
            self._hold_for_flags(group)
        if self.keep_ids:
            self.ids.extend(row[0] for row in group)

    def _resolve_contacts(self, pending: list[list]) -> None:
        """Phone hashes of the group -> contact ids: looked up in bulk, new ones encrypted once and added."""
        cache = self.contact_cache
        phones = {row[18][0]: row[18][1] for row in pending}  # in the order of the file
        wanted = [h for h in phones if h not in cache]
        if wanted:
            if len(cache) > CACHE_LIMIT:
                cache.clear()
            for found_hash, contact_id in self.conn.execute(
                    "SELECT phone_hash, id FROM contacts WHERE phone_hash IN (SELECT value FROM json_each(?))",
                    [json.dumps(wanted)]):
                cache[found_hash] = contact_id
            new = []
            if self.staged:  # the rating page may have added contacts since this batch's last transaction
                self.next_contact = (self.conn.execute("SELECT max(id) FROM contacts").fetchone()[0] or 0) + 1
            for phone_hash in [h for h in wanted if h not in cache]:
                phone = phones[phone_hash]
                encrypted = self.ctx.vault._fernet.encrypt(phone.encode("ascii")).decode("ascii")
                new.append((self.next_contact, phone_hash, encrypted, mask_phone(phone)))
                cache[phone_hash] = self.next_contact
                self.next_contact += 1
            if new:
                self.conn.executemany(
                    "INSERT INTO contacts (id, phone_hash, phone_enc, phone_masked) VALUES (?, ?, ?, ?)", new)
        for row in pending:
            row[18] = cache[row[18][0]]

    def _one_per_case(self, group: list[list], group_src: list, group_scores: list, pending: list[list]) -> tuple:
        """一事一评: the rows of the group whose service case (办件编号) already has a rating of their round from
        the source, stored or earlier in this file, are rejected case_rated_twice, naming that rating; the
        group comes back without them. Rows without a case number are not looked at. A row whose rating id is
        stored already (or earlier in the file) is left to the duplicate check, which comes first: the same
        file again gives duplicates, not clashes. One look-up per group (index ratings_case), and a second
        only when a clash shows up."""
        rows = [i for i, row in enumerate(group) if row[_CASE_NO]]
        if not rows:
            return group, group_src, group_scores, pending
        conn, source = self.conn, self.source
        stored: dict[tuple[str, int], tuple[str, int, int | None]] = {}
        known: set[str] = set()  # rating ids stored for the source: duplicates, not clashes
        numbers = json.dumps(list({group[i][_CASE_NO] for i in rows}), ensure_ascii=False)
        for rid, case_no, rnd, batch, line in conn.execute(
                f"SELECT rating_id, case_no, rating_round, batch_id, line FROM {self.rows_table} WHERE source = ?"
                " AND case_no IN (SELECT value FROM json_each(?)) ORDER BY id", [source, numbers]):
            stored.setdefault((case_no, rnd), (rid, batch, line))
            known.add(rid)
        while True:
            taken = dict(stored)
            seen: set[str] = set()
            clashes = []
            for i in rows:
                row = group[i]
                rid = row[1]
                if rid in known or rid in seen:
                    continue  # a duplicate or duplicate_in_file: the INSERT sorts it out
                seen.add(rid)
                key = (row[_CASE_NO], row[_ROUND])
                earlier = taken.get(key)
                if earlier is None:
                    taken[key] = (rid, self.batch_id, row[2])
                else:
                    clashes.append((i, earlier))
            if not clashes:
                return group, group_src, group_scores, pending
            # A clashing row (or the row it clashes with) whose id is stored under another case is a duplicate.
            ask = ({group[i][1] for i, _ in clashes} | {e[0] for _, e in clashes}) - known
            found = {r for (r,) in conn.execute(
                f"SELECT rating_id FROM {self.rows_table} WHERE source = ? AND rating_id IN"
                " (SELECT value FROM json_each(?))", [source, json.dumps(sorted(ask), ensure_ascii=False)])}
            if not found:
                break
            known |= found
        out = set()
        for i, earlier in clashes:
            row, src = group[i], group_src[i]
            if earlier[1] == self.batch_id:
                where = f"rating {earlier[0]}, earlier in this file ({self.word} {earlier[2]})"
            else:
                where = f"rating {earlier[0]} of batch {earlier[1]}"
            reason = f"办件 {row[_CASE_NO]} already has {_ROUND_NAMES[row[_ROUND]]} from {source} (一事一评): {where}"
            self.reject_rows.append(self._reject_row(self.writer_tally, row[2], src if self.header else None, None,
                                                     "case_rated_twice", reason, None if self.header else src))
            out.add(i)
        gone = {group[i][0] for i in out}
        keep = [i for i in range(len(group)) if i not in out]
        return ([group[i] for i in keep], [group_src[i] for i in keep], [group_scores[i] for i in keep],
                [row for row in pending if row[0] not in gone])

    def _sort_out_duplicates(self, group: list[list], group_src: list, group_scores: list) -> tuple[list, list]:
        """Rows the INSERT skipped: a rating id stored before (duplicate) or earlier in this file (rejected)."""
        first, last = group[0][0], group[-1][0]
        present = {r[0] for r in self.conn.execute("SELECT id FROM rating_rows WHERE id BETWEEN ? AND ?",
                                                   [first, last])}
        skipped = [i for i, row in enumerate(group) if row[0] not in present]
        owners = {rid: (batch, line) for rid, batch, line in self.conn.execute(
            "SELECT rating_id, batch_id, line FROM rating_rows WHERE source = ? AND rating_id IN"
            " (SELECT value FROM json_each(?))", [self.source, json.dumps([group[i][1] for i in skipped])])}
        for i in skipped:
            row = group[i]
            batch, line = owners[row[1]]
            if batch == self.batch_id:
                src = group_src[i]
                self.reject_rows.append(self._reject_row(
                    self.writer_tally, row[2], src if self.header else None, None, "duplicate_in_file",
                    f"rating id {row[1]} appears earlier in this file ({self.word} {line})",
                    None if self.header else src))
            else:
                self.duplicate += 1
        kept = [i for i, row in enumerate(group) if row[0] in present]
        return [group[i] for i in kept], [group_scores[i] for i in kept]

    def _flush_rejects(self) -> None:
        if self.reject_rows:
            self.conn.executemany(
                "INSERT INTO rejects (batch_id, line, raw, code, reason, phone_enc, cells_enc)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                self.reject_rows)
            self.reject_rows = []

    def _flush_cases(self) -> None:
        """The closed loop's part of the pending ratings: a case for each bad review; each 追评 (round 2 with a
        办件编号) linked to the case of its 办件 (``cases.rerate_by_followups``: the re-rating, 整改复评), after
        the first ratings' cases of the same flush are open. A bad 追评 that reached a case opens none."""
        if self.pending_cases or self.pending_followups:
            from haocha_cli.cases import open_cases, plan_cases, rerate_by_followups

            started = time.perf_counter()
            pending, followups = self.pending_cases, self.pending_followups
            self.cases_handed += len(pending)
            firsts = [r for r in pending if not (r["rating_round"] == 2 and r["case_no"])] if followups else pending
            if self.staged:  # planned now, written in the batch's last transaction (_publish)
                self.held.add("case", [[values, str(event)] for values, event in
                                       self._foreign(plan_cases, self.ctx, firsts)])
                self.held.add("followup", followups)
                self.seconds["cases"] += time.perf_counter() - started
                self.pending_cases, self.pending_followups = [], []
                return
            if firsts:
                self.cases_opened += self._foreign(open_cases, self.ctx, firsts) or 0
            if followups:
                linked, rerated = self._foreign(rerate_by_followups, self.ctx, self.source, followups)
                self.cases_rerated += rerated
                rest = [r for r in pending if r["rating_round"] == 2 and r["case_no"] and r["id"] not in linked]
                if rest:
                    self.cases_opened += self._foreign(open_cases, self.ctx, rest) or 0
            self.seconds["cases"] += time.perf_counter() - started
            self.pending_cases, self.pending_followups = [], []

    def _foreign(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call another module's code with the garbage collector as the caller had it: what it allocates
        is its business (the collector is off only for the batch's own rows)."""
        if self.gc_was_on:
            gc.enable()
        try:
            return function(*args, **kwargs)
        finally:
            gc.disable()

    def _hold_for_flags(self, group: list[list]) -> None:
        """Keep the written rows of the open block as the flag scan reads them (flags._COLUMNS); scan a block
        once a row comes from a day after it. A row of a day before the block stops this (see _run)."""
        held = self.flag_rows
        for row in group:
            day = row[4]
            if self.flag_block is None:
                self._open_block(date.fromisoformat(day))
            elif day > self.flag_block_end:
                self._scan_block(date.fromisoformat(day))
                held = self.flag_rows
            elif day < self.flag_block_text:
                self.flag_stream = False  # not in day order: the table is scanned at the end, as before
                self.flag_rows = []
                return
            at = row[3]
            comment = row[17] or None
            held.append((row[0], day, at, row[5], row[6], row[7], row[8], row[18] or None,
                         None if row[22] == -1 else row[22], row[21] or None,
                         int(at[11:13]) * 3600 + int(at[14:16]) * 60 + int(at[17:19]), comment))

    def _hold_flags(self) -> None:
        """A staged batch: the scan's flags into the held table, its summary kept (see _publish)."""
        for by_rule, summary in self.deferred_flags:
            self.held.add_flags(len(self.flag_summaries), by_rule)
            self.flag_summaries.append((list(by_rule), summary))
        self.deferred_flags = []

    def _open_block(self, day: date | None) -> None:
        self.flag_block = day
        if day is not None:
            self.flag_block_text = day.isoformat()
            self.flag_block_end = (day + timedelta(days=FLAG_SCAN_DAYS - 1)).isoformat()

    def _scan_block(self, following: date | None) -> None:
        """Scan the held block (its days up to the last held) and start the next at ``following``."""
        from haocha_cli.flags import scan_flags

        started = time.perf_counter()
        start = self.flag_block
        end = start + timedelta(days=FLAG_SCAN_DAYS - 1)
        if following is None:
            end = min(end, date.fromisoformat(max(r[1] for r in self.flag_rows)))
        rows, self.flag_rows = self.flag_rows, []
        self.flags_raised += self._foreign(scan_flags, self.ctx, start, end, (self.first_id, rows), own=self.staged,
                                           defer=self.deferred_flags if self.staged else None)["new_total"]
        self._hold_flags()
        self.flagged_days += len({r[1] for r in rows})
        self._open_block(following)
        self.seconds["flags"] += time.perf_counter() - started

    def _scan_flags(self) -> None:
        """Suspicious-rating flags (评价信息不实) of the batch's days, in the batch's transaction: a week at a
        time, so that a year-long file is never held in memory at once."""
        if not self.days:
            return
        from haocha_cli.flags import INCREMENTAL_MAX, flag_new_ratings, scan_flags

        started = time.perf_counter()
        if len(self.days) == 1 and self.accepted <= INCREMENTAL_MAX and not self.staged:
            # A few ratings of one day (the rating page's one): their own flags and the patterns they join,
            # through indexes, the same as the day's scan would add (issue 22: a page that costs the same all day).
            ids = [i for (i,) in self.conn.execute("SELECT id FROM ratings WHERE batch_id = ?", [self.batch_id])]
            self.flags_raised += self._foreign(flag_new_ratings, self.ctx, ids)["new_total"]
            self.seconds["flags"] = time.perf_counter() - started
            return
        if self.flag_stream:  # the blocks before were scanned while reading: the last one now
            self.phase("flags", self.flagged_days, len(self.days))
            if self.flag_rows:
                self._scan_block(None)
            self.phase("flags", len(self.days), len(self.days))
            return
        days = sorted(date.fromisoformat(d) for d in self.days)
        end = None
        for scanned, day in enumerate(days):
            if end is not None and day <= end:
                continue  # scanned with its block
            self.phase("flags", scanned, len(days))
            end = min(day + timedelta(days=FLAG_SCAN_DAYS - 1), days[-1])
            self.flags_raised += self._foreign(scan_flags, self.ctx, day, end, own=self.staged,
                                               defer=self.deferred_flags if self.staged else None)["new_total"]
            self._hold_flags()
        self.phase("flags", len(days), len(days))
        self.seconds["flags"] += time.perf_counter() - started

    def _flush_aggregates(self) -> None:
        # In key order: each statement then fills neighbouring B-tree pages instead of splitting pages all over.
        # The part: 0, or a staged batch's own (migration 13), the key's last column.
        part = self.part
        rows = sorted((*key, part, *e) for key, e in self.agg.items())
        self._upsert(rows, "daily_agg_rows", ("day", "window_code", "item_code", "channel", "part"),
                     ("county_code", "mode"), ("n", "l1", "l2", "l3", "l4", "l5", "index_sum", "index_sq"))
        rows = sorted((*key, part, *e) for key, e in self.ind_agg.items())
        self._upsert(rows, "daily_indicator_agg_rows",
                     ("day", "window_code", "item_code", "channel", "indicator_code", "part"),
                     ("county_code", "mode"), ("n", "score_sum", "score_sq", "level_sum", "level_sq", "cross_sum"))
        self.agg.clear()
        self.ind_agg.clear()

    def _upsert(self, rows: list[tuple], table: str, key: tuple[str, ...], plain: tuple[str, ...],
                summed: tuple[str, ...]) -> None:
        """Add the sums to the table's rows, many rows per statement."""
        if not rows:
            return
        columns = key + plain + summed
        per = max(1, min(500, self.variable_limit // len(columns)))
        one = "(" + ", ".join("?" * len(columns)) + ")"
        tail = (f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
                + ", ".join(f"{c} = {c} + excluded.{c}" for c in summed))
        head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
        whole = len(rows) - len(rows) % per
        # A staged batch: AGG_TRANSACTION_ROWS rows per short transaction.
        step = max(per, AGG_TRANSACTION_ROWS // per * per)
        for chunk in range(0, whole, step):
            with self._short():
                for start in range(chunk, min(whole, chunk + step), per):
                    self.conn.execute(head + ", ".join([one] * per) + tail,
                                      list(chain.from_iterable(rows[start:start + per])))
        # The rest one row per statement: a statement of every odd size would each stay prepared in the
        # connection's statement cache, a large program apiece.
        if whole < len(rows):
            with self._short():
                self.conn.executemany(head + one + tail, rows[whole:])


class _Held:
    """What a staged batch writes in its last transaction — its cases (planned), its 追评 (to link to their
    cases) and its flags — held until then in a temporary table of the connection (written without the
    database's lock), not in memory: for a million-row file that is tens of megabytes."""

    CHUNK = 5000

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS haocha_held (kind TEXT NOT NULL, item TEXT NOT NULL)")
        conn.execute("CREATE INDEX IF NOT EXISTS temp.haocha_held_kind ON haocha_held (kind)")
        # The flags in the columns of the flags table: the last transaction copies them in SQL (flags.store_held).
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS haocha_held_flags (block INTEGER NOT NULL, rating_id INTEGER,"
                     " rule TEXT, county_code TEXT, window_code TEXT, day TEXT, evidence TEXT, created_at TEXT)")
        conn.execute("CREATE INDEX IF NOT EXISTS temp.haocha_held_flags_block ON haocha_held_flags (block, rule)")
        self.clear()

    def add_flags(self, block: int, by_rule: dict[str, list[tuple]]) -> None:
        self.conn.executemany("INSERT INTO temp.haocha_held_flags (block, rating_id, rule, county_code, window_code,"
                              " day, evidence, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                              ((block, *row) for rows in by_rule.values() for row in rows))

    def add(self, kind: str, items: Iterable[Any]) -> None:
        self.conn.executemany("INSERT INTO temp.haocha_held (kind, item) VALUES (?, ?)",
                              ((kind, json.dumps(item, ensure_ascii=False)) for item in items))

    def chunks(self, kind: str) -> Iterator[list[Any]]:
        last = 0
        while True:
            rows = self.conn.execute("SELECT rowid, item FROM temp.haocha_held WHERE kind = ? AND rowid > ?"
                                     " ORDER BY rowid LIMIT ?", [kind, last, self.CHUNK]).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [json.loads(item) for _, item in rows]

    def clear(self) -> None:
        self.conn.execute("DELETE FROM temp.haocha_held")
        self.conn.execute("DELETE FROM temp.haocha_held_flags")


def _no_phase(phase: str, done: int, total: int | None) -> None:
    """Where phases go when nobody watches."""


def _rating_dict(row: list, source: str, batch_id: int) -> dict[str, Any]:
    rating = dict(zip(RATING_COLUMNS, row, strict=True))
    rating["source"] = source
    rating["batch_id"] = batch_id
    for key in ("scores", "problems", "case_no", "comment", "staff_code", "qr_token"):
        if rating[key] == "":
            rating[key] = None
    if not rating["contact_id"]:
        rating["contact_id"] = None
    if rating["token_ok"] == -1:
        rating["token_ok"] = None
    return rating


def _field_label(name: str) -> str:
    return f"{FIELDS[name]} ({name})" if name in FIELDS else name


def _remember(memo: dict[str, Any], text: str, value: Any) -> Any:
    if len(memo) > CACHE_LIMIT:
        memo.clear()
    memo[text] = value
    return value


def _stray_code_reason(value: str) -> str:
    return (f"level {value!r} is a numeric code in a file of level names, and no level scale is declared: write "
            "the level's name, or import with --level-scale national (GB/T 39046: 1 = 非常满意) or --level-scale "
            "platform (5 = 非常满意)")


def _excel_number(what: str, value: str) -> _Reject:
    return _Reject("excel_number", f"{what} {value} was turned into a number by a spreadsheet and has lost digits; "
                                   "format the column as text and export again")


def _fixes_of(ctx: Context, stored: Any, phone_enc: str | None, cells_enc: str | None, header: list[str],
              profile_name: str) -> tuple[dict[str, tuple], dict[str, str]]:
    """What a reject gives back to its row in a fixed rejects file: ({column or key: (the value the rejects file
    wrote, its text forms, the cell as it was)} for each cell the file did not write as it was, and {mask: the
    number as written} for a line that could not be split, whose masks are given back wherever they are)."""
    if isinstance(stored, str):  # a line that could not be split: kept whole, encrypted, when it held a number
        if not phone_enc:
            return {}, {}
        numbers = masked_numbers(ctx.vault.reveal(phone_enc))
        return {}, {mask: found[0] for mask, found in numbers.items() if len(set(found)) == 1}
    originals: dict[str, Any] = json.loads(ctx.vault.reveal(cells_enc)) if cells_enc else {}
    if phone_enc and not cells_enc:  # stored before the masked cells were kept: the phone alone
        try:
            profile: Profile | None = load_profile(profile_name)
        except HaochaError:
            profile = None
        names = header if isinstance(stored, list) else list(stored)
        phone_at = next((i for i, h in enumerate(names) if profile and profile.field_for(h) == "rater_phone"), None)
        if phone_at is not None:
            originals[str(phone_at) if isinstance(stored, list) else names[phone_at]] = ctx.vault.reveal(phone_enc)
    entries = (zip(header, stored, strict=False) if isinstance(stored, list) else stored.items())
    fixes: dict[str, tuple] = {}
    for at, (name, value) in enumerate(entries):
        key = str(at) if isinstance(stored, list) else name
        shown = mask_values(value)  # as batch_rejects shows it
        text = cell_text(shown)
        forms = {text.strip(), csv_safe(text).strip()}
        original = originals.get(key, value)
        if name not in fixes and (original != shown or len(forms) > 1):
            fixes[name] = (shown, forms, original)
    return fixes, {}


def _restore_cells(cells: list[str], positions: dict[str, int], ref_pos: int | None,
                   fixes: tuple) -> tuple[list[str], int]:
    """The row's cells with what its reject gives back, and how many cells changed."""
    by_name, masks = fixes
    given = 0
    for name, (_shown, forms, original) in by_name.items():
        at = positions.get(name, positions.get(normalize_header(name)))
        if at is not None and at < len(cells) and cells[at].strip() in forms:
            cells[at] = cell_text(original)
            given += 1
    if masks:
        for at, cell in enumerate(cells):
            if at != ref_pos and "*" in cell:
                for mask, number in masks.items():
                    cell = cell.replace(mask, number)
                given += cell != cells[at]
                cells[at] = cell
    return cells, given


def _restore_object(obj: dict[str, Any], fixes: tuple) -> tuple[dict[str, Any], int]:
    """The object with what its reject gives back, and how many values changed."""
    by_name, masks = fixes
    obj = dict(obj)
    given = 0
    for key, value in obj.items():
        fix = by_name.get(key)
        if fix is not None:
            shown, forms, original = fix
            if value == shown or (isinstance(value, str) and value.strip() in forms):
                obj[key] = original
                given += 1
        elif masks and key != REF_COLUMN and isinstance(value, str) and "*" in value:
            for mask, number in masks.items():
                value = value.replace(mask, number)
            given += value != obj[key]
            obj[key] = value
    return obj, given


def _mask_any(text: str) -> str:
    value = text.strip()
    phone = normalize_phone(value)
    if phone:
        return mask_phone(phone)
    if len(value) <= 4:
        return "****"
    return value[:3] + "****" + value[-2:]


# --- times ----------------------------------------------------------------------------------------


def parse_time(text: str, excel_epoch: datetime | None = None) -> str:
    """A rating time as 'YYYY-MM-DD HH:MM:SS' local time (Asia/Shanghai); raises _Reject.

    Accepted: 2024-05-06 09:30:00, 2024/5/6 9:30, 2024.05.06 09:30:00, 2024-05-06T09:30:00+08:00 (an
    offset or Z is converted to local time), 20240506093000, 202405060930, 2024年5月6日 9:30 or
    9时30分, and in .xlsx cells an Excel serial number (45418.395833)."""
    value = text.strip()
    if not value:
        raise _Reject("time_missing", "the rating time (评价时间) is empty")
    parts = None
    tz = None
    m = _DATE_TIME.match(value)
    if m:
        parts = m.groups()[:6]
        tz = m.group(8)
    else:
        m = _COMPACT.match(value) or _CHINESE.match(value)
        if m:
            parts = m.groups()[:6]
        elif _NUMBER.match(value) and 1 <= float(value) < 2958466:
            if excel_epoch is None:
                raise _Reject("time_excel_serial", f"the time {value} is a spreadsheet date serial number; format "
                                                   "the column as a date and time before saving the CSV")
            return _from_serial(float(value), excel_epoch)
    if parts is None:
        raise _Reject("time_invalid", f"{value!r} is not a date and time (e.g. 2024-05-06 09:30:00)")
    year, month, day, hour, minute, second = parts
    if hour is None:
        raise _Reject("time_invalid", f"{value!r} has no time of day")
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
    except ValueError:
        raise _Reject("time_invalid", f"{value!r} is not a valid date and time") from None
    if tz:
        offset = timedelta(0)
        if tz != "Z":
            hours, minutes = int(tz[1:3]), int(tz[-2:])
            offset = timedelta(hours=hours, minutes=minutes) * (-1 if tz[0] == "-" else 1)
            if minutes > 59 or abs(offset) > MAX_UTC_OFFSET:
                raise _Reject("time_invalid", f"{value!r} has the offset {tz}, which is no time zone's"
                                              " (offsets run from -14:00 to +14:00)")
        try:  # to the bureau's time, Asia/Shanghai (UTC+8)
            moment = moment - offset + timedelta(hours=8)
        except OverflowError:
            raise _Reject("time_invalid", f"{value!r} falls outside the years 1 to 9999 in Asia/Shanghai time") from None
    return _in_window(moment, value).strftime("%Y-%m-%d %H:%M:%S")


def _in_window(moment: datetime, value: str) -> datetime:
    """``moment``, unless it is before EARLIEST (a later one than now is time_future, checked by the caller)."""
    if moment < EARLIEST:
        raise _Reject("time_invalid", f"{value!r} is before {EARLIEST:%Y-%m-%d}, earlier than any rating (a broken"
                                      " date cell?)")
    return moment


def _from_serial(serial: float, epoch: datetime) -> str:
    from openpyxl.utils.datetime import from_excel

    if serial.is_integer():
        raise _Reject("time_invalid", f"the cell holds the date {from_excel(serial, epoch):%Y-%m-%d} but no time of day")
    moment = from_excel(serial, epoch)
    if moment.microsecond >= 500_000:
        moment += timedelta(seconds=1)
    return _in_window(moment.replace(microsecond=0), str(serial)).strftime("%Y-%m-%d %H:%M:%S")


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


def _ref_key(data_key: bytes) -> bytes:
    return hmac.new(data_key, b"haocha reject ref v1", hashlib.sha256).digest()


def reject_ref(key: bytes, batch_id: int, line: int, raw: str) -> str:
    """A rejected row's reference in its rejects file, ``B<batch>-L<line>-<check>``: the check is an HMAC under
    the database's data key of the batch, the line and the row as stored, so that a reference typed, changed
    or taken from another database's rejects file names no row here."""
    check = hmac.new(key, f"{batch_id}:{line}\n{raw}".encode(), hashlib.sha256).hexdigest()[:16]
    return f"B{batch_id}-L{line}-{check}"


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
