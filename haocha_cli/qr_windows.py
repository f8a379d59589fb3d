"""QR codes for the catalogue's windows: generate files, print the sheet, verify a scan, rotate the secret.

The image and token work is in ``qr_tokens``; this module brings the windows, the configuration and the secret.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from haocha_cli import audit, files, qr_tokens
from haocha_cli.catalogue import get_county, get_window
from haocha_cli.clock import now_text
from haocha_cli.context import Context
from haocha_cli.db import get_meta, transaction
from haocha_cli.errors import ConfigError, InvalidInput, NotFound

DEFAULT_GRACE_DAYS = 30  # `qr rotate`: the previous secret's tokens keep verifying this long (stickers swapped)
MAX_GRACE_DAYS = 366


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


def local_only(ctx: Context, allow_local: bool) -> str | None:
    """Refuses codes a phone cannot open (the default URL, a loopback address) unless ``allow_local``; then
    the reason comes back, for the sheet and the files to say so. None: the codes are fit to print."""
    reason = qr_tokens.local_only(ctx.config["qr.url_template"])
    if reason and not allow_local:
        where = ctx.config.path or "haocha.toml beside the database"
        raise ConfigError(f"no QR codes printed: {reason}, so a phone that scans them opens nothing",
                          f"set [qr] url_template in {where} to the rating page's public HTTPS address, e.g."
                          " url_template = \"https://pj.example.gov.cn/r?w={window}&t={token}\" (docs/serve.md);"
                          " for test codes add --allow-local")
    return reason


def payload_for(ctx: Context, window_code: str) -> str:
    token = qr_tokens.make_token(ctx.keys.qr_secret, window_code, ctx.config["qr.token_length"])
    return qr_tokens.build_payload(ctx.config["qr.url_template"], window_code, token)


def generate(ctx: Context, out_dir: Path, county: str | None = None, window: str | None = None,
             fmt: str = "both", size_px: int = 600, *, allow_local: bool = False) -> list[dict[str, Any]]:
    """Write one PNG and/or SVG per active window; returns what was written. Codes a phone cannot open are
    refused (``local_only``); with ``allow_local`` their file names end in ``-local`` (370213_LC01-local.png)."""
    if fmt not in ("png", "svg", "both"):
        raise InvalidInput(f"format {fmt!r} is not png, svg or both", "use --format png|svg|both")
    local = local_only(ctx, allow_local)
    windows = active_windows(ctx, county, window)
    modes = files.modes(ctx.config)
    files.make_dirs(out_dir, modes)
    written = []
    for w in windows:
        payload = payload_for(ctx, w["window_code"])
        stem = qr_tokens.file_stem(w["county_code"], w["window_code"]) + (qr_tokens.LOCAL_FILE_SUFFIX if local else "")
        made = []
        if fmt in ("png", "both"):
            made.append(str(qr_tokens.render_png(payload, out_dir / f"{stem}.png", size_px, modes)))
        if fmt in ("svg", "both"):
            path = out_dir / f"{stem}.svg"
            files.write_text(path, qr_tokens.render_svg(payload, xml_declaration=True), modes)
            made.append(str(path))
        written.append({"county": w["county_code"], "window": w["window_code"], "payload": payload, "files": made})
    return written


def sheet(ctx: Context, out: Path, county: str | None = None, *, allow_local: bool = False) -> int:
    """Write the printable sheet; codes a phone cannot open are refused (``local_only``), and with
    ``allow_local`` every page says in red that they are test codes."""
    local = local_only(ctx, allow_local)
    windows = [dict(w, payload=payload_for(ctx, w["window_code"])) for w in active_windows(ctx, county)]
    bureau = get_meta(ctx.db, "city_bureau_name") or ctx.config["bureau_name"]
    modes = files.modes(ctx.config)
    files.make_dirs(out.parent, modes)
    files.write_text(out, qr_tokens.render_sheet(bureau, windows, local=bool(local)), modes)
    return len(windows)


def verify(ctx: Context, text: str, window: str | None = None) -> dict[str, Any]:
    """Whether a scanned URL (or a bare token with --window) belongs to the window it names."""
    named, token = qr_tokens.parse_payload(text)
    if window and named and window != named:
        raise InvalidInput(f"the URL names window {named}, not {window}", "drop --window or check the code")
    code = window or named
    if not code:
        raise InvalidInput("a bare token needs the window it should belong to", "add --window CODE")
    get_window(ctx.db, code)
    keys = ctx.keys
    now = now_text()
    under = qr_tokens.token_secret(keys, code, token, ctx.config["qr.token_length"])
    verdict = qr_tokens.token_at(keys, under, now)
    # valid: a rating made now with it is accepted. previous_until: set when it is the previous secret's token
    # (until then accepted and flagged old_token; after that refused).
    return {"window": code, "token": token, "valid": verdict != qr_tokens.TOKEN_BAD,
            "secret": {qr_tokens.TOKEN_OK: "current", qr_tokens.TOKEN_OLD: "previous", qr_tokens.TOKEN_BAD: None}[under],
            "previous_until": keys.qr_previous_until if under == qr_tokens.TOKEN_OLD else None}


def rotate(ctx: Context, grace_days: int = DEFAULT_GRACE_DAYS) -> dict[str, Any]:
    """A new QR secret. The previous one keeps verifying for ``grace_days`` (0: not at all) so that the stickers
    can be swapped without losing a rating: a rating made with an old sticker meanwhile is accepted and flagged
    old_token (旧版二维码); after that it is refused. Returns {rotated_at, previous_until, grace_days}."""
    from haocha_cli.privacy import rotate_qr_secret

    ctx.require_city("rotating the QR secret")
    if not 0 <= grace_days <= MAX_GRACE_DAYS:
        raise InvalidInput(f"a grace period of {grace_days} days is out of range",
                           f"give 0 (the old codes stop at once) to {MAX_GRACE_DAYS} days; the default is"
                           f" {DEFAULT_GRACE_DAYS}")
    ctx.require_keys()  # another database's key file is not rewritten
    rotated_at = now_text()
    until = (datetime.fromisoformat(rotated_at) + timedelta(days=grace_days)).isoformat(sep=" ")
    result = {"rotated_at": rotated_at, "previous_until": until, "grace_days": grace_days}
    with transaction(ctx.db):
        # The event goes in first: if writing the key file fails, the transaction rolls back with it.
        audit.record(ctx.db, ctx.operator, "qr.rotate", "qr_secret", "qr", None, {"rotated": True, **result})
        rotate_qr_secret(ctx.db_path, ctx.config["qr.secret_env"], rotated_at=rotated_at, previous_until=until)
    return result
