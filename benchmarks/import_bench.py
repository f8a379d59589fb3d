"""Import speed: haocha import against `sqlite3 .import` of the same CSV into a plain table.

Generates a CSV in the bureau's Chinese-header format (评价编号, 评价时间, 窗口编码 … and one column per
indicator by its Chinese name), imports it with `haocha import` into a fresh database (a child process, timed,
its peak RSS read from wait4), then loads the same file with the sqlite3 shell's `.import` into a plain table,
and prints both times and the ratio; then the floor under any import in Python: the same rows, unchecked,
loaded by Python's csv and sqlite3 modules into a plain table and into haocha's ratings table
(benchmarks/python_floor.py), and SQLite alone writing what the import stored (INSERT … SELECT from
temporary copies into a fresh database: no parsing, no Python). Run it with two sizes to see whether memory stays flat:

    python benchmarks/import_bench.py --rows 1000000
    python benchmarks/import_bench.py --rows 100000
    python benchmarks/import_bench.py --rows 1000000 --index-costs   # and what each index of ratings costs

Needs the `sqlite3` command-line shell (apt-get install sqlite3). The data are reproducible (--seed).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

HEADER = ["评价编号", "评价时间", "窗口编码", "评价渠道", "事项编码", "评价等级", "办件编号", "评价次数", "评价内容",
          "联系电话", "是否匿名", "工作人员", "差评问题",
          "着装规范", "举止规范", "公示材料", "环境秩序", "便民设施", "服务规范", "耐心解答", "办理时限", "一次办好",
          "网办便捷", "廉洁自律", "公平公正"]
INDICATORS = ["A1", "A2", "B1", "B2", "B3", "C1", "C2", "D1", "D2", "D3", "E1", "E2"]
OFFLINE_ONLY = {"A1", "A2", "B2", "B3"}
ONLINE_ONLY = {"D3"}
# The default catalogue's windows (examples/qingdao.toml): counters and each county's online channel.
OFFLINE = ["SN01", "SN02", "SB01", "SB02", "HD01", "HD02", "LS01", "LC01", "LC02", "CY01", "CY02", "JM01", "JZ01",
           "PD01", "LX01"]
ONLINE = ["SNWS", "SBWS", "HDWS", "LSWS", "LCWS", "CYWS", "JMWS", "JZWS", "PDWS", "LXWS"]
ITEMS = ["XK01", "XK02", "XK03", "XK04", "XK05", "XK06", "XK07", "XK08"]
LEVELS = ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
LEVEL_WEIGHTS = [70, 20, 7, 2, 1]  # about 3 % bad reviews, each opening a rectification case
COMMENTS = ["服务热情周到", "办理很快，一次办好", "工作人员耐心解答", "等待时间有点长", "材料说明不够清楚",
            "<b>很好</b> 👍", "希望增加自助终端"]


def generate(path: Path, rows: int, seed: int = 20240506, encoding: str = "utf-8") -> None:
    """A rating export as the bureau's devices and channels produce it, in time order over 2021-2025."""
    rng = random.Random(seed)
    phones = [f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}" for _ in range(20_000)]
    # Ratings come while the halls are open: the working days of 2021-2025 (China's official calendar, so
    # no hall-device rating falls on a holiday), 09:00-12:00 and 13:30-17:00. Five years keep a window's
    # pace near a real counter's (a rating every ten minutes or so), so the burst rule flags what it would
    # flag in a real export, not every rating.
    import chinese_calendar

    days = [datetime(2021, 1, 1) + timedelta(days=d) for d in range(1826)]
    days = [d for d in days if chinese_calendar.is_workday(d.date())]
    open_seconds = 6.5 * 3600
    step = len(days) * open_seconds / rows
    scope = dict.fromkeys(OFFLINE, "offline") | dict.fromkeys(ONLINE, "online")
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i in range(rows):
            window = rng.choice(OFFLINE) if rng.random() < 0.8 else rng.choice(ONLINE)
            mode = scope[window]
            channel = (rng.choice(["窗口评价器", "二维码", "短信评价", "政务大厅平板电脑"]) if mode == "offline"
                       else rng.choice(["PC端", "移动服务端", "网上评价"]))
            level = rng.choices(LEVELS, LEVEL_WEIGHTS)[0]
            real_name = rng.random() < 0.35
            phone = rng.choice(phones) if real_name else ""
            scores = [""] * len(INDICATORS)
            if rng.random() < 0.2:
                allowed = [k for k, c in enumerate(INDICATORS)
                           if not (c in OFFLINE_ONLY and mode == "online") and not (c in ONLINE_ONLY and mode == "offline")]
                for k in rng.sample(allowed, 3):
                    scores[k] = str(rng.randint(2, 5))
            bad = level in ("不满意", "非常不满意")
            problems = rng.choice(["办理时限", "C1,C2", "一次办好"]) if bad and rng.random() < 0.7 else ""
            writer.writerow([
                f"PJ{seed % 1000:03d}{i:09d}", _when(days, step * i).strftime("%Y-%m-%d %H:%M:%S"), window, channel,
                rng.choice(ITEMS), level, f"BJ2024{i:010d}", "1", rng.choice(COMMENTS) if rng.random() < 0.1 else "",
                phone, "否" if real_name else "是", f"S{rng.randrange(1, 60):03d}" if rng.random() < 0.3 else "",
                problems, *scores,
            ])


def _when(days: list[datetime], position: float) -> datetime:
    day, second = divmod(int(position), int(6.5 * 3600))
    morning = 3 * 3600
    start = timedelta(hours=9) if second < morning else timedelta(hours=13, minutes=30) - timedelta(seconds=morning)
    return days[day] + start + timedelta(seconds=second)


def write_floor(stored: Path, fresh: Path) -> tuple[float, dict[str, int]]:
    """Seconds SQLite alone takes to write what the import stored (its ratings and daily aggregates) into a
    fresh haocha database, and the row counts: INSERT … SELECT from temporary copies, so no parsing, no
    binding, no Python in the timed part, just SQLite's own inserts, indexes and commit."""
    import sqlite3

    conn = sqlite3.connect(str(fresh), isolation_level=None)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("PRAGMA cache_size = -32768")  # as the importer sets it
    conn.execute("ATTACH ? AS stored", [str(stored)])
    # The tables under the views (migration 13), each counted under the name a reader knows.
    tables = {"batches": "batches", "contacts": "contacts", "ratings": "rating_rows", "daily_agg": "daily_agg_rows",
              "daily_indicator_agg": "daily_indicator_agg_rows"}
    counts = {}
    for name, table in tables.items():  # untimed: the copies to read from (aggregates shuffled, as a file brings them)
        shuffle = " ORDER BY random()" if table.startswith("daily") else ""
        conn.execute(f"CREATE TEMP TABLE copy_{name} AS SELECT * FROM stored.{table}{shuffle}")
        counts[name] = conn.execute(f"SELECT count(*) FROM copy_{name}").fetchone()[0]
    conn.execute("DELETE FROM main.daily_agg_rows")
    conn.execute("DELETE FROM main.daily_indicator_agg_rows")
    keys = {"ratings": "id", "daily_agg": "day, window_code, item_code, channel, part",
            "daily_indicator_agg": "day, window_code, item_code, channel, indicator_code, part"}
    started = time.perf_counter()
    conn.execute("BEGIN")
    for name, table in tables.items():
        order = f" ORDER BY {keys[name]}" if name in keys else ""
        conn.execute(f"INSERT INTO main.{table} SELECT * FROM copy_{name}{order}")
    conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return seconds, counts


def index_costs(stored: Path, fresh: Path, env: dict[str, str]) -> list[tuple[str, float]]:
    """Seconds SQLite alone takes to write the stored batch's ratings (INSERT … SELECT from a temporary copy, in
    id order, one transaction) into the ratings table of a fresh haocha database: with every index the schema
    has, with none but the table's own key and UNIQUE (source, rating_id), and with each index alone — what each
    of the indexes the other issues query by costs an import (--index-costs)."""
    import sqlite3

    haocha = [sys.executable, "-m", "haocha_cli"]
    indexes = [name for (name,) in sqlite3.connect(str(stored)).execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'rating_rows' AND sql IS NOT NULL"
        " ORDER BY name")]
    results = []
    for label, keep in [("every index", None), ("no secondary index", ()),
                        *((f"only {name}", (name,)) for name in indexes)]:
        for suffix in ("", "-wal", "-shm", ".key"):
            Path(str(fresh) + suffix).unlink(missing_ok=True)
        subprocess.run([*haocha, "init"], env=dict(env, HAOCHA_DB=str(fresh)), check=True, capture_output=True)
        conn = sqlite3.connect(str(fresh), isolation_level=None)
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("PRAGMA cache_size = -32768")  # as the importer sets it
        if keep is not None:
            for name in indexes:
                if name not in keep:
                    conn.execute(f"DROP INDEX {name}")
        conn.execute("ATTACH ? AS stored", [str(stored)])
        conn.execute("CREATE TEMP TABLE copy AS SELECT * FROM stored.rating_rows")  # untimed
        conn.execute("DETACH stored")
        started = time.perf_counter()
        conn.execute("BEGIN")
        conn.execute("INSERT INTO main.rating_rows SELECT * FROM copy ORDER BY id")
        conn.execute("COMMIT")
        results.append((label, time.perf_counter() - started))
        conn.close()
    return results


def tuple_write(stored: Path, fresh: Path, env: dict[str, str]) -> float:
    """Seconds Python's sqlite3 module takes to write the stored batch's ratings with no Python code per row:
    the rows already tuples of their stored values (untimed), flattened in C into one multi-row INSERT per
    statement, into a fresh haocha database's ratings table (every index) — what a column-wise importer would
    still pay to write them through the one SQLite driver a process may use (--index-costs)."""
    import sqlite3
    from itertools import chain

    rows = sqlite3.connect(str(stored)).execute("SELECT * FROM rating_rows ORDER BY id").fetchall()
    for suffix in ("", "-wal", "-shm", ".key"):
        Path(str(fresh) + suffix).unlink(missing_ok=True)
    subprocess.run([sys.executable, "-m", "haocha_cli", "init"], env=dict(env, HAOCHA_DB=str(fresh)), check=True,
                   capture_output=True)
    conn = sqlite3.connect(str(fresh), isolation_level=None)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("PRAGMA cache_size = -32768")  # as the importer sets it
    width = len(rows[0])
    per = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width
    per = min(per, 1000)
    one = "(" + ", ".join("?" * width) + ")"
    many = "INSERT INTO rating_rows VALUES " + ", ".join([one] * per)
    whole = len(rows) - len(rows) % per
    started = time.perf_counter()
    conn.execute("BEGIN")
    for start in range(0, whole, per):
        conn.execute(many, list(chain.from_iterable(rows[start:start + per])))
    conn.executemany(f"INSERT INTO rating_rows VALUES {one}", rows[whole:])
    conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def _run_child(args: list[str], env: dict[str, str] | None = None, out: Path | None = None
               ) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of a child process, from wait4; stdout to ``out``."""
    started = time.perf_counter()
    with (out.open("wb") if out else open(os.devnull, "wb")) as stdout, \
            tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(args, env=env, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        if code:
            stderr.seek(0)
            sys.stderr.write(stderr.read().decode("utf-8", "replace"))
    return elapsed, usage.ru_maxrss / 1024, code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20240506)
    parser.add_argument("--keep", type=Path, help="keep the CSV and databases in this folder")
    parser.add_argument("--index-costs", action="store_true",
                        help="also time SQLite alone writing the ratings with every index, none, and each alone")
    args = parser.parse_args()
    sqlite3_shell = shutil.which("sqlite3")
    if sqlite3_shell is None:
        print("the sqlite3 command-line shell is needed: apt-get install sqlite3", file=sys.stderr)
        return 1
    work = args.keep or Path(tempfile.mkdtemp(prefix="haocha-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    csv_path = work / f"ratings-{args.rows}.csv"
    started = time.perf_counter()
    generate(csv_path, args.rows, args.seed)
    size_mb = csv_path.stat().st_size / 1e6
    print(f"generated {args.rows:,} rows ({size_mb:.1f} MB) in {time.perf_counter() - started:.1f} s: {csv_path}")

    db = work / "haocha.db"
    for suffix in ("", "-wal", "-shm", ".key"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    env = dict(os.environ, HAOCHA_DB=str(db), HAOCHA_NOW="2026-01-01T00:00:00")
    haocha = [sys.executable, "-m", "haocha_cli"]
    subprocess.run([*haocha, "init"], env=env, check=True, capture_output=True)
    report = work / "summary.json"
    seconds, rss, code = _run_child([*haocha, "import", str(csv_path), "--format", "json"], env, report)
    if code:
        return code
    [summary] = json.loads(report.read_text(encoding="utf-8"))

    plain = work / "plain.db"
    plain.unlink(missing_ok=True)
    sqlite_seconds, sqlite_rss, code = _run_child([sqlite3_shell, str(plain), "-cmd", ".mode csv",
                                                   f".import '{csv_path}' ratings"])
    if code:
        return code
    # The floor: Python's sqlite3 loading the same rows with no checking at all (benchmarks/python_floor.py).
    floor = {}
    for into in ("plain", "ratings"):
        target = work / f"floor-{into}.db"
        for suffix in ("", "-wal", "-shm", ".key"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        if into == "ratings":
            subprocess.run([*haocha, "init"], env=dict(env, HAOCHA_DB=str(target)), check=True, capture_output=True)
        floor[into], _, code = _run_child([sys.executable, str(Path(__file__).with_name("python_floor.py")),
                                           str(csv_path), str(target), "--into", into])
        if code:
            return code
    fresh = work / "floor-sqlite.db"
    for suffix in ("", "-wal", "-shm", ".key"):
        Path(str(fresh) + suffix).unlink(missing_ok=True)
    subprocess.run([*haocha, "init"], env=dict(env, HAOCHA_DB=str(fresh)), check=True, capture_output=True)
    stored_seconds, stored = write_floor(db, fresh)
    parts = summary["seconds"]
    core = seconds - parts["cases"] - parts["flags"]
    print(f"command         : python benchmarks/import_bench.py --rows {args.rows} --seed {args.seed}")
    print(f"haocha import   : {seconds:7.2f} s  {args.rows / seconds:>10,.0f} rows/s  peak RSS {rss:6.1f} MB"
          f"  (read {summary['rows_read']:,}, accepted {summary['accepted']:,}, duplicate {summary['duplicate']:,},"
          f" rejected {summary['rejected']:,})")
    print(f"  of which        {parts['cases']:7.2f} s opening {summary['cases_opened']:,} rectification cases"
          f" (cases.open_cases), {parts['flags']:.2f} s scanning for suspicious ratings ({summary['flags_raised']:,}"
          " flags, flags.scan_flags)")
    print(f"  import core   : {core:7.2f} s  (process start, read, validate, write ratings and aggregates, commit)")
    print(f"sqlite3 .import : {sqlite_seconds:7.2f} s  {args.rows / sqlite_seconds:>10,.0f} rows/s  peak RSS"
          f" {sqlite_rss:6.1f} MB")
    print(f"ratio           : {seconds / sqlite_seconds:7.2f}  (issue 22: target <= 3.0, stretch 2.0);"
          f" import core alone {core / sqlite_seconds:.2f}")
    print(f"floor, Python   : {floor['plain']:7.2f} s  ratio {floor['plain'] / sqlite_seconds:.2f}  the rows unchecked"
          " into a plain table (csv module + sqlite3 module)")
    print(f"                  {floor['ratings']:7.2f} s  ratio {floor['ratings'] / sqlite_seconds:.2f}  the rows unchecked"
          " into haocha's ratings table, bound as the importer binds them")
    print(f"floor, SQLite   : {stored_seconds:7.2f} s  ratio {stored_seconds / sqlite_seconds:.2f}  SQLite alone writing what"
          f" the import stored ({stored['ratings']:,} ratings, {stored['daily_agg']:,} + {stored['daily_indicator_agg']:,}"
          " aggregate rows) from temporary copies")
    if args.index_costs:
        print("the ratings' indexes (SQLite alone writing the stored ratings, INSERT … SELECT, one transaction):")
        for label, spent in index_costs(db, work / "floor-indexes.db", env):
            print(f"  {label:32s}: {spent:7.2f} s  ratio {spent / sqlite_seconds:.2f}")
        spent = tuple_write(db, work / "floor-tuples.db", env)
        print(f"the stored ratings as tuples, written through Python's sqlite3 with no Python per row: {spent:7.2f} s"
              f"  ratio {spent / sqlite_seconds:.2f}")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
