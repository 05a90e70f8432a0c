"""What clients hear besides positions: agent and link news, and the snapshot a client joins from.

Metadata changes (status, load, a link's intensity) happen every tick; a text message per
change per tick would cost more than the frames. They are batched here and sent every
``metadata_every`` ticks, except membership news (an agent joined or left), which goes out
in the tick it happens so that no frame names a node the client has not heard of. A client
that joins or resynchronises gets one snapshot instead: every agent and link, and a full
frame. The text part is built at most once per tick and swarm version, however many
clients ask.

The tick number ``seq`` lives here because every message a client gets carries it: the
news, the snapshot, and the frames the pipeline sends beside them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from visionflow.physics import PhysicsEngine
from visionflow.protocol import messages
from visionflow.protocol.binary import FrameEncoder
from visionflow.stream import Snapshot
from visionflow.swarm import EventKind, LinkKey, SwarmChanges, SwarmState

__all__ = ["PendingNews", "SwarmNews"]


@dataclass(slots=True)
class PendingNews:
    """Agent and link news not yet sent to clients, merged so each agent and link appears once."""

    upserts: dict[str, None] = field(default_factory=dict)
    """Agent ids added or changed, in order of first change (a dict as an ordered set)."""
    removed: list[int] = field(default_factory=list)
    links: set[LinkKey] = field(default_factory=set)
    links_removed: set[LinkKey] = field(default_factory=set)
    membership: bool = False
    """An agent joined or left: the news must go out this tick."""

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


class SwarmNews:
    """Batches the swarm's changes into ``agents`` messages and builds snapshots for joining clients."""

    def __init__(
        self,
        state: SwarmState,
        engine: PhysicsEngine,
        *,
        tick_hz: float = 60.0,
        metadata_hz: float = 10.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.engine = engine
        self.metadata_every = max(1, round(tick_hz / metadata_hz))
        """Ticks between two metadata messages while the layout moves."""
        self.seq = 0
        """The current tick's number (0 before the first tick)."""
        self._wall = wall_clock
        self._pending = PendingNews()
        self._snapshot_text: tuple[int, int, bytes] | None = None
        """(swarm version, seq, the snapshot's JSON) of the last snapshot built."""
        self._frames = FrameEncoder()

    def next_tick(self) -> int:
        """Start the next tick; returns its number."""
        self.seq += 1
        return self.seq

    def record(self, changes: SwarmChanges) -> None:
        """Remember this tick's changes until they are sent."""
        self._pending.merge(changes)

    def forget(self) -> None:
        """Drop news not yet sent (after the initial load: new clients get a snapshot)."""
        self._pending = PendingNews()

    def take(self, now: float, *, any_tick: bool = False) -> bytes | None:
        """The ``agents`` message due this tick, or None; what it carries is then forgotten.

        News is due at once when it changes membership, else on every ``metadata_every``-th
        tick; with ``any_tick`` (a resting layout, which ticks only a few times a second)
        whenever there is any.
        """
        pending = self._pending
        if not pending or not (any_tick or pending.membership or self.seq % self.metadata_every == 0):
            return None
        self._pending = PendingNews()
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

    def snapshot(self) -> Snapshot:
        """Metadata and a full frame of the current state, for clients that join or resync."""
        state = self.state
        cache = self._snapshot_text
        if cache is None or cache[0] != state.version or cache[1] != self.seq:
            text = messages.agents_message(
                self.seq,
                full=True,
                agents=[a.to_dict() for a in state.agents.values()],
                links=[link.to_dict() for link in state.links.links(self._wall())],
                link_decay_s=state.links.decay_tau_s,
            ).encode()
            self._snapshot_text = cache = (state.version, self.seq, text)
        engine = self.engine
        frame = self._frames.encode(engine.ids, engine.positions, engine.velocities)
        return Snapshot(self.seq, cache[2], frame, engine.n)
