"""Rating import through the CLI: counts that add up, rejection reasons, idempotency, duplicates, the
aggregates and the rating index against hand-worked values, privacy of phones, and the rejects export."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import sqlite3
import threading

import pytest
from import_support import HEADER, NOW, good, query, row, write_csv
from support import imported, ok

from haocha_cli.context import open_context
from haocha_cli.indicators import weights


@pytest.fixture(autouse=True)
def _now(monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", NOW)






def t(s: int) -> float:
    return (s - 1) / 4 * 100


# --- a clean file ------------------------------------------------------------------------------------


def test_a_clean_file_is_one_batch_with_its_ratings_aggregates_and_cases(cli, db_path, tmp_path):
    path = write_csv(tmp_path / "ratings.csv", [
        good(1, level="非常满意", rater_phone="138 1234 5678", anonymous="否"),
        good(2, level="满意", A1="5", C1="3"),
        good(3, level="不满意", problems="办理时限、C2", window_code="LC02"),
        good(4, level="基本满意", window_code="LCWS", channel="PC端", D3="2"),
    ])
    [summary] = imported(cli, str(path))
    assert {k: summary[k] for k in ("batch", "status", "format", "encoding", "profile", "source", "rows_read",
                                    "accepted", "duplicate", "rejected", "cases_opened", "ignored_columns")} == {
        "batch": 1, "status": "imported", "format": "csv", "encoding": "utf-8", "profile": "canonical",
        "source": "canonical", "rows_read": 4, "accepted": 4, "duplicate": 0, "rejected": 0, "cases_opened": 1,
        "ignored_columns": []}
    assert summary["level_scale"] == "levels by name only (numeric codes refused: no scale declared)"
    rows = query(db_path, "SELECT rating_id, line, rated_at, day, window_code, county_code, mode, channel, item_code,"
                          " level, weights_version, scores, problems, anonymous, contact_id IS NOT NULL FROM ratings"
                          " ORDER BY id")
    assert rows == [
        ("R00001", 2, "2024-05-06 09:01:00", "2024-05-06", "LC01", "370213", "offline", "政务大厅其他终端", "XK01", 5,
         "V1.0", None, None, 0, 1),
        ("R00002", 3, "2024-05-06 09:02:00", "2024-05-06", "LC01", "370213", "offline", "政务大厅其他终端", "XK01", 4,
         "V1.0", '{"A1":5,"C1":3}', None, 1, 0),
        ("R00003", 4, "2024-05-06 09:03:00", "2024-05-06", "LC02", "370213", "offline", "政务大厅其他终端", "XK01", 2,
         "V1.0", None, '["D1", "C2"]', 1, 0),
        ("R00004", 5, "2024-05-06 09:04:00", "2024-05-06", "LCWS", "370213", "online", "PC端", "XK01", 3,
         "V1.0", '{"D3":2}', None, 1, 0),
    ]
    # The rating index by DOMAIN.md section 4, summed over every indicator of the mode: an indicator the rater
    # did not score takes the overall level.
    w = weights(open_context(db_path).db, "V1.0")
    given = {"R00001": (5, {}), "R00002": (4, {"A1": 5, "C1": 3}), "R00003": (2, {}), "R00004": (3, {"D3": 2})}
    mode = {"R00001": "offline", "R00002": "offline", "R00003": "offline", "R00004": "online"}
    expected = {rid: sum(wi * t(scores.get(code, level)) for code, wi in w[mode[rid]].items())
                for rid, (level, scores) in given.items()}
    stored = dict(query(db_path, "SELECT rating_id, rating_index FROM ratings"))
    assert stored == pytest.approx(expected, abs=1e-9)
    assert stored["R00001"] == pytest.approx(100.0) and stored["R00003"] == pytest.approx(25.0)
    assert sum(w["offline"].values()) == pytest.approx(1.0)
    # Daily aggregates: per day × window × item × channel, counts by level and index sums.
    agg = query(db_path, "SELECT window_code, channel, county_code, mode, n, l1, l2, l3, l4, l5, index_sum, index_sq"
                         " FROM daily_agg ORDER BY window_code")
    assert [a[:10] for a in agg] == [
        ("LC01", "政务大厅其他终端", "370213", "offline", 2, 0, 0, 0, 1, 1),
        ("LC02", "政务大厅其他终端", "370213", "offline", 1, 0, 1, 0, 0, 0),
        ("LCWS", "PC端", "370213", "online", 1, 0, 0, 1, 0, 0),
    ]
    assert agg[0][10] == pytest.approx(expected["R00001"] + expected["R00002"])
    assert agg[0][11] == pytest.approx(expected["R00001"] ** 2 + expected["R00002"] ** 2)
    ind = query(db_path, "SELECT window_code, indicator_code, n, score_sum, score_sq, level_sum, level_sq, cross_sum"
                         " FROM daily_indicator_agg ORDER BY window_code, indicator_code")
    assert ind == [("LC01", "A1", 1, 5, 25, 4, 16, 20), ("LC01", "C1", 1, 3, 9, 4, 16, 12),
                   ("LCWS", "D3", 1, 2, 4, 3, 9, 6)]
    # One case, for the one bad review (不满意), in the same batch.
    assert query(db_path, "SELECT r.rating_id FROM cases c JOIN ratings r ON r.id = c.rating_id") == [("R00003",)]
    # One audit event for the batch.
    events = query(db_path, "SELECT action, entity, entity_id FROM audit_events WHERE action = 'ratings.import'")
    assert events == [("ratings.import", "batches", "1")]
    batch = query(db_path, "SELECT file_name, sha256, source, profile, format, operator, rows_read, accepted,"
                           " rejected, duplicate FROM batches")
    assert batch == [("ratings.csv", hashlib.sha256(path.read_bytes()).hexdigest(), "canonical", "canonical", "csv",
                      "city", 4, 4, 0, 0)]


def test_the_same_file_again_adds_nothing_and_says_which_batch(cli, db_path, tmp_path):
    path = write_csv(tmp_path / "ratings.csv", [good(i) for i in range(1, 6)])
    ok(cli("import", str(path)))
    before = query(db_path, "SELECT (SELECT count(*) FROM ratings), (SELECT count(*) FROM batches),"
                            " (SELECT count(*) FROM audit_events), (SELECT sum(n) FROM daily_agg)")
    again = ok(cli("import", str(path)))
    assert "ratings.csv was already imported as batch 1; nothing added" in again.stderr
    assert query(db_path, "SELECT (SELECT count(*) FROM ratings), (SELECT count(*) FROM batches),"
                          " (SELECT count(*) FROM audit_events), (SELECT sum(n) FROM daily_agg)") == before == [(5, 1, before[0][2], 5)]
    [summary] = imported(cli, str(path))
    assert summary["status"] == "already imported" and summary["batch"] == 1


def test_an_overlapping_export_counts_earlier_ids_as_duplicates_and_aggregates_them_once(cli, db_path, tmp_path):
    first = write_csv(tmp_path / "week1.csv", [good(i) for i in range(1, 11)])
    second = write_csv(tmp_path / "week2.csv", [good(i, level="非常满意") for i in range(6, 16)])
    imported(cli, str(first))
    [summary] = imported(cli, str(second))
    assert (summary["rows_read"], summary["accepted"], summary["duplicate"], summary["rejected"]) == (10, 5, 5, 0)
    # The duplicates keep the first import's values; the aggregates count each rating once.
    assert query(db_path, "SELECT count(*), sum(level = 5), sum(level = 4) FROM ratings") == [(15, 5, 10)]
    assert query(db_path, "SELECT sum(n), sum(l4), sum(l5) FROM daily_agg") == [(15, 10, 5)]
    assert query(db_path, "SELECT accepted, duplicate FROM batches ORDER BY id") == [(10, 0), (5, 5)]


def test_the_same_id_twice_inside_one_file_is_rejected_naming_the_first_line(cli, db_path, tmp_path):
    path = write_csv(tmp_path / "twice.csv", [good(1), good(2), good(1, level="不满意"), good(3)])
    [summary] = imported(cli, str(path))
    assert (summary["accepted"], summary["duplicate"], summary["rejected"]) == (3, 0, 1)
    assert summary["first_rejects"] == [{"line": 4, "code": "duplicate_in_file",
                                         "reason": "rating id R00001 appears earlier in this file (line 2)"}]
    # The first one stands, with its aggregates; the rejected copy opened no case.
    assert query(db_path, "SELECT level FROM ratings WHERE rating_id = 'R00001'") == [(4,)]
    assert query(db_path, "SELECT sum(n), sum(l2) FROM daily_agg") == [(3, 0)]
    assert query(db_path, "SELECT count(*) FROM cases") == [(0,)]


# --- a file with known injected errors -----------------------------------------------------------------


def injected_rows() -> tuple[list[list[str]], dict[str, list[int]]]:
    """200 good rows with errors injected at known lines; returns the rows and {reason: [lines]}."""
    rows = [good(i) for i in range(1, 201)]
    errors = {
        "id_missing": {"rating_id": ""},
        "excel_number": {"rating_id": "3.70E+21"},
        "time_missing": {"rated_at": ""},
        "time_invalid": {"rated_at": "2024-13-45 10:00:00"},
        "time_excel_serial": {"rated_at": "45418.39583"},
        "time_future": {"rated_at": "2025-06-01 10:00:00"},
        "channel_missing": {"channel": ""},
        "channel_unknown": {"channel": "系统默认评价"},
        "channel_mode": {"channel": "网上评价"},  # an online label at the counter LC01
        "window_missing": {"window_code": ""},
        "window_unknown": {"window_code": "QD99"},
        "item_unknown": {"item_code": "XK99"},
        "level_missing": {"level": ""},
        "level_invalid": {"level": "很好"},
        "score_invalid": {"A1": "7"},
        "score_scope": {"D3": "4"},  # 网办便捷 is online only; LC01 is a counter
        "problem_unknown": {"problems": "态度差"},
        "phone_invalid": {"rater_phone": "12345"},
        "anonymous_invalid": {"anonymous": "也许"},
        "round_invalid": {"rating_round": "3"},
    }
    where: dict[str, list[int]] = {}
    for k, (code, change) in enumerate(errors.items()):
        for j in range(k % 3 + 1):  # 1, 2 or 3 of each, spread over the file
            index = 3 + k * 9 + j
            rows[index] = good(index + 1, **change)
            where.setdefault(code, []).append(index + 2)  # line 1 is the header
    rows[190] = good(191, rating_id="R00005")  # the same id as line 6
    where["duplicate_in_file"] = [192]
    rows[195] = rows[195][:5]  # a row cut short
    where["cells_count"] = [197]
    return rows, where


def test_a_file_with_injected_errors_gives_exact_counts_and_lines(cli, db_path, tmp_path):
    rows, where = injected_rows()
    path = write_csv(tmp_path / "injected.csv", rows)
    [summary] = imported(cli, str(path))
    expected = {code: len(lines) for code, lines in where.items()}
    rejected = sum(expected.values())
    assert summary["reasons"] == dict(sorted(expected.items(), key=lambda kv: (-kv[1], kv[0])))
    assert (summary["rows_read"], summary["accepted"], summary["duplicate"], summary["rejected"]) == (
        200, 200 - rejected, 0, rejected)
    stored = query(db_path, "SELECT code, line FROM rejects WHERE batch_id = 1 ORDER BY line")
    assert stored == sorted(((code, line) for code, lines in where.items() for line in lines), key=lambda r: r[1])
    assert query(db_path, "SELECT count(*) FROM ratings") == [(200 - rejected,)]
    assert query(db_path, "SELECT sum(n) FROM daily_agg") == [(200 - rejected,)]
    show = json.loads(ok(cli("batches", "show", "1", "--format", "json")).stdout)
    assert {r["code"]: r["count"] for r in show["reasons"]} == expected


def test_each_reason_names_the_value(cli, tmp_path):
    rows, _ = injected_rows()
    path = write_csv(tmp_path / "injected.csv", rows)
    imported(cli, str(path))
    out = json.loads(ok(cli("batches", "rejects", "1", "--format", "json")).stdout)
    reasons = {r["code"]: r["reason"] for r in out["rows"]}
    assert reasons["window_unknown"] == "window QD99 is not in the catalogue (a window of another city?)"
    assert reasons["time_future"] == f"the time 2025-06-01 10:00:00 is later than now ({NOW})"
    assert reasons["time_invalid"] == "'2024-13-45 10:00:00' is not a valid date and time"
    assert reasons["time_excel_serial"].startswith("the time 45418.39583 is a spreadsheet date serial number")
    assert reasons["excel_number"].startswith("rating id 3.70E+21 was turned into a number by a spreadsheet")
    assert reasons["channel_mode"] == "channel 网上评价 is online but window LC01 is offline"
    assert reasons["score_invalid"] == "score of 着装规范 (A1) is '7'; scores are whole numbers 1–5"
    assert reasons["score_scope"] == "indicator 网办便捷 (D3) is online only; the window is offline"
    assert reasons["level_invalid"] == "'很好' is not a level (非常满意 / 满意 / 基本满意 / 不满意 / 非常不满意)"
    assert reasons["item_unknown"] == "service item 'XK99' is not in the catalogue"
    assert reasons["phone_invalid"] == "phone number 123****45 is not a plausible mobile or landline"
    assert reasons["cells_count"] == "the row has 5 cells, the header has 17 (truncated or misaligned)"


# --- bad input: clear errors, nothing lost ------------------------------------------------------------


def test_an_empty_file_and_a_header_only_file_are_errors_that_write_nothing(cli, db_path, tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    header_only = write_csv(tmp_path / "header.csv", [])
    result = cli("import", str(tmp_path / "empty.csv"))
    assert result.exit_code == 1
    assert result.stderr == "Error: empty.csv is empty (export the ratings again; the file has no header and no rows)\n"
    result = cli("import", str(header_only))
    assert result.exit_code == 1
    assert result.stderr == "Error: header.csv has a header but no rows (export the ratings again; nothing was imported)\n"
    assert query(db_path, "SELECT count(*) FROM batches") == [(0,)]


def test_a_folder_is_refused_with_a_hint_and_other_os_errors_are_one_line(cli, db_path, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    result = cli("import", str(inbox))
    assert result.exit_code == 1
    assert result.stderr == f"Error: {inbox} is a folder, not a file (give the files in it, e.g. haocha import {inbox}/*.csv)\n"
    assert query(db_path, "SELECT count(*) FROM batches") == [(0,)]
    # A file path the core does not vet (here the QR sheet's) that is a folder: one line, no traceback.
    result = cli("qr", "sheet", "--out", str(inbox), "--allow-local")
    assert result.exit_code == 1
    assert result.stderr == (f"Error: cannot use {inbox}: Is a directory (check the path, its permissions and the free"
                             " disk space)\n")


def test_a_missing_required_column_is_named_with_the_columns_found(cli, db_path, tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("评价编号,评价时间,窗口,满意度\nR1,2024-05-06 09:00:00,LC01,满意\n", encoding="utf-8")
    result = cli("import", str(path))
    assert result.exit_code == 1
    assert result.stderr == ("Error: short.csv: missing required column(s) 窗口编码 (window_code), 评价渠道 (channel)"
                             " (columns found: 评价编号, 评价时间, 窗口, 满意度)\n")
    platform = tmp_path / "platform.csv"
    platform.write_text("projectNo,assessNumber,assessTime,satisfaction,pf,areacode\nP1,1,2024-05-06 09:00:00,5,1,370213\n",
                        encoding="utf-8")
    result = cli("import", str(platform))
    assert "these look like the provincial platform's fields: try --profile platform" in result.stderr
    assert query(db_path, "SELECT count(*) FROM batches") == [(0,)]


def test_a_coded_file_without_a_declared_scale_is_refused_whole(cli, db_path, tmp_path):
    path = write_csv(tmp_path / "codes.csv", [good(1, level=""), good(2, level="5"), good(3, level="0"),
                                              good(4, level="1")])
    result = cli("import", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: codes.csv: line 3: level '5' is a numeric code (the file's levels are "
                                    "codes, not names) and no level scale is declared; nothing was imported (level "
                                    "codes run both ways: give --level-scale national (GB/T 39046: 1 = 非常满意) or "
                                    "--level-scale platform (5 = 非常满意)")
    assert query(db_path, "SELECT count(*) FROM ratings") == [(0,)]
    assert query(db_path, "SELECT count(*) FROM batches") == [(0,)]


@pytest.mark.parametrize(("scale", "level", "text"), [
    ("national", 5, "national scale GB/T 39046 (1 = 非常满意 … 5 = 非常不满意), and names"),
    ("platform", 1, "platform scale (5 = 非常满意 … 1 = 非常不满意), and names"),
])
def test_level_codes_read_by_the_declared_scale_and_the_summary_says_which(cli, db_path, tmp_path, scale, level, text):
    path = write_csv(tmp_path / "codes.csv", [good(1, level="1"), good(2, level="满意")])
    [summary] = imported(cli, str(path), "--level-scale", scale)
    assert summary["level_scale"] == text and summary["levels_by_code"] == 1
    assert query(db_path, "SELECT rating_id, level FROM ratings ORDER BY id") == [("R00001", level), ("R00002", 4)]
    assert query(db_path, "SELECT level_scale FROM batches") == [(scale,)]


def test_a_wrong_encoding_is_a_clear_error(cli, db_path, tmp_path):
    path = write_csv(tmp_path / "gbk.csv", [good(1, comment="很好")], encoding="gb18030")
    result = cli("import", str(path), "--encoding", "utf-8")
    assert result.exit_code == 1
    assert result.stderr == ("Error: gbk.csv: line 1 is not valid utf-8 text (the file mixes"
                             " encodings or is not utf-8; try --encoding gb18030, or save it again as CSV UTF-8)\n")
    [summary] = imported(cli, str(path))  # detected
    assert summary["encoding"] == "gb18030" and summary["accepted"] == 1
    assert query(db_path, "SELECT comment FROM ratings") == [("很好",)]


# --- what the import reads: regular files, text encodings, rating times from 2000 to now -------------------

NOT_REGULAR = ("is not a regular file (a device, a named pipe or a socket) (give the path of a file saved on disk;"
               " haocha reads no devices, pipes or standard input)\n")


@contextlib.contextmanager
def fifo(path):
    """A named pipe at ``path``. Should a command open it, a writer gives it an empty file at once, so that a
    regression fails the test instead of hanging it."""
    os.mkfifo(path)

    def feed():
        with open(path, "wb"):
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        yield path
    finally:
        reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # lets the writer's open return if nobody read
        writer.join()
        os.close(reader)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are Unix's")
@pytest.mark.parametrize(("args", "what"), [
    (["import", "{device}"], "file {device}"),
    (["import", "{pipe}"], "file {pipe}"),
    (["import", "--profile", "{device}", "{good}"], "profile file {device}"),
    (["import", "--profile", "{pipe}", "{good}"], "profile file {pipe}"),
    (["org", "import", "{pipe}"], "file {pipe}"),
    (["calendar", "import", "{device}"], "file {device}"),
    (["cases", "apply", "{pipe}"], "file {pipe}"),
    (["indicators", "weigh", "{pipe}"], "file {pipe}"),
    (["--config", "{device}", "status"], "file {device}"),
])
def test_only_regular_files_are_read(cli, db_path, tmp_path, args, what):
    # /dev/null: a device that would read as an empty file; /dev/zero, which never ends, is refused the same way.
    with fifo(tmp_path / "ratings.toml") as pipe:
        names = {"device": "/dev/null", "pipe": str(pipe), "good": str(write_csv(tmp_path / "good.csv", [good(1)]))}
        result = cli(*[a.format(**names) for a in args])
    assert result.exit_code == 1
    assert result.stderr == f"Error: {what.format(**names)} {NOT_REGULAR}"
    assert query(db_path, "SELECT count(*) FROM batches") == [(0,)]


@pytest.mark.parametrize("name", ["hex", "rot13", "base64", "zlib", "bz2", "uu", "quopri", "idna", "punycode",
                                  "unicode_escape", "undefined"])
def test_encoding_takes_only_text_encodings_of_files(cli, db_path, tmp_path, name):
    path = write_csv(tmp_path / "r.csv", [good(1)])
    result = cli("import", str(path), "--encoding", name)
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {name!r} is not a text encoding of files (use utf-8, utf-8-sig, gb18030 (covers"
                             " GBK) or utf-16 (utf-16-le without a byte-order mark))\n")
    assert query(db_path, "SELECT count(*) FROM batches") == [(0,)]


def test_utf16_without_a_byte_order_mark_is_one_error_line_with_the_way_out(cli, db_path, tmp_path):
    path = write_csv(tmp_path / "unicode.txt", [good(1, comment="很好")], encoding="utf-16-le")
    result = cli("import", str(path), "--encoding", "utf-16")
    assert result.exit_code == 1
    assert result.stderr == ("Error: unicode.txt: line 1 is not valid utf-16 text (the file has no UTF-16 byte-order"
                             " mark, or is not UTF-16; try --encoding utf-16-le (or utf-16-be), or leave --encoding"
                             " out for UTF-8 and GB18030)\n")
    [summary] = imported(cli, str(path), "--encoding", "utf-16-le")
    assert summary["accepted"] == 1 and query(db_path, "SELECT comment FROM ratings") == [("很好",)]


def test_a_rating_time_outside_2000_to_now_rejects_its_row_only(cli, db_path, tmp_path):
    bad = {  # the time as written: the reason
        "9999-12-31T23:59:59-08:00": "'9999-12-31T23:59:59-08:00' falls outside the years 1 to 9999 in Asia/Shanghai time",
        "0001-01-01T00:00:00+14:00": "'0001-01-01T00:00:00+14:00' falls outside the years 1 to 9999 in Asia/Shanghai time",
        "00010101000000": "'00010101000000' is before 2000-01-01, earlier than any rating (a broken date cell?)",
        "0001-01-01 00:00:00": "'0001-01-01 00:00:00' is before 2000-01-01, earlier than any rating (a broken date cell?)",
        "1899-12-30 09:00:00": "'1899-12-30 09:00:00' is before 2000-01-01, earlier than any rating (a broken date cell?)",
        "2000-01-01T00:59:59+09:00": "'2000-01-01T00:59:59+09:00' is before 2000-01-01, earlier than any rating"
                                     " (a broken date cell?)",  # 1999-12-31 23:59:59 in Shanghai
        "2024-05-06T09:30:00+99:99": "'2024-05-06T09:30:00+99:99' has the offset +99:99, which is no time zone's"
                                     " (offsets run from -14:00 to +14:00)",
        "2024-05-06T09:30:00-1401": "'2024-05-06T09:30:00-1401' has the offset -1401, which is no time zone's"
                                    " (offsets run from -14:00 to +14:00)",
        "2024-05-06T09:30:00+08:60": "'2024-05-06T09:30:00+08:60' has the offset +08:60, which is no time zone's"
                                     " (offsets run from -14:00 to +14:00)",
    }
    rows = [good(1, level="不满意"), *(good(i, rated_at=when, level="非常不满意") for i, when in enumerate(bad, 2)),
            good(20, rated_at="2000-01-01 00:00:00"), good(21, rated_at="2024-05-06T01:30:00-14:00", level="不满意"),
            good(22, rated_at="9999-12-31 23:59:59")]
    [summary] = imported(cli, str(write_csv(tmp_path / "times.csv", rows)))
    assert (summary["accepted"], summary["rejected"]) == (3, len(bad) + 1)
    assert summary["reasons"] == {"time_invalid": len(bad), "time_future": 1}
    assert query(db_path, "SELECT rating_id, rated_at FROM ratings ORDER BY id") == [
        ("R00001", "2024-05-06 09:01:00"), ("R00020", "2000-01-01 00:00:00"), ("R00021", "2024-05-06 23:30:00")]
    out = json.loads(ok(cli("batches", "rejects", "1", "--format", "json")).stdout)
    assert [(r["line"], r["code"], r["reason"]) for r in out["rows"]] == [
        *((i + 1, "time_invalid", reason) for i, reason in enumerate(bad.values(), 2)),
        (len(bad) + 5, "time_future", f"the time 9999-12-31 23:59:59 is later than now ({NOW})")]
    # What was stored reads everywhere: the day's report and the cases of the two bad reviews.
    assert ok(cli("report", "daily", "--date", "2024-05-06")).exit_code == 0
    assert len(json.loads(ok(cli("cases", "list", "--format", "json")).stdout)) == 2


def test_a_truncated_last_line_is_rejected_and_the_rest_imported(cli, db_path, tmp_path):
    path = write_csv(tmp_path / "cut.csv", [good(1), good(2, comment="完整的评价")])
    data = path.read_bytes()
    path.write_bytes(data + 'R00003,2024-05-06 09:03:00,LC01,窗口评价器,XK01,满意,,,"被截断的'.encode())
    [summary] = imported(cli, str(path))
    assert (summary["rows_read"], summary["accepted"], summary["rejected"]) == (3, 2, 1)
    assert summary["first_rejects"] == [{"line": 4, "code": "row_malformed",
                                         "reason": "the last line is cut off inside a quoted cell (a truncated file?)"}]
    raw = query(db_path, "SELECT raw FROM rejects")[0][0]
    assert json.loads(raw) == 'R00003,2024-05-06 09:03:00,LC01,窗口评价器,XK01,满意,,,"被截断的'


def test_cells_with_newlines_quotes_html_and_emoji_arrive_as_written(cli, db_path, tmp_path):
    comment = '他说："很好"，\r\n第二行 <script>alert(1)</script> 👍'
    path = write_csv(tmp_path / "text.csv", [good(1, comment=comment), good(2)])
    [summary] = imported(cli, str(path))
    assert summary["accepted"] == 2
    assert query(db_path, "SELECT comment, line FROM ratings ORDER BY id") == [(comment, 2), (None, 4)]


def test_unknown_columns_are_ignored_and_listed_once(cli, tmp_path):
    header = [*HEADER, "备注", "导出时间"]
    path = write_csv(tmp_path / "extra.csv", [good(1) + ["x", "y"], good(2) + ["", ""]], header=header)
    [summary] = imported(cli, str(path))
    assert summary["ignored_columns"] == ["备注", "导出时间"] and summary["accepted"] == 2


def test_windows_deactivated_before_the_rating_are_refused_and_ratings_before_accepted(cli, db_path, tmp_path):
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE windows SET active = 0, deactivated_at = '2024-05-06 12:00:00' WHERE code = 'LC02'")
    conn.commit()
    conn.close()
    path = write_csv(tmp_path / "closed.csv", [
        good(1, window_code="LC02", rated_at="2024-05-06 11:59:59"),
        good(2, window_code="LC02", rated_at="2024-05-06 12:00:00"),
    ])
    [summary] = imported(cli, str(path))
    assert summary["accepted"] == 1
    assert summary["first_rejects"] == [{"line": 3, "code": "window_inactive",
                                         "reason": "window LC02 was deactivated on 2024-05-06 12:00:00, before this rating"}]


def test_a_qr_token_that_does_not_verify_is_kept_and_marked(cli, db_path, tmp_path):
    from haocha_cli.qr_tokens import make_token

    token = make_token(open_context(db_path).keys.qr_secret, "LC01")
    # The staff column of HEADER renamed to the token's header: a token is a column like any other.
    rows = [good(1, staff_code=token), good(2, staff_code="WRONGTOKEN"), good(3)]
    path = write_csv(tmp_path / "qr.csv", rows, header=[h if h != "工作人员" else "二维码令牌" for h in HEADER])
    [summary] = imported(cli, str(path))
    assert summary["accepted"] == 3 and summary["qr_tokens_not_verified"] == 1
    assert query(db_path, "SELECT rating_id, qr_token, token_ok FROM ratings ORDER BY id") == [
        ("R00001", token, 1), ("R00002", "WRONGTOKEN", 0), ("R00003", None, None)]


def test_a_dry_run_counts_everything_and_writes_nothing(cli, db_path, tmp_path):
    rows, where = injected_rows()
    path = write_csv(tmp_path / "injected.csv", rows)
    before = query(db_path, "SELECT (SELECT count(*) FROM audit_events), (SELECT count(*) FROM contacts)")
    [summary] = imported(cli, str(path), "--dry-run")
    assert summary["status"] == "dry run (nothing written)" and summary["batch"] is None
    assert summary["rejected"] == sum(len(v) for v in where.values())
    assert query(db_path, "SELECT (SELECT count(*) FROM ratings), (SELECT count(*) FROM batches),"
                          " (SELECT count(*) FROM rejects), (SELECT count(*) FROM daily_agg)") == [(0, 0, 0, 0)]
    assert query(db_path, "SELECT (SELECT count(*) FROM audit_events), (SELECT count(*) FROM contacts)") == before
    [real] = imported(cli, str(path))
    assert real["batch"] == 1 and real["rejected"] == summary["rejected"]


def test_importing_is_the_city_bureaus_task(cli, db_path, tmp_path):
    path = write_csv(tmp_path / "r.csv", [good(1)])
    result = cli("import", str(path), operator="county:370213")
    assert result.exit_code == 1
    assert result.stderr == ("Error: r.csv: importing ratings is the city bureau's (市局) task; county:370213"
                             " may not do it (the city bureau's staff (市局) do it)\n")


def test_several_files_each_become_a_batch_and_a_failing_one_does_not_stop_the_others(cli, db_path, tmp_path):
    a = write_csv(tmp_path / "a.csv", [good(1)])
    (tmp_path / "bad.csv").write_text("nothing useful\n", encoding="utf-8")
    b = write_csv(tmp_path / "b.csv", [good(2)])
    result = cli("import", str(a), str(tmp_path / "bad.csv"), str(b), "--format", "json")
    assert result.exit_code == 1
    assert "Error: bad.csv: missing required column(s)" in result.stderr
    assert [s["batch"] for s in json.loads(result.stdout)] == [1, 2]


# --- phones -------------------------------------------------------------------------------------------


def test_phones_are_stored_encrypted_and_shown_masked_everywhere(cli, db_path, tmp_path):
    path = write_csv(tmp_path / "phones.csv", [
        good(1, rater_phone="13812345678"), good(2, rater_phone="+86 138-1234-5678"), good(3, rater_phone="13900001111"),
        good(4, rater_phone="13912345678", window_code="QD99"),  # rejected: its phone must not show either
    ])
    result = ok(cli("import", str(path), "--format", "json"))
    assert "13812345678" not in result.stdout and "13912345678" not in result.stdout
    assert query(db_path, "SELECT phone_masked FROM contacts ORDER BY id") == [("138****5678",), ("139****1111",)]
    # One contact per distinct number: the same rater matched across rows.
    assert query(db_path, "SELECT count(DISTINCT contact_id) FROM ratings WHERE rating_id IN ('R00001', 'R00002')") == [(1,)]
    dump = "\n".join(str(r) for t in ("ratings", "contacts", "rejects", "batches", "audit_events")
                     for r in query(db_path, f"SELECT * FROM {t}"))
    assert "13812345678" not in dump and "13912345678" not in dump
    ctx = open_context(db_path)
    assert ctx.vault.reveal(query(db_path, "SELECT phone_enc FROM contacts WHERE id = 1")[0][0]) == "13812345678"
    shown = ok(cli("batches", "rejects", "1"))
    assert "139****5678" in shown.stdout and "13912345678" not in shown.stdout


def test_rejects_export_as_they_were_with_a_reason_and_import_again_once_fixed(cli, db_path, tmp_path):
    path = write_csv(tmp_path / "week.csv", [
        good(1), good(2, window_code="QD99", rater_phone="13912345678", anonymous="否"), good(3, level="很好"),
    ], encoding="gb18030")
    imported(cli, str(path))
    out = tmp_path / "rejects.csv"
    ok(cli("batches", "rejects", "1", "--out", str(out)))
    with out.open(encoding="utf-8-sig", newline="") as fh:
        exported = list(csv.reader(fh))
    assert exported[0] == [*HEADER, "reject_reason", "reject_ref"]
    assert exported[1][:-1] == [*good(2, window_code="QD99", rater_phone="139****5678", anonymous="否"),
                                "window_unknown: window QD99 is not in the catalogue (a window of another city?)"]
    assert re.fullmatch(r"B1-L3-[0-9a-f]{16}", exported[1][-1])  # the round trip's reference (test_rejects_round_trip.py)
    assert exported[2][-2].startswith("level_invalid: '很好' is not a level")
    # The city may write the phones in full (audited), so that the fixed file can go in again; a county may
    # not read a batch's rejects at all (a batch mixes the counties' rows).
    result = cli("batches", "rejects", "1", "--out", str(out), "--reveal-phones", operator="county:370213")
    assert result.exit_code == 1 and result.stderr.startswith(
        "Error: reading the rejected rows of a batch is the city bureau's (市局) task; county:370213 may not do it")
    assert query(db_path, "SELECT count(*) FROM audit_events WHERE action = 'batches.reveal_phones'") == [(0,)]
    ok(cli("batches", "rejects", "1", "--out", str(out), "--reveal-phones"))
    assert query(db_path, "SELECT count(*) FROM audit_events WHERE action = 'batches.reveal_phones'") == [(1,)]
    with out.open(encoding="utf-8-sig", newline="") as fh:
        fixed = list(csv.reader(fh))
    assert fixed[1][HEADER.index("联系电话")] == "13912345678"
    fixed[1][HEADER.index("窗口编码")] = "LC02"
    fixed[2][HEADER.index("满意度")] = "满意"
    with out.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(fixed)
    [summary] = imported(cli, str(out))
    assert (summary["accepted"], summary["rejected"], summary["ignored_columns"]) == (
        2, 0, ["reject_reason", "reject_ref"])
    assert query(db_path, "SELECT count(*), count(contact_id) FROM ratings") == [(3, 1)]


def test_batches_list_and_show(cli, tmp_path):
    imported(cli, str(write_csv(tmp_path / "a.csv", [good(1), good(2, level="很好")])))
    listing = json.loads(ok(cli("batches", "list", "--format", "json")).stdout)
    assert [(b["batch"], b["file_name"], b["rows_read"], b["accepted"], b["duplicate"], b["rejected"])
            for b in listing] == [(1, "a.csv", 2, 1, 0, 1)]
    show = json.loads(ok(cli("batches", "show", "1", "--format", "json")).stdout)
    assert show["reasons"] == [{"code": "level_invalid", "count": 1,
                                "meaning": "the level is not a level name, nor a code of the declared scale",
                                "example": "'很好' is not a level (非常满意 / 满意 / 基本满意 / 不满意 / 非常不满意)"}]
    result = cli("batches", "show", "9")
    assert result.exit_code == 1 and result.stderr == "Error: batch 9 does not exist (batches are numbered 1 to 1)\n"


def test_row_helper_matches_header():
    assert len(row()) == len(HEADER)


def test_the_import_flags_suspicious_ratings_of_its_days_in_the_same_batch(cli, db_path, tmp_path):
    # Three ratings from one phone on one day (flags.phone_per_day = 3), on two days months apart, so that
    # the scan covers both of its week-long blocks; and a QR token that does not verify.
    rows = [good(i, rated_at=f"{day} 10:0{i % 3}:00", rater_phone="13812345678", rating_id=f"{day}-{i}")
            for day in ("2024-01-08", "2024-03-11") for i in range(3)]
    rows.append(good(9, staff_code="NOTATOKEN"))
    path = write_csv(tmp_path / "flags.csv", rows, header=[h if h != "工作人员" else "二维码令牌" for h in HEADER])
    [summary] = imported(cli, str(path))
    assert summary["flags_raised"] == 7
    assert query(db_path, "SELECT rule, day, count(*) FROM flags GROUP BY rule, day ORDER BY day") == [
        ("same_phone", "2024-01-08", 3), ("same_phone", "2024-03-11", 3), ("bad_token", "2024-05-06", 1)]
    [dry] = imported(cli, str(write_csv(tmp_path / "again.csv", [good(10, staff_code="x")])), "--dry-run")
    assert dry["flags_raised"] == 0


def test_docs_import_md_names_every_rejection_reason_and_every_canonical_header():
    import tomllib
    from pathlib import Path

    from haocha_cli.importer import REASONS
    from haocha_cli.profiles import PROFILE_DIR

    root = Path(__file__).resolve().parent.parent
    doc = (root / "docs" / "import.md").read_text(encoding="utf-8")
    assert [code for code in REASONS if f"| `{code}` |" not in doc] == []
    canonical = tomllib.loads((PROFILE_DIR / "canonical.toml").read_text(encoding="utf-8"))
    assert [h for h in canonical["columns"] if h not in doc] == []
    assert [label for label in canonical["channels"] if label not in doc] == []
    platform = tomllib.loads((PROFILE_DIR / "platform.toml").read_text(encoding="utf-8"))
    assert [h for h in platform["columns"] if f"`{h}`" not in doc] == []
