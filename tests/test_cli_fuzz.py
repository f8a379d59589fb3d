"""Every command, every option, odd values: the answer is output, one `Error:` line or a usage error, never a
traceback (slow: about a thousand invocations; run by `.ci/run` in the slow step)."""

from __future__ import annotations

import pytest
import typer.main
from import_support import NOW, good, write_csv
from typer.testing import CliRunner

from haocha_cli.cli import app
from haocha_cli.clidoc import _walk

ODD = ["", "-1", "2026-99-99", "ü<b>", "9" * 30]
SKIPPED = {"serve", "demo", "init", "backup"}  # a server, a long story, and commands about the file itself


@pytest.mark.slow
def test_odd_values_in_every_option_end_cleanly(db_path, tmp_path, monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", NOW)
    ratings = write_csv(tmp_path / "r.csv", [good(i, level="不满意" if i % 3 else "满意", rater_phone="13812345678")
                                             for i in range(12)])
    runner = CliRunner()
    assert runner.invoke(app, ["--db", str(db_path), "import", str(ratings)]).exit_code == 0
    crashed = []
    for path, command in _walk(typer.main.get_command(app), []):
        if getattr(command, "commands", None) or path[0] in SKIPPED:
            continue
        options = [p for p in command.params
                   if p.param_type_name == "option" and not p.is_flag and p.name != "help"]
        arguments = [p for p in command.params if p.param_type_name == "argument"]
        for value in ODD:
            base = [*path, *[value or "x" for _ in arguments]]
            trials = [base] + [[*base, option.opts[0], value] for option in options]
            for args in trials:
                for operator in ("city", "county:370213"):
                    result = runner.invoke(app, ["--db", str(db_path), "--operator", operator, *args])
                    if result.exception is not None and not isinstance(result.exception, SystemExit):
                        crashed.append(f"{operator} {' '.join(args)}: {result.exception!r}")
                    elif result.exit_code not in (0, 1, 2):
                        crashed.append(f"{operator} {' '.join(args)}: exit {result.exit_code}")
    assert crashed == []
