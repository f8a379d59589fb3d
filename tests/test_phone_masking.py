"""Phones written into free text are masked in every output (issue 17): each shape a rater or a clerk
writes a number in — full-width digits from a phone keyboard, dots, underscores, brackets, spaces, dashes, a
zero-width character inside, 86 / +86 / 0086 in front, landlines with their area code — is masked as the
phone column is (138****1234, 0532****6666), the rest of the text untouched; other numbers stay. The
database keeps what was written."""

from __future__ import annotations

import json
import sqlite3
import zipfile

import pytest
from import_support import good, write_csv
from support import ok

from haocha_cli.privacy import mask_numbers, mask_phone, normalize_phone

# The shapes of the issue, and their neighbours. Each is masked alone and inside a sentence.
SHAPES = [
    ("13912345601", "139****5601"),
    ("１３９１２３４５６０５", "139****5605"),  # full-width digits
    ("139.1234.5604", "139****5604"),
    ("139_1234_5612", "139****5612"),
    ("(139)12345613", "139****5613"),
    ("（139）1234 5613", "139****5613"),
    ("139 1234 5604", "139****5604"),
    ("139-1234-5604", "139****5604"),
    ("139 - 1234 - 5604", "139****5604"),
    ("139\u200b1234\u200b5606", "139****5606"),  # zero-width space
    ("1391234\u200c5607", "139****5607"),  # zero-width non-joiner
    ("139\u200d12345607", "139****5607"),  # zero-width joiner
    ("139\u20601234 5607", "139****5607"),  # word joiner
    ("139\ufeff12345607", "139****5607"),  # zero-width no-break space
    ("8613912345609", "139****5609"),
    ("+86 139 1234 5609", "139****5609"),
    ("+8613912345609", "139****5609"),
    ("(+86)13912345609", "139****5609"),
    ("0086 139 1234 5609", "139****5609"),
    ("０086-13912345609", "139****5609"),
    ("013912345609", "139****5609"),  # a mobile dialled from another area
    ("19912345609", "199****5609"),
    ("0532-8888 6607", "0532****6607"),
    ("0532 88886607", "0532****6607"),
    ("(0532)88886607", "0532****6607"),
    ("053288886607", "0532****6607"),
    ("０５３２－８８８８６６０７", "0532****6607"),
    ("+86 532 8888 6607", "0532****6607"),
    ("010-88886666", "010****6666"),
    ("021 6666 8888", "021****8888"),
]


@pytest.mark.parametrize(("written", "masked"), SHAPES, ids=[s for s, _ in SHAPES])
def test_every_shape_of_phone_in_free_text_is_masked(written, masked):
    assert mask_numbers(written) == masked
    assert mask_numbers(f"请回电{written}，谢谢") == f"请回电{masked}，谢谢"
    assert mask_numbers(f"电话 {written}。") == f"电话 {masked}。"


def test_the_mask_is_the_phone_columns_mask():
    for written, masked in SHAPES:
        if written == "013912345609":
            continue  # a phone field keeps 0139… as written (its hash matches the rater's earlier ratings)
        digits = normalize_phone(written)
        assert digits is not None, written
        assert mask_phone(digits) == masked, written


@pytest.mark.parametrize("text", [
    "370213",  # 行政区划代码
    "2026-08-31 10:05:00",
    "12345",
    "2026-08-31",
    "10:05-11:30",
    "办件编号 BJ20240506001",
    "2024060100123",
    "金额 1,391.23 元",
    "192.168.1.1",
    "88886666",  # a landline without its area code: not told apart from other numbers
    "12366",
    "139****5678",  # masked already
    "13912345678901",  # 14 digits: no phone
    "身份证 370213199001011230",  # 18 digits whose check digit is wrong: no identity number
    "86 号窗口",
])
def test_numbers_that_are_no_phones_stay(text):
    assert mask_numbers(text) == text


def test_two_numbers_and_what_lies_between_them():
    text = "2026-08-31 10:05 来电 139 1234 5678/0532-88886666，86 139 1234 5609 转"
    assert mask_numbers(text) == "2026-08-31 10:05 来电 139****5678/0532****6666，86 139****5609 转"


def test_a_resident_id_number_is_masked_but_its_region_and_last_four():
    # 370213 19900101 123 6: the check digit (GB 11643) is right.
    assert mask_numbers("身份证370213199001011236，电话13812345678") == "身份证370213********1236，电话138****5678"
    assert mask_numbers("３７０２１３１９８５１２３１１０５Ｘ号") == "370213********105X号"  # full-width, check X


def test_a_phone_field_takes_the_same_shapes():
    assert {normalize_phone(p) for p in ("１３８１２３４５６７８", "138.1234.5678", "+86 138 1234 5678",
                                          "8613812345678", "138\u200b1234 5678")} == {"13812345678"}
    assert normalize_phone("0532-8888 6666") == "053288886666"
    assert normalize_phone("12345") is None and normalize_phone("１２３") is None


# --- every output ---------------------------------------------------------------------------------------

FULL = "１３９１２３４５６０５"  # as a phone keyboard types it
COMMENT = f"态度差，请回电{FULL}或0532-8888 6607"
MASKED = "态度差，请回电139****5605或0532****6607"
NOTE = "已回访，对方换了号码139.1234.5604"
NOW = "2024-05-06 12:00:00"


def leaks(text: str) -> list[str]:
    """The full numbers (in any of the shapes) that a text still shows."""
    flat = "".join(ch for ch in text.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
                   if ch.isdigit() or ch == "*")
    return [n for n in ("13912345605", "053288886607", "13912345604") if n in flat]


@pytest.fixture
def bureau(db_path, cli, tmp_path, monkeypatch):
    """Case 1: a real-name bad review whose comment holds FULL and a landline, its return visit noted with
    NOTE; batch 1 also rejects a row whose comment holds FULL."""
    monkeypatch.setenv("HAOCHA_NOW", NOW)
    path = write_csv(tmp_path / "ratings.csv", [
        good(1, level="非常不满意", comment=COMMENT, rater_phone="13812345678", anonymous="否"),
        good(2, level="很好", comment=f"号码{FULL}"),
    ])
    ok(cli("import", str(path)))
    ok(cli("cases", "revisit", "1", "--outcome", "reached", "--note", NOTE, operator="county:370213"))
    return tmp_path


def test_the_database_keeps_the_numbers_as_written(bureau, db_path):
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT comment FROM ratings").fetchall() == [(COMMENT,)]
    assert conn.execute("SELECT revisit_note FROM cases").fetchall() == [(NOTE,)]


def test_the_ratings_export_masks_the_full_width_phone_in_every_format(bureau, cli, tmp_path):
    csv_text = ok(cli("export", "ratings")).stdout
    assert MASKED in csv_text and leaks(csv_text) == []
    data = json.loads(ok(cli("export", "ratings", "--format", "json")).stdout)
    assert [r["comment"] for r in data["rows"]] == [MASKED]
    out = tmp_path / "ratings.xlsx"
    ok(cli("export", "ratings", "--out", str(out)))
    with zipfile.ZipFile(out) as z:
        xml = "".join(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml"))
    assert MASKED in xml and leaks(xml) == []


def test_the_cases_export_masks_the_notes(bureau, cli):
    data = json.loads(ok(cli("export", "cases", "--format", "json")).stdout)
    assert [(r["comment"], r["revisit_note"]) for r in data["rows"]] == [(MASKED, "已回访，对方换了号码139****5604")]


def test_the_daily_report_masks_the_full_width_phone(bureau, cli, tmp_path):
    ok(cli("report", "daily", "--date", "2024-05-06", "--out", str(tmp_path / "reports"), "--quiet"))
    for ext in ("md", "html"):
        text = (tmp_path / "reports" / f"daily-2024-05-06.{ext}").read_text(encoding="utf-8")
        assert leaks(text) == [], ext
        assert ("139\\*\\*\\*\\*5605" if ext == "md" else "139****5605") in text


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_cases_show_masks_the_comment_the_notes_and_the_history(bureau, cli, fmt):
    result = ok(cli("cases", "show", "1", "--format", fmt))
    assert leaks(result.stdout) == [] and "139****5605" in result.stdout and "139****5604" in result.stdout
    if fmt == "json":
        data = json.loads(result.stdout)
        assert (data["rating"]["comment"], data["case"]["revisit_note"]) == (MASKED, "已回访，对方换了号码139****5604")
        [visit] = [e for e in data["history"] if e["action"] == "case.revisit"]
        assert json.loads(visit["after"])["revisit_note"] == "已回访，对方换了号码139****5604"


def test_listings_mask_the_phones_too(bureau, cli):
    for args in (("cases", "list", "--status", "all"), ("audit", "log"), ("batches", "rejects", "1")):
        for fmt in ("table", "csv", "json"):
            result = ok(cli(*args, "--format", fmt))
            assert leaks(result.stdout) == [], (args, fmt)
    out = bureau / "rejects.csv"
    ok(cli("batches", "rejects", "1", "--out", str(out)))
    text = out.read_text(encoding="utf-8-sig")
    assert "号码139****5605" in text and leaks(text) == []


def test_the_workbench_case_page_masks_the_notes(bureau, db_path):
    from workbench_support import NAMES, PASSWORDS, logged_in

    from haocha_cli import accounts
    from haocha_cli.context import open_context

    ctx = open_context(db_path, "admin")
    accounts.add(ctx, "lc", NAMES["lc"], "county:370213", PASSWORDS["lc"])
    ctx.db.close()
    page = logged_in(db_path, "lc").get("/staff/cases/1").text
    assert leaks(page) == [] and "139****5605" in page and "已回访，对方换了号码139****5604" in page


def test_a_spot_checks_note_is_masked(db_path, cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", NOW)
    ok(cli("import", str(write_csv(tmp_path / "r.csv", [good(1, level="非常满意"), good(2, level="非常满意")]))))
    ok(cli("spotcheck", "sample", "--period", "2024-05", "--seed", "1"))
    note = f"原号码空号，评价人留了新号码{FULL}"
    ok(cli("spotcheck", "record", "1", "--outcome", "unreachable", "--note", note))
    for fmt in ("table", "csv", "json"):
        listed = ok(cli("spotcheck", "list", "--format", fmt)).stdout
        flat = "".join(listed.replace("│", "").split())  # a table folds a long note over lines
        assert leaks(listed) == [] and "139****5605" in flat, fmt
    assert sqlite3.connect(db_path).execute("SELECT note FROM spot_checks").fetchall() == [(note,)]
