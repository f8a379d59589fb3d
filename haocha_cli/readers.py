"""Reading rating files: CSV (UTF-8, UTF-8 with BOM, GB18030/GBK, UTF-16 as Excel saves "Unicode text"),
JSON Lines, a JSON array, and Excel .xlsx. Every row comes with its physical line number (sheet row for
.xlsx) so that a rejected row can be found in the file as the clerk sees it.

Files are streamed: nothing but the current row is held, except a JSON array, which is parsed whole.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from haocha_cli.errors import InvalidInput, NotFound

FORMATS = ("csv", "jsonl", "json", "xlsx")
_EXTENSIONS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
               ".json": "json", ".xlsx": "xlsx", ".xlsm": "xlsx"}
SAMPLE_BYTES = 1 << 20
# Excel stores numbers as doubles: an integer above 2**53 has lost digits (3.70E+21 in the cell).
EXACT_FLOAT_LIMIT = 2**53
# Cells longer than this are not a rating field but a runaway quote swallowing the lines after it.
csv.field_size_limit(1 << 20)


# A data row is a plain tuple (it is made a million times): (line, cells, obj, raw, error).
# ``cells`` (tabular) are the row's cells; ``obj`` (JSON) is the object, or None with ``error`` set when the
# line is not a JSON object; ``raw`` is the text as read when it is not the cells themselves (JSON, or a CSV
# record the csv module could not split). ``line`` is the physical line (sheet row for .xlsx, element number
# for a JSON array, whose elements may share a line).
Row = tuple[int, "list[str] | None", "dict[str, Any] | None", "str | None", "str | None"]


@dataclass
class Table:
    path: Path
    format: str
    encoding: str | None
    header: list[str] | None  # tabular formats; None for JSON
    rows: Iterator[Row]
    size: int
    position: Callable[[], int]  # bytes read so far (approximate), for progress
    excel_epoch: datetime | None = None  # .xlsx only: serial numbers in cells are days from this
    header_line: int = 1
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for close in self.closers:
            close()


def open_table(path: str | Path, *, encoding: str | None = None, fmt: str | None = None) -> Table:
    """Open a rating file; the format comes from the content (then the extension), the text encoding is
    detected unless given. Raises InvalidInput for an empty file, an unreadable one, or a wrong encoding."""
    path = regular_file(path, folder_hint="give the path of a CSV, JSON Lines, JSON or .xlsx file")
    given = check_encoding(encoding) if encoding else None  # refused before the file is read, whatever its format
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(SAMPLE_BYTES)
    if not head.strip(b" \t\r\n\x00") or head.strip() in (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise InvalidInput(f"{path.name} is empty", "export the ratings again; the file has no header and no rows")
    fmt = fmt or detect_format(path, head)
    if fmt == "xlsx":
        return _open_xlsx(path, size)
    enc = given or detect_encoding(path, head)
    if fmt == "csv":
        return _open_csv(path, size, enc, head)
    if fmt == "jsonl":
        return _open_jsonl(path, size, enc)
    return _open_json(path, size, enc)


def detect_format(path: Path, head: bytes) -> str:
    ext = path.suffix.lower()
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise InvalidInput(f"{path.name} is an old Excel 97-2003 workbook (.xls)",
                           "open it in Excel or LibreOffice and save it as .xlsx or as CSV")
    if _EXTENSIONS.get(ext) == "xlsx":
        raise InvalidInput(f"{path.name} is named .xlsx but is not an Excel workbook",
                           "export the sheet again, or rename the file to what it is (.csv, .jsonl)")
    first = _first_char(head)
    if first == "[":
        return "json"
    if first == "{":
        return "jsonl"
    return "csv"


def _first_char(head: bytes) -> str:
    for bom, enc in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            text = head[len(bom):len(bom) + 400].decode(enc, errors="ignore")
            break
    else:
        text = head[:400].decode("latin-1")
    text = text.lstrip()
    return text[:1]


def regular_file(path: str | Path, what: str = "file", *, missing_hint: str = "check the path",
                 folder_hint: str = "give the path of a file, not of a folder") -> Path:
    """``path``, once it names a regular file (or a link to one). Everything a clerk names for haocha to read
    (rating files, profiles, organisation files, calendars, case sheets, TOML files) passes here first, before
    a byte is read: a path that does not exist (NotFound), a folder, and a device, named pipe or socket
    (InvalidInput) are refused at once — reading /dev/zero or a FIFO would never end."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise NotFound(f"{what} {path} does not exist", missing_hint) from None
    except OSError as exc:  # no permission on a folder on the way, a name too long, a loop of links
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}", "check the path and its permissions") from None
    if stat.S_ISDIR(mode):
        raise InvalidInput(f"{path} is a folder, not a file", folder_hint)
    if not stat.S_ISREG(mode):
        raise InvalidInput(f"{what} {path} is not a regular file (a device, a named pipe or a socket)",
                           "give the path of a file saved on disk; haocha reads no devices, pipes or standard input")
    return path


# Text encodings Python has that are no encoding of a file: host names (idna, punycode), Python's own escapes,
# and the codec that refuses everything.
_NOT_FILE_ENCODINGS = {"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined"}
ENCODINGS_HINT = "use utf-8, utf-8-sig, gb18030 (covers GBK) or utf-16 (utf-16-le without a byte-order mark)"


def check_encoding(name: str) -> str:
    """The codec name of ``--encoding``: a text encoding a file can be written in, else InvalidInput (hex,
    base64, rot13, zlib and the like turn bytes into bytes or text into text; idna and punycode are host
    names)."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise InvalidInput(f"unknown text encoding {name!r}", ENCODINGS_HINT) from None
    if not getattr(info, "_is_text_encoding", True) or info.name.replace("_", "-") in _NOT_FILE_ENCODINGS:
        raise InvalidInput(f"{name!r} is not a text encoding of files", ENCODINGS_HINT)
    # Reading GBK as GB18030 loses nothing (GB18030 is a superset) and accepts the characters GBK lacks.
    return "gb18030" if info.name in ("gbk", "gb2312", "cp936") else info.name


def detect_encoding(path: Path, head: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 (what Chinese Excel saves as "CSV").

    Decided on the first MiB; a later line that does not decode is reported with its line number."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        raise InvalidInput(f"{path.name} holds NUL bytes: it is not a text file in UTF-8 or GB18030",
                           "if it is UTF-16 without a byte-order mark, give --encoding utf-16-le")
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=len(head) < SAMPLE_BYTES)
        return "utf-8"
    except UnicodeDecodeError as exc:
        utf8_failed_at = exc.start
    decoder = codecs.getincrementaldecoder("gb18030")()
    try:
        decoder.decode(head, final=len(head) < SAMPLE_BYTES)
        return "gb18030"
    except UnicodeDecodeError as exc:
        # The line the clerk should look at: where the reading that got further stopped.
        line = head[: max(exc.start, utf8_failed_at)].count(b"\n") + 1
        raise InvalidInput(f"{path.name} is neither UTF-8 nor GB18030 text (line {line} does not decode)",
                           "save it as CSV UTF-8, or name its encoding with --encoding") from None


def _text_stream(path: Path, enc: str) -> tuple[io.BufferedReader, io.TextIOWrapper]:
    binary = path.open("rb")
    # newline='' keeps the line ends inside quoted cells as they are (the csv module's requirement).
    return binary, io.TextIOWrapper(binary, encoding=enc, errors="strict", newline="")


def _decode_error(path: Path, enc: str, after_line: int) -> InvalidInput:
    if enc == "utf-16":  # the byte order comes from a byte-order mark, and this file has none
        hint = ("the file has no UTF-16 byte-order mark, or is not UTF-16; try --encoding utf-16-le (or utf-16-be),"
                " or leave --encoding out for UTF-8 and GB18030")
    else:
        other = "gb18030" if enc.startswith("utf-8") else "utf-8"
        hint = f"the file mixes encodings or is not {enc}; try --encoding {other}, or save it again as CSV UTF-8"
    before = " (the lines before it were)" if after_line else ""
    return InvalidInput(f"{path.name}: line {after_line + 1} is not valid {enc} text{before}", hint)


# --- CSV ------------------------------------------------------------------------------------------


def _sniff_delimiter(head: bytes, enc: str) -> str:
    text = head[:65536].decode(enc, errors="ignore")
    first = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    counts = {d: first.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _open_csv(path: Path, size: int, enc: str, head: bytes) -> Table:
    delimiter = _sniff_delimiter(head, enc if enc != "utf-16" else "utf-16")
    binary, text = _text_stream(path, enc)
    pending: list[str] = []  # the physical lines of the record being read

    def lines() -> Iterator[str]:
        for line in text:
            pending.append(line)
            yield line

    reader = csv.reader(lines(), delimiter=delimiter, strict=True)
    state = {"last": 0}

    def read_header() -> tuple[list[str], int]:
        while True:
            pending.clear()
            try:
                row = next(reader)
            except StopIteration:
                raise InvalidInput(f"{path.name} is empty", "export the ratings again; the file has no header") from None
            except UnicodeError:  # UnicodeDecodeError, or utf-16's "stream does not start with BOM"
                raise _decode_error(path, enc, state["last"]) from None
            except csv.Error as exc:
                raise InvalidInput(f"{path.name}: the header line cannot be read ({exc})",
                                   "the first line must name the columns, separated by commas") from None
            start, state["last"] = state["last"] + 1, reader.line_num
            if any(cell.strip() for cell in row):
                if row:
                    row[0] = row[0].lstrip("\ufeff")
                return [cell.strip() for cell in row], start

    header, header_line = read_header()

    def rows() -> Iterator[Row]:
        last = state["last"]
        while True:
            try:
                pending.clear()
                for cells in reader:
                    start, last = last + 1, reader.line_num
                    pending.clear()
                    if cells:  # a blank line is not a row
                        yield (start, cells, None, None, None)
                return
            except csv.Error as exc:
                start, last = last + 1, reader.line_num
                message = str(exc)
                if "unexpected end of data" in message:
                    message = "the last line is cut off inside a quoted cell (a truncated file?)"
                yield (start, None, None, "".join(pending), message)
            except UnicodeError:
                raise _decode_error(path, enc, last) from None

    def position() -> int:
        try:
            return binary.tell()
        except (OSError, ValueError):
            return 0

    return Table(path, "csv", enc, header, rows(), size, position, header_line=header_line,
                 closers=[text.close, binary.close])


def decode_small_text(path: Path, raw: bytes) -> str:
    """A small text file a clerk saved (a window directory, a case sheet, a calendar notice, a TOML file):
    UTF-8 (with or without a byte-order mark), else GB18030 as Chinese Excel saves CSV."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput(f"{path.name} is neither UTF-8 nor GB18030 text", "save it as UTF-8 (Excel: CSV UTF-8)")


# --- JSON Lines and JSON --------------------------------------------------------------------------


def _open_jsonl(path: Path, size: int, enc: str) -> Table:
    binary, text = _text_stream(path, enc)
    loads = json.loads

    def rows() -> Iterator[Row]:
        number = 0
        try:
            for number, line in enumerate(text, 1):  # noqa: B007 - number is used after the loop
                stripped = line.strip().lstrip("\ufeff")
                if not stripped:
                    continue
                try:
                    obj = loads(stripped)
                except ValueError as exc:
                    yield (number, None, None, stripped, f"not valid JSON ({exc.args[0].split(':')[0]})")
                    continue
                except RecursionError:  # [[[[… thousands deep: no rating looks like that
                    yield (number, None, None, stripped, _TOO_DEEP)
                    continue
                if not isinstance(obj, dict):
                    yield (number, None, None, stripped, "the line is not a JSON object {…}")
                    continue
                if _SURROGATE_ESCAPE.search(stripped) and _half_character(obj):
                    yield (number, None, None, stripped, _HALF_CHARACTER)
                    continue
                yield (number, None, obj, stripped, None)
        except UnicodeError:
            raise _decode_error(path, enc, number) from None

    def position() -> int:
        try:
            return binary.tell()
        except (OSError, ValueError):
            return 0

    return Table(path, "jsonl", enc, None, rows(), size, position, closers=[text.close, binary.close])


def _open_json(path: Path, size: int, enc: str) -> Table:
    try:
        text = path.read_bytes().decode(enc)
    except UnicodeError as exc:
        where = f" (byte {exc.start})" if isinstance(exc, UnicodeDecodeError) else ""
        raise InvalidInput(f"{path.name} is not valid {enc} text{where}",
                           "save it as UTF-8, or name its encoding with --encoding (gb18030, utf-16-le …)") from None
    text = text.lstrip("\ufeff")
    decoder = json.JSONDecoder()
    start = len(text) - len(text.lstrip())
    if text[start:start + 1] != "[":
        raise InvalidInput(f"{path.name} is not a JSON array", "give a JSON array of rating objects, or JSON Lines")
    done = {"pos": 0}

    def fail(pos: int, what: str) -> InvalidInput:
        line = text.count("\n", 0, pos) + 1
        column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        return InvalidInput(f"{path.name}: {what} at line {line} column {column}",
                            "fix the JSON (a truncated file?) and import it again; nothing was imported")

    def rows() -> Iterator[Row]:
        pos = start + 1
        element = 0
        expect_value = True
        while True:
            while pos < len(text) and text[pos] in " \t\r\n":
                pos += 1
            if pos >= len(text):
                raise fail(pos, "the array is not closed")
            char = text[pos]
            if char == "]":
                rest = text[pos + 1:].strip()
                if rest:
                    raise fail(pos + 1, "text after the end of the array")
                done["pos"] = len(text)
                return
            if char == ",":
                if expect_value:
                    raise fail(pos, "an empty element")
                pos += 1
                expect_value = True
                continue
            if not expect_value:
                raise fail(pos, "a comma is missing")
            try:
                obj, end = decoder.raw_decode(text, pos)
            except ValueError as exc:
                raise fail(getattr(exc, "pos", pos), f"not valid JSON ({exc.args[0].split(':')[0]})") from None
            except RecursionError:
                raise fail(pos, _TOO_DEEP) from None
            element += 1
            raw = text[pos:end]
            done["pos"] = end
            expect_value = False
            pos = end
            if isinstance(obj, dict) and _SURROGATE_ESCAPE.search(raw) and _half_character(obj):
                yield (element, None, None, raw, _HALF_CHARACTER)
            elif isinstance(obj, dict):
                yield (element, None, obj, raw, None)
            else:
                yield (element, None, None, raw, "the element is not a JSON object {…}")

    scale = size / max(len(text), 1)
    return Table(path, "json", enc, None, rows(), size, lambda: int(done["pos"] * scale))


_TOO_DEEP = "not valid JSON (arrays or objects nested too deeply)"
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # only such lines are checked: the check costs
_HALF_CHARACTER = "not valid JSON text (a \\uD800–\\uDFFF escape that is half of a character)"


def _half_character(obj: dict[str, Any]) -> bool:
    """Whether a decoded object holds a lone surrogate (JSON allows the escape; no text can store it)."""
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# --- Excel .xlsx ----------------------------------------------------------------------------------


def _open_xlsx(path: Path, size: int) -> Table:
    import zipfile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InvalidInput(f"{path.name} cannot be read as an Excel workbook ({exc})",
                           "open it in Excel or LibreOffice and save it again as .xlsx") from None
    sheet = workbook.active if workbook.active is not None else workbook.worksheets[0]
    # The stored dimension is often wrong (some writers put A1:A1); without it every row is read.
    sheet.reset_dimensions()
    rows_iter = sheet.iter_rows(min_row=1, values_only=True)
    state = {"row": 0}
    header: list[str] | None = None
    for number, values in enumerate(rows_iter, 1):
        state["row"] = number
        if values and any(v is not None and str(v).strip() for v in values):
            header = [cell_text(v).strip() for v in values]
            while header and not header[-1]:
                header.pop()
            header_line = number
            break
    if header is None:
        workbook.close()
        raise InvalidInput(f"{path.name}: the first sheet ({sheet.title}) is empty", "put the ratings on the first sheet")

    def rows() -> Iterator[Row]:
        for number, values in enumerate(rows_iter, header_line + 1):
            state["row"] = number
            if not values:
                continue
            cells = [cell_text(v) for v in values]
            if not any(cells):
                continue
            yield (number, cells, None, None, None)

    # Progress of a read-only sheet is not known in bytes; rows are reported against a rough estimate.
    return Table(path, "xlsx", None, header, rows(), size, lambda: min(size, state["row"] * 60),
                 excel_epoch=workbook.epoch, header_line=header_line, closers=[workbook.close])


def cell_text(value: Any) -> str:
    """A cell (xlsx or JSON value) as the text it shows: dates in ISO form, whole numbers without '.0', an
    integer that a double cannot hold exactly in Excel's own 3.70E+21 form (so that it is refused)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            if abs(value) < EXACT_FLOAT_LIMIT:
                return str(int(value))
            return f"{value:.2E}"
        return repr(value)
    if isinstance(value, datetime):
        # A spreadsheet's time is a fraction of a day: 09:30 may come back as 09:29:59.9996.
        if value.microsecond >= 500_000:
            value += timedelta(seconds=1)
        return value.replace(microsecond=0).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.replace(microsecond=0).isoformat()
    if isinstance(value, (list, tuple)):
        return ",".join(cell_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
