"""Generate docs/cli.md from the commands' own --help (``python -m haocha_cli.clidoc > docs/cli.md``).

A test fails when docs/cli.md and the commands drift apart.
"""

from __future__ import annotations

import sys


def _walk(command, path: list[str]):
    yield path, command
    for name in getattr(command, "commands", {}) or {}:
        yield from _walk(command.commands[name], [*path, name])


def cli_reference() -> str:
    import typer.main
    from typer.testing import CliRunner

    from haocha_cli.cli import app

    runner = CliRunner(env={"COLUMNS": "100", "TERMINAL_WIDTH": "100", "HAOCHA_DB": None})
    parts = ["# CLI reference", "", "Generated from `--help` by `python -m haocha_cli.clidoc > docs/cli.md`;"
             " do not edit by hand.", ""]
    for path, _command in _walk(typer.main.get_command(app), []):
        result = runner.invoke(app, [*path, "--help"], terminal_width=100)
        title = " ".join(["haocha", *path])
        parts += [f"{'#' * min(len(path) + 1, 4)} `{title}`", "", "```text", result.stdout.rstrip(), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    sys.stdout.write(cli_reference())
