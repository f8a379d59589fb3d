"""A county operator sees its own county only, in every command that shows data (issue 15, item 3).

One database with two worked counties: 李沧区 370213 (windows LC01, LC02), the operator of every command here,
and 黄岛区 370211 (HD01, HD02), whose data must never show. Both have cases classified, return-visited,
closed, appealed and decided, flags, spot-checks with notes, phones, comments, a window change and a staff
account; a batch mixes the two counties; a withdrawn 黄岛 case left its number to a later 李沧 case. A third
county, 市南区 370202, gets a thousand bad reviews between the two only to push 黄岛's case numbers far from
every number of 李沧 (its ratings, cases and audit events), so that a 黄岛 case number found in 李沧's output
is a leak, not a coincidence.

Every reading command runs as county:370213 with the options that show the most (JSON, CSV, files) and
must not print or write any marker of 黄岛: its case numbers, window codes, comments, notes, phones (full and
masked), staff and account. A walk of the command tree fails when a command is in neither list, so that a
new command cannot escape the check.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import pytest
import typer.main
from import_support import query, row, write_csv
from oversight_support import add_ratings
from typer.testing import CliRunner

from haocha_cli.bootstrap import init_database
from haocha_cli.cli import app
from haocha_cli.clidoc import _walk

A, B = "370213", "370211"
OPERATOR = f"county:{A}"
NOW = "2026-08-31 18:00:00"
PASSWORD = "a-long-enough-password\n"

# What only 黄岛 (B) has. The case numbers are added once the database is built.
B_TEXT = [
    "HD01", "HD02", "HDWS",  # its windows
    "HDC1", "HDC2", "HDC3", "HDC4", "HDC5", "HDC6", "HDC7",  # its comments (tagged)
    "黄岛一号窗口乱收费", "黄岛二号窗口推诿扯皮", "黄岛窗口态度恶劣", "黄岛大厅环境脏乱", "黄岛服务非常好", "黄岛被拒的行",
    "HDN1", "HDN2", "HDN3", "HDN4", "HDN5", "HDN6", "HDN7", "HDN8", "HDN9", "HDS1", "HDS2",  # its notes
    "黄岛分类理由", "黄岛回访备注", "黄岛整改措施", "王黄岛", "黄岛无需整改", "黄岛申诉理由", "黄岛证据", "黄岛支持申诉",
    "黄岛无法整改", "黄岛抽查",
    "13766608812", "13766608813", "13766608814", "13766608815", "13766608816", "13766608817",  # raters' phones
    "137****8812", "137****8813", "137****8814", "137****8815", "137****8816", "137****8817",
    "HZB00", "HZW00",  # its rating numbers at the source
    "HD-S01", "HD-S02", "黄岛区窗口人员", "139****0202",  # its staff (HD-S01's phone is also an 李沧 rater's)
    "hdclerk", "黄岛办事员",  # its workbench account
]
# The catalogue (counties, windows and their names, items) is the organisation everyone works in: its window
# codes are not 黄岛's data in `org show`.
CATALOGUE = ("HD01", "HD02", "HDWS")


SCORE = {"非常满意": "5", "满意": "4", "基本满意": "3", "不满意": "2", "非常不满意": "1"}


def _a(i: int, when: str, window: str, level: str, **values: str) -> list[str]:
    """A rating of 李沧 (with indicator scores, for benchmarking)."""
    return row(rating_id=f"LCA{i:03d}", rated_at=when, window_code=window, channel="二维码", item_code="XK01",
               level=level, A1=SCORE.get(level, ""), C1=SCORE.get(level, ""), **values)


def _b(i: int, when: str, window: str, level: str, **values: str) -> list[str]:
    """A rating of 黄岛."""
    return row(rating_id=f"HZB00{i}", rated_at=when, window_code=window, channel="二维码", item_code="XK02",
               level=level, A1=SCORE.get(level, ""), C1=SCORE.get(level, ""), **values)


def _build(folder: Path) -> dict:
    """The two-county database, made through the command line (and the import core for the third county)."""
    db = folder / "haocha.db"
    init_database(db)
    runner = CliRunner()

    def do(when: str, *args: str, operator: str = "city", input: str | None = None) -> str:
        os.environ["HAOCHA_NOW"] = when
        result = runner.invoke(app, ["--db", str(db), "--operator", operator, *args], input=input)
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        return result.stdout

    day3, day4 = "2026-08-03", "2026-08-04"
    lc = write_csv(folder / "licang.csv", [
        _a(1, f"{day3} 09:00:00", "LC01", "不满意", rater_phone="13800000011", anonymous="否",
           comment="李沧一号窗口排队太久了", staff_code="LC-S01"),
        _a(2, f"{day3} 09:20:00", "LC02", "非常不满意", rater_phone="13800000012", anonymous="否",
           comment="李沧二号窗口材料要求不清楚"),
        _a(3, f"{day3} 09:40:00", "LC01", "不满意", anonymous="是", comment="李沧大厅指引不明显"),
        _a(4, f"{day3} 10:00:00", "LC02", "不满意", rater_phone="13800000014", anonymous="否", comment="李沧网办系统卡顿"),
        # one phone three times on the 4th, the third time at 黄岛: flagged in both counties
        _a(5, f"{day4} 09:00:00", "LC01", "满意", rater_phone="13800000099", anonymous="否"),
        _a(6, f"{day4} 09:20:00", "LC02", "满意", rater_phone="13800000099", anonymous="否"),
        # the phone of 黄岛's staff member HD-S01 rating 李沧
        _a(7, f"{day4} 09:40:00", "LC01", "满意", rater_phone="13900000201", anonymous="否"),
        *[_a(i, f"{day4} {10 + i // 3:02d}:{i % 3 * 20:02d}:00", "LC01" if i % 2 else "LC02",
             "非常满意" if i % 3 else "满意", rater_phone=f"138000000{i + 20}", anonymous="否") for i in range(8, 15)],
        _a(99, f"{day4} 16:00:00", "LC01", "很好"),  # rejected
    ])
    do("2026-08-05 08:00:00", "import", str(lc))
    # 市南区: a thousand bad reviews on its online channel, anonymous, a minute apart over four days
    os.environ["HAOCHA_NOW"] = "2026-08-05 08:00:00"
    add_ratings(db, [{"rated_at": f"2026-08-0{1 + i // 400} {8 + i % 400 // 40:02d}:{i % 40:02d}:00",
                      "window": "SNWS", "channel": "PC端", "level": "不满意"} for i in range(1000)])
    mixed = write_csv(folder / "mixed.csv", [
        _b(1, f"{day4} 11:00:00", "HD01", "非常不满意", rater_phone="13766608812", anonymous="否",
           comment="黄岛一号窗口乱收费HDC1", staff_code="HD-S01"),
        _b(2, f"{day4} 11:20:00", "HD02", "不满意", rater_phone="13766608813", anonymous="否",
           comment="黄岛二号窗口推诿扯皮HDC2"),
        _b(3, f"{day4} 11:40:00", "HD01", "不满意", rater_phone="13766608814", anonymous="否",
           comment="黄岛窗口态度恶劣HDC3"),
        _b(4, f"{day4} 12:00:00", "HD01", "非常不满意", anonymous="是", comment="黄岛大厅环境脏乱HDC4"),
        _b(5, f"{day4} 12:20:00", "HD01", "满意", rater_phone="13800000099", anonymous="否"),
        _b(6, f"{day4} 12:40:00", "HD02", "非常满意", rater_phone="13766608815", anonymous="否",
           comment="黄岛服务非常好HDC5"),
        _b(7, f"{day4} 13:00:00", "HD01", "满意", rater_phone="13900000401", anonymous="否"),  # 李沧 staff's phone
        _b(8, f"{day4} 13:10:00", "HD01", "很好", rater_phone="13766608816", comment="黄岛被拒的行HDC6"),
        _a(15, f"{day4} 13:20:00", "LC01", "满意"),
    ])
    do("2026-08-05 09:00:00", "import", str(mixed))
    a_cases = [r[0] for r in query(db, "SELECT id FROM cases WHERE county_code = ? ORDER BY id", (A,))]
    b_cases = [r[0] for r in query(db, "SELECT id FROM cases WHERE county_code = ? ORDER BY id", (B,))]
    assert a_cases == [1, 2, 3, 4] and b_cases == [1005, 1006, 1007, 1008]
    a1, a2, a3, a4 = a_cases
    b1, b2, b3, b4 = b_cases

    work = "2026-08-06 10:00:00"
    for county, (one, two, three, four), tag in ((A, a_cases, "李沧"), (B, b_cases, "黄岛")):
        op = f"county:{county}"
        n = "HDN" if county == B else "LCN"
        do(work, "cases", "classify", str(one), "rectifiable", "--reason", f"{tag}分类理由{n}1", operator=op)
        do(work, "cases", "revisit", str(one), "--outcome", "reached", "--note", f"{tag}回访备注{n}2", operator=op)
        do(work, "cases", "contact", str(one), operator=op)
        do(work, "cases", "close", str(one), "--measures", f"{tag}整改措施{n}3", "--responsible",
           "王黄岛" if county == B else "李四", operator=op)
        do("2026-08-07 10:00:00", "cases", "rerate", str(one), "--level", "满意", operator=op)
        do(work, "cases", "classify", str(two), "no-action", "--reason", f"{tag}无需整改{n}4", operator=op)
        do(work, "cases", "appeal", str(three), "--reason", f"{tag}申诉理由{n}6", "--evidence", f"{tag}证据{n}7.mp3",
           operator=op)
        do(work, "cases", "classify", str(four), "unrectifiable", "--reason", f"{tag}无法整改{n}9", operator=op)
    do("2026-08-07 11:00:00", "cases", "approve", str(b2), "--note", "黄岛市局批准HDN5")
    do("2026-08-07 11:00:00", "cases", "approve", str(a2), "--note", "李沧市局批准")
    do("2026-08-07 11:00:00", "cases", "decide", str(b3), "--uphold", "--reason", "黄岛支持申诉HDN8")
    do("2026-08-07 11:00:00", "cases", "decide", str(a3), "--dismiss", "--reason", "李沧驳回申诉")

    # the city's oversight: a sample with outcomes and notes in both counties, the risk levels
    do("2026-08-20 09:00:00", "spotcheck", "sample", "--period", "2026-08", "--seed", "7")
    checks = json.loads(do("2026-08-20 09:00:00", "spotcheck", "list", "-f", "json"))
    assert {c["county"] for c in checks} >= {A, B}
    for i, check in enumerate(c for c in checks if c["county"] in (A, B)):
        note = f"黄岛抽查记录HDS{1 + i % 2}" if check["county"] == B else "李沧抽查记录"
        outcome = "failed" if check["reason"] == "very_satisfied" else "confirmed"
        do("2026-08-20 10:00:00", "spotcheck", "record", str(check["id"]), "--outcome", outcome, "--note", note)
    do("2026-08-20 11:00:00", "risk", "assess", "--period", "2026-08")
    do("2026-08-20 11:00:00", "calendar", "add-holiday", "2026-08-28", "--note", "台风停工")  # moves every deadline

    # a window of each county changed, a workbench account for each county
    hours = write_csv(folder / "windows.csv", [
        ["李沧区", A, "LC02", "李沧区局政务服务大厅烟草专卖2号窗口", "实体窗口", "08:30-12:00"],
        ["黄岛区", B, "HD02", "黄岛区局政务服务大厅烟草专卖2号窗口", "实体窗口", "08:30-12:00"],
    ], header=["区县局", "行政区划代码", "窗口编码", "窗口名称", "窗口类型", "办公时间"])
    do("2026-08-21 09:00:00", "org", "import", str(hours))
    for user, name, county in (("lcclerk", "李沧办事员", A), ("hdclerk", "黄岛办事员", B)):
        do("2026-08-21 09:00:00", "staff", "add", user, "--name", name, "--role", f"county:{county}",
           "--password-stdin", operator="admin", input=PASSWORD)

    # a batch imported by mistake and withdrawn: its 黄岛 case's number goes to a later 李沧 case
    wrong = write_csv(folder / "wrong.csv", [row(
        rating_id="HZW001", rated_at="2026-08-21 10:00:00", window_code="HD02", channel="二维码", item_code="XK01",
        level="不满意", rater_phone="13766608817", anonymous="否", comment="黄岛撤回的评价HDC7")])
    do("2026-08-21 11:00:00", "import", str(wrong))
    [(withdrawn,)] = query(db, "SELECT id FROM cases WHERE county_code = ? AND state = 'new'", (B,))
    do("2026-08-21 11:00:00", "batches", "withdraw", "4", "--reason", "导入了错误的文件")
    late = write_csv(folder / "late.csv", [_a(20, "2026-08-24 09:00:00", "LC01", "不满意", comment="李沧补充的差评",
                                              rater_phone="13800000020", anonymous="否")])
    do("2026-08-24 10:00:00", "import", str(late))
    assert query(db, "SELECT county_code FROM cases WHERE id = ?", (withdrawn,)) == [(A,)]
    del os.environ["HAOCHA_NOW"]
    return {"db": db, "a_cases": [*a_cases, withdrawn], "b_cases": b_cases}


@pytest.fixture(scope="module")
def bureau(tmp_path_factory):
    saved = os.environ.pop("HAOCHA_NOW", None)
    try:
        return _build(tmp_path_factory.mktemp("two-counties"))
    finally:
        if saved is not None:
            os.environ["HAOCHA_NOW"] = saved


@pytest.fixture
def db_path(bureau, tmp_path) -> Path:
    """A copy of the two-county database (the conftest's `cli` and `run` use it)."""
    path = tmp_path / "haocha.db"
    shutil.copy(bureau["db"], path)
    shutil.copy(str(bureau["db"]) + ".key", str(path) + ".key")
    return path


def _markers(bureau) -> list[tuple[str, re.Pattern]]:
    """(marker, pattern): a case number as a number of its own (not inside 0.1005 or 21005)."""
    # not inside a hash or a code either (ab1005cd of an audit anchor is no case number)
    numbers = [(str(n), re.compile(rf"(?<![0-9A-Za-z.]){n}(?![0-9A-Za-z.])")) for n in bureau["b_cases"]]
    return numbers + [(text, re.compile(re.escape(text))) for text in B_TEXT]


# --- every command that reads data, as county:370213 -------------------------------------------------------

OK, REFUSED = 0, 1
# (command, arguments, exit code). {out} is a folder for the files a command writes; {b} a case of 黄岛.
READS: list[tuple[str, list[str], int]] = [
    ("index", ["--by", "county", "--period", "2026-08", "-f", "json"], OK),
    ("index", ["--by", "window", "--by", "day", "--period", "2026-08", "-f", "json"], OK),
    ("index", ["--by", "channel", "--by", "item", "--period", "2026-08", "-f", "csv"], OK),
    ("index", ["--by", "indicator", "--period", "2026-08", "-f", "json"], OK),
    ("index", ["--period", "2026-08"], OK),
    ("index", ["--window", "HD01", "--period", "2026-08"], REFUSED),
    ("rank", ["--by", "county", "--period", "2026-08", "-f", "json"], OK),
    ("rank", ["--by", "county", "--period", "2026-08"], OK),
    ("rank", ["--by", "window", "--period", "2026-08", "-f", "csv"], OK),
    ("benchmark", ["--period", "2026-08", "--min-n", "1", "-f", "json"], OK),
    ("benchmark", ["--period", "2026-08", "--min-n", "1"], OK),
    ("compare", ["--county", A, "--before", "2026-07", "--after", "2026-08"], REFUSED),
    ("spc", ["--from", "2026-08-01", "--to", "2026-08-31", "-f", "json", "--svg", "{out}/p.svg"], OK),
    ("spc", ["--metric", "index", "--from", "2026-08-01", "--to", "2026-08-31", "--baseline",
             "2026-08-01..2026-08-10"], OK),
    ("spc", ["--city", "--from", "2026-08-01", "--to", "2026-08-31"], REFUSED),
    ("status", ["-f", "json"], OK),
    ("status", [], OK),
    ("config show", [], OK),
    ("org show", ["-f", "json"], OK),
    ("org show", ["--part", "staff", "-f", "csv"], OK),
    ("org show", ["--part", "responsibility", "-f", "json"], OK),  # the city's lists: nothing of any county
    ("org show", ["--part", "standards", "-f", "json"], OK),
    ("indicators show", [], OK),
    ("indicators versions", [], OK),
    ("indicators drivers", ["--period", "2026-08", "-f", "json"], OK),
    ("audit log", ["-f", "json"], OK),
    ("audit log", [], OK),
    ("audit log", ["--entity", "cases", "--id", "{b}", "-f", "json"], OK),
    ("audit log", ["--by", f"county:{B}", "-f", "json"], OK),
    ("audit log", ["--action", "case.", "--period", "2026-08", "-f", "csv"], OK),
    ("audit log", ["--entity", "windows", "-f", "json"], OK),
    ("audit log", ["--entity", "calendar", "-f", "json"], OK),
    ("audit verify", [], OK),
    ("audit anchor", ["-f", "json"], OK),  # the last event's id and hash: nothing of any county
    ("cases list", ["--status", "all", "-f", "json"], OK),
    ("cases list", ["--status", "all", "-f", "csv"], OK),
    ("cases list", ["--status", "all"], OK),
    *[("cases show", [str(case), "-f", "json"], OK) for case in (1, 2, 3, 4, 1009)],
    ("cases show", ["1009"], OK),
    ("cases show", ["{b}", "-f", "json"], REFUSED),
    ("cases contact", ["1009"], OK),
    ("cases contact", ["{b}"], REFUSED),
    ("cases stats", ["-f", "json"], OK),
    ("cases stats", ["--county", B], REFUSED),
    ("cases export", ["-f", "xlsx", "-o", "{out}/cases.xlsx"], OK),
    ("cases export", ["-f", "csv"], OK),
    ("calendar show", ["--year", "2026", "-f", "json"], OK),
    ("calendar show", [], OK),
    ("qr generate", ["--out", "{out}/qr", "--allow-local"], OK),
    ("qr generate", ["--county", B, "--out", "{out}/qr", "--allow-local"], REFUSED),
    ("qr sheet", ["--out", "{out}/sheet.html", "--allow-local"], OK),
    ("qr verify", ["http://127.0.0.1:8000/r?w=LC01&t=ABCDEFGHIJ"], REFUSED),
    ("report daily", ["--date", "2026-08-04", "--out", "{out}/reports"], REFUSED),
    ("report monthly", ["--month", "2026-08", "--out", "{out}/reports"], REFUSED),
    ("report county", ["--county", A, "--period", "2026-08", "--out", "{out}/reports"], OK),
    ("report county", ["--county", B, "--period", "2026-08", "--out", "{out}/reports"], REFUSED),
    # publishing every county's results is the city's act, public as they become (tests/test_public_report.py)
    ("report public", ["--month", "2026-08", "--by", "window", "--out", "{out}/reports"], REFUSED),
    ("flags list", ["-f", "json"], OK),
    ("flags list", ["-f", "csv"], OK),
    ("flags list", [], OK),
    ("flags windows", [], REFUSED),  # the rating-rate flags compare a county's windows: the city's
    ("volumes list", ["-f", "json"], OK),
    ("volumes list", [], OK),
    ("spotcheck samples", [], REFUSED),
    ("spotcheck list", ["-f", "json"], REFUSED),
    ("spotcheck stats", [], REFUSED),
    ("spotcheck contact", ["1"], REFUSED),
    ("risk list", ["-f", "json"], OK),
    ("risk assess", ["--period", "2026-08", "--dry-run", "-f", "json"], OK),
    ("risk assess", ["--period", "2026-08", "--dry-run"], OK),
    ("export ratings", ["-f", "json"], OK),
    ("export ratings", ["--profile", "national", "--out", "{out}/ratings.xlsx"], OK),
    ("export ratings", ["--out", "{out}/ratings.csv"], OK),
    ("export cases", ["-f", "json"], OK),
    ("export cases", ["--out", "{out}/cases.xlsx"], OK),
    ("batches list", [], REFUSED),
    ("batches show", ["3"], REFUSED),  # the batch that mixes the two counties
    ("batches rejects", ["3", "-f", "json"], REFUSED),
    ("batches rejects", ["3", "--out", "{out}/rejects.csv"], REFUSED),
    ("staff list", [], REFUSED),
    ("notify list", ["--status", "all", "-f", "json"], OK),
    ("datasette-metadata", [], OK),  # titles and descriptions of the tables: nothing of any county
]
# Commands that change the database or run something (a county is refused where the action is the city's;
# what they report is the change they made, checked by their own tests).
WRITES = {
    "init", "demo", "import", "serve", "backup", "org import", "org remove-window", "indicators weigh",
    "indicators import", "indicators activate",
    "cases classify", "cases approve", "cases reject", "cases reopen", "cases revisit", "cases close",
    "cases rerate", "cases appeal", "cases decide", "cases apply", "calendar add-holiday", "calendar add-workday",
    "calendar remove", "calendar import", "qr rotate", "flags scan", "spotcheck sample", "spotcheck record",
    "risk add", "risk set", "batches withdraw", "staff add", "staff passwd", "staff disable", "staff enable",
    "notify daily", "notify send", "notify test",
    "org import-standards", "org import-responsibility", "cases set-post",
    "volumes import", "org import-window-staff",
}


def _leaf_commands() -> set[str]:
    return {" ".join(path) for path, command in _walk(typer.main.get_command(app), [])
            if path and not getattr(command, "commands", None)}


def test_every_command_is_checked_for_county_scoping_or_listed_as_writing():
    reads = {name for name, _, _ in READS}
    assert reads & WRITES == set()
    assert (reads | WRITES) - _leaf_commands() == set(), "a listed command no longer exists"
    assert _leaf_commands() - reads - WRITES == set(), (
        "a new command: add it to READS (with the options that show the most) or to WRITES")


def _files(root: Path) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file()}


def _text_of(path: Path) -> str:
    """What a file says: its name, and its text (an .xlsx's every part; an image's name only)."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as z:
            return path.name + "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    if path.suffix == ".png":
        return path.name
    return path.name + path.read_text(encoding="utf-8", errors="replace")


@pytest.mark.parametrize(("command", "args", "code"), READS,
                         ids=[f"{c} {' '.join(a)}".strip() for c, a, _ in READS])
def test_a_county_sees_nothing_of_another_county(run, bureau, db_path, tmp_path, command, args, code):
    out = tmp_path / "out"
    out.mkdir()
    b_case = str(bureau["b_cases"][0])
    given = [a.replace("{out}", str(out)).replace("{b}", b_case) for a in args]
    before = _files(tmp_path)
    result = run(NOW, *command.split(), *given, operator=OPERATOR)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == code, (result.stdout, result.stderr)
    if code == REFUSED:
        assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr
    written = {p for p, stamp in _files(tmp_path).items() if before.get(p) != stamp
               and not p.name.startswith("haocha.db")}
    texts = {"stdout": result.stdout, "stderr": result.stderr} | {str(p): _text_of(p) for p in written}
    leaks = []
    for marker, pattern in _markers(bureau):
        if marker in given or (command == "org show" and marker in CATALOGUE):
            continue  # what the command was asked for, or the catalogue
        leaks += [f"{where}: {marker}" for where, text in texts.items() if pattern.search(text)]
    assert leaks == []
    if code == OK and command != "audit verify":
        assert result.stdout.strip() or written, "a reading command that shows nothing proves nothing"


# --- what a county does see ----------------------------------------------------------------------------------


def _json(run, *args, operator=OPERATOR):
    result = run(NOW, *args, "-f", "json", operator=operator)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_a_county_sees_its_rank_number_among_the_counties_but_not_the_others(run):
    city = _json(run, "rank", "--by", "county", "--period", "2026-08", operator="city")
    mine = _json(run, "rank", "--by", "county", "--period", "2026-08")
    [own] = mine["rows"]
    assert own == next(r for r in city["rows"] if r["county"] == A)
    assert own["rank"] >= 1 and mine["ranked"] == city["ranked"] == 3
    windows = _json(run, "rank", "--by", "window", "--period", "2026-08")
    assert {r["window"] for r in windows["rows"]} == {"LC01", "LC02", "LCWS"}
    refused = run(NOW, "rank", "--by", "county", "--county", B, operator=OPERATOR)
    assert refused.stderr == (f"Error: {OPERATOR} may see the ranking of county {A} only, not of {B} (leave out "
                              "--county: a county sees its own county's data)\n")


def test_a_countys_audit_log_holds_its_own_cases_windows_and_accounts(run, bureau):
    events = _json(run, "audit", "log")
    assert {(e["entity"], e["action"]) for e in events} >= {
        ("cases", "case.open"), ("cases", "case.classify"), ("cases", "case.appeal"), ("cases", "case.decide"),
        ("cases", "case.contact"), ("windows", "catalogue.update"), ("accounts", "account.add")}
    assert {e["entity"] for e in events} == {"cases", "windows", "staff", "accounts"}
    cases = {int(e["entity_id"]) for e in events if e["entity"] == "cases"}
    assert cases == set(bureau["a_cases"])
    # the tester's finding: another county's case, or another county's operator, shows nothing
    assert _json(run, "audit", "log", "--entity", "cases", "--id", str(bureau["b_cases"][0])) == []
    assert _json(run, "audit", "log", "--by", f"county:{B}") == []
    everything = _json(run, "audit", "log", operator="city")
    assert len(everything) > len(events) and any(e["entity"] == "batches" for e in everything)


def test_a_case_number_given_again_after_a_withdrawal_has_only_its_own_history(run, bureau):
    reused = bureau["a_cases"][-1]
    for operator in ("city", OPERATOR):
        history = _json(run, "cases", "show", str(reused), operator=operator)["history"]
        assert [e["action"] for e in history] == ["case.open"]
        assert json.loads(history[0]["after"])["county_code"] == A
    trail = _json(run, "audit", "log", "--entity", "cases", "--id", str(reused), operator="city")
    assert [e["action"] for e in trail] == ["case.open", "case.withdraw", "case.open"]


def test_flag_evidence_lists_only_the_countys_own_ratings_and_staff(run, db_path):
    own_ratings = {r[0] for r in query(db_path, "SELECT id FROM ratings WHERE county_code = ?", (A,))}
    flags = _json(run, "flags", "list")
    assert {f["rule"] for f in flags} == {"same_phone", "staff_phone"} and {f["county"] for f in flags} == {A}
    for flag in flags:
        assert set(flag["evidence"].get("ratings", [])) <= own_ratings
    same = next(f for f in flags if f["rule"] == "same_phone")["evidence"]
    assert same["count"] == 3 and len(same["ratings"]) == 2  # the third rating is 黄岛's
    staff = next(f for f in flags if f["rule"] == "staff_phone")["evidence"]
    assert (staff["staff"], staff["staff_county"], staff["same_county"]) == ([], [], False)
    table = run(NOW, "flags", "list", "--rule", "staff_phone", "-f", "csv", operator=OPERATOR)
    assert "139****0201 is staff of another county" in table.stdout
    city = _json(run, "flags", "list", "--rule", "staff_phone", "--county", A, operator="city")
    assert city[0]["evidence"]["staff"] == ["HD-S01"]


def test_the_daily_and_monthly_reports_point_a_county_to_its_own_report(run, tmp_path):
    daily = run(NOW, "report", "daily", "--date", "2026-08-04", "--out", str(tmp_path / "r"), operator=OPERATOR)
    assert daily.stderr == (f"Error: the daily report of every county is the city bureau's (市局) task; {OPERATOR} "
                            f"may not do it (a county's own report: haocha report county --county {A} --period "
                            "2026-08-04)\n")
    monthly = run(NOW, "report", "monthly", "--month", "2026-08", "--out", str(tmp_path / "r"), operator=OPERATOR)
    assert monthly.stderr.endswith(f"(a county's own report: haocha report county --county {A} --period 2026-08)\n")
    assert not (tmp_path / "r").exists()


def test_a_county_reads_its_own_figures_assessment_and_status(run, bureau):
    figures = _json(run, "index", "--by", "county", "--period", "2026-08")
    assert [r["county"] for r in figures["rows"]] == [A]
    total = _json(run, "index", "--period", "2026-08")["rows"][0]
    assert (total["unit"], total["n"]) == (A, figures["rows"][0]["n"])
    assessed = _json(run, "risk", "assess", "--period", "2026-08", "--dry-run")
    assert [c["county"] for c in assessed["counties"]] == [A] and {r["county"] for r in assessed["rows"]} == {A}
    refused = run(NOW, "risk", "assess", "--period", "2026-08", operator=OPERATOR)
    assert refused.stderr.endswith("(a county sees its own county's assessment with --dry-run)\n")
    status, city = _json(run, "status"), _json(run, "status", operator="city")
    assert status["ratings"] == 16 < city["ratings"]
    assert status["audit_events"] == len(_json(run, "audit", "log")) < city["audit_events"]
    assert "licang.csv" not in json.dumps(status) and "late.csv" in city["last_import"]
    bench = _json(run, "benchmark", "--period", "2026-08", "--min-n", "1")
    assert {r["county"] for r in bench["rows"]} == {A} and {r["best_county"] for r in bench["rows"]} == {None}
    assert list(bench["weakest"]) == [A]
