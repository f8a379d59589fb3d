"""`haocha qr`: per-window QR codes (二维码) for rating."""

from __future__ import annotations

from pathlib import Path

import typer

from haocha_cli.commands._common import Format, render, say, state

app = typer.Typer(help="QR codes for each window: files, printable sheet, verification, rotation.",
                  no_args_is_help=True)

ALLOW_LOCAL = typer.Option(False, "--allow-local",
                           help="Print codes even when their URL opens this machine only (the default URL, "
                                "127.0.0.1, localhost): test codes, marked as such.")


def _warn_local() -> None:
    from haocha_cli.qr_tokens import LOCAL_WARNING

    say(f"warning: {LOCAL_WARNING} (test codes: their URL opens this machine only; set [qr] url_template in"
        " haocha.toml to the public HTTPS address before printing codes to post)")


@app.command("generate")
def generate(
    ctx: typer.Context,
    county: str | None = typer.Option(None, "--county", help="Only this county's windows (a county "
                                                              "operator: its own)."),
    window: str | None = typer.Option(None, "--window", help="Only this window."),
    out: Path = typer.Option(Path("qr"), "--out", help="Folder for the files."),
    image: str = typer.Option("both", "--format", "-f", help="Image format: png, svg or both."),
    size: int = typer.Option(600, "--size", min=100, max=5000, help="PNG size in pixels."),
    allow_local: bool = ALLOW_LOCAL,
) -> None:
    """Write one QR code per active window (offline windows and online channels).

    File names carry the county and window codes, e.g. 370213_LC01.png. Codes whose URL a phone cannot
    open (the default URL, 127.0.0.1, localhost: set [qr] url_template in haocha.toml) are refused unless
    --allow-local is given; such test codes are named 370213_LC01-local.png.

    Example:

        haocha qr generate --county 370213 --out qr/ --format png
    """
    from haocha_cli.qr_windows import generate as make
    from haocha_cli.qr_windows import local_only

    c = state(ctx).context()
    local = local_only(c, allow_local)
    written = make(c, out, county, window, image, size, allow_local=allow_local)
    # The files written, one window a line, as data on stdout: the payload is what the code holds.
    render([{**w, "files": " ".join(w["files"])} for w in written], Format.table)
    say(f"{len(written)} window(s) written to {out}")
    if local:
        _warn_local()


@app.command("sheet")
def sheet(
    ctx: typer.Context,
    out: Path = typer.Option(Path("qr-sheet.html"), "--out", help="The HTML file to write."),
    county: str | None = typer.Option(None, "--county", help="Only this county's windows (a county "
                                                              "operator: its own)."),
    allow_local: bool = ALLOW_LOCAL,
) -> None:
    """Write a printable A4 sheet (HTML, self-contained) with every window's code and name.

    Codes whose URL a phone cannot open (the default URL, 127.0.0.1, localhost: set [qr] url_template in
    haocha.toml) are refused unless --allow-local is given; then every page says in red that they are test
    codes (测试用二维码：仅在本机有效，请勿张贴).

    Example:

        haocha qr sheet --out sheet.html --county 370213
    """
    from haocha_cli.qr_windows import local_only
    from haocha_cli.qr_windows import sheet as make_sheet

    c = state(ctx).context()
    local = local_only(c, allow_local)
    n = make_sheet(c, out, county, allow_local=allow_local)
    say(f"sheet with {n} window(s) written to {out}; open it in a browser and print on A4")
    if local:
        _warn_local()


@app.command("verify")
def verify(
    ctx: typer.Context,
    text: str = typer.Argument(..., help="The scanned URL, or a bare token (with --window)."),
    window: str | None = typer.Option(None, "--window", help="The window the token should belong to."),
) -> None:
    """Say whether a QR token belongs to its window; exit 1 when it does not.

    Example:

        haocha qr verify 'http://127.0.0.1:8000/r?w=LC01&t=ABCDEFGHIJ'
    """
    from haocha_cli.qr_windows import verify as check

    result = check(state(ctx).context(), text, window)
    if result["valid"] and result["secret"] == "previous":
        say(f"valid until {result['previous_until']}: the token belongs to window {result['window']} under the"
            " previous QR secret (旧版二维码); ratings made with it are accepted and flagged old_token until then."
            " Replace the sticker: `haocha qr sheet`")
        return
    if result["valid"]:
        say(f"valid: the token belongs to window {result['window']}")
        return
    from haocha_cli.untrusted import show_controls

    if result["secret"] == "previous":
        typer.echo(f"Error: the token belongs to window {show_controls(result['window'])} under the previous QR"
                   f" secret, accepted only until {result['previous_until']} (an old sticker: put up the window's"
                   " new code, `haocha qr sheet`)", err=True)
        raise typer.Exit(1)
    typer.echo(f"Error: the token does not belong to window {show_controls(result['window'])} (forged, mistyped,"
               " or printed before the secret was rotated)", err=True)
    raise typer.Exit(1)


@app.command("rotate")
def rotate(
    ctx: typer.Context,
    yes: bool = typer.Option(False, "--yes", help="Confirm: every printed QR code stops verifying."),
    grace: int = typer.Option(30, "--grace", min=0, max=366,
                              help="Days the old codes keep working (their ratings flagged old_token), so the "
                                   "stickers can be swapped; 0: they stop at once (a leaked secret)."),
) -> None:
    """Replace the QR secret. Every printed code becomes invalid once the grace period (--grace DAYS, 30 by
    default) ends: reprint the sheets and swap the stickers meanwhile. A rating made with an old code in the
    grace period is accepted, on the rating page and in an import, and flagged old_token (旧版二维码); after
    it, refused as any token that does not verify. Audited.

    Example:

        haocha qr rotate --yes --grace 14 && haocha qr sheet --out sheet.html
    """
    from haocha_cli.qr_windows import rotate as rotate_secret

    if not yes:
        raise typer.BadParameter("rotating invalidates every printed QR code; add --yes to confirm", param_hint="--yes")
    result = rotate_secret(state(ctx).context(), grace)
    if grace:
        say(f"QR secret rotated: old codes keep working until {result['previous_until']} (their ratings are flagged"
            " old_token), then stop. Reprint with `haocha qr sheet` and swap the stickers before then.")
    else:
        say("QR secret rotated: old codes no longer verify. Reprint with `haocha qr sheet`.")
