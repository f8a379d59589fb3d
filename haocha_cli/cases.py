"""The closed loop (闭环): rectification cases (整改事项) opened for bad reviews.

This module is being built for the closed-loop issue; the import pipeline calls ``open_cases`` inside its
batch transaction, so that a bad review and its case are written together or not at all.
"""

from __future__ import annotations

from typing import Any

from haocha_cli.context import Context


def open_cases(ctx: Context, ratings: list[dict[str, Any]]) -> int:
    """Open one case per bad review among ``ratings`` (rows as inserted into ``ratings``, with ``id``).

    Called inside the importer's transaction. Returns the number of cases opened.
    """
    return 0
