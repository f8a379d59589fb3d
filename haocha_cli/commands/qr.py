"""`haocha qr`: per-window QR codes (二维码) for rating."""

from __future__ import annotations

from pathlib import Path

import typer

from haocha_cli.commands._common import Format, render, say, state

app = typer.Typer(help="QR codes for each window: files, printable sheet, verification, rotation.",
                  no_args_is_help=True)


@app.command("generate")
def generate(
    ctx: typer.Context,
    county: str | None = typer.Option(None, "--county", help="Only this county's windows (a county "
                                                              "operator: its own)."),
    window: str | None = typer.Option(None, "--window", help="Only this window."),
    out: Path = typer.Option(Path("qr"), "--out", help="Folder for the files."),
    image: str = typer.Option("both", "--format", "-f", help="Image format: png, svg or both."),
    size: int = typer.Option(600, "--size", min=100, max=5000, help="PNG size in pixels."),
) -> None:
    """Write one QR code per active window (offline windows and online channels).

    File names carry the county and window codes, e.g. 370213_LC01.png.

    Example:

        haocha qr generate --county 370213 --out qr/ --format png
    """
    from haocha_cli.qrcodes import generate as make

    written = make(state(ctx).context(), out, county, window, image, size)
    # The files written, one window a line, as data on stdout: the payload is what the code holds.
    render([{**w, "files": " ".join(w["files"])} for w in written], Format.table)
    say(f"{len(written)} window(s) written to {out}")


@app.command("sheet")
def sheet(
    ctx: typer.Context,
    out: Path = typer.Option(Path("qr-sheet.html"), "--out", help="The HTML file to write."),
    county: str | None = typer.Option(None, "--county", help="Only this county's windows (a county "
                                                              "operator: its own)."),
) -> None:
    """Write a printable A4 sheet (HTML, self-contained) with every window's code and name.

    Example:

        haocha qr sheet --out sheet.html --county 370213
    """
    from haocha_cli.qrcodes import sheet as make_sheet

    n = make_sheet(state(ctx).context(), out, county)
    say(f"sheet with {n} window(s) written to {out}; open it in a browser and print on A4")


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
    from haocha_cli.qrcodes import verify as check

    result = check(state(ctx).context(), text, window)
    if result["valid"]:
        say(f"valid: the token belongs to window {result['window']}")
        return
    from haocha_cli.untrusted import show_controls

    typer.echo(f"Error: the token does not belong to window {show_controls(result['window'])} (forged, mistyped,"
               " or printed before the secret was rotated)", err=True)
    raise typer.Exit(1)


@app.command("rotate")
def rotate(
    ctx: typer.Context,
    yes: bool = typer.Option(False, "--yes", help="Confirm: every printed QR code stops verifying."),
) -> None:
    """Replace the QR secret. Every printed code becomes invalid: reprint the sheets. Audited.

    Example:

        haocha qr rotate --yes && haocha qr sheet --out sheet.html
    """
    from haocha_cli.qrcodes import rotate as rotate_secret

    if not yes:
        raise typer.BadParameter("rotating invalidates every printed QR code; add --yes to confirm", param_hint="--yes")
    rotate_secret(state(ctx).context())
    say("QR secret rotated: old codes no longer verify. Reprint with `haocha qr sheet`.")
