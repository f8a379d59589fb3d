"""The rejects round trip (issue 18): `batches rejects N --out fix.csv` writes the phones masked with a
reject_ref per row; the clerk fixes the bad cells; `haocha import fix.csv` accepts the fixed rows with their
original phones (and every other cell as it was), once; a changed, forged or foreign reference gives nothing."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from import_support import HEADER, NOW, good, query, write_csv
from support import imported, ok

from haocha_cli.bootstrap import init_database
from haocha_cli.context import open_context

PHONE, LEVEL, WINDOW, COMMENT = (HEADER.index(h) for h in ("联系电话", "满意度", "窗口编码", "文字评价"))
REF = len(HEADER) + 1  # after reject_reason


@pytest.fixture(autouse=True)
def _now(monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", NOW)


def week(tmp_path):
    """A file of one good rating and four rejected ones, each with a phone."""
    return write_csv(tmp_path / "week.csv", [
        good(1, level="很好", rater_phone="138 0000 8000", comment="请回电13900001111，谢谢"),  # level_invalid
        good(2, window_code="QD99", level="不满意", rater_phone="13812345678", comment="-态度很差"),  # window_unknown
        good(3, rater_phone="13812345678"),  # accepted
        good(4, level="很好", rater_phone="13700007777", comment="\x1b[31m红字"),  # its phone will be typed anew
        good(5, level="很好", rater_phone="13600006666"),  # level_invalid: the clerk leaves it as it is
    ], encoding="gb18030")


def export(cli, tmp_path, batch: int = 1, name: str = "fix.csv") -> list[list[str]]:
    out = tmp_path / name
    ok(cli("batches", "rejects", str(batch), "--out", str(out)))
    with out.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def save(path, rows: list[list[str]]):
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def phone_of(db_path, rating_id: str) -> str | None:
    row = query(db_path, "SELECT c.phone_enc FROM ratings r LEFT JOIN contacts c ON c.id = r.contact_id"
                         " WHERE r.rating_id = ?", (rating_id,))
    if not row or row[0][0] is None:
        return None
    ctx = open_context(db_path)
    try:
        return ctx.vault.reveal(row[0][0])
    finally:
        ctx.db.close()


def test_fixed_rows_come_back_with_their_phones_and_cells_once(cli, db_path, tmp_path):
    imported(cli, str(week(tmp_path)))
    rows = export(cli, tmp_path)
    text = (tmp_path / "fix.csv").read_text(encoding="utf-8-sig")
    assert rows[0] == [*HEADER, "reject_reason", "reject_ref"]
    # The file holds no phone in full: the city's file, opened in a spreadsheet.
    assert [r[PHONE] for r in rows[1:]] == ["138****8000", "138****5678", "137****7777", "136****6666"]
    assert "13800008000" not in text and "13900001111" not in text and "请回电139****1111，谢谢" in text
    assert rows[2][COMMENT] == "'-态度很差"  # kept text in a spreadsheet (CSV injection)
    assert rows[3][COMMENT] == "\\x1b[31m红字"  # a control character shown, never obeyed
    assert [r[REF][:6] for r in rows[1:]] == ["B1-L2-", "B1-L3-", "B1-L5-", "B1-L6-"]
    rows[1][LEVEL] = "满意"
    rows[2][WINDOW] = "LC02"
    rows[3][LEVEL], rows[3][PHONE] = "满意", "13711112222"  # a phone the clerk changed: taken as typed
    fixed = save(tmp_path / "fix.csv", rows)
    [summary] = imported(cli, str(fixed))
    # Restored: the rows that had a cell given back (R00004's phone was typed anew, its comment given back).
    assert (summary["accepted"], summary["duplicate"], summary["rejected"], summary["rejects_restored"]) == (3, 0, 1, 4)
    assert summary["ignored_columns"] == ["reject_reason", "reject_ref"]
    assert [(phone_of(db_path, r), r) for r in ("R00001", "R00002", "R00004")] == [
        ("13800008000", "R00001"), ("13812345678", "R00002"), ("13711112222", "R00004")]
    assert query(db_path, "SELECT rating_id, comment, window_code FROM ratings WHERE batch_id = 2 ORDER BY id") == [
        ("R00001", "请回电13900001111，谢谢", "LC01"), ("R00002", "-态度很差", "LC02"), ("R00004", "\x1b[31m红字", "LC01")]
    # One rater, one contact: R00002 is the same phone as R00003 of the first file.
    assert query(db_path, "SELECT count(DISTINCT contact_id) FROM ratings WHERE rating_id IN ('R00002', 'R00003')") == [(1,)]
    # The row left as it was is rejected again, for its level, with its phone kept for the next round.
    [(line, code, stored)] = query(db_path, "SELECT line, code, raw FROM rejects WHERE batch_id = 2")
    assert (line, code, json.loads(stored)[PHONE]) == (5, "level_invalid", "136****6666")
    assert export(cli, tmp_path, 2, "again.csv")[1][REF].startswith("B2-L5-")
    # The bad review's county reads the original phone for its return visit.
    [case] = json.loads(ok(cli("cases", "list", "--format", "json")).stdout)
    assert (case["window"], case["phone"]) == ("LC02", "138****5678")
    result = ok(cli("cases", "contact", str(case["id"]), operator="county:370213"))
    assert result.stdout.splitlines()[0] == "13812345678"
    # The fixed file again adds nothing; so does a copy saved anew.
    assert [s["status"] for s in imported(cli, str(fixed))] == ["already imported"]
    copy = tmp_path / "fix-copy.csv"
    copy.write_bytes(fixed.read_bytes() + b"\r\n")
    [again] = imported(cli, str(copy))
    assert (again["accepted"], again["duplicate"], again["rejected"]) == (0, 3, 1)
    assert query(db_path, "SELECT count(*) FROM ratings") == [(4,)]
    assert query(db_path, "SELECT count(*) FROM contacts") == [(3,)]


def test_a_normal_file_with_a_reject_ref_column_is_imported_as_ever(cli, db_path, tmp_path):
    path = write_csv(tmp_path / "plain.csv", [good(1, rater_phone="13812345678") + ["", ""]],
                     header=[*HEADER, "reject_reason", "reject_ref"])
    [summary] = imported(cli, str(path))
    assert (summary["accepted"], summary["rejects_restored"], summary["ignored_columns"]) == (
        1, 0, ["reject_reason", "reject_ref"])


def test_a_changed_or_copied_reference_gives_no_phone(cli, db_path, tmp_path):
    imported(cli, str(week(tmp_path)))
    rows = export(cli, tmp_path)
    rows[1][LEVEL] = rows[3][LEVEL] = rows[4][LEVEL] = "满意"
    rows[2][WINDOW] = "LC02"
    check = rows[1][REF][-1]
    rows[1][REF] = rows[1][REF][:-1] + ("0" if check != "0" else "1")  # one character changed
    rows[3][REF] = rows[4][REF]  # another row's reference: its phone does not fit this row's masked cell
    rows[2][REF] = rows[2][REF].replace("B1-L3-", "B1-L5-")  # a line that is another row's
    [summary] = imported(cli, str(save(tmp_path / "fix.csv", rows)))
    assert (summary["accepted"], summary["rejected"], summary["rejects_restored"]) == (1, 3, 1)
    reasons = query(db_path, "SELECT line, code, reason FROM rejects WHERE batch_id = 2 ORDER BY line")
    hint = (" is masked, as `batches rejects` writes it: only the row's unchanged reject_ref, in the database that"
            " wrote it, gives the number back; otherwise type the number in full")
    assert reasons == [(2, "phone_invalid", "phone number 138****8000" + hint),
                       (3, "phone_invalid", "phone number 138****5678" + hint),
                       (4, "phone_invalid", "phone number 137****7777" + hint)]
    # Only the row whose reference is its own took a phone: its own.
    assert query(db_path, "SELECT rating_id FROM ratings WHERE batch_id = 2") == [("R00005",)]
    assert phone_of(db_path, "R00005") == "13600006666"
    # The same reference twice in one file: it gives its phone to the first row only.
    rows = export(cli, tmp_path, 1, "twice.csv")
    twin = list(rows[4])
    twin[0] = "R00009"
    for r in (rows[4], twin):
        r[LEVEL] = "满意"
    [twice] = imported(cli, str(save(tmp_path / "twice.csv", [rows[0], rows[4], twin])))
    assert (twice["accepted"], twice["duplicate"], twice["rejected"], twice["rejects_restored"]) == (0, 1, 1, 1)
    assert query(db_path, "SELECT code FROM rejects WHERE batch_id = 3") == [("phone_invalid",)]


def test_another_databases_rejects_file_gives_no_phone(cli, db_path, tmp_path):
    other = tmp_path / "other" / "haocha.db"
    other.parent.mkdir()
    init_database(other)
    source = week(tmp_path)
    ok(cli("--db", str(other), "import", str(source)))  # a later --db wins: the other database
    imported(cli, str(source))
    foreign = tmp_path / "foreign.csv"
    ok(cli("--db", str(other), "batches", "rejects", "1", "--out", str(foreign)))
    with foreign.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    rows[1][LEVEL] = "满意"
    [summary] = imported(cli, str(save(foreign, rows[:2])))
    assert (summary["accepted"], summary["rejected"], summary["rejects_restored"]) == (0, 1, 0)
    assert query(db_path, "SELECT code FROM rejects WHERE batch_id = 2") == [("phone_invalid",)]
    shutil.rmtree(other.parent)


def test_the_json_lines_rejects_file_and_an_unsplittable_line_come_back_too(cli, db_path, tmp_path):
    path = tmp_path / "cut.csv"
    write_csv(path, [good(1, level="很好", rater_phone="13800008000", comment="电话0532-88886666")])
    with path.open("a", encoding="utf-8") as fh:  # a last line cut off inside a quoted comment
        fh.write('R00002,2024-05-06 09:02:00,LC01,窗口评价器,XK01,满意,,,,"请打13900001111')
    [first] = imported(cli, str(path))
    assert [r["code"] for r in first["first_rejects"]] == ["level_invalid", "row_malformed"]
    out = tmp_path / "fix.jsonl"
    ok(cli("batches", "rejects", "1", "--out", str(out)))
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["联系电话"] == "138****8000" and lines[0]["文字评价"] == "电话0532****6666"
    assert lines[1]["text"].endswith('"请打139****1111') and lines[1]["reject_ref"].startswith("B1-L3-")
    lines[0]["满意度"] = "满意"
    # The clerk writes the cut line out as a record, its number as the file showed it.
    lines[1] = {"评价编号": "R00002", "评价时间": "2024-05-06 09:02:00", "窗口编码": "LC01", "评价渠道": "窗口评价器",
                "满意度": "满意", "文字评价": "请打139****1111", "联系电话": "139****1111",
                "reject_ref": lines[1]["reject_ref"]}
    out.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    [summary] = imported(cli, str(out))
    assert (summary["accepted"], summary["rejected"], summary["rejects_restored"]) == (2, 0, 2)
    assert query(db_path, "SELECT rating_id, comment FROM ratings ORDER BY id") == [
        ("R00001", "电话0532-88886666"), ("R00002", "请打13900001111")]
    assert (phone_of(db_path, "R00001"), phone_of(db_path, "R00002")) == ("13800008000", "13900001111")
