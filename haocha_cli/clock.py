"""Local time of the bureau (Asia/Shanghai, UTC+8, no daylight saving).

``HAOCHA_NOW`` (an ISO date-time) fixes "now" for reproducible demos and tests.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


def now() -> datetime:
    """Naive local time, to the second."""
    fixed = os.environ.get("HAOCHA_NOW")
    if fixed:
        return datetime.fromisoformat(fixed).replace(tzinfo=None, microsecond=0)
    return datetime.now(CHINA).replace(tzinfo=None, microsecond=0)


def now_text() -> str:
    return now().isoformat(sep=" ")


def today() -> date:
    return now().date()
