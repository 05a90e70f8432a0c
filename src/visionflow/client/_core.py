"""The reporter's policy without I/O: what to send next, what an answer means, what to remember.

``SwarmReporter`` (a thread) and ``AsyncSwarmReporter`` (an asyncio task) drive one
``ReporterCore`` each and differ only in how they wait and how they post, so batching,
retries, restarts and the queue's bound behave the same in both.

What it remembers. Every acknowledged item is folded into the *known state*: each agent
with its latest fields, and each link (pair of agents) with its message totals. When an
answer carries a server instance id other than the last one, the server restarted and may
have lost everything; the known state is sent again first (agent upserts, then link totals
the server merges by taking the larger), then the queue carries on. Both kinds of item are
idempotent, so a server that kept its state (a store that restored it) changes nothing.

How it stays bounded. The queue holds at most ``max_queue`` items (a batch that failed
goes back to its head), plus the one batch being sent. When a long outage fills it, it is
*coalesced*: each agent's queued upserts merge into one holding its latest fields (an
agent finished meanwhile becomes one removal, and messages to or from it go, since its
links go with it), and messages merge into one summary per ordered pair (their count,
bytes, last time). Final states are never dropped: summaries are, oldest first and
counted, when they would fill more than half the bound. So the queue holds at most
``max_queue`` items, or, when more than ``max_queue / 2`` agents have pending changes,
twice their number. Known links are capped at ``max_links``, least recently used first.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["TRANSIENT_STATUSES", "Batch", "RejectedItem", "ReporterCore", "ReporterStats", "Request", "Step"]

log = logging.getLogger("visionflow.client")

Kind = Literal["agent", "remove", "message", "link"]
_LISTS: dict[Kind, str] = {"agent": "agents", "remove": "remove", "message": "messages", "link": "links"}
_KINDS: dict[str, Kind] = {v: k for k, v in _LISTS.items()}
_ORDER: tuple[Kind, ...] = ("agent", "link", "message", "remove")
"""The order the server applies a batch in."""

INITIAL_BACKOFF_S = 0.05

TRANSIENT_STATUSES = frozenset({408, 425, 429})
"""4xx answers that say "later", not "never": retried like a 5xx."""


@dataclass(slots=True)
class ReporterStats:
    """Counts since the reporter started; ``pending`` is what is still to be sent."""

    queued: int = 0
    acknowledged: int = 0
    rejected: int = 0
    unmatched_messages: int = 0
    batches: int = 0
    retries: int = 0
    coalesced: int = 0
    """Queued items merged into others while the queue was full (no final state is lost)."""
    dropped_messages: int = 0
    """Messages whose per-pair summaries were dropped because the queue stayed full."""
    restarts: int = 0
    """Server restarts noticed (a new instance id)."""
    resent: int = 0
    """Items of known state sent again after restarts."""
    pending: int = 0
    last_error: str | None = None
    server_instance: str | None = None


@dataclass(frozen=True, slots=True)
class RejectedItem:
    """An item the server refused: sending it again would not help."""

    kind: Kind
    item: Any
    status: int
    reason: str


@dataclass(slots=True)
class Batch:
    """Items for one ``POST /api/bots/update``; ``resend`` marks known state sent after a restart."""

    agents: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    resend: bool = False

    def __len__(self) -> int:
        return len(self.agents) + len(self.links) + len(self.messages) + len(self.remove)

    def add(self, kind: Kind, item: Any) -> None:
        getattr(self, _LISTS[kind]).append(item)

    def items(self) -> Iterator[tuple[Kind, Any]]:
        """Every item in the order the server applies them."""
        for kind in _ORDER:
            for item in getattr(self, _LISTS[kind]):
                yield kind, item

    def body(self) -> bytes:
        return json.dumps({_LISTS[k]: getattr(self, _LISTS[k]) for k in _ORDER if getattr(self, _LISTS[k])}).encode()

    def halves(self) -> tuple[Batch, Batch]:
        """Two batches that, sent in turn, apply exactly as this one does."""
        items = list(self.items())
        first, second = Batch(resend=self.resend), Batch(resend=self.resend)
        for i, (kind, item) in enumerate(items):
            (first if i < len(items) // 2 else second).add(kind, item)
        return first, second


@dataclass(frozen=True, slots=True)
class Request:
    """What to post next: a batch, or an empty probe that asks the server's instance id."""

    batch: Batch | None

    def body(self) -> bytes:
        return b"{}" if self.batch is None else self.batch.body()


@dataclass(slots=True)
class Step:
    """What the driver does after an answer: wait ``delay_s``, then tell the user about these."""

    delay_s: float = 0.0
    rejected: list[RejectedItem] = field(default_factory=list)
    unmatched: list[dict[str, Any]] = field(default_factory=list)


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


class ReporterCore:
    """Queue, known state and the meaning of answers; callers hold a lock around every call."""

    def __init__(
        self, *, max_batch: int = 1000, max_queue: int = 100_000, max_links: int = 100_000, max_backoff_s: float = 5.0
    ) -> None:
        if max_batch < 1 or max_queue < 2 or max_links < 1:
            raise ValueError("max_batch, max_links must be positive and max_queue at least 2")
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.max_links = max_links
        self.max_backoff_s = max_backoff_s
        self.stats = ReporterStats()
        self.queue: deque[tuple[Kind, Any]] = deque()
        self.first_queued_at: float | None = None
        """When the oldest queued item arrived (the driver's clock): it is sent by then + ``flush_interval``."""
        self.front: deque[Batch] = deque()
        """Batches to send before the queue: known state after a restart, halves of a split, a retried batch."""
        self.in_flight: Request | None = None
        self.needs_probe = False
        self.known_agents: dict[str, dict[str, Any]] = {}
        self.known_links: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._links_of: dict[str, set[tuple[str, str]]] = {}
        self._compact_at = max_queue
        self._delay = INITIAL_BACKOFF_S
        self._warned: set[str] = set()

    # ------------------------------------------------------------ the queue
    def put(self, kind: Kind, item: Any, now: float) -> bool:
        """Queue one item; True when the queue was empty (the driver starts its flush timer)."""
        was_empty = not self.queue
        if was_empty:
            self.first_queued_at = now
        self.queue.append((kind, item))
        self.stats.queued += 1
        if len(self.queue) >= self._compact_at:
            self.coalesce()
        self.stats.pending = self.pending
        return was_empty

    @property
    def pending(self) -> int:
        flying = 0 if self.in_flight is None or self.in_flight.batch is None else len(self.in_flight.batch)
        return len(self.queue) + sum(len(b) for b in self.front) + flying

    @property
    def idle(self) -> bool:
        return not self.queue and not self.front and self.in_flight is None

    def due_in(self, now: float, flush_interval: float, flushing: bool) -> float | None:
        """Seconds until there is something to send (0: now), or None when there is nothing."""
        if self.front or (self.needs_probe and self.queue):
            return 0.0
        if not self.queue:
            return None
        if flushing or len(self.queue) >= self.max_batch or self.first_queued_at is None:
            return 0.0
        return max(0.0, self.first_queued_at + flush_interval - now)

    def coalesce(self) -> None:
        """Merge the queue down to each agent's final state and one summary per messaging pair."""
        before = len(self.queue)
        alive: dict[str, dict[str, Any]] = {}
        removed: dict[str, None] = {}
        reset: set[str] = set()
        summaries: dict[tuple[str, str], dict[str, Any]] = {}
        for kind, item in self.queue:
            if kind == "agent":
                agent_id = item["id"]
                if agent_id in removed:
                    del removed[agent_id]
                    reset.add(agent_id)
                alive.setdefault(agent_id, {}).update(item)
            elif kind == "remove":
                alive.pop(item, None)
                removed[item] = None
            elif kind == "message":
                key = (item["from"], item["to"])
                summary = summaries.get(key)
                if summary is None:
                    summaries[key] = dict(item)
                else:
                    summary["count"] = summary.get("count", 1) + item.get("count", 1)
                    summary["bytes"] = summary.get("bytes", 0) + item.get("bytes", 0)
                    summary["at"] = max(summary["at"], item["at"])
        # A pair one of whose agents is finished by the end has no link left to show: nothing to send.
        kept = [s for (a, b), s in summaries.items() if a not in removed and b not in removed]
        limit = self.max_queue // 2
        room = max(0, limit - len(alive) - len(removed) - len(reset))
        if len(kept) > room:
            kept.sort(key=lambda s: s["at"])
            dropped, kept = kept[: len(kept) - room], kept[len(kept) - room :]
            self.stats.dropped_messages += sum(s.get("count", 1) for s in dropped)
            if "dropped" not in self._warned:
                self._warned.add("dropped")
                log.warning("visionflow reporter: queue full while the server is unreachable; dropping the oldest "
                            "message summaries (agent states are kept)")  # fmt: skip
        queue: deque[tuple[Kind, Any]] = deque()
        queue.extend(("remove", agent_id) for agent_id in alive if agent_id in reset)
        queue.extend(("agent", fields) for fields in alive.values())
        queue.extend(("message", summary) for summary in kept)
        queue.extend(("remove", agent_id) for agent_id in removed)
        self.queue = queue
        self.stats.coalesced += max(0, before - len(queue))
        self._compact_at = max(self.max_queue, 2 * len(queue))

    def take(self) -> Request | None:
        """The next request: a probe after a connection failure, else the next batch, in order."""
        if self.needs_probe:
            self.in_flight = Request(None)
            return self.in_flight
        if self.front:
            self.in_flight = Request(self.front.popleft())
            return self.in_flight
        if not self.queue:
            return None
        batch = Batch()
        removed: set[str] = set()
        queue = self.queue
        while queue and len(batch) < self.max_batch:
            kind, item = queue[0]
            if kind == "agent" and item["id"] in removed:
                break  # the server applies removals last: a re-spawn must wait for the next batch
            if kind == "message" and (item["from"] in removed or item["to"] in removed):
                break
            queue.popleft()
            batch.add(kind, item)
            if kind == "remove":
                removed.add(item)
        self.first_queued_at = None if not queue else self.first_queued_at
        self.in_flight = Request(batch)
        return self.in_flight

    # -------------------------------------------------------------- answers
    def failed(self, request: Request, error: str) -> Step:
        """The request got no answer (or 429 or 5xx): keep it, back off, and probe before sending it again.

        The probe (an empty batch) learns whether the server that answers next is the one
        that acknowledged the earlier batches; if not, the known state goes first.
        """
        self.in_flight = None
        batch = request.batch
        if batch is not None and batch.resend:
            self.front.appendleft(batch)
        elif batch is not None:  # back to the head of the queue, where an outage's coalescing reaches it
            self.queue.extendleft(reversed(list(batch.items())))
            if len(self.queue) >= self._compact_at:
                self.coalesce()
        self.needs_probe = True
        self.stats.retries += 1
        self.stats.last_error = error
        delay, self._delay = self._delay, min(self._delay * 2.0, self.max_backoff_s)
        self.stats.pending = self.pending
        return Step(delay_s=delay)

    def answered(self, request: Request, status: int, body: bytes) -> Step:
        """Fold an answer in: known state, restarts, rejected and unmatched items; a 5xx is a failure."""
        if status >= 500 or status in TRANSIENT_STATUSES:
            return self.failed(request, f"HTTP {status}")
        self.in_flight = None
        self._delay = INITIAL_BACKOFF_S
        parsed = _json(body)
        step = Step()
        if request.batch is None:
            self.needs_probe = False  # a refused probe (a bad token, say) teaches nothing; the batch will tell
        if 200 <= status < 300:
            if request.batch is not None:
                step.unmatched = self._acknowledged(request.batch, parsed)
        elif request.batch is not None:
            step.rejected = self._rejected(request.batch, status, parsed, body)
        # Last, so the known state goes out ahead of whatever the answer left to send; refusals
        # carry the instance too, so a restart shows either way.
        self._new_instance(parsed.get("instance_id"))
        self.stats.pending = self.pending
        return step

    def _new_instance(self, instance: object) -> None:
        if not isinstance(instance, str) or not instance:
            return
        previous = self.stats.server_instance
        self.stats.server_instance = instance
        if previous is None or previous == instance:
            return
        self.stats.restarts += 1
        log.info("visionflow reporter: the server restarted (instance %s); sending the known state again", instance)
        self.front = deque([*self._known_batches(), *(b for b in self.front if not b.resend)])

    def _known_batches(self) -> list[Batch]:
        batches: list[Batch] = []
        items: list[tuple[Kind, Any]] = [("agent", {"id": i, **f}) for i, f in self.known_agents.items()]
        items += [("link", dict(link)) for link in self.known_links.values()]
        for kind, item in items:
            if not batches or len(batches[-1]) >= self.max_batch:
                batches.append(Batch(resend=True))
            batches[-1].add(kind, item)
        return batches

    def _acknowledged(self, batch: Batch, answer: dict[str, Any]) -> list[dict[str, Any]]:
        self.stats.acknowledged += len(batch)
        self.stats.batches += 1
        if batch.resend:
            self.stats.resent += len(batch)
        unmatched_at = _unmatched_indices(answer, len(batch.messages))
        for item in batch.agents:
            self.known_agents.setdefault(item["id"], {}).update({k: v for k, v in item.items() if k != "id"})
        for i, message in enumerate(batch.messages):
            if i not in unmatched_at:
                self._count_message(message)
        for agent_id in batch.remove:
            self.known_agents.pop(agent_id, None)
            for key in self._links_of.pop(agent_id, set()):
                self._forget_link(key)
        unmatched = [batch.messages[i] for i in sorted(unmatched_at)]
        if unmatched:
            self.stats.unmatched_messages += len(unmatched)
            self._warn_once("unmatched", "visionflow reporter: the server knew neither end of %d message(s), "
                            "e.g. %s -> %s; counted in stats.unmatched_messages", len(unmatched),
                            unmatched[0]["from"], unmatched[0]["to"])  # fmt: skip
        return unmatched

    def _count_message(self, message: dict[str, Any]) -> None:
        key = _pair(message["from"], message["to"])
        link = self.known_links.get(key)
        if link is None:
            link = {"from": message["from"], "to": message["to"], "message_count": 0, "bytes": 0,
                    "last_message_at": None}  # fmt: skip
            self.known_links[key] = link
            for agent_id in key:
                self._links_of.setdefault(agent_id, set()).add(key)
            if len(self.known_links) > self.max_links:
                self._forget_link(next(iter(self.known_links)))
        else:
            self.known_links.move_to_end(key)
        link["message_count"] += message.get("count", 1)
        link["bytes"] += message.get("bytes", 0)
        at = message.get("at")
        if at is not None:
            link["last_message_at"] = at if link["last_message_at"] is None else max(link["last_message_at"], at)

    def _forget_link(self, key: tuple[str, str]) -> None:
        self.known_links.pop(key, None)
        for agent_id in key:
            keys = self._links_of.get(agent_id)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._links_of[agent_id]

    def _rejected(self, batch: Batch, status: int, answer: dict[str, Any], body: bytes) -> list[RejectedItem]:
        """Refuse what the server named and send the rest again; split a batch too large for it."""
        reason = _reason(answer, body, status)
        loc = _first_loc(answer)
        if status == 413 or (status == 422 and loc == ["body"]):
            if len(batch) > 1:
                first, second = batch.halves()
                self.front.extendleft((second, first))
                return []
        elif status in (409, 422) and len(loc) >= 3 and loc[1] in _KINDS and isinstance(loc[2], int):
            kind = _KINDS[loc[1]]
            items: list[Any] = getattr(batch, _LISTS[kind])
            if 0 <= loc[2] < len(items):
                item = items.pop(loc[2])
                if len(batch):
                    self.front.appendleft(batch)
                return self._refuse([RejectedItem(kind, item, status, reason)])
        return self._refuse([RejectedItem(kind, item, status, reason) for kind, item in batch.items()])

    def _refuse(self, items: list[RejectedItem]) -> list[RejectedItem]:
        self.stats.rejected += len(items)
        self.stats.last_error = items[0].reason
        self._warn_once("rejected", "visionflow reporter: the server refused %d item(s): %s; counted in "
                        "stats.rejected", len(items), items[0].reason)  # fmt: skip
        return items

    def _warn_once(self, what: str, message: str, *args: Any) -> None:
        if what not in self._warned:
            self._warned.add(what)
            log.warning(message, *args)


def _json(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _unmatched_indices(answer: dict[str, Any], n: int) -> set[int]:
    applied = answer.get("applied")
    unmatched = applied.get("unmatched") if isinstance(applied, dict) else None
    indices = unmatched.get("messages") if isinstance(unmatched, dict) else None
    if not isinstance(indices, list):
        return set()
    return {i for i in indices if isinstance(i, int) and 0 <= i < n}


def _first_loc(answer: dict[str, Any]) -> list[Any]:
    detail = answer.get("detail")
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        loc = detail[0].get("loc")
        if isinstance(loc, list):
            return loc
    return []


def _reason(answer: dict[str, Any], body: bytes, status: int) -> str:
    detail = answer.get("detail")
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        text = f"{detail[0].get('msg', '')} at {detail[0].get('loc', '')}"
    elif isinstance(detail, str):
        text = detail
    else:
        text = body[:300].decode(errors="replace")
    return f"HTTP {status}: {text}"
