"""The haocha command line: global options, error handling, and the command groups.

Command modules import their core modules inside the functions, so `haocha --help` stays fast.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from pathlib import Path

import typer
from typer.core import TyperGroup

from haocha_cli import __version__
from haocha_cli.commands import audit as audit_commands
from haocha_cli.commands import backup as backup_commands
from haocha_cli.commands import calendar as calendar_commands
from haocha_cli.commands import cases as cases_commands
from haocha_cli.commands import config as config_commands
from haocha_cli.commands import datasette as datasette_commands
from haocha_cli.commands import demo as demo_commands
from haocha_cli.commands import export as export_commands
from haocha_cli.commands import flags as flags_commands
from haocha_cli.commands import index as index_commands
from haocha_cli.commands import indicators as indicator_commands
from haocha_cli.commands import notify as notify_commands
from haocha_cli.commands import org as org_commands
from haocha_cli.commands import qr as qr_commands
from haocha_cli.commands import ratings as rating_commands
from haocha_cli.commands import report as report_commands
from haocha_cli.commands import risk as risk_commands
from haocha_cli.commands import serve as serve_commands
from haocha_cli.commands import spc as spc_commands
from haocha_cli.commands import spotcheck as spotcheck_commands
from haocha_cli.commands import staff as staff_commands
from haocha_cli.commands import status as status_commands
from haocha_cli.commands import volumes as volume_commands
from haocha_cli.commands._common import State
from haocha_cli.errors import HaochaError
from haocha_cli.untrusted import show_controls


class HaochaGroup(TyperGroup):
    """Turns HaochaError into `Error: … (hint)` on stderr and exit 1, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except HaochaError as exc:
            # A message may quote outside text (a window code, a file or source name): shown, never run.
            typer.echo(f"Error: {show_controls(exc)}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                from haocha_cli.db import BUSY_TIMEOUT_MS

                typer.echo(f"Error: the database stayed busy for {BUSY_TIMEOUT_MS // 1000} s (another haocha command"
                           " is writing; run this again in a moment)", err=True)
                raise typer.Exit(1) from None
            raise
        except OverflowError:
            # A number past what SQLite or Python can hold, in an option the command line does not bound.
            typer.echo("Error: a number on the command line is too large (check the command line)", err=True)
            raise typer.Exit(2) from None
        except BrokenPipeError:
            # The reader of the output went away (`haocha … | head`): stop quietly, as cat and grep do.
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(1) from None
        except OSError as exc:
            # A file the core did not vet: a folder given for a file, no permission, a full disk.
            where = f" {show_controls(exc.filename)}" if exc.filename else ""
            typer.echo(f"Error: cannot use{where}: {exc.strerror or exc} (check the path, its permissions and the free"
                       " disk space)", err=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=HaochaGroup,
    name="haocha",
    help="haocha: the 好差评 (good/bad review) system of a tobacco monopoly bureau.\n\n"
    "Catalogue, QR codes, rating import, satisfaction indices, the rectification (整改) loop, "
    "oversight, control charts and reports, on one SQLite database.",
    epilog="The command line is for the bureau's administrators (IT staff, cron) on the server: whoever can open "
    "the database file can change anything in it. County and city staff work in the browser, in the workbench "
    "of `haocha serve`, with their own accounts (`haocha staff add`); the server enforces their roles. "
    "--operator only says which role an administrator acts in; the audit trail names the OS login. "
    "docs/security.md.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"haocha {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Path = typer.Option(Path("haocha.db"), "--db", envvar="HAOCHA_DB", help="The database file."),
    operator: str = typer.Option("admin", "--operator", envvar="HAOCHA_OPERATOR",
                                 help="The role you act in: `admin` (the default), `city` (市局) or "
                                 "`county:<code>` (县级局), e.g. county:370213. The person is your OS login. "
                                 "Not access control: see docs/security.md."),
    config: Path | None = typer.Option(None, "--config", envvar="HAOCHA_CONFIG",
                                       help="Configuration TOML (default: haocha.toml beside the database)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """haocha: the 好差评 (good/bad review) system of a tobacco monopoly bureau."""
    ctx.obj = State(db, operator, config)
    ctx.call_on_close(ctx.obj.close)


@app.command()
def init(
    ctx: typer.Context,
    db: Path | None = typer.Option(None, "--db", help="The database file (same as the global --db)."),
) -> None:
    """Create the database with the default organisation and indicator system V1.0.

    Running it again changes nothing and says so.

    Example:

        haocha --db bureau.db init
    """
    from haocha_cli.bootstrap import init_database
    from haocha_cli.commands._common import say, state

    s = state(ctx)
    if db is not None:
        s.db_path = db
    result = init_database(s.db_path, s.config_path)
    if not result["changed"]:
        say(f"{s.db_path} is already initialised; nothing changed.")
        return
    for line in result["done"]:
        say(line)


app.add_typer(config_commands.app, name="config")
app.add_typer(org_commands.app, name="org")
app.add_typer(indicator_commands.app, name="indicators")
app.add_typer(audit_commands.app, name="audit")
app.add_typer(cases_commands.app, name="cases")
app.add_typer(calendar_commands.app, name="calendar")
app.add_typer(qr_commands.app, name="qr")
app.add_typer(report_commands.app, name="report")
app.command("demo")(demo_commands.demo_command)
app.add_typer(flags_commands.app, name="flags")
app.add_typer(spotcheck_commands.app, name="spotcheck")
app.add_typer(risk_commands.app, name="risk")
app.add_typer(export_commands.app, name="export")
index_commands.register(app)
app.command("spc")(spc_commands.spc_command)
app.command("import")(rating_commands.import_command)
app.command("serve")(serve_commands.serve_command)
app.command("backup")(backup_commands.backup_command)
app.command("status")(status_commands.status_command)
app.command("datasette-metadata")(datasette_commands.datasette_metadata_command)
app.add_typer(rating_commands.batches_app, name="batches")
app.add_typer(staff_commands.app, name="staff")
app.add_typer(notify_commands.app, name="notify")
app.add_typer(volume_commands.app, name="volumes")


def main() -> None:
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    app(prog_name="haocha")


if __name__ == "__main__":
    sys.exit(main())
