"""The indicator system (指标体系): 5 primary dimensions, 12 secondary indicators, and their weights per
service mode computed by the priority matrix (优先矩阵, full analytical criteria method)."""

from __future__ import annotations

import json
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

import sqlite_utils

from haocha_cli import audit
from haocha_cli.clock import now_text, today
from haocha_cli.context import Context
from haocha_cli.db import transaction
from haocha_cli.errors import InvalidInput, NotFound
from haocha_cli.tomlfile import read_toml

# code, primary (一级指标), primary_en, secondary (二级指标), secondary_en, scope, description
INDICATORS = [
    ("A1", "仪容仪表", "appearance", "着装规范", "dress and badge", "offline", "着装统一、佩戴工作牌"),
    ("A2", "仪容仪表", "appearance", "举止规范", "manner", "offline", "举止文明、用语规范"),
    ("B1", "现场管理", "site management", "公示材料", "published guides", "common", "办事指南、收费标准、办理时限公开"),
    ("B2", "现场管理", "site management", "环境秩序", "tidy hall, queue order", "offline", "大厅整洁、排队有序"),
    ("B3", "现场管理", "site management", "便民设施", "convenience facilities", "offline", "座椅、填单台、自助终端齐全"),
    ("C1", "工作态度", "attitude", "服务规范", "courteous standard service", "common", "热情规范、首问负责"),
    ("C2", "工作态度", "attitude", "耐心解答", "patient answers", "common", "耐心解答、一次性告知"),
    ("D1", "工作效率", "efficiency", "办理时限", "within the promised time", "common", "在承诺时限内办结"),
    ("D2", "工作效率", "efficiency", "一次办好", "done in one go", "common", "一次办好、最多跑一次"),
    ("D3", "工作效率", "efficiency", "网办便捷", "online service easy", "online", "网上办理便捷、进度可查"),
    ("E1", "工作纪律", "discipline", "廉洁自律", "integrity", "common", "不吃拿卡要"),
    ("E2", "工作纪律", "discipline", "公平公正", "fair treatment", "common", "一视同仁、无法外要求"),
]
MODES = ("offline", "online")
ALLOWED_COMPARISONS = {Fraction(10), Fraction(5), Fraction(1), Fraction(1, 5), Fraction(1, 10)}


def in_scope(scope: str, mode: str) -> bool:
    return scope == "common" or scope == mode


def default_matrix_path() -> Path:
    from haocha_cli.resources import resource_path

    return resource_path("examples") / "indicators-v1.0.toml"


def load_matrix(path: str | Path) -> dict[str, Any]:
    from haocha_cli.readers import regular_file

    return read_toml(regular_file(path, missing_hint="give the path of a priority-matrix TOML file"))


def _fraction(value: Any, where: str) -> Fraction:
    try:
        result = Fraction(str(value).strip())
    except (ValueError, ZeroDivisionError):
        raise InvalidInput(f"{where}: {value!r} is not a number", "write 10, 5, 1, 1/5 or 1/10") from None
    return result


def _criteria_weights(matrix: dict[str, Any]) -> list[dict[str, Any]]:
    criteria = matrix.get("criteria")
    if not isinstance(criteria, list) or not criteria or len(set(criteria)) != len(criteria):
        raise InvalidInput("the matrix needs a list `criteria` of distinct names", 'e.g. criteria = ["影响程度", "相关性"]')
    if "criteria_weights" in matrix:
        given = matrix["criteria_weights"]
        values = []
        for name in criteria:
            if name not in given:
                raise InvalidInput(f"criteria_weights has no weight for {name}", "give one per criterion")
            values.append(_fraction(given[name], f"criteria_weights.{name}"))
        if any(v < 0 for v in values):
            raise InvalidInput("criteria weights cannot be negative", "use 0 or more")
        total = sum(values)
        if total == 0:
            raise InvalidInput("the criteria weights are all zero and cannot be normalised", "give at least one positive weight")
        return [{"criterion": n, "given": float(v), "row_total": float(v), "weight": float(v / total)}
                for n, v in zip(criteria, values, strict=True)]
    pairwise = matrix.get("pairwise")
    if not isinstance(pairwise, dict):
        raise InvalidInput("the matrix needs [pairwise] comparisons or [criteria_weights]", "see docs/method.md")
    table: list[list[Fraction]] = []
    for name in criteria:
        row = pairwise.get(name)
        if not isinstance(row, list) or len(row) != len(criteria):
            raise InvalidInput(f"pairwise row {name} must list {len(criteria)} values", "one per criterion, in order")
        table.append([_fraction(v, f"pairwise.{name}") for v in row])
    k = len(criteria)
    for i in range(k):
        for j in range(k):
            if i == j:
                continue
            if table[i][j] not in ALLOWED_COMPARISONS:
                raise InvalidInput(
                    f"pairwise {criteria[i]} vs {criteria[j]} is {table[i][j]}", "comparisons are 10, 5, 1, 1/5 or 1/10"
                )
            if table[i][j] * table[j][i] != 1:
                raise InvalidInput(
                    f"pairwise {criteria[i]} vs {criteria[j]} ({table[i][j]}) and {criteria[j]} vs {criteria[i]}"
                    f" ({table[j][i]}) are not reciprocal", "if A vs B is 5, B vs A must be 1/5"
                )
    # The diagonal (a criterion against itself) is not counted: full analytical criteria method.
    totals = [sum(table[i][j] for j in range(k) if j != i) for i in range(k)]
    grand = sum(totals)
    return [
        {"criterion": criteria[i], "row": [str(v) for v in table[i]], "row_total": float(totals[i]),
         "weight": float(totals[i] / grand)}
        for i in range(k)
    ]


def weigh(matrix: dict[str, Any]) -> dict[str, Any]:
    """Every step of the priority-matrix computation: criteria weights, indicator priorities, and each
    mode's weights (priorities of the indicators in scope, normalised to sum to 1)."""
    criteria = _criteria_weights(matrix)
    names = [c["criterion"] for c in criteria]
    scores = matrix.get("scores")
    if not isinstance(scores, dict):
        raise InvalidInput("the matrix needs a [scores] table", "one line per indicator, e.g. A1 = [2, 2, 5]")
    known = {i[0]: i for i in INDICATORS}
    unknown = sorted(set(scores) - set(known))
    if unknown:
        raise InvalidInput(f"indicator code(s) {', '.join(unknown)} do not exist", f"codes are {', '.join(known)}")
    missing = [c for c in known if c not in scores]
    if missing:
        raise InvalidInput(f"indicator(s) {', '.join(missing)} have no scores", "score every indicator")
    indicators = []
    for code, (_, primary, _, name, _, scope, _) in known.items():
        row = scores[code]
        if not isinstance(row, list) or len(row) != len(names):
            raise InvalidInput(f"scores of {code} must list {len(names)} values", f"one per criterion: {', '.join(names)}")
        values = [float(_fraction(v, f"scores.{code}")) for v in row]
        if any(v < 0 for v in values):
            raise InvalidInput(f"scores of {code} cannot be negative", "score 0 to 5")
        priority = sum(c["weight"] * v for c, v in zip(criteria, values, strict=True))
        terms = " + ".join(f"{c['weight']:.4f}×{v:g}" for c, v in zip(criteria, values, strict=True))
        indicators.append({"code": code, "primary": primary, "name": name, "scope": scope,
                           "scores": dict(zip(names, values, strict=True)), "priority": priority,
                           "computation": f"{terms} = {priority:.4f}"})
    weights: dict[str, list[dict[str, Any]]] = {}
    for mode in MODES:
        in_mode = [i for i in indicators if in_scope(i["scope"], mode)]
        total = sum(i["priority"] for i in in_mode)
        if total <= 0:
            raise InvalidInput(f"the {mode} priorities are all zero and cannot be normalised", "give some indicator a positive score")
        weights[mode] = [{"code": i["code"], "name": i["name"], "priority": i["priority"],
                          "weight": i["priority"] / total} for i in in_mode]
    return {"version": matrix.get("version"), "note": matrix.get("note", ""), "criteria": criteria,
            "indicators": indicators, "weights": weights}


def install_indicators(db: sqlite_utils.Database) -> int:
    """Make sure the 12 indicator definitions exist; returns how many were added."""
    added = 0
    for code, primary, primary_en, name, name_en, scope, description in INDICATORS:
        if not db.execute("SELECT 1 FROM indicators WHERE code = ?", [code]).fetchone():
            db["indicators"].insert({"code": code, "primary_name": primary, "primary_en": primary_en, "name": name,
                                     "name_en": name_en, "scope": scope, "description": description})
            added += 1
    return added


def apply_version(ctx: Context, result: dict[str, Any], version: str, active_from: date | None = None,
                  matrix: dict[str, Any] | None = None) -> dict[str, Any]:
    """Store the computed weights as a new version, used for ratings from ``active_from`` (today) on."""
    ctx.require_city("changing the indicator system")
    version = version.strip()
    if not version:
        raise InvalidInput("a version name is needed", "e.g. --version V1.1")
    active_from = active_from or today()
    if ctx.db.execute("SELECT 1 FROM indicator_versions WHERE version = ?", [version]).fetchone():
        raise InvalidInput(f"indicator version {version} exists already", "versions are never changed; choose a new name")
    with transaction(ctx.db):
        install_indicators(ctx.db)
        ctx.db["indicator_versions"].insert({"version": version, "active_from": active_from.isoformat(),
                                             "created_at": now_text(), "method": json.dumps(matrix or {}, ensure_ascii=False),
                                             "note": result.get("note") or ""})
        rows = [{"version": version, "mode": mode, "indicator_code": w["code"], "priority": w["priority"],
                 "weight": w["weight"]} for mode, ws in result["weights"].items() for w in ws]
        ctx.db["indicator_weights"].insert_all(rows)
        audit.record(ctx.db, ctx.operator, "indicators.apply", "indicator_versions", version, None,
                     {"active_from": active_from.isoformat(),
                      "weights": {m: {w["code"]: round(w["weight"], 6) for w in ws} for m, ws in result["weights"].items()}})
    return {"version": version, "active_from": active_from.isoformat()}


def versions(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return list(db.query("SELECT version, active_from, created_at, note FROM indicator_versions ORDER BY active_from, created_at"))


def version_on(db: sqlite_utils.Database, day: date | str) -> str:
    """The version in force on a day: the latest whose active_from is on or before it (else the first)."""
    day = day.isoformat() if isinstance(day, date) else day
    row = db.execute(
        "SELECT version FROM indicator_versions WHERE active_from <= ? ORDER BY active_from DESC, created_at DESC LIMIT 1",
        [day],
    ).fetchone() or db.execute("SELECT version FROM indicator_versions ORDER BY active_from, created_at LIMIT 1").fetchone()
    if not row:
        raise NotFound("no indicator system is installed", "run `haocha init`")
    return row[0]


def weights(db: sqlite_utils.Database, version: str) -> dict[str, dict[str, float]]:
    """{mode: {indicator code: weight}}"""
    result: dict[str, dict[str, float]] = {m: {} for m in MODES}
    for mode, code, weight in db.execute(
        "SELECT mode, indicator_code, weight FROM indicator_weights WHERE version = ? ORDER BY indicator_code", [version]
    ):
        result[mode][code] = weight
    if not any(result.values()):
        known = ", ".join(v["version"] for v in versions(db))
        raise NotFound(f"indicator version {version} does not exist", f"versions: {known}")
    return result


def show(db: sqlite_utils.Database, version: str | None = None) -> dict[str, Any]:
    version = version or version_on(db, today())
    w = weights(db, version)
    info = next(v for v in versions(db) if v["version"] == version)
    rows = []
    for r in db.query("SELECT code, primary_name, name, scope FROM indicators ORDER BY code"):
        rows.append({**r, "weight_offline": w["offline"].get(r["code"]), "weight_online": w["online"].get(r["code"])})
    return {"version": version, "active_from": info["active_from"], "note": info["note"], "indicators": rows,
            "sums": {m: sum(w[m].values()) for m in MODES}}
