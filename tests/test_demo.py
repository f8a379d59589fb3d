"""`haocha demo`: the Licang pilot story end to end, deterministic, on embedded data."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import stat

from import_support import good, write_csv
from typer.testing import CliRunner

from haocha_cli.cli import app


def test_demo_builds_the_pilot_story_and_its_reports(tmp_path, umask_022):
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--ratings", "2000"])
    assert result.exit_code == 0, result.output
    # every file the demo wrote (database, key, haocha.toml, batches, QR codes, reports) owner-only, under
    # umask 022; its folders 0700 (tests/test_file_modes.py for each command)
    modes = {p.relative_to(out).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in [out, *out.rglob("*")]}
    assert {"haocha.db", "haocha.db.key", "haocha.toml", "batches/ratings-2026-08-fixes.csv", "qr/sheet.html",
            "reports/monthly-2026-08.html", ".haocha-demo"} <= set(modes)
    assert {p: m for p, m in modes.items() if m != (0o700 if (out / p).is_dir() else 0o600)} == {}
    assert f"monthly report:  {out / 'reports' / 'monthly-2026-08.html'}" in result.stdout
    db = out / "haocha.db"
    conn = sqlite3.connect(db)
    # the batch with bad rows: each rejected with its reason, and nothing lost
    batch = conn.execute("SELECT rows_read, accepted, rejected, duplicate FROM batches"
                         " WHERE file_name = 'ratings-2026-08-fixes.csv'").fetchone()
    assert batch[0] == batch[1] + batch[2] + batch[3] and batch[2] == 6  # 5 bad rows and an id repeated in the file
    # cases at every stage of the closed loop
    states = {s for (s,) in conn.execute("SELECT DISTINCT state FROM cases")}
    assert {"rerated", "closed", "rectifying", "unrectifiable", "no_action", "excluded"} <= states
    assert conn.execute("SELECT count(*) FROM spot_checks WHERE outcome = 'failed'").fetchone()[0] > 0
    # the pilot's effect, as the monthly report shows it
    html = (out / "reports" / "monthly-2026-08.html").read_text(encoding="utf-8")
    assert "试点效果评估" in html and "李沧区 (370213)" in html
    # the daily report, Chinese throughout: the control-chart signal of the day with its rule's Chinese name
    daily = (out / "reports" / "daily-2026-08-31.md").read_text(encoding="utf-8")
    assert "| 差评率 |" in daily and "3σ 控制限之外" in daily and "beyond" not in daily and "bad-rate" not in daily
    compare = CliRunner().invoke(app, ["--db", str(db), "compare", "--county", "370213", "--before",
                                       "2026-03-01..2026-05-31", "--after", "2026-06-01..2026-08-31", "-f", "json"])
    data = json.loads(compare.stdout)
    # the demo's haocha.toml names the pilot: `haocha compare` alone judges it
    assert json.loads(CliRunner().invoke(app, ["--db", str(db), "compare", "-f", "json"]).stdout) == data
    assert data["did_index"]["diff"] > 5 and data["did_index"]["p_value"] < 0.05
    assert (out / "qr" / "sheet.html").exists() and len(list((out / "qr").glob("*.png"))) == 25
    assert CliRunner().invoke(app, ["--db", str(db), "audit", "verify"]).exit_code == 0
    # one story in time: a file a day imported at 06:30, cases worked after their import in office hours,
    # so that no time in the audit trail goes back and no case is worked before it was opened
    assert conn.execute("SELECT count(*) FROM audit_events a JOIN audit_events b ON b.id = a.id + 1"
                        " WHERE b.at < a.at").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM cases WHERE classified_at < opened_at OR revisit_first_at < opened_at"
                        " OR closed_at < opened_at").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM batches WHERE file_name LIKE 'ratings-2026-0_-__.csv'").fetchone()[0] == 184


def _events(db) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id, action, hash FROM audit_events ORDER BY id").fetchall()


def test_demo_is_deterministic_and_rebuilds_the_folder_it_made(tmp_path):
    out = tmp_path / "a"
    out.mkdir()  # an empty folder that exists is the demo's to use
    reports = ("daily-2026-08-31.md", "monthly-2026-08.html", "county-370213-2026-08.md")
    assert CliRunner().invoke(app, ["demo", "--out", str(out), "--ratings", "1000"]).exit_code == 0
    first = {report: (out / "reports" / report).read_bytes() for report in reports}
    events = _events(out / "haocha.db")
    # Run again in the folder it made: the database is rebuilt from nothing (not imported into again), the
    # reports are written anew (their folder removed first) with the same bytes, a file of the user's stays.
    shutil.rmtree(out / "reports")
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    again = CliRunner().invoke(app, ["demo", "--out", str(out), "--ratings", "1000"])
    assert again.exit_code == 0, again.output
    assert {report: (out / "reports" / report).read_bytes() for report in reports} == first
    assert _events(out / "haocha.db") == events
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"


def _contents(folder) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in folder.rglob("*")}


def test_demo_refuses_a_folder_it_did_not_make_and_leaves_it_byte_identical(cli, db_path, tmp_path):
    # A bureau's working folder (the tests' current folder): its live database, key file and haocha.toml.
    assert cli("import", str(write_csv(tmp_path / "r.csv", [good(1, level="不满意", rater_phone="13812345678")]))).exit_code == 0
    (tmp_path / "haocha.toml").write_text('bureau_name = "青岛市烟草专卖局"\n', encoding="utf-8")
    before = _contents(tmp_path)
    assert {"haocha.db", "haocha.db.key", "haocha.toml"} <= set(before)
    for out in (str(tmp_path), "."):
        result = CliRunner().invoke(app, ["demo", "--out", out, "--ratings", "1000"])
        assert result.exit_code == 1
        assert result.stderr.strip() == f"Error: {out} is not empty and was not made by haocha demo; choose a new folder"
    assert _contents(tmp_path) == before


def test_a_demo_folder_given_another_database_is_refused(db_path, tmp_path):
    from haocha_cli.demo import MARKER, claim_folder

    folder = tmp_path / "demo"
    token = claim_folder(folder)  # what the demo does first in a new folder
    assert len(token) == 32 and token in (folder / MARKER).read_text(encoding="utf-8")
    assert claim_folder(folder) == token  # a folder the demo made, no database in it yet: the demo's
    # …then someone makes a real database there (or copies one in): it is not the demo's to delete
    shutil.copy(db_path, folder / "haocha.db")
    shutil.copy(str(db_path) + ".key", folder / "haocha.db.key")
    before = _contents(folder)
    result = CliRunner().invoke(app, ["demo", "--out", str(folder), "--ratings", "1000"])
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"Error: {folder / 'haocha.db'} was not made by haocha demo; choose a new "
                                     "folder")
    assert _contents(folder) == before
    # a file given as the folder, and a marker without its token in a folder holding something, are refused too
    assert CliRunner().invoke(app, ["demo", "--out", str(db_path)]).stderr.strip() == (
        f"Error: {db_path} is a file, not a folder; choose a new folder")
    (folder / MARKER).write_text("# made by haocha demo\n", encoding="utf-8")
    assert CliRunner().invoke(app, ["demo", "--out", str(folder)]).stderr.strip() == (
        f"Error: {folder} is not empty and was not made by haocha demo; choose a new folder")
    assert (folder / "haocha.db").read_bytes() == db_path.read_bytes()


def test_demo_refuses_too_few_ratings(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--ratings", "10"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == ("Error: Invalid value for '--ratings': 10 is not in the range"
                                                      " 1000<=x<=1000000.")
    assert list(tmp_path.iterdir()) == []
