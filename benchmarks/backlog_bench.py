"""Costs that must not grow with the backlog (issue 22 item 4): `status`, `cases list`, `report daily`, `index`,
`rank` and `report monthly` on a database of --ratings ratings and --open-cases open cases, each against
`haocha --version` measured in the same run.

    python benchmarks/backlog_bench.py [--ratings 1000000] [--open-cases 50000] [--repeat 5] [--keep DIR]
    python benchmarks/backlog_bench.py --ratings 10000000 --keep /tmp/backlog   # the issue's size
    python benchmarks/backlog_bench.py --keep /tmp/backlog --reuse              # time an existing build again

The database is made by `haocha init` and filled in SQL, as the import would have stored it: the ratings in
time order over the working days of 2021–2025 (09:00–17:00, every window, item and matching channel; 35 %
real-name raters from 20,000 phones, 20 % with three indicator scores, 10 % commented, a case number on each),
one batch per month, the daily aggregates (`daily_agg`, `daily_indicator_agg`) summed from the ratings at the
grain of the schema's keys, a rectification case for every bad review (about 3 %; more when needed for the open
backlog) with its deadlines from the working-day calendar and its `case.open` audit event, of which
--open-cases are open (half the most recent, half spread over the five years, so that their deadlines
spread over every year: new, rectifying, awaiting approval, reopened, appealed) and the rest closed, and a
burst flag on one rating in a hundred. "Now" is 2026-01-01 08:00 (HAOCHA_NOW); the daily report is that of
2025-12-31, the monthly report, index and rank those of 2025-12.

Each command runs as a child process, as a user starts it; the rounds interleave the commands (so that the
shared machine's load falls on all alike) and each figure is the median of --repeat rounds, printed with the
command that produced it and its ratio to `haocha --version`. Targets: `status`, `cases list` and
`report daily` ≤ 5×; `index`, `rank` and `report monthly` ≤ 3×.
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
from datetime import date, timedelta
from pathlib import Path

from import_bench import COMMENTS

OFFLINE_CHANNELS = ["窗口评价器", "二维码", "短信评价", "政务大厅平板电脑"]
ONLINE_CHANNELS = ["PC端", "移动服务端", "网上评价"]
NOW = "2026-01-01T08:00:00"
DAY, MONTH = "2025-12-31", "2025-12"
OPEN_STATES = ["new", "new", "new", "new", "rectifying", "rectifying", "rectifying", "awaiting_approval",
               "reopened", "appealed"]
TARGETS = {"status": 5.0, "cases list": 5.0, "report daily": 5.0, "index": 3.0, "rank": 3.0,
           "report monthly": 3.0}


def build(db: Path, n: int, open_cases: int) -> dict[str, int]:
    """Fill a fresh `haocha init` database; returns the row counts."""
    env = dict(os.environ, HAOCHA_NOW=NOW)
    subprocess.run([sys.executable, "-m", "haocha_cli", "--db", str(db), "init"], env=env, check=True,
                   capture_output=True)
    import chinese_calendar

    from haocha_cli import audit
    from haocha_cli.config import load_config
    from haocha_cli.db import open_db
    from haocha_cli.official_calendar import WorkCalendar

    config = load_config(db_path=db)
    revisit_days, rectify_days = int(config["deadlines.revisit_days"]), int(config["deadlines.rectify_days"])
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")  # a build, not a use: no WAL of gigabytes
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("BEGIN")
    days = [date(2021, 1, 1) + timedelta(days=d) for d in range((date(2025, 12, 31) - date(2021, 1, 1)).days + 1)]
    days = [d for d in days if chinese_calendar.is_workday(d)]
    conn.execute("CREATE TEMP TABLE d (i INTEGER PRIMARY KEY, day TEXT)")
    conn.executemany("INSERT INTO d VALUES (?, ?)", [(i, d.isoformat()) for i, d in enumerate(days)])
    windows = conn.execute("SELECT code, county_code, kind FROM windows WHERE active ORDER BY code").fetchall()
    conn.execute("CREATE TEMP TABLE w (i INTEGER PRIMARY KEY, code TEXT, county TEXT, kind TEXT)")
    conn.executemany("INSERT INTO w VALUES (?, ?, ?, ?)", [(i, *w) for i, w in enumerate(windows)])
    items = [code for (code,) in conn.execute("SELECT code FROM items ORDER BY code")]
    conn.execute("CREATE TEMP TABLE it (i INTEGER PRIMARY KEY, code TEXT)")
    conn.executemany("INSERT INTO it VALUES (?, ?)", list(enumerate(items)))
    # Channels and indicators by the window's kind: (kind, i) -> name.
    conn.execute("CREATE TEMP TABLE ch (kind TEXT, i INTEGER, name TEXT, PRIMARY KEY (kind, i))")
    conn.executemany("INSERT INTO ch VALUES (?, ?, ?)", [("offline", i, c) for i, c in enumerate(OFFLINE_CHANNELS)]
                     + [("online", i, c) for i, c in enumerate(ONLINE_CHANNELS)])
    indicators = conn.execute("SELECT code, scope FROM indicators ORDER BY code").fetchall()
    allowed = {kind: [c for c, scope in indicators if scope in (kind, "common")] for kind in ("offline", "online")}
    conn.execute("CREATE TEMP TABLE ind (kind TEXT, i INTEGER, code TEXT, PRIMARY KEY (kind, i))")
    conn.executemany("INSERT INTO ind VALUES (?, ?, ?)", [(k, i, c) for k, codes in allowed.items()
                                                          for i, c in enumerate(codes)])
    conn.execute("CREATE TEMP TABLE cm (i INTEGER PRIMARY KEY, text TEXT)")
    conn.executemany("INSERT INTO cm VALUES (?, ?)", list(enumerate(COMMENTS)))
    (version,) = conn.execute("SELECT version FROM indicator_versions ORDER BY active_from DESC LIMIT 1").fetchone()
    conn.execute("""WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < 20000)
        INSERT INTO contacts (id, phone_hash, phone_enc, phone_masked)
        SELECT x, 'bench-' || x, 'bench', '13' || (x % 10) || '****' || printf('%04d', x % 10000) FROM seq""")
    months = sorted({d.isoformat()[:7] for d in days})
    conn.executemany("INSERT INTO batches (id, file_name, sha256, source, profile, format, operator, imported_at,"
                     " rows_read, accepted, rejected, duplicate) VALUES (?, ?, ?, 'bench', 'canonical', 'csv',"
                     " 'city', ?, 0, 0, 0, 0)",
                     [(i + 1, f"ratings-{m}.csv", f"bench-{m}", f"{m}-28 20:00:00") for i, m in enumerate(months)])
    conn.execute("CREATE TEMP TABLE bm (month TEXT PRIMARY KEY, id INTEGER)")
    conn.executemany("INSERT INTO bm VALUES (?, ?)", [(m, i + 1) for i, m in enumerate(months)])
    # Enough bad reviews for the open backlog, and for closed cases beside it: 3 %, or more on a small database.
    every = max(2, min(33, n // (open_cases * 6 // 5 + 1)))
    # The ratings' own indexes are made after the rows (a sort each, not a B-tree insert per row and index).
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ratings'"
                           " AND sql IS NOT NULL").fetchall()
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    # Pseudo-random but deterministic: multiplicative hashing of the row number; in time order, like a file.
    conn.execute(f"""
        WITH RECURSIVE seq(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM seq WHERE x < {n - 1}),
        r AS (SELECT x, x * {len(days)} / {n} AS di, (x * 40503 + x / 7) % {len(windows)} AS wi,
                     (x * 2654435761) % 1000 AS h, (x * 9973 / 31) % {len(items)} AS ii,
                     (x * 2246822519 / 7) % 23400 AS s FROM seq),
        s AS (SELECT r.*, d.day, w.code, w.county, w.kind,
                     CASE WHEN x % {every} = 0 THEN 1 + (x / {every}) % 2 WHEN h < 730 THEN 5 WHEN h < 940 THEN 4
                          ELSE 3 END AS level,
                     CASE WHEN s < 10800 THEN 32400 + s ELSE 48600 + s - 10800 END AS second,
                     CASE w.kind WHEN 'offline' THEN {len(allowed['offline'])} ELSE {len(allowed['online'])} END
                         AS nl,
                     CASE w.kind WHEN 'offline' THEN {len(OFFLINE_CHANNELS)} ELSE {len(ONLINE_CHANNELS)} END AS nc
              FROM r JOIN d ON d.i = r.di JOIN w ON w.i = r.wi)
        INSERT INTO rating_rows (id, source, rating_id, batch_id, line, rated_at, day, window_code, county_code, mode,
                             channel, item_code, level, rating_index, weights_version, scores, problems, case_no,
                             comment, contact_id, anonymous, staff_code)
        SELECT x + 1, 'bench', printf('PJ%010d', x), bm.id, x + 1,
               day || printf(' %02d:%02d:%02d', second / 3600, second / 60 % 60, second % 60), day, code, county,
               kind, (SELECT name FROM ch WHERE ch.kind = s.kind AND ch.i = x % nc),
               (SELECT code FROM it WHERE it.i = ii), level, (level - 1) * 25.0, '{version}',
               CASE WHEN h % 5 = 0 THEN (
                   SELECT json_group_object(code, 2 + (x / 3 + ind.i) % 4) FROM ind WHERE ind.kind = s.kind
                   AND ind.i IN (x % nl, (x + 1) % nl, (x + 2) % nl)) END,
               CASE WHEN level <= 2 AND h % 10 < 7 THEN (
                   SELECT json_array(code) FROM ind WHERE ind.kind = s.kind AND ind.i = x % nl) END,
               printf('BJ%010d', x),
               CASE WHEN h % 10 = 3 THEN (SELECT text FROM cm WHERE cm.i = x % {len(COMMENTS)}) END,
               CASE WHEN h % 100 < 35 THEN 1 + (x * 7919) % 20000 END, h % 100 >= 35,
               CASE WHEN h % 10 < 3 THEN printf('S%03d', 1 + x % 59) END
        FROM s JOIN bm ON bm.month = substr(day, 1, 7)
    """)
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("UPDATE batches SET rows_read = n.c, accepted = n.c FROM (SELECT batch_id, count(*) AS c"
                 " FROM ratings GROUP BY batch_id) AS n WHERE n.batch_id = batches.id")
    _aggregates(conn)
    # Deadlines from the working-day calendar, as cases.open_cases computes them, once per rating day.
    cal = WorkCalendar({date.fromisoformat(d): bool(w) for d, w in
                        conn.execute("SELECT day, is_workday FROM calendar_overrides")})  # bureau_calendar's
    conn.execute("CREATE TEMP TABLE due (day TEXT PRIMARY KEY, rectify_due TEXT, revisit_due TEXT)")
    conn.executemany("INSERT INTO due VALUES (?, ?, ?)", [(d.isoformat(), cal.add_workdays(d, rectify_days).isoformat(),
                                                           cal.add_workdays(d, revisit_days).isoformat())
                                                          for d in days])
    conn.execute("CREATE TEMP TABLE bad AS SELECT id, row_number() OVER (ORDER BY id DESC) AS recent FROM ratings"
                 " WHERE level <= 2")
    half = open_cases // 2
    conn.execute("CREATE TEMP TABLE opened (id INTEGER PRIMARY KEY)")
    conn.execute("INSERT INTO opened SELECT id FROM bad WHERE recent <= ?", [half])
    conn.execute("INSERT INTO opened SELECT id FROM bad WHERE recent > ? ORDER BY (id * 2654435761) % 1000003"
                 " LIMIT ?", [half, open_cases - half])
    states = " ".join(f"WHEN {i} THEN '{s}'" for i, s in enumerate(OPEN_STATES))
    conn.execute(f"""
        INSERT INTO cases (rating_id, county_code, window_code, item_code, level, problems, staff_code, contact_id,
                           real_name, rated_at, state, classification, revisit_days, revisit_due, revisit_first_at,
                           revisit_reached, revisit_outcome, rectify_days, rectify_from, rectify_due, measures,
                           responsible, closed_at, resolved_at, on_time, reopen_count, opened_at, updated_at)
        SELECT r.id, r.county_code, r.window_code, r.item_code, r.level, r.problems, r.staff_code, r.contact_id,
               1 - r.anonymous, r.rated_at, CASE WHEN o.id IS NULL THEN 'closed' ELSE CASE r.id % 10 {states} END END,
               CASE WHEN o.id IS NULL THEN 'rectifiable' WHEN r.id % 10 = 7 THEN 'no_action'
                    WHEN r.id % 10 >= 4 THEN 'rectifiable' END, {revisit_days},
               CASE WHEN NOT r.anonymous THEN due.revisit_due END,
               CASE WHEN NOT r.anonymous AND (o.id IS NULL OR r.id % 5 > 0) THEN due.revisit_due || ' 10:00:00' END,
               CASE WHEN NOT r.anonymous AND (o.id IS NULL OR r.id % 5 > 0) THEN 1 ELSE 0 END,
               CASE WHEN NOT r.anonymous AND (o.id IS NULL OR r.id % 5 > 0) THEN 'reached' END,
               {rectify_days}, r.day, due.rectify_due,
               CASE WHEN o.id IS NULL THEN '已整改：加强窗口服务培训' END, CASE WHEN o.id IS NULL THEN '窗口负责人' END,
               CASE WHEN o.id IS NULL THEN due.rectify_due || ' 16:00:00' END,
               CASE WHEN o.id IS NULL THEN due.rectify_due || ' 16:00:00' END, CASE WHEN o.id IS NULL THEN 1 END,
               CASE WHEN o.id IS NOT NULL AND r.id % 10 = 8 THEN 1 ELSE 0 END, r.rated_at, r.rated_at
        FROM bad b JOIN ratings r ON r.id = b.id JOIN due ON due.day = r.day LEFT JOIN opened o ON o.id = r.id
        ORDER BY r.id
    """)
    conn.execute("""INSERT INTO flags (rating_id, rule, county_code, window_code, day, evidence, created_at)
        SELECT id, 'burst', county_code, window_code, day, json_object('count', 5, 'window', window_code, 'from',
               rated_at, 'to', rated_at, 'threshold', '5 within 10 min'), day || ' 20:00:00'
        FROM ratings WHERE id % 100 = 7""")
    conn.execute("COMMIT")
    # The cases' audit events, hash-chained as the import records them (audit.record_many).
    events = [("case.open", "cases", case_id, None, {"rating_id": rating, "county_code": county, "state": "new",
                                                     "rectify_due": due})
              for case_id, rating, county, due in
              conn.execute("SELECT id, rating_id, county_code, rectify_due FROM cases ORDER BY id")]
    conn.close()
    audit_db = open_db(db)  # back in WAL mode, as haocha keeps it
    audit_db.conn.execute("BEGIN")
    for i in range(0, len(events), 50_000):
        audit.record_many(audit_db, "city", events[i:i + 50_000])
    audit_db.conn.execute("COMMIT")
    audit_db.conn.close()
    conn = sqlite3.connect(db)
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("ratings", "daily_agg", "daily_indicator_agg", "cases", "flags", "audit_events")}
    counts["open"] = conn.execute("SELECT count(*) FROM cases WHERE state <> 'closed'").fetchone()[0]
    counts["deadlines"] = conn.execute("SELECT count(DISTINCT rectify_due) FROM cases WHERE state <> 'closed'"
                                       ).fetchone()[0]
    conn.close()
    return counts


def _aggregates(conn: sqlite3.Connection) -> None:
    """The daily aggregates from the ratings, at the grain of each table's primary key (whatever it is in this
    schema), with the sums the importer keeps (import_writer.BatchWriter._aggregate)."""
    def key(table: str) -> list[str]:
        info = conn.execute(f"PRAGMA table_info({table})").fetchall()
        return [row[1] for row in sorted((r for r in info if r[5]), key=lambda r: r[5])]

    agg = [c for c in key("daily_agg_rows") if c != "part"]  # part 0 (migration 13)
    conn.execute(f"""
        INSERT INTO daily_agg_rows ({', '.join(agg)}, county_code, mode, n, l1, l2, l3, l4, l5, index_sum, index_sq)
        SELECT {', '.join(agg)}, min(county_code), min(mode), count(*), sum(level = 1), sum(level = 2),
               sum(level = 3), sum(level = 4), sum(level = 5), sum(rating_index), sum(rating_index * rating_index)
        FROM ratings GROUP BY {', '.join(agg)}
    """)
    ind_key = [c for c in key("daily_indicator_agg_rows") if c != "part"]
    ind = [c if c != "indicator_code" else "j.key" for c in ind_key]
    conn.execute(f"""
        INSERT INTO daily_indicator_agg_rows ({', '.join(ind_key)}, county_code, mode, n, score_sum,
                                         score_sq, level_sum, level_sq, cross_sum)
        SELECT {', '.join(ind)}, min(county_code), min(mode), count(*), sum(j.value), sum(j.value * j.value),
               sum(level), sum(level * level), sum(j.value * level)
        FROM ratings, json_each(ratings.scores) AS j WHERE ratings.scores IS NOT NULL GROUP BY {', '.join(ind)}
    """)


def commands(haocha: str, db: Path, out: Path) -> dict[str, list[str]]:
    base = [haocha, "--db", str(db)]
    return {
        "--version": [haocha, "--version"],
        "status": [*base, "status"],
        "cases list": [*base, "cases", "list"],
        "report daily": [*base, "report", "daily", "--date", DAY, "--out", str(out), "--quiet"],
        "index": [*base, "index", "--by", "county", "--period", MONTH],
        "rank": [*base, "rank", "--by", "county", "--period", MONTH],
        "report monthly": [*base, "report", "monthly", "--month", MONTH, "--out", str(out), "--quiet"],
    }


def run(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    took = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.decode('utf-8', 'replace')}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--open-cases", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5, help="Rounds of every command; the median is printed (0: only build).")
    parser.add_argument("--keep", type=Path, help="Keep the database in this folder.")
    parser.add_argument("--reuse", action="store_true", help="Time the database --keep holds; do not build it.")
    options = parser.parse_args()
    bindir = Path(sys.executable).parent
    haocha = str(bindir / "haocha") if (bindir / "haocha").exists() else shutil.which("haocha")
    if haocha is None:
        sys.exit("haocha is not on PATH: pip install . first")
    folder = options.keep or Path(tempfile.mkdtemp(prefix="haocha-backlog-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "backlog.db"
    if not (options.reuse and db.exists()):
        for suffix in ("", "-wal", "-shm", ".key"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        started = time.perf_counter()
        counts = build(db, options.ratings, options.open_cases)
        print(f"built in {time.perf_counter() - started:.0f} s: {db}")
    else:
        conn = sqlite3.connect(db)
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("ratings", "daily_agg", "daily_indicator_agg", "cases", "flags", "audit_events")}
        counts["open"] = conn.execute("SELECT count(*) FROM cases WHERE state <> 'closed'").fetchone()[0]
        counts["deadlines"] = conn.execute("SELECT count(DISTINCT rectify_due) FROM cases WHERE state <> 'closed'"
                                           ).fetchone()[0]
        conn.close()
    print(f"{counts['ratings']:,} ratings, {counts['daily_agg']:,} + {counts['daily_indicator_agg']:,} aggregate"
          f" rows, {counts['cases']:,} cases of which {counts['open']:,} open ({counts['deadlines']:,} distinct"
          f" deadlines), {counts['flags']:,} flags, {counts['audit_events']:,} audit events;"
          f" {db.stat().st_size / 1e9:.2f} GB")
    if options.repeat == 0:
        return
    env = dict(os.environ, HAOCHA_NOW=NOW)
    env.pop("HAOCHA_DB", None)
    # As installed: with bytecode. A development shell may set PYTHONDONTWRITEBYTECODE, and then every command
    # compiles the haocha modules it imports from source, which --version hardly does; the bytecode goes to a
    # folder of this run, not beside the sources.
    if env.pop("PYTHONDONTWRITEBYTECODE", None) and "PYTHONPYCACHEPREFIX" not in env:
        env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    todo = commands(haocha, db, folder / "reports")
    # The same commands on a database just made by `haocha init`: what does not come from the backlog.
    empty = folder / "empty.db"
    for suffix in ("", "-wal", "-shm", ".key"):
        Path(str(empty) + suffix).unlink(missing_ok=True)
    subprocess.run([haocha, "--db", str(empty), "init"], env=env, check=True, capture_output=True)
    bare = commands(haocha, empty, folder / "reports-empty")
    times: dict[str, list[float]] = {name: [] for name in todo}
    bare_times: dict[str, list[float]] = {name: [] for name in todo}
    for name, args in todo.items():  # untimed: bytecode written, the database's pages in the page cache
        run(args, env)
        if name != "--version":
            run(bare[name], env)
    loads = []
    for _ in range(options.repeat):
        loads.append(os.getloadavg()[0])
        for name, args in todo.items():
            times[name].append(run(args, env))
            if name != "--version":
                bare_times[name].append(run(bare[name], env))
    medians = {name: statistics.median(t) for name, t in times.items()}
    version = medians["--version"]
    print(f"median of {options.repeat} rounds, load average {min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()}"
          f" CPUs; HAOCHA_NOW={NOW}")
    for name, args in todo.items():
        shown = " ".join(a if a != str(db) else db.name for a in args[0:1] + args[1:]).replace(haocha, "haocha")
        line = f"{shown:<88} {medians[name] * 1000:7.0f} ms"
        if name != "--version":
            ratio = medians[name] / version
            line += f"  {ratio:5.2f}× --version (target ≤ {TARGETS[name]:.0f}×: {'met' if ratio <= TARGETS[name] else 'MISSED'})"
            line += f"; empty database {statistics.median(bare_times[name]) * 1000:.0f} ms"
        line += f"  [{', '.join(f'{t * 1000:.0f}' for t in times[name])}]"
        print(line)
    if options.keep is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
