"""A sliding-hour budget: how the playbook keeps restarts and escalations rare whatever arrives."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

__all__ = ["HourlyLimit"]

HOUR_S = 3600.0


class HourlyLimit:
    """At most ``per_hour`` events in any ``window_s`` (an hour unless a test says otherwise).

    Sliding rather than fixed buckets, so a burst at the end of one hour and another at the
    start of the next still count against the same budget.
    """

    def __init__(self, per_hour: int, *, clock: Callable[[], float] = time.monotonic, window_s: float = HOUR_S) -> None:
        self.per_hour = per_hour
        self.window_s = window_s
        self._clock = clock
        self._taken: deque[float] = deque()

    def _forget_old(self, now: float) -> None:
        while self._taken and now - self._taken[0] >= self.window_s:
            self._taken.popleft()

    def take(self) -> bool:
        """Spend one event of the budget; False (and nothing spent) when it is used up."""
        now = self._clock()
        self._forget_old(now)
        if len(self._taken) >= self.per_hour:
            return False
        self._taken.append(now)
        return True

    def retry_in_s(self) -> float | None:
        """Seconds until ``take`` can succeed again: 0 when it can now, None when never (a budget of 0)."""
        now = self._clock()
        self._forget_old(now)
        if len(self._taken) < self.per_hour:
            return 0.0
        if not self._taken:
            return None
        return self.window_s - (now - self._taken[0])
