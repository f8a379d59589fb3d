"""Concurrency: an import, readers (`index`, `report daily`, `cases list`), a writer (`cases close`) and
backups run at the same time on one database, each command a process of its own as cron jobs and county
staff would run them. No "database is locked" reaches anyone (WAL: readers never wait; writers take their
lock at once and wait up to the busy timeout), and every result is consistent: a reader sees the import's
batch wholly or not at all, never half, and each backup is a verified, whole copy.

Slow (many processes): `pytest -m slow`.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest

NOW = "2025-01-01T00:00:00"
DAY = "2024-03-05"
COUNTY = "county:370213"
pytestmark = pytest.mark.slow


def run(db: Path, *args: str, operator: str = "city") -> subprocess.CompletedProcess:
    env = dict(os.environ, HAOCHA_DB=str(db), HAOCHA_NOW=NOW)
    return subprocess.run([sys.executable, "-m", "haocha_cli", "--operator", operator, *args], env=env,
                          capture_output=True, text=True, timeout=300)


def counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return {
            "ratings": conn.execute("SELECT count(*) FROM ratings").fetchone()[0],
            "cases": conn.execute("SELECT count(*) FROM cases").fetchone()[0],
            "day": conn.execute("SELECT count(*) FROM ratings WHERE day = ?", [DAY]).fetchone()[0],
        }
    finally:
        conn.close()


def daily_n(report: Path) -> int:
    """N of the day in the daily report's overview table (first row under 总体情况)."""
    text = report.read_text(encoding="utf-8")
    overview = text.split("## 总体情况", 1)[1]
    return int(re.search(r"^\| [^|]+ \| (\d+) \|", overview, re.M).group(1))


def ratings_file(path: Path, n: int, prefix: str, seed: int) -> Path:
    """n ratings over the working days of 2024 at eight counters, about 3 % bad reviews, a third real-name."""
    rng = random.Random(seed)
    days = [d for d in (date(2024, 1, 2) + timedelta(days=k) for k in range(360)) if d.weekday() < 5]
    windows = ["LC01", "LC02", "SN01", "SB01", "HD01", "LS01", "CY01", "JM01"]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["评价编号", "评价时间", "窗口编码", "评价渠道", "满意度", "联系电话", "是否匿名"])
        for i in range(n):
            real_name = rng.random() < 0.33
            writer.writerow([f"{prefix}{i:07d}", f"{days[i * len(days) // n]} {9 + i % 6:02d}:{rng.randrange(60):02d}:00",
                             rng.choice(windows), "二维码",
                             rng.choices(["非常满意", "满意", "基本满意", "不满意", "非常不满意"], [70, 20, 7, 2, 1])[0],
                             f"13{rng.randrange(10**9):09d}" if real_name else "", "否" if real_name else "是"])
    return path


def test_import_readers_writer_and_backups_at_once(tmp_path):
    db = tmp_path / "haocha.db"
    assert run(db, "init").returncode == 0
    first = ratings_file(tmp_path / "first.csv", 20_000, "A", 1)
    second = ratings_file(tmp_path / "second.csv", 100_000, "B", 2)
    assert run(db, "import", str(first)).returncode == 0
    before = counts(db)
    # The county's cases of the first batch, classified, to be closed one by one during the import.
    open_cases = json.loads(run(db, "cases", "list", "--format", "json", operator=COUNTY).stdout)
    to_close = [c["id"] for c in open_cases][:12]
    sheet = tmp_path / "classify.csv"
    with sheet.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["案件编号", "分类"], *[[case, "可整改"] for case in to_close]])
    assert run(db, "cases", "apply", str(sheet), operator=COUNTY).returncode == 0

    env = dict(os.environ, HAOCHA_DB=str(db), HAOCHA_NOW=NOW)
    importer = subprocess.Popen([sys.executable, "-m", "haocha_cli", "import", str(second), "--format", "json"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results: dict[str, list[subprocess.CompletedProcess]] = {}
    lock = threading.Lock()

    def keep(name: str, result: subprocess.CompletedProcess) -> None:
        with lock:
            results.setdefault(name, []).append(result)

    def reader(name: str, *args: str) -> None:
        runs = 0
        while importer.poll() is None or runs < 2:  # at least two runs, most of them during the import
            # {run}: each report run writes a folder of its own, to be checked one by one.
            keep(name, run(db, *[a.format(run=runs) for a in args]))
            runs += 1

    reports = tmp_path / "reports"

    def writer() -> None:
        for i, case in enumerate(to_close):
            keep("close", run(db, "cases", "close", str(case), "--measures", "培训", "--responsible", "张三",
                              operator=COUNTY))
            if i % 4 == 0:
                keep("backup", run(db, "backup", str(tmp_path / f"backup{i}.db")))

    threads = [threading.Thread(target=reader, args=("index", "index", "--period", "2024", "--format", "json")),
               threading.Thread(target=reader, args=("cases list", "cases", "list", "--status", "all", "--all",
                                                     "--format", "json")),
               threading.Thread(target=reader, args=("report", "report", "daily", "--date", DAY, "--format", "md",
                                                     "--out", str(reports / "{run}"))),
               threading.Thread(target=writer)]
    for t in threads:
        t.start()
    out, err = importer.communicate(timeout=600)
    for t in threads:
        t.join(timeout=600)
    assert importer.returncode == 0, err
    [summary] = json.loads(out)
    after = counts(db)
    assert after["ratings"] == before["ratings"] + summary["accepted"]

    # Nobody was told the database was busy or locked, and every command succeeded.
    failed = [(name, r.args[3:], r.stderr) for name, rs in results.items() for r in rs if r.returncode != 0]
    assert failed == []
    assert not [r for rs in results.values() for r in rs if "locked" in r.stderr or "busy" in r.stderr]
    assert len(results["close"]) == len(to_close) and len(results["backup"]) == 3

    # Each reader saw the batch wholly or not at all.
    seen = set()
    for r in results["index"]:
        data = json.loads(r.stdout)
        assert data["period"]["label"] == "2024" and data["rows"][0]["unit"] == "city"
        seen.add(data["rows"][0]["n"])
    # Both states were seen: the readers really ran while the import was writing.
    assert seen == {before["ratings"], after["ratings"]}
    for r in results["cases list"]:
        assert len(json.loads(r.stdout)) in (before["cases"], after["cases"])
    for k in range(len(results["report"])):
        assert daily_n(reports / str(k) / f"daily-{DAY}.md") in (before["day"], after["day"])
    assert after["day"] > before["day"]

    # Every close took effect, once; the trail is whole.
    conn = sqlite3.connect(db)
    try:
        states = [conn.execute("SELECT state FROM cases WHERE id = ?", [c]).fetchone()[0] for c in to_close]
        closes = conn.execute("SELECT count(*) FROM audit_events WHERE action = 'case.close'").fetchone()[0]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    assert states == ["closed"] * len(to_close) and closes == len(to_close)
    assert run(db, "audit", "verify").returncode == 0

    # Each backup is whole: verified, every batch complete, aggregates equal to its ratings.
    for i in range(0, len(to_close), 4):
        copy = tmp_path / f"backup{i}.db"
        assert run(copy, "audit", "verify").returncode == 0
        conn = sqlite3.connect(copy)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            for batch, accepted in conn.execute("SELECT id, accepted FROM batches"):
                assert conn.execute("SELECT count(*) FROM ratings WHERE batch_id = ?", [batch]).fetchone()[0] == accepted
            assert conn.execute("SELECT sum(n) FROM daily_agg").fetchone()[0] == \
                conn.execute("SELECT count(*) FROM ratings").fetchone()[0]
            assert conn.execute("SELECT count(*) FROM ratings").fetchone()[0] in (before["ratings"], after["ratings"])
        finally:
            conn.close()
