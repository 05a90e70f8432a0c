"""MCPSource against an in-process MCPServer (the SDK's in-memory transport) and scripted callers."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import shlex
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from mcp.client import Client
from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, ListToolsResult, TextContent, Tool

from visionflow.errors import (
    ConfigError,
    ControlError,
    ControlFailedError,
    ControlTimeoutError,
    ControlUnavailableError,
    ControlUnsupportedError,
)
from visionflow.observability.metrics import Metrics
from visionflow.sources import MCPSource, load_profile
from visionflow.sources.mcp import MCPTarget, ToolCaller, child_environment
from visionflow.swarm import SwarmState

FAST = {"poll_busy_s": 0.05, "poll_idle_s": 0.05, "poll_max_s": 0.05, "timeout_s": 2.0, "backoff_initial_s": 0.05,
        "backoff_max_s": 0.2}  # fmt: skip
CLAUDE_FLOW_TOOLS = ("agent_list", "task_list", "swarm_status", "swarm_init", "agent_spawn")


def orchestrator(agents: list[dict[str, Any]], mode: dict[str, str]) -> MCPServer:
    server = MCPServer("test")

    @server.tool(name="agent_list")
    def agent_list() -> str:
        if mode.get("agents") == "not-json":
            return "definitely not json"
        if mode.get("agents") == "wrong-types":
            return json.dumps({"agents": {"a": 1}})
        if mode.get("agents") == "huge":
            return json.dumps({"agents": agents, "pad": "x" * 5000})
        return json.dumps({"agents": agents})

    @server.tool(name="task_list")
    def task_list() -> str:
        return json.dumps({"tasks": [{"taskId": "t1", "assignedTo": ["a", "b"]}]})

    @server.tool(name="swarm_status")
    def swarm_status() -> str:
        return json.dumps({"status": "running", "topology": "mesh"})

    @server.tool(name="agent_spawn")
    def agent_spawn(agentType: str, agentId: str | None = None) -> str:
        agents.append({"agentId": agentId or "new", "agentType": agentType, "status": "idle"})
        return json.dumps({"success": True, "agentId": agentId})

    return server


def make_source(connect: Callable[[], AbstractAsyncContextManager[ToolCaller]], metrics: Metrics,
                **kw: Any) -> MCPSource:  # fmt: skip
    return MCPSource(connect, load_profile("claude-flow"), metrics, **{**FAST, **kw})


async def run_until(source: MCPSource, state: SwarmState, cond: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        source.tick(state, time.time(), 0.02)
        if cond():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


def counter(metrics: Metrics, kind: str) -> float:
    return metrics.registry.get_sample_value("visionflow_mcp_errors_total", {"kind": kind}) or 0.0


def test_agents_tasks_and_control_over_an_in_process_server(metrics: Metrics) -> None:
    agents = [{"agentId": "a", "agentType": "coder", "status": "busy", "health": 0.5},
              {"agentId": "b", "agentType": "tester", "status": "idle"}]  # fmt: skip
    server = orchestrator(agents, {})

    async def go() -> None:
        source = make_source(lambda: Client(server, mode="legacy", cache=None), metrics)
        state = SwarmState()
        await source.start(state, time.time())
        await run_until(source, state, lambda: len(state) == 2 and len(state.links) == 1)
        assert state.agents["a"].health == 50.0
        link = state.links.links(time.time())[0]
        assert not link.inferred
        assert source.status().to_dict(time.time())["swarm"] == {"status": "running", "topology": "mesh"}
        assert source.connected and not source.stale
        assert metrics.registry.get_sample_value("visionflow_mcp_up") == 1.0
        assert (metrics.registry.get_sample_value("visionflow_mcp_fetch_latency_seconds_count") or 0) >= 1
        result = await source.control("spawn_agent", {"type": "reviewer", "name": "r-1"}, {})
        assert result["success"] is True
        await run_until(source, state, lambda: "r-1" in state)
        with pytest.raises(ControlUnsupportedError, match="launch_rockets"):
            await source.control("launch_rockets", {}, {})
        await source.stop()
        assert metrics.registry.get_sample_value("visionflow_mcp_up") == 0.0

    asyncio.run(go())


@pytest.mark.parametrize("bad", ["not-json", "wrong-types", "huge"])
def test_malformed_results_are_counted_and_the_last_good_state_kept(metrics: Metrics, bad: str) -> None:
    agents = [{"agentId": "a", "agentType": "coder", "status": "idle"}]
    mode: dict[str, str] = {}
    server = orchestrator(agents, mode)

    async def go() -> None:
        source = make_source(lambda: Client(server, mode="legacy", cache=None), metrics, max_result_bytes=4000)
        state = SwarmState()
        await source.start(state, time.time())
        await run_until(source, state, lambda: "a" in state)
        mode["agents"] = bad
        agents.append({"agentId": "b", "agentType": "coder"})
        await run_until(source, state, lambda: counter(metrics, "malformed") >= 3)
        assert set(state.agents) == {"a"} and source.connected
        mode.clear()
        await run_until(source, state, lambda: "b" in state)
        await source.stop()

    asyncio.run(go())


class Scripted:
    """A caller whose answers a test controls; counts how many calls run at once."""

    def __init__(self, delay: float = 0.0, tools: tuple[str, ...] = CLAUDE_FLOW_TOOLS, changing: bool = False) -> None:
        self.delay = delay
        self.changing = changing
        self.active = 0
        self.max_active = 0
        self.calls = 0
        self.tools = tools
        self.called: list[str] = []

    async def list_tools(self, *, cursor: str | None = None) -> ListToolsResult:
        return ListToolsResult(tools=[Tool(name=name, input_schema={"type": "object"}) for name in self.tools])

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None,
                        read_timeout_seconds: float | None = None) -> CallToolResult:  # fmt: skip
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        self.calls += 1
        self.called.append(name)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.active -= 1
        agent = {
            "agentId": "a",
            "agentType": "coder",
            "status": "busy",
            **({"taskCount": self.calls} if self.changing else {}),
        }
        body = {"agents": [agent]} if name == "agent_list" else {}
        return CallToolResult(content=[TextContent(type="text", text=json.dumps(body))])


def test_reconnects_with_back_off_and_polls_never_overlap(metrics: Metrics) -> None:
    caller = Scripted(delay=0.01)
    attempts: list[float] = []

    @contextlib.asynccontextmanager
    async def connect() -> AsyncIterator[ToolCaller]:
        attempts.append(time.monotonic())
        if len(attempts) <= 3:
            raise ConnectionRefusedError("no orchestrator yet")
        yield caller

    async def go() -> None:
        source = make_source(connect, metrics)
        state = SwarmState()
        await source.start(state, time.time())
        assert source.stale  # nothing fetched yet
        await run_until(source, state, lambda: "a" in state and caller.calls > 20)
        await source.stop()

    asyncio.run(go())
    assert counter(metrics, "connect") == 3
    gaps = [b - a for a, b in itertools.pairwise(attempts)][:3]
    assert gaps[1] > gaps[0] * 1.3 and gaps[2] > gaps[1] * 1.3, gaps  # doubling back-off
    assert caller.max_active == 1


def test_a_call_that_hangs_times_out_and_reconnects(metrics: Metrics) -> None:
    caller = Scripted(delay=30.0)

    @contextlib.asynccontextmanager
    async def connect() -> AsyncIterator[ToolCaller]:
        yield caller

    async def go() -> None:
        source = make_source(connect, metrics, timeout_s=0.1)
        state = SwarmState()
        await source.start(state, time.time())
        await run_until(source, state, lambda: counter(metrics, "timeout") >= 2)
        await source.stop()

    asyncio.run(go())
    assert counter(metrics, "timeout") >= 2


def test_old_data_logs_a_warning_and_marks_stale(metrics: Metrics, caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]

    @contextlib.asynccontextmanager
    async def connect() -> AsyncIterator[ToolCaller]:
        yield Scripted()

    async def go() -> None:
        source = make_source(connect, metrics, clock=lambda: now[0], stale_after_s=300.0)
        state = SwarmState()
        await source.start(state, now[0])
        await run_until(source, state, lambda: "a" in state)
        await source.stop()
        source.connected = True  # as if connected but every poll since failed
        now[0] += 301
        with caplog.at_level(logging.WARNING, logger="visionflow.sources.mcp"):
            source.tick(state, now[0], 0.02)
            source.tick(state, now[0], 0.02)
        assert source.stale
        assert [r.getMessage() for r in caplog.records].count("Using cached agent data (>5 minutes old)") == 1
        assert metrics.registry.get_sample_value("visionflow_mcp_data_age_seconds") == pytest.approx(301, abs=1)

    asyncio.run(go())


def test_targets_from_settings() -> None:
    assert MCPTarget.from_settings("npx claude-flow mcp start", None).command == ("npx", "claude-flow", "mcp", "start")
    assert MCPTarget.from_settings(None, "http://h:1/mcp").transport == "http"
    assert MCPTarget.from_settings(None, "http://h:1/sse").transport == "sse"
    for command, url in ((None, None), ("x", "http://h"), (None, "ftp://h")):
        with pytest.raises(ConfigError):
            MCPTarget.from_settings(command, url)


class ControlReplies(Scripted):
    """Polls see one agent; ``agent_spawn`` answers with ``reply``, or never (``None``)."""

    def __init__(self, reply: CallToolResult | None) -> None:
        super().__init__()
        self.reply = reply

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None,
                        read_timeout_seconds: float | None = None) -> CallToolResult:  # fmt: skip
        if name != "agent_spawn":
            return await super().call_tool(name, arguments, read_timeout_seconds)
        if self.reply is None:
            await asyncio.sleep(30.0)
        assert self.reply is not None
        return self.reply


def text_result(body: str, *, error: bool = False) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=body)], is_error=error)


@pytest.mark.parametrize(
    ("reply", "error", "message"),
    [
        (text_result("no such agent type", error=True), ControlFailedError, "no such agent type"),
        (text_result(json.dumps({"success": False, "error": "quota"})), ControlFailedError, "quota"),
        (text_result("<html>"), ControlFailedError, "not JSON"),
        (None, ControlTimeoutError, "no answer"),
    ],
)
def test_failed_control_actions_say_why_by_their_class(
    metrics: Metrics, reply: CallToolResult | None, error: type[ControlError], message: str
) -> None:
    caller = ControlReplies(reply)

    @contextlib.asynccontextmanager
    async def connect() -> AsyncIterator[ToolCaller]:
        yield caller

    async def go() -> None:
        source = make_source(connect, metrics, timeout_s=0.2)
        state = SwarmState()
        with pytest.raises(ControlUnavailableError):
            await source.control("spawn_agent", {"type": "coder"}, {})
        await source.start(state, time.time())
        await run_until(source, state, lambda: "a" in state)
        try:
            with pytest.raises(error, match=message) as info:
                await source.control("spawn_agent", {"type": "coder"}, {})
            assert type(info.value) is error and info.value.message.startswith("agent_spawn")
        finally:
            await source.stop()

    asyncio.run(go())


@pytest.mark.parametrize(("busy_statuses", "interval"), [(None, 0.05), ({"idle", "error"}, 0.1)])
def test_the_profiles_busy_statuses_choose_the_poll_interval(
    metrics: Metrics, busy_statuses: set[str] | None, interval: float
) -> None:
    """The scripted agent is ``busy``: busy by default, idle for a profile that counts only idle and error."""
    profile = load_profile("claude-flow")
    if busy_statuses is not None:
        profile = profile.model_validate({**profile.model_dump(), "busy_statuses": busy_statuses})

    @contextlib.asynccontextmanager
    async def connect() -> AsyncIterator[ToolCaller]:
        yield Scripted(changing=True)

    async def go() -> None:
        source = MCPSource(connect, profile, metrics, **{**FAST, "poll_idle_s": 0.1, "poll_max_s": 0.1})
        state = SwarmState()
        await source.start(state, time.time())
        await run_until(source, state, lambda: source.polls >= 2)
        await source.stop()
        assert source.interval_s == interval

    asyncio.run(go())


def connect_to(caller: Scripted) -> Callable[[], AbstractAsyncContextManager[ToolCaller]]:
    @contextlib.asynccontextmanager
    async def connect() -> AsyncIterator[ToolCaller]:
        yield caller

    return connect


def test_tools_the_orchestrator_lacks_are_named_once_and_never_called(
    metrics: Metrics, caplog: pytest.LogCaptureFixture
) -> None:
    caller = Scripted(tools=("agent_list", "swarm_status", "agent_spawn"))

    async def go() -> None:
        source = make_source(connect_to(caller), metrics)
        state = SwarmState()
        with caplog.at_level(logging.INFO, logger="visionflow.sources.mcp"):
            await source.start(state, time.time())
            await run_until(source, state, lambda: source.polls >= 5)
            status = source.status()
            assert status.degraded and not status.stale
            assert status.error is not None and "task_list" in status.error and "swarm_init" in status.error
            assert status.detail["missing_tools"] == ["swarm_init", "task_list"]
            with pytest.raises(ControlUnsupportedError, match="swarm_init"):
                await source.control("initialize_swarm", {"topology": "mesh"}, {})
            await source.stop()
        assert "a" in state and "task_list" not in caller.called
        mismatches = [r for r in caplog.records if r.getMessage() == "mcp_profile_mismatch"]
        assert len(mismatches) == 1 and mismatches[0].levelname == "WARN"
        assert not [r for r in caplog.records if r.getMessage() == "mcp_error"], "no WARN per poll"

    asyncio.run(go())


class Flaky(Scripted):
    """``agent_list`` fails while ``failing`` is set, as claude-flow's did while its lock was held."""

    def __init__(self) -> None:
        super().__init__(changing=True)
        self.failing = False

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None,
                        read_timeout_seconds: float | None = None) -> CallToolResult:  # fmt: skip
        if self.failing and name == "agent_list":
            self.calls += 1
            return text_result(json.dumps({"error": "policy-state-lock-timeout"}), error=True)
        return await super().call_tool(name, arguments, read_timeout_seconds)


def test_health_degrades_on_the_first_failed_poll_and_clears_on_the_first_good_one(metrics: Metrics) -> None:
    caller = Flaky()

    async def go() -> None:
        source = make_source(connect_to(caller), metrics)
        state = SwarmState()
        await source.start(state, time.time())
        await run_until(source, state, lambda: "a" in state)
        assert not source.status().degraded and source.status().error is None
        caller.failing = True
        calls = caller.calls
        await run_until(source, state, lambda: source.status().degraded)
        assert caller.calls - calls <= 2, "the first failed poll is enough"
        status = source.status()
        assert status.error is not None and "policy-state-lock-timeout" in status.error
        assert status.connected and not status.stale
        caller.failing = False
        calls = caller.calls
        await run_until(source, state, lambda: not source.status().degraded)
        assert caller.calls - calls <= 3 and source.status().error is None
        await source.stop()

    asyncio.run(go())


def test_rare_tools_follow_the_idle_interval(metrics: Metrics) -> None:
    caller = Scripted(changing=True)  # a busy agent whose count changes: every poll at the busy interval

    async def go() -> None:
        source = make_source(connect_to(caller), metrics, poll_busy_s=0.02, poll_idle_s=0.3, poll_max_s=0.3)
        state = SwarmState()
        await source.start(state, time.time())
        await run_until(source, state, lambda: caller.called.count("agent_list") >= 30)
        await source.stop()

    asyncio.run(go())
    polls = caller.called.count("agent_list")
    assert caller.called.count("task_list") == polls, "tasks change often: every poll"
    assert 1 <= caller.called.count("swarm_status") < polls / 3, caller.called


def test_the_interval_backs_off_while_nothing_changes_and_snaps_back_on_a_change(metrics: Metrics) -> None:
    caller = Scripted()  # the same answer every time

    async def go() -> None:
        source = make_source(connect_to(caller), metrics, poll_busy_s=0.02, poll_idle_s=0.02, poll_max_s=0.16)
        state = SwarmState()
        await source.start(state, time.time())
        intervals: list[float] = []

        def record() -> bool:
            if not intervals or intervals[-1] != source.interval_s:
                intervals.append(source.interval_s)
            return source.interval_s == 0.16

        await run_until(source, state, record)
        assert intervals[-4:] == [0.02, 0.04, 0.08, 0.16] or intervals[-3:] == [0.04, 0.08, 0.16], intervals
        caller.changing = True
        await run_until(source, state, lambda: source.interval_s == 0.02)
        await source.stop()
        assert source.polls > 4

    asyncio.run(go())


def test_a_spawned_orchestrator_that_dies_says_why_in_the_error_and_in_health(
    metrics: Metrics, caplog: pytest.LogCaptureFixture
) -> None:
    script = (
        "import sys\nfor i in range(500): print('noise', i, file=sys.stderr)\n"
        "print('Error: Cannot find module ./missing.js', file=sys.stderr); sys.exit(1)"
    )
    target = MCPTarget.from_settings(f"{shlex.quote(sys.executable)} -c {shlex.quote(script)}", None)

    async def go() -> None:
        source = MCPSource(target.connect, load_profile("claude-flow"), metrics, stderr=target.stderr_lines,
                           **{**FAST, "backoff_initial_s": 0.5, "backoff_max_s": 0.5})  # fmt: skip
        state = SwarmState()
        with caplog.at_level(logging.INFO, logger="visionflow.sources.mcp"):
            await source.start(state, time.time())
            await run_until(source, state, lambda: counter(metrics, "connect") >= 1)
            await source.stop()
        status = source.status()
        assert status.error is not None and "Cannot find module ./missing.js" in status.error
        assert status.detail["stderr"][-1] == "Error: Cannot find module ./missing.js"
        logged = [r for r in caplog.records if r.getMessage() == "mcp_stderr"]
        assert logged and logged[0].fields["line"] == "noise 0"  # type: ignore[attr-defined]
        assert len(logged) <= 20, "a flood of stderr is rate-limited in the log"
        assert len(status.detail["stderr"]) == 10 and status.detail["stderr"][0] == "noise 491"

    asyncio.run(go())


def test_a_spawned_orchestrator_gets_our_environment_less_our_settings_plus_its_own() -> None:
    ours = {"PATH": "/bin", "HOME": "/root", "VISIONFLOW_INGEST_TOKEN": "secret", "CLAUDE_FLOW_CWD": "/old"}
    env = child_environment({"CLAUDE_FLOW_CWD": "/new"}, inherit=True, base=ours)
    assert env == {"PATH": "/bin", "HOME": "/root", "CLAUDE_FLOW_CWD": "/new"}
    assert child_environment({"A": "1"}, inherit=False, base=ours) == {"A": "1"}


def test_environment_and_directory_are_checked_where_they_are_set(tmp_path: Any) -> None:
    target = MCPTarget.from_settings("orchestrator mcp start", None, env={"A": "1"}, cwd=tmp_path)
    assert target.env == (("A", "1"),) and target.cwd == str(tmp_path.resolve()) and target.inherit_env
    for env, cwd, field in (({"A=B": "1"}, None, "mcp_env"), ({"A": "x\x00"}, None, "mcp_env"),
                            (None, tmp_path / "missing", "mcp_cwd")):  # fmt: skip
        with pytest.raises(ConfigError) as info:
            MCPTarget.from_settings("orchestrator", None, env=env, cwd=cwd)
        assert info.value.field == field
