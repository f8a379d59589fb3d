"""`haocha audit log`: reading the trail by operator, action and days."""

from __future__ import annotations

import json

from import_support import row, write_csv

NOW = "2024-05-31 16:00:00"


def test_audit_log_filters_by_operator_action_and_days(cli, db_path, tmp_path, monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", NOW)
    ratings = write_csv(tmp_path / "r.csv", [
        row(rating_id=f"A{i}", rated_at=f"2024-05-0{i} 10:00:00", window_code="LC01", channel="二维码",
            item_code="XK01", level="不满意") for i in (1, 2)])
    assert cli("import", str(ratings)).exit_code == 0  # at NOW, 2024-05-31
    monkeypatch.setenv("HAOCHA_NOW", "2024-06-03 09:30:00")
    assert cli("cases", "classify", "1", "rectifiable", operator="county:370213").exit_code == 0
    assert cli("cases", "classify", "2", "unrectifiable", "--reason", "法定时限", operator="county:370213").exit_code == 0

    def log(*args):
        result = cli("audit", "log", *args, "--format", "json")
        assert result.exit_code == 0, result.stderr
        return [(e["at"], e["operator"], e["action"], e["entity_id"]) for e in json.loads(result.stdout)]

    county_actions = [("2024-06-03 09:30:00", "county:370213", "case.classify", "1"),
                      ("2024-06-03 09:30:00", "county:370213", "case.classify", "2")]
    assert log("--by", "county:370213") == county_actions
    assert log("--from", "2024-06-03", "--to", "2024-06-03") == county_actions
    assert log("--period", "2024-05", "--action", "case.") == [(NOW, "city", "case.open", "1"),
                                                               (NOW, "city", "case.open", "2")]
    assert log("--action", "case.classify", "--id", "2") == county_actions[1:]
    assert log("--action", "case") == []  # a prefix ends with a dot; otherwise the whole name
    assert log("--period", "2024-06", "--by", "city") == []
