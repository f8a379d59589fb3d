"""Progress to the end: after the last byte is read, the import names each phase (opening cases, scanning
flags, writing; then the notifications) with its own count, so a long import never sits at 100 % without
a word; without a terminal nothing is drawn."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

import pytest
from import_support import NOW, good, write_csv
from rich.console import Console

from haocha_cli import import_writer, importer, notify
from haocha_cli.commands import ratings
from haocha_cli.context import open_context
from haocha_cli.import_writer import FLAG_SCAN_DAYS
from haocha_cli.importer import import_file

DAYS = 30
ROWS = 3050
BAD = ROWS // 10


@pytest.fixture(autouse=True)
def _now(monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", NOW)


def month_of_ratings(path, *, bad: bool = True, window=lambda i: "LC01", ids: int = 0):
    """ROWS ratings over DAYS consecutive days from 2024-05-01; every tenth one bad (a case each)."""
    rows = [good(ids + i, window_code=window(i), level="不满意" if bad and i % 10 == 0 else "满意",
                 rated_at=f"{date(2024, 5, 1) + timedelta(days=i % DAYS)} 10:{i % 60:02d}:00")
            for i in range(1, ROWS + 1)]
    return write_csv(path, rows)


def phases_of(db_path, path, **options) -> tuple[list[tuple[str, int, int | None]], dict]:
    events: list[tuple[str, int, int | None]] = []
    summary = import_file(open_context(db_path), path, progress=lambda *event: events.append(event), **options)
    return events, summary


def order(events) -> list[str]:
    return [name for i, (name, _, _) in enumerate(events) if i == 0 or events[i - 1][0] != name]


def test_the_core_reports_each_phase_in_order_with_its_counts(db_path, tmp_path, monkeypatch):
    # Bad reviews go to the closed loop in chunks while the file is read; the rest after the last byte.
    monkeypatch.setattr(import_writer, "CASE_FLUSH", 250)
    monkeypatch.setattr(import_writer, "STAGE_ROWS", 500)  # the file's rows written in several short transactions
    path = month_of_ratings(tmp_path / "month.csv")
    events, summary = phases_of(db_path, path)
    assert summary["accepted"] == ROWS and summary["cases_opened"] == BAD
    assert order(events) == ["read", "cases", "flags", "write"] == list(importer.PHASES)
    read = [(d, t) for name, d, t in events if name == "read"]
    size = path.stat().st_size
    assert read[-1] == (size, size) and [d for d, _ in read] == sorted(d for d, _ in read)
    cases = [(d, t) for name, d, t in events if name == "cases"]
    assert cases[-1] == (BAD, BAD) and 0 < cases[0][0] < BAD and cases[0][1] == BAD
    flags = [(d, t) for name, d, t in events if name == "flags"]
    assert flags == [(d, DAYS) for d in range(0, DAYS, FLAG_SCAN_DAYS)] + [(DAYS, DAYS)]
    assert events[-1] == ("write", 0, None) and [e for e in events if e[0] == "write"] == [("write", 0, None)]


def test_a_phase_with_nothing_to_do_is_not_reported(db_path, tmp_path):
    events, summary = phases_of(db_path, month_of_ratings(tmp_path / "good.csv", bad=False))
    assert summary["cases_opened"] == 0
    assert order(events) == ["read", "flags", "write"]  # no bad review: no case to open
    events, summary = phases_of(db_path, month_of_ratings(tmp_path / "dry.csv", ids=ROWS), dry_run=True)
    assert order(events) == ["read", "cases", "write"]  # a dry run scans no flags
    assert [e for e in events if e[0] == "cases"] == [("cases", 0, BAD), ("cases", BAD, BAD)]


def test_the_notifications_report_each_recipient(db_path, tmp_path, monkeypatch):
    (db_path.parent / "haocha.toml").write_text(
        '[notify.counties]\n370213 = ["json://127.0.0.1:9/licang"]\n370202 = ["json://127.0.0.1:9/shinan"]\n',
        encoding="utf-8")
    sent: list[str] = []
    monkeypatch.setattr(notify, "send", lambda url, title, body: sent.append(url))  # None: delivered
    ctx = open_context(db_path)
    import_file(ctx, month_of_ratings(tmp_path / "two.csv", window=lambda i: "LC01" if i % 20 else "SN01"))
    events: list[tuple[int, int]] = []
    delivery = notify.deliver_pending(ctx, progress=lambda done, total: events.append((done, total)))
    assert delivery.sent == BAD and len(set(sent)) == 2
    assert events == [(0, 2), (1, 2), (2, 2)]


def test_without_a_terminal_the_command_draws_nothing(cli, db_path, tmp_path, monkeypatch):
    # The file counts as large, rich is told it may draw (FORCE_COLOR), and notifications go out: still not
    # a byte more than the summary, since stderr is no terminal (cron, a pipe, these tests).
    monkeypatch.setattr(ratings, "PROGRESS_MIN_BYTES", 0)
    monkeypatch.setenv("FORCE_COLOR", "1")
    (db_path.parent / "haocha.toml").write_text('[notify.counties]\n370213 = ["json://127.0.0.1:9/licang"]\n',
                                                encoding="utf-8")
    monkeypatch.setattr(notify, "send", lambda url, title, body: None)
    result = cli("import", str(month_of_ratings(tmp_path / "month.csv")), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert json.loads(result.stdout)[0]["cases_opened"] == BAD


def test_on_a_terminal_every_phase_has_its_line_and_count():
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=150, color_system=None)
    with ratings._Phases("month.csv", True, console=console) as phase:
        for done in range(0, 24_000_001, 6_000_000):
            phase("read", done, 24_000_000)
        phase("cases", 300, BAD)
        phase("cases", BAD, BAD)
        for done in (0, 7, 14, 21, 28, 30):
            phase("flags", done, DAYS)
        phase("write", 0, None)
    last_frame = screen.getvalue().split("\x1b[?25h")[0].rsplit("\r", 1)[-1]
    lines = [line.split("━")[0].strip() + " " + line.rsplit("━", 1)[-1].strip() for line in
             last_frame.replace("\x1b[2K", "").replace("\x1b[1A", "").strip().splitlines()]
    assert [line.split(" 0:")[0].strip() for line in lines] == [
        "month.csv · 读取 reading 24.0/24.0 MB",
        f"month.csv · 开案 opening cases {BAD}/{BAD} 件",
        "month.csv · 可疑评价扫描 scanning flags 30/30 天",
        "month.csv · 写入 writing",
    ]


def test_the_bar_is_drawn_only_for_a_large_file_on_a_terminal(tmp_path):
    small = tmp_path / "small.csv"
    small.write_text("x\n", encoding="utf-8")
    with ratings._Phases(small.name, ratings._big(small)) as phase:
        assert phase is None  # a small file: nothing to draw, the core is given no callback
    with ratings._Phases("big.csv", True) as phase:
        assert phase is None  # a large one, but stderr is no terminal here
