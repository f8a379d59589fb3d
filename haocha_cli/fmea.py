"""The FMEA risk register (潜在失效模式与后果分析) and the county risk levels it sets (市、县两级分级管控).

A failure mode of a process step has Severity, Occurrence and Detection ratings 1–10; RPN = S × O × D and
the action priority (AP, H/M/L) comes from a table kept as data (examples/fmea-ap-aiag-vda-2019.toml, the
AIAG-VDA 2019 table: severity first, then occurrence, then detection). ``assess`` derives Occurrence per
county from measured rates through a configurable scale and sets each county's risk level from the APs;
the spot-check sample reads that level (docs/method.md section 7).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import sqlite_utils

from haocha_cli import audit
from haocha_cli.clock import now_text, today
from haocha_cli.config import DEFAULTS, Config
from haocha_cli.context import Context
from haocha_cli.db import get_meta, set_meta, transaction
from haocha_cli.errors import ConfigError, InvalidInput, NotFound
from haocha_cli.periods import Period
from haocha_cli.tomlfile import read_toml

# measure -> what it is (for listings and docs)
MEASURES: dict[str, str] = {
    "overdue": "share of cases not rectified on time = 1 − 按时整改率 (cases stats)",
    "failed_checks": "failed spot-checks ÷ (confirmed + failed), checks of samples within the period",
    "flags": "suspicious-rating flags per 100 ratings received",
    "revisit_missed": "share of real-name bad reviews whose return visit (回访) was not made on time",
}
LEVELS = ("low", "medium", "high")
_FIELDS = ("step", "failure_mode", "effect", "cause", "controls")
_RATINGS = ("severity", "occurrence", "detection")


# --- the action-priority table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class APTable:
    name: str
    path: str
    # (s_lo, s_hi, o_lo, o_hi) -> [(d_lo, d_hi, ap), …]
    rows: tuple[tuple[int, int, int, int, tuple[tuple[int, int, str], ...]], ...]

    def ap(self, severity: int, occurrence: int, detection: int) -> str:
        for s_lo, s_hi, o_lo, o_hi, cells in self.rows:
            if s_lo <= severity <= s_hi and o_lo <= occurrence <= o_hi:
                for d_lo, d_hi, ap in cells:
                    if d_lo <= detection <= d_hi:
                        return ap
        raise InvalidInput(f"S {severity}, O {occurrence}, D {detection} is not in the AP table",
                           "ratings run from 1 to 10")


def default_ap_table_path() -> Path:
    from haocha_cli.resources import resource_path

    return resource_path("examples") / "fmea-ap-aiag-vda-2019.toml"


def default_register_path() -> Path:
    from haocha_cli.resources import resource_path

    return resource_path("examples") / "fmea-register.toml"


def _band(text: Any, where: str) -> tuple[int, int]:
    parts = str(text).strip().split("-")
    try:
        lo, hi = (int(parts[0]), int(parts[-1])) if len(parts) <= 2 else (0, 0)
    except ValueError:
        lo = hi = 0
    if not (1 <= lo <= hi <= 10):
        raise ConfigError(f"{where}: band {text!r} is not valid", "write a band as 7-10 or a single rating as 1")
    return lo, hi


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError(f"{what} {path} does not exist", "check the path in the configuration")
    return read_toml(path, ConfigError)


@cache
def load_ap_table(path: str | Path) -> APTable:
    """Read and check an AP table: every S, O, D from 1 to 10 must fall in exactly one cell."""
    path = Path(path)
    data = _read_toml(path, "AP table")
    d_bands = [_band(b, f"{path} detection_bands") for b in data.get("detection_bands", [])]
    if not d_bands:
        raise ConfigError(f"{path}: detection_bands is missing", "e.g. detection_bands = [\"7-10\", \"5-6\", \"2-4\", \"1\"]")
    rows = []
    for i, row in enumerate(data.get("rows", []), 1):
        where = f"{path} row {i}"
        if not (isinstance(row, list) and len(row) == 3):
            raise ConfigError(f"{where} is not [severity band, occurrence band, letters]", 'e.g. ["9-10", "8-10", "H H H H"]')
        letters = str(row[2]).split()
        if len(letters) != len(d_bands) or any(a not in ("H", "M", "L") for a in letters):
            raise ConfigError(f"{where}: {row[2]!r} must be {len(d_bands)} letters H, M or L",
                              "one per detection band, separated by spaces")
        s_lo, s_hi = _band(row[0], where)
        o_lo, o_hi = _band(row[1], where)
        cells = tuple((lo, hi, ap) for (lo, hi), ap in zip(d_bands, letters, strict=True))
        rows.append((s_lo, s_hi, o_lo, o_hi, cells))
    for s in range(1, 11):
        for o in range(1, 11):
            matches = [r for r in rows if r[0] <= s <= r[1] and r[2] <= o <= r[3]]
            if len(matches) != 1:
                raise ConfigError(f"{path}: severity {s} with occurrence {o} is in {len(matches)} rows",
                                  "each combination must be in exactly one row")
            for d in range(1, 11):
                if sum(lo <= d <= hi for lo, hi, _ in matches[0][4]) != 1:
                    raise ConfigError(f"{path}: detection {d} is in no band or in several",
                                      "detection_bands must cover 1–10 once")
    return APTable(str(data.get("name") or path.name), str(path), tuple(rows))


def ap_table(config: Config) -> APTable:
    path = config.get("risk.ap_table") or default_ap_table_path()
    return load_ap_table(str(Path(path)))


# --- the register ----------------------------------------------------------------------------------------------


def _rating(value: Any, what: str) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= 10:
        raise InvalidInput(f"{what} {value!r} is not valid", "ratings are whole numbers from 1 to 10")
    return int(text)


def _measure(value: Any) -> str | None:
    text = str(value or "").strip()
    if text in ("", "none"):
        return None
    if text not in MEASURES:
        raise InvalidInput(f"measure {text!r} is not known", f"use one of {', '.join(MEASURES)} or none")
    return text


def _checked_fields(values: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key in _FIELDS:
        if key in values and values[key] is not None:
            text = str(values[key]).strip()
            if not text:
                raise InvalidInput(f"{key.replace('_', ' ')} cannot be empty", f"give --{key.replace('_', '-')}")
            row[key] = text
        elif not partial:
            raise InvalidInput(f"{key.replace('_', ' ')} is required", f"give --{key.replace('_', '-')}")
    for key in _RATINGS:
        if key in values and values[key] is not None:
            row[key] = _rating(values[key], key)
        elif not partial:
            raise InvalidInput(f"{key} is required", f"give --{key} (1–10)")
    if "measure" in values and (values["measure"] is not None or not partial):
        row["measure"] = _measure(values["measure"])
    return row


def ensure_register(ctx: Context) -> None:
    """Load the default register on first use (the setting ``risk.register`` or the shipped file)."""
    if get_meta(ctx.db, "risk_register_loaded") is not None:
        return
    path = Path(ctx.config.get("risk.register") or default_register_path())
    data = _read_toml(path, "FMEA register")
    now = now_text()
    rows = []
    for i, entry in enumerate(data.get("risks", []), 1):
        try:
            row = _checked_fields(entry, partial=False)
        except InvalidInput as exc:
            raise ConfigError(f"{path} risk {i}: {exc.message}", exc.hint) from None
        row["code"] = str(entry.get("code") or f"R{i:02d}").strip()
        rows.append(row)
    with transaction(ctx.db):
        if get_meta(ctx.db, "risk_register_loaded") is not None:
            return
        for row in rows:
            ctx.db["risks"].insert({**row, "created_at": now, "updated_at": now}, replace=True)
        set_meta(ctx.db, "risk_register_loaded", now)
        audit.record(ctx.db, ctx.operator, "risk.load", "risks", path.name, None,
                     {"risks": [r["code"] for r in rows]})


def _with_priority(row: dict[str, Any], table: APTable) -> dict[str, Any]:
    s, o, d = row["severity"], row["occurrence"], row["detection"]
    return {**row, "rpn": s * o * d, "ap": table.ap(s, o, d)}


def list_risks(ctx: Context) -> list[dict[str, Any]]:
    """The register with RPN and AP from the register's own S/O/D (the city-wide view)."""
    ensure_register(ctx)
    table = ap_table(ctx.config)
    rows = ctx.db.query("SELECT code, step, failure_mode, effect, cause, controls, severity, occurrence,"
                        " detection, measure FROM risks ORDER BY code")
    return [_with_priority(r, table) for r in rows]


def get_risk(db: sqlite_utils.Database, code: str) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM risks WHERE code = ?", [code]))
    if not rows:
        known = ", ".join(r[0] for r in db.execute("SELECT code FROM risks ORDER BY code"))
        raise NotFound(f"risk {code} does not exist", f"known risks: {known}" if known else "`haocha risk list`")
    return rows[0]


def add_risk(ctx: Context, values: dict[str, Any]) -> dict[str, Any]:
    """Add a failure mode to the register (city's task); the code is the next R-number unless given."""
    ctx.require_city("changing the FMEA register")
    ensure_register(ctx)
    row = _checked_fields(values, partial=False)
    with transaction(ctx.db):
        code = str(values.get("code") or "").strip()
        if not code:
            numbers = [int(c[1:]) for (c,) in ctx.db.execute("SELECT code FROM risks") if c[1:].isdigit()]
            code = f"R{max(numbers, default=0) + 1:02d}"
        if ctx.db.execute("SELECT 1 FROM risks WHERE code = ?", [code]).fetchone():
            raise InvalidInput(f"risk {code} exists already", "change it with `haocha risk set`")
        if ctx.db.execute("SELECT 1 FROM risks WHERE failure_mode = ?", [row["failure_mode"]]).fetchone():
            raise InvalidInput(f"failure mode {row['failure_mode']!r} is in the register already",
                               "change it with `haocha risk set`")
        now = now_text()
        ctx.db["risks"].insert({"code": code, **row, "created_at": now, "updated_at": now})
        audit.record(ctx.db, ctx.operator, "risk.add", "risks", code, None, row)
    return _with_priority({"code": code, **row}, ap_table(ctx.config))


def set_risk(ctx: Context, code: str, values: dict[str, Any]) -> dict[str, Any]:
    """Change fields of a failure mode (city's task). Returns the row with RPN and AP."""
    ctx.require_city("changing the FMEA register")
    ensure_register(ctx)
    changes = _checked_fields(values, partial=True)
    if not changes:
        raise InvalidInput("nothing to change", "give at least one option, e.g. --detection 4")
    with transaction(ctx.db):
        old = get_risk(ctx.db, code)
        changes = {k: v for k, v in changes.items() if old[k] != v}
        if changes:
            ctx.db["risks"].update(code, {**changes, "updated_at": now_text()})
            audit.record(ctx.db, ctx.operator, "risk.set", "risks", code,
                         {k: old[k] for k in changes}, changes)
        row = {k: v for k, v in get_risk(ctx.db, code).items() if k not in ("created_at", "updated_at")}
    return {**_with_priority(row, ap_table(ctx.config)), "changed": sorted(changes)}


# --- assessment: measured rates → Occurrence → AP → county risk level ------------------------------------------


def occurrence_scale(config: Config, measure: str) -> list[float]:
    key = f"risk.occurrence_scale.{measure}"
    scale = config[key]
    ok = (isinstance(scale, list) and len(scale) == 9
          and all(isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0 for x in scale)
          and all(a < b for a, b in zip(scale, scale[1:], strict=False)))
    if not ok:
        default = next(v for k, v, _ in DEFAULTS if k == key)
        raise ConfigError(f"{key} must be 9 ascending non-negative numbers (the thresholds of Occurrence 2…10)",
                          f"the default is {default}")
    return [float(x) for x in scale]


def occurrence_of(rate: float, scale: list[float]) -> int:
    """Occurrence 1–10: 1 plus the number of thresholds the rate reaches."""
    return 1 + sum(rate >= t for t in scale)


def _level(aps: list[str], config: Config) -> str:
    high, medium = int(config["risk.high_when_h"]), int(config["risk.medium_when_m"])
    h = aps.count("H")
    if high > 0 and h >= high:
        return "high"
    if medium > 0 and h + aps.count("M") >= medium:
        return "medium"
    return "low"


def measured_rates(ctx: Context, period: Period) -> dict[str, dict[str, tuple[int, int]]]:
    """county -> measure -> (numerator, denominator) over the period, as of today."""
    from haocha_cli.cases import case_stats

    start, end = period.start.isoformat(), period.end.isoformat()
    counties = [r[0] for r in ctx.db.execute("SELECT code FROM counties ORDER BY code")]
    result: dict[str, dict[str, tuple[int, int]]] = {c: {} for c in counties}
    for row in case_stats(ctx, None, period.start, period.end):
        if row["county"] in result:
            result[row["county"]]["overdue"] = (row["due"] - row["closed_on_time"], row["due"])
    now_day = today().isoformat()
    for county, due, missed in ctx.db.execute(
        "SELECT county_code, count(*),"
        " sum(revisit_first_at IS NULL OR substr(revisit_first_at, 1, 10) > revisit_due)"
        " FROM cases WHERE real_name = 1 AND state != 'excluded' AND revisit_due IS NOT NULL"
        " AND rated_at >= ? AND rated_at < date(?, '+1 day') AND (revisit_due < ? OR revisit_first_at IS NOT NULL)"
        " GROUP BY county_code", [start, end, now_day]):
        if county in result:
            result[county]["revisit_missed"] = (missed or 0, due)
    for county, failed, decided in ctx.db.execute(
        "SELECT c.county_code, sum(c.outcome = 'failed'), count(*) FROM spot_checks c"
        " JOIN samples s ON s.id = c.sample_id WHERE c.outcome IN ('confirmed', 'failed')"
        " AND s.date_from >= ? AND s.date_to <= ? GROUP BY c.county_code", [start, end]):
        if county in result:
            result[county]["failed_checks"] = (failed or 0, decided)
    received = dict(ctx.db.execute(
        "SELECT county_code, sum(n + excluded_n) FROM daily_agg WHERE day BETWEEN ? AND ? GROUP BY county_code",
        [start, end]).fetchall())
    flagged = dict(ctx.db.execute(
        # old_token: an old sticker after the city's own rotation, no sign of 评价信息不实 in the county.
        "SELECT county_code, count(*) FROM flags WHERE day BETWEEN ? AND ? AND rule != 'old_token'"
        " GROUP BY county_code",
        [start, end]).fetchall())
    for county in counties:
        result[county]["flags"] = (flagged.get(county, 0), received.get(county) or 0)
    return result


def _rate(measure: str, numerator: int, denominator: int) -> float:
    return numerator * 100 / denominator if measure == "flags" else numerator / denominator


def assess(ctx: Context, period: Period, *, apply: bool = True) -> dict[str, Any]:
    """S/O/D/RPN/AP per county and failure mode for the period, and each county's risk level.

    Occurrence of a failure mode with a measure is read from the county's measured rate through the scale
    ``risk.occurrence_scale.<measure>``; with no data (a zero denominator) it stays the register's. A county
    is high risk when at least ``risk.high_when_h`` failure modes have AP H, medium when at least
    ``risk.medium_when_m`` have H or M, else low. With ``apply`` (the default) the levels are written to
    ``counties.risk_level`` (used by the next spot-check sample) with one audit event, and the rows kept in
    ``risk_assessments``.

    Setting the levels is the city's. A county operator may assess without applying: it gets its own county's
    rows and level only.
    """
    if apply:
        ctx.require_city("setting the counties' risk levels",
                         "a county sees its own county's assessment with --dry-run")
    ensure_register(ctx)
    table = ap_table(ctx.config)
    risks = list(ctx.db.query("SELECT * FROM risks ORDER BY code"))
    if not risks:
        raise NotFound("the FMEA register is empty", "add failure modes with `haocha risk add`")
    scales = {m: occurrence_scale(ctx.config, m) for m in MEASURES}
    rates = measured_rates(ctx, period)
    counties = [c for c in ctx.db.query("SELECT code, name, risk_level FROM counties ORDER BY code")
                if ctx.sees_county(c["code"])]
    rows: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    for county in counties:
        aps = []
        for risk in risks:
            measure = risk["measure"]
            num, den = rates[county["code"]].get(measure, (0, 0)) if measure else (0, 0)
            if measure and den:
                rate = _rate(measure, num, den)
                occurrence, source = occurrence_of(rate, scales[measure]), f"{measure} {num}/{den}"
            else:
                rate, occurrence = None, risk["occurrence"]
                source = "register (no data)" if measure else "register"
            s, d = risk["severity"], risk["detection"]
            ap = table.ap(s, occurrence, d)
            aps.append(ap)
            rows.append({"county": county["code"], "name": county["name"], "risk": risk["code"],
                         "failure_mode": risk["failure_mode"], "measure": measure, "rate": rate,
                         "o_from": source, "S": s, "O": occurrence, "D": d, "RPN": s * occurrence * d, "AP": ap})
        level = _level(aps, ctx.config)
        summary.append({"county": county["code"], "name": county["name"], "H": aps.count("H"),
                        "M": aps.count("M"), "L": aps.count("L"), "level_before": county["risk_level"],
                        "level": level, "closed_rate": ctx.config[f"sampling.closed_rate.{level}"]})
    run = None
    if apply:
        with transaction(ctx.db):
            before = {c["county"]: c["level_before"] for c in summary}
            after = {c["county"]: c["level"] for c in summary}
            run = audit.record(ctx.db, ctx.operator, "risk.assess", "counties", period.label,
                               before, {"levels": after, "period": period.as_dict(), "ap_table": table.name})
            for c in summary:
                if c["level"] != c["level_before"]:
                    ctx.db.execute("UPDATE counties SET risk_level = ? WHERE code = ?", [c["level"], c["county"]])
            now = now_text()
            ctx.db["risk_assessments"].insert_all(
                [{"run": run, "period": period.label, "county_code": r["county"], "risk_code": r["risk"],
                  "measure": r["measure"], "rate": r["rate"], "severity": r["S"], "occurrence": r["O"],
                  "detection": r["D"], "rpn": r["RPN"], "ap": r["AP"], "assessed_at": now} for r in rows])
    return {"period": period.as_dict(), "run": run, "ap_table": table.name, "rows": rows, "counties": summary,
            "applied": apply}


def risk_levels(db: sqlite_utils.Database) -> dict[str, str]:
    return dict(db.execute("SELECT code, risk_level FROM counties ORDER BY code").fetchall())
