"""A kill -9 in the middle of a large import leaves the database as it was: integrity_check ok, and no reader
sees any of the batch (it is staged: written in short transactions, visible at its last one; migration 13); the
next command that opens the database removes what it wrote, so that no batch, rating, aggregate, phone or case
of it is left. Killed while it reads the file and again at its end (the last rows, or its cases and flags being worked out),
running the import a third time completes it, and a fourth adds nothing.

Slow (a million-row file by default; HAOCHA_CRASH_ROWS sets another size): run with `pytest -m slow`.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROWS = int(os.environ.get("HAOCHA_CRASH_ROWS", "1000000"))


def haocha(db: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    env = dict(os.environ, HAOCHA_DB=str(db), HAOCHA_NOW="2025-01-01T00:00:00")
    return subprocess.run([sys.executable, "-m", "haocha_cli", *args], env=env, capture_output=True, text=True,
                          **kwargs)


TABLES = ("batches", "rating_rows", "rejects", "daily_agg_rows", "daily_indicator_agg_rows", "contacts", "cases",
          "flags", "pending_imports")
VIEWS = ("ratings", "daily_agg", "daily_indicator_agg")


def counts(db: Path, names: tuple[str, ...] = TABLES + VIEWS) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in names}
    finally:
        conn.close()


def kill_when(db: Path, source: Path, ready) -> None:
    """Start `haocha import`, kill -9 it once ``ready(db)`` holds, and check what a reader sees then."""
    before = counts(db)
    env = dict(os.environ, HAOCHA_DB=str(db), HAOCHA_NOW="2025-01-01T00:00:00")
    proc = subprocess.Popen([sys.executable, "-m", "haocha_cli", "import", str(source)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while not ready(db):
        assert proc.poll() is None, "the import finished before it could be killed; use more rows"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    left = counts(db)
    assert left["pending_imports"] == 1 and left["rating_rows"] > 0  # written, and left behind …
    # … but no reader sees any of it
    assert {t: left[t] for t in VIEWS + ("cases", "flags")} == {t: before[t] for t in VIEWS + ("cases", "flags")}
    audit = haocha(db, "audit", "verify")  # a command opens the database: the batch is removed
    assert audit.returncode == 0, audit.stderr
    assert counts(db) == before


def _rows_written(share: float):
    def ready(db: Path) -> bool:  # the largest id is a look-up at the end of the table, cheap to poll
        with sqlite3.connect(db) as conn:
            return (conn.execute("SELECT max(id) FROM rating_rows").fetchone()[0] or 0) >= share * ROWS
    return ready


@pytest.mark.slow
def test_a_killed_import_leaves_nothing_and_running_it_again_completes_it(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from import_bench import generate

    source = tmp_path / "ratings.csv"
    generate(source, ROWS)
    db = tmp_path / "haocha.db"
    assert haocha(db, "init").returncode == 0
    before = counts(db)
    kill_when(db, source, _rows_written(0.3))  # while it reads the file
    kill_when(db, source, _rows_written(0.78))  # near the end: 80 % of the rows are accepted (2025 is "future")
    assert counts(db) == before

    done = haocha(db, "import", str(source), "--format", "json", timeout=1800)
    assert done.returncode == 0, done.stderr
    [summary] = json.loads(done.stdout)
    assert summary["batch"] == 1 and summary["rows_read"] == ROWS  # the killed imports' batch rows are gone
    assert summary["accepted"] + summary["duplicate"] + summary["rejected"] == ROWS
    after = counts(db)
    assert after["batches"] == 1 and after["ratings"] == summary["accepted"] and after["pending_imports"] == 0
    assert after["cases"] == summary["cases_opened"] > 0

    again = haocha(db, "import", str(source))
    assert again.returncode == 0 and "was already imported as batch 1; nothing added" in again.stderr
    assert counts(db) == after
