"""`org import` is as strict as `import`: a line that cannot be read as it stands refuses the whole file,
every bad line is named, and nothing is written."""

from __future__ import annotations

import sqlite3

import pytest
from support import ok

from haocha_cli.catalogue import parse_opening_hours, read_opening_hours

HEADER = "区县局,行政区划代码,窗口编码,窗口名称,窗口类型,办公时间,状态\n"
GOOD = "李沧区,370213,LC03,李沧区局3号窗口,实体窗口,\"09:00-12:00,13:30-17:00\",启用\n"


def catalogue(db_path) -> tuple[list, int]:
    """Everything an org import may change: the windows and the audit trail's length."""
    conn = sqlite3.connect(db_path)
    windows = conn.execute("SELECT * FROM windows ORDER BY code").fetchall()
    events = conn.execute("SELECT count(*) FROM audit_events").fetchone()[0]
    conn.close()
    return windows, events


def window(db_path, code: str):
    return sqlite3.connect(db_path).execute(
        "SELECT kind, opening_hours, active FROM windows WHERE code = ?", [code]).fetchone()


def org_import(cli, tmp_path, text: str, name: str = "windows.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return cli("org", "import", str(path))


def test_unquoted_hours_refuse_the_file_naming_the_line_and_the_way_out(cli, tmp_path, db_path):
    before = catalogue(db_path)
    result = org_import(cli, tmp_path, HEADER + GOOD
                        + "李沧区,370213,LC04,李沧区局4号窗口,实体窗口,09:00-12:00,13:30-17:00,启用\n")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: windows.csv line 3: 8 cells where the header has 7 columns (a cell holding a comma must be in"
        ' double quotes: quote the hours cell ("09:00-12:00,13:30-17:00") or separate the spans with 、 or ;)\n')
    assert catalogue(db_path) == before  # LC03, a good line, was not written either


def test_every_bad_line_is_named_with_what_is_wrong_and_nothing_is_written(cli, tmp_path, db_path):
    before = catalogue(db_path)
    result = org_import(cli, tmp_path, HEADER + GOOD
                        + "李沧区,370213,LC04,四号窗口,实体窗口,09:00-12:00,13:30-17:00,启用\n"  # line 3: a cell too many
                        + "李沧区,370213,LC05,五号窗口,实体窗口\n"  # line 4: two too few
                        + "李沧区,370213,LC06,六号窗口,实体窗口,09:00-17:00,乱写\n"  # line 5
                        + "李沧区,370213,LC07,七号窗口,柜台,09:00-17:00,启用\n"  # line 6
                        + "李沧区,370213,LC08,八号窗口,实体窗口,9点到5点,启用\n"  # line 7
                        + "李沧区,370213,LC09,九号窗口,实体窗口,17:00-09:00,启用\n")  # line 8
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "Error: 6 entries cannot be imported, so nothing was changed:"
    assert lines[1].startswith("  - windows.csv line 3: 8 cells where the header has 7 columns (a cell holding")
    assert lines[2] == ("  - windows.csv line 4: 5 cells where the header has 7 columns (a cell is missing or the line"
                        " is cut off; an empty cell is nothing between two commas)")
    assert lines[3] == ("  - windows.csv line 5: status (状态) '乱写' is not known (write 启用/在用/正常/有效/是/1/true/"
                        "yes/active for one in use, 停用/撤销/注销/关闭/无效/否/0/false/no/inactive for one no longer in"
                        " use, or leave the cell empty (in use))")
    assert lines[4] == ("  - windows.csv line 6: window type '柜台' is not known (use 实体窗口/网上渠道 or"
                        " offline/online)")
    assert lines[5] == ("  - windows.csv line 7: opening hours '9点到5点' cannot be read (write spans such as"
                        " 09:00-12:00,13:30-17:00, or leave the cell empty)")
    assert lines[6] == ("  - windows.csv line 8: opening hours '17:00-09:00' cannot be read: the span 17:00-09:00"
                        " ends before it begins (write spans such as 09:00-12:00,13:30-17:00, or leave the cell"
                        " empty) (fix them and import the file again)")
    assert len(lines) == 7
    assert catalogue(db_path) == before


def test_a_clerks_span_separators_are_read_and_stored_in_one_form(cli, tmp_path, db_path):
    result = ok(org_import(cli, tmp_path, HEADER
                           + "李沧区,370213,LC03,三号,实体窗口,09:00-12:00、13:30-17:00,启用\n"
                           + "李沧区,370213,LC04,四号,实体窗口,9:00 - 12:00；13:30～17:00,在用\n"
                           + "李沧区,370213,LC05,五号,实体窗口,08:30-12:00;14:00-18:00,正常\n"
                           + "李沧区,370213,LC06,六号,实体窗口,\"09：00至12：00，13：30至17：00\",1\n"))
    assert "4 added" in result.stderr
    assert window(db_path, "LC03") == ("offline", "09:00-12:00,13:30-17:00", 1)
    assert window(db_path, "LC04") == ("offline", "09:00-12:00,13:30-17:00", 1)
    assert window(db_path, "LC05") == ("offline", "08:30-12:00,14:00-18:00", 1)
    assert window(db_path, "LC06") == ("offline", "09:00-12:00,13:30-17:00", 1)
    # The same directory again, written the canonical way: nothing changes.
    again = ok(org_import(cli, tmp_path, HEADER + "李沧区,370213,LC04,四号,实体窗口,\"09:00-12:00,13:30-17:00\",启用\n",
                          name="again.csv"))
    assert "0 added, 0 updated (0 deactivated), 1 unchanged" in again.stderr


@pytest.mark.parametrize(("word", "active"), [
    ("启用", 1), ("在用", 1), ("正常", 1), ("是", 1), ("1", 1), ("TRUE", 1), ("", 1),
    ("停用", 0), ("已停用", 0), ("撤销", 0), ("否", 0), ("0", 0), ("false", 0), ("Inactive", 0),
])
def test_the_status_words_bureaus_write(cli, tmp_path, db_path, word, active):
    ok(org_import(cli, tmp_path, HEADER + f"李沧区,370213,LC03,三号,网上渠道,,{word}\n"))
    assert window(db_path, "LC03") == ("online", None, active)


def test_english_window_types_are_read_case_blind(cli, tmp_path, db_path):
    ok(org_import(cli, tmp_path, "county,code,name,kind,active\n370213,LC03,三号,Offline,yes\n370213,LC04,四号,ONLINE,no\n"))
    assert window(db_path, "LC03") == ("offline", None, 1)
    assert window(db_path, "LC04") == ("online", None, 0)


def test_trailing_empty_cells_are_a_spreadsheets_edge_not_a_cell_too_many(cli, tmp_path, db_path):
    ok(org_import(cli, tmp_path, HEADER + "李沧区,370213,LC03,三号,实体窗口,09:00-17:00,启用,,\n"))
    assert window(db_path, "LC03") == ("offline", "09:00-17:00", 1)


def test_a_value_under_no_header_refuses_the_file(cli, tmp_path, db_path):
    before = catalogue(db_path)
    result = org_import(cli, tmp_path, "行政区划代码,窗口编码,窗口名称,窗口类型,办公时间,\n"
                                       "370213,LC03,三号,实体窗口,09:00-12:00,13:30-17:00\n")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: windows.csv line 2: '13:30-17:00' is under a column without a header"
                                    " (a cell holding a comma must be in double quotes: quote the hours cell")
    assert catalogue(db_path) == before


def test_a_broken_quote_is_named_by_its_line(cli, tmp_path, db_path):
    before = catalogue(db_path)
    result = org_import(cli, tmp_path, HEADER + '李沧区,370213,LC03,"三号"窗口,实体窗口,,启用\n' + GOOD.replace("LC03", "LC04"))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: windows.csv line 2 cannot be split into cells (")
    assert result.stderr.endswith('(a quote is not closed or not doubled: a quote inside a quoted cell is written "")\n')
    assert catalogue(db_path) == before


def test_two_columns_for_one_field_refuse_the_file(cli, tmp_path, db_path):
    result = org_import(cli, tmp_path, "行政区划代码,窗口编码,窗口名称,窗口类型,办公时间,营业时间\n"
                                       "370213,LC03,三号,实体窗口,09:00-12:00,13:30-17:00\n")
    assert result.exit_code == 1
    assert result.stderr == "Error: windows.csv: columns 办公时间 and 营业时间 both give opening_hours (keep one of them)\n"


def test_unknown_columns_are_named_not_dropped_unseen(cli, tmp_path, db_path):
    result = ok(org_import(cli, tmp_path, "行政区划代码,窗口编码,窗口名称,窗口类型,备注\n370213,LC03,三号,实体窗口,二楼\n"))
    assert "ignored columns: 备注" in result.stderr
    assert window(db_path, "LC03") == ("offline", None, 1)


def test_the_toml_file_is_checked_the_same_way(cli, tmp_path, db_path):
    before = catalogue(db_path)
    result = org_import(cli, tmp_path, (
        '[[windows]]\ncode = "LC03"\nname = "三号"\ncounty = "370213"\nkind = "offline"\nactive = "乱写"\n'
        '[[windows]]\ncode = "LC04"\nname = "四号"\ncounty = "370213"\nkind = "offline"\nhours = "09:00-17:00"\n'
        '[[windows]]\ncode = "LC05"\nname = "五号"\ncounty = "370213"\nkind = "offline"\nactive = 2\n'
        '[[items]]\ncode = "XK99"\nname = "新事项"\nlegal_days = 20\npromised_days = 5.5\n'), name="org.toml")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: 4 entries cannot be imported, so nothing was changed:",
        "  - org.toml items entry 1: legal_days and promised_days must be whole numbers (e.g. 20 and 5)",
        "  - org.toml windows entry 1: status (状态) '乱写' is not known (write 启用/在用/正常/有效/是/1/true/yes/active"
        " for one in use, 停用/撤销/注销/关闭/无效/否/0/false/no/inactive for one no longer in use, or leave the cell"
        " empty (in use))",
        "  - org.toml windows entry 2: unknown key(s) hours (a windows entry has the keys code, name, county,"
        " county_name, kind, opening_hours, active)",
        "  - org.toml windows entry 3: status (状态) 2 is not known (write 启用/在用/正常/有效/是/1/true/yes/active for one"
        " in use, 停用/撤销/注销/关闭/无效/否/0/false/no/inactive for one no longer in use, or leave the cell empty (in"
        " use)) (fix them and import the file again)",
    ]
    assert catalogue(db_path) == before


def test_a_toml_entry_that_is_not_a_table_is_an_error_line(cli, tmp_path, db_path):
    result = org_import(cli, tmp_path, 'windows = ["LC03"]\n', name="org.toml")
    assert result.exit_code == 1
    assert result.stderr == "Error: org.toml windows entry 1 is not a table (write [[windows]] entries)\n"
    result = org_import(cli, tmp_path, 'city = "青岛"\n', name="city.toml")
    assert result.stderr == "Error: city.toml: city must be a table (write [city] with code, name and bureau_name)\n"


@pytest.mark.parametrize(("text", "spans"), [
    ("09:00-12:00,13:30-17:00", [(9, 0, 12, 0), (13, 30, 17, 0)]),
    ("09:00-12:00、13:30-17:00", [(9, 0, 12, 0), (13, 30, 17, 0)]),
    ("09:00-12:00; 13:30-17:00；", [(9, 0, 12, 0), (13, 30, 17, 0)]),
    ("9:00 - 12:00 13:30 ~ 17:00", [(9, 0, 12, 0), (13, 30, 17, 0)]),
    ("00:00-24:00", [(0, 0, 24, 0)]),
])
def test_opening_hours_as_clerks_write_them(text, spans):
    assert read_opening_hours(text) == spans
    assert parse_opening_hours(text) is not None


@pytest.mark.parametrize("text", ["09:00-12:00,,13:30", "09:00", "9点到5点", "12:00-09:00", "09:00-25:00",
                                  "09:00-24:30", "09:00-12:00/13:30-17:00"])
def test_opening_hours_that_are_not_spans_are_refused(text):
    with pytest.raises(ValueError):
        read_opening_hours(text)
    assert parse_opening_hours(text) is None
