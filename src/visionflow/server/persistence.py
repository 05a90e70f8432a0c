"""The store's wiring into the server: what to save as it happens, and what to bring back on start.

* **As it happens.** Agents joining and leaving, and every status change, are queued the
  moment the swarm records them (a listener on ``SwarmState``). Other agent fields and links
  are queued from a background task (every ``agent_flush_s`` and every second), in chunks
  so no pass holds the event loop long. Positions are copied off the engine right after a
  tick's frame went out, ``history_hz`` times a second, and handed to the writer as arrays.
* **On acknowledgement.** A push batch and a parameter change are saved before their HTTP
  answer: the route awaits ``pushed()`` / ``params_changed()``, which queue the batch's
  records and wait for the writer's barrier (committed, or fsynced to the spool).
* **On start.** Every agent that was in the swarm gets its node id back when it returns;
  pushed agents, their links and positions, the physics parameters and the alert history
  are restored outright.

Nothing here awaits the database on the tick: the tick only copies arrays and appends to a
queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import orjson

from visionflow.errors import StoreError
from visionflow.observability.logging import log_event
from visionflow.observability.metrics import Metrics
from visionflow.physics import PhysicsEngine, SimParams
from visionflow.server.kpi import KpiSampler
from visionflow.server.settings import Settings
from visionflow.sources import PushIngest
from visionflow.store import (
    REMOVED,
    AgentGone,
    AgentSeen,
    AlertSaved,
    Durable,
    LinkSeen,
    ParamsSaved,
    PositionSample,
    Restored,
    StatusChanged,
    Store,
    StoreConfig,
    describe,
)
from visionflow.stream import TickMessages
from visionflow.swarm import (
    ID_MASK,
    Agent,
    AgentStatus,
    EventKind,
    LinkKey,
    SwarmEvent,
    SwarmState,
    link_key,
    node_index,
    parse_type,
)

if TYPE_CHECKING:
    from visionflow.server.alert_desk import AlertDesk
    from visionflow.server.pipeline import TickSink

__all__ = ["Persistence", "SampledSink"]

log = logging.getLogger("visionflow.store")

AGENT_FLUSH_S = 5.0
"""How often changed fields of agents (other than pushed ones, saved as they are pushed) are written."""
CHUNK = 500
"""Agents or links turned into records per pass before the loop gets a turn."""
KPI_EVERY_S = 60.0


class SampledSink:
    """The pipeline's sink: the stream hub first, then the store's position sampler."""

    def __init__(self, hub: TickSink, after: Callable[[], None]) -> None:
        self.hub = hub
        self._after = after

    def publish(self, tick: TickMessages) -> None:
        self.hub.publish(tick)
        self._after()


class Persistence:
    """Feeds the store from the live swarm and restores the swarm from it; inert with ``store: false``."""

    def __init__(
        self,
        settings: Settings,
        state: SwarmState,
        engine: PhysicsEngine,
        ingest: PushIngest,
        metrics: Metrics,
        *,
        source_name: str,
        clients: Callable[[], int],
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.state = state
        self.engine = engine
        self.ingest = ingest
        self.metrics = metrics
        self.source_name = source_name
        self._clients = clients
        self._clock = clock
        self._monotonic = monotonic
        self.store: Store | None = None
        self.restored: Restored | None = None
        self._keys: dict[str, int] = {}
        self._next_key = 1
        self._key_of_index = np.zeros(1024, dtype=np.int64)
        """Node index -> store key of the agent holding it (0: none)."""
        self._status: dict[str, str] = {}
        self._dirty: set[str] = set()
        self._params_version = 0
        self._sample_every = 1.0 / settings.history_hz
        self._next_sample = 0.0
        self._last_sample_at = -np.inf
        self._links_since = 0.0
        self._unsubscribe: Callable[[], None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._desk: AlertDesk | None = None
        self._pending_positions: tuple[npt.NDArray[np.uint32], npt.NDArray[np.float32]] | None = None

    @property
    def enabled(self) -> bool:
        return self.store is not None

    # --------------------------------------------------------------- start-up
    async def open(self) -> None:
        """Open the store and restore what it holds into the swarm (before the source starts)."""
        if not self.settings.store:
            return
        store = Store(StoreConfig.from_settings(self.settings), self.metrics, clock=self._clock)
        try:
            await store.open()
        except Exception as exc:
            raise StoreError(f"cannot open the store at {store.db.display_url}: {describe(exc)}") from exc
        links = self.state.links
        try:
            restored = await store.restore(alerts_kept=self.settings.alerts_kept, link_decay_s=links.decay_tau_s,
                                           link_min_intensity=links.min_intensity)  # fmt: skip
        except Exception as exc:
            await store.close()
            raise StoreError(f"cannot read the swarm back from {store.db.display_url}: {describe(exc)}") from exc
        self.store = store
        self.restored = restored
        self._apply(restored)
        self._unsubscribe = self.state.subscribe(self._on_event)
        self._links_since = self._clock()

    def _apply(self, restored: Restored) -> None:
        self._keys = dict(restored.keys)
        self._next_key = restored.next_key
        self.state.reserve_node_ids(restored.node_ids)
        if restored.params is not None:
            known = set(SimParams().as_dict())
            try:
                self.engine.params = SimParams(**{k: v for k, v in restored.params.params.items() if k in known})
            except ValueError as exc:  # a bound tightened since it was saved: keep the defaults, say so
                log_event(log, "WARN", "physics_params_not_restored", category="system", error=str(exc))
            self._params_version = restored.params.version
        for stored in restored.agents:
            agent = _agent_from(stored.id, stored.name, stored.type, stored.status, stored.fields)
            self.ingest.owned.add(agent.id)
            self.state.add(agent)
            self._status[agent.id] = stored.status
            self._remember(agent.id, agent.node_id)
        now = self._clock()
        for row in restored.links:
            self.state.restore_link(row["source"], row["target"], now, message_count=row["message_count"],
                                    nbytes=row["bytes"], last_message_at=row["last_message_at"],
                                    intensity=row["intensity"], inferred=row["inferred"])  # fmt: skip
        if self._desk is not None:
            self._desk.restore(restored.alerts, restored.next_alert_id)
        by_key = {stored.key: stored.id for stored in restored.agents}
        found = restored.positions
        ids = [self.state.agents[by_key[k]].node_id for k in found.agent_key.tolist() if by_key.get(k) in self.state]
        if len(ids) == len(found):
            self._pending_positions = (np.array(ids, dtype=np.uint32), found.xyz)
        log_event(log, "INFO", "store_restored", category="system", agents=len(restored.agents),
                  links=len(restored.links), positions=len(found), node_ids_kept=len(restored.node_ids),
                  alerts=len(restored.alerts), params_version=self._params_version)  # fmt: skip

    def place_restored(self) -> int:
        """Put restored agents where they were (after the engine has their nodes); returns how many."""
        pending, self._pending_positions = self._pending_positions, None
        if pending is None or not len(pending[0]):
            return 0
        self.engine.set_positions(*pending)
        # The layout was settled once: resume it gently, not from the cold start's full temperature.
        self.engine.temperature = self.engine.params.reheat_temperature
        return len(pending[0])

    def start(self) -> None:
        """Start the background flusher (agents' fields, links, KPI samples)."""
        if self.store is not None and self._task is None:
            self._task = asyncio.create_task(self._flusher(), name="visionflow-store-flush")

    async def close(self) -> None:
        """Queue what is still unsaved, then let the store write it and stop."""
        if self.store is None:
            return
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._flush_agents(list(self._dirty))
        self._flush_links()
        await self.store.close()

    # ------------------------------------------------------------------ keys
    def _key(self, agent_id: str) -> int:
        key = self._keys.get(agent_id)
        if key is None:
            key = self._keys[agent_id] = self._next_key
            self._next_key += 1
        return key

    def _remember(self, agent_id: str, node_id: int) -> int:
        key = self._key(agent_id)
        index = node_index(node_id)
        if index >= len(self._key_of_index):
            grown = np.zeros(max(index + 1, 2 * len(self._key_of_index)), dtype=np.int64)
            grown[: len(self._key_of_index)] = self._key_of_index
            self._key_of_index = grown
        self._key_of_index[index] = key
        return key

    def _source_of(self, agent_id: str) -> str:
        return "push" if agent_id in self.ingest.owned else self.source_name

    def _seen(self, agent: Agent, key: int, now: float) -> AgentSeen:
        fields = agent.to_dict()
        for name in ("id", "node_id", "name", "type", "status"):
            del fields[name]
        return AgentSeen(key, agent.id, agent.node_id, agent.name, agent.type.value, agent.status.value,
                         self._source_of(agent.id), now, fields)  # fmt: skip

    # ------------------------------------------------------- swarm listener
    def _on_event(self, event: SwarmEvent) -> None:
        """Joins, departures and status changes, queued as they happen."""
        store = self.store
        if store is None:
            return
        now = self._clock()
        if event.kind is EventKind.REMOVED:
            key = self._keys.get(event.agent_id)
            self._dirty.discard(event.agent_id)
            if key is not None:
                index = node_index(event.node_id)
                if index < len(self._key_of_index) and self._key_of_index[index] == key:
                    self._key_of_index[index] = 0
                previous = self._status.pop(event.agent_id, None)
                store.submit((AgentGone(key, now), StatusChanged(key, now, REMOVED, previous)))
            return
        agent = self.state.agents.get(event.agent_id)
        if agent is None:
            return
        status = agent.status.value
        if event.kind is EventKind.ADDED:
            key = self._remember(agent.id, agent.node_id)
            self._status[agent.id] = status
            store.submit((self._seen(agent, key, now), StatusChanged(key, now, status, None)))
            return
        previous = self._status.get(agent.id)
        if status != previous:
            self._status[agent.id] = status
            store.submit((StatusChanged(self._key(agent.id), now, status, previous),))
        if agent.id not in self.ingest.owned:
            self._dirty.add(agent.id)

    # ------------------------------------------------------ acknowledged writes
    async def pushed(self, agent_ids: Iterable[str], senders: Iterable[tuple[str, str]]) -> None:
        """Save a push batch just applied (its agents as they are now, its messages' links), then wait for it."""
        store = self.store
        if store is None:
            return
        now = self._clock()
        records: list[Durable] = []
        for agent_id in dict.fromkeys(agent_ids):
            agent = self.state.agents.get(agent_id)
            if agent is not None:
                records.append(self._seen(agent, self._key(agent_id), now))
        records.extend(self._links({link_key(a, b) for a, b in senders}))
        store.submit(records)
        await store.saved()

    async def params_changed(self, params: SimParams, changes: dict[str, Any]) -> None:
        """Save a new parameter set as the next version, then wait for it."""
        store = self.store
        if store is None:
            return
        self._params_version += 1
        store.submit((ParamsSaved(self._params_version, self._clock(), params.as_dict(), dict(changes)),))
        await store.saved()

    # ----------------------------------------------------------------- alerts
    def attach_alerts(self, desk: AlertDesk) -> None:
        """Save the alert receiver's records, and give it back its history on start."""
        self._desk = desk
        desk.on_record = self._alert

    def _alert(self, record: dict[str, Any]) -> None:
        if self.store is None:
            return
        copy = orjson.loads(orjson.dumps(record, default=str))  # the receiver keeps changing its own
        self.store.submit((AlertSaved(int(copy["id"]), float(copy["received_at"]), copy.get("status"),
                                      str(copy.get("alertname", "")), copy.get("severity"),
                                      str(copy.get("playbook", "none")), copy),))  # fmt: skip

    # -------------------------------------------------------------- positions
    def after_tick(self) -> None:
        """Called after each tick's frame went out: copy positions for the store when a sample is due."""
        if self.store is None:
            return
        now = self._monotonic()
        if now < self._next_sample:
            return
        self._next_sample = now + self._sample_every
        self._sample()

    def _sample(self) -> None:
        assert self.store is not None
        engine = self.engine
        ids = engine.ids.copy()
        index = (ids & ID_MASK).astype(np.int64)
        lookup = self._key_of_index
        keys = np.where(index < len(lookup), lookup[np.minimum(index, len(lookup) - 1)], 0)
        self._last_sample_at = self._monotonic()
        self.store.offer(PositionSample(self._clock(), keys, ids, engine.positions.copy(), engine.velocities.copy()))

    # ----------------------------------------------------------------- flusher
    async def _flusher(self) -> None:
        """Once a second: links heard from; every few seconds, agents' fields; every minute, a KPI sample."""
        sampler = KpiSampler(self.metrics, lambda: len(self.state), self._clients, clock=self._clock)
        next_agents = self._monotonic() + AGENT_FLUSH_S
        next_kpi = self._monotonic() + KPI_EVERY_S
        while True:
            await asyncio.sleep(1.0)
            now = self._monotonic()
            keys = self._heard()
            for first in range(0, len(keys), CHUNK):
                self._submit_links(keys[first : first + CHUNK])
                await asyncio.sleep(0)
            if now >= next_agents:
                next_agents = now + AGENT_FLUSH_S
                dirty = list(self._dirty)
                self._dirty.clear()
                for first in range(0, len(dirty), CHUNK):
                    self._flush_agents(dirty[first : first + CHUNK])
                    await asyncio.sleep(0)
            if now >= next_kpi and self.store is not None:
                next_kpi = now + KPI_EVERY_S
                self.store.offer_kpi(sampler.sample())
            # A resting layout sends no frames, so no tick asks for a sample: take one here now and then, for
            # the keyframes (nothing moves at rest, and the engine is not being stepped meanwhile).
            if now - self._last_sample_at >= 60.0:
                self._sample()

    def _flush_agents(self, agent_ids: list[str]) -> None:
        if self.store is None or not agent_ids:
            return
        now = self._clock()
        agents = self.state.agents
        records = [self._seen(agents[a], self._key(a), now) for a in agent_ids if a in agents]
        if records:
            self.store.submit(records)

    def _heard(self) -> list[LinkKey]:
        """Links with a message since the last call."""
        since, self._links_since = self._links_since, self._clock()
        return self.state.links.heard_since(since)

    def _submit_links(self, keys: Iterable[LinkKey]) -> None:
        records = self._links(keys)
        if records and self.store is not None:
            self.store.submit(records)

    def _flush_links(self) -> None:
        if self.store is not None:
            self._submit_links(self._heard())

    def _links(self, keys: Iterable[LinkKey]) -> list[Durable]:
        table = self.state.links
        out: list[Durable] = []
        for key in keys:
            link = table.saved(key)
            # Links only observed as structure (no message yet) are not saved: their source observes them again.
            if link is not None and link.last_message_at is not None:
                out.append(LinkSeen(key[0], key[1], link.message_count, link.bytes, link.intensity,
                                    link.last_message_at, link.inferred))  # fmt: skip
        return out

    # ------------------------------------------------------------------ health
    def health(self) -> dict[str, Any]:
        return {"status": "disabled"} if self.store is None else self.store.health()


def _agent_from(agent_id: str, name: str, kind: str, status: str, fields: dict[str, Any]) -> Agent:
    """An ``Agent`` from its saved fields (``Agent.to_dict`` without identity), ignoring unknown ones."""
    agent = Agent(id=agent_id, name=name, type=parse_type(kind))
    try:
        agent.status = AgentStatus(status)
    except ValueError:
        agent.status = AgentStatus.IDLE
    renamed = {"memory": "memory_mb"}
    for key, value in fields.items():
        attr = renamed.get(key, key)
        if attr in Agent.__slots__ and attr not in ("id", "node_id", "name", "type", "status") and value is not None:
            setattr(agent, attr, value)
    if not isinstance(agent.metadata, dict):
        agent.metadata = {}
    return agent
