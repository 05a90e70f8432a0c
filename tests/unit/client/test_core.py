"""The reporter's policy, answer by answer: batching, refusals, restarts and the bounded queue."""

from __future__ import annotations

import json
from typing import Any

import pytest

from visionflow.client._core import Batch, ReporterCore, Request


def ok(instance: str = "one", unmatched: list[int] | None = None) -> bytes:
    applied = {"unmatched": {"messages": unmatched or [], "links": []}}
    return json.dumps({"applied": applied, "instance_id": instance}).encode()


def refused(loc: list[Any], msg: str = "bad") -> bytes:
    return json.dumps({"detail": [{"loc": loc, "msg": msg, "type": "x"}]}).encode()


def message(a: str, b: str, at: float = 1.0, nbytes: int = 0) -> dict[str, Any]:
    return {"from": a, "to": b, "bytes": nbytes, "at": at}


def send(core: ReporterCore, status: int = 200, body: bytes | None = None) -> tuple[Request, Any]:
    request = core.take()
    assert request is not None
    return request, core.answered(request, status, ok() if body is None else body)


def test_the_first_item_starts_the_flush_timer_and_a_full_batch_goes_at_once() -> None:
    core = ReporterCore(max_batch=3)
    assert core.due_in(0.0, 0.05, False) is None
    assert core.put("agent", {"id": "a"}, now=10.0)
    assert not core.put("agent", {"id": "b"}, now=10.02)
    assert core.due_in(10.03, 0.05, False) == pytest.approx(0.02)
    assert core.due_in(10.03, 0.05, True) == 0.0  # flushing
    assert core.due_in(10.06, 0.05, False) == 0.0
    core.put("agent", {"id": "c"}, now=10.04)
    assert core.due_in(10.04, 0.05, False) == 0.0  # max_batch reached


def test_a_batch_keeps_order_and_a_respawn_waits_for_the_next() -> None:
    core = ReporterCore()
    for kind, item in [("agent", {"id": "a"}), ("message", message("a", "b")), ("remove", "a"),
                       ("agent", {"id": "a", "type": "coder"}), ("agent", {"id": "b"})]:  # fmt: skip
        core.put(kind, item, 0.0)  # type: ignore[arg-type]
    first = core.take()
    assert first is not None and first.batch is not None
    assert (len(first.batch.agents), len(first.batch.messages), first.batch.remove) == (1, 1, ["a"])
    core.answered(first, 200, ok())
    second = core.take()
    assert second is not None and second.batch is not None and [a["id"] for a in second.batch.agents] == ["a", "b"]


def test_acknowledged_items_become_the_known_state() -> None:
    core = ReporterCore()
    core.put("agent", {"id": "a", "type": "coder", "tokens": 1}, 0.0)
    core.put("agent", {"id": "b"}, 0.0)
    core.put("agent", {"id": "a", "tokens": 9}, 0.0)
    core.put("message", message("a", "b", at=5.0, nbytes=10), 0.0)
    core.put("message", message("b", "a", at=7.0, nbytes=5), 0.0)
    core.put("message", message("a", "ghost"), 0.0)
    _, step = send(core, body=ok(unmatched=[2]))
    assert step.unmatched == [message("a", "ghost")]
    assert core.stats.unmatched_messages == 1 and core.stats.acknowledged == 6
    assert core.known_agents == {"a": {"type": "coder", "tokens": 9}, "b": {}}
    assert list(core.known_links.values()) == [
        {"from": "a", "to": "b", "message_count": 2, "bytes": 15, "last_message_at": 7.0}
    ]
    core.put("remove", "b", 0.0)
    send(core)
    assert set(core.known_agents) == {"a"} and not core.known_links


def test_a_new_instance_id_sends_the_known_state_first_then_the_rest() -> None:
    core = ReporterCore(max_batch=2)
    for i in range(3):
        core.put("agent", {"id": f"a{i}", "type": "coder"}, 0.0)
    core.put("message", message("a0", "a1", at=3.0), 0.0)
    while core.queue:
        send(core)
    assert core.stats.server_instance == "one"
    core.put("agent", {"id": "a0", "tokens": 7}, 0.0)
    request = core.take()
    assert request is not None
    step = core.failed(request, "ConnectionRefusedError")
    assert step.delay_s > 0 and core.needs_probe
    probe = core.take()
    assert probe is not None and probe.batch is None and probe.body() == b"{}"
    core.answered(probe, 200, ok("two"))
    assert core.stats.restarts == 1 and not core.needs_probe
    sent: list[Batch] = []
    while (request := core.take()) is not None:
        assert request.batch is not None
        sent.append(request.batch)
        core.answered(request, 200, ok("two"))
    assert [b.resend for b in sent] == [True, True, False]
    assert [a["id"] for b in sent[:2] for a in b.agents] == ["a0", "a1", "a2"]
    assert sent[0].agents[0] == {"id": "a0", "type": "coder"}
    assert sent[1].links == [{"from": "a0", "to": "a1", "message_count": 1, "bytes": 0, "last_message_at": 3.0}]
    assert sent[2].agents == [{"id": "a0", "tokens": 7}]
    assert core.stats.resent == 4 and core.idle


def test_the_same_instance_after_a_failure_sends_nothing_again() -> None:
    core = ReporterCore()
    core.put("agent", {"id": "a"}, 0.0)
    send(core)
    core.put("agent", {"id": "b"}, 0.0)
    request = core.take()
    assert request is not None
    core.failed(request, "timeout")
    probe = core.take()
    assert probe is not None
    core.answered(probe, 200, ok("one"))
    again = core.take()
    assert again is not None and again.batch is not None and again.batch.agents == [{"id": "b"}]
    assert core.stats.restarts == 0


def test_a_refused_item_is_dropped_and_the_rest_sent_again() -> None:
    core = ReporterCore()
    core.put("agent", {"id": "a"}, 0.0)
    core.put("agent", {"id": "b", "health": 500}, 0.0)
    core.put("message", message("a", "b"), 0.0)
    _, step = send(core, 422, refused(["body", "agents", 1, "health"], "less than or equal to 100"))
    assert [(r.kind, r.item["id"], r.status) for r in step.rejected] == [("agent", "b", 422)]
    assert "less than or equal to 100" in step.rejected[0].reason
    retry = core.take()
    assert retry is not None and retry.batch is not None
    assert retry.batch.agents == [{"id": "a"}] and len(retry.batch.messages) == 1
    core.answered(retry, 200, ok())
    assert core.stats.rejected == 1 and core.stats.acknowledged == 2 and core.idle


def test_a_conflict_names_its_item_and_a_wrong_token_refuses_the_batch() -> None:
    core = ReporterCore()
    core.put("remove", "sim-1", 0.0)
    core.put("agent", {"id": "mine"}, 0.0)
    _, step = send(core, 409, refused(["body", "remove", 0], "belongs to another source"))
    assert [r.item for r in step.rejected] == ["sim-1"]
    _, step = send(core, 401, json.dumps({"detail": "a valid bearer token is required"}).encode())
    assert [r.item for r in step.rejected] == [{"id": "mine"}] and "bearer" in step.rejected[0].reason
    assert core.stats.rejected == 2 and core.idle


@pytest.mark.parametrize(("status", "loc"), [(413, ["body"]), (422, ["body"])])
def test_a_batch_too_large_for_the_server_is_split(status: int, loc: list[Any]) -> None:
    core = ReporterCore()
    for i in range(5):
        core.put("agent", {"id": f"a{i}"}, 0.0)
    core.put("remove", "a0", 0.0)
    _, step = send(core, status, refused(loc))
    assert not step.rejected
    first, second = core.take(), None
    assert first is not None and first.batch is not None
    core.answered(first, 200, ok())
    second = core.take()
    assert second is not None and second.batch is not None
    assert [a["id"] for a in first.batch.agents + second.batch.agents] == [f"a{i}" for i in range(5)]
    assert second.batch.remove == ["a0"]


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_trouble_is_retried_not_refused(status: int) -> None:
    core = ReporterCore()
    core.put("agent", {"id": "a"}, 0.0)
    _, step = send(core, status, b"busy")
    assert step.delay_s > 0 and not step.rejected and core.stats.retries == 1 and core.pending == 1


def test_back_off_doubles_up_to_its_cap_and_resets_on_an_answer() -> None:
    core = ReporterCore(max_backoff_s=0.3)
    core.put("agent", {"id": "a"}, 0.0)
    delays = []
    for _ in range(5):
        request = core.take()
        assert request is not None
        delays.append(core.failed(request, "down").delay_s)
    assert delays == [0.05, 0.1, 0.2, 0.3, 0.3]
    probe = core.take()
    assert probe is not None
    core.answered(probe, 200, ok())
    request = core.take()
    assert request is not None
    assert core.failed(request, "down").delay_s == 0.05


def test_a_long_outage_keeps_every_final_state_in_bounded_memory() -> None:
    core = ReporterCore(max_queue=1000, max_batch=100)
    for i in range(50):
        core.put("agent", {"id": f"a{i}", "type": "coder"}, 0.0)
    for n in range(20_000):
        core.put("agent", {"id": f"a{n % 50}", "tokens": n}, 0.0)
        if n % 10 == 0:
            core.put("message", message(f"a{n % 50}", f"a{(n + 1) % 50}", at=float(n), nbytes=2), 0.0)
        assert len(core.queue) <= 1000
    core.put("remove", "a49", 0.0)
    assert core.stats.coalesced > 15_000
    sent: list[Batch] = []
    while (request := core.take()) is not None:
        assert request.batch is not None
        sent.append(request.batch)
        core.answered(request, 200, ok())
    final: dict[str, dict[str, Any]] = {}
    removed = set()
    counted = 0
    for batch in sent:
        for agent in batch.agents:
            final.setdefault(agent["id"], {}).update(agent)
        counted += sum(m.get("count", 1) for m in batch.messages)
        removed.update(batch.remove)
    assert removed == {"a49"}
    for i in range(49):
        assert final[f"a{i}"]["tokens"] == max(n for n in range(20_000) if n % 50 == i)
        assert final[f"a{i}"]["type"] == "coder"
    assert counted + core.stats.dropped_messages == 2000


def test_when_summaries_fill_the_queue_the_oldest_are_dropped_and_counted() -> None:
    core = ReporterCore(max_queue=100)
    core.put("agent", {"id": "hub"}, 0.0)
    for n in range(400):
        core.put("message", message("hub", f"peer-{n}", at=float(n)), 0.0)
        assert len(core.queue) <= 100
    assert core.stats.dropped_messages > 0
    kept = [item for kind, item in core.queue if kind == "message"]
    assert kept and kept[-1]["to"] == "peer-399"  # the newest survive
    assert core.stats.dropped_messages + sum(m.get("count", 1) for m in kept) == 400


def test_an_agent_finished_and_spawned_again_during_an_outage_is_reset_first() -> None:
    core = ReporterCore(max_queue=4)
    core.put("agent", {"id": "a", "type": "coder", "tokens": 5}, 0.0)
    core.put("remove", "a", 0.0)
    core.put("agent", {"id": "a", "type": "tester"}, 0.0)
    core.put("agent", {"id": "b"}, 0.0)
    assert list(core.queue) == [("remove", "a"), ("agent", {"id": "a", "type": "tester"}), ("agent", {"id": "b"})]


def test_known_links_are_capped_least_recent_first() -> None:
    core = ReporterCore(max_links=2)
    for peer in ("b", "c", "d"):
        core.put("message", message("a", peer), 0.0)
    send(core)
    assert [link["to"] for link in core.known_links.values()] == ["c", "d"]


def test_a_failed_batch_goes_back_to_the_queue_where_coalescing_reaches_it() -> None:
    core = ReporterCore(max_queue=10)
    for n in range(8):
        core.put("agent", {"id": "a", "tokens": n}, 0.0)
    request = core.take()
    assert request is not None and core.pending == 8
    for n in range(8, 16):
        core.put("agent", {"id": "a", "tokens": n}, 0.0)
    core.failed(request, "down")
    assert list(core.queue) == [("agent", {"id": "a", "tokens": 15})]


def test_a_refusal_from_a_new_instance_also_sends_the_known_state_first() -> None:
    core = ReporterCore()
    core.put("agent", {"id": "a", "type": "coder"}, 0.0)
    send(core)
    core.put("agent", {"id": "b", "health": 500}, 0.0)
    core.put("agent", {"id": "c"}, 0.0)
    body = json.loads(refused(["body", "agents", 0, "health"]))
    _, step = send(core, 422, json.dumps({**body, "instance_id": "two"}).encode())
    assert [r.item["id"] for r in step.rejected] == ["b"] and core.stats.restarts == 1
    resend = core.take()
    assert resend is not None and resend.batch is not None and resend.batch.resend
    assert resend.batch.agents == [{"id": "a", "type": "coder"}]
