"""What 一事一评 (one rating per service case and round, issue 18) costs an import, measured in SQLite alone.

The import looks up, for each group of 1,000 rows, the stored ratings of the group's case numbers (办件编号)
by the partial index ratings_case (source, case_no, rating_round) WHERE case_no IS NOT NULL, and the flag scan
finds the days' follow-ups (追评) by ratings_followups. This script measures, in a fresh haocha database
(`haocha init`, then ratings made in SQL, no Python per row in the timed parts):

1. writing: INSERT … SELECT of --rows ratings into the ratings table with both indexes and without them (dropped),
   alternating, the fastest of --repeat runs each; once with a case number on every rating (the worst case:
   benchmarks/import_bench.py's file has one per row) and once with none (the partial indexes skip them);
2. the look-ups: the import's query for --rows / 1,000 groups of 1,000 new case numbers against the
   --rows ratings stored, as the importer runs it (json_each of the group's case numbers);
3. the alternative without an index: one read of the source's stored case numbers into a Python dict at
   the start of an import (the time, and the memory the dict holds).

    python benchmarks/case_rule_bench.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

INDEXES = {
    "ratings_case": "CREATE INDEX ratings_case ON ratings(source, case_no, rating_round) WHERE case_no IS NOT NULL",
    "ratings_followups": "CREATE INDEX ratings_followups ON ratings(day) WHERE rating_round = 2 AND case_no IS NOT NULL",
}
# Ratings made in SQL: spread over windows and days like an export; case numbers BJ… unique, 2 % of them 追评.
SOURCE_ROWS = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)
SELECT 'bench', 'PJ' || printf('%09d', i), 1, i, datetime('2021-01-01 09:00:00', '+' || (i / 20) || ' minutes'),
       date('2021-01-01', '+' || (i / 800) || ' days'), 'LC01', '370213', 'offline', '二维码', 'XK01',
       1 + i % 5, 75.0, 'V1.0', CASE WHEN :with_case THEN 'BJ2024' || printf('%010d', i) END,
       CASE WHEN i % 50 = 0 THEN 2 ELSE 1 END
FROM n"""
COLUMNS = ("source, rating_id, batch_id, line, rated_at, day, window_code, county_code, mode, channel, item_code,"
           " level, rating_index, weights_version, case_no, rating_round")
LOOKUP = ("SELECT rating_id, case_no, rating_round, batch_id, line FROM ratings WHERE source = ?"
          " AND case_no IN (SELECT value FROM json_each(?)) ORDER BY id")


def fresh_database(folder: Path) -> Path:
    from haocha_cli.bootstrap import init_database

    path = folder / "bench.db"
    init_database(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("INSERT INTO batches (id, file_name, sha256, source, profile, format, operator, imported_at,"
                 " rows_read, accepted, rejected, duplicate) VALUES (1, 'bench', 'x', 'bench', 'canonical', 'csv',"
                 " 'city', '2026-01-01 00:00:00', 0, 0, 0, 0)")
    conn.close()
    return path


def timed_insert(template: Path, path: Path, rows: int, with_case: bool, with_indexes: bool) -> float:
    """Seconds to insert the rows into a fresh copy of the template database (with or without the indexes)."""
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    shutil.copy(template, path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")  # as haocha opens it
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("PRAGMA cache_size = -32768")  # as the importer sets it
    for name, sql in INDEXES.items():
        conn.execute(f"DROP INDEX IF EXISTS {name}")
        if with_indexes:
            conn.execute(sql)
    conn.execute(f"CREATE TEMP TABLE source AS {SOURCE_ROWS}", {"rows": rows, "with_case": int(with_case)})
    conn.execute("BEGIN")
    started = time.perf_counter()
    conn.execute(f"INSERT INTO ratings ({COLUMNS}) SELECT * FROM temp.source")
    conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def lookups(path: Path, rows: int) -> tuple[float, int]:
    """Seconds of the import's look-up for rows / 1000 groups of new case numbers, against the stored ratings."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA cache_size = -32768")
    groups = [[f"BJ2025{g * 1000 + k:010d}" for k in range(1000)] for g in range(max(1, rows // 1000))]
    found = 0
    started = time.perf_counter()
    for numbers in groups:  # the importer's own statement, with its json.dumps of the case numbers
        found += len(conn.execute(LOOKUP, ["bench", json.dumps(numbers)]).fetchall())
    seconds = time.perf_counter() - started
    conn.close()
    return seconds, found


def scan_all(path: Path) -> tuple[float, float]:
    """The index-free alternative: the source's stored case numbers read into a dict once; (seconds, MB)."""
    conn = sqlite3.connect(path, isolation_level=None)
    tracemalloc.start()
    started = time.perf_counter()
    taken = {}
    for rid, case_no, rnd in conn.execute("SELECT rating_id, case_no, rating_round FROM ratings"
                                          " WHERE source = ? AND case_no IS NOT NULL", ["bench"]):
        taken.setdefault((case_no, rnd), rid)
    seconds = time.perf_counter() - started
    size = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    conn.close()
    return seconds, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("HAOCHA_NOW", "2026-01-01T00:00:00")
    with tempfile.TemporaryDirectory(prefix="haocha-case-bench-") as folder:
        template = fresh_database(Path(folder))
        path = Path(folder) / "run.db"
        for with_case in (True, False):
            best = {True: float("inf"), False: float("inf")}
            for _ in range(args.repeat):
                for with_indexes in (True, False):
                    best[with_indexes] = min(best[with_indexes],
                                             timed_insert(template, path, args.rows, with_case, with_indexes))
            what = "a case number on every rating" if with_case else "no case numbers"
            print(f"insert {args.rows:,} ratings, {what}: {best[True]:.3f} s with ratings_case and ratings_followups,"
                  f" {best[False]:.3f} s without (+{best[True] - best[False]:.3f} s)")
        timed_insert(template, path, args.rows, True, True)
        seconds, found = lookups(path, args.rows)
        print(f"look-ups: {args.rows // 1000:,} groups of 1,000 new case numbers against {args.rows:,} stored ratings:"
              f" {seconds:.3f} s ({found} found)")
        seconds, size = scan_all(path)
        print(f"without an index: the stored case numbers read into a dict: {seconds:.3f} s, {size:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
