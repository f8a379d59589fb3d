"""A database full of phone numbers and hostile text, built through the CLI as a bureau would: a catalogue whose
names hold markup, template syntax, SQL quotes and spreadsheet formulas; real-name ratings whose comments
carry the same and phone numbers; rejected rows holding phones; flags, cases at several stages, a spot-check
sample and a risk assessment. tests/test_privacy.py and tests/test_injection.py render everything from it.
"""

from __future__ import annotations

import csv
import json
import re
import tomllib
from pathlib import Path

from import_support import HEADER, row
from typer.testing import CliRunner

from haocha_cli.cli import app
from haocha_cli.resources import resource_path

NOW = "2024-05-31 18:00:00"
COUNTY = "370213"  # 李沧区: LC01, LC02 and the hostile window XSS1

SCRIPT = "<script>alert('x')</script>"
IMG = '"><img src=x onerror=alert(1)>'
TEMPLATE = "{{ 7*7 }}"
SQL = "'; DROP TABLE ratings; --"
FORMULA = "=cmd|' /C calc'!A0"
HOSTILE = [SCRIPT, IMG, TEMPLATE, SQL, FORMULA, "@SUM(1+1)*cmd|' /C calc'!A0", "+1+cmd", "-1-cmd"]

# Every phone number the database holds: raters' (as given), numbers written in comments, staff phones.
RATER_PHONES = {"R001": "13812340001", "R002": "138 1234 0002", "R003": "0532-88880003", "R004": "13812340004",
                "R005": "13900000001", "R006": "13812340006", "R007": "13812340006", "R008": "13812340006",
                "R009": "13812340009", "R011": "13812340011", "R012": "电话13812340013x"}
COMMENT_NUMBERS = ["13698760001", "0532-66660004", "+86 137 1111 0005", "13812340012", "13812340014",
                   "13812340015"]
HOSTILE_STAFF_PHONE = "13700000099"


def staff_phones() -> list[str]:
    org = tomllib.loads((resource_path("examples") / "qingdao.toml").read_text(encoding="utf-8"))
    return [s["phone"] for s in org["staff"] if s.get("phone")] + [HOSTILE_STAFF_PHONE]


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def full_numbers() -> set[str]:
    """The numbers as a leak would show them: a mobile's 11 digits; a landline's local number."""
    found = set()
    for text in [*RATER_PHONES.values(), *COMMENT_NUMBERS, *staff_phones()]:
        d = digits(text)
        if d.startswith("86"):
            d = d[2:]
        found.add(d[-8:] if d.startswith("0") else d)
    return found


HOSTILE_ORG = f"""
[city]
code = "370200"
name = "青岛市"
bureau_name = "青岛市烟草专卖局{SCRIPT}"

[[counties]]
code = "370299"
name = "{SCRIPT}县"

[[items]]
code = "XK99"
name = "{FORMULA}"
legal_days = 20
promised_days = 5

[[windows]]
code = "XSS1"
name = '{IMG}'
county = "{COUNTY}"
kind = "offline"
opening_hours = "09:00-12:00,13:30-17:00"

[[staff]]
code = "XS-S01"
name = "{TEMPLATE}"
county = "{COUNTY}"
phone = "{HOSTILE_STAFF_PHONE}"
"""


def _ratings() -> list[list[str]]:
    def r(i: int, window: str, level: str, minute: int, comment: str, **more: str) -> list[str]:
        rid = f"R{i:03d}"
        phone = RATER_PHONES.get(rid, "")
        return row(rating_id=rid, rated_at=f"2024-05-06 10:{minute:02d}:00", window_code=window, channel="二维码",
                   item_code=more.pop("item", "XK01"), level=level, comment=comment, rater_phone=phone,
                   anonymous="否" if phone else "是", **more)

    repeated = "请回电13698760001 谢谢你们的服务"
    return [
        r(1, "LC01", "不满意", 0, f"请回电13698760001 {SCRIPT}", problems="C1"),
        r(2, "LC01", "非常不满意", 1, IMG),
        r(3, "XSS1", "不满意", 2, f"{TEMPLATE} 座机0532-66660004"),
        r(4, "LC02", "满意", 3, FORMULA),
        r(5, "SN01", "非常满意", 4, "+86 137 1111 0005 谢谢"),  # a staff member's phone rates
        r(6, "LC01", "满意", 5, repeated),  # one phone three times, one comment three times
        r(7, "LC01", "满意", 20, repeated),
        r(8, "LC01", "满意", 40, repeated),
        r(9, "LC01", "不满意", 6, SQL, item="XK99"),
        r(10, "LC02", "非常满意", 7, "@SUM(1+1)*cmd|' /C calc'!A0"),
        r(11, "QD99", "满意", 8, "call 13812340012"),  # a window of another city: rejected
        r(12, "LC01", "满意", 9, "-1-cmd"),  # an implausible phone: rejected
    ]


def write_ratings(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(HEADER)
        writer.writerows(_ratings())
        # A misaligned row (a phone in the wrong cell), then a last line cut off inside a quoted cell.
        writer.writerow(["R013", "2024-05-06 10:10:00", "LC01", "二维码", "XK01", "满意", "", "", "x", "13812340014",
                         *[""] * (len(HEADER) - 10), "extra", "13812340014"])
        fh.write('R014,2024-05-06 10:11:00,LC01,二维码,XK01,满意,,,"cut off 13812340015')
    return path


class Bureau:
    """The CLI against one database, at NOW."""

    def __init__(self, db: Path):
        self.db = db
        self.runner = CliRunner()
        self.log: list[tuple[tuple[str, ...], str]] = []  # (arguments, what the command printed)

    def run(self, *args: str, operator: str = "city", ok: bool = True):
        result = self.runner.invoke(app, ["--db", str(self.db), "--operator", operator, *args],
                                    env={"HAOCHA_NOW": NOW})
        self.log.append((args, result.stdout + result.stderr))
        if ok:
            assert result.exit_code == 0, (args, result.stderr or result.output, result.exception)
        return result

    def json(self, *args: str, operator: str = "city"):
        return json.loads(self.run(*args, "--format", "json", operator=operator).stdout)


def build(db: Path, folder: Path) -> Bureau:
    """The database described above, at ``db`` (initialised), with its files in ``folder``."""
    b = Bureau(db)
    (folder / "hostile.toml").write_text(HOSTILE_ORG, encoding="utf-8")
    b.run("org", "import", str(folder / "hostile.toml"))
    [summary] = b.json("import", str(write_ratings(folder / "ratings.csv")))
    assert (summary["accepted"], summary["rejected"]) == (10, 4), summary
    b.run("flags", "scan", "--period", "2024-05")
    county = f"county:{COUNTY}"
    cases = {c["id"]: c for c in b.json("cases", "list", "--status", "all")}
    by_window = sorted(cases)
    assert len(by_window) == 4
    first, second, third, fourth = by_window
    b.run("cases", "classify", str(first), "rectifiable", operator=county)
    b.run("cases", "revisit", str(first), "--outcome", "reached", "--note", f"回访 {TEMPLATE}", operator=county)
    b.run("cases", "close", str(first), "--measures", f"培训 {SCRIPT} {FORMULA}", "--responsible", IMG,
          operator=county)
    b.run("cases", "classify", str(second), "no-action", "--reason", f"误评 {SQL}", operator=county)
    b.run("cases", "classify", str(third), "rectifiable", operator=county)
    b.run("risk", "assess", "--period", "2024-05")
    b.run("spotcheck", "sample", "--period", "2024-05", "--seed", "7")
    b.cases = by_window
    b.build_outputs = list(b.log)  # what building printed: the import summary, the sample, the sheet report …
    return b
