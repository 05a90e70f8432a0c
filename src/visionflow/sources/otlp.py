"""The OTLP source: agents, their handoffs, tools and tokens from OpenTelemetry traces.

Agent frameworks already describe their agents in spans (see ``otlp_spans`` for the two
conventions read). This turns those spans into the swarm, with no code in the user's agents:

- **Agents.** An agent span makes an agent. Its id is ``gen_ai.agent.id`` when the span has
  one; otherwise the agent's name (a LangGraph node's path in nested graphs) qualified by its
  run, ``<name>@<run>``, the run being the conversation (``gen_ai.conversation.id``,
  ``session.id``, LangGraph's ``thread_id``) or else the trace's first 16 hex digits: two
  runs of one workflow are two swarms, and the turns of one conversation are one.
- **Links.** A handoff (a handoff span, ``graph.node.parent_id``, an agent span inside
  another's) is a message from the agent that handed over to the one that took over. One
  handoff often shows in two ways (a handoff span *and* the new agent's parent id), so each
  pair counts, per trace, the larger of the two tallies, not their sum. Consecutive
  supersteps of one LangGraph run hand over from each node of a step to each of the next.
- **Work.** A tool span becomes the agent's current task and, when it succeeded, a completed
  task; a model span adds its token usage to ``tokens`` and ``token_rate`` (tokens a second
  over the last minute); a failed span turns the agent's status to ``error`` until a later
  span of it succeeds, and ``health`` is the share of its last 20 spans that did not fail.
- **Time.** Any span makes its agent ``busy``; after ``idle_s`` with none it is ``idle``
  (and its current task cleared), after ``expire_s`` ``offline``, and ``idle_s`` after
  that it is removed.

Spans are exported when they end, so children arrive before their parents, often in an
earlier request. A span belongs to the nearest agent among its ancestors; when an ancestor
has not arrived yet the span waits for it (bounded, and forgotten with its trace after
``expire_s``). Spans that name their agent themselves (``gen_ai.agent.name``, LangGraph's
node in ``metadata``) count at once, so a long-running agent shows before its own span ends.
A span resent after a retry is recognised by its id and counted once.

Applying runs on the event loop between ticks, like the push ingest; the route decodes
requests in a worker thread first. The ingest only touches agents it created.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from visionflow.observability.metrics import Metrics
from visionflow.sources.base import SourceStatus
from visionflow.sources.otlp_spans import SpanKind, SpanRecord
from visionflow.swarm import Agent, AgentStatus, SwarmState, parse_type

__all__ = ["RATE_WINDOW_S", "OtlpIngest", "OtlpSource"]

RATE_WINDOW_S = 60.0
"""``token_rate`` is the tokens of the model spans received in this many seconds, per second."""
HEALTH_WINDOW = 20
MAX_DEPTH = 256
"""Ancestors walked to find a span's agent; a deeper (or cyclic) chain has none."""
MAX_PER_TRACE = 256
"""Open handoffs, links waiting for an agent, and handoff pairs kept per trace."""
MAX_METADATA_KEYS = 64

_HANDOFF, _PARENT = 0, 1


@dataclass(slots=True)
class _Node:
    parent: bytes | None
    owner: str | None
    """The agent this span belongs to, once known; ``""`` when it has none."""


@dataclass(slots=True)
class _Waiting:
    """A span whose agent is not known yet, waiting for the ancestor that was missing."""

    record: SpanRecord
    child: str | None = None
    """For an agent span: the agent waiting to learn which agent it runs under."""


@dataclass(slots=True)
class _Trace:
    key: str
    seen: float
    session: str | None = None
    spans: dict[bytes, _Node] = field(default_factory=dict)
    waiting: dict[bytes, list[_Waiting]] = field(default_factory=dict)
    waiting_count: int = 0
    open_handoffs: list[tuple[str, int]] = field(default_factory=list)
    """Handoffs that named no target (agent id, start): the next agent to start takes over."""
    evidence: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    steps: dict[bytes, dict[int, list[str]]] = field(default_factory=dict)
    unlinked: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class _Track:
    """The ingest's own account of an agent, written to its fields once per applied batch."""

    last_span: float
    status: AgentStatus = AgentStatus.BUSY
    current_task: str | None = None
    tokens: int = 0
    last_end_ns: int = -1
    last_tool_end_ns: int = -1
    tools: int = 0
    tools_failed: int = 0
    outcomes: deque[bool] = field(default_factory=lambda: deque(maxlen=HEALTH_WINDOW))
    tokens_window: deque[tuple[float, int]] = field(default_factory=deque)
    window_tokens: int = 0


class OtlpIngest:
    """Applies decoded spans to a SwarmState; ``sweep`` ages agents and forgets old traces."""

    def __init__(
        self,
        state: SwarmState,
        metrics: Metrics,
        *,
        idle_s: float = 30.0,
        expire_s: float = 300.0,
        clock: Callable[[], float] = time.time,
        max_traces: int = 10_000,
        max_spans: int = 200_000,
        max_waiting: int = 50_000,
    ) -> None:
        self.state = state
        self.metrics = metrics
        self.idle_s = idle_s
        self.expire_s = expire_s
        self._clock = clock
        self.max_traces = max_traces
        self.max_spans = max_spans
        self.max_waiting = max_waiting
        self.owned: dict[str, _Track] = {}
        self._traces: OrderedDict[bytes, _Trace] = OrderedDict()
        self._tracked = 0
        self._waiting = 0
        self.spans = 0
        self.requests = 0
        self.unattributed = 0
        """Tool, model and handoff spans no agent could be found for (none above them, or given up)."""
        self.duplicates = 0
        self.conflicts = 0
        """Spans whose agent id is taken by another source's agent: that agent is left alone."""
        self.last_update: float | None = None
        self._kinds = {kind: metrics.otlp_spans.labels(kind.value) for kind in SpanKind}
        self._dirty: set[str] = set()
        """Agents whose account changed since their fields were last written."""

    # ---------------------------------------------------------------- applying
    def apply(self, records: Iterable[SpanRecord]) -> int:
        """Apply spans (in start order, as ``read_spans`` gives them); returns how many were new."""
        now = self._clock()
        tally = dict.fromkeys(SpanKind, 0)
        applied = 0
        for record in records:
            tally[record.kind] += 1
            applied += self._apply(record, now)
        self._write()
        for kind, count in tally.items():
            if count:
                self._kinds[kind].inc(count)
        self.spans += applied
        self.last_update = now
        return applied

    def _apply(self, record: SpanRecord, now: float) -> bool:
        trace = self._trace(record.trace_id, now)
        if record.span_id in trace.spans:
            self.duplicates += 1
            return False
        if record.session is not None and trace.session is None:
            trace.session = record.session
        own = self._agent_id(trace, record, record.agent) if record.agent is not None else None
        trace.spans[record.span_id] = _Node(record.parent_id, own)
        self._tracked += 1
        if record.kind is SpanKind.AGENT and own is not None:
            self._agent_span(trace, record, own, now)
        elif record.kind is SpanKind.HANDOFF:
            self._handoff(trace, _Waiting(record), now)
        else:
            self._work(trace, _Waiting(record), own, now)
        waiting = trace.waiting.pop(record.span_id, None)
        if waiting is not None:
            trace.waiting_count -= len(waiting)
            self._waiting -= len(waiting)
            for item in waiting:
                self._resume(trace, item, record.span_id, now)
        if self._tracked > self.max_spans:
            self._forget_oldest(keep=record.trace_id)
        return True

    def _agent_id(self, trace: _Trace, record: SpanRecord, key: str, *, global_id: bool | None = None) -> str:
        if record.global_id if global_id is None else global_id:
            return key
        return f"{key}@{record.session or trace.session or trace.key}"

    def _agent_span(self, trace: _Trace, record: SpanRecord, agent_id: str, now: float) -> None:
        parent: str | None = None
        missing: bytes | None = None
        if record.parent_agent is not None:
            parent = self._agent_id(trace, record, record.parent_agent, global_id=False)
        elif record.parent_id is not None:
            parent, missing = self._owner(trace, record.parent_id)
        if self._credit(trace, agent_id, record, now, parent=parent) is None:
            return
        if missing is not None:
            self._wait(trace, missing, _Waiting(record, child=agent_id))
        elif parent is not None:
            self._evidence(trace, parent, agent_id, _PARENT, now)
        for i, (source, start) in enumerate(trace.open_handoffs):
            if source != agent_id and start <= record.start_ns:
                del trace.open_handoffs[i]
                self._evidence(trace, source, agent_id, _HANDOFF, now)
                break
        if record.step is not None and record.parent_id is not None:
            group = trace.steps.setdefault(record.parent_id, {})
            for before in group.get(record.step - 1, ()):
                self._link(trace, before, agent_id, now)
            for after in group.get(record.step + 1, ()):
                self._link(trace, agent_id, after, now)
            nodes = group.setdefault(record.step, [])
            if len(nodes) < MAX_PER_TRACE:
                nodes.append(agent_id)

    def _handoff(self, trace: _Trace, item: _Waiting, now: float) -> None:
        record = item.record
        if record.handoff_from is not None:
            source: str | None = self._agent_id(trace, record, record.handoff_from, global_id=False)
        else:
            source, missing = self._owner(trace, record.parent_id) if record.parent_id else (None, None)
            if missing is not None:
                self._wait(trace, missing, item)
                return
        if source is None:
            self.unattributed += 1
            return
        self._handed_off(trace, source, record, now)

    def _handed_off(self, trace: _Trace, source: str, record: SpanRecord, now: float) -> None:
        if self._credit(trace, source, record, now, name=record.handoff_from) is None:
            return
        if record.handoff_to is not None:
            target = self._agent_id(trace, record, record.handoff_to, global_id=False)
            self._evidence(trace, source, target, _HANDOFF, now)
        elif len(trace.open_handoffs) < MAX_PER_TRACE:
            trace.open_handoffs.append((source, record.start_ns))

    def _work(self, trace: _Trace, item: _Waiting, own: str | None, now: float) -> None:
        record = item.record
        owner, missing = own, None
        if owner is None and record.parent_id is not None:
            owner, missing = self._owner(trace, record.parent_id)
        if missing is not None:
            if record.kind is not SpanKind.OTHER:  # other spans only say "busy": not worth a wait
                self._wait(trace, missing, item)
            return
        if owner is None:
            self.unattributed += record.kind is not SpanKind.OTHER
            return
        self._credit(trace, owner, record, now)

    def _resume(self, trace: _Trace, item: _Waiting, arrived: bytes, now: float) -> None:
        owner, missing = self._owner(trace, arrived)
        if missing is not None:
            self._wait(trace, missing, item)
        elif item.child is not None:
            if owner is not None:
                self._evidence(trace, owner, item.child, _PARENT, now)
        elif owner is None:
            self.unattributed += 1
        elif item.record.kind is SpanKind.HANDOFF:
            self._handed_off(trace, owner, item.record, now)
        else:
            self._credit(trace, owner, item.record, now)

    def _owner(self, trace: _Trace, span_id: bytes) -> tuple[str | None, bytes | None]:
        """The agent ``span_id`` belongs to, or the id of the ancestor that has not arrived yet."""
        path: list[_Node] = []
        current = span_id
        owner = ""
        for _ in range(MAX_DEPTH):
            node = trace.spans.get(current)
            if node is None:
                return None, current
            if node.owner is not None:
                owner = node.owner
                break
            if node.parent is None:
                break
            path.append(node)
            current = node.parent
        for node in path:  # remember the answer along the way: the next sibling asks the same
            node.owner = owner
        return owner or None, None

    def _wait(self, trace: _Trace, missing: bytes, item: _Waiting) -> None:
        if self._waiting >= self.max_waiting:
            self.unattributed += item.child is None
            return
        trace.waiting.setdefault(missing, []).append(item)
        trace.waiting_count += 1
        self._waiting += 1

    # ----------------------------------------------------------------- agents
    def _credit(
        self, trace: _Trace, agent_id: str, record: SpanRecord, now: float, *,
        name: str | None = None, parent: str | None = None,
    ) -> _Track | None:  # fmt: skip
        """Count ``record`` as work of ``agent_id``, creating the agent when the span names it."""
        track = self.owned.get(agent_id)
        if track is None:
            name = name or (record.agent_name if record.agent is not None else None)
            if name is None:
                self.unattributed += 1
                return None
            track = self._create(trace, agent_id, name, record, now, parent)
            if track is None:
                return None
        metadata = self.state.agents[agent_id].metadata
        track.last_span = now
        track.outcomes.append(not record.failed)
        if record.end_ns >= track.last_end_ns:
            track.last_end_ns = record.end_ns
            track.status = AgentStatus.ERROR if record.failed else AgentStatus.BUSY
            if record.failed and record.error is not None:
                metadata["last_error"] = record.error
        if record.kind is SpanKind.TOOL:
            track.tools += 1
            track.tools_failed += record.failed
            if record.end_ns >= track.last_tool_end_ns:
                track.last_tool_end_ns = record.end_ns
                track.current_task = record.tool
        elif record.kind is SpanKind.LLM:
            if record.tokens:
                track.tokens += record.tokens
                track.tokens_window.append((now, record.tokens))
                track.window_tokens += record.tokens
            if record.model is not None:
                metadata["model"] = record.model
        elif record.kind is SpanKind.AGENT:
            for key, value in record.attributes.items():
                if key in metadata or len(metadata) < MAX_METADATA_KEYS:
                    metadata[key] = value
        self._dirty.add(agent_id)
        return track

    def _write(self) -> None:
        """Write every changed account to its agent: one update (one piece of news) per agent per batch."""
        agents = self.state.agents
        for agent_id in self._dirty:
            track = self.owned.get(agent_id)
            agent = agents.get(agent_id)
            if track is None or agent is None:
                continue
            done = track.tools - track.tools_failed
            fields = {
                "status": track.status,
                "current_task": track.current_task,
                "tokens": track.tokens,
                "token_rate": track.window_tokens / RATE_WINDOW_S,
                "health": 100.0 * sum(track.outcomes) / len(track.outcomes) if track.outcomes else agent.health,
                "tasks_completed": done,
                "success_rate": done / track.tools if track.tools else agent.success_rate,
            }
            changes = {name: value for name, value in fields.items() if getattr(agent, name) != value}
            if changes:
                self.state.update(agent_id, **changes)
        self._dirty.clear()

    def _create(
        self, trace: _Trace, agent_id: str, name: str, record: SpanRecord, now: float, parent: str | None
    ) -> _Track | None:
        if agent_id in self.state.agents:
            self.conflicts += 1
            return None
        metadata: dict[str, Any] = {"source": "otlp"}
        if record.convention:
            metadata["convention"] = record.convention
        if record.service is not None:
            metadata["service.name"] = record.service
        run = record.session or trace.session or trace.key
        agent = Agent(id=agent_id, name=name, type=parse_type(name), status=AgentStatus.BUSY, created_at=now,
                      swarm_id=run, parent_id=parent if parent in self.owned else None,
                      metadata=metadata)  # fmt: skip
        self.state.add(agent)
        track = self.owned[agent_id] = _Track(now)
        if trace.unlinked:
            waiting, trace.unlinked = trace.unlinked, []
            for source, target in waiting:
                self._link(trace, source, target, now)
        return track

    def _evidence(self, trace: _Trace, source: str, target: str, which: int, now: float) -> None:
        """One sighting of a handoff; a new link message only when it outnumbers the other kind."""
        if source == target:
            return
        counts = trace.evidence.get((source, target))
        if counts is None:
            if len(trace.evidence) >= MAX_PER_TRACE:
                return
            counts = trace.evidence[(source, target)] = [0, 0]
        before = max(counts)
        counts[which] += 1
        if counts[which] > before:
            self._link(trace, source, target, now)

    def _link(self, trace: _Trace, source: str, target: str, now: float) -> None:
        if source in self.owned and target in self.owned:
            self.state.record_message(source, target, now)
        elif len(trace.unlinked) < MAX_PER_TRACE:
            trace.unlinked.append((source, target))

    # ------------------------------------------------------------------ traces
    def _trace(self, trace_id: bytes, now: float) -> _Trace:
        trace = self._traces.get(trace_id)
        if trace is None:
            trace = self._traces[trace_id] = _Trace(trace_id.hex()[:16], now)
            if len(self._traces) > self.max_traces:
                self._forget_oldest(keep=trace_id)
        else:
            self._traces.move_to_end(trace_id)
            trace.seen = now
        return trace

    def _forget_oldest(self, keep: bytes) -> None:
        """Forget the least recently active traces past the caps; ``keep`` last, if it alone is too big."""
        while self._traces and (len(self._traces) > self.max_traces or self._tracked > self.max_spans):
            oldest = next(iter(self._traces))
            if oldest == keep and len(self._traces) > 1:
                self._traces.move_to_end(keep)
                continue
            self._forget(oldest)

    def _forget(self, trace_id: bytes) -> None:
        trace = self._traces.pop(trace_id)
        self._tracked -= len(trace.spans)
        self._waiting -= trace.waiting_count
        self.unattributed += sum(item.child is None for items in trace.waiting.values() for item in items)

    # ------------------------------------------------------------------- aging
    def sweep(self, now: float | None = None) -> None:
        """Idle, offline and removed agents; token rates of the last minute; traces gone quiet."""
        now = self._clock() if now is None else now
        state = self.state
        for agent_id, track in list(self.owned.items()):
            agent = state.agents.get(agent_id)
            silent = now - track.last_span
            if agent is None or silent >= self.expire_s + self.idle_s:
                del self.owned[agent_id]
                state.remove(agent_id)
                continue
            if silent >= self.expire_s:
                if track.status is not AgentStatus.OFFLINE:
                    track.status, track.current_task = AgentStatus.OFFLINE, None
                    self._dirty.add(agent_id)
            elif silent >= self.idle_s and track.status is AgentStatus.BUSY:
                track.status, track.current_task = AgentStatus.IDLE, None
                self._dirty.add(agent_id)
            window = track.tokens_window
            if window and window[0][0] < now - RATE_WINDOW_S:
                while window and window[0][0] < now - RATE_WINDOW_S:
                    track.window_tokens -= window.popleft()[1]
                self._dirty.add(agent_id)
        self._write()
        while self._traces:
            oldest, trace = next(iter(self._traces.items()))
            if now - trace.seen < self.expire_s:
                break
            self._forget(oldest)

    def status(self) -> dict[str, Any]:
        age = None if self.last_update is None else max(0.0, self._clock() - self.last_update)
        return {
            "requests": self.requests,
            "spans": self.spans,
            "agents": len(self.owned),
            "traces": len(self._traces),
            "tracked_spans": self._tracked,
            "waiting_spans": self._waiting,
            "unattributed_spans": self.unattributed,
            "duplicate_spans": self.duplicates,
            "conflicts": self.conflicts,
            "data_age_s": None if age is None else round(age, 3),
        }


class OtlpSource:
    """``--source otlp``: no simulator; the swarm is whatever traces show."""

    name = "otlp"

    def __init__(self, ingest: OtlpIngest) -> None:
        self.ingest = ingest
        self._last_sweep = -math.inf

    async def start(self, state: SwarmState, now: float) -> None:
        self._last_sweep = now

    async def stop(self) -> None:
        return None

    def tick(self, state: SwarmState, now: float, dt: float) -> None:
        if now - self._last_sweep >= 1.0:
            self.ingest.sweep(now)
            state.prune_links(now)
            self._last_sweep = now

    def status(self) -> SourceStatus:
        return SourceStatus(
            name=self.name, connected=True, last_update=self.ingest.last_update, detail=self.ingest.status()
        )
