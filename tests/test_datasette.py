"""Datasette (docs/datasette.md): the views of migration 11 hold names and no personal data, the metadata of
`haocha datasette-metadata` describes every table, view and column in Chinese and hides the personal tables,
and the documented copy for Datasette (a backup, then strip.sql) holds no phone, comment or note in its bytes.
The slow test serves that copy with real Datasette."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cases_support import add_ratings
from import_support import query
from reliability_support import COMMENT_NUMBERS, RATER_PHONES, build, full_numbers, staff_phones
from support import ok

from haocha_cli import cases
from haocha_cli.bootstrap import init_database
from haocha_cli.datasette_metadata import _HIDDEN

ROOT = Path(__file__).resolve().parent.parent
VIEWS = ("v_cases", "v_county_month", "v_ratings")
# The views every reader of haocha reads in place of the tables (migration 13: they leave out an import still
# being written); not views for Datasette, whose readers start from VIEWS.
READER_VIEWS = ("daily_agg", "daily_indicator_agg", "ratings")
PERSONAL = ("contacts", "staff", "rejects", "accounts", "web_sessions", "login_failures", "notifications", "meta")
# Column names that would carry personal data or free text into a view.
PERSONAL_COLUMN = re.compile(r"phone|contact|comment|staff|case_no|token|note|classify_reason|measures|responsible|"
                             r"caller|evidence")


def _columns(db: Path, name: str) -> list[str]:
    return [r[1] for r in query(db, f"PRAGMA table_info({name})")]


def _rows(db: Path, sql: str, params: tuple = ()) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def test_the_views_exist_after_migration_and_hold_no_personal_column(db_path):
    assert [r[0] for r in query(db_path, "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name")] == sorted(
        VIEWS + READER_VIEWS)
    for view in VIEWS:
        columns = _columns(db_path, view)
        assert columns and [c for c in columns if PERSONAL_COLUMN.search(c)] == [], view
    ratings = _columns(db_path, "v_ratings")
    assert {"county_name", "window_name", "item_name", "level_name", "channel", "rating_index", "day"} <= set(ratings)
    assert "comment" not in ratings and "contact_id" not in ratings and "rater_phone" not in ratings
    assert {"county_name", "window_name", "item_name", "state_name", "rectify_due", "overdue"} <= set(
        _columns(db_path, "v_cases"))


def test_the_views_show_names_for_a_small_database(cli, db_path):
    add_ratings(db_path, [
        {"rated_at": "2026-08-03 09:00:00", "window": "LC01", "level": "不满意", "item": "XK02", "problems": ["C1", "D1"],
         "phone": "13812345678", "comment": "请回电13812345678"},
        {"rated_at": "2026-08-03 10:00:00", "window": "LC02", "level": "非常满意"},
        {"rated_at": "2026-08-04 10:00:00", "window": "SNWS", "level": "满意", "item": ""},
    ])
    rows = _rows(db_path, "SELECT * FROM v_ratings ORDER BY id")
    first = rows[0]
    assert (first["county_code"], first["county_name"], first["window_name"], first["item_code"], first["item_name"],
            first["level"], first["level_name"], first["mode_name"], first["real_name"], first["problems"],
            first["counted"]) == ("370213", "李沧区", "李沧区局政务服务大厅烟草专卖1号窗口", "XK02", "烟草专卖零售许可证延续",
                                  2, "不满意", "线下窗口", 1, "C1 服务规范、D1 办理时限", 1)
    assert (rows[2]["window_name"], rows[2]["mode_name"], rows[2]["item_code"], rows[2]["item_name"]) == (
        "市南区局网上办理渠道", "网上办理", None, None)
    assert not any("13812345678" in json.dumps(r, ensure_ascii=False) or "138****5678" in json.dumps(r) for r in rows)
    [case] = _rows(db_path, "SELECT * FROM v_cases")
    assert (case["county_name"], case["window_name"], case["item_name"], case["state_name"], case["level_name"],
            case["real_name"], case["problems"]) == ("李沧区", "李沧区局政务服务大厅烟草专卖1号窗口", "烟草专卖零售许可证延续",
                                                     "待分类", "不满意", 1, "C1 服务规范、D1 办理时限")
    # v_county_month is `haocha index --by county --by month`, to two decimals
    figures = json.loads(ok(cli("index", "--by", "county", "--by", "month", "--period", "2026-08", "-f",
                                "json")).stdout)["rows"]
    months = {r["county_code"]: r for r in _rows(db_path, "SELECT * FROM v_county_month")}
    assert sorted(months) == ["370202", "370213"]
    for f in figures:
        m = months[f["county"]]
        assert (m["county_name"], m["month"], m["n"], m["good"], m["bad"]) == (f["county_name"], "2026-08", f["n"],
                                                                                 f["good"], f["bad"])
        assert m["good_rate"] == round(f["good_rate"] * 100, 2) and m["bad_rate"] == round(f["bad_rate"] * 100, 2)
        assert m["satisfaction_index"] == round(f["index"], 2)
    assert (months["370213"]["n"], months["370213"]["good_rate"], months["370213"]["satisfaction_index"]) == (
        2, 50.0, 62.5)


def test_the_case_views_state_names_and_overdue_are_the_cores(db_path):
    """v_cases names every state as cases.STATES does, and counts a case overdue exactly when it is open
    (cases.OPEN_STATES) and past its deadline."""
    add_ratings(db_path, [{"rated_at": "2026-08-03 09:00:00", "window": "LC01", "level": "不满意"}])
    conn = sqlite3.connect(db_path)
    try:
        for state, name in cases.STATES.items():
            for due, late in (("2000-01-03", state in cases.OPEN_STATES), ("2999-12-31", False)):
                conn.execute("UPDATE cases SET state = ?, rectify_due = ?", (state, due))
                assert conn.execute("SELECT state_name, overdue FROM v_cases").fetchone() == (name, int(late)), state
        for code, name in cases.CLASSES.items():
            conn.execute("UPDATE cases SET classification = ?", (code,))
            assert conn.execute("SELECT classification_name FROM v_cases").fetchone() == (name,)
        conn.rollback()
    finally:
        conn.close()


def _metadata(cli, *args: str) -> dict:
    return json.loads(ok(cli("datasette-metadata", *args)).stdout)


def test_the_metadata_describes_every_table_view_and_column_and_hides_the_personal_tables(cli, db_path):
    meta = _metadata(cli)
    assert list(meta["databases"]) == ["haocha"]  # Datasette names a database by its file: haocha.db
    database = meta["databases"]["haocha"]
    tables = database["tables"]
    assert meta["title"] == "青岛市烟草专卖局 好差评数据" and database["title"] == "青岛市烟草专卖局 好差评数据库"
    found = [r[0] for r in query(db_path, "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
    assert sorted(tables) == sorted(found)
    for view in VIEWS:
        assert "hidden" not in tables[view] and tables[view]["title"]
    for name in PERSONAL + ("ratings", "cases", "audit_events"):
        assert tables[name]["hidden"] is True, name
    undescribed = [name for name, t in tables.items() if "未说明" in t["description"]]
    assert undescribed == [], "a new table: describe it in haocha_cli/datasette_metadata.py (_VISIBLE or _HIDDEN)"
    for name, table in tables.items():
        assert re.search(r"[\u4e00-\u9fff]", table["title"] + table["description"]), name
        if not table.get("hidden"):
            assert sorted(table["columns"]) == sorted(_columns(db_path, name)), name
            assert all(re.search(r"[\u4e00-\u9fff]", d) for d in table["columns"].values()), name
    assert tables["counties"]["label_column"] == "name" and tables["v_cases"]["facets"] == ["county_name", "state_name"]
    assert set(_HIDDEN) >= set(PERSONAL)
    assert list(_metadata(cli, "--name", "bureau")["databases"]) == ["bureau"]


def test_the_metadata_says_when_the_bureau_counts_good_reviews_otherwise(cli, db_path):
    (db_path.parent / "haocha.toml").write_text('good_levels = ["非常满意", "满意", "基本满意"]\n', encoding="utf-8")
    description = _metadata(cli)["databases"]["haocha"]["tables"]["v_county_month"]["description"]
    assert description.endswith("注意：本局 haocha.toml 的好评为 非常满意、满意、基本满意，差评为 不满意、非常不满意，与本视图的"
                                "默认口径不同，以 haocha index 的结果为准。")


def _strip_sql() -> str:
    text = (ROOT / "docs" / "datasette.md").read_text(encoding="utf-8")
    [block] = re.findall(r"```sql\n(.*?)```", text, re.S)
    return block


def _datasette_copy(folder: Path) -> tuple[Path, Path, object]:
    """The documented recipe on the hostile, phone-filled database of reliability_support: its backup, the key
    removed, strip.sql run; returns (live database, copy, the builder)."""
    db = folder / "haocha.db"
    init_database(db)
    bureau = build(db, folder)
    copy = folder / "served" / "bureau.db"
    copy.parent.mkdir()
    bureau.run("backup", str(copy))
    Path(str(copy) + ".key").unlink()
    conn = sqlite3.connect(copy)
    try:
        conn.executescript(_strip_sql())
    finally:
        conn.close()
    return db, copy, bureau


def _secrets(db: Path) -> list[str]:
    """Every text of the live database that must not reach the copy: phones as written and as digits, masked
    phones, comments, notes, reasons, measures, password hashes."""
    texts = [*RATER_PHONES.values(), *COMMENT_NUMBERS, *staff_phones(), *full_numbers()]
    for sql in ("SELECT phone_masked FROM contacts", "SELECT phone_masked FROM staff WHERE phone_masked IS NOT NULL",
                "SELECT comment FROM ratings WHERE comment IS NOT NULL",
                "SELECT revisit_note FROM cases WHERE revisit_note IS NOT NULL",
                "SELECT measures FROM cases WHERE measures IS NOT NULL",
                "SELECT classify_reason FROM cases WHERE classify_reason IS NOT NULL",
                "SELECT password_hash FROM accounts"):
        texts += [r[0] for r in query(db, sql)]
    # The hostile catalogue's names are in comments too; the catalogue is what the copy is for.
    names = {r[0] for table in ("counties", "windows", "items", "staff") for r in query(db, f"SELECT name FROM {table}")}
    return [t for t in texts if len(t) >= 6 and t not in names]


def test_the_documented_copy_for_datasette_holds_no_personal_data(tmp_path):
    db, copy, _ = _datasette_copy(tmp_path)
    secrets = _secrets(db)
    live = db.read_bytes() + (Path(str(db) + "-wal").read_bytes() if Path(str(db) + "-wal").exists() else b"")
    assert [s for s in secrets if s.encode() in live], "the live database holds the texts: the test is not vacuous"
    data = copy.read_bytes()
    assert [s for s in secrets if s.encode() in data] == []
    assert not Path(str(copy) + ".key").exists() and not Path(str(copy) + "-wal").exists()
    tables = {r[0] for r in query(copy, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables.isdisjoint({"contacts", "rejects", "accounts", "web_sessions", "login_failures", "notifications"})
    # the views still answer, with their names
    assert query(copy, "SELECT count(*) FROM v_ratings") == query(db, "SELECT count(*) FROM ratings")
    assert query(copy, "SELECT DISTINCT county_name FROM v_cases") == [("李沧区",)]
    assert query(copy, "SELECT sum(n) FROM v_county_month") == query(db, "SELECT sum(n) FROM daily_agg")


@pytest.mark.slow
def test_datasette_serves_the_copy_with_the_metadata(tmp_path):
    """Datasette itself (a test dependency) on the documented copy and metadata: v_ratings by name, no phone
    column, the personal tables hidden from the database page."""
    db, copy, bureau = _datasette_copy(tmp_path)
    metadata = tmp_path / "served" / "metadata.json"
    metadata.write_text(bureau.run("datasette-metadata", "--name", "bureau").stdout, encoding="utf-8")

    def get(path: str) -> dict:
        done = subprocess.run([sys.executable, "-m", "datasette", "serve", "-i", str(copy), "-m", str(metadata),
                               "--get", path], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    page = get("/bureau/v_ratings.json?_shape=objects")
    assert [c for c in page["columns"] if PERSONAL_COLUMN.search(c)] == []
    assert {r["county_name"] for r in page["rows"]} >= {"李沧区"}
    assert all(r["window_name"] and r["level_name"] for r in page["rows"])
    database = get("/bureau.json")
    hidden = {t["name"] for t in database["tables"] if t["hidden"]}
    assert {"rating_rows", "cases", "staff", "meta", "audit_events", "daily_agg_rows"} <= hidden
    assert {"counties", "windows"}.isdisjoint(hidden)
    # Datasette lists every view (it hides tables only); in the stripped copy `ratings` holds nothing personal.
    assert {v["name"] for v in database["views"]} == set(VIEWS + READER_VIEWS)
    table = get("/bureau/v_county_month.json")
    assert table["table"] == "v_county_month" and table["rows"]
