"""Per-window QR codes (二维码): keyed tokens, scan URLs, PNG/SVG images and the printable A4 sheet.

A window's (窗口) QR code holds a URL such as ``http://127.0.0.1:8000/r?w=LC01&t=K3ZQ7MJX2A``: the window
code and a token, an HMAC of the window code under the bureau's QR secret. The token proves that a rating
which names a window came from someone who had that window's printed code, so a rating whose token does not
verify can be flagged as suspicious (评价信息不实 risk). Rotating the secret invalidates every printed code
once its grace period ends (the previous secret verifies until then: ``check_token``).

Plain functions, no database: the caller loads the secret and the windows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import math
import re
import secrets
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import qrcode
import qrcode.constants
import qrcode.exceptions
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from PIL import Image

from haocha_cli import files
from haocha_cli.errors import ConfigError, InvalidInput
from haocha_cli.resources import resource_path

# 10 base32 characters carry 50 bits. A token is checked online, one rating submission per guess, so forging
# the token of a window whose code one has never seen takes about 2^50 (10^15) submissions: millions of
# times more than a bureau's rating volume, and each miss is itself a flag. A longer token buys nothing
# against that and makes the payload denser, so the code needs a higher QR version and smaller modules.
TOKEN_LENGTH = 10
MIN_TOKEN_LENGTH = 8  # 40 bits: below this, guessing stops being absurd
MAX_TOKEN_LENGTH = 52  # the whole SHA-256 digest in base32 without padding
MIN_SECRET_BYTES = 16

DEFAULT_URL_TEMPLATE = "http://127.0.0.1:8000/r?w={window}&t={token}"

# Level Q restores up to ~25 % of damaged codewords: stickers on a service counter get scratched, smudged
# and half-covered by tape; M (15 %) fails sooner and H (30 %) makes the code denser for little gain.
ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_Q
# The QR standard's quiet zone: 4 light modules on every side, or phone scanners cannot find the code.
QUIET_ZONE = 4

# RFC 4648 base32: upper-case letters and 2-7, no 0/1/8/9, so O/0 and I/1 cannot be confused on paper.
_TOKEN_ALPHABET = re.compile(r"[A-Z2-7]+")
_UNSAFE_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9.-]")

SHEET_TEMPLATE = "qr_sheet.html.j2"
DEFAULT_SHEET_TITLE = "好差评评价二维码"
SVG_SIZE_MM_ON_SHEET = 50
WINDOW_KINDS = ("offline", "online")
SHEET_PROMPTS = {
    "offline": "请扫码评价本次服务",
    "online": "请扫码评价本次网上办理服务",
}


# --- token ------------------------------------------------------------------------------------------


def new_secret() -> bytes:
    """A fresh random QR secret (32 bytes) for the key file; replacing it invalidates every printed code."""
    return secrets.token_bytes(32)


def make_token(secret: bytes, window_code: str, length: int = TOKEN_LENGTH) -> str:
    """The window's token: HMAC-SHA256 of its code under ``secret``, base32 (A-Z, 2-7), first ``length`` chars."""
    _check_secret(secret)
    if not MIN_TOKEN_LENGTH <= length <= MAX_TOKEN_LENGTH:
        raise InvalidInput(
            f"QR token length {length} is out of range",
            f"use {MIN_TOKEN_LENGTH} to {MAX_TOKEN_LENGTH} characters; the default is {TOKEN_LENGTH}",
        )
    if not window_code:
        raise InvalidInput("the window code is empty", "give the code of a window in the catalogue")
    digest = hmac.new(secret, window_code.encode("utf-8"), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").rstrip("=")[:length]


def verify_token(secret: bytes, window_code: str, token: str, length: int = TOKEN_LENGTH) -> bool:
    """True when ``token`` is this window's token under ``secret``; any other string is simply False.

    Case and surrounding spaces are ignored (base32 is case-insensitive, people retype tokens). The compare
    is constant-time so response timing does not reveal how many leading characters were right.
    """
    expected = make_token(secret, window_code, length)
    given = token.strip().upper().encode("utf-8")
    return hmac.compare_digest(expected.encode("ascii"), given)


# ratings.token_ok: NULL no token, 1 verified, 0 did not verify, 2 verified by the previous secret only, for a
# rating made in the grace period after `qr rotate` (an old sticker not yet replaced: flag old_token, 旧版二维码).
TOKEN_BAD, TOKEN_OK, TOKEN_OLD = 0, 1, 2


def token_secret(keys: Any, window_code: str, token: str, length: int = TOKEN_LENGTH) -> int:
    """Under which secret ``token`` is the window's: TOKEN_OK (the current one), TOKEN_OLD (only the previous
    one, whatever the time), TOKEN_BAD. ``keys`` is a privacy.Keys."""
    if verify_token(keys.qr_secret, window_code, token, length):
        return TOKEN_OK
    if keys.qr_previous and verify_token(keys.qr_previous, window_code, token, length):
        return TOKEN_OLD
    return TOKEN_BAD


def token_at(keys: Any, verdict: int, at: str) -> int:
    """``verdict`` (token_secret's) for a rating made at ``at`` ('YYYY-MM-DD HH:MM:SS', local time). A token
    of the previous secret counts as verified (TOKEN_OK) for a rating made before the rotation, when it was the
    current one; as TOKEN_OLD up to the end of the grace period; after that it does not verify (TOKEN_BAD)."""
    if verdict != TOKEN_OLD:
        return verdict
    if at < keys.qr_rotated_at:
        return TOKEN_OK
    return TOKEN_OLD if at <= keys.qr_previous_until and keys.qr_previous_until > keys.qr_rotated_at else TOKEN_BAD


def check_token(keys: Any, window_code: str, token: str, at: str, length: int = TOKEN_LENGTH) -> int:
    """TOKEN_OK, TOKEN_OLD or TOKEN_BAD for a rating of the window made at ``at`` with ``token``: the rating
    page and the import judge a token by this one rule (token_secret, then token_at)."""
    return token_at(keys, token_secret(keys, window_code, token, length), at)


def _check_secret(secret: bytes) -> None:
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"the QR secret is {'empty' if not secret else 'too short'} ({len(secret)} bytes)",
            f"it must hold at least {MIN_SECRET_BYTES} random bytes; create a new one with `haocha qr rotate`",
        )


# --- payload ----------------------------------------------------------------------------------------


def build_payload(url_template: str, window_code: str, token: str) -> str:
    """The text the QR code holds: ``url_template`` with ``{window}`` and ``{token}`` URL-encoded in place."""
    missing = [p for p in ("{window}", "{token}") if p not in url_template]
    if missing:
        raise ConfigError(
            f"the QR URL template {url_template!r} lacks {' and '.join(missing)}",
            f"write it like {DEFAULT_URL_TEMPLATE}",
        )
    # str.replace, not str.format: other braces in a configured URL stay literal and cannot reach attributes.
    return url_template.replace("{window}", quote(window_code, safe="")).replace(
        "{token}", quote(token, safe="")
    )


# What the sheet and the files say when a test run prints codes only this machine can open (--allow-local).
LOCAL_WARNING = "测试用二维码：仅在本机有效，请勿张贴"
LOCAL_FILE_SUFFIX = "-local"  # 370213_LC01-local.png: a test code's file says so in its name


def local_only(url_template: str) -> str | None:
    """Why a phone that scans codes built from ``url_template`` reaches nothing, or None when it may.

    The default template, and an address on this machine: a loopback host (127.0.0.0/8, ::1, localhost and
    *.localhost), the unspecified address (0.0.0.0, ::), or no host at all. Other private addresses (a hall's
    intranet, 192.168.x.x) are the bureau's choice and pass."""
    sample = build_payload(url_template, "W", "T")  # a template without its placeholders is refused first
    if url_template.strip() == DEFAULT_URL_TEMPLATE:
        return f"the URL is the default {DEFAULT_URL_TEMPLATE}, which only the machine running haocha can open"
    parts = urlsplit(sample.strip() if "://" in sample else "//" + sample.strip().lstrip("/"))
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return f"the URL {sample.strip()!r} names no host a phone could reach"
    where = f"{parts.scheme}://{parts.netloc}" if parts.scheme else parts.netloc
    if host == "localhost" or host.endswith(".localhost"):
        return f"the URL's address {where} is this machine's own (localhost), which no phone reaches"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    if ip.is_loopback or ip.is_unspecified or (mapped is not None and (mapped.is_loopback or mapped.is_unspecified)):
        return f"the URL's address {where} is this machine's own (loopback), which no phone reaches"
    return None


def parse_payload(text: str) -> tuple[str | None, str]:
    """``(window_code, token)`` from a scanned URL (its ``w`` and ``t`` parameters) or ``(None, token)``.

    The token comes back upper-cased. Raises InvalidInput for empty text, a URL without a token, a parameter
    given twice, or a token with characters no haocha token has.
    """
    text = text.strip()
    if not text:
        raise InvalidInput("the QR text is empty", "paste the URL the code holds, or just its token")
    if "://" in text or "?" in text or "=" in text:
        query = urlsplit(text).query if ("://" in text or "?" in text) else text
        params = parse_qs(query, keep_blank_values=True)
        for name in ("w", "t"):
            if len(params.get(name, [])) > 1:
                raise InvalidInput(
                    f"the QR URL gives {name}= more than once: {text!r}",
                    "a haocha QR URL has one w= (window) and one t= (token)",
                )
        window = (params.get("w") or [""])[0].strip() or None
        token = (params.get("t") or [""])[0].strip()
        if not token:
            raise InvalidInput(
                f"the QR URL has no token: {text!r}",
                "a haocha QR URL ends with &t=<token>; scan the code again or copy the whole URL",
            )
    else:
        window, token = None, text
    token = token.upper()
    if not _TOKEN_ALPHABET.fullmatch(token):
        raise InvalidInput(
            f"{token!r} is not a QR token",
            "tokens use only the letters A-Z and the digits 2-7 (a 0 is the letter O, a 1 the letter I)",
        )
    return window, token


# --- images -----------------------------------------------------------------------------------------


def _modules(payload: str) -> list[list[bool]]:
    """The code's module matrix, quiet zone included (True = dark)."""
    if not payload:
        raise InvalidInput(
            "the QR payload is empty", "build it with a URL template, a window code and a token"
        )
    code = qrcode.QRCode(version=None, error_correction=ERROR_CORRECTION, border=QUIET_ZONE)
    code.add_data(payload)
    try:
        code.make(fit=True)
    except (qrcode.exceptions.DataOverflowError, ValueError):  # qrcode 8 raises ValueError past version 40
        raise InvalidInput(
            f"the QR payload is too long ({len(payload)} characters)",
            "shorten the URL template in the configuration",
        ) from None
    return code.get_matrix()


def png_bytes(payload: str, size_px: int = 600) -> bytes:
    """A black-on-white PNG, exactly ``size_px`` square, whole pixels per module; same payload, same bytes."""
    matrix = _modules(payload)
    n = len(matrix)
    scale = size_px // n
    if scale < 2:
        raise InvalidInput(
            f"{size_px} px is too small for this QR code ({n} modules with the quiet zone)",
            f"use at least {2 * n} px so each module gets 2 pixels or more",
        )
    small = Image.new("1", (n, n), 1)
    small.putdata([0 if dark else 1 for row in matrix for dark in row])
    # Whole-pixel modules keep edges sharp for the printer; the left-over pixels widen the quiet zone.
    big = small.resize((n * scale, n * scale), Image.Resampling.NEAREST)
    canvas = Image.new("1", (size_px, size_px), 1)
    offset = (size_px - n * scale) // 2
    canvas.paste(big, (offset, offset))
    out = BytesIO()
    canvas.save(out, format="PNG", optimize=False)
    return out.getvalue()


def render_png(payload: str, path: str | Path, size_px: int = 600, modes: files.Modes = files.OWNER_ONLY) -> Path:
    """Write the code as a PNG file at ``path`` (see png_bytes), with ``modes``; returns the path."""
    data = png_bytes(payload, size_px)
    path = Path(path)
    try:
        files.write_bytes(path, data, modes)
    except OSError as exc:
        raise InvalidInput(
            f"cannot write {path}: {exc.strerror}", "check that the folder exists and is writable"
        ) from None
    return path


def render_svg(payload: str, size_mm: float = SVG_SIZE_MM_ON_SHEET, *, xml_declaration: bool = False) -> str:
    """The code as an SVG string, ``size_mm`` wide, with its own white background and quiet zone.

    Without ``xml_declaration`` it can be pasted into HTML as it is; with it, it is a ``.svg`` file. It
    references nothing outside itself and carries no id, so many can share one page.
    """
    # Serialised here from qrcode's matrix rather than by qrcode.image.svg.SvgPathImage: that class gives its
    # path id="qr-path" (a duplicate id once a sheet embeds several codes) and writes one subpath per
    # module, whose seams some viewers anti-alias into hairlines. One subpath per horizontal run avoids both.
    if not (math.isfinite(size_mm) and size_mm > 0):
        raise InvalidInput(
            f"QR size {size_mm} mm is not a positive size", "give the printed width in mm, e.g. 50"
        )
    matrix = _modules(payload)
    n = len(matrix)
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < n:
            if row[x]:
                start = x
                while x < n and row[x]:
                    x += 1
                runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    size = f"{size_mm:g}mm"
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{size}" height="{size}" '
        f'viewBox="0 0 {n} {n}" shape-rendering="crispEdges" role="img" aria-label="评价二维码">'
        f'<rect x="0" y="0" width="{n}" height="{n}" fill="#ffffff"/>'
        f'<path fill="#000000" d="{"".join(runs)}"/>'
        "</svg>"
    )
    if xml_declaration:
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + svg + "\n"
    return svg


def file_stem(county_code: str, window_code: str) -> str:
    """``370213_LC01``: a file name stem that is safe on every system and distinct for distinct windows.

    Characters other than ASCII letters, digits, ``.`` and ``-`` become ``-`` (``_`` is kept as the
    separator); a part that had to change gets a short hash of its original so two codes never share a file.
    """
    return f"{_safe_part(county_code)}_{_safe_part(window_code)}"


def _safe_part(code: str) -> str:
    if not code:
        raise InvalidInput(
            "a county or window code is empty", "every window needs its county code and its own code"
        )
    safe = _UNSAFE_IN_FILE_NAME.sub("-", code).lstrip(".")
    if safe != code:
        safe = f"{safe}-{hashlib.sha256(code.encode('utf-8')).hexdigest()[:6]}"
    return safe


# --- printable sheet --------------------------------------------------------------------------------

_SHEET_KEYS = ("county_code", "county_name", "window_code", "window_name", "kind", "payload")

# The window's name on its card: one line as wide as the card allows (largest font 5 mm, the card's text 84 mm
# wide), and a name too long for 3.4 mm on one line in two balanced lines, so that no 口 of 窗口 stands alone.
NAME_WIDTH_MM = 84.0
NAME_MAX_MM, NAME_ONE_LINE_MIN_MM, NAME_TWO_LINES_MAX_MM = 5.0, 3.4, 3.8


def _name_em(text: str) -> float:
    """The width of a bold name in em: a Chinese (wide) character 1 em, a digit or Latin letter about 0.62 em."""
    import unicodedata

    return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.62 for ch in text)


def name_fit(name: str) -> tuple[float, int]:
    """(font size in mm, lines) for a window's name on its card."""
    width = max(_name_em(name), 1.0) * 1.03  # a little room for the font's own spacing
    one_line = NAME_WIDTH_MM / width
    if one_line >= NAME_ONE_LINE_MIN_MM:
        return round(min(NAME_MAX_MM, one_line), 2), 1
    return round(min(NAME_TWO_LINES_MAX_MM, 2 * NAME_WIDTH_MM / width * 0.92), 2), 2


def render_sheet(bureau_name: str, windows: list[dict], title: str = DEFAULT_SHEET_TITLE, *,
                 local: bool = False) -> str:
    """A printable A4 HTML page of QR cards, six (2 × 3) per page, one per window, in the given order.

    Each window dict needs county_code, county_name, window_code, window_name, kind ('offline' or
    'online') and payload. The HTML has no script and loads nothing: open it in a browser and print.
    ``local``: the codes open this machine only (a test): every page says so in red (LOCAL_WARNING).
    """
    if not windows:
        raise InvalidInput("there are no windows to print", "add windows to the catalogue first")
    cards = []
    for number, window in enumerate(windows, start=1):
        missing = [key for key in _SHEET_KEYS if not window.get(key)]
        if missing:
            raise InvalidInput(
                f"window {number} ({window.get('window_code') or '?'}) lacks {', '.join(missing)}",
                "each window needs " + ", ".join(_SHEET_KEYS),
            )
        if window["kind"] not in WINDOW_KINDS:
            raise InvalidInput(
                f"window {window['window_code']} has kind {window['kind']!r}",
                "the kind is 'offline' (a counter) or 'online' (网上办理)",
            )
        cards.append(
            {
                **{key: window[key] for key in _SHEET_KEYS if key != "payload"},
                "prompt": SHEET_PROMPTS[window["kind"]],
                "name_fit": name_fit(window["window_name"]),
                # Safe to mark: render_svg builds the markup itself and puts no caller text in it.
                "svg": Markup(render_svg(window["payload"], SVG_SIZE_MM_ON_SHEET)),
            }
        )
    return (
        _environment().get_template(SHEET_TEMPLATE).render(bureau_name=bureau_name, title=title, cards=cards,
                                                           local_warning=LOCAL_WARNING if local else None)
    )


def _environment() -> Environment:
    # autoescape=True, not select_autoescape(): the file ends in .j2, which select_autoescape leaves unescaped,
    # and window names and titles are typed by people.
    return Environment(
        loader=FileSystemLoader(str(resource_path("templates"))),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
