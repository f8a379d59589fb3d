"""The CLI reference is generated from --help, and every command documents itself with an example."""

from __future__ import annotations

from pathlib import Path

import typer.main

from haocha_cli.cli import app
from haocha_cli.clidoc import _walk, cli_reference

ROOT = Path(__file__).resolve().parent.parent


def test_docs_cli_md_is_up_to_date():
    expected = cli_reference()
    actual = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert actual == expected, "docs/cli.md is out of date: run `python -m haocha_cli.clidoc > docs/cli.md`"


def test_every_command_has_help_with_an_example():
    missing = []
    for path, command in _walk(typer.main.get_command(app), []):
        if getattr(command, "commands", None):
            continue  # a group: its commands carry the examples
        if not command.help or "Example:" not in command.help:
            missing.append(" ".join(path))
    assert missing == []
