"""Small assertions shared by the CLI tests."""

from __future__ import annotations

import json


def ok(result):
    """The result of a command that must succeed (its error shown if it did not)."""
    assert result.exit_code == 0, result.stderr or result.output
    return result


def imported(cli, *args: str) -> list[dict]:
    """`haocha import … --format json`: the summaries of the files."""
    return json.loads(ok(cli("import", *args, "--format", "json")).stdout)
