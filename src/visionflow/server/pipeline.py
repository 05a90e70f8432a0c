"""The 60 Hz loop: source -> swarm -> physics -> encode -> broadcast, each stage timed.

A tick that overruns its period is counted and logged, and the schedule restarts from
now instead of trying to catch up, so ticks never pile up. Large graphs are stepped in a
worker thread (the kernels release the GIL) so the HTTP API keeps answering meanwhile.

A settled layout goes to rest: once the engine's kinetic energy per node is under
``SimParams.rest_energy``, the loop stops stepping, encoding and sending frames. At rest
it only polls the source a few times a second; membership or link changes, a parameter
change or a pin (``wake()``) bring it back. Agent metadata that changes at rest (status,
load) is still sent as text; no position frames go out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from visionflow.observability.logging import log_event
from visionflow.observability.metrics import Metrics
from visionflow.observability.tracing import Tracing, current_tracing
from visionflow.physics import PhysicsEngine
from visionflow.protocol import messages
from visionflow.protocol.binary import DeltaEncoder
from visionflow.sources import AgentSource
from visionflow.stream import Snapshot, StreamHub, TickMessages
from visionflow.swarm import EventKind, LinkKey, SwarmChanges, SwarmState

__all__ = ["Pipeline", "TickTimes"]

log = logging.getLogger("visionflow.pipeline")

_SAVING_ALPHA = 1.0 / 600.0
"""Weight of one tick in the delta-saving moving average: about 10 s at 60 Hz."""
MIN_AWAKE_STEPS = 30
"""Steps a woken layout takes before it may rest again (one step after a change moves little)."""


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


@dataclass(slots=True)
class _PendingMetadata:
    """Agent and link news not yet sent to clients."""

    upserts: dict[str, None] = field(default_factory=dict)
    removed: list[int] = field(default_factory=list)
    links: set[LinkKey] = field(default_factory=set)
    links_removed: set[LinkKey] = field(default_factory=set)
    membership: bool = False

    def merge(self, changes: SwarmChanges) -> None:
        for event in changes.events:
            if event.kind is EventKind.REMOVED:
                self.upserts.pop(event.agent_id, None)
                self.removed.append(event.node_id)
                self.membership = True
            else:
                self.upserts[event.agent_id] = None
                self.membership |= event.kind is EventKind.ADDED
        self.links -= changes.links_removed
        self.links |= changes.links_touched
        self.links_removed -= changes.links_touched
        self.links_removed |= changes.links_removed

    def __bool__(self) -> bool:
        return bool(self.upserts or self.removed or self.links or self.links_removed)


class Pipeline:
    """Runs ticks and serves the state they produce to the API and new clients."""

    def __init__(
        self,
        state: SwarmState,
        source: AgentSource,
        engine: PhysicsEngine,
        metrics: Metrics,
        *,
        hub: StreamHub | None = None,
        tick_hz: float = 60.0,
        delta: DeltaEncoder | None = None,
        metadata_hz: float = 10.0,
        physics_thread_threshold: int = 20_000,
        rest_poll_hz: float = 4.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        tracing: Tracing | None = None,
        slow_tick_ms: float = 10.0,
    ) -> None:
        self.state = state
        self.source = source
        self.engine = engine
        self.metrics = metrics
        self.hub = hub
        self.period = 1.0 / tick_hz
        self.delta = delta or DeltaEncoder()
        self.metadata_every = max(1, round(tick_hz / metadata_hz))
        self.physics_thread_threshold = physics_thread_threshold
        self._clock = clock
        self._wall = wall_clock
        self._pending = _PendingMetadata()
        self._snapshot_cache: tuple[int, int, bytes] | None = None
        self.seq = 0
        self.last_times = TickTimes()
        self.last_tick_at: float | None = None
        self.overruns = 0
        self._last_overrun_log = -math.inf
        self._failures = 0
        self._last_failure_log = -math.inf
        self._last_wall: float | None = None
        self.tracing = tracing if tracing is not None else current_tracing()
        self.slow_tick_s = slow_tick_ms / 1000.0
        self._slow = 0
        self._slowest = 0.0
        self._last_slow_log = -math.inf
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
        self._pending.merge(changes)
        return changes

    def forget_pending_changes(self) -> None:
        """Drop agent news not yet sent (after the initial load: new clients get a snapshot)."""
        self._pending = _PendingMetadata()

    def run_physics(self) -> None:
        result = self.engine.step()
        self.metrics.physics_kinetic_energy.set(result.kinetic_energy)

    def run_encode(self, now: float) -> TickMessages:
        engine = self.engine
        frame, full = self.delta.next_frame(engine.ids, engine.positions, engine.velocities)
        text: tuple[bytes, ...] = ()
        pending = self._pending
        if pending and (pending.membership or self.seq % self.metadata_every == 0):
            text = (self._changes_message(pending, now),)
            self._pending = _PendingMetadata()
        records = len(frame) // 28
        if engine.n:
            self.delta_saving += (1.0 - records / engine.n - self.delta_saving) * _SAVING_ALPHA
        return TickMessages(self.seq, text, frame if records or full else None, full, records)

    def _changes_message(self, pending: _PendingMetadata, now: float) -> bytes:
        agents = self.state.agents
        links = self.state.links
        upserts = [agents[a].to_dict() for a in pending.upserts if a in agents]
        touched = [link.to_dict() for key in pending.links if (link := links.get(key, now)) is not None]
        return messages.agents_message(
            self.seq,
            full=False,
            agents=upserts,
            links=touched,
            removed=pending.removed,
            links_removed=sorted(pending.links_removed),
        ).encode()

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

    def _rest_tick(self, now: float, t: float, changes: SwarmChanges) -> TickTimes:
        """A tick at rest: metadata news only, no physics and no frame."""
        self.last_times.physics = self.last_times.encode = 0.0
        pending = self._pending
        if pending:
            text = (self._changes_message(pending, now),)
            self._pending = _PendingMetadata()
            tick = TickMessages(self.seq, text, None, False, 0)
            t = self._clock()
            self.run_broadcast(tick)
            self._timed("broadcast", t)
        else:
            self.last_times.broadcast = 0.0
        self.last_tick_at = self._clock()
        return self.last_times

    def _check_rest(self, changes: SwarmChanges) -> bool:
        """Whether this tick may skip physics; updates ``resting``."""
        if self._wake_requested or self._moves_layout(changes):
            self._woke_at_step = self.engine.steps
            if self.resting:
                self.resting = False
                log_event(log, "DEBUG", "layout_woke", category="performance", nodes=self.engine.n)
        self._wake_requested = False
        return self.resting

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

    def _before_physics(self) -> tuple[float, float, SwarmChanges]:
        self.seq += 1
        now = self._wall()
        self._tick_wall = now
        t = self._clock()
        self.run_source(now)
        t = self._timed("source", t)
        changes = self.run_swarm(now)
        return now, self._timed("swarm", t), changes

    def _after_physics(self, now: float, t: float) -> TickTimes:
        t = self._timed("physics", t)
        tick = self.run_encode(now)
        t = self._timed("encode", t)
        self.run_broadcast(tick)
        self._timed("broadcast", t)
        self._finish()
        self._after_step()
        return self.last_times

    async def tick(self) -> TickTimes:
        """One whole tick; physics runs in a worker thread for large graphs."""
        now, t, changes = self._before_physics()
        if self._check_rest(changes):
            return self._rest_tick(now, t, changes)
        if self.engine.n >= self.physics_thread_threshold:
            await asyncio.get_running_loop().run_in_executor(None, self.run_physics)
        else:
            self.run_physics()
        return self._after_physics(now, t)

    def tick_sync(self) -> TickTimes:
        """One whole tick in the calling thread (benchmarks and tests)."""
        now, t, changes = self._before_physics()
        if self._check_rest(changes):
            return self._rest_tick(now, t, changes)
        self.run_physics()
        return self._after_physics(now, t)

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
        self._slow += 1
        self._slowest = max(self._slowest, total)
        if self.last_tick_at is not None and self.last_tick_at - self._last_slow_log >= 1.0:
            self._last_slow_log = self.last_tick_at
            stages = {k: round(v * 1000.0, 3) for k, v in self.last_times.as_dict().items() if k != "total"}
            log_event(log, "WARN", "slow_tick", category="performance",
                      processing_time_ms=round(total * 1000.0, 3), agent_count=len(self.state),
                      slow_ticks=self._slow, slowest_ms=round(self._slowest * 1000.0, 3), stages_ms=stages)  # fmt: skip
            self._slow = 0
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
                await self.tick()
            except Exception:
                self.metrics.errors.labels("pipeline").inc()
                self._failures += 1
                if self._failures == 1 or self._clock() - self._last_failure_log >= 5.0:
                    self._last_failure_log = self._clock()
                    log.exception("tick failed", extra={"event": "tick_failed", "category": "system",
                                                        "fields": {"failures": self._failures}})  # fmt: skip
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
        self.overruns += 1
        self.metrics.tick_overruns.inc()
        now = self._clock()
        if now - self._last_overrun_log >= 5.0:
            self._last_overrun_log = now
            log_event(log, "WARN", "tick_overrun", category="performance",
                      late_ms=round(late * 1000, 3), tick_ms=round(self.last_times.total * 1000, 3),
                      overruns=self.overruns, nodes=self.engine.n)  # fmt: skip

    # ------------------------------------------------------------------- views
    def snapshot(self) -> Snapshot:
        """Metadata and a full frame of the current state, for clients that join or resync."""
        engine = self.engine
        cache = self._snapshot_cache
        if cache is None or cache[0] != self.state.version or cache[1] != self.seq:
            now = self._wall()
            text = messages.agents_message(
                self.seq,
                full=True,
                agents=[a.to_dict() for a in self.state.agents.values()],
                links=[link.to_dict() for link in self.state.links.links(now)],
                link_decay_s=self.state.links.decay_tau_s,
            ).encode()
            self._snapshot_cache = cache = (self.state.version, self.seq, text)
        frame = self.delta.full_frame(engine.ids, engine.positions, engine.velocities)
        return Snapshot(self.seq, cache[2], frame, engine.n)

    def agents_data(self, offset: int = 0, limit: int | None = None) -> dict[str, Any]:
        """The body of ``GET /api/bots/data``: agents with positions, and edges."""
        now = self._wall()
        engine = self.engine
        agents = list(self.state.agents.values())
        total = len(agents)
        page = agents[offset : None if limit is None else offset + limit]
        ids = np.array([a.node_id for a in page], dtype=np.uint32)
        slots = engine.slots_of(ids)
        pos = engine.positions
        vel = engine.velocities
        out = []
        for agent, slot in zip(page, slots.tolist(), strict=True):
            item = agent.to_dict()
            if slot >= 0:
                item["position"] = {
                    "x": float(pos[slot, 0]),
                    "y": float(pos[slot, 1]),
                    "z": float(pos[slot, 2]),
                }
                item["velocity"] = {
                    "x": float(vel[slot, 0]),
                    "y": float(vel[slot, 1]),
                    "z": float(vel[slot, 2]),
                }
            else:
                item["position"] = item["velocity"] = None
            out.append(item)
        links = self.state.links
        whole = offset == 0 and len(page) == total
        chosen = links.links(now) if whole else links.links_touching(ids, now)
        edges = [link.to_dict() for link in chosen]
        return {
            "tick": self.seq,
            "timestamp": now,
            "total_agents": total,
            "offset": offset,
            "agents": out,
            "edges": edges,
            "total_edges": len(links),
        }
