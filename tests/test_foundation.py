"""The foundation: init, catalogue, indicator weights, configuration, operators, audit trail, bad input."""

from __future__ import annotations

import json
import sqlite3
from fractions import Fraction

import pytest
from typer.testing import CliRunner

from haocha_cli.cli import app
from haocha_cli.db import schema_version

QINGDAO = {"370202": "市南区", "370203": "市北区", "370211": "黄岛区", "370212": "崂山区", "370213": "李沧区",
           "370214": "城阳区", "370215": "即墨区", "370281": "胶州市", "370283": "平度市", "370285": "莱西市"}


def run(*args, input=None):
    return CliRunner().invoke(app, list(args), input=input)


def test_init_creates_then_changes_nothing(tmp_path):
    first = run("init", "--db", "t.db")
    assert first.exit_code == 0, first.output
    assert "created database t.db" in first.stderr
    assert (tmp_path / "t.db.key").stat().st_mode & 0o777 == 0o600
    conn = sqlite3.connect("t.db")
    events_before = conn.execute("SELECT count(*) FROM audit_events").fetchone()[0]
    conn.close()
    second = run("init", "--db", "t.db")
    assert second.exit_code == 0
    assert second.stderr.strip() == "t.db is already initialised; nothing changed."
    conn = sqlite3.connect("t.db")
    assert conn.execute("SELECT count(*) FROM audit_events").fetchone()[0] == events_before
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema_version()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_org_show_lists_the_ten_qingdao_counties(cli):
    result = cli("org", "show", "--part", "counties", "--format", "json")
    assert result.exit_code == 0
    counties = {c["code"]: c["name"] for c in json.loads(result.stdout)}
    assert counties == QINGDAO
    everything = json.loads(cli("org", "show", "--format", "json").stdout)
    assert everything["city"] == {"code": "370200", "name": "青岛市", "bureau_name": "青岛市烟草专卖局"}
    assert len(everything["items"]) == 8
    assert {w["county_code"] for w in everything["windows"]} == set(QINGDAO)
    # staff phones are masked in every listing
    assert all("****" in s["phone"] for s in everything["staff"])
    assert "13900000401" not in cli("org", "show").stdout


def test_indicators_show_weights_sum_to_one_per_mode(cli):
    data = json.loads(cli("indicators", "show", "--format", "json").stdout)
    assert data["version"] == "V1.0"
    rows = {r["code"]: r for r in data["indicators"]}
    assert len(rows) == 12
    assert sum(r["weight_offline"] or 0 for r in rows.values()) == pytest.approx(1, abs=1e-12)
    assert sum(r["weight_online"] or 0 for r in rows.values()) == pytest.approx(1, abs=1e-12)
    # single-mode indicators have no weight outside their scope
    assert rows["D3"]["weight_offline"] is None and rows["A1"]["weight_online"] is None
    assert rows["B3"]["weight_online"] is None


# The worked example of docs/method.md: criteria weights 6/12.4, 6/12.4, 0.4/12.4, so an indicator scored
# (a, b, c) has priority (15(a+b) + c)/31; the weights are those numerators over 1183 (offline) or 1020 (online).
NUMERATORS = {"A1": 65, "A2": 94, "B1": 95, "B2": 64, "B3": 63, "C1": 154, "C2": 124, "D1": 138, "D2": 153,
              "D3": 123, "E1": 124, "E2": 109}


def test_priority_matrix_worked_example_of_method_md(cli):
    result = cli("indicators", "weigh", "../../examples/indicators-v1.0.toml", "--format", "json")
    if result.exit_code != 0:  # run from the repository root
        from haocha_cli.indicators import default_matrix_path

        result = cli("indicators", "weigh", str(default_matrix_path()), "--format", "json")
    data = json.loads(result.stdout)
    assert [c["weight"] for c in data["criteria"]] == pytest.approx([6 / 12.4, 6 / 12.4, 0.4 / 12.4], abs=1e-15)
    assert [c["row_total"] for c in data["criteria"]] == pytest.approx([6, 6, 0.4])
    priorities = {i["code"]: i["priority"] for i in data["indicators"]}
    for code, numerator in NUMERATORS.items():
        assert priorities[code] == pytest.approx(numerator / 31, abs=1e-12)
    offline = {w["code"]: w["weight"] for w in data["weights"]["offline"]}
    online = {w["code"]: w["weight"] for w in data["weights"]["online"]}
    assert sum(NUMERATORS[c] for c in offline) == 1183 and sum(NUMERATORS[c] for c in online) == 1020
    for code, weight in offline.items():
        assert weight == pytest.approx(float(Fraction(NUMERATORS[code], 1183)), abs=1e-12)
    for code, weight in online.items():
        assert weight == pytest.approx(float(Fraction(NUMERATORS[code], 1020)), abs=1e-12)
    assert offline["A1"] == pytest.approx(0.054945, abs=5e-7)  # as printed in docs/method.md


def _matrix(tmp_path, body: str):
    path = tmp_path / "m.toml"
    path.write_text(body, encoding="utf-8")
    return str(path)


SCORES = "\n".join(f"{c} = [1, 1]" for c in NUMERATORS)


def test_weigh_apply_stores_a_new_version(cli, tmp_path):
    path = _matrix(tmp_path, f'criteria = ["影响程度", "相关性"]\n[criteria_weights]\n"影响程度" = 3\n"相关性" = 1\n'
                             f"[scores]\n{SCORES}\n")
    result = cli("indicators", "weigh", path, "--apply", "--version", "V1.1", "--from", "2026-01-01")
    assert result.exit_code == 0, result.output
    assert "stored indicator system V1.1, used for ratings from 2026-01-01" in result.stderr
    data = json.loads(cli("indicators", "show", "--format", "json").stdout)
    assert data["version"] == "V1.1"
    assert [r["weight_online"] for r in data["indicators"] if r["weight_online"]] == pytest.approx([1 / 8] * 8)
    old = json.loads(cli("indicators", "show", "--version", "V1.0", "--format", "json").stdout)
    assert old["version"] == "V1.0"
    again = cli("indicators", "weigh", path, "--apply", "--version", "V1.1")
    assert again.exit_code == 1
    assert again.stderr.strip() == ("Error: indicator version V1.1 exists already "
                                    "(versions are never changed; choose a new name)")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f'criteria = ["a"]\n[criteria_weights]\na = 1\n[scores]\n{SCORES.replace("[1, 1]", "[1]")}\nZ9 = [1]\n',
         "Error: indicator code(s) Z9 do not exist (codes are A1, A2, B1, B2, B3, C1, C2, D1, D2, D3, E1, E2)"),
        (f'criteria = ["a", "b"]\n[criteria_weights]\na = 0\nb = 0\n[scores]\n{SCORES}\n',
         "Error: the criteria weights are all zero and cannot be normalised (give at least one positive weight)"),
        (f'criteria = ["a", "b"]\n[pairwise]\na = [1, 5]\nb = [5, 1]\n[scores]\n{SCORES}\n',
         "Error: pairwise a vs b (5) and b vs a (5) are not reciprocal (if A vs B is 5, B vs A must be 1/5)"),
        (f'criteria = ["a"]\n[criteria_weights]\na = 1\n[scores]\n{SCORES.replace("[1, 1]", "[0]")}\n',
         "Error: the offline priorities are all zero and cannot be normalised (give some indicator a positive score)"),
        (f'criteria = ["a"]\n[pairwise]\na = [1]\n[scores]\n{SCORES.replace("[1, 1]", "[1]")}\n',
         "Error: a pairwise comparison needs two criteria or more, not 1 (add a criterion, or give its weight"
         " instead: [criteria_weights] a = 1)"),
        ('criteria = ["a"\n', "Error: "),
    ],
)
def test_weigh_bad_matrices_change_nothing(cli, tmp_path, db_path, body, message):
    before = sqlite3.connect(db_path).execute("SELECT count(*) FROM indicator_versions").fetchone()[0]
    result = cli("indicators", "weigh", _matrix(tmp_path, body), "--apply", "--version", "V9")
    assert result.exit_code == 1
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.output
    assert sqlite3.connect(db_path).execute("SELECT count(*) FROM indicator_versions").fetchone()[0] == before


def test_malformed_toml_names_line_and_column(cli, tmp_path):
    result = cli("indicators", "weigh", _matrix(tmp_path, 'criteria = ["a"]\nscores = = 1\n'))
    assert result.exit_code == 1
    assert "is not valid TOML" in result.stderr and "line 2" in result.stderr and "column" in result.stderr


def test_config_show_says_where_each_value_came_from(cli, db_path):
    rows = {r["key"]: r for r in json.loads(cli("config", "show", "--format", "json").stdout)}
    assert rows["deadlines.rectify_days"]["value"] == 15 and rows["deadlines.rectify_days"]["source"] == "default"
    (db_path.parent / "haocha.toml").write_text("[deadlines]\nrectify_days = 5\n", encoding="utf-8")
    rows = {r["key"]: r for r in json.loads(cli("config", "show", "--format", "json").stdout)}
    assert rows["deadlines.rectify_days"]["value"] == 5
    assert rows["deadlines.rectify_days"]["source"] == str(db_path.parent / "haocha.toml")
    assert rows["bureau_name"]["source"] == "default"


def test_malformed_config_is_an_error_with_line_and_column(cli, db_path):
    (db_path.parent / "haocha.toml").write_text("[deadlines]\nrectify_days = = 5\n", encoding="utf-8")
    result = cli("org", "show")
    assert result.exit_code == 1
    assert "haocha.toml is not valid TOML" in result.stderr and "(at line 2, column" in result.stderr
    (db_path.parent / "haocha.toml").write_text('good_levels = ["满意", "很好"]\n', encoding="utf-8")
    result = cli("org", "show")
    assert result.stderr.strip().endswith(
        "good_levels holds unknown level(s) 很好 (levels are 非常不满意 / 不满意 / 基本满意 / 满意 / 非常满意)")


WINDOWS_CSV = "区县局,行政区划代码,窗口编码,窗口名称,窗口类型\n李沧区,370213,LC03,李沧区局3号窗口,实体窗口\n"


def test_org_import_window_directory_csv_in_gb18030(cli, tmp_path, db_path):
    path = tmp_path / "windows.csv"
    path.write_bytes((WINDOWS_CSV + "李沧区,370213,LCAPP,李沧区局掌上办理,网上渠道\n").encode("gb18030"))
    result = cli("org", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "2 added, 0 updated (0 deactivated), 0 unchanged" in result.stderr
    rows = sqlite3.connect(db_path).execute(
        "SELECT code, name, county_code, kind FROM windows WHERE code IN ('LC03', 'LCAPP') ORDER BY code").fetchall()
    assert rows == [("LC03", "李沧区局3号窗口", "370213", "offline"), ("LCAPP", "李沧区局掌上办理", "370213", "online")]
    assert "1 unchanged" in cli("org", "import", str(path)).stderr.replace("2 unchanged", "1 unchanged")


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        (WINDOWS_CSV + "崂山区,999999,X1,某窗口,实体窗口\n",
         "Error: windows.csv line 3: county 999999 does not exist (known counties: 370202 市南区, 370203 市北区,"),
        (WINDOWS_CSV + "李沧区,370213,LC03,重复窗口,实体窗口\n",
         "Error: windows.csv line 3: duplicate code LC03 (each code may appear once in a file)"),
        (WINDOWS_CSV + "李沧区,370213,LC09,某窗口,柜台\n",
         "Error: windows.csv line 3: window type '柜台' is not known (use 实体窗口/网上渠道 or offline/online)"),
        ("区县局,窗口编码,窗口名称\n李沧区,LC03,x\n",
         "Error: "),
    ],
)
def test_org_import_bad_rows_change_nothing(cli, tmp_path, db_path, csv_text, message):
    path = tmp_path / "windows.csv"
    path.write_text(csv_text, encoding="utf-8")
    result = cli("org", "import", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith(message)
    assert sqlite3.connect(db_path).execute("SELECT count(*) FROM windows WHERE code = 'LC03'").fetchone()[0] == 0


def test_org_import_reports_every_bad_line_at_once_and_changes_nothing(cli, tmp_path, db_path):
    path = tmp_path / "windows.csv"
    path.write_text(WINDOWS_CSV + "崂山区,999999,X1,某窗口,实体窗口\n李沧区,370213,LC09,某窗口,柜台\n", encoding="utf-8")
    result = cli("org", "import", str(path))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "Error: 2 entries cannot be imported, so nothing was changed:"
    assert result.stderr.splitlines()[1].startswith("  - windows.csv line 3: county 999999 does not exist")
    assert result.stderr.splitlines()[2] == ("  - windows.csv line 4: window type '柜台' is not known (use 实体窗口/网上渠道"
                                             " or offline/online) (fix them and import the file again)")
    assert sqlite3.connect(db_path).execute("SELECT count(*) FROM windows WHERE code = 'LC03'").fetchone()[0] == 0


def test_opening_hours_that_cannot_be_read_are_refused(cli, tmp_path):
    path = tmp_path / "org.toml"
    path.write_text('[[windows]]\ncode = "LC09"\nname = "新窗口"\ncounty = "370213"\nkind = "offline"\n'
                    'opening_hours = "9点到5点"\n', encoding="utf-8")
    result = cli("org", "import", str(path))
    assert result.exit_code == 1
    assert result.stderr == ("Error: org.toml windows entry 1: opening hours '9点到5点' cannot be read (write spans such as"
                             " 09:00-12:00,13:30-17:00, or leave the cell empty)\n")


def test_missing_columns_are_named_with_those_found(cli, tmp_path):
    path = tmp_path / "windows.csv"
    path.write_text("区县局,窗口编码,窗口名称\n李沧区,LC03,x\n", encoding="utf-8")
    result = cli("org", "import", str(path))
    assert result.stderr.strip() == ("Error: windows.csv: missing column(s) 行政区划代码/county, 窗口类型/kind "
                                     "(columns found: 区县局, 窗口编码, 窗口名称)")


def test_county_operator_may_not_change_the_catalogue(cli, tmp_path, db_path):
    path = tmp_path / "windows.csv"
    path.write_text(WINDOWS_CSV, encoding="utf-8")
    result = cli("org", "import", str(path), operator="county:370213")
    assert result.exit_code == 1
    assert result.stderr.strip() == ("Error: changing the catalogue is the city bureau's (市局) task; "
                                     "county:370213 may not do it (the city bureau's staff (市局) do it)")
    assert sqlite3.connect(db_path).execute("SELECT count(*) FROM windows WHERE code = 'LC03'").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("operator", "message"),
    [
        ("mayor", "Error: role 'mayor' is not valid (use admin, city or county:<code>, e.g. county:370213)"),
        ("county:370299", "Error: role 'county:370299' names an unknown county 370299 (known counties: 370202 市南区,"),
    ],
)
def test_bad_operator_strings(cli, operator, message):
    result = cli("org", "show", operator=operator)
    assert result.exit_code == 1
    assert result.stderr.startswith(message)


def test_rated_window_is_deactivated_not_deleted(cli, db_path):
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO batches (id, file_name, sha256, source, profile, format, operator, imported_at,"
                 " rows_read, accepted, rejected, duplicate) VALUES (1, 'f', 'x', 's', 'p', 'csv', 'city', 'now', 1, 1, 0, 0)")
    conn.execute("INSERT INTO rating_rows (source, rating_id, batch_id, rated_at, day, window_code, county_code, mode,"
                 " channel, level, rating_index, weights_version) VALUES ('s', 'r1', 1, '2026-01-05 10:00:00',"
                 " '2026-01-05', 'LC01', '370213', 'offline', '二维码', 5, 100, 'V1.0')")
    conn.commit()
    assert cli("org", "remove-window", "LC01").stderr.strip() == "window LC01: deactivated"
    assert cli("org", "remove-window", "LC02").stderr.strip() == "window LC02: deleted"
    rows = dict(conn.execute("SELECT code, active FROM windows WHERE code LIKE 'LC0%'").fetchall())
    assert rows == {"LC01": 0}
    result = cli("org", "remove-window", "NOPE")
    assert result.exit_code == 1 and result.stderr.startswith("Error: window NOPE does not exist")


def _tamper(db_path, *statements):
    # What someone with the sqlite3 shell could do: drop the guard triggers, then edit.
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("DROP TRIGGER audit_no_delete")
    for sql in statements:
        conn.execute(sql)
    conn.commit()
    conn.close()


def test_audit_verify_passes_on_an_intact_trail(cli):
    result = cli("audit", "verify")
    assert result.exit_code == 0
    assert result.stderr.startswith("audit trail intact: ")


def test_audit_rows_cannot_be_updated_through_sqlite_without_dropping_guards(db_path):
    conn = sqlite3.connect(db_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_events SET operator = 'x' WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit_events WHERE id = 1")


@pytest.mark.parametrize(
    ("statements", "message"),
    [
        (["UPDATE audit_events SET after = '{}' WHERE id = 5"],
         "Error: audit trail broken at event 5: event 5 was altered after it was written"),
        (["DELETE FROM audit_events WHERE id = 5"],
         "Error: audit trail broken at event 5: event 5 is missing or out of order (found 6)"),
        (["DELETE FROM audit_events WHERE id = (SELECT max(id) FROM audit_events)"],
         "Error: audit trail broken at event"),
        (["UPDATE audit_events SET id = -3 WHERE id = 3", "UPDATE audit_events SET id = 3 WHERE id = 4",
          "UPDATE audit_events SET id = 4 WHERE id = -3"],
         "Error: audit trail broken at event 3: event 3 "),
    ],
)
def test_audit_verify_finds_edits_removals_and_reordering(cli, db_path, statements, message):
    _tamper(db_path, *statements)
    result = cli("audit", "verify")
    assert result.exit_code == 1
    assert result.stderr.startswith(message)


def test_removing_the_last_event_is_found(cli, db_path):
    last = sqlite3.connect(db_path).execute("SELECT max(id) FROM audit_events").fetchone()[0]
    _tamper(db_path, f"DELETE FROM audit_events WHERE id = {last}")
    result = cli("audit", "verify")
    assert result.stderr.strip() == (f"Error: audit trail broken at event {last}: the last event(s) were removed:"
                                     f" the trail ended at event {last}")


def test_every_change_is_an_audit_event_with_before_and_after(cli, tmp_path):
    path = tmp_path / "windows.csv"
    path.write_text("行政区划代码,窗口编码,窗口名称,窗口类型\n370213,LC01,李沧区局一号窗口,实体窗口\n", encoding="utf-8")
    assert cli("org", "import", str(path)).exit_code == 0
    events = json.loads(cli("audit", "log", "--entity", "windows", "--id", "LC01", "--format", "json").stdout)
    assert [e["action"] for e in events] == ["catalogue.add", "catalogue.update"]
    assert json.loads(events[-1]["before"])["name"] == "李沧区局政务服务大厅烟草专卖1号窗口"
    assert json.loads(events[-1]["after"])["name"] == "李沧区局一号窗口"
    assert events[-1]["operator"] == "city"


def test_not_a_haocha_database(tmp_path):
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE customers (id)")
    conn.commit()
    conn.close()
    result = run("--db", str(other), "org", "show")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {other} is not a haocha database (it holds other tables: customers)")
    assert sqlite3.connect(other).execute("SELECT name FROM sqlite_master").fetchall() == [("customers",)]
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is a text file, not SQLite" * 10)
    result = run("--db", str(junk), "org", "show")
    assert result.exit_code == 1 and result.stderr.startswith(f"Error: {junk} is not a haocha database")


def test_database_newer_than_the_program(db_path):
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    result = run("--db", str(db_path), "org", "show")
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"Error: {db_path} was written by a newer haocha (schema 99, this program knows"
                                     f" {schema_version()}) (upgrade haocha: `pip install -U haocha`)")


def test_missing_database_is_not_created_by_other_commands(tmp_path):
    result = run("--db", "nowhere.db", "org", "show")
    assert result.exit_code == 1
    assert result.stderr.strip() == ("Error: no database at nowhere.db (run `haocha init` first, or point --db / "
                                     "HAOCHA_DB at the right file)")
    assert not (tmp_path / "nowhere.db").exists()


def test_usage_errors_exit_2(cli):
    assert cli("org", "show", "--format", "xml").exit_code == 2
    assert cli("no-such-command").exit_code == 2


def test_module_entry_point_and_version():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "haocha_cli", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip().startswith("haocha ")


@pytest.mark.parametrize("args", [
    ["cases", "show", "99999999999999999999"], ["batches", "rejects", "99999999999999999999"],
    ["spotcheck", "list", "--sample", "99999999999999999999"], ["audit", "log", "--limit", "99999999999999999999"],
    ["audit", "log", "--limit", "0"], ["qr", "generate", "--size", "370213"], ["calendar", "show", "--year", "99999"],
])
def test_numbers_out_of_range_are_usage_errors_not_tracebacks(cli, args):
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"Error: Invalid value for '{args[-2]}'"
                                                             if args[-2].startswith("--") else "Error: Invalid value for")
    assert result.exception is None or isinstance(result.exception, SystemExit)
