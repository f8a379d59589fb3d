"""The CLI reference is generated from --help, and every command documents itself with an example."""

from __future__ import annotations

import re
import shlex
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


def _documented_commands() -> list[tuple[str, str]]:
    """(file, command) for each `haocha …` command the README, docs/ and the Licang script show: lines of code
    blocks and of the script, and inline code; synopses with placeholders left out."""
    found: list[tuple[str, str]] = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "examples" / "licang" / "rollout.sh"]:
        if path.name == "cli.md":
            continue
        text = path.read_text(encoding="utf-8")
        code, inside = [], path.suffix == ".sh"
        for line in text.splitlines():
            if line.startswith("```"):
                inside = not inside
            elif inside:
                code.append(line.strip())
        candidates = [line for line in code if line.startswith("haocha ")] + re.findall(r"`(haocha [^`]+)`", text)
        for command in candidates:
            command = re.split(r"\s+#|\s+[|>;]\s|\s+&&\s", command)[0].strip()
            if re.search(r"[\[\]$…<|]|\b(N|ID|FILE|Y|P|DEST)\b", command):
                continue
            found.append((path.name, command))
    return found


def test_every_command_the_docs_show_is_one_haocha_knows():
    from typer.testing import CliRunner

    commands = _documented_commands()
    assert len(commands) > 80
    wrong = []
    for name, command in commands:
        args = shlex.split(command)[1:]
        if args[:1] in (["serve"], ["demo"]):  # they run for long; their options are checked by --help
            args = [args[0], "--help"]
        result = CliRunner().invoke(app, ["--db", "/nonexistent/haocha.db", *args])
        text = result.stderr if result.exit_code == 2 else ""
        if any(s in text for s in ("No such option", "No such command", "unexpected extra argument")):
            wrong.append(f"{name}: {command}: {text.strip().splitlines()[-1]}")
    assert wrong == []
