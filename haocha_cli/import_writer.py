"""Writing a batch (写入): each group of validated rows into the ratings table, with the new contacts, the
一事一评 and duplicate checks, the daily aggregates, the bad reviews' rectification cases (整改) and the
suspicious-rating scan (flags) of the batch's days; a staged batch in short transactions, made visible whole by
its last one (haocha_cli.staging, docs/import.md).

A part of the import's batch (haocha_cli.importer._Job). The tunables below are the writer's: how many rows a
statement, a short transaction and a flush take.
"""

from __future__ import annotations

import gc
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from itertools import chain
from typing import Any

from haocha_cli import audit
from haocha_cli.errors import HaochaError
from haocha_cli.import_rules import _CASE_NO, _ROUND, _ROUND_NAMES, CACHE_LIMIT, RATING_COLUMNS
from haocha_cli.privacy import mask_phone

GROUP_ROWS = 1000  # rows per multi-row INSERT (fewer if SQLite allows fewer parameters)
AGG_FLUSH_KEYS = 20_000  # daily-aggregate keys held in memory before they are upserted
CASE_FLUSH = 500  # bad reviews handed to the closed loop at once
AGG_TRANSACTION_ROWS = 10_000  # aggregate rows a staged batch upserts per short transaction
STAGE_ROWS = 10_000  # rows a staged batch validates outside the write lock, then writes in one short transaction
STAGE_PAUSE_SECONDS = 0.15  # the lock left free before a staged batch's last transaction
STAGE_CHECKPOINT_PAGES = 16_384  # a staged batch checkpoints the WAL when it passes this many pages (64 MB)
FLAG_SCAN_DAYS = 7  # days of ratings the suspicious-rating scan reads at once


class BatchWriter:
    """The batch's writing side (see the module's docstring)."""

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
