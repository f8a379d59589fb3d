"""Privacy (DOMAIN §7): from a database full of phone numbers — raters' (mobile, landline, spaced, implausible),
numbers written into comments, rejected rows holding phones, every staff member's phone — no listing, report,
export or page shows a number in full. Only `cases contact` (the owning county) and `spotcheck contact` (the
city) show a rater's phone, and each reading is an audit event.
"""

from __future__ import annotations

import json
import re
import sqlite3
import warnings
import zipfile
from pathlib import Path

import pytest
from reliability_support import COUNTY, NOW, build, full_numbers

from haocha_cli import qr_tokens
from haocha_cli.bootstrap import init_database
from haocha_cli.privacy import load_keys
from haocha_cli.web import app as web

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

NUMBERS = full_numbers()


@pytest.fixture(scope="module")
def bureau(tmp_path_factory):
    folder = tmp_path_factory.mktemp("privacy")
    init_database(folder / "haocha.db")
    return build(folder / "haocha.db", folder)


def leaks(text: str) -> list[str]:
    """The full numbers in a text, also when written with spaces or dashes between the digits."""
    flat = re.sub(r"(?<=\d)[\s\-](?=\d)", "", text)
    return sorted(n for n in NUMBERS if n in flat)


def file_text(path: Path) -> str:
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as z:
            return "".join(z.read(name).decode("utf-8") for name in z.namelist() if name.endswith(".xml"))
    return path.read_text(encoding="utf-8-sig")


def test_the_database_really_holds_the_numbers(bureau):
    # The test would pass vacuously on a database without them: the protected copies are there.
    conn = sqlite3.connect(bureau.db)
    assert conn.execute("SELECT count(*) FROM contacts").fetchone()[0] == 7
    assert conn.execute("SELECT count(*) FROM staff WHERE phone_enc IS NOT NULL").fetchone()[0] == 21
    comments = " ".join(c for (c,) in conn.execute("SELECT comment FROM ratings WHERE comment IS NOT NULL"))
    assert {"13698760001", "66660004", "13711110005"} <= set(leaks(comments))
    assert conn.execute("SELECT count(*) FROM rejects WHERE phone_enc IS NOT NULL").fetchone()[0] == 4


def test_no_listing_report_or_export_shows_a_full_phone_number(bureau, tmp_path):
    outputs: dict[str, str] = {}
    county = f"county:{COUNTY}"

    def out(label: str, *args: str, operator: str = "city") -> None:
        result = bureau.run(*args, operator=operator)
        outputs[label] = result.stdout + result.stderr

    for fmt in ("json", "csv", "table"):
        out(f"org show staff {fmt}", "org", "show", "--part", "staff", "--format", fmt)
        out(f"cases list {fmt}", "cases", "list", "--status", "all", "--format", fmt)
        out(f"cases list county {fmt}", "cases", "list", "--status", "all", "--format", fmt, operator=county)
        out(f"batches rejects {fmt}", "batches", "rejects", "1", "--format", fmt)
        out(f"batches show {fmt}", "batches", "show", "1", "--format", fmt)
        out(f"flags list {fmt}", "flags", "list", "--format", fmt)
        out(f"spotcheck list {fmt}", "spotcheck", "list", "--format", fmt)
        out(f"audit log {fmt}", "audit", "log", "--format", fmt)
        out(f"index {fmt}", "index", "--by", "window", "--period", "2024-05", "--format", fmt)
        out(f"cases stats {fmt}", "cases", "stats", "--format", fmt)
        for case in bureau.cases:
            out(f"cases show {case} {fmt}", "cases", "show", str(case), "--format", fmt)
    out("org show all", "org", "show", "--format", "json")
    out("batches list", "batches", "list", "--format", "json")
    out("spotcheck samples", "spotcheck", "samples", "--format", "json")
    out("spotcheck stats", "spotcheck", "stats", "--format", "json")
    out("risk list", "risk", "list", "--format", "json")
    for kind in ("ratings", "cases"):
        for profile in ("canonical", "national"):
            for fmt in ("csv", "json"):
                out(f"export {kind} {profile} {fmt} stdout", "export", kind, "--profile", profile, "--format", fmt)
            for ext in ("csv", "json", "xlsx"):
                path = tmp_path / f"{kind}-{profile}.{ext}"
                out(f"export {kind} {profile} {ext} says", "export", kind, "--profile", profile, "--out", str(path))
                outputs[f"export {kind} {profile} {ext}"] = file_text(path)
    for ext in ("csv", "xlsx"):
        path = tmp_path / f"sheet.{ext}"
        out(f"cases export {ext} says", "cases", "export", "--format", ext, "-o", str(path), operator=county)
        outputs[f"cases export {ext}"] = file_text(path)
    for ext in ("csv", "jsonl"):
        path = tmp_path / f"rejects.{ext}"
        out(f"batches rejects --out {ext} says", "batches", "rejects", "1", "--out", str(path))
        outputs[f"batches rejects --out {ext}"] = file_text(path)
    reports = tmp_path / "reports"
    for lang in ("zh", "en"):
        out(f"report daily {lang}", "report", "daily", "--date", "2024-05-06", "--out", str(reports), "--lang", lang)
        out(f"report monthly {lang}", "report", "monthly", "--month", "2024-05", "--out", str(reports), "--lang", lang)
        out(f"report county {lang}", "report", "county", "--county", COUNTY, "--period", "2024-05", "--out",
            str(reports), "--lang", lang)
        for path in sorted(reports.iterdir()):
            outputs[f"{path.name} {lang}"] = file_text(path)
    assert len(list(reports.iterdir())) == 6
    public = tmp_path / "public"
    out("report public", "report", "public", "--month", "2024-05", "--by", "window", "--out", str(public))
    for path in sorted(public.iterdir()):
        outputs[path.name] = file_text(path)
    assert len(list(public.iterdir())) == 3
    for args, text in bureau.build_outputs:  # the import's summary (its first rejects), the scan, the sample …
        outputs[" ".join(args)] = text
    found = {label: leaks(text) for label, text in outputs.items() if leaks(text)}
    assert found == {}
    # The rows that carry the numbers are in these outputs (masked), so the search is not vacuous.
    assert "138****0001" in outputs["cases list json"] and "139****0001" in outputs["flags list csv"]
    assert "请回电136****0001" in outputs["daily-2024-05-06.html zh"]
    assert "0532****0003" in outputs["export ratings canonical csv"]
    assert "cut off 138****0015" in outputs["batches rejects json"]


def test_the_rating_page_never_shows_the_raters_phone(bureau, monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", NOW.replace(" ", "T"))
    app = web.create_app(bureau.db, clock=lambda: 1_717_120_800)
    client = TestClient(app, client=("203.0.113.9", 50000))
    form_page = client.get("/r", params={"w": "LC01", "t": qr_tokens.make_token(load_keys(bureau.db).qr_secret, "LC01")})
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form_page.text))
    done = client.post("/r", data={**form, "item": "XK01", "website": "", "level": "不满意", "phone": "13812340077",
                                   "comment": "请回电 13812340078"})
    assert done.status_code == 200, done.text
    reference = re.search(r'class="reference">([A-Z2-7-]+)<', done.text).group(1)
    followup = client.get("/r/followup", params={"ref": reference})
    assert followup.status_code == 200 and "138****0077" in followup.text
    for page in (form_page, done, followup):
        flat = re.sub(r"(?<=\d)[\s\-](?=\d)", "", page.text)
        assert "13812340077" not in flat and "13812340078" not in flat


def test_only_the_owning_county_reads_a_raters_phone_and_each_reading_is_audited(bureau):
    case = bureau.cases[0]
    before = bureau.json("audit", "log")[-1]["id"]
    shown = bureau.run("cases", "contact", str(case), operator=f"county:{COUNTY}")
    assert shown.stdout == "13812340001\n"
    [event] = [e for e in bureau.json("audit", "log") if e["id"] > before]
    assert (event["action"], event["operator"], event["entity_id"]) == ("case.contact", f"county:{COUNTY}", str(case))
    assert json.loads(event["after"]) == {"revealed": "phone", "phone_masked": "138****0001"}
    for operator, message in (("city", "Error: reading the rater's phone of case 1 is the county bureau's (县级局) task"),
                              ("county:370202", "Error: case 1 does not exist")):
        refused = bureau.run("cases", "contact", str(case), operator=operator, ok=False)
        assert refused.exit_code == 1 and refused.stderr.startswith(message) and not leaks(refused.stdout)
    assert bureau.json("audit", "log")[-1]["id"] == before + 1  # a refused reading leaves no trace and shows nothing


def test_the_city_reads_a_phone_for_a_spot_check_and_it_is_audited(bureau):
    checks = bureau.json("spotcheck", "list")
    check = next(c for c in checks if c["source_id"] == "R001")
    before = bureau.json("audit", "log")[-1]["id"]
    assert bureau.run("spotcheck", "contact", str(check["id"])).stdout.strip() == "13812340001"
    [event] = [e for e in bureau.json("audit", "log") if e["id"] > before]
    assert (event["action"], event["operator"]) == ("spotcheck.contact", "city")
    refused = bureau.run("spotcheck", "contact", str(check["id"]), operator=f"county:{COUNTY}", ok=False)
    assert refused.exit_code == 1 and not leaks(refused.stdout + refused.stderr)


def test_revealing_rejected_phones_is_the_citys_and_gives_back_the_rows_as_they_were(bureau, tmp_path):
    refused = bureau.run("batches", "rejects", "1", "--reveal-phones", operator=f"county:{COUNTY}", ok=False)
    # a county may not read a batch's rejects at all, let alone with the phones
    assert refused.stderr.startswith("Error: reading the rejected rows of a batch is the city bureau's (市局) task")
    rows = {r["line"]: r for r in bureau.json("batches", "rejects", "1", "--reveal-phones")["rows"]}
    phone_column = 9
    assert rows[12]["cells"][phone_column] == "13812340011"
    assert rows[13]["cells"][phone_column] == "电话13812340013x"  # implausible, yet given back as typed
    assert rows[15]["text"].startswith('R014,2024-05-06 10:11:00,LC01,二维码,XK01,满意,,,"cut off 13812340015')
    assert bureau.json("audit", "log")[-1]["action"] == "batches.reveal_phones"


def test_every_export_says_in_the_file_which_fields_are_masked(bureau, tmp_path):
    for profile, phone_column in (("canonical", "rater_phone_masked"), ("national", "mobile_masked")):
        data = json.loads(bureau.run("export", "ratings", "--profile", profile, "--format", "json").stdout)
        assert data["masked_fields"] == [
            "comment" if profile == "canonical" else "writingEvaluation", phone_column]
        assert data["masking"].startswith("phones masked as 138****1234")
        header = bureau.run("export", "ratings", "--profile", profile, "--format", "csv").stdout.splitlines()[0]
        assert phone_column in header.split(",")
        path = tmp_path / f"{profile}.xlsx"
        bureau.run("export", "cases", "--profile", profile, "--out", str(path))
        from openpyxl import load_workbook

        notes = {r[0]: r[1] for r in load_workbook(path, read_only=True)["说明"].iter_rows(values_only=True) if r}
        assert phone_column in notes["masked_fields 已脱敏字段"].split(", ")
        assert "measures" in notes["masked_fields 已脱敏字段"]
