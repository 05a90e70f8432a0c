"""Real agent frameworks, traced the way their users trace them, shown by a live ``visionflow serve``.

Each framework runs in its own process (``tests/support/frameworks.py``) with no API key: the
OpenAI Agents SDK on a scripted model, under either OpenInference's or OpenLLMetry's
instrumentation (the two conventions), and a LangGraph graph on langchain's fake chat model
under OpenInference's. They export with the standard OTLP/HTTP exporter and
``OTEL_EXPORTER_OTLP_ENDPOINT``; the test reads only what a user reads, ``/api/bots/data``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.frameworks import framework_python, run_framework
from tests.support.live import LiveServer, start_server

pytestmark = pytest.mark.integration

TOKEN = "otlp-test-token-5d1f"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    framework_python()  # built (or found) before the server starts, so its wait is not the server's
    live = start_server(tmp_path_factory.mktemp("otlp") / "server.log", "--source", "otlp",
                        env={"VISIONFLOW_INGEST_TOKEN": TOKEN})  # fmt: skip
    yield live
    live.stop()


def swarm_of(server: LiveServer, service: str) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The agents (by name) that ``service``'s traces made, and the edges between them."""
    body = server.get("/api/bots/data").json()
    agents = {a["name"]: a for a in body["agents"] if a["metadata"].get("service.name") == service}
    ids = {a["id"] for a in agents.values()}
    return agents, [e for e in body["edges"] if e["source"] in ids or e["target"] in ids]


def run(server: LiveServer, script: str, *args: str) -> None:
    done = run_framework(script, server.http, *args, token=TOKEN)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Failed to export" not in done.stderr, done.stderr[-3000:]


@pytest.mark.parametrize(("instrumentation", "convention"),
                         [("openinference", "openinference"), ("openllmetry", "opentelemetry-genai")])  # fmt: skip
def test_openai_agents_triage_hands_over_to_a_specialist_and_back(
    server: LiveServer, instrumentation: str, convention: str
) -> None:
    run(server, "openai_agents_handoff.py", "--instrumentation", instrumentation)
    agents, edges = swarm_of(server, f"billing-desk-{instrumentation}")
    assert set(agents) == {"Triage", "Billing specialist"}
    triage, specialist = agents["Triage"], agents["Billing specialist"]
    run_id = triage["id"].split("@")[1]
    assert len(run_id) == 16 and specialist["id"] == f"Billing specialist@{run_id}"
    assert {a["metadata"]["convention"] for a in agents.values()} == {convention}
    assert all(a["status"] == "busy" for a in agents.values())
    # Two handoffs (triage -> specialist, specialist -> triage), each seen twice in the trace
    # (the handoff span and the new agent's parent): one edge, two messages, first sender first.
    assert len(edges) == 1
    assert (edges[0]["source"], edges[0]["target"]) == (triage["id"], specialist["id"])
    assert edges[0]["message_count"] == 2
    assert specialist["current_task"] == "lookup_invoice" and specialist["tasks_completed"] == 1
    assert triage["current_task"] is None and triage["tasks_completed"] == 0
    assert triage["tokens"] == 20 + 3 + 40 + 9
    assert specialist["tokens"] == 30 + 7 + 50 + 5
    assert specialist["token_rate"] > 0


def test_langgraph_three_nodes_in_a_line(server: LiveServer) -> None:
    run(server, "langgraph_three_nodes.py")
    agents, edges = swarm_of(server, "essay-graph")
    assert set(agents) == {"planner", "researcher", "writer"}
    ids = {name: a["id"] for name, a in agents.items()}
    assert {(e["source"], e["target"], e["message_count"]) for e in edges} == {
        (ids["planner"], ids["researcher"], 1),
        (ids["researcher"], ids["writer"], 1),
    }
    assert agents["researcher"]["current_task"] == "search_papers"
    assert agents["researcher"]["tasks_completed"] == 1
    assert {name: a["tokens"] for name, a in agents.items()} == {"planner": 15, "researcher": 19, "writer": 25}
    assert agents["researcher"]["type"] == "researcher"


def test_spans_sent_with_the_wrong_token_show_nothing(server: LiveServer) -> None:
    before = server.get("/api/bots/data").json()["total_agents"]
    done = run_framework("langgraph_three_nodes.py", server.http, token="not-the-token")
    assert done.returncode == 0
    assert "401" in done.stderr  # the exporter logs the refusal
    assert server.get("/api/bots/data").json()["total_agents"] == before
    refused = [float(line.rsplit(" ", 1)[1]) for line in server.get("/metrics").text.splitlines()
               if line.startswith('visionflow_otlp_rejected_total{reason="auth"}')]  # fmt: skip
    assert refused and refused[0] >= 1  # one per export request: the batch processor may send several
