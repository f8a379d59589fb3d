"""Speed of the figures (issue 4): `haocha index` and `haocha rank` on 1M and 10M ratings, against
`haocha --version`; and `haocha --help` against `sqlite-utils --help`.

    python benchmarks/index_bench.py [--sizes 1000000 10000000] [--repeat 5] [--keep DIR]

The ratings are generated in SQL (a year, every window, item and channel) and the daily aggregates built
from them exactly as the import keeps them; the index commands read only the aggregates. Prints the median
wall time of each command over --repeat runs, each a fresh process as a user would start it.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHANNELS = ["二维码", "政务大厅平板电脑", "短信", "PC端", "移动服务端"]


def build(db: Path, n: int) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "haocha_cli", "init", "--db", str(db)], check=True, capture_output=True)
    conn = sqlite3.connect(db)
    windows = conn.execute("SELECT code, county_code, kind FROM windows ORDER BY code").fetchall()
    conn.execute("CREATE TEMP TABLE w (i INTEGER PRIMARY KEY, code TEXT, county TEXT, kind TEXT)")
    conn.executemany("INSERT INTO w VALUES (?, ?, ?, ?)", [(i, *w) for i, w in enumerate(windows)])
    conn.execute("CREATE TEMP TABLE ch (i INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO ch VALUES (?, ?)", list(enumerate(CHANNELS)))
    conn.execute("INSERT INTO batches (id, file_name, sha256, source, profile, format, operator, imported_at,"
                 " rows_read, accepted, rejected, duplicate) VALUES (1, 'bench', 'bench', 'bench', 'canonical',"
                 " 'csv', 'city', '2026-01-01 00:00:00', ?, ?, 0, 0)", [n, n])
    # Pseudo-random but deterministic: multiplicative hashing of the row number.
    conn.execute(f"""
        WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < {n}),
        r AS (SELECT x, date('2025-06-01', '+' || ((x * 2654435761 / 1013) % 365) || ' days') AS day,
                     (x * 40503 / 97) % {len(windows)} AS wi, (x * 9973 / 31) % 8 AS item,
                     (x * 7919 / 13) % {len(CHANNELS)} AS ci,
                     1 + min(4, (x * 2246822519 / 7) % 100 / 12) AS level FROM seq)
        INSERT INTO ratings (source, rating_id, batch_id, rated_at, day, window_code, county_code, mode, channel,
                             item_code, level, rating_index, weights_version)
        SELECT 'bench', 'B' || x, 1, day || ' 10:00:00', day, w.code, w.county, w.kind, ch.name,
               'XK0' || (item + 1), level, (level - 1) * 25.0, 'V1.0'
        FROM r JOIN w ON w.i = r.wi JOIN ch ON ch.i = r.ci
    """)
    conn.execute("""
        INSERT INTO daily_agg (day, window_code, item_code, channel, county_code, mode, n, l1, l2, l3, l4, l5,
                               index_sum, index_sq)
        SELECT day, window_code, item_code, channel, county_code, mode, count(*), sum(level = 1), sum(level = 2),
               sum(level = 3), sum(level = 4), sum(level = 5), sum(rating_index), sum(rating_index * rating_index)
        FROM ratings GROUP BY day, window_code, item_code, channel
    """)
    conn.commit()
    conn.close()
    return time.perf_counter() - started


def timed(args: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="Keep the databases in this folder.")
    options = parser.parse_args()
    haocha = shutil.which("haocha") or sys.exit("haocha is not on PATH: pip install . first")
    folder = options.keep or Path(tempfile.mkdtemp(prefix="haocha-index-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    version = timed([haocha, "--version"], options.repeat)
    print(f"haocha --version: {version * 1000:.0f} ms (median of {options.repeat})")
    sqlite_utils = shutil.which("sqlite-utils")
    if sqlite_utils:
        print(f"haocha --help: {timed([haocha, '--help'], options.repeat) * 1000:.0f} ms; "
              f"sqlite-utils --help: {timed([sqlite_utils, '--help'], options.repeat) * 1000:.0f} ms")
    for n in options.sizes:
        db = folder / f"bench-{n}.db"
        for suffix in ("", "-wal", "-shm", ".key"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        built = build(db, n)
        agg_rows = sqlite3.connect(db).execute("SELECT count(*) FROM daily_agg").fetchone()[0]
        index = timed([haocha, "--db", str(db), "index", "--by", "county", "--period", "2026-01", "-f", "json"],
                      options.repeat)
        rank = timed([haocha, "--db", str(db), "rank", "--by", "county", "--period", "2026-01", "-f", "json"],
                     options.repeat)
        print(f"{n:>11,} ratings ({agg_rows:,} aggregate rows, built in {built:.0f} s): "
              f"index --by county {index * 1000:.0f} ms ({index / version:.2f}× --version), "
              f"rank {rank * 1000:.0f} ms ({rank / version:.2f}× --version)")


if __name__ == "__main__":
    main()
