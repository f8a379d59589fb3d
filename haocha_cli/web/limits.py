"""Rate limits of `haocha serve`: per client address and per login address (in memory, one process).

The per-phone limit of the rating page is counted in the database instead (``rating.Service.store``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any


class RateLimiter:
    """Sliding-window counters in memory (one process): ``hit`` counts an event and says whether it is allowed.

    A key's hits older than the window are forgotten; keys with none left are dropped, so memory stays
    bounded by the traffic of one window.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._hits: dict[Any, deque[float]] = {}
        self._lock = threading.Lock()
        self._last_sweep = clock()

    def _recent(self, key: Any, window_s: float, now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            return deque()
        while hits and hits[0] <= now - window_s:
            hits.popleft()
        return hits

    def allowed(self, key: Any, limit: int, window_s: float) -> bool:
        """Whether one more event would be within ``limit`` (0: no limit); counts nothing."""
        if not limit:
            return True
        with self._lock:
            return len(self._recent(key, window_s, self._clock())) < limit

    def record(self, key: Any, window_s: float) -> None:
        with self._lock:
            now = self._clock()
            self._recent(key, window_s, now)
            self._hits.setdefault(key, deque()).append(now)
            if now - self._last_sweep > window_s:
                for k in [k for k, v in self._hits.items() if not v or v[-1] <= now - window_s]:
                    del self._hits[k]
                self._last_sweep = now

    def hit(self, key: Any, limit: int, window_s: float) -> bool:
        """Count one event; False (and not counted) when the key already had ``limit`` within the window."""
        if not limit:
            return True
        with self._lock:
            now = self._clock()
            hits = self._recent(key, window_s, now)
            if len(hits) >= limit:
                return False
        self.record(key, window_s)
        return True
