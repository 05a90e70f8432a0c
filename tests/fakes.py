"""Stand-ins shared by unit tests: a clock moved by hand and a hub that keeps what it is sent."""

from __future__ import annotations

from visionflow.stream import TickMessages


class FakeClock:
    """Wall-clock seconds that move only when a test says so."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float = 1 / 60) -> None:
        self.t += seconds


class RecordingHub:
    """Takes the place of the stream hub: every tick's messages, in order."""

    def __init__(self) -> None:
        self.ticks: list[TickMessages] = []

    def publish(self, tick: TickMessages) -> None:
        self.ticks.append(tick)
