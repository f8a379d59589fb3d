"""Files as bureaus have them (issue 18): platform exports with code and name columns side by side, stray
level codes in files of level names, and the channel labels that platforms and device vendors write."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from import_support import NOW, PLATFORM_EXPORT, good, query, write_csv
from support import imported, ok

from haocha_cli.context import open_context
from haocha_cli.importer import import_records
from haocha_cli.profiles import load_profile

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _now(monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", NOW)


def rejects(cli, batch: int = 1) -> list[tuple[int, str, str]]:
    out = json.loads(ok(cli("batches", "rejects", str(batch), "--format", "json")).stdout)
    return [(r["line"], r["code"], r["reason"]) for r in out["rows"]]


# --- 1. code and name columns together -------------------------------------------------------------------


def test_a_platform_style_export_imports_as_it_is_and_checks_names_against_codes(cli, db_path):
    [summary] = imported(cli, str(PLATFORM_EXPORT))
    assert (summary["encoding"], summary["profile"], summary["rows_read"], summary["accepted"],
            summary["duplicate"], summary["rejected"]) == ("utf-8-sig", "canonical", 12, 7, 0, 5)
    assert summary["reasons"] == {"county_mismatch": 2, "channel_unknown": 1, "item_mismatch": 1,
                                  "window_mismatch": 1}
    assert summary["ignored_columns"] == ["序号", "评价人", "部门名称"]
    assert summary["cases_opened"] == 1
    assert query(db_path, "SELECT rating_id, window_code, county_code, mode, channel, item_code, level, case_no"
                          " FROM ratings ORDER BY id") == [
        ("HCP2024050600001", "LC01", "370213", "offline", "移动服务端", "XK01", 4, "BJ20240506001"),
        ("HCP2024050600002", "LC02", "370213", "offline", "政务大厅其他终端", "XK02", 5, "BJ20240506002"),
        ("HCP2024050600003", "LCWS", "370213", "online", "PC端", "XK03", 3, "BJ20240506003"),
        ("HCP2024050600004", "SN01", "370202", "offline", "二维码", "XK01", 4, "BJ20240506004"),
        ("HCP2024050600005", "HD01", "370211", "offline", "电话", "XK08", 2, "BJ20240506005"),
        ("HCP2024050600006", "CY01", "370214", "offline", "政务大厅其他终端", "XK05", 4, "BJ20240506006"),
        ("HCP2024050700001", "JZ01", "370281", "offline", "移动服务端", "XK02", 4, "BJ20240507001"),
    ]
    assert rejects(cli) == [
        (8, "item_mismatch", "事项编码 XK01 is 烟草专卖零售许可证新办, not 烟草专卖零售许可证延续"),
        (9, "window_mismatch", "窗口编码 LC01 is 李沧区局政务服务大厅烟草专卖1号窗口, not 李沧区局政务服务大厅烟草专卖2号窗口"),
        (10, "county_mismatch", "窗口编码 LC01 is in 李沧区 (370213), not 市南区"),
        (11, "county_mismatch", "窗口编码 LC02 is in 青岛市, not 烟台市"),
        (13, "channel_unknown", "channel '系统默认评价' is neither a national channel nor a label of profile canonical"),
    ]


def test_an_item_name_alone_is_the_item_and_beside_an_empty_code_gives_it(cli, db_path, tmp_path):
    header = ["评价编号", "评价时间", "窗口编码", "评价渠道", "事项名称", "满意度"]
    names_only = write_csv(tmp_path / "names.csv", [
        ["N1", "2024-05-06 09:30:00", "LC01", "二维码", "烟草专卖零售许可证变更", "满意"],
        ["N2", "2024-05-06 09:31:00", "LC01", "二维码", "烟草专卖零售许可证换证", "满意"],
    ], header=header)
    [summary] = imported(cli, str(names_only))
    assert (summary["accepted"], summary["rejected"], summary["ignored_columns"]) == (1, 1, [])
    assert rejects(cli) == [(3, "item_unknown", "service item '烟草专卖零售许可证换证' is not in the catalogue")]
    both = write_csv(tmp_path / "both.csv", [
        ["B1", "2024-05-06 09:40:00", "LC01", "二维码", "", "烟草专卖零售许可证停业", "满意"],
        ["B2", "2024-05-06 09:41:00", "LC01", "二维码", "XK04", "", "满意"],
        ["B3", "2024-05-06 09:42:00", "LC01", "二维码", " XK04", " 烟草专卖零售许可证停业 ", "满意"],
        ["B4", "2024-05-06 09:43:00", "LC01", "二维码", "XK04", "XK04", "满意"],
        ["B5", "2024-05-06 09:44:00", "LC01", "二维码", "XK04", "停业", "满意"],
    ], header=header[:4] + ["事项编码"] + header[4:])
    [summary] = imported(cli, str(both))
    assert (summary["accepted"], summary["rejected"]) == (4, 1)
    assert query(db_path, "SELECT rating_id, item_code FROM ratings WHERE rating_id LIKE 'B%' ORDER BY id") == [
        ("B1", "XK04"), ("B2", "XK04"), ("B3", "XK04"), ("B4", "XK04")]
    assert rejects(cli, 2) == [(6, "item_mismatch", "事项编码 XK04 is 烟草专卖零售许可证停业, not 停业")]


def test_county_cells_by_code_name_short_name_and_bureau_agree_and_others_do_not(cli, db_path, tmp_path):
    header = ["评价编号", "评价时间", "窗口编码", "评价渠道", "满意度", "行政区划代码", "区县局", "所属市"]
    agree = [("370213", "李沧区", "青岛市"), ("370213000000", "李沧", "青岛"), ("370213001", "李沧区局", "370200"),
             ("", "青岛市李沧区烟草专卖局", "青岛市烟草专卖局"), ("", "李沧局", "３７０２００"), ("", "", ""),
             ("", "青岛市烟草专卖局李沧分局", "青岛市局"), ("", " 李沧 区 ", "")]
    disagree = [("370212", "李沧区", "青岛市"), ("", "李沧县", ""), ("", "崂山", ""), ("", "", "烟台"),
                ("370200", "", "")]
    rows = [[f"C{i}", f"2024-05-06 10:{i:02d}:00", "LC01", "二维码", "满意", *cells]
            for i, cells in enumerate(agree + disagree)]
    [summary] = imported(cli, str(write_csv(tmp_path / "county.csv", rows, header=header)))
    assert (summary["accepted"], summary["rejected"]) == (len(agree), len(disagree))
    first = len(agree) + 2  # the line of the first disagreeing row
    assert rejects(cli) == [
        (first, "county_mismatch", "窗口编码 LC01 is in 李沧区 (370213), not 370212"),
        (first + 1, "county_mismatch", "窗口编码 LC01 is in 李沧区 (370213), not 李沧县"),
        (first + 2, "county_mismatch", "窗口编码 LC01 is in 李沧区 (370213), not 崂山"),
        (first + 3, "county_mismatch", "窗口编码 LC01 is in 青岛市, not 烟台"),
        (first + 4, "county_mismatch", "窗口编码 LC01 is in 李沧区 (370213), not 370200"),
    ]


def test_a_short_name_two_counties_share_names_neither(cli, db_path, tmp_path):
    ctx = open_context(db_path)
    ctx.db.execute("INSERT INTO counties (code, name, city_code, created_at) VALUES ('370299', '李沧县', '370200',"
                   " '2024-01-01 00:00:00')")
    ctx.db.conn.commit()
    header = ["评价编号", "评价时间", "窗口编码", "评价渠道", "满意度", "区县局"]
    rows = [["S1", "2024-05-06 10:00:00", "LC01", "二维码", "满意", "李沧"],
            ["S2", "2024-05-06 10:01:00", "LC01", "二维码", "满意", "李沧区"]]
    [summary] = imported(cli, str(write_csv(tmp_path / "short.csv", rows, header=header)))
    assert (summary["accepted"], summary["rejected"]) == (1, 1)
    assert rejects(cli) == [(2, "county_mismatch", "窗口编码 LC01 is in 李沧区 (370213), not 李沧")]


def test_names_in_json_are_checked_the_same_way(db_path):
    ctx = open_context(db_path)
    base = {"rated_at": "2024-05-06 09:30:00", "window_code": "LC01", "channel": "扫码评价", "level": "满意"}
    summary = import_records(ctx, [
        {**base, "rating_id": "J1", "事项编码": "XK01", "事项名称": "烟草专卖零售许可证新办", "窗口名称": "李沧区局政务服务大厅烟草专卖1号窗口"},
        {**base, "rating_id": "J2", "事项编码": "XK01", "事项名称": "烟草专卖零售许可证补办"},
        {**base, "rating_id": "J3", "窗口名称": "市南区局政务服务大厅烟草专卖1号窗口"},
        {**base, "rating_id": "J4", "所属市": "烟台市"},
    ], source="test", fmt="jsonl")
    assert (summary["accepted"], summary["rejected"]) == (1, 3)
    assert [(r["line"], r["code"]) for r in summary["first_rejects"]] == [
        (2, "item_mismatch"), (3, "window_mismatch"), (4, "county_mismatch")]


def test_a_profile_may_ignore_a_name_column(cli, db_path, tmp_path):
    profile = tmp_path / "hall.toml"
    profile.write_text('name = "hall"\n[columns]\n"窗口名称" = ""\n', encoding="utf-8")
    header = ["评价编号", "评价时间", "窗口编码", "窗口名称", "评价渠道", "满意度"]
    path = write_csv(tmp_path / "hall.csv", [["H1", "2024-05-06 09:30:00", "LC01", "李沧政务服务大厅", "二维码", "满意"]],
                     header=header)
    [summary] = imported(cli, str(path), "--profile", str(profile))
    assert (summary["accepted"], summary["rejected"], summary["ignored_columns"]) == (1, 0, ["窗口名称"])
    assert load_profile(profile).field_for("窗口名称") is None
    assert load_profile("canonical").field_for("窗口名称") == "window_name"


def test_two_columns_of_one_field_still_stop_the_file_with_the_way_out(cli, db_path, tmp_path):
    header = ["评价编号", "评价时间", "窗口编码", "评价渠道", "事项编码", "事项", "满意度"]
    path = write_csv(tmp_path / "two.csv", [["T1", "2024-05-06 09:30:00", "LC01", "二维码", "XK01", "XK01", "满意"]],
                     header=header)
    result = cli("import", str(path))
    assert result.exit_code == 1
    assert result.stderr == ("Error: two.csv: columns '事项编码' and '事项' both give 事项编码 (item_code) (remove one of "
                             'them, or in a profile map the other to "" to ignore it)\n')
    assert query(db_path, "SELECT count(*) FROM batches") == [(0,)]


# --- 2. stray level codes are row rejects ------------------------------------------------------------------


NAMES_OF_LEVELS = "(非常满意 / 满意 / 基本满意 / 不满意 / 非常不满意)"
STRAY = ("level '{}' is a numeric code in a file of level names, and no level scale is declared: write the "
         "level's name, or import with --level-scale national (GB/T 39046: 1 = 非常满意) or --level-scale platform "
         "(5 = 非常满意)")


def test_one_zero_among_hundreds_of_names_rejects_its_row_only(cli, db_path, tmp_path):
    rows = [good(i, level=("满意", "非常满意", "不满意")[i % 3]) for i in range(1, 401)]
    rows[236] = good(237, level="0")
    [summary] = imported(cli, str(write_csv(tmp_path / "names.csv", rows)))
    assert (summary["rows_read"], summary["accepted"], summary["rejected"]) == (400, 399, 1)
    assert summary["levels_by_code"] == 0
    assert rejects(cli) == [(238, "level_invalid", f"'0' is not a level {NAMES_OF_LEVELS}, nor a level code 1–5")]
    assert query(db_path, "SELECT count(*) FROM ratings") == [(399,)]


@pytest.mark.parametrize(("level", "reason"), [
    ("9", f"'9' is not a level {NAMES_OF_LEVELS}, nor a level code 1–5"),
    ("4.5", f"'4.5' is not a level {NAMES_OF_LEVELS}, nor a level code 1–5"),
    ("N/A", f"'N/A' is not a level {NAMES_OF_LEVELS}"),
    ("-1", f"'-1' is not a level {NAMES_OF_LEVELS}"),
])
def test_levels_that_are_neither_names_nor_codes_reject_their_rows(cli, tmp_path, level, reason):
    rows = [good(1, level="满意"), good(2, level=level), good(3, level="满意")]
    [summary] = imported(cli, str(write_csv(tmp_path / "odd.csv", rows)))
    assert (summary["accepted"], summary["rejected"]) == (2, 1)
    assert rejects(cli) == [(3, "level_invalid", reason)]
    # with a scale the same rows are rejected the same way, in the scale's words for a number
    [scaled] = imported(cli, str(write_csv(tmp_path / "odd-scaled.csv", rows[1:2])), "--level-scale", "national")
    assert scaled["rejected"] == 1


def test_a_code_in_a_file_of_names_rejects_its_row_naming_the_scale_option(cli, db_path, tmp_path):
    # The codes before the first name are held until the name shows the file is of names.
    rows = [good(1, level="3"), good(2, level=""), good(3, level="5"), good(4, level="满意"),
            good(5, level="非常满意"), good(6, level="2")]
    [summary] = imported(cli, str(write_csv(tmp_path / "mixed.csv", rows)))
    assert (summary["rows_read"], summary["accepted"], summary["rejected"]) == (6, 2, 4)
    assert rejects(cli) == [(2, "level_invalid", STRAY.format("3")), (3, "level_missing", "the level (评价等级) is empty"),
                            (4, "level_invalid", STRAY.format("5")), (7, "level_invalid", STRAY.format("2"))]
    assert query(db_path, "SELECT rating_id, level FROM ratings ORDER BY id") == [("R00004", 4), ("R00005", 5)]


def test_held_codes_of_a_json_file_are_stored_as_their_objects(cli, db_path, tmp_path):
    lines = [{"rating_id": "J1", "rated_at": "2024-05-06 09:30:00", "window_code": "LC01", "channel": "二维码",
              "level": 4},
             {"rating_id": "J2", "rated_at": "2024-05-06 09:31:00", "window_code": "LC01", "channel": "二维码",
              "level": "满意"}]
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n", encoding="utf-8")
    [summary] = imported(cli, str(path))
    assert (summary["accepted"], summary["rejected"]) == (1, 1)
    out = json.loads(ok(cli("batches", "rejects", "1", "--format", "json")).stdout)
    assert [(r["line"], r["code"], r["object"]["rating_id"]) for r in out["rows"]] == [
        (1, "level_invalid", "J1")]


def test_a_file_whose_first_hundred_levels_are_codes_is_coded_and_stops(cli, db_path, tmp_path):
    coded = [good(i, level=str(i % 5 + 1)) for i in range(1, 101)] + [good(101, level="满意")]
    result = cli("import", str(write_csv(tmp_path / "coded.csv", coded)))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: coded.csv: line 2: level '2' is a numeric code (the file's levels are "
                                    "codes, not names) and no level scale is declared; nothing was imported")
    assert query(db_path, "SELECT count(*) FROM batches") == [(0,)]
    # 99 codes and then a name: a file of names, whose 99 codes are its rows' problems
    [summary] = imported(cli, str(write_csv(tmp_path / "names.csv", coded[:99] + coded[100:])))
    assert (summary["accepted"], summary["rejected"], summary["reasons"]) == (1, 99, {"level_invalid": 99})
    # with the scale the coded file imports whole
    [summary] = imported(cli, str(tmp_path / "coded.csv"), "--level-scale", "platform")
    assert (summary["accepted"], summary["duplicate"], summary["rejected"], summary["levels_by_code"]) == (
        100, 1, 0, 100)  # R00101 came with the file of names


def test_a_code_outside_the_declared_scale_rejects_its_row(cli, tmp_path):
    rows = [good(1, level="1"), good(2, level="0"), good(3, level="6")]
    [summary] = imported(cli, str(write_csv(tmp_path / "scaled.csv", rows)), "--level-scale", "national")
    assert (summary["accepted"], summary["rejected"]) == (1, 2)
    assert rejects(cli) == [(3, "level_invalid", "level code 0 is not 1–5 on the national scale"),
                            (4, "level_invalid", "level code 6 is not 1–5 on the national scale")]


# --- 4. channel labels --------------------------------------------------------------------------------------


def documented_labels() -> list[tuple[str, str, str | None]]:
    """(label, national channel, mode) from the label table of docs/import.md."""
    text = (ROOT / "docs" / "import.md").read_text(encoding="utf-8")
    table = text.split("| label in the file | national channel | mode | why |", 1)[1].split("\n\n", 1)[0]
    labels = []
    for line in table.strip().splitlines()[1:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        names = re.findall(r"`([^`]+)`", cells[0])
        channels = [c.strip() for c in cells[1].split(",")]
        if len(channels) == 1:
            channels = channels * len(names)
        assert len(channels) == len(names), line
        mode = None if cells[2] == "—" else cells[2]
        labels += [(name, channel, mode) for name, channel in zip(names, channels, strict=True)]
    return labels


LABELS = documented_labels()


def test_the_documented_labels_are_the_canonical_profiles():
    profile = load_profile("canonical")
    national = {c for c, _ in profile.channels.values()}
    documented = {name.lower(): (channel, mode) for name, channel, mode in LABELS}
    mapped = {label: spec for label, spec in profile.channels.items() if label not in {c.lower() for c in national}}
    assert mapped == documented
    assert {"移动端评价", "app", "微信", "小程序", "支付宝", "自助终端", "政务服务网", "网上评价", "扫码评价", "短信评价",
            "12345", "电话回访", "窗口评价器", "平板"} <= set(documented)


def test_each_documented_label_imports_to_its_national_channel(cli, db_path, tmp_path):
    rows = [good(i, channel=f" {label.upper()} " if i % 2 else label, window_code="LCWS" if mode == "online" else "LC01",
                 rated_at=f"2024-05-06 {8 + i // 60:02d}:{i % 60:02d}:00")
            for i, (label, _channel, mode) in enumerate(LABELS, 1)]
    rows.append(good(len(LABELS) + 1, channel="ＡＰＰ", rated_at="2024-05-07 09:00:00"))  # full width
    rows.append(good(len(LABELS) + 2, channel="意见箱", rated_at="2024-05-07 09:01:00"))
    [summary] = imported(cli, str(write_csv(tmp_path / "labels.csv", rows)))
    assert (summary["accepted"], summary["rejected"]) == (len(LABELS) + 1, 1)
    stored = query(db_path, "SELECT channel FROM ratings ORDER BY id")
    assert [c for (c,) in stored] == [channel for _, channel, _ in LABELS] + ["移动服务端"]
    assert rejects(cli) == [(len(LABELS) + 3, "channel_unknown",
                             "channel '意见箱' is neither a national channel nor a label of profile canonical")]


def test_a_label_that_names_a_mode_still_refuses_the_other_kind_of_window(cli, tmp_path):
    rows = [good(1, channel="政务服务网", window_code="LC01"), good(2, channel="平板", window_code="LCWS"),
            good(3, channel="12345热线", window_code="LCWS"), good(4, channel="自助终端", window_code="LCWS")]
    [summary] = imported(cli, str(write_csv(tmp_path / "modes.csv", rows)))
    assert (summary["accepted"], summary["rejected"]) == (2, 2)
    assert [(line, code) for line, code, _ in rejects(cli)] == [(2, "channel_mode"), (3, "channel_mode")]

