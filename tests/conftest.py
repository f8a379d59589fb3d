"""Shared fixtures: a fresh initialised database per test, and a CLI runner."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import typer.testing
from typer.testing import CliRunner

from haocha_cli.bootstrap import init_database
from haocha_cli.cli import app

_TEMPLATE: dict[str, Path] = {}

# typer's CliRunner builds the whole command tree from the Typer app on every invoke (about 90 ms for
# haocha's 100-odd commands: most of a CLI test's time). The tree depends on the app only, so it is built once.
_build_command = typer.testing._get_command
_BUILT: dict[int, object] = {}


def _command_of(app):
    if id(app) not in _BUILT:
        _BUILT[id(app)] = _build_command(app)
    return _BUILT[id(app)]


typer.testing._get_command = _command_of


@pytest.fixture(autouse=True)
def _isolate(monkeypatch, tmp_path):
    """Tests never touch a real database, configuration or secret."""
    # COLUMNS: a piped table is as wide as COLUMNS says (else 200); tests see the default.
    for var in ("HAOCHA_DB", "HAOCHA_OPERATOR", "HAOCHA_CONFIG", "HAOCHA_QR_SECRET", "HAOCHA_NOW", "COLUMNS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch):
    """argon2id with the production cost takes ~0.1 s a hash; tests use the same algorithm at a low cost
    (tests/test_accounts.py checks the production parameters once)."""
    from argon2 import PasswordHasher

    from haocha_cli import accounts

    monkeypatch.setattr(accounts, "hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(accounts, "_DUMMY", [])


@pytest.fixture
def db_path(tmp_path, tmp_path_factory) -> Path:
    """An initialised database (copied from one made once per session: init is the slow part)."""
    if "db" not in _TEMPLATE:
        folder = tmp_path_factory.mktemp("template")
        init_database(folder / "haocha.db")
        _TEMPLATE["db"] = folder / "haocha.db"
    path = tmp_path / "haocha.db"
    shutil.copy(_TEMPLATE["db"], path)
    shutil.copy(str(_TEMPLATE["db"]) + ".key", str(path) + ".key")
    return path


@pytest.fixture
def cli(db_path):
    """cli("org", "show", operator="county:370213") -> Result, against the test database."""
    runner = CliRunner()

    def invoke(*args: str, operator: str = "city", input: str | None = None):
        return runner.invoke(app, ["--db", str(db_path), "--operator", operator, *args], input=input)

    return invoke


@pytest.fixture
def run(cli, monkeypatch):
    """run("2025-01-26 09:00:00", "cases", "list", operator="county:370213"): the CLI with "now" fixed."""

    def invoke(when: str, *args: str, operator: str = "city"):
        monkeypatch.setenv("HAOCHA_NOW", when)
        return cli(*args, operator=operator)

    return invoke


@pytest.fixture
def umask_022():
    """The usual umask (022, under which a file made without care is 0644), restored afterwards."""
    import os

    saved = os.umask(0o022)
    yield
    os.umask(saved)
