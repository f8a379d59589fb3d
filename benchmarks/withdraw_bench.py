"""Speed of `haocha batches withdraw` (issue 17): a batch of --ratings ratings (3 % bad reviews, each with its
new case) withdrawn from a database whose --history earlier ratings carry --spot-checks spot-check rows.

    python benchmarks/withdraw_bench.py [--ratings 100000] [--spot-checks 150000] [--history N] [--drop-indexes]
                                        [--keep DIR]

The database is built in SQL (`haocha init`, then the ratings, cases, one spot-check sample and the daily
aggregates as the import keeps them); the withdrawal runs as a child process, as a user would start it, and
its wall time is printed. --drop-indexes first drops the indexes of migration 9 that a withdrawal deletes by
(spot_checks_rating, spot_checks_case, ratings_batch), to measure the database as it was before them: SQLite
then scans spot_checks once for every rating and every case it deletes.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INDEXES = ("spot_checks_rating", "spot_checks_case", "ratings_batch")


def build(db: Path, ratings: int, spot_checks: int, history: int) -> None:
    subprocess.run([sys.executable, "-m", "haocha_cli", "--db", str(db), "init"], check=True, capture_output=True)
    conn = sqlite3.connect(db)
    windows = conn.execute("SELECT code, county_code, kind FROM windows ORDER BY code").fetchall()
    conn.execute("CREATE TEMP TABLE w (i INTEGER PRIMARY KEY, code TEXT, county TEXT, kind TEXT)")
    conn.executemany("INSERT INTO w VALUES (?, ?, ?, ?)", [(i, *w) for i, w in enumerate(windows)])
    for batch, n in ((1, max(history, spot_checks)), (2, ratings)):
        conn.execute("INSERT INTO batches (id, file_name, sha256, source, profile, format, operator, imported_at,"
                     " rows_read, accepted, rejected, duplicate) VALUES (?, ?, ?, 'bench', 'canonical', 'csv',"
                     " 'city', '2026-01-01 00:00:00', ?, ?, 0, 0)", [batch, f"bench-{batch}.csv", f"bench-{batch}",
                                                                       n, n])
        # Pseudo-random but deterministic: multiplicative hashing of the row number; every 33rd a bad review.
        conn.execute(f"""
            WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < {n}),
            r AS (SELECT x, date('2025-06-01', '+' || ((x * 2654435761 / 1013) % 180) || ' days') AS day,
                         (x * 40503 / 97) % {len(windows)} AS wi,
                         CASE WHEN x % 33 = 0 THEN 1 ELSE 4 + x % 2 END AS level FROM seq)
            INSERT INTO ratings (source, rating_id, batch_id, rated_at, day, window_code, county_code, mode,
                                 channel, item_code, level, rating_index, weights_version)
            SELECT 'bench', 'B{batch}-' || x, {batch}, day || ' 10:00:00', day, w.code, w.county, w.kind, '二维码',
                   'XK01', level, (level - 1) * 25.0, 'V1.0'
            FROM r JOIN w ON w.i = r.wi
        """)
    conn.execute("""
        INSERT INTO cases (rating_id, county_code, window_code, item_code, level, real_name, rated_at, state,
                           revisit_days, rectify_days, rectify_from, rectify_due, opened_at, updated_at)
        SELECT id, county_code, window_code, item_code, level, 0, rated_at, 'new', 3, 10, day, date(day, '+14 days'),
               rated_at, rated_at FROM ratings WHERE level = 1 ORDER BY id
    """)
    conn.execute("INSERT INTO samples (id, period, date_from, date_to, version, seed, settings, operator, created_at)"
                 " VALUES (1, '2025-H2', '2025-06-01', '2025-12-31', 1, 7, '{}', 'city', '2026-01-01 00:00:00')")
    conn.execute("""
        INSERT INTO spot_checks (sample_id, reason, reasons, rating_id, case_id, county_code)
        SELECT 1, CASE WHEN c.id IS NULL THEN 'very_satisfied' ELSE 'closed_case' END, '[]', r.id, c.id, r.county_code
        FROM ratings r LEFT JOIN cases c ON c.rating_id = r.id WHERE r.batch_id = 1 ORDER BY r.id LIMIT ?
    """, [spot_checks])
    conn.execute("""
        INSERT INTO daily_agg (day, window_code, item_code, channel, county_code, mode, n, l1, l2, l3, l4, l5,
                               index_sum, index_sq)
        SELECT day, window_code, item_code, channel, county_code, mode, count(*), sum(level = 1), sum(level = 2),
               sum(level = 3), sum(level = 4), sum(level = 5), sum(rating_index), sum(rating_index * rating_index)
        FROM ratings GROUP BY day, window_code, item_code, channel
    """)
    conn.commit()
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=100_000, help="Ratings of the batch withdrawn.")
    parser.add_argument("--spot-checks", type=int, default=150_000, help="Spot-check rows of the earlier ratings.")
    parser.add_argument("--history", type=int, default=0,
                        help="Ratings of the earlier batch (at least --spot-checks).")
    parser.add_argument("--drop-indexes", action="store_true", help=f"Drop {', '.join(INDEXES)} first.")
    parser.add_argument("--keep", type=Path, help="Keep the database in this folder.")
    options = parser.parse_args()
    folder = options.keep or Path(tempfile.mkdtemp(prefix="haocha-withdraw-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "withdraw.db"
    for suffix in ("", "-wal", "-shm", ".key"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    started = time.perf_counter()
    build(db, options.ratings, options.spot_checks, options.history)
    built = time.perf_counter() - started
    conn = sqlite3.connect(db)
    if options.drop_indexes:
        for name in INDEXES:
            conn.execute(f"DROP INDEX IF EXISTS {name}")
    cases = conn.execute("SELECT count(*) FROM cases WHERE rating_id IN (SELECT id FROM ratings WHERE batch_id = 2)"
                         ).fetchone()[0]
    conn.close()
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "haocha_cli", "--db", str(db), "--operator", "city", "batches", "withdraw",
                    "2", "--reason", "benchmark"], check=True, capture_output=True)
    took = time.perf_counter() - started
    left = sqlite3.connect(db).execute("SELECT count(*) FROM ratings WHERE batch_id = 2").fetchone()[0]
    assert left == 0, left
    print(f"withdrew {options.ratings:,} ratings and {cases:,} cases from"
          f" {options.ratings + max(options.history, options.spot_checks):,}, beside {options.spot_checks:,} spot-checks"
          f" ({'without' if options.drop_indexes else 'with'} the indexes; built in {built:.0f} s):"
          f" {took:.2f} s")
    if not options.keep:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
