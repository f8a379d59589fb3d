"""A kill -9 in the middle of a large import leaves the database as it was: integrity_check ok, no batch,
no rating, no aggregate; running the import again completes it, and a third run adds nothing.

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


def counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("batches", "ratings", "rejects", "daily_agg", "daily_indicator_agg", "contacts", "cases")}
    finally:
        conn.close()


@pytest.mark.slow
def test_a_killed_import_leaves_nothing_and_running_it_again_completes_it(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from import_bench import generate

    source = tmp_path / "ratings.csv"
    generate(source, ROWS)
    db = tmp_path / "haocha.db"
    assert haocha(db, "init").returncode == 0
    before = counts(db)
    wal = Path(str(db) + "-wal")
    env = dict(os.environ, HAOCHA_DB=str(db), HAOCHA_NOW="2025-01-01T00:00:00")
    proc = subprocess.Popen([sys.executable, "-m", "haocha_cli", "import", str(source)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Kill it once the batch transaction has written well into the WAL: in the middle, not before or after.
    deadline = time.monotonic() + 600
    while wal.exists() is False or wal.stat().st_size < 24 << 20:
        assert proc.poll() is None, "the import finished before it could be killed; use more rows"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert counts(db) == before  # integrity_check ok, and nothing of the batch
    audit = haocha(db, "audit", "verify")
    assert audit.returncode == 0, audit.stderr

    done = haocha(db, "import", str(source), "--format", "json", timeout=1800)
    assert done.returncode == 0, done.stderr
    [summary] = json.loads(done.stdout)
    assert summary["batch"] == 1 and summary["rows_read"] == ROWS
    assert summary["accepted"] + summary["duplicate"] + summary["rejected"] == ROWS
    after = counts(db)
    assert after["batches"] == 1 and after["ratings"] == summary["accepted"]
    assert after["cases"] == summary["cases_opened"] > 0

    again = haocha(db, "import", str(source))
    assert again.returncode == 0 and "was already imported as batch 1; nothing added" in again.stderr
    assert counts(db) == after
