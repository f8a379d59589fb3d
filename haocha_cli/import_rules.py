"""What a rating row must be (评价导入的规则): the stored column order, the reason codes of rejected rows, the
limits of a row and of a time, the time formats read (``parse_time``), and a rejected row's reference.

Shared by the import's parts (haocha_cli.importer runs a batch; import_lookups, import_rows and import_writer
are its catalogue look-ups, its row reader and its writer); nothing here touches the database.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from haocha_cli.config import LEVELS
from haocha_cli.privacy import mask_phone, normalize_phone
from haocha_cli.profiles import FIELDS

# Column order of an inserted rating; source (parameter ?1) and batch_id (a literal) precede them.
RATING_COLUMNS = ("id", "rating_id", "line", "rated_at", "day", "window_code", "county_code", "mode", "channel",
                  "item_code", "level", "rating_index", "weights_version", "scores", "problems", "case_no",
                  "rating_round", "comment", "contact_id", "anonymous", "staff_code", "qr_token", "token_ok")
# Optional columns travel as '' / 0 / -1 and become NULL in SQL: binding None is several times slower
# than binding a string in Python's sqlite3 (it goes through the adapter protocol).
_VALUE_SQL = {"scores": "NULLIF(?, '')", "problems": "NULLIF(?, '')", "case_no": "NULLIF(?, '')",
              "comment": "NULLIF(?, '')", "contact_id": "NULLIF(?, 0)", "staff_code": "NULLIF(?, '')",
              "qr_token": "NULLIF(?, '')", "token_ok": "NULLIF(?, -1)"}
CACHE_LIMIT = 200_000  # phones remembered per import; beyond, the caches start again (memory stays flat)
FIRST_REJECTS = 10
# The phases of a file's import, in order, as ``progress(phase, done, total)`` reports them: "read" in bytes
# of the file (the rows are validated and written as they are read); "cases", the bad reviews handed to
# the closed loop of those in the batch (most are handed while reading: the rest after the last byte);
# "flags", the batch's days scanned for suspicious ratings (not in a dry run); "write", the batch's
# commit, which cannot count (total None). A phase with nothing to do is not reported.
PHASES = ("read", "cases", "flags", "write")
Progress = Callable[[str, int, "int | None"], None]
# Without a declared scale, a file is coded (and stops) when its first CODED_LEVELS levels that are a name or a
# code 1–5 are all codes (or all of them are, in a shorter file); one name among them makes it a file of names,
# where a code rejects its row. Empty and unreadable levels (0, N/A) do not count.
CODED_LEVELS = 100
RAW_LIMIT = 1 << 20  # characters of a rejected line kept when it cannot be split into cells
T = (0.0, 0.0, 25.0, 50.0, 75.0, 100.0)  # t(s) = (s - 1) / 4 * 100, indexed by s
_CASE_NO, _ROUND = RATING_COLUMNS.index("case_no"), RATING_COLUMNS.index("rating_round")
_ROUND_NAMES = {1: "a first rating", 2: "a follow-up rating (追评)"}
# The rejects round trip (docs/import.md): the columns a rejects file adds to the batch's own.
REASON_COLUMN, REF_COLUMN = "reject_reason", "reject_ref"
_REF = re.compile(r"^B(\d{1,18})-L(\d{1,18})-([0-9a-f]{16})$", re.IGNORECASE)

# Reason codes of rejected rows, with what they mean (docs/import.md lists the same).
REASONS = {
    "row_malformed": "the line cannot be split into cells (a quote is not closed or not doubled)",
    "cells_count": "the row has more or fewer cells than the header (truncated or misaligned)",
    "json_invalid": "the line or element is not a JSON object",
    "column_conflict": "two keys of a JSON object give the same field",
    "id_missing": "no rating id (评价编号)",
    "excel_number": "an id, case number or phone that a spreadsheet turned into a number like 3.70E+21",
    "duplicate_in_file": "the rating id appears earlier in the same file",
    "case_rated_twice": "the service case (办件编号) already has a rating of this round from the source, stored or"
                        " earlier in the file: one first rating and one 追评 per 办件 (一事一评)",
    "time_missing": "no rating time (评价时间)",
    "time_invalid": "the time is not a date and time haocha reads, has no time of day, is before 2000-01-01,"
                    " has an offset beyond ±14:00 or falls outside the years 1–9999",
    "time_excel_serial": "a spreadsheet date serial number (45418.39) in a CSV file",
    "time_future": "the time is later than now",
    "channel_missing": "no channel (评价渠道)",
    "channel_unknown": "the channel is neither a national channel nor a label of the profile",
    "channel_mode": "the channel is online-only or offline-only and the window is of the other kind",
    "window_missing": "no window (窗口编码), and none can be derived",
    "window_unknown": "the window code is not in the catalogue (a window of another city?)",
    "window_inactive": "the window was deactivated before the rating's time",
    "item_unknown": "the service item (事项) is neither a code nor a name of the catalogue",
    "item_mismatch": "the item name (事项名称) is not the catalogue's name of the item code (事项编码)",
    "window_mismatch": "the window name (窗口名称) is not the catalogue's name of the window code (窗口编码)",
    "county_mismatch": "the county (区县局, 行政区划代码) or city (所属市) given is not the window's",
    "level_missing": "no level (评价等级)",
    "level_invalid": "the level is not a level name, nor a code of the declared scale",
    "score_invalid": "an indicator score is not a whole number 1–5",
    "score_scope": "an indicator score for an indicator outside the window's mode (online/offline)",
    "problem_unknown": "a problem tag (差评问题) that is not an indicator code or name",
    "indicator_version": "a score or problem tag for an indicator of another indicator-system version than the"
                         " one in force on the rating's day",
    "phone_invalid": "the phone number is not a plausible mobile or landline number",
    "anonymous_invalid": "是否匿名 is not yes/no",
    "round_invalid": "评价次数 is not 1 (first rating) or 2 (追评)",
}

# The window of rating times: from 2000-01-01 (no 好差评 system rated earlier: a year 0001 or 1899 is a broken cell)
# to now (time_future); an offset is a real time zone's, at most 14 hours from UTC.
EARLIEST = datetime(2000, 1, 1)
EARLIEST_TEXT = EARLIEST.isoformat(sep=" ")
MAX_UTC_OFFSET = timedelta(hours=14)

_SCI = re.compile(r"^[+-]?\d+(?:\.\d+)?[eE][+-]?\d+$")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_DATE_TIME = re.compile(
    r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]+(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$")
_CHINESE = re.compile(
    r"^(\d{4})年(\d{1,2})月(\d{1,2})日\s*(?:(\d{1,2})[:时](\d{1,2})(?:[:分](\d{1,2})秒?)?分?)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?$")
_PHONE_MASK = re.compile(r"^(?:\d{3,4}\*{4}\d{2,4}|\*{4})$")  # what _mask_any leaves of a phone cell
_SPLIT_TAGS = re.compile(r"[,，、;；|/\s]+")
_ANONYMOUS = {"": None, "1": 1, "是": 1, "y": 1, "yes": 1, "true": 1, "匿名": 1, "0": 0, "否": 0, "n": 0,
              "no": 0, "false": 0, "实名": 0}
_ROUNDS = {"": 1, "1": 1, "2": 2, "1.0": 1, "2.0": 2, "首次": 1, "首评": 1, "初评": 1, "追评": 2}
_LEVEL_NAMES = {**{name: i + 1 for i, name in enumerate(LEVELS)},
                "very dissatisfied": 1, "dissatisfied": 2, "basically satisfied": 3, "satisfied": 4,
                "very satisfied": 5, "very_dissatisfied": 1, "basically_satisfied": 3, "very_satisfied": 5}
_LINE_WORD = {"csv": "line", "jsonl": "line", "json": "element", "xlsx": "row", "form": "record"}
_UNSEEN = object()  # a name cell not resolved yet (None in the memos means a blank cell)
# 李沧区局, 李沧区烟草专卖局, 李沧分局: a county's bureau stands for the county (longest first)
_AGENCY_SUFFIXES = ("烟草专卖分局", "烟草专卖局", "烟草分局", "烟草局", "分局", "局")


class _Reject(Exception):  # noqa: N818 - a control-flow signal, not an error
    __slots__ = ("code", "reason")

    def __init__(self, code: str, reason: str):
        self.code = code
        self.reason = reason


class _LevelCode(Exception):  # noqa: N818 - a control-flow signal, not an error
    """A level code 1–5, no scale declared, and the file not yet known to be of names: the row is held."""

    __slots__ = ("value",)

    def __init__(self, value: str):
        self.value = value


class _Tally:
    """Rejected rows counted by one side (the reader's validation, the writer's duplicate check)."""

    def __init__(self) -> None:
        self.rejected = 0
        self.reasons: dict[str, int] = {}
        self.first: list[dict[str, Any]] = []

    def count(self, line: int, code: str, reason: str) -> None:
        self.rejected += 1
        self.reasons[code] = self.reasons.get(code, 0) + 1
        if len(self.first) < FIRST_REJECTS:
            self.first.append({"line": line, "code": code, "reason": reason})


def _field_label(name: str) -> str:
    return f"{FIELDS[name]} ({name})" if name in FIELDS else name


def _remember(memo: dict[str, Any], text: str, value: Any) -> Any:
    if len(memo) > CACHE_LIMIT:
        memo.clear()
    memo[text] = value
    return value


def _stray_code_reason(value: str) -> str:
    return (f"level {value!r} is a numeric code in a file of level names, and no level scale is declared: write "
            "the level's name, or import with --level-scale national (GB/T 39046: 1 = 非常满意) or --level-scale "
            "platform (5 = 非常满意)")


def _excel_number(what: str, value: str) -> _Reject:
    return _Reject("excel_number", f"{what} {value} was turned into a number by a spreadsheet and has lost digits; "
                                   "format the column as text and export again")


def _mask_any(text: str) -> str:
    value = text.strip()
    phone = normalize_phone(value)
    if phone:
        return mask_phone(phone)
    if len(value) <= 4:
        return "****"
    return value[:3] + "****" + value[-2:]


def parse_time(text: str, excel_epoch: datetime | None = None) -> str:
    """A rating time as 'YYYY-MM-DD HH:MM:SS' local time (Asia/Shanghai); raises _Reject.

    Accepted: 2024-05-06 09:30:00, 2024/5/6 9:30, 2024.05.06 09:30:00, 2024-05-06T09:30:00+08:00 (an
    offset or Z is converted to local time), 20240506093000, 202405060930, 2024年5月6日 9:30 or
    9时30分, and in .xlsx cells an Excel serial number (45418.395833)."""
    value = text.strip()
    if not value:
        raise _Reject("time_missing", "the rating time (评价时间) is empty")
    parts = None
    tz = None
    m = _DATE_TIME.match(value)
    if m:
        parts = m.groups()[:6]
        tz = m.group(8)
    else:
        m = _COMPACT.match(value) or _CHINESE.match(value)
        if m:
            parts = m.groups()[:6]
        elif _NUMBER.match(value) and 1 <= float(value) < 2958466:
            if excel_epoch is None:
                raise _Reject("time_excel_serial", f"the time {value} is a spreadsheet date serial number; format "
                                                   "the column as a date and time before saving the CSV")
            return _from_serial(float(value), excel_epoch)
    if parts is None:
        raise _Reject("time_invalid", f"{value!r} is not a date and time (e.g. 2024-05-06 09:30:00)")
    year, month, day, hour, minute, second = parts
    if hour is None:
        raise _Reject("time_invalid", f"{value!r} has no time of day")
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
    except ValueError:
        raise _Reject("time_invalid", f"{value!r} is not a valid date and time") from None
    if tz:
        offset = timedelta(0)
        if tz != "Z":
            hours, minutes = int(tz[1:3]), int(tz[-2:])
            offset = timedelta(hours=hours, minutes=minutes) * (-1 if tz[0] == "-" else 1)
            if minutes > 59 or abs(offset) > MAX_UTC_OFFSET:
                raise _Reject("time_invalid", f"{value!r} has the offset {tz}, which is no time zone's"
                                              " (offsets run from -14:00 to +14:00)")
        try:  # to the bureau's time, Asia/Shanghai (UTC+8)
            moment = moment - offset + timedelta(hours=8)
        except OverflowError:
            raise _Reject("time_invalid", f"{value!r} falls outside the years 1 to 9999 in Asia/Shanghai time") from None
    return _in_window(moment, value).strftime("%Y-%m-%d %H:%M:%S")


def _in_window(moment: datetime, value: str) -> datetime:
    """``moment``, unless it is before EARLIEST (a later one than now is time_future, checked by the caller)."""
    if moment < EARLIEST:
        raise _Reject("time_invalid", f"{value!r} is before {EARLIEST:%Y-%m-%d}, earlier than any rating (a broken"
                                      " date cell?)")
    return moment


def _from_serial(serial: float, epoch: datetime) -> str:
    from openpyxl.utils.datetime import from_excel

    if serial.is_integer():
        raise _Reject("time_invalid", f"the cell holds the date {from_excel(serial, epoch):%Y-%m-%d} but no time of day")
    moment = from_excel(serial, epoch)
    if moment.microsecond >= 500_000:
        moment += timedelta(seconds=1)
    return _in_window(moment.replace(microsecond=0), str(serial)).strftime("%Y-%m-%d %H:%M:%S")


def _ref_key(data_key: bytes) -> bytes:
    return hmac.new(data_key, b"haocha reject ref v1", hashlib.sha256).digest()


def reject_ref(key: bytes, batch_id: int, line: int, raw: str) -> str:
    """A rejected row's reference in its rejects file, ``B<batch>-L<line>-<check>``: the check is an HMAC under
    the database's data key of the batch, the line and the row as stored, so that a reference typed, changed
    or taken from another database's rejects file names no row here."""
    check = hmac.new(key, f"{batch_id}:{line}\n{raw}".encode(), hashlib.sha256).hexdigest()[:16]
    return f"B{batch_id}-L{line}-{check}"
