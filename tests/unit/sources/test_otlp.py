"""Traces to swarm: agents, handoff links, tasks, tokens, errors and ageing, as the API would show them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from tests.support.spans import Traces

from visionflow.observability.metrics import Metrics
from visionflow.sources import OtlpIngest
from visionflow.sources.otlp_spans import read_spans
from visionflow.swarm import Agent, AgentStatus, AgentType, SwarmState


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state() -> SwarmState:
    return SwarmState()


@pytest.fixture
def make_ingest(state: SwarmState, metrics: Metrics, clock: Clock) -> Callable[..., OtlpIngest]:
    def make(**options: Any) -> OtlpIngest:
        return OtlpIngest(state, metrics, clock=clock, **{"idle_s": 30.0, "expire_s": 300.0, **options})

    return make


@pytest.fixture
def ingest(make_ingest: Callable[..., OtlpIngest]) -> OtlpIngest:
    return make_ingest()


def send(ingest: OtlpIngest, traces: Traces, spans: list[Any] | None = None) -> None:
    ingest.apply(read_spans(traces.request(spans)).records)


def by_name(state: SwarmState) -> dict[str, Agent]:
    return {agent.name: agent for agent in state}


def edges(state: SwarmState) -> set[tuple[str, str, int]]:
    return {(link.source, link.target, link.message_count) for link in state.links.links(0.0)}


GENAI_AGENT = {"gen_ai.operation.name": "invoke_agent"}


def test_a_genai_agent_with_a_tool_and_a_model_call(ingest: OtlpIngest, state: SwarmState) -> None:
    traces = Traces("travel")
    with traces.span("invoke_agent planner", {**GENAI_AGENT, "gen_ai.agent.name": "Trip planner",
                                              "gen_ai.agent.description": "plans trips",
                                              "gen_ai.input.messages": "secret prompt"}) as root:  # fmt: skip
        with traces.span("chat", {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m-1",
                                  "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 30}):  # fmt: skip
            pass
        with traces.span("execute_tool", {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "book_hotel"}):
            pass
    send(ingest, traces)
    trace = format(root.get_span_context().trace_id, "032x")[:16]
    agent = state.agents[f"Trip planner@{trace}"]
    assert agent.name == "Trip planner" and agent.swarm_id == trace and agent.status is AgentStatus.BUSY
    assert agent.tokens == 150 and agent.token_rate == pytest.approx(150 / 60)
    assert agent.current_task == "book_hotel" and agent.tasks_completed == 1 and agent.success_rate == 1.0
    assert agent.metadata["gen_ai.agent.description"] == "plans trips"  # an attribute nothing maps
    assert agent.metadata["model"] == "m-1" and agent.metadata["service.name"] == "travel"
    assert agent.metadata["convention"] == "opentelemetry-genai"
    assert "gen_ai.input.messages" not in agent.metadata  # content is never kept
    assert len(state) == 1 and ingest.unattributed == 0


def test_an_agent_id_attribute_is_the_id_and_types_come_from_names(ingest: OtlpIngest, state: SwarmState) -> None:
    traces = Traces()
    with traces.span("a", {**GENAI_AGENT, "gen_ai.agent.id": "asst_42", "gen_ai.agent.name": "Code reviewer"}):
        pass
    send(ingest, traces)
    assert state.agents["asst_42"].type is AgentType.REVIEWER and state.agents["asst_42"].name == "Code reviewer"


def test_children_that_arrive_before_their_agent_wait_for_it(ingest: OtlpIngest, state: SwarmState) -> None:
    """Exporters send spans as they end: tools and model calls first, often in an earlier request."""
    traces = Traces()
    agent = {"openinference.span.kind": "AGENT", "agent.name": "Writer"}
    with traces.span("agent", agent), traces.span("turn", {"openinference.span.kind": "CHAIN"}):
        with traces.span("llm", {"openinference.span.kind": "LLM", "llm.token_count.prompt": 5,
                                 "llm.token_count.completion": 2}):  # fmt: skip
            pass
        with traces.span("search", {"openinference.span.kind": "TOOL", "tool.name": "search"}):
            pass
    llm, tool, turn, agent = traces.finished()
    send(ingest, traces, [llm, tool])
    assert len(state) == 0 and ingest.status()["waiting_spans"] == 2
    send(ingest, traces, [turn])
    assert len(state) == 0 and ingest.status()["waiting_spans"] == 2
    send(ingest, traces, [agent])
    writer = by_name(state)["Writer"]
    assert writer.tokens == 7 and writer.current_task == "search" and writer.tasks_completed == 1
    assert ingest.status()["waiting_spans"] == 0 and ingest.unattributed == 0


def test_a_span_resent_by_a_retrying_exporter_counts_once(ingest: OtlpIngest, state: SwarmState) -> None:
    traces = Traces()
    with (
        traces.span("a", {**GENAI_AGENT, "gen_ai.agent.name": "A"}),
        traces.span("c", {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 10}),
    ):
        pass
    spans = traces.finished()
    send(ingest, traces, spans)
    send(ingest, traces, spans)
    assert by_name(state)["A"].tokens == 10 and ingest.duplicates == 2


def test_one_conversation_is_one_set_of_agents_across_traces(ingest: OtlpIngest, state: SwarmState) -> None:
    traces = Traces()
    for _ in range(2):  # two turns, two traces
        with (
            traces.span("a", {**GENAI_AGENT, "gen_ai.agent.name": "Tutor", "gen_ai.conversation.id": "conv-7"}),
            traces.span("c", {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 10}),
        ):
            pass
    send(ingest, traces)
    assert list(state.agents) == ["Tutor@conv-7"] and state.agents["Tutor@conv-7"].tokens == 20


def test_an_agent_inside_another_is_linked_from_it(ingest: OtlpIngest, state: SwarmState) -> None:
    traces = Traces()
    with (
        traces.span("lead", {**GENAI_AGENT, "gen_ai.agent.name": "Lead"}),
        traces.span("step", {}),
        traces.span("helper", {**GENAI_AGENT, "gen_ai.agent.name": "Helper"}),
    ):
        pass
    helper, step, lead = traces.finished()
    send(ingest, traces, [helper, step])  # the helper ends (and is sent) before its parent arrives
    send(ingest, traces, [lead])
    agents = by_name(state)
    assert edges(state) == {(agents["Lead"].id, agents["Helper"].id, 1)}


def test_a_handoff_seen_twice_is_one_message(ingest: OtlpIngest, state: SwarmState) -> None:
    """OpenInference's OpenAI Agents spans: a ``handoff to`` tool span, and the new agent's parent id."""
    traces = Traces()
    with traces.span("workflow", {"openinference.span.kind": "AGENT"}):  # a workflow: names no agent
        with (
            traces.span("Triage", {"openinference.span.kind": "AGENT", "agent.name": "Triage",
                                   "graph.node.id": "Triage"}),
            traces.span("handoff to Refunds", {"openinference.span.kind": "TOOL", "input.value": "Triage",
                                               "output.value": "Refunds"}),
        ):  # fmt: skip
            pass
        with traces.span("Refunds", {"openinference.span.kind": "AGENT", "agent.name": "Refunds",
                                     "graph.node.id": "Refunds", "graph.node.parent_id": "Triage"}):  # fmt: skip
            pass
    send(ingest, traces)
    agents = by_name(state)
    assert set(agents) == {"Triage", "Refunds"}
    assert edges(state) == {(agents["Triage"].id, agents["Refunds"].id, 1)}
    assert agents["Triage"].tasks_completed == 0  # a handoff is not a task


def test_a_handoff_that_names_no_target_goes_to_the_next_agent(ingest: OtlpIngest, state: SwarmState) -> None:
    """OpenLLMetry's handoff spans carry ``gen_ai.handoff.from_agent`` only: the next agent to start took over."""
    traces = Traces()
    with traces.span("workflow", {}):
        with (
            traces.span("Triage.agent", {**GENAI_AGENT, "gen_ai.agent.name": "Triage"}),
            traces.span("handoff", {"gen_ai.operation.name": "handoff", "gen_ai.handoff.from_agent": "Triage"}),
        ):
            pass
        with traces.span("Refunds.agent", {**GENAI_AGENT, "gen_ai.agent.name": "Refunds"}):
            pass
    send(ingest, traces)
    agents = by_name(state)
    assert edges(state) == {(agents["Triage"].id, agents["Refunds"].id, 1)}


def node(name: str, step: int, **extra: Any) -> dict[str, Any]:
    meta = {"langgraph_node": name, "langgraph_step": step, "langgraph_checkpoint_ns": f"{name}:0f3c", **extra}
    return {"openinference.span.kind": "CHAIN", "metadata": orjson.dumps(meta).decode()}


def test_langgraph_supersteps_hand_over_to_the_next(ingest: OtlpIngest, state: SwarmState) -> None:
    traces = Traces()
    with traces.span("LangGraph", {"openinference.span.kind": "CHAIN"}):
        with traces.span("plan", node("plan", 1)):
            pass
        with traces.span("search", node("search", 2)):
            pass
        model = {"openinference.span.kind": "LLM", "llm.token_count.total": 9, "metadata": node("read", 2)["metadata"]}
        with traces.span("read", node("read", 2)), traces.span("ChatModel", model):
            pass
        with traces.span("write", node("write", 3)):
            pass
    spans = traces.finished()
    send(ingest, traces, list(reversed(spans)))  # order within a request does not matter
    ids = {a.name: a.id for a in state}
    assert edges(state) == {(ids["plan"], ids["search"], 1), (ids["plan"], ids["read"], 1),
                            (ids["search"], ids["write"], 1), (ids["read"], ids["write"], 1)}  # fmt: skip
    assert by_name(state)["read"].tokens == 9
    assert "LangGraph" not in ids  # the graph's own run is not an agent


def test_a_model_span_that_names_its_node_shows_the_node_before_the_node_ends(
    ingest: OtlpIngest, state: SwarmState
) -> None:
    traces = Traces()
    model = {"openinference.span.kind": "LLM", "llm.token_count.total": 4, "metadata": node("draft", 1)["metadata"]}
    with (
        traces.span("LangGraph", {"openinference.span.kind": "CHAIN"}),
        traces.span("draft", node("draft", 1)),
        traces.span("ChatModel", model),
    ):
        pass
    model_span = traces.finished()[0]
    send(ingest, traces, [model_span])
    assert by_name(state)["draft"].tokens == 4


def test_errors_make_the_status_error_until_a_later_span_succeeds(ingest: OtlpIngest, state: SwarmState) -> None:
    traces = Traces()
    with (
        traces.span("a", {**GENAI_AGENT, "gen_ai.agent.name": "Fixer"}, error="model overloaded"),
        traces.span("t", {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "patch"}, error="boom"),
    ):
        pass
    send(ingest, traces)
    fixer = by_name(state)["Fixer"]
    assert fixer.status is AgentStatus.ERROR and fixer.health == 0.0
    assert fixer.tasks_completed == 0 and fixer.success_rate == 0.0 and fixer.current_task == "patch"
    assert fixer.metadata["last_error"] == "model overloaded"
    with traces.span("a", {**GENAI_AGENT, "gen_ai.agent.name": "Fixer", "gen_ai.agent.id": fixer.id}):
        pass
    send(ingest, traces)
    assert fixer.status is AgentStatus.BUSY and fixer.health == pytest.approx(100 / 3)


def test_silent_agents_go_idle_then_offline_then_away(ingest: OtlpIngest, state: SwarmState, clock: Clock) -> None:
    traces = Traces()
    with traces.span("a", {**GENAI_AGENT, "gen_ai.agent.name": "Sleepy"}):
        with traces.span("t", {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "nap"}):
            pass
        with traces.span("c", {"gen_ai.operation.name": "chat", "gen_ai.usage.output_tokens": 60}):
            pass
    send(ingest, traces)
    sleepy = by_name(state)["Sleepy"]
    clock.now += 29
    ingest.sweep()
    assert sleepy.status is AgentStatus.BUSY and sleepy.token_rate == 1.0
    clock.now += 2
    ingest.sweep()
    assert sleepy.status is AgentStatus.IDLE and sleepy.current_task is None
    clock.now += 60
    ingest.sweep()
    assert sleepy.token_rate == 0.0 and sleepy.tokens == 60
    clock.now = 1_000.0 + 300
    ingest.sweep()
    assert sleepy.status is AgentStatus.OFFLINE and sleepy.id in state
    clock.now = 1_000.0 + 330
    ingest.sweep()
    assert sleepy.id not in state and ingest.status()["agents"] == 0 and ingest.status()["traces"] == 0


def test_another_sources_agent_is_left_alone(ingest: OtlpIngest, state: SwarmState) -> None:
    traces = Traces()
    with (
        traces.span("a", {**GENAI_AGENT, "gen_ai.agent.id": "pushed-1", "gen_ai.agent.name": "X"}),
        traces.span("c", {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 10}),
    ):
        pass
    state.add(Agent(id="pushed-1", name="mine", type=AgentType.CODER))
    send(ingest, traces)
    assert state.agents["pushed-1"].name == "mine" and state.agents["pushed-1"].tokens == 0
    assert ingest.conflicts == 1


def test_waiting_spans_are_bounded(make_ingest: Callable[..., OtlpIngest], state: SwarmState) -> None:
    ingest = make_ingest(max_waiting=3)
    traces = Traces()
    with traces.span("a", {**GENAI_AGENT, "gen_ai.agent.name": "Busy"}):
        for _ in range(5):
            with traces.span("t", {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "x"}):
                pass
    *tools, agent = traces.finished()
    send(ingest, traces, tools)
    assert ingest.status()["waiting_spans"] == 3 and ingest.unattributed == 2
    send(ingest, traces, [agent])
    assert by_name(state)["Busy"].tasks_completed == 3


def test_old_traces_are_forgotten_beyond_the_cap(make_ingest: Callable[..., OtlpIngest], state: SwarmState) -> None:
    ingest = make_ingest(max_traces=2)
    traces = Traces()
    for _ in range(3):
        with traces.span("root", {}), traces.span("t", {"gen_ai.operation.name": "execute_tool"}):
            pass
    send(ingest, traces)
    assert ingest.status()["traces"] == 2 and len(state) == 0 and ingest.unattributed == 3


def test_a_parent_cycle_ends_the_walk(ingest: OtlpIngest, state: SwarmState) -> None:
    traces = Traces()
    with traces.span("a", {}), traces.span("b", {}), traces.span("t", {"gen_ai.operation.name": "execute_tool"}):
        pass
    request = traces.request()
    spans = request.resource_spans[0].scope_spans[0].spans
    _tool, b, a = spans
    a.parent_span_id = b.span_id  # a <-> b: no root, no agent
    ingest.apply(read_spans(request).records)
    assert len(state) == 0 and ingest.unattributed == 1


def test_one_endless_trace_is_forgotten_rather_than_kept_growing(
    make_ingest: Callable[..., OtlpIngest], state: SwarmState
) -> None:
    ingest = make_ingest(max_spans=50)
    traces = Traces()
    with traces.span("a", {**GENAI_AGENT, "gen_ai.agent.name": "Loop"}):
        for _ in range(120):
            with traces.span("step", {}):
                pass
    send(ingest, traces)
    assert ingest.status()["traces"] <= 1 and ingest.status()["tracked_spans"] <= 50
