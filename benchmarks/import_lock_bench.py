"""The write lock during a large import (issue 22 item 2): how long a small write waits while `haocha import` runs.

Generates import_bench.py's file, starts `haocha import` on it in a fresh database (a child process), and every
100 ms while it runs makes a small write from this process as the rating page makes one: its own connection with
a 10 s busy timeout, BEGIN IMMEDIATE, an INSERT of a rating, and (so as to leave the database as the import left
it) ROLLBACK instead of COMMIT. Prints the import's total time and, beside it, the longest wait of those writes,
how many waited more than 3 s and how many failed after the busy timeout (the rating page's 503):

    python benchmarks/import_lock_bench.py --rows 1000000
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from import_bench import generate  # noqa: E402

BUSY_TIMEOUT = 10.0  # seconds, as `haocha serve` waits for the lock
EVERY = 0.1


def small_write(db: Path) -> tuple[float, bool]:
    """(seconds waited for the write lock and the write, whether it got it) of one rating-page-like write."""
    started = time.perf_counter()
    conn = sqlite3.connect(str(db), timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO rating_rows (source, rating_id, batch_id, rated_at, day, window_code, county_code,"
                     " mode, channel, level, rating_index, weights_version) VALUES ('serve', 'lock-bench', 0,"
                     " '2026-01-01 10:00:00', '2026-01-01', 'LC01', '370213', 'offline', '二维码', 5, 100, 'V1.0')")
        conn.execute("ROLLBACK")
        return time.perf_counter() - started, True
    except sqlite3.OperationalError:
        return time.perf_counter() - started, False
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20240506)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="haocha-lock-bench-"))
    try:
        csv_path = work / "ratings.csv"
        generate(csv_path, args.rows, args.seed)
        db = work / "haocha.db"
        env = dict(os.environ, HAOCHA_DB=str(db), HAOCHA_NOW="2026-01-01T00:00:00")
        haocha = [sys.executable, "-m", "haocha_cli"]
        subprocess.run([*haocha, "init"], env=env, check=True, capture_output=True)
        started = time.perf_counter()
        proc = subprocess.Popen([*haocha, "import", str(csv_path)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        waits: list[float] = []
        failed = 0
        done_at = [started]  # when each write that got the lock was done
        while proc.poll() is None:
            seconds, ok = small_write(db)
            waits.append(seconds)
            failed += not ok
            if ok:
                done_at.append(time.perf_counter())
            time.sleep(EVERY)
        total = time.perf_counter() - started
        if proc.returncode:
            print(f"the import failed (exit {proc.returncode})", file=sys.stderr)
            return 1
        longest = max(waits, default=0.0)
        done_at.append(time.perf_counter())
        gap = max(b - a for a, b in zip(done_at, done_at[1:], strict=False))
        print(f"command         : python benchmarks/import_lock_bench.py --rows {args.rows}")
        print(f"haocha import   : {total:7.2f} s  ({args.rows:,} rows)")
        print(f"small writes    : {len(waits):,} made, one every {EVERY:.1f} s while the import ran")
        print(f"longest wait    : {longest:7.2f} s  (target <= 3.0); {sum(w > 3 for w in waits)} waited > 3 s,"
              f" {failed} failed after the {BUSY_TIMEOUT:.0f} s busy timeout")
        ranked = sorted(waits)
        if ranked:
            print(f"typical wait    : {statistics.median(ranked):7.2f} s  median; 95th percentile"
                  f" {ranked[min(len(ranked) - 1, int(0.95 * len(ranked)))]:.2f} s")
        print(f"lock held       : {gap:7.2f} s  the longest time no small write got through (about how long the"
              " import held the write lock at once)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
