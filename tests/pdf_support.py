"""The text of each page of a PDF that Chromium printed, with the standard library alone (no PDF package in the
test dependencies): Skia writes its objects uncompressed, each page's text as `<hex> Tj` in a Flate stream, and
a ToUnicode map for every font."""

from __future__ import annotations

import re
import zlib

_OBJECT = re.compile(rb"(\d+) 0 obj\s*(.*?)endobj", re.S)
_NUMBER = rb"(-?[\d.]+)\s+"
_TOKEN = re.compile(rb"/ActualText <FEFF([0-9A-Fa-f]*)>|/([A-Za-z0-9_.+-]+) [-\d.]+ Tf|"
                    rb"[-\d.]+ [-\d.]+ [-\d.]+ [-\d.]+ (-?[\d.]+) (-?[\d.]+) Tm|<([0-9A-Fa-f]*)> Tj|\b(EMC)\b|"
                    rb"(?m:^(q|Q)$)|" + _NUMBER * 6 + rb"cm\b")


def _stream(body: bytes) -> bytes:
    head, _, rest = body.partition(b"stream")
    raw = rest[2:] if rest.startswith(b"\r\n") else rest[1:]
    return zlib.decompressobj().decompress(raw) if b"/FlateDecode" in head else raw


def _unicode_map(cmap: bytes) -> dict[bytes, str]:
    table: dict[bytes, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.S):
        for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            table[bytes.fromhex(src.decode())] = bytes.fromhex(dst.decode()).decode("utf-16-be", "replace")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", cmap, re.S):
        for lo, hi, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            width, start = len(lo) // 2, int(dst, 16)
            for k, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                table[code.to_bytes(width, "big")] = chr(start + k)
    return table


def page_lines(pdf: bytes) -> list[list[str]]:
    """Each page's lines of text, top to bottom (a line: the runs of text that start at one height; the footer's
    margin boxes are one line)."""
    objects = {int(m.group(1)): m.group(2) for m in _OBJECT.finditer(pdf)}
    maps: dict[int, dict[bytes, str]] = {}
    pages = []
    for body in objects.values():
        if not re.match(rb"<<\s*/Type /Page\b(?!s)", body):
            continue
        fonts = {}
        font_dict = re.search(rb"/Font\s*<<(.*?)>>", body, re.S)
        for name, ref in re.findall(rb"/([A-Za-z0-9_.+-]+) (\d+) 0 R", font_dict.group(1) if font_dict else b""):
            unicode_ref = re.search(rb"/ToUnicode (\d+) 0 R", objects[int(ref)])
            if unicode_ref:
                key = int(unicode_ref.group(1))
                maps.setdefault(key, _unicode_map(_stream(objects[key])))
                fonts[name] = maps[key]
        content = b"".join(_stream(objects[int(r)]) for r in
                           re.findall(rb"(\d+) 0 R", re.search(rb"/Contents\s*(\[[^\]]*\]|\d+ 0 R)", body).group(1)))
        runs: dict[float, str] = {}
        font: dict[bytes, str] = {}
        y, actual, shown = 0.0, None, False  # a marked span's ActualText stands for all the glyphs in it
        ctm, saved = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0), []
        for m in _TOKEN.finditer(content):
            if m.group(7):
                if m.group(7) == b"q":
                    saved.append(ctm)
                elif saved:
                    ctm = saved.pop()
            elif m.group(8):
                a, b, c, d, e, f = (float(m.group(k)) for k in range(8, 14))
                A, B, C, D, E, F = ctm
                ctm = (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F)
            elif m.group(1) is not None:
                actual, shown = bytes.fromhex(m.group(1).decode()).decode("utf-16-be", "replace"), False
            elif m.group(2):
                font = fonts.get(m.group(2), {})
            elif m.group(4):
                # the text's origin on the page (points from the top: Chromium's first matrix flips the page)
                y = round(ctm[1] * float(m.group(3)) + ctm[3] * float(m.group(4)) + ctm[5], 1)
            elif m.group(5) is not None:
                code = bytes.fromhex(m.group(5).decode())
                width = len(next(iter(font))) if font else 1
                if actual is not None:
                    text, shown = ("" if shown else actual), True
                else:
                    text = "".join(font.get(code[i:i + width], "") for i in range(0, len(code), width))
                runs[y] = runs.get(y, "") + text
            elif m.group(6):
                actual = None
        pages.append([runs[k].strip() for k in sorted(runs, reverse=True) if runs[k].strip()])  # PDF y grows upwards
    return pages
