"""QR codes for the catalogue's windows: generate files, print the sheet, verify a scan, rotate the secret.

The image and token work is in ``qr``; this module brings the windows, the configuration and the secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from haocha_cli import audit, files, qr
from haocha_cli.catalogue import get_county, get_window
from haocha_cli.context import Context
from haocha_cli.db import get_meta, transaction
from haocha_cli.errors import InvalidInput, NotFound


def active_windows(ctx: Context, county: str | None = None, window: str | None = None) -> list[dict[str, Any]]:
    """The active windows to print codes for. A county operator prints its own county's only: a code of another
    county's window would let its holder rate that window as a verified visitor."""
    county = ctx.county_scope(county, "print the QR codes")
    if county:
        get_county(ctx.db, county)
    if window:
        get_window(ctx.db, window)
    sql = ("SELECT w.code AS window_code, w.name AS window_name, w.kind, w.county_code, c.name AS county_name"
           " FROM windows w JOIN counties c ON c.code = w.county_code WHERE w.active")
    params: list[str] = []
    if county:
        sql += " AND w.county_code = ?"
        params.append(county)
    if window:
        sql += " AND w.code = ?"
        params.append(window)
    rows = list(ctx.db.query(sql + " ORDER BY w.county_code, w.kind, w.code", params))
    if not rows:
        raise NotFound("no active window matches", "check --county / --window; `haocha org show --part windows`")
    return rows


def payload_for(ctx: Context, window_code: str) -> str:
    token = qr.make_token(ctx.keys.qr_secret, window_code, ctx.config["qr.token_length"])
    return qr.build_payload(ctx.config["qr.url_template"], window_code, token)


def generate(ctx: Context, out_dir: Path, county: str | None = None, window: str | None = None,
             fmt: str = "both", size_px: int = 600) -> list[dict[str, Any]]:
    """Write one PNG and/or SVG per active window; returns what was written."""
    if fmt not in ("png", "svg", "both"):
        raise InvalidInput(f"format {fmt!r} is not png, svg or both", "use --format png|svg|both")
    modes = files.modes(ctx.config)
    files.make_dirs(out_dir, modes)
    written = []
    for w in active_windows(ctx, county, window):
        payload = payload_for(ctx, w["window_code"])
        stem = qr.file_stem(w["county_code"], w["window_code"])
        made = []
        if fmt in ("png", "both"):
            made.append(str(qr.render_png(payload, out_dir / f"{stem}.png", size_px, modes)))
        if fmt in ("svg", "both"):
            path = out_dir / f"{stem}.svg"
            files.write_text(path, qr.render_svg(payload, xml_declaration=True), modes)
            made.append(str(path))
        written.append({"county": w["county_code"], "window": w["window_code"], "payload": payload, "files": made})
    return written


def sheet(ctx: Context, out: Path, county: str | None = None) -> int:
    windows = [dict(w, payload=payload_for(ctx, w["window_code"])) for w in active_windows(ctx, county)]
    bureau = get_meta(ctx.db, "city_bureau_name") or ctx.config["bureau_name"]
    modes = files.modes(ctx.config)
    files.make_dirs(out.parent, modes)
    files.write_text(out, qr.render_sheet(bureau, windows), modes)
    return len(windows)


def verify(ctx: Context, text: str, window: str | None = None) -> dict[str, Any]:
    """Whether a scanned URL (or a bare token with --window) belongs to the window it names."""
    named, token = qr.parse_payload(text)
    if window and named and window != named:
        raise InvalidInput(f"the URL names window {named}, not {window}", "drop --window or check the code")
    code = window or named
    if not code:
        raise InvalidInput("a bare token needs the window it should belong to", "add --window CODE")
    get_window(ctx.db, code)
    ok = qr.verify_token(ctx.keys.qr_secret, code, token, ctx.config["qr.token_length"])
    return {"window": code, "token": token, "valid": ok}


def rotate(ctx: Context) -> None:
    """A new QR secret: every printed code stops verifying (reprint the sheets)."""
    from haocha_cli.privacy import rotate_qr_secret

    ctx.require_city("rotating the QR secret")
    ctx.require_keys()  # another database's key file is not rewritten
    with transaction(ctx.db):
        # The event goes in first: if writing the key file fails, the transaction rolls back with it.
        audit.record(ctx.db, ctx.operator, "qr.rotate", "qr_secret", "qr", None, {"rotated": True})
        rotate_qr_secret(ctx.db_path, ctx.config["qr.secret_env"])
