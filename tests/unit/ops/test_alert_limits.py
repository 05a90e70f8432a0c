"""The sliding-hour budget behind restarts and escalations."""

from __future__ import annotations

from visionflow.ops.alert_limits import HourlyLimit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_budget_is_spent_then_each_use_comes_back_an_hour_later() -> None:
    clock = Clock()
    limit = HourlyLimit(3, clock=clock)
    assert [limit.take() for _ in range(4)] == [True, True, True, False]
    assert limit.retry_in_s() == 3600.0
    clock.now += 1800
    assert not limit.take() and limit.retry_in_s() == 1800.0
    clock.now += 1800
    assert limit.retry_in_s() == 0.0
    assert [limit.take() for _ in range(4)] == [True, True, True, False]


def test_the_window_slides_across_the_hour() -> None:
    clock = Clock()
    limit = HourlyLimit(2, clock=clock)
    assert limit.take()
    clock.now += 3000
    assert limit.take() and not limit.take()
    clock.now += 600  # the first use is an hour old; the second is not
    assert limit.take() and not limit.take()


def test_a_budget_of_zero_never_allows_anything() -> None:
    limit = HourlyLimit(0, clock=Clock())
    assert not limit.take() and limit.retry_in_s() is None
