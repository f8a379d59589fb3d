"""A quality engineer's own series (`haocha spc --series FILE.csv`): a CSV of samples, checked line by line and
charted by the same engine (haocha_cli/control_charts.py) as the database charts. No database is read.

Columns (a header line first; the order of the lines is the order of the chart):

- ``label`` — a day, a sample number, a batch: any text, each label once;
- p, np and Laney p′ charts: ``count`` (bad or nonconforming items) and ``size`` (the sample's n);
- individuals (XmR): ``value``;
- X̄: ``mean``, ``size`` and ``sd`` (the sample's standard deviation) or ``range``.

The file is UTF-8 (with or without a byte-order mark) or GB18030, as Chinese Excel saves CSV; commas, tabs or
semicolons separate the cells. Every problem is one ``InvalidInput`` naming the file and the line.
"""

from __future__ import annotations

import csv
import io
import math
import unicodedata
from pathlib import Path
from typing import Any

from haocha_cli import control_charts
from haocha_cli.errors import InvalidInput

CHARTS = ("p", "np", "laney", "xmr", "xbar")
# A series is a few hundred lines; a file far bigger than any chart is refused before it is read.
MAX_BYTES = 8 << 20
# Beyond this, sums and squares of the values lose every digit that matters (or overflow): no measurement is.
MAX_NUMBER = 1e15
# What a column may be called in the header (an English name, or the Chinese a bureau's sheet would use).
_NAMES = {
    "label": ("label", "sample", "标签", "样本", "样本号", "日期", "批次"),
    "count": ("count", "不合格数", "差评数", "缺陷数"),
    "size": ("size", "n", "样本量", "样本数", "评价数"),
    "value": ("value", "值", "观测值"),
    "mean": ("mean", "均值", "平均值"),
    "sd": ("sd", "s", "标准差"),
    "range": ("range", "r", "极差"),
}
_COLUMN = {name.lower(): key for key, names in _NAMES.items() for name in names}
_NEEDS = {
    "p": ("count", "size"),
    "np": ("count", "size"),
    "laney": ("count", "size"),
    "xmr": ("value",),
    "xbar": ("mean", "size"),
}
_CHART_NAMES = {"p": "p 控制图", "np": "np 控制图", "laney": "Laney p′ 控制图", "xmr": "单值-移动极差控制图",
                "xbar": "均值控制图"}


def chart_name(kind: str) -> str:
    """The chart's name as the bureau reads it (for titles)."""
    return _CHART_NAMES[kind]


def read_series(path: str | Path) -> tuple[Path, dict[str, int], list[tuple[int, list[str]]]]:
    """The file, its columns (key → cell index) and its non-blank lines as (line number, cells)."""
    from haocha_cli.readers import decode_small_text, regular_file

    path = regular_file(path, "series file", folder_hint="give the path of a CSV file")
    if path.stat().st_size > MAX_BYTES:
        raise InvalidInput(f"{path.name} is {path.stat().st_size >> 20} MiB: too big for a control chart series",
                           f"a series file holds one line a sample; split it below {MAX_BYTES >> 20} MiB")
    text = decode_small_text(path, path.read_bytes())
    first = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=first.count) if any(d in first for d in ",\t;") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    lines: list[tuple[int, list[str]]] = []
    last = 0
    try:
        for cells in reader:
            number, last = last + 1, reader.line_num
            if any(c.strip() for c in cells):
                lines.append((number, [c.strip() for c in cells]))
    except csv.Error as exc:
        raise InvalidInput(f"{path.name} line {last + 1} cannot be read ({exc})",
                           "quote a cell that holds the separator, and close every quote") from None
    if not lines:
        raise InvalidInput(f"{path.name} is empty", "the first line names the columns, e.g. label,count,size")
    header_line, header = lines[0]
    columns: dict[str, int] = {}
    for i, name in enumerate(header):
        key = _COLUMN.get(unicodedata.normalize("NFKC", name).strip().lower())
        if key is None:
            continue
        if key in columns:
            raise InvalidInput(f"{path.name} line {header_line}: columns {header[columns[key]]} and {name} both give "
                               f"{key}", "keep one of them")
        columns[key] = i
    return path, columns, lines[1:]


def _number(path: Path, line: int, column: str, text: str, *, whole: bool = False) -> float:
    cleaned = unicodedata.normalize("NFKC", text).strip().replace(",", "")
    what = f"{path.name} line {line}: {column}"
    if not cleaned:
        raise InvalidInput(f"{what} is empty", f"give a number in the {column} column")
    try:
        value = float(cleaned)
    except ValueError:
        raise InvalidInput(f"{what} {text!r} is not a number", f"write the {column} as digits, e.g. 12 or 0.5") from None
    if not math.isfinite(value):
        raise InvalidInput(f"{what} {text!r} is not a finite number", f"write the {column} as digits")
    if abs(value) > MAX_NUMBER:
        raise InvalidInput(f"{what} {text!r} is too large for a control chart",
                           f"give the {column} in a unit that keeps it below 10¹⁵")
    if whole and (value < 0 or not value.is_integer()):
        raise InvalidInput(f"{what} {text!r} is not a count", f"the {column} is a whole number ≥ 0")
    return int(value) if whole else value


def _default_kind(path: Path, columns: dict[str, int]) -> str:
    if "count" in columns:
        return "p"
    if "value" in columns:
        return "xmr"
    if "mean" in columns:
        return "xbar"
    raise InvalidInput(f"{path.name} line 1: no column count, value or mean",
                       "give label,count,size (p chart), label,value (XmR) or label,mean,sd,size (X̄)")


def series_chart(path: str | Path, kind: str | None = None, baseline: str | None = None,
                 exclude: list[str] | tuple[str, ...] = (), center: float | None = None,
                 sigma: float | None = None, sigma_method: str | None = None,
                 rules: str = "nelson") -> dict[str, Any]:
    """The chart of a series file: the same result as ``daily_charts.chart`` (center, rows, signals, and
    for XmR the moving ranges), with ``file`` and the labels of the baseline's first and last points."""
    path, columns, lines = read_series(path)
    kind = (kind or _default_kind(path, columns)).strip().lower()
    if kind not in CHARTS:
        raise InvalidInput(f"chart {kind!r} is not known", f"use {', '.join(CHARTS)}")
    needs = ["label", *_NEEDS[kind]]
    if kind == "xbar":
        spread = "range" if sigma_method == "range" or ("sd" not in columns and "range" in columns) else "sd"
        if spread == "range" and sigma_method not in (None, "range") and sigma is None:
            raise InvalidInput(f"{path.name} line 1: σ by {sigma_method} needs each sample's standard deviation "
                               "(column sd), the file gives ranges", "give --sigma-method range, or an sd column")
        if sigma is None:
            needs.append(spread)
    missing = [c for c in needs if c not in columns]
    if missing:
        found = ", ".join(sorted(columns)) or "none of label, count, size, value, mean, sd, range"
        raise InvalidInput(f"{path.name} line 1: no column {', '.join(missing)} (the {kind} chart needs "
                           f"{', '.join(needs)}; found {found})", "name the columns in the first line")
    _check_options(kind, center, sigma, sigma_method, baseline, exclude)

    labels: list[str] = []
    where: dict[str, int] = {}
    points: list[tuple[Any, ...]] = []
    width = max(columns.values()) + 1
    for line, cells in lines:
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        label = cells[columns["label"]]
        if not label:
            raise InvalidInput(f"{path.name} line {line}: the label is empty", "give every line a label")
        if label in where:
            raise InvalidInput(f"{path.name} line {line}: label {label} is already on line {where[label]}",
                               "give every sample a label of its own")
        where[label] = line
        labels.append(label)
        if kind in ("p", "np", "laney"):
            count = _number(path, line, "count", cells[columns["count"]], whole=True)
            size = _number(path, line, "size", cells[columns["size"]], whole=True)
            if count > size:
                raise InvalidInput(f"{path.name} line {line}: count {count} is more than the size {size}",
                                   "the count of bad items cannot exceed the sample's n")
            points.append((label, count, size))
        elif kind == "xmr":
            points.append((label, _number(path, line, "value", cells[columns["value"]])))
        else:
            size = _number(path, line, "size", cells[columns["size"]], whole=True)
            if size < 2 and sigma is None and sigma_method != "rmsdf":
                raise InvalidInput(f"{path.name} line {line}: size {size}: an X̄ chart needs samples of 2 or more",
                                   "chart single values as individuals (--chart xmr, column value), or give "
                                   "--sigma-method rmsdf")
            mean = _number(path, line, "mean", cells[columns["mean"]])
            wanted = spread in columns and sigma is None and size >= 2  # a sample of one has no spread
            s = _number(path, line, spread, cells[columns[spread]]) if wanted else None
            if s is not None and s < 0:
                raise InvalidInput(f"{path.name} line {line}: {spread} {s:g} is negative", f"a {spread} is ≥ 0")
            points.append((label, mean, s, size))
    if len(points) < 2:
        raise InvalidInput(f"{path.name} holds {len(points)} sample{'s' if len(points) != 1 else ''}: a control "
                           "chart needs at least 2", "add the samples, one a line")

    standard = center is not None and (sigma is not None or kind in ("p", "np"))
    chosen = None if standard else _baseline_labels(path, labels, where, baseline)
    unknown = [x for x in exclude if x not in where]
    if unknown:
        raise InvalidInput(f"excluded point {unknown[0]} is not in {path.name}", "give labels as the file writes them")
    outside = [x for x in exclude if chosen is not None and x not in chosen]
    if outside:
        raise InvalidInput(f"excluded point {outside[0]} (line {where[outside[0]]}) is not in the baseline",
                           "only baseline (phase I) points can be left out of the limits")
    if chosen is not None:
        usable = [x for x in labels if x in chosen and x not in exclude and _has_value(kind, points[labels.index(x)])]
        if len(usable) < 2:
            lines_of = ", ".join(str(where[x]) for x in usable) or "none"
            raise InvalidInput(f"the baseline of {path.name} holds {len(usable)} usable point"
                               f"{'s' if len(usable) != 1 else ''} (line {lines_of}): limits need at least 2",
                               "widen --baseline, or exclude fewer points")
    base = (lambda label: label in chosen) if chosen is not None else None
    moving_range = None
    if kind in ("p", "laney"):
        main = control_charts.p_chart(points, base, exclude=exclude, laney=kind == "laney", center=center)
    elif kind == "np":
        main = control_charts.np_chart(points, base, exclude=exclude, center=center)
    elif kind == "xmr":
        main, moving_range = control_charts.xmr_chart(points, base, exclude=exclude, sigma_method=sigma_method or "mr",
                                           center=center, sigma=sigma)
        moving_range = control_charts.apply_rules(moving_range, ["nelson1"])
    else:
        method = sigma_method or ("range" if spread == "range" else "pooled")
        main = control_charts.xbar_chart(points, base, exclude=exclude, sigma_method=method, center=center, sigma=sigma)
    main = control_charts.apply_rules(main, rules)
    span = [x for x in labels if chosen is not None and x in chosen]
    return {"file": path.name, "chart_type": kind, "rules": list(main.rules),
            "baseline": {"first": span[0], "last": span[-1]} if span else None,
            "center": main.center, "sigma": main.sigma, "sigma_method": main.method, "sigma_z": main.sigma_z,
            "given": {"center": center, "sigma": sigma} if center is not None or sigma is not None else None,
            "chart": main, "moving_range": moving_range, "rows": main.to_rows(),
            "mr": control_charts.mr_summary(moving_range),
            "signals": [{"label": p.label, "signals": list(p.signals)} for p in main.points if p.signals]}


def _has_value(kind: str, point: tuple[Any, ...]) -> bool:
    return point[2] > 0 if kind in ("p", "np", "laney") else point[1] is not None


def _check_options(kind: str, center: float | None, sigma: float | None, sigma_method: str | None,
                   baseline: str | None, exclude: list[str] | tuple[str, ...]) -> None:
    if kind in ("p", "np", "laney"):
        if sigma is not None:
            raise InvalidInput(f"a {kind} chart's sigma follows from p and n, so --sigma is not for it",
                               "give the standard proportion alone: --center 0.05")
        if sigma_method is not None:
            raise InvalidInput(f"--sigma-method is for xmr and xbar charts, not for a {kind} chart",
                               "leave it out")
    elif kind == "xmr" and sigma_method not in (None, *control_charts.XMR_SIGMA_METHODS):
        raise InvalidInput(f"sigma method {sigma_method!r} is not one of an individuals chart",
                           "use mr (MR̄/d2) or sd (s/c4)")
    elif kind == "xbar" and sigma_method not in (None, *control_charts.XBAR_SIGMA_METHODS):
        raise InvalidInput(f"sigma method {sigma_method!r} is not one of an X̄ chart",
                           "use " + ", ".join(control_charts.XBAR_SIGMA_METHODS))
    standard = center is not None and (sigma is not None or kind in ("p", "np"))
    if standard and (baseline or exclude):
        raise InvalidInput("a chart against given standards takes no baseline and no excluded points",
                           "leave out --baseline and --exclude, or the given standard")


def _baseline_labels(path: Path, labels: list[str], where: dict[str, int], baseline: str | None) -> set[str]:
    """The labels from FIRST to LAST (as the file orders them); every label when no baseline is given."""
    if not baseline:
        return set(labels)
    if ".." not in baseline:
        raise InvalidInput(f"baseline {baseline!r} is not FIRST..LAST", "e.g. --baseline 1..30 (labels of the file)")
    first, last = (part.strip() for part in baseline.split("..", 1))
    for label in (first, last):
        if label not in where:
            raise InvalidInput(f"baseline point {label} is not in {path.name}", "give labels as the file writes them")
    i, j = labels.index(first), labels.index(last)
    if i > j:
        raise InvalidInput(f"the baseline {first}..{last} runs backwards: line {where[first]} comes after line "
                           f"{where[last]}", "give the baseline's first label first")
    return set(labels[i : j + 1])
