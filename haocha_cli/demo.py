"""`haocha demo`: the Licang (李沧区) pilot story end to end, on embedded data.

The Qingdao organisation; deterministic ratings for a baseline (2026-03 … 2026-05) and a pilot period
(2026-06 … 2026-08) in which Licang improves; QR codes; a file a day imported as the channels export
them (Chinese headers, August's re-saved in GB18030, one batch with bad rows); cases worked between the
imports and at every stage of the closed loop; suspicious patterns planted and flagged; a spot-check sample; the FMEA risk assessment; and
the daily, monthly and county reports. Every step goes through the same core functions as the commands.
"""

from __future__ import annotations

import csv
import heapq
import os
import random
import re
import secrets
import sqlite3
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from haocha_cli import files
from haocha_cli.context import Context, Operator
from haocha_cli.errors import InvalidInput

PILOT = "370213"
BASELINE = ("2026-03-01", "2026-05-31")
PILOT_PERIOD = ("2026-06-01", "2026-08-31")
NOW = "2026-09-01 09:00:00"  # the demo's clock: the morning after the pilot
SETUP = "2026-02-27 09:00:00"  # the database and the QR codes are made before the baseline starts
# The demo's workbench accounts (工作台账号), one per county and the city's: every case action of the story is
# recorded under one of them. Their password is printed by `haocha demo`; a real bureau makes its own.
DEMO_PASSWORD = "haocha-demo-2026"
DEMO_ACCOUNTS = {
    "370202": ("shinan", "市南区 演示"), "370203": ("shibei", "市北区 演示"), "370211": ("huangdao", "黄岛区 演示"),
    "370212": ("laoshan", "崂山区 演示"), "370213": ("licang", "李沧区 演示"), "370214": ("chengyang", "城阳区 演示"),
    "370215": ("jimo", "即墨区 演示"), "370281": ("jiaozhou", "胶州市 演示"), "370283": ("pingdu", "平度市 演示"),
    "370285": ("laixi", "莱西市 演示"), "city": ("shiju", "市局 演示"), "admin": ("admin", "系统管理员 演示"),
}
DELIVERY = "06:30:00"  # when the channels' file of the day before is imported
LEVELS = ["非常不满意", "不满意", "基本满意", "满意", "非常满意"]
# The indicator columns follow: the codes of the indicator system in force (read from the database).
HEADER = ["评价编号", "评价时间", "窗口编码", "评价渠道", "事项编码", "满意度", "办件编号", "评价次数", "文字评价",
          "联系电话", "工作人员", "差评问题"]
# Probabilities of 非常不满意 … 非常满意
BEFORE = [0.05, 0.07, 0.12, 0.26, 0.50]
LICANG_BEFORE = [0.07, 0.10, 0.15, 0.26, 0.42]
LICANG_AFTER = [0.015, 0.035, 0.07, 0.25, 0.63]
AFTER = [0.045, 0.065, 0.12, 0.26, 0.51]
# Short comments repeat in real life and are too short for the repeated-comment rule; longer ones carry
# their own details, as raters write them.
BAD_COMMENTS = ["排队太久", "态度生硬", "办得太慢", "系统卡顿", "<b>不耐烦</b> & 推诿", "没有一次性告知"]
LONG_COMMENTS = ["{m}月{d}日在{w}办理，材料要求没有一次性告知，跑了两趟", "{m}月{d}日{w}超过承诺时限才办结",
                 "{m}月{d}日网上申报系统卡顿，{w}电话也打不通", "{w}公示的办事指南和{m}月{d}日的实际要求不一致"]
ITEM_WEIGHTS = {"XK01": 30, "XK02": 30, "XK03": 15, "XK04": 5, "XK05": 5, "XK06": 5, "XK07": 5, "XK08": 5}


@contextmanager
def _clock(at: str):
    saved = os.environ.get("HAOCHA_NOW")
    os.environ["HAOCHA_NOW"] = at
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("HAOCHA_NOW", None)
        else:
            os.environ["HAOCHA_NOW"] = saved


def _days(start: str, end: str) -> list[date]:
    a, b = date.fromisoformat(start), date.fromisoformat(end)
    return [a + timedelta(days=i) for i in range((b - a).days + 1)]


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"


def generate_ratings(windows: list[dict[str, Any]], total: int, seed: int = 2026,
                     indicators: list[dict[str, Any]] | None = None) -> list[dict[str, str]]:
    """Deterministic ratings over the baseline and pilot periods; Licang improves in the pilot."""
    import chinese_calendar

    rng = random.Random(seed)
    days = _days(BASELINE[0], PILOT_PERIOD[1])
    indicators = indicators or []
    codes = [i["code"] for i in indicators]
    columns = HEADER + codes
    offline_scope = [i["code"] for i in indicators if i["scope"] != "online"]
    online_scope = [i["code"] for i in indicators if i["scope"] != "offline"]
    # Problem tags a rater ticks: the common indicators, singly and one pair.
    common = [i["code"] for i in indicators if i["scope"] == "common"] or codes or [""]
    tags = [common[k % len(common)] for k in (3, 1, 2, 4)] + [f"{common[3 % len(common)]} {common[2 % len(common)]}"]
    weights = [2.0 if w["kind"] == "offline" else 1.0 for w in windows]
    per_day = total / len(days)
    items, item_w = list(ITEM_WEIGHTS), list(ITEM_WEIGHTS.values())
    rows: list[dict[str, str]] = []
    seq = 0
    for day in days:
        pilot_on = day.isoformat() >= PILOT_PERIOD[0]
        open_day = chinese_calendar.is_workday(day)
        count = max(1, round(per_day * (1.15 if open_day else 0.6)))
        for w in rng.choices(windows, weights=weights, k=count):
            seq += 1
            licang = w["county_code"] == PILOT
            probs = (LICANG_AFTER if pilot_on else LICANG_BEFORE) if licang else (AFTER if pilot_on else BEFORE)
            level = rng.choices(range(1, 6), weights=probs)[0]
            if w["kind"] == "offline":
                channel = rng.choices(["政务大厅平板电脑", "二维码", "短信"], weights=[5, 4, 1])[0]
                hour = rng.choice([9, 10, 11, 13, 14, 15, 16]) if channel == "政务大厅平板电脑" else rng.randint(9, 20)
                if not open_day and channel == "政务大厅平板电脑":
                    channel = "二维码"  # the hall is closed on rest days: only QR ratings from home
            else:
                channel, hour = rng.choice(["PC端", "移动服务端"]), rng.randint(7, 22)
            # 13:00-13:29 is the hall's lunch break: a device rating then would be off-hours
            minute = rng.randint(30, 59) if hour == 13 and channel == "政务大厅平板电脑" else rng.randint(0, 59)
            at = datetime(day.year, day.month, day.day, hour, minute, rng.randint(0, 59))
            row = dict.fromkeys(columns, "")
            row.update({"评价编号": f"QD{day:%Y%m%d}{seq:06d}", "评价时间": at.isoformat(sep=" "),
                        "窗口编码": w["code"], "评价渠道": channel, "事项编码": rng.choices(items, item_w)[0],
                        "满意度": LEVELS[level - 1], "办件编号": f"BJ{seq:07d}"})
            if rng.random() < 0.35:
                row["联系电话"] = _phone(rng)
            if rng.random() < 0.3:
                scope = offline_scope if w["kind"] == "offline" else online_scope
                for code in rng.sample(scope, rng.randint(1, 4)):
                    row[code] = str(min(5, max(1, level + rng.choice([-1, 0, 0, 0, 1]))))
            if level <= 2:
                row["文字评价"] = (rng.choice(BAD_COMMENTS) if rng.random() < 0.7 else
                                  rng.choice(LONG_COMMENTS).format(m=day.month, d=day.day, w=w["code"]))
                row["差评问题"] = rng.choice(tags)
            rows.append(row)
    return rows


def _planted(windows: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """Suspicious patterns the oversight must find (评价信息不实 risk), in the last week of August."""
    rows = []

    def add(rid, at, window, channel, level, **extra):
        row = dict.fromkeys(HEADER, "")
        row.update({"评价编号": rid, "评价时间": at, "窗口编码": window, "评价渠道": channel, "事项编码": "XK01",
                    "满意度": level})
        row.update(extra)
        rows.append(row)

    for i in range(4):  # one phone, four ratings in one day
        add(f"QDX-PHONE-{i}", f"2026-08-24 1{i}:05:00", "SN01", "二维码", "非常满意", 联系电话="13966668888")
    for i in range(6):  # a burst at one window within minutes
        add(f"QDX-BURST-{i}", f"2026-08-25 10:0{i}:30", "JZ01", "政务大厅平板电脑", "非常满意")
    add("QDX-NIGHT", "2026-08-26 21:40:00", "CY01", "政务大厅平板电脑", "非常满意")  # hall device, hall closed
    add("QDX-STAFF", "2026-08-27 10:30:00", "LC01", "二维码", "非常满意", 联系电话="13900000401")  # staff's phone
    for i in range(3):  # the same praise again and again
        add(f"QDX-SAME-{i}", f"2026-08-2{i + 5} 15:00:00", "HD01", "短信", "非常满意",
            文字评价="工作人员服务热情周到，非常满意！")
    return rows


def _write_csv(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8-sig") -> None:
    with files.open_file(path, "w", files.OWNER_ONLY, encoding=encoding, newline="") as fh:  # phones in it
        writer = csv.DictWriter(fh, fieldnames=HEADER + [k for k in dict.fromkeys(k for r in rows for k in r)
                                                         if k not in HEADER])
        writer.writeheader()
        writer.writerows(rows)


def _bad_batch() -> list[dict[str, str]]:
    """A clerk's batch with mistakes: each bad row is rejected with its reason, the rest imported."""
    good = dict.fromkeys(HEADER, "")
    good.update({"评价编号": "QDB-1", "评价时间": "2026-08-28 10:00:00", "窗口编码": "LC01", "评价渠道": "二维码",
                 "事项编码": "XK01", "满意度": "满意"})
    rows = [good]
    for rid, change in (("QDB-2", {"窗口编码": "ZZ99"}), ("QDB-3", {"评价时间": "2026-13-01 10:00"}),
                        ("QDB-4", {"满意度": "很好"}), ("QDB-5", {"评价时间": "2027-01-01 10:00:00"}),
                        ("QDB-6", {"联系电话": "12345"}), ("QDB-1", {})):
        rows.append({**good, "评价编号": rid, **change})
    rows.append({**good, "评价编号": "QDB-7", "满意度": "非常满意"})
    return rows


# The demo deletes and rewrites its database, key file and haocha.toml when it runs again: it does that only
# in a folder it made itself. Its marker file is written first in a new (or empty) folder and holds a token
# that the demo's database keeps too, so that a bureau's database put into a demo folder later is not the
# demo's either.
MARKER = ".haocha-demo"
DEMO_TOKEN_KEY = "demo_token"
_MARKER_TEXT = ("# This folder was made by `haocha demo`, which deletes and rebuilds its database when it runs again"
                " here.\n# Keep no other data in it.\ntoken = \"{token}\"\n")
_MARKER_TOKEN = re.compile(r'^token = "([0-9a-f]{32})"$', re.MULTILINE)


def claim_folder(out: Path) -> str:
    """The demo's token of ``out``: a new or empty folder becomes the demo's (its marker written first); a
    folder the demo made keeps its token. Any other folder is refused before a file in it is touched, so
    that `haocha demo --out .` in a bureau's working folder never reaches its live database and key."""
    marker = out / MARKER
    if out.is_dir() and marker.is_file() and not marker.is_symlink():
        found = _MARKER_TOKEN.search(marker.read_text(encoding="utf-8", errors="replace"))
        if found and _is_the_demos(out / "haocha.db", found.group(1)):
            return found.group(1)
        if found:
            raise InvalidInput(f"{out / 'haocha.db'} was not made by haocha demo; choose a new folder")
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise InvalidInput(f"{out} is a file, not a folder; choose a new folder")
        if any(out.iterdir()):
            raise InvalidInput(f"{out} is not empty and was not made by haocha demo; choose a new folder")
    files.make_dirs(out)
    token = secrets.token_hex(16)
    files.write_text(marker, _MARKER_TEXT.format(token=token))
    return token


def _is_the_demos(db_path: Path, token: str) -> bool:
    """Whether the database in a demo folder is the demo's (holds its token), read without changing a byte
    (``immutable``: no lock, no -shm). No database, an empty file or one without tables (a demo killed at its
    start) is the demo's; a file that is no SQLite database is not: it may be something of value."""
    if not (db_path.exists() or db_path.is_symlink()):
        return True
    if not db_path.is_file():
        return False
    if db_path.stat().st_size == 0:
        return True
    try:
        conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "meta" not in tables:
                return not tables
            row = conn.execute("SELECT value FROM meta WHERE key = ?", [DEMO_TOKEN_KEY]).fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False
    return row is not None and row[0] == token


def run_demo(out: Path, ratings: int = 12000, seed: int = 2026,
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Build the whole pilot story in ``out``; returns where everything is."""
    from haocha_cli import cases, fmea, qr_windows, reports, spotchecks
    from haocha_cli.bootstrap import init_database
    from haocha_cli.context import open_context
    from haocha_cli.db import set_meta, transaction
    from haocha_cli.importer import import_file
    from haocha_cli.periods import parse_period

    if ratings < 1000:
        raise InvalidInput(f"--ratings {ratings} is too few for the pilot story", "use 1000 or more")
    say = progress or (lambda _message: None)
    # The demo's files are owner-only (0600, folders it makes 0700), as every file haocha writes: its
    # haocha.toml names no files.group.
    token = claim_folder(out)
    db_path = out / "haocha.db"
    for suffix in ("", "-wal", "-shm", ".key"):  # the demo rebuilds only what it made itself
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    files.write_text(out / "haocha.toml",
        "# The Licang pilot: the monthly report compares its baseline and pilot periods.\n"
        f'[pilot]\ncounty = "{PILOT}"\nbefore = "{BASELINE[0]}..{BASELINE[1]}"\n'
        f'after = "{PILOT_PERIOD[0]}..{PILOT_PERIOD[1]}"\n')
    summary: dict[str, Any] = {"out": str(out), "database": str(db_path)}
    with _clock(NOW):
        with _clock(SETUP):
            say("1/8 database, organisation and indicator system V1.0")
            init_database(db_path)
            ctx = open_context(db_path, "city")
            with transaction(ctx.db):  # the database is the folder's: only it is rebuilt next time
                set_meta(ctx.db, DEMO_TOKEN_KEY, token)
            summary["accounts"] = _add_accounts(ctx)
            windows = list(ctx.db.query("SELECT code, county_code, kind FROM windows WHERE active ORDER BY code"))

            say("2/8 QR codes for every window and the printable sheet")
            qr_dir = out / "qr"
            # The demo's codes open the demo's own `haocha serve` on this machine: test codes, and marked so.
            summary["qr_codes"] = len(qr_windows.generate(ctx, qr_dir, fmt="png", allow_local=True))
            qr_windows.sheet(ctx, qr_dir / "sheet.html", allow_local=True)
            summary["qr_sheet"] = str(qr_dir / "sheet.html")

        say(f"3/8 {ratings} ratings as the channels deliver them, a file every morning (one batch with bad rows)")
        say("4/8 the closed loop: counties work their cases as they come in")
        batch_dir = out / "batches"
        files.make_dirs(batch_dir)
        from haocha_cli import indicators as indicator_system

        system = indicator_system.definitions(ctx.db, indicator_system.version_on(ctx.db, BASELINE[0]))
        rows = generate_ratings(windows, ratings, seed, system) + _planted({w["code"]: w for w in windows})
        days: dict[str, list[dict[str, str]]] = {}
        for row in rows:
            days.setdefault(row["评价时间"][:10], []).append(row)
        city = Context(ctx.db, ctx.db_path, ctx.config, Operator("city", None, DEMO_ACCOUNTS["city"][0]))
        work = _CaseWork(ctx, city, cases, days)
        imported = []
        for day, day_rows in sorted(days.items()):
            # Yesterday's file arrives at 06:30 (the cron import of docs/cron.md); what the counties and the
            # city did in between happens first, so that every time in the database and the audit trail
            # follows the one before.
            delivered = f"{date.fromisoformat(day) + timedelta(days=1)} {DELIVERY}"
            work.run_until(delivered)
            path = batch_dir / f"ratings-{day}.csv"
            # August's files as a clerk re-saved them in Chinese Excel: GB18030
            _write_csv(path, sorted(day_rows, key=lambda r: r["评价时间"]),
                       "gb18030" if day.startswith("2026-08") else "utf-8-sig")
            with _clock(delivered):
                imported.append(import_file(ctx, path))
            work.plan_new_cases(datetime.fromisoformat(delivered))
        work.run_until(NOW)
        bad = batch_dir / "ratings-2026-08-fixes.csv"
        _write_csv(bad, _bad_batch())
        bad_summary = import_file(ctx, bad)
        summary["batches"] = len(imported) + 1
        summary["ratings"] = sum(b["accepted"] for b in imported) + bad_summary["accepted"]
        summary["rejected_rows"] = bad_summary["rejected"] + sum(b["rejected"] for b in imported)
        summary["cases"] = dict(ctx.db.execute("SELECT state, count(*) FROM cases GROUP BY state ORDER BY state")
                                .fetchall())

        say("5/8 suspicious ratings and the city's spot-checks")
        flags_found = ctx.db.execute("SELECT count(*) FROM flags").fetchone()[0]
        summary["flags"] = flags_found
        sample = spotchecks.draw_sample(city, parse_period("2026-08"), seed=seed)
        summary["spot_checks"] = _record_checks(city, spotchecks, sample)

        say("6/8 FMEA risk assessment per county")
        assessed = fmea.assess(city, parse_period("2026-08"))
        summary["risk_levels"] = {c["county"]: c["level"] for c in assessed["counties"]}

        say("7/8 reports: daily, monthly, Licang's county report")
        report_dir = out / "reports"
        modes = files.modes(ctx.config)
        written = []
        written += reports.write(reports.build(ctx, "daily", day=date(2026, 8, 31)), "both", report_dir, modes)
        for month in ("2026-05", "2026-08"):
            written += reports.write(reports.build(ctx, "monthly", month=parse_period(month)), "both", report_dir,
                                     modes)
        written += reports.write(reports.build(ctx, "county", county_code=PILOT, period=parse_period("2026-08")),
                                 "both", report_dir, modes)
        summary["reports"] = [str(p) for p in written]
        summary["monthly_report"] = str(report_dir / "monthly-2026-08.html")

        say("8/8 the pilot judged")
        from haocha_cli import indices

        comparison = indices.compare(ctx.db, ctx.config, PILOT, parse_period(f"{BASELINE[0]}..{BASELINE[1]}"),
                                     parse_period(f"{PILOT_PERIOD[0]}..{PILOT_PERIOD[1]}"))
        summary["pilot"] = {
            "index_before": comparison["groups"]["pilot_before"]["index"],
            "index_after": comparison["groups"]["pilot_after"]["index"],
            "did_index": comparison["did_index"]["diff"], "did_index_p": comparison["did_index"]["p_value"],
            "did_good_rate": comparison["did_good_rate"]["diff"],
            "did_good_rate_p": comparison["did_good_rate"]["p_value"],
        }
        ctx.db.close()
    return summary


def _add_accounts(ctx) -> list[str]:
    """The demo's workbench accounts, added by its administrator; returns their usernames."""
    from haocha_cli import accounts

    admin = Context(ctx.db, ctx.db_path, ctx.config, Operator("admin", None, ctx.operator.person))
    for key, (username, name) in DEMO_ACCOUNTS.items():
        role = key if key in ("city", "admin") else f"county:{key}"
        accounts.add(admin, username, name, role, DEMO_PASSWORD)
    return [username for username, _ in DEMO_ACCOUNTS.values()]


# How many days each county takes to close a rectifiable case: Licang's pilot process is quick, some
# counties are slow enough to miss the 15-working-day deadline now and then.
CLOSE_DAYS = {PILOT: (2, 8), "370283": (8, 30), "370285": (6, 26)}
DEFAULT_CLOSE_DAYS = (4, 18)


def _office_hours(moment: datetime) -> datetime:
    """The moment, or the office's next opening (09:00) when it falls outside 09:00-17:00: nobody calls a
    rater at night. Never earlier than the moment, and later moments never map earlier."""
    opening = moment.replace(hour=9, minute=0, second=0, microsecond=0)
    if moment < opening:
        return opening
    if moment.hour >= 17:
        return opening + timedelta(days=1)
    return moment


class _CaseWork:
    """The counties (and the city) working the cases as they come in: each new case gets its actions at
    plausible times, deterministically, and they run in time order between the daily imports.

    The re-rating (整改复评) comes from the rater, as docs/workflow.md has it: a real-name rater's by the
    county's call (电话回访, ``cases.rerate``); an anonymous rater's only by their own 追评 of the 办件, a row of
    the channels' file of its day (``days``, the files still to be written), which the import links to the
    case — or not at all, when the rater does not come back (half of them)."""

    def __init__(self, ctx, city, cases, days: dict[str, list[dict[str, str]]]) -> None:
        self.ctx, self.city, self.cases, self.days = ctx, city, cases, days
        self.followup_rng = random.Random(19)  # which anonymous raters come back with a 追评
        self.county = {code: Context(ctx.db, ctx.db_path, ctx.config,
                                     Operator("county", code, DEMO_ACCOUNTS.get(code, ("", ""))[0] or None))
                       for (code,) in ctx.db.execute("SELECT code FROM counties")}
        self.rng = random.Random(17)
        self.count = 0  # cases planned so far
        self.last_id = 0
        self.queue: list[tuple[str, int, Callable[..., Any], tuple]] = []
        self.pushed = 0
        self.now = datetime.fromisoformat(NOW)

    def run_until(self, moment: str) -> None:
        while self.queue and self.queue[0][0] < moment:
            when, _, action, args = heapq.heappop(self.queue)
            with _clock(when):
                action(*args)

    def plan_new_cases(self, opened: datetime) -> None:
        for case in self.ctx.db.query(
                "SELECT c.id, c.county_code, c.real_name, c.rated_at, r.rating_id, r.case_no, r.window_code,"
                " r.channel, r.item_code FROM cases c JOIN ratings r ON r.id = c.rating_id WHERE c.id > ?"
                " ORDER BY c.id", [self.last_id]):
            self._plan(case, opened)
            self.last_id = case["id"]
            self.count += 1

    def _chain(self, steps: list[tuple[datetime, Callable[..., Any], tuple]]) -> None:
        """Each step after the one before; a step not due before the demo's "today" and all after it stay
        undone (the case stays where it is on that day)."""
        for when, action, args in steps:
            if when >= self.now:
                return
            heapq.heappush(self.queue, (when.isoformat(sep=" ", timespec="seconds"), self.pushed, action, args))
            self.pushed += 1

    def _plan(self, case: dict[str, Any], opened: datetime) -> None:
        i, rng, cases, city = self.count, self.rng, self.cases, self.city
        county, case_id = self.county[case["county_code"]], case["id"]
        t0 = datetime.fromisoformat(case["rated_at"])
        earliest = opened + timedelta(hours=2, minutes=30)  # the county reads its list when the office opens

        def at(days: float) -> datetime:
            return _office_hours(max(t0 + timedelta(days=days), earliest))

        lo, hi = CLOSE_DAYS.get(case["county_code"], DEFAULT_CLOSE_DAYS)
        slow = case["county_code"] in ("370283", "370285")
        if case["real_name"] and (case["county_code"] == PILOT or i % (6 if slow else 30)):
            # a return visit the same or the next working day, now and then two days late; slow counties often
            late = 0.1 if case["county_code"] == PILOT else rng.choice([0.1] * (3 if slow else 30) + [0.9, 2.5])
            self._chain([(at(late), cases.revisit, (county, case_id, "reached" if i % 7 else "unreachable",
                                                    "电话回访，已了解情况"))])
        step = i % 20
        steps: list[tuple[datetime, Callable[..., Any], tuple]] = []
        if step == 0:
            self._chain([(at(1), cases.classify, (county, case_id, "unrectifiable", "法定审查时限无法缩短，已向评价人解释"))])
            return
        if step == 1:
            steps.append((at(1), cases.classify, (county, case_id, "no-action", "评价人误评，实际已按时办结")))
            if i % 40 == 1:
                self._chain([*steps, (at(2), cases.approve, (city, case_id, "核实属实"))])
                return
            steps.append((at(2), cases.reject, (city, case_id, "依据不足，请按可整改处理")))
        elif step == 2:
            steps.append((at(1), cases.appeal, (county, case_id, "同一人短时间内重复恶意差评", "窗口录像与办件记录")))
            upheld = i % 40 == 2
            steps.append((at(3), cases.decide, (city, case_id, upheld,
                                                "经核查" + ("属实，支持申诉" if upheld else "不属实，驳回申诉"))))
            if upheld:
                self._chain(steps)
                return
        start = 3 if step in (1, 2) else 1
        steps.append((at(start), cases.classify, (county, case_id, "rectifiable", "问题属实，立即整改")))
        close_after = start + rng.uniform(lo, hi)
        steps.append((at(close_after), cases.close, (county, case_id, "加强培训，落实一次性告知制度", "窗口负责人")))
        if step != 4 and case["real_name"]:  # step 4: closed, the rater has not re-rated yet
            level = "不满意" if step == 5 else ("基本满意" if step == 6 else "满意")
            steps.append((at(close_after + 2), cases.rerate, (county, case_id, level)))  # by phone
            if step == 5:  # reopened: rectified again, and this time the rater is satisfied
                steps.append((at(close_after + 6), cases.close, (county, case_id, "更换窗口人员并复核流程", "分管领导")))
                steps.append((at(close_after + 8), cases.rerate, (county, case_id, "满意")))
        elif step != 4 and self.followup_rng.random() < 0.5 and self._followup(case, at(close_after + 2), step):
            if step == 5:  # the 追评 reopened it: rectified again (the rater has no second 追评 to give)
                steps.append((at(close_after + 6), cases.close, (county, case_id, "更换窗口人员并复核流程", "分管领导")))
        self._chain(steps)

    def _followup(self, case: dict[str, Any], when: datetime, step: int) -> bool:
        """The anonymous rater's 追评 of the 办件 at ``when``, put into that day's file (imported the next
        morning, after the case was closed); False when that is after the demo's "today" or its last file."""
        day = when.date().isoformat()
        if when >= self.now or day not in self.days or not case["case_no"]:
            return False
        level = "不满意" if step == 5 else ("基本满意" if step == 6 else ("非常满意" if step % 2 else "满意"))
        row = dict.fromkeys(HEADER, "")
        # From home: the QR code (a hall's tablet is for the day of the service), or the online channel.
        row.update({"评价编号": f"{case['rating_id']}-ZP", "评价时间": when.isoformat(sep=" ", timespec="seconds"),
                    "窗口编码": case["window_code"],
                    "评价渠道": "二维码" if case["channel"] == "政务大厅平板电脑" else case["channel"],
                    "事项编码": case["item_code"], "满意度": level, "办件编号": case["case_no"], "评价次数": "2"})
        self.days[day].append(row)
        return True


def _record_checks(ctx, spotchecks, sample: dict[str, Any]) -> dict[str, int]:
    """The city calls back: most checks confirm, a few fail (reopening a case or excluding a false rating)."""
    checks = spotchecks.list_checks(ctx, sample_id=sample["sample"])
    outcomes: dict[str, int] = {}
    for i, check in enumerate(checks):
        # Licang's closures hold up; two slow counties' often do not
        fail_every = {PILOT: 0, "370283": 3, "370285": 3}.get(check["county"], 25)
        if fail_every and i % fail_every == 1:
            outcome = "failed"
        else:
            outcome = "unreachable" if i % 11 == 7 else "confirmed"
        spotchecks.record_check(ctx, check["id"], outcome, "市局电话回访")
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
