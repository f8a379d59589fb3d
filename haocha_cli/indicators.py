"""The indicator system (指标体系) as data: each version, imported from a TOML file, defines its primary
dimensions (一级指标) and secondary indicators (二级指标) — code, name, scope, description — and the priority
matrix (优先矩阵, full analytical criteria method) that weighs them per service mode. Nothing here names an
indicator: the default V1.0 is ``examples/indicators-v1.0.toml``."""

from __future__ import annotations

import json
import re
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
    if len(criteria) < 2:  # nothing to compare: every row total would be 0
        raise InvalidInput(f"a pairwise comparison needs two criteria or more, not {len(criteria)}",
                           f"add a criterion, or give its weight instead: [criteria_weights] {criteria[0]} = 1")
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


NOT_ACTIVE = "9999-12-31"  # active_from of a version imported but not (yet) activated
SCOPES = ("common", "offline", "online")
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,15}$")


def _text(entry: dict[str, Any], key: str, where: str, required: bool = True) -> str:
    value = entry.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{where} has no `{key}`", f"give {key} = \"…\" (text)")
    return value.strip()


def parse_system(data: dict[str, Any]) -> dict[str, Any]:
    """A whole indicator system from its TOML: version, note, criteria and [pairwise] (or [criteria_weights]),
    [[dimensions]] (code, name) and [[indicators]] (code, name, dimension, scope, description, scores).
    Checks everything before anything is stored; the first problem is an InvalidInput."""
    version = data.get("version", "")
    if not isinstance(version, str):
        raise InvalidInput("the indicator file's `version` is not text", 'give version = "V2.0" at the top')
    criteria = _criteria_weights(data)
    names = [c["criterion"] for c in criteria]
    dims_in = data.get("dimensions")
    if not isinstance(dims_in, list) or not dims_in or not all(isinstance(d, dict) for d in dims_in):
        raise InvalidInput("the indicator file has no [[dimensions]]", 'give at least one: [[dimensions]] code = "P" name = "服务礼仪"')
    inds_in = data.get("indicators")
    if not isinstance(inds_in, list) or not inds_in or not all(isinstance(i, dict) for i in inds_in):
        raise InvalidInput("the indicator file has no [[indicators]]", "give at least one [[indicators]] table")
    dimensions: list[dict[str, Any]] = []
    dim_names: dict[str, str] = {}
    for n, d in enumerate(dims_in, 1):
        code = _text(d, "code", f"dimension {n}")
        where = f"dimension {code}"
        if not _CODE.match(code):
            raise InvalidInput(f"{where}: code {code!r} is not a short code", "letters, digits and _, starting with a letter, e.g. P")
        if code in dim_names:
            raise InvalidInput(f"duplicate dimension code {code}", "each [[dimensions]] needs its own code")
        name = _text(d, "name", where)
        if name in dim_names.values():
            raise InvalidInput(f"duplicate dimension name {name}", "each dimension needs its own name")
        dim_names[code] = name
        dimensions.append({"code": code, "name": name, "name_en": _text(d, "name_en", where, required=False)})
    indicators: list[dict[str, Any]] = []
    seen_codes: set[str] = set()
    seen_names: set[str] = set()
    for n, i in enumerate(inds_in, 1):
        code = _text(i, "code", f"indicator {n}")
        where = f"indicator {code}"
        if not _CODE.match(code):
            raise InvalidInput(f"{where}: code {code!r} is not a short code", "letters, digits and _, starting with a letter, e.g. P1")
        if code in seen_codes:
            raise InvalidInput(f"duplicate indicator code {code}", "each [[indicators]] needs its own code")
        name = _text(i, "name", where)
        if name in seen_names:
            raise InvalidInput(f"duplicate indicator name {name}", "each indicator needs its own name")
        seen_codes.add(code)
        seen_names.add(name)
        dimension = _text(i, "dimension", where)
        if dimension not in dim_names:
            raise InvalidInput(f"{where}: dimension {dimension!r} is not defined",
                               f"dimensions of the file: {', '.join(dim_names)}")
        scope = _text(i, "scope", where)
        if scope not in SCOPES:
            raise InvalidInput(f"{where}: scope {scope!r} is not common, offline or online",
                               "common: both channels; offline: windows only; online: the online channel only")
        if "description" not in i:
            raise InvalidInput(f"{where} has no `description`", 'give description = "…" (one line the rating page shows)')
        description = i["description"].strip() if isinstance(i["description"], str) else None
        if description is None:
            raise InvalidInput(f"{where}: description is not text", 'give description = "…"')
        scores = i.get("scores")
        if not isinstance(scores, list) or len(scores) != len(names):
            raise InvalidInput(f"{where}: scores must list {len(names)} value(s), one per criterion",
                               f"in the order of criteria: {', '.join(names)}")
        values = [float(_fraction(v, f"scores of {code}")) for v in scores]
        if any(v < 0 or v > 5 for v in values):
            raise InvalidInput(f"scores of {code} must be 0 to 5, not {', '.join(f'{v:g}' for v in values)}",
                               "score each criterion 1 (least) to 5 (most), or 0 for none")
        indicators.append({"code": code, "name": name, "name_en": _text(i, "name_en", where, required=False),
                           "dimension": dimension, "primary": dim_names[dimension], "scope": scope,
                           "description": description, "scores": values})
    empty = [d["code"] for d in dimensions if not any(i["dimension"] == d["code"] for i in indicators)]
    if empty:
        raise InvalidInput(f"dimension(s) {', '.join(empty)} have no indicators", "give each dimension at least one indicator, or remove it")
    return {"version": version.strip(), "note": str(data.get("note") or ""), "criteria": criteria,
            "dimensions": dimensions, "indicators": indicators}


def _legacy_system(matrix: dict[str, Any], base: list[dict[str, Any]]) -> dict[str, Any]:
    """A priority matrix with a [scores] table (code = [scores]) applied to the indicators of ``base``."""
    scores = matrix.get("scores")
    if not isinstance(scores, dict):
        raise InvalidInput("the matrix needs [[indicators]] with their scores (or a [scores] table)",
                           "see examples/indicators-v1.0.toml")
    known = [d["code"] for d in base]
    unknown = sorted(set(scores) - set(known))
    if unknown:
        raise InvalidInput(f"indicator code(s) {', '.join(unknown)} do not exist", f"codes are {', '.join(known)}")
    missing = [c for c in known if c not in scores]
    if missing:
        raise InvalidInput(f"indicator(s) {', '.join(missing)} have no scores", "score every indicator")
    dims: dict[str, dict[str, Any]] = {}
    inds = []
    for d in base:
        dims.setdefault(d["dimension_code"], {"code": d["dimension_code"], "name": d["dimension_name"],
                                              "name_en": d.get("dimension_name_en", "")})
        inds.append({"code": d["code"], "name": d["name"], "name_en": d["name_en"], "dimension": d["dimension_code"],
                     "scope": d["scope"], "description": d["description"], "scores": scores[d["code"]]})
    return {**{k: v for k, v in matrix.items() if k != "scores"}, "dimensions": list(dims.values()), "indicators": inds}


def weigh(matrix: dict[str, Any], db: sqlite_utils.Database | None = None) -> dict[str, Any]:
    """Every step of the priority-matrix computation: criteria weights, indicator priorities, and each
    mode's weights (priorities of the indicators in scope, normalised to sum to 1). ``matrix`` is an
    indicator file; one with a [scores] table instead of [[indicators]] re-weighs the indicators of the
    version in force today (``db``)."""
    if "indicators" not in matrix and "scores" in matrix:
        _criteria_weights(matrix)  # the matrix's own mistakes first
        if db is None:
            raise InvalidInput("a [scores] table needs a database to take the indicators from", "give [[indicators]]")
        matrix = _legacy_system(matrix, definitions(db, version_on(db, today())))
    system = parse_system(matrix)
    criteria = system["criteria"]
    names = [c["criterion"] for c in criteria]
    indicators = []
    for ind in system["indicators"]:
        values = ind["scores"]
        priority = sum(c["weight"] * v for c, v in zip(criteria, values, strict=True))
        terms = " + ".join(f"{c['weight']:.4f}×{v:g}" for c, v in zip(criteria, values, strict=True))
        indicators.append({"code": ind["code"], "primary": ind["primary"], "name": ind["name"], "scope": ind["scope"],
                           "scores": dict(zip(names, values, strict=True)), "priority": priority,
                           "computation": f"{terms} = {priority:.4f}"})
    weights: dict[str, list[dict[str, Any]]] = {}
    for mode in MODES:
        in_mode = [i for i in indicators if in_scope(i["scope"], mode)]
        if not in_mode:
            raise InvalidInput(f"no indicator is in the {mode} scope", f"give at least one common or {mode} indicator")
        total = sum(i["priority"] for i in in_mode)
        if total <= 0:
            raise InvalidInput(f"the {mode} priorities are all zero and cannot be normalised",
                               "give some indicator a positive score")
        weights[mode] = [{"code": i["code"], "name": i["name"], "priority": i["priority"],
                          "weight": i["priority"] / total} for i in in_mode]
    return {"version": system["version"], "note": system["note"], "criteria": criteria,
            "indicators": indicators, "weights": weights, "system": system}


def _check_registry(db: sqlite_utils.Database, system: dict[str, Any]) -> None:
    """A code keeps its meaning across versions, and a name its code."""
    by_code = {r[0]: r[1] for r in db.execute("SELECT code, name FROM indicators")}
    by_name = {name: code for code, name in by_code.items()}
    for ind in system["indicators"]:
        code, name = ind["code"], ind["name"]
        if code in by_code and by_code[code] != name:
            raise InvalidInput(f"indicator code {code} is {by_code[code]} in an earlier version, not {name}",
                               "a code keeps its meaning: give the new indicator a new code")
        if name in by_name and by_name[name] != code:
            raise InvalidInput(f"indicator {name} has code {by_name[name]} in an earlier version, not {code}",
                               f"keep code {by_name[name]} for {name}, or name the new indicator otherwise")


def _store(ctx: Context, result: dict[str, Any], version: str, active_from: str, matrix: dict[str, Any]) -> None:
    db = ctx.db
    system = result["system"]
    db["indicator_versions"].insert({"version": version, "active_from": active_from, "created_at": now_text(),
                                     "method": json.dumps(matrix, ensure_ascii=False, default=str),
                                     "note": result.get("note") or ""})
    db["indicator_dimensions"].insert_all(
        [{"version": version, "code": d["code"], "name": d["name"], "name_en": d["name_en"], "position": n}
         for n, d in enumerate(system["dimensions"], 1)])
    for ind in system["indicators"]:
        if not db.execute("SELECT 1 FROM indicators WHERE code = ?", [ind["code"]]).fetchone():
            dim = next(d for d in system["dimensions"] if d["code"] == ind["dimension"])
            db["indicators"].insert({"code": ind["code"], "primary_name": dim["name"], "primary_en": dim["name_en"],
                                     "name": ind["name"], "name_en": ind["name_en"], "scope": ind["scope"],
                                     "description": ind["description"]})
    db["indicator_defs"].insert_all(
        [{"version": version, "code": i["code"], "dimension_code": i["dimension"], "name": i["name"],
          "name_en": i["name_en"], "scope": i["scope"], "description": i["description"],
          "scores": json.dumps(i["scores"]), "position": n} for n, i in enumerate(system["indicators"], 1)])
    rows = [{"version": version, "mode": mode, "indicator_code": w["code"], "priority": w["priority"],
             "weight": w["weight"]} for mode, ws in result["weights"].items() for w in ws]
    db["indicator_weights"].insert_all(rows)


def import_system(ctx: Context, data: dict[str, Any], version: str | None = None) -> dict[str, Any]:
    """Store an indicator file as a new version (weighed, not yet in force: `activate` sets its first day)."""
    ctx.require_city("changing the indicator system")
    result = weigh(data, ctx.db)
    name = (version or result["version"]).strip()
    if not name:
        raise InvalidInput("the indicator file has no `version`", 'give version = "V2.0" at the top')
    if ctx.db.execute("SELECT 1 FROM indicator_versions WHERE version = ?", [name]).fetchone():
        raise InvalidInput(f"indicator version {name} exists already",
                           "versions are never changed; choose a new name")
    _check_registry(ctx.db, result["system"])
    system = result["system"]
    with transaction(ctx.db):
        _store(ctx, result, name, NOT_ACTIVE, data)
        audit.record(ctx.db, ctx.operator, "indicators.import", "indicator_versions", name, None,
                     {"dimensions": [d["code"] for d in system["dimensions"]],
                      "indicators": [i["code"] for i in system["indicators"]],
                      "weights": {m: {w["code"]: round(w["weight"], 6) for w in ws} for m, ws in result["weights"].items()}})
    return {"version": name, "dimensions": len(system["dimensions"]), "indicators": len(system["indicators"]),
            "weights": result["weights"], "active_from": None}


def activate(ctx: Context, version: str, active_from: date, *, check_ratings: bool = True) -> dict[str, Any]:
    """Put a version in force for ratings from ``active_from`` on. Refused when ratings of that day or later
    are stored already (they keep the version they were scored under), or when ratings were scored under
    this version already (its first day is then fixed)."""
    ctx.require_city("changing the indicator system")
    row = ctx.db.execute("SELECT active_from FROM indicator_versions WHERE version = ?", [version]).fetchone()
    if row is None:
        known = ", ".join(v["version"] for v in versions(ctx.db)) or "none"
        raise NotFound(f"indicator version {version} does not exist", f"versions: {known}; import it first")
    day = active_from.isoformat()
    if check_ratings:
        used = ctx.db.execute("SELECT count(*) FROM ratings WHERE weights_version = ?", [version]).fetchone()[0]
        if used:
            raise InvalidInput(f"indicator version {version} is in force from {row[0]} and {used} rating(s) are "
                               "scored under it", "its first day is fixed; import a new version to change the system")
        later = ctx.db.execute("SELECT min(day), group_concat(DISTINCT weights_version) FROM ratings WHERE day >= ?",
                               [day]).fetchone()
        if later[0]:
            raise InvalidInput(f"ratings from {later[0]} on are already scored under {later[1]}",
                               f"activate {version} from a day after the last rating imported, e.g. tomorrow")
    before = None if row[0] == NOT_ACTIVE else row[0]
    with transaction(ctx.db):
        ctx.db.execute("UPDATE indicator_versions SET active_from = ? WHERE version = ?", [day, version])
        audit.record(ctx.db, ctx.operator, "indicators.activate", "indicator_versions", version,
                     {"active_from": before}, {"active_from": day})
    return {"version": version, "active_from": day, "before": before}


def apply_version(ctx: Context, result: dict[str, Any], version: str, active_from: date | None = None,
                  matrix: dict[str, Any] | None = None) -> dict[str, Any]:
    """`weigh --apply`: store the weighed file as a new version in force from ``active_from`` (today)."""
    stored = import_system(ctx, matrix if matrix is not None else result["system"], version)
    return activate(ctx, stored["version"], active_from or today())


def versions(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every version with its state: 在用 (in force today), 已排期 (from a later day), 已停用 (superseded),
    未启用 (imported, not activated)."""
    rows = list(db.query(
        "SELECT v.version, v.active_from, v.created_at, v.note,"
        " (SELECT count(*) FROM indicator_dimensions d WHERE d.version = v.version) AS dimensions,"
        " (SELECT count(*) FROM indicator_defs i WHERE i.version = v.version) AS indicators"
        " FROM indicator_versions v ORDER BY v.active_from, v.created_at"))
    current = version_on(db, today()) if any(r["active_from"] != NOT_ACTIVE for r in rows) else None
    now = today().isoformat()
    for r in rows:
        if r["active_from"] == NOT_ACTIVE:
            r["active_from"], r["state"] = None, "未启用"
        elif r["version"] == current:
            r["state"] = "在用"
        elif r["active_from"] > now:
            r["state"] = "已排期"
        else:
            r["state"] = "已停用"
    return [{k: r[k] for k in ("version", "state", "active_from", "dimensions", "indicators", "created_at", "note")}
            for r in rows]


def version_on(db: sqlite_utils.Database, day: date | str) -> str:
    """The version in force on a day: the latest activated whose active_from is on or before it (else the first)."""
    day = day.isoformat() if isinstance(day, date) else day
    row = db.execute(
        "SELECT version FROM indicator_versions WHERE active_from <= ? AND active_from < ?"
        " ORDER BY active_from DESC, created_at DESC LIMIT 1", [day, NOT_ACTIVE],
    ).fetchone() or db.execute("SELECT version FROM indicator_versions WHERE active_from < ?"
                               " ORDER BY active_from, created_at LIMIT 1", [NOT_ACTIVE]).fetchone()
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


def definitions(db: sqlite_utils.Database, version: str) -> list[dict[str, Any]]:
    """The indicators of a version in the file's order: code, name, name_en, dimension, scope, description."""
    rows = list(db.query(
        "SELECT i.code, i.name, i.name_en, i.dimension_code, d.name AS dimension_name, d.name_en AS dimension_name_en,"
        " i.scope, i.description FROM indicator_defs i JOIN indicator_dimensions d"
        " ON d.version = i.version AND d.code = i.dimension_code WHERE i.version = ? ORDER BY d.position, i.position",
        [version]))
    if not rows and not db.execute("SELECT 1 FROM indicator_versions WHERE version = ?", [version]).fetchone():
        known = ", ".join(v["version"] for v in versions(db))
        raise NotFound(f"indicator version {version} does not exist", f"versions: {known}")
    return rows


def in_force(db: sqlite_utils.Database, day: date | str | None = None) -> list[dict[str, Any]]:
    """The indicators of the version in force on ``day`` (today)."""
    return definitions(db, version_on(db, day or today()))


def registry(db: sqlite_utils.Database, versions_: list[str] | None = None) -> list[dict[str, Any]]:
    """Every indicator code any version (or one of ``versions_``) defines, once, in the versions' order:
    code, name, name_en (a code has one meaning across versions)."""
    sql = ("SELECT i.code, i.name, i.name_en, min(v.active_from || ' ' || v.created_at) AS first, min(i.position) AS pos"
           " FROM indicator_defs i JOIN indicator_versions v ON v.version = i.version")
    params: list[str] = []
    if versions_ is not None:
        sql += f" WHERE i.version IN ({', '.join('?' * len(versions_))})"
        params = list(versions_)
    sql += " GROUP BY i.code ORDER BY first, pos"
    return [{"code": r["code"], "name": r["name"], "name_en": r["name_en"]} for r in db.query(sql, params)]


def show(db: sqlite_utils.Database, version: str | None = None) -> dict[str, Any]:
    version = version or version_on(db, today())
    w = weights(db, version)
    info = next(v for v in versions(db) if v["version"] == version)
    rows = []
    for r in definitions(db, version):
        rows.append({"code": r["code"], "primary_name": r["dimension_name"], "name": r["name"], "scope": r["scope"],
                     "description": r["description"],
                     "weight_offline": w["offline"].get(r["code"]), "weight_online": w["online"].get(r["code"])})
    return {"version": version, "active_from": info["active_from"], "state": info["state"], "note": info["note"],
            "indicators": rows, "sums": {m: sum(w[m].values()) for m in MODES}}
