"""`haocha cases list` paged (issue 22): the first --limit cases (100 by default), --all for every one, and
when the list is cut, how many match said on stderr, so that CSV and JSON stay the list of cases."""

from __future__ import annotations

import json

from cases_support import add_ratings


def _cases(db_path, days: list[str]) -> None:
    add_ratings(db_path, [{"rated_at": f"{d} 10:00:00", "window": "LC01", "level": "不满意"} for d in days])


def test_the_list_is_paged_with_the_total_on_stderr(db_path, run):
    _cases(db_path, ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06"])
    first = run("2026-03-09 09:00:00", "cases", "list", "--limit", "2", "--format", "json")
    assert first.exit_code == 0, first.output
    assert [c["id"] for c in json.loads(first.stdout)] == [1, 2]  # earliest deadline first
    assert first.stderr.strip() == "2 of 5 case(s): the first 2; --limit N or --all for more"
    every = run("2026-03-09 09:00:00", "cases", "list", "--all", "--limit", "2", "--format", "json")
    assert [c["id"] for c in json.loads(every.stdout)] == [1, 2, 3, 4, 5]
    assert every.stderr == ""  # a whole list is its own count
    table = run("2026-03-09 09:00:00", "cases", "list", "--limit", "4")
    assert table.exit_code == 0 and table.stderr.strip() == "4 of 5 case(s): the first 4; --limit N or --all for more"
    assert table.stdout.count("LC01") == 4
    # the filters count in the total: overdue (the 15 working days of the first two have passed by 2026-03-25)
    late = run("2026-03-25 09:00:00", "cases", "list", "--overdue", "--limit", "1", "--format", "csv")
    assert late.exit_code == 0, late.output
    assert [line.split(",")[0] for line in late.stdout.splitlines()[1:]] == ["1"]
    assert late.stderr.strip() == "1 of 2 case(s): the first 1; --limit N or --all for more"


def test_a_limit_below_one_is_a_usage_error(db_path, run):
    result = run("2026-03-09 09:00:00", "cases", "list", "--limit", "0")
    assert result.exit_code == 2
    assert "Invalid value for '--limit': 0 is not in the range 1<=x<=9223372036854775807." in result.output
