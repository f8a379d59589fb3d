"""What every page of `haocha serve` shares: templates, security headers, reading a form, the client address.

Used by the rating page (``rating.py``) and the staff workbench (``auth.py``, ``cases.py``, ``city.py``,
``admin.py``) alike.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request

from haocha_cli.resources import resource_path

MAX_BODY_BYTES = 32 * 1024  # a filled form is about 2 kB; the longest comment at 4 bytes a character fits

SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none';"
     b" frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    # The page URL holds the window's token or a case number: never send it on to another site.
    (b"referrer-policy", b"no-referrer"),
    # A form carries a one-time nonce, a staff page personal data: nothing is kept in a cache.
    (b"cache-control", b"no-store"),
]
HEADERS = {k.decode("ascii"): v.decode("ascii") for k, v in SECURITY_HEADERS}


def environment(**filters: Any) -> Environment:
    """Templates under ``templates/`` (the web's under ``templates/web/``). autoescape=True: window names,
    items, comments and notes come from outside and are echoed into the pages."""
    env = Environment(loader=FileSystemLoader(str(resource_path("templates"))), autoescape=True,
                      undefined=StrictUndefined, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(filters)
    return env


class SecurityHeaders:
    """Adds the security headers to every HTTP response (pure ASGI: no buffering of the body)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (name, value) for name, value in SECURITY_HEADERS if name not in names]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def read_form(request: Request, max_bytes: int = MAX_BODY_BYTES) -> dict[str, list[str]] | str:
    """The URL-encoded form, at most ``max_bytes``; a message code (too_large, form_encoding) when it is not
    one we can read."""
    declared = request.headers.get("content-length", "")
    if declared and (ascii_number(declared, 12) or 0) > max_bytes:
        return "too_large"
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return "form_encoding"
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            return "too_large"
    try:
        pairs = parse_qsl(bytes(body).decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        return "form_encoding"
    form: dict[str, list[str]] = {}
    for name, value in pairs:
        form.setdefault(name, []).append(value)
    return form


def ascii_number(text: str, max_digits: int) -> int | None:
    """The number ``text`` holds when it is 1 to ``max_digits`` ASCII digits, else None. Not ``str.isdigit``
    alone: it is True for '²' (which ``int`` refuses) and for '١٢٣' or '１２３' (which ``int`` reads), and
    ``int`` refuses a string of more than 4,300 digits."""
    if 0 < len(text) <= max_digits and text.isascii() and text.isdigit():
        return int(text)
    return None


def one(form: dict[str, list[str]], name: str) -> str:
    """A single-valued field; a field sent twice counts as not sent (a form of ours never does that)."""
    values = form.get(name, [])
    return values[0] if len(values) == 1 else ""


def client_address(request: Request) -> str:
    # Behind the bureau's proxy, uvicorn's --proxy-headers has already put the X-Forwarded-For address here.
    return request.client.host if request.client else "unknown"
