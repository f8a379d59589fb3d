"""Crash safety: a process killed with SIGKILL at any moment leaves the database whole — `PRAGMA
integrity_check` ok, the audit trail intact, and its work wholly there or wholly absent; running it again
completes it. tests/test_import_crash.py kills one very large import in its middle; here imports and a
bulk `cases apply` are killed at random moments, from before their transaction begins to after it commits.

Slow (subprocesses, several runs each): `pytest -m slow`. HAOCHA_CRASH_SEED picks other moments.
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOW = "2025-01-01T00:00:00"
SEED = int(os.environ.get("HAOCHA_CRASH_SEED", "20240506"))
KILLS = 5
pytestmark = pytest.mark.slow


def env(db: Path) -> dict[str, str]:
    return dict(os.environ, HAOCHA_DB=str(db), HAOCHA_NOW=NOW)


def haocha(db: Path, *args: str, operator: str = "city") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "haocha_cli", "--operator", operator, *args], env=env(db),
                          capture_output=True, text=True, timeout=600)


def killed(db: Path, delay: float, *args: str, operator: str = "city") -> int | None:
    """Start a command, SIGKILL it after ``delay`` seconds; its exit code if it finished first, else None."""
    proc = subprocess.Popen([sys.executable, "-m", "haocha_cli", "--operator", operator, *args], env=env(db),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=delay)
        return proc.returncode
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return None


def copy_db(source: Path, target: Path) -> Path:
    for suffix in ("", ".key"):
        shutil.copy(str(source) + suffix, str(target) + suffix)
    return target


def sound(db: Path) -> None:
    """integrity_check ok and the audit trail intact, as `haocha audit verify` says."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    verify = haocha(db, "audit", "verify")
    assert verify.returncode == 0, verify.stderr


def moments(full: float, rng: random.Random) -> list[float]:
    """KILLS moments, one at random in each of KILLS equal spans from 0 to 1.5 × the command's time: the
    first before its transaction begins, the middle ones inside it, the last mostly after its commit."""
    span = full * 1.5 / KILLS
    return [span * (k + rng.random()) for k in range(KILLS)]


def duration(db: Path, *args: str, operator: str = "city") -> float:
    """How long the command takes here, to spread the kills over its whole run (not an assertion)."""
    start = time.monotonic()
    result = haocha(db, *args, operator=operator)
    assert result.returncode == 0, result.stderr
    return time.monotonic() - start


# --- import ------------------------------------------------------------------------------------------------


def batch_state(db: Path) -> dict[str, int] | None:
    """None when no batch is stored; else the batch's counts, checked against what is in the tables."""
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT id, rows_read, accepted, duplicate, rejected FROM batches").fetchall()
        tables = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("ratings", "rejects", "cases", "contacts", "daily_agg", "flags")}
        if not row:
            assert tables == dict.fromkeys(tables, 0), tables  # nothing of a half-written batch
            return None
        [(batch, read, accepted, duplicate, rejected)] = row
        assert read == accepted + duplicate + rejected and read > 0
        assert tables["ratings"] == accepted and tables["rejects"] == rejected
        assert conn.execute("SELECT sum(n) FROM daily_agg").fetchone()[0] == accepted
        bad = conn.execute("SELECT count(*) FROM ratings WHERE level <= 2").fetchone()[0]
        assert tables["cases"] == bad > 0
        events = conn.execute("SELECT count(*) FROM audit_events WHERE action = 'ratings.import'").fetchone()[0]
        assert events == 1
        return {"batch": batch, "accepted": accepted}
    finally:
        conn.close()


def test_an_import_killed_at_any_moment_is_all_or_nothing_and_a_rerun_completes_it(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from import_bench import generate

    source = tmp_path / "ratings.csv"
    generate(source, 40_000, seed=7)
    base = tmp_path / "base.db"
    assert haocha(base, "init").returncode == 0
    timing = copy_db(base, tmp_path / "timing.db")
    full = duration(timing, "import", str(source))
    expected = batch_state(timing)  # what the uninterrupted import stored
    assert expected["accepted"] > 30_000
    outcomes = []
    for i, delay in enumerate(moments(full, random.Random(SEED))):
        db = copy_db(base, tmp_path / f"run{i}.db")
        finished = killed(db, delay, "import", str(source))
        sound(db)
        state = batch_state(db)
        outcomes.append((round(delay, 2), finished, state is not None))
        assert finished in (None, 0), outcomes
        if finished == 0:
            assert state is not None  # it completed before the kill
        again = haocha(db, "import", str(source), "--format", "json")
        assert again.returncode == 0, (outcomes, again.stderr)
        [summary] = json.loads(again.stdout)
        if state is None:
            assert summary["status"] == "imported" and summary["accepted"] == expected["accepted"], outcomes
        else:
            assert summary["status"] == "already imported", outcomes
        assert batch_state(db) == expected
        sound(db)


# --- cases apply ---------------------------------------------------------------------------------------------


COUNTY = "county:370213"


def _bad_reviews(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["评价编号", "评价时间", "窗口编码", "评价渠道", "满意度", "联系电话", "是否匿名"])
        for i in range(n):
            writer.writerow([f"B{i:06d}", f"2024-12-{2 + i % 20:02d} {9 + i % 7:02d}:{i % 60:02d}:00",
                             ("LC01", "LC02")[i % 2], "二维码", ("不满意", "非常不满意")[i % 2],
                             f"138{i:08d}" if i % 3 == 0 else "", "否" if i % 3 == 0 else "是"])
    return path


def _filled_sheet(db: Path, folder: Path) -> tuple[Path, int]:
    sheet = folder / "sheet.csv"
    result = haocha(db, "cases", "export", "--format", "csv", "-o", str(sheet), operator=COUNTY)
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(sheet.open(encoding="utf-8-sig")))
    header = rows[0]
    for r in rows[1:]:
        r[header.index("分类")] = "可整改"
        r[header.index("整改措施")] = "窗口服务规范培训"
        r[header.index("责任人")] = "张三"
        if r[header.index("联系电话")] != "匿名":
            r[header.index("回访结果")] = "已联系上"
    filled = folder / "filled.csv"
    with filled.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return filled, len(rows) - 1


def apply_state(db: Path, cases: int) -> bool:
    """Whether the sheet is applied (every case closed, its events there) or not at all (all new, none)."""
    conn = sqlite3.connect(db)
    try:
        states = dict(conn.execute("SELECT state, count(*) FROM cases GROUP BY state"))
        events = dict(conn.execute("SELECT action, count(*) FROM audit_events WHERE action IN "
                                   "('case.classify', 'case.revisit', 'case.close') GROUP BY action"))
        real_name = conn.execute("SELECT count(*) FROM cases WHERE real_name = 1").fetchone()[0]
    finally:
        conn.close()
    if states == {"new": cases}:
        assert events == {}
        return False
    assert states == {"closed": cases}, states
    assert events == {"case.classify": cases, "case.revisit": real_name, "case.close": cases}
    return True


def test_a_cases_apply_killed_at_any_moment_is_all_or_nothing_and_a_rerun_completes_it(tmp_path):
    base = tmp_path / "base.db"
    assert haocha(base, "init").returncode == 0
    imported = haocha(base, "import", str(_bad_reviews(tmp_path / "bad.csv", 4000)))
    assert imported.returncode == 0, imported.stderr
    sheet, cases = _filled_sheet(base, tmp_path)
    assert cases == 4000
    full = duration(copy_db(base, tmp_path / "timing.db"), "cases", "apply", str(sheet), operator=COUNTY)
    outcomes = []
    for i, delay in enumerate(moments(full, random.Random(SEED + 1))):
        db = copy_db(base, tmp_path / f"run{i}.db")
        finished = killed(db, delay, "cases", "apply", str(sheet), operator=COUNTY)
        sound(db)
        applied = apply_state(db, cases)
        outcomes.append((round(delay, 2), finished, applied))
        assert finished in (None, 0) and (finished is None or applied), outcomes
        again = haocha(db, "cases", "apply", str(sheet), "--format", "json", operator=COUNTY)
        if applied:
            # Applied already: every row is refused now (the cases are closed), and nothing changes.
            assert again.returncode == 1 and "row(s) refused; nothing was changed" in again.stderr, outcomes
        else:
            assert again.returncode == 0, (outcomes, again.stderr)
            assert json.loads(again.stdout)["applied_rows"] == cases
        assert apply_state(db, cases) is True
        sound(db)


# --- backup --------------------------------------------------------------------------------------------------


def test_a_backup_killed_at_any_moment_leaves_nothing_readable_and_the_next_one_clears_it(tmp_path, umask_022):
    """Under the usual umask 022: whatever a killed backup leaves (DEST.part, its journal, the key's .part) is
    owner-only; DEST is absent or a whole, verified copy; the next backup to DEST leaves DEST and its key only."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from import_bench import generate

    source = tmp_path / "ratings.csv"
    generate(source, 40_000, seed=11)
    db = tmp_path / "live.db"
    assert haocha(db, "init").returncode == 0
    assert haocha(db, "import", str(source)).returncode == 0
    folder = tmp_path / "backups"
    folder.mkdir()
    dest = folder / "copy.db"
    full = duration(db, "backup", str(dest))
    outcomes = []
    for delay in moments(full, random.Random(SEED + 2)):
        for path in folder.iterdir():
            path.unlink()
        finished = killed(db, delay, "backup", str(dest))
        left = {p.name: stat.S_IMODE(os.stat(p).st_mode) for p in folder.iterdir()}
        outcomes.append((round(delay, 2), finished, sorted(left)))
        assert finished in (None, 0), outcomes
        assert all(mode == 0o600 for mode in left.values()), (outcomes, left)
        if dest.exists():  # renamed after its key: never a copy without the key that reads its phones
            assert Path(f"{dest}.key").exists(), outcomes
            copy = sqlite3.connect(dest)
            try:
                assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            finally:
                copy.close()
        again = haocha(db, "backup", str(dest), "--force")
        assert again.returncode == 0, (outcomes, again.stderr)
        assert sorted(p.name for p in folder.iterdir()) == ["copy.db", "copy.db.key"], outcomes
        assert haocha(dest, "audit", "verify").returncode == 0
    sound(db)
