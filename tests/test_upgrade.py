"""A bureau's database written before a migration opens with this haocha and keeps its figures."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from haocha_cli.db import schema_version

OLD = Path(__file__).parent / "data" / "upgrade" / "schema11.db"


@pytest.fixture
def old_db(tmp_path, monkeypatch):
    path = tmp_path / "bureau.db"
    shutil.copy(OLD, path)
    shutil.copy(str(OLD) + ".key", str(path) + ".key")
    path.chmod(0o600)
    (tmp_path / "bureau.db.key").chmod(0o600)
    monkeypatch.setenv("HAOCHA_NOW", "2026-09-01 09:00:00")
    return path


def _cli(db, *args):
    from typer.testing import CliRunner

    from haocha_cli.cli import app

    return CliRunner().invoke(app, ["--db", str(db), "--operator", "city", *args])


def test_a_schema_11_database_gets_its_indicator_system_v1_and_keeps_its_indices(old_db):
    assert sqlite3.connect(old_db).execute("PRAGMA user_version").fetchone()[0] == 11
    versions = _cli(old_db, "indicators", "versions", "-f", "json")
    assert versions.exit_code == 0, versions.output
    (v1,) = json.loads(versions.stdout)
    assert (v1["version"], v1["dimensions"], v1["indicators"]) == ("V1.0", 5, 12)
    assert sqlite3.connect(old_db).execute("PRAGMA user_version").fetchone()[0] == schema_version()
    shown = json.loads(_cli(old_db, "indicators", "show", "-f", "json").stdout)
    assert [r["code"] for r in shown["indicators"]] == ["A1", "A2", "B1", "B2", "B3", "C1", "C2", "D1", "D2",
                                                         "D3", "E1", "E2"]
    index = json.loads(_cli(old_db, "index", "--by", "window", "--period", "2026-08-31..2026-08-31",
                            "-f", "json").stdout)
    assert [(r["window"], r["n"], r["index"]) for r in index["rows"] if r["n"]] == [
        ("LC01", 2, 87.5), ("LC02", 2, 37.5)]


def test_a_rating_scored_by_v1_names_imports_into_the_upgraded_database(old_db, tmp_path):
    batch = tmp_path / "b.csv"
    batch.write_text("评价编号,评价时间,窗口编码,评价渠道,事项编码,满意度,服务规范\n"
                     "U1,2026-09-01 08:30:00,LC01,扫码评价,XK01,满意,5\n", encoding="utf-8")
    result = _cli(old_db, "import", str(batch))
    assert result.exit_code == 0, result.output
    row = sqlite3.connect(old_db).execute(
        "SELECT weights_version, rating_index FROM ratings WHERE rating_id = 'U1'").fetchone()
    # 满意 (75) with 服务规范 (C1) scored 5: 75 + 25 × 154/1183 (docs/method.md, the offline weights)
    assert row[0] == "V1.0" and row[1] == pytest.approx(75 + 25 * 154 / 1183, abs=1e-12)
