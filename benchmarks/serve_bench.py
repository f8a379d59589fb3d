"""Rating-page submissions per second (issue 22): one client submitting one rating after another, at the
start of a day and when the day already holds --day-ratings ratings, in the same run.

    python benchmarks/serve_bench.py [--day-ratings 25000] [--submissions 300] [--rounds 3] [--full-scan]
                                     [--keep DIR]

The page runs in-process (Starlette's TestClient, the same Service `haocha serve` runs) in a child process per
measurement, against two fresh databases (`haocha init`, the address limit off): one whose day holds only the
submissions, one whose day is filled first; the two are measured in turn, --rounds times, and the medians
printed (a process that has run other submissions before runs slower for reasons of its own). Each submission
is the rater's round trip: the form (GET) and the rating (POST); the figure is POSTs per second (the GET is
timed apart). A third of the submissions leave a phone (each its own), one in five a comment (from a few
common texts, so that the repeated-comment rule has groups to read). The second database's day is filled in
SQL with --day-ratings ratings of the bureau's today at the offline windows (08:30–15:00, a third with a phone
of 3,000, one in ten commented), and the submissions are made from 15:00 that day on (HAOCHA_NOW, the clock
running), whatever the time the benchmark runs. --full-scan also measures the design before issue 22 (the day's whole flag scan on
every submission) on both, with a fifth as many submissions on the full day.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import datetime, timedelta
from pathlib import Path

_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
COMMENTS = ["窗口服务热情周到，办事效率很高", "材料一次告知清楚，非常感谢", "等候时间有点长，希望增加窗口",
            "工作人员态度很好，解答耐心细致", "很满意"]


# The submissions are made from 15:00 on the bureau's today (Beijing time), the clock running on from there
# (HAOCHA_NOW set before each), after the day's ratings of 08:30–15:00: whenever the benchmark runs, the page
# then checks each submission against a day that holds the others, as at a real counter in the afternoon.
NOW_FROM = "15:00:00"


def bureau_today() -> str:
    from haocha_cli.clock import CHINA

    return datetime.now(CHINA).date().isoformat()


def fill_day(db: Path, n: int, day: str) -> None:
    """``n`` ratings of ``day`` at the offline windows from 08:30 to 15:00, one batch, as the import stores them
    (no aggregates: the page does not read them)."""
    conn = sqlite3.connect(db)
    windows = conn.execute("SELECT code, county_code FROM windows WHERE kind = 'offline' AND active"
                           " ORDER BY code").fetchall()
    conn.execute("CREATE TEMP TABLE w (i INTEGER PRIMARY KEY, code TEXT, county TEXT)")
    conn.executemany("INSERT INTO w VALUES (?, ?, ?)", [(i, *w) for i, w in enumerate(windows)])
    first = (conn.execute("SELECT max(id) FROM contacts").fetchone()[0] or 0) + 1
    conn.execute(f"""WITH RECURSIVE seq(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM seq WHERE x < 2999)
        INSERT INTO contacts (id, phone_hash, phone_enc, phone_masked)
        SELECT {first} + x, 'bench-' || x, 'x', '137****' || printf('%04d', x) FROM seq""")
    batch = conn.execute("INSERT INTO batches (file_name, sha256, source, profile, format, operator, imported_at,"
                         " rows_read, accepted, rejected, duplicate) VALUES ('bench.csv', 'bench-day', 'bench',"
                         " 'canonical', 'csv', 'city', ?, ?, ?, 0, 0)", [f"{day} 08:00:00", n, n]).lastrowid
    comments = " ".join(f"WHEN {i} THEN '{c}'" for i, c in enumerate(COMMENTS))
    conn.execute(f"""
        WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < {n}),
        r AS (SELECT x, 30600 + (x * 2654435761 % 23400) AS second, (x * 40503 / 97) % {len(windows)} AS wi,
                     CASE WHEN x % 33 = 0 THEN 1 ELSE 4 + x % 2 END AS level FROM seq)
        INSERT INTO rating_rows (source, rating_id, batch_id, rated_at, day, window_code, county_code, mode, channel,
                             item_code, level, rating_index, weights_version, contact_id, comment)
        SELECT 'bench', 'B-' || x, {batch},
               '{day} ' || printf('%02d:%02d:%02d', second / 3600, second / 60 % 60, second % 60), '{day}',
               w.code, w.county, 'offline', '二维码', 'XK01', level, (level - 1) * 25.0, 'V1.0',
               CASE WHEN x % 3 = 0 THEN {first} + x % 3000 END,
               CASE WHEN x % 10 = 0 THEN CASE x / 10 % {len(COMMENTS)} {comments} END || '（' || x % 7 || '）' END
        FROM r JOIN w ON w.i = r.wi""")
    conn.commit()
    conn.close()


def submit(db: Path, count: int, offset: int, day: str | None = None) -> tuple[float, float]:
    """(POSTs per second, GETs per second) of ``count`` submissions by one client, in turn; ``day``: from
    NOW_FROM that day on, the clock running."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from haocha_cli.context import open_context
    from haocha_cli.qr_tokens import make_token
    from haocha_cli.web import app as web_app

    ctx = open_context(db, "city")
    length = int(ctx.config["qr.token_length"])
    windows = [(code, make_token(ctx.keys.qr_secret, code, length)) for (code,) in ctx.db.execute(
        "SELECT code FROM windows WHERE kind = 'offline' AND active ORDER BY code")]
    items = [code for (code,) in ctx.db.execute("SELECT code FROM items WHERE active ORDER BY code")]
    ctx.db.close()
    client = TestClient(web_app.create_app(db), client=("203.0.113.7", 50000))
    get_time = post_time = 0.0
    base = datetime.fromisoformat(f"{day} {NOW_FROM}") if day else None
    started_at = time.monotonic()
    for i in range(offset, offset + count):
        if base is not None:
            os.environ["HAOCHA_NOW"] = (base + timedelta(seconds=time.monotonic() - started_at)).isoformat(sep=" ")
        code, token = windows[i % len(windows)]
        started = time.perf_counter()
        page = client.get("/r", params={"w": code, "t": token})
        get_time += time.perf_counter() - started
        assert page.status_code == 200, page.text[:300]
        form = {**dict(_HIDDEN.findall(page.text)), "item": items[i % len(items)], "website": "",
                "level": ["满意", "非常满意", "基本满意", "不满意"][i % 4]}
        if i % 3 == 0:
            form["phone"] = f"139{i:08d}"
        if i % 5 == 0:
            form["comment"] = COMMENTS[i % len(COMMENTS)]
        started = time.perf_counter()
        sent = client.post("/r", data=form)
        post_time += time.perf_counter() - started
        assert sent.status_code == 200, sent.text[:300]
    return count / post_time, count / get_time


def _child(db: Path, count: int, offset: int, full_scan: bool, day: str) -> tuple[float, float]:
    """``submit`` in a fresh Python process: every figure from the same state of the process (one that has
    run other submissions before is slower for reasons of its own, not of the day's ratings)."""
    done = subprocess.run([sys.executable, __file__, "--child", str(db), str(count), str(offset), day]
                          + (["--full-scan"] if full_scan else []), check=True, capture_output=True, text=True)
    post, get = done.stdout.split()
    return float(post), float(get)


def _prepare(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "haocha.db"
    for p in folder.glob("haocha.db*"):
        p.unlink()
    subprocess.run([sys.executable, "-m", "haocha_cli", "--db", str(db), "init"], check=True, capture_output=True)
    (folder / "haocha.toml").write_text("[serve]\naddress_limit = 0\nphone_limit = 0\n", encoding="utf-8")
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--day-ratings", type=int, default=25_000)
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each, alternating (the median)")
    parser.add_argument("--full-scan", action="store_true", help="also measure the day's whole scan per submission")
    parser.add_argument("--keep", type=Path, help="build the databases in this folder and keep them")
    parser.add_argument("--child", nargs=4, metavar=("DB", "COUNT", "OFFSET", "DAY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        from haocha_cli import flags

        if args.full_scan:
            flags.INCREMENTAL_MAX = 0
        post, get = submit(Path(args.child[0]), int(args.child[1]), int(args.child[2]), args.child[3])
        print(post, get)
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="haocha-serve-bench-"))
    empty, full = _prepare(folder / "empty"), _prepare(folder / "full")
    day = bureau_today()
    fill_day(full, args.day_ratings, day)
    held = sqlite3.connect(full).execute("SELECT count(*) FROM ratings WHERE day = ?", [day]).fetchone()[0]
    n = args.submissions
    kinds = [("0", empty, False), (f"{held:,}", full, False)]
    if args.full_scan:
        kinds += [("0, full scan", empty, True), (f"{held:,}, full scan", full, True)]
    measured: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in kinds}
    offset = 0
    for _ in range(args.rounds):  # alternating, so that the machine's changing load falls on both alike
        for label, db, full_scan in kinds:
            count = max(10, n // 5) if full_scan and db is full else n
            measured[label].append(_child(db, count, offset, full_scan, day))
            offset += count
    rates = {label: (statistics.median(p for p, _ in runs), statistics.median(g for _, g in runs))
             for label, runs in measured.items()}
    print(f"python benchmarks/serve_bench.py --day-ratings {args.day_ratings} --submissions {n}"
          f" --rounds {args.rounds}" + (" --full-scan" if args.full_scan else ""))
    print(f"{'ratings that day':>26}  {'submissions/s (POST)':>21}  {'forms/s (GET)':>14}   (median of {args.rounds};"
          " each run its own process)")
    for label, (post, get) in rates.items():
        every = ", ".join(f"{p:.1f}" for p, _ in measured[label])
        print(f"{label:>26}  {post:21.1f}  {get:14.1f}   POST runs: {every}")
    start, day = rates["0"][0], rates[f"{held:,}"][0]
    print(f"at {held:,} against 0: {start / day:.2f}× slower (target ≤ 1.5×), {day:.1f}/s (target ≥ 50/s)")
    if not args.keep:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
