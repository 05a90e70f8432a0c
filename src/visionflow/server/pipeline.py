"""The 60 Hz loop: source -> swarm -> physics -> encode -> broadcast, each stage timed.

A tick that overruns its period is counted and logged, and the schedule restarts from
now instead of trying to catch up, so ticks never pile up. Large graphs are stepped in a
worker thread (the kernels release the GIL) so the HTTP API keeps answering meanwhile.

A settled layout goes to rest: once the engine's kinetic energy per node is under
``SimParams.rest_energy``, the loop stops stepping, encoding and sending frames. At rest
it only polls the source a few times a second; membership or link changes, a parameter
change or a pin (``wake()``) bring it back. Agent metadata that changes at rest (status,
load) is still sent as text; no position frames go out.

What clients are told besides frames (agent news, snapshots) is ``news.SwarmNews``'s job;
the JSON the API serves is ``views``'.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from visionflow.observability.logging import RateLimitedLog, log_event
from visionflow.observability.metrics import Metrics
from visionflow.observability.tracing import Tracing, current_tracing
from visionflow.physics import PhysicsEngine
from visionflow.protocol.binary import RECORD_SIZE, DeltaEncoder
from visionflow.server.news import SwarmNews
from visionflow.sources import AgentSource
from visionflow.stream import TickMessages
from visionflow.swarm import EventKind, SwarmChanges, SwarmState

__all__ = ["MIN_AWAKE_STEPS", "PhysicsRunner", "Pipeline", "TickSink", "TickTimes", "run_here", "run_in_thread"]

log = logging.getLogger("visionflow.pipeline")

_SAVING_ALPHA = 1.0 / 600.0
"""Weight of one tick in the delta-saving moving average: about 10 s at 60 Hz."""
MIN_AWAKE_STEPS = 30
"""Steps a woken layout takes before it may rest again (one step after a change moves little)."""

PhysicsRunner = Callable[[Callable[[], None]], Awaitable[None]]
"""Where a tick runs its physics step: here (``run_here``) or in a worker thread (``run_in_thread``)."""


async def run_here(step: Callable[[], None]) -> None:
    """Run ``step`` in the calling thread; never suspends, so a tick using it can run without a loop."""
    step()


async def run_in_thread(step: Callable[[], None]) -> None:
    """Run ``step`` in the event loop's default executor, so the loop serves HTTP meanwhile."""
    await asyncio.get_running_loop().run_in_executor(None, step)


class TickSink(Protocol):
    """Where each tick's messages go: the stream hub, or a recorder in tests."""

    def publish(self, tick: TickMessages) -> None: ...


@dataclass(slots=True)
class TickTimes:
    """Seconds spent in each stage of one tick."""

    source: float = 0.0
    swarm: float = 0.0
    physics: float = 0.0
    encode: float = 0.0
    broadcast: float = 0.0

    @property
    def total(self) -> float:
        return self.source + self.swarm + self.physics + self.encode + self.broadcast

    def as_dict(self) -> dict[str, float]:
        return {
            "source": self.source,
            "swarm": self.swarm,
            "physics": self.physics,
            "encode": self.encode,
            "broadcast": self.broadcast,
            "total": self.total,
        }


class Pipeline:
    """Runs ticks: reads the source, keeps the engine in step with the swarm, and sends the result."""

    def __init__(
        self,
        state: SwarmState,
        source: AgentSource,
        engine: PhysicsEngine,
        metrics: Metrics,
        *,
        news: SwarmNews | None = None,
        hub: TickSink | None = None,
        tick_hz: float = 60.0,
        delta: DeltaEncoder | None = None,
        physics_thread_threshold: int = 20_000,
        rest_poll_hz: float = 4.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        tracing: Tracing | None = None,
        slow_tick_ms: float = 10.0,
    ) -> None:
        """``news`` defaults to one over ``state`` and ``engine`` at 10 Hz of metadata; the runtime
        passes its own, the one its hub takes snapshots from. ``hub`` gets every tick's messages."""
        if news is None:
            news = SwarmNews(state, engine, tick_hz=tick_hz, wall_clock=wall_clock)
        elif news.state is not state or news.engine is not engine:
            raise ValueError("news must report on the pipeline's own state and engine")
        self.state = state
        self.source = source
        self.engine = engine
        self.metrics = metrics
        self.news = news
        self.hub = hub
        self.period = 1.0 / tick_hz
        self.delta = delta or DeltaEncoder()
        self.physics_thread_threshold = physics_thread_threshold
        self._clock = clock
        self._wall = wall_clock
        self.last_times = TickTimes()
        self.last_tick_at: float | None = None
        self._last_wall: float | None = None
        self.tracing = tracing if tracing is not None else current_tracing()
        self.slow_tick_s = slow_tick_ms / 1000.0
        self._slowest = 0.0
        """The slowest tick since the last slow-tick line."""
        self._slow_log = RateLimitedLog(log, "WARN", "slow_tick", category="performance", interval_s=1.0, clock=clock)
        self._overrun_log = RateLimitedLog(log, "WARN", "tick_overrun", category="performance", interval_s=5.0,
                                           clock=clock)  # fmt: skip
        self._failure_log = RateLimitedLog(log, "ERROR", "tick_failed", category="system", interval_s=5.0, clock=clock)
        self._tick_wall = 0.0
        self.last_intensities: np.ndarray[Any, np.dtype[np.float32]] = np.empty(0, dtype=np.float32)
        """Every link's intensity as of the last tick (read by the intensity heatmap at scrape)."""
        self.delta_saving = 0.0
        """Moving average (about 10 s) of the fraction of records that delta frames did not send."""
        self.rest_poll_period = 1.0 / rest_poll_hz
        self.resting = False
        self.rest_count = 0
        """How many times the layout went to rest."""
        self._wake_requested = False
        self._wake_event: asyncio.Event | None = None
        self._woke_at_step = 0

    @property
    def seq(self) -> int:
        """The current tick's number, as clients see it on frames and news."""
        return self.news.seq

    @property
    def overruns(self) -> int:
        """Ticks that finished after their deadline, since the start."""
        return self._overrun_log.count

    # ------------------------------------------------------------------ stages
    def run_source(self, now: float) -> None:
        # At most a few ticks' worth of swarm time per tick: after a slow tick the simulator must
        # not make the next one slower still by generating a second's worth of events at once.
        dt = self.period if self._last_wall is None else min(4 * self.period, max(0.0, now - self._last_wall))
        self._last_wall = now
        self.source.tick(self.state, now, dt)

    def run_swarm(self, now: float) -> SwarmChanges:
        """Replay membership changes into the engine and refresh spring weights."""
        changes = self.state.drain()
        engine = self.engine
        added: list[int] = []
        near: list[int] = []

        def flush_added() -> None:
            if added:
                engine.add_nodes(np.array(added, dtype=np.uint32), near=np.array(near, dtype=np.int64))
                added.clear()
                near.clear()

        removed: list[int] = []
        for event in changes.events:
            if event.kind is EventKind.ADDED:
                if event.node_id in removed:
                    engine.remove_nodes(removed)
                    removed.clear()
                added.append(event.node_id)
                near.append(-1 if event.parent_node_id is None else event.parent_node_id)
            elif event.kind is EventKind.REMOVED:
                flush_added()
                removed.append(event.node_id)
        flush_added()
        if removed:
            engine.remove_nodes(removed)
        gone = changes.removed_node_ids()
        if gone:
            self.delta.forget(gone)
        links = self.state.links
        if changes.links_topology_changed or engine.edge_count != len(links):
            src, dst = links.endpoints()
            self.last_intensities = links.intensities(now)
            engine.set_edges(src, dst, self.last_intensities)
        elif len(links):
            self.last_intensities = links.intensities(now)
            engine.set_edge_weights(self.last_intensities)
        self.news.record(changes)
        return changes

    def forget_pending_changes(self) -> None:
        """Drop agent news not yet sent (after the initial load: new clients get a snapshot)."""
        self.news.forget()

    def run_physics(self) -> None:
        result = self.engine.step()
        self.metrics.physics_kinetic_energy.set(result.kinetic_energy)

    def run_encode(self, now: float) -> TickMessages:
        engine = self.engine
        frame, full = self.delta.next_frame(engine.ids, engine.positions, engine.velocities)
        news = self.news.take(now)
        records = len(frame) // RECORD_SIZE
        if engine.n:
            self.delta_saving += (1.0 - records / engine.n - self.delta_saving) * _SAVING_ALPHA
        text = () if news is None else (news,)
        return TickMessages(self.seq, text, frame if records or full else None, full, records)

    def run_broadcast(self, tick: TickMessages) -> None:
        if self.hub is not None:
            self.hub.publish(tick)

    # -------------------------------------------------------------------- rest
    def wake(self) -> None:
        """Leave rest at the next tick (parameters changed, nodes were pinned or moved)."""
        self._wake_requested = True
        self.engine.reheat()
        if self._wake_event is not None:
            self._wake_event.set()

    @staticmethod
    def _moves_layout(changes: SwarmChanges) -> bool:
        """Changes the layout must respond to: membership and links (metadata alone does not)."""
        return bool(changes.links_touched or changes.links_removed or changes.links_topology_changed) or any(
            event.kind is not EventKind.UPDATED for event in changes.events
        )

    def _check_rest(self, changes: SwarmChanges) -> bool:
        """Whether this tick may skip physics; ``changes`` that move the layout (or a wake) end rest."""
        if self._wake_requested or self._moves_layout(changes):
            self._woke_at_step = self.engine.steps
            if self.resting:
                self.resting = False
                log_event(log, "DEBUG", "layout_woke", category="performance", nodes=self.engine.n)
        self._wake_requested = False
        return self.resting

    def _rest_tick(self, now: float) -> TickTimes:
        """A tick at rest: news only, no physics and no frame.

        The tick's changes need nothing more here: ``_check_rest`` found none that move the
        layout, and ``run_swarm`` already put them in the news.
        """
        times = self.last_times
        times.physics = times.encode = 0.0
        news = self.news.take(now, any_tick=True)
        if news is None:
            times.broadcast = 0.0
        else:
            t = self._clock()
            self.run_broadcast(TickMessages(self.seq, (news,), None, False, 0))
            self._timed("broadcast", t)
        self.last_tick_at = self._clock()
        return times

    def _after_step(self) -> None:
        awake = self.engine.steps - self._woke_at_step
        if self.engine.settled and not self.resting and awake > max(MIN_AWAKE_STEPS, self.engine.params.warmup_steps):
            self.resting = True
            self.rest_count += 1
            log_event(log, "DEBUG", "layout_at_rest", category="performance", nodes=self.engine.n,
                      kinetic_energy=self.engine.kinetic_energy)  # fmt: skip

    # -------------------------------------------------------------------- tick
    def _timed(self, stage: str, start: float) -> float:
        end = self._clock()
        self.metrics.stage[stage].observe(end - start)
        setattr(self.last_times, stage, end - start)
        return end

    async def tick(self, physics: PhysicsRunner = run_here) -> TickTimes:
        """One whole tick; ``physics`` says where the step runs (here unless told otherwise)."""
        self.news.next_tick()
        now = self._wall()
        self._tick_wall = now
        t = self._clock()
        self.run_source(now)
        t = self._timed("source", t)
        changes = self.run_swarm(now)
        t = self._timed("swarm", t)
        if self._check_rest(changes):
            return self._rest_tick(now)
        await physics(self.run_physics)
        t = self._timed("physics", t)
        tick = self.run_encode(now)
        t = self._timed("encode", t)
        self.run_broadcast(tick)
        self._timed("broadcast", t)
        self._finish()
        self._after_step()
        return self.last_times

    def tick_inline(self) -> TickTimes:
        """``tick`` in the calling thread, with no event loop needed (benchmarks, tests).

        With the physics run here the tick never waits on anything, so its coroutine
        finishes on its first step.
        """
        coroutine = self.tick(run_here)
        try:
            coroutine.send(None)
        except StopIteration as finished:
            times: TickTimes = finished.value
            return times
        coroutine.close()
        raise RuntimeError("a tick with its physics run here waited on the event loop")

    async def _large_graphs_in_thread(self, step: Callable[[], None]) -> None:
        """The loop's physics runner: a worker thread from ``physics_thread_threshold`` nodes on."""
        if self.engine.n >= self.physics_thread_threshold:
            await run_in_thread(step)
        else:
            step()

    def _finish(self) -> None:
        total = self.last_times.total
        self.metrics.stage["total"].observe(total)
        self.metrics.processing_duration_ms.set(total * 1000.0)
        self.metrics.ticks.inc()
        self.last_tick_at = self._clock()
        slow = total >= self.slow_tick_s
        if slow:
            self._slow_tick(total)
        if self.tracing.enabled and self.tracing.wants_tick(self.seq, slow):
            times = self.last_times.as_dict()
            del times["total"]
            self.tracing.record_tick(self.seq, self._tick_wall, times, **{"visionflow.nodes": self.engine.n})

    def _slow_tick(self, total: float) -> None:
        """Log slow ticks for ``visionflow logs slow``: at most one line a second.

        The line describes this tick; ``slow_ticks`` and ``slowest_ms`` cover every slow tick since the last line.
        """
        self._slowest = max(self._slowest, total)
        stages = {k: round(v * 1000.0, 3) for k, v in self.last_times.as_dict().items() if k != "total"}
        if self._slow_log(processing_time_ms=round(total * 1000.0, 3), agent_count=len(self.state),
                          slow_ticks=self._slow_log.unlogged + 1, slowest_ms=round(self._slowest * 1000.0, 3),
                          stages_ms=stages):  # fmt: skip
            self._slowest = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Tick at ``tick_hz`` until ``stop`` is set; at rest, poll the source at ``rest_poll_hz``."""
        self._wake_event = asyncio.Event()
        deadline = self._clock()
        while not stop.is_set():
            if self.resting:
                await self._sleep_at_rest(stop)
                if stop.is_set():
                    break
                deadline = self._clock()
            try:
                await self.tick(self._large_graphs_in_thread)
            except Exception:
                self.metrics.errors.labels("pipeline").inc()
                self._failure_log(exc_info=True, failures=self._failure_log.count + 1)
            deadline += self.period
            now = self._clock()
            if now > deadline:
                self._overrun(now - deadline)
                deadline = now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=deadline - now)

    async def _sleep_at_rest(self, stop: asyncio.Event) -> None:
        """Sleep one rest-poll period, or less if woken or stopped."""
        assert self._wake_event is not None
        self._wake_event.clear()
        waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake_event.wait())}
        _, pending = await asyncio.wait(waiters, timeout=self.rest_poll_period, return_when=asyncio.FIRST_COMPLETED)
        for waiter in pending:
            waiter.cancel()

    def _overrun(self, late: float) -> None:
        self.metrics.tick_overruns.inc()
        self._overrun_log(late_ms=round(late * 1000, 3), tick_ms=round(self.last_times.total * 1000, 3),
                          overruns=self._overrun_log.count + 1, nodes=self.engine.n)  # fmt: skip
