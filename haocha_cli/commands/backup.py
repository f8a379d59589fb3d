"""`haocha backup DEST`: a consistent copy of the live database and its key file."""

from __future__ import annotations

from pathlib import Path

import typer

from haocha_cli.commands._common import say, state


def backup_command(
    ctx: typer.Context,
    dest: Path = typer.Argument(..., help="The backup file, or a folder to write it in (same file name)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing backup at DEST."),
) -> None:
    """Copy the database (SQLite's online backup: other commands may keep writing) and its key file,
    owner-only, to DEST (city operator). The copy is checked (integrity_check, audit verify) before it
    takes DEST's name; without the key file the phones in it could not be read.

    Example:

        haocha backup /mnt/backup/haocha-$(date +%F).db
    """
    from haocha_cli.backup import backup_database

    result = backup_database(state(ctx).context(), dest, force=force)
    say(f"backed up to {result['path']} ({result['bytes']:,} bytes, {result['events']} audit events, integrity ok)"
        f" with its key file {result['key_path']}: keep both, and keep them safe")
