"""The MCP source: polls an orchestrator's tools over stdio, streamable HTTP or legacy SSE.

All network work happens in one background task started by ``start``: connect, check that
the orchestrator offers every tool the profile names (``tools/list``), then poll: call the
mapped tools in turn, map the results to a snapshot, sleep, repeat. Polls never overlap
(the next sleep starts when a poll ends). The sleep is short while agents are busy and long
while they idle, and doubles after every poll that changed nothing, up to ``poll_max_s``;
tools the profile marks ``rare`` are called at the idle interval only. Every call costs an
orchestrator something (claude-flow writes a receipt per call), so a quiet swarm is asked
little. Any connection failure closes the session and reconnects after a capped exponential
back-off. ``tick`` (inside the 60 Hz loop) only folds the newest finished snapshot into the
state, so a slow or dead orchestrator costs the loop nothing.

Health says what is wrong as soon as it is: a poll that fails (a tool error, a malformed
result) makes the source ``degraded`` with the error, the first good poll clears both; a
tool the orchestrator lacks is named once, is never called, and keeps the source
``degraded``. A malformed result is counted and the last good state is kept; while the
session is down the agents stay as last seen, marked stale.

A spawned orchestrator (stdio) inherits the server's environment (less ``VISIONFLOW_*``
settings, which may hold tokens) plus ``--mcp-env`` pairs, runs in ``--mcp-cwd``, and has its
stderr captured: logged, and its last lines shown in health and in the connect error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import re
import shlex
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from mcp.client import Client
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, METHOD_NOT_FOUND, REQUEST_TIMEOUT, CallToolResult, ListToolsResult, TextContent

from visionflow.errors import (
    ConfigError,
    ControlFailedError,
    ControlTimeoutError,
    ControlUnavailableError,
    ControlUnsupportedError,
    MalformedResultError,
    ToolFailedError,
)
from visionflow.observability.logging import log_event
from visionflow.observability.metrics import Metrics
from visionflow.observability.tracing import span
from visionflow.sources.base import SourceStatus
from visionflow.sources.child_stderr import ChildStderr
from visionflow.sources.mapping import (
    TaskRecord,
    map_agents,
    map_messages,
    map_tasks,
    parse_json_text,
    with_task_work,
)
from visionflow.sources.profile import ProfileMapping, ToolSpec
from visionflow.sources.snapshot import OrchestratorSnapshot, SnapshotApplier, message_pairs, observed_links
from visionflow.swarm import SwarmState

__all__ = ["MCPSource", "MCPTarget", "ToolCaller"]

log = logging.getLogger("visionflow.sources.mcp")

Transport = Literal["stdio", "http", "sse"]


class ToolCaller(Protocol):
    """The part of an MCP client session the source uses."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any] | None = None, read_timeout_seconds: float | None = None
    ) -> CallToolResult: ...

    async def list_tools(self, *, cursor: str | None = None) -> ListToolsResult: ...


ConnectFactory = Callable[[], AbstractAsyncContextManager[ToolCaller]]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PRIVATE_ENV = "VISIONFLOW_"
"""The server's own settings (tokens among them) are not passed on to an orchestrator it spawns."""


def child_environment(extra: Mapping[str, str], *, inherit: bool, base: Mapping[str, str] | None = None
                      ) -> dict[str, str]:  # fmt: skip
    """The environment a spawned orchestrator gets: ours (less ``VISIONFLOW_*``) if ``inherit``, then ``extra``.

    Without ``inherit`` the SDK still passes HOME, LOGNAME, PATH, SHELL, TERM and USER.
    """
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items() if not k.startswith(_PRIVATE_ENV)} if inherit else {}
    env.update(extra)
    return env


@dataclass(frozen=True, slots=True)
class MCPTarget:
    """Where the orchestrator is: a command to spawn (stdio) or a URL (HTTP or SSE).

    For a command: ``env`` pairs set in its environment (over ours when ``inherit_env``),
    ``cwd`` its working directory; ``stderr`` collects what it writes there.
    """

    transport: Transport
    command: tuple[str, ...] = ()
    url: str = ""
    cwd: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    inherit_env: bool = True
    stderr: ChildStderr = field(default_factory=ChildStderr, compare=False, repr=False)

    @classmethod
    def from_settings(
        cls,
        command: str | None,
        url: str | None,
        transport: str = "auto",
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        inherit_env: bool = True,
    ) -> MCPTarget:
        if bool(command) == bool(url):
            raise ConfigError("mcp_command", "give exactly one of --mcp-command and --mcp-url")
        if command:
            argv = tuple(shlex.split(command))
            if not argv:
                raise ConfigError("mcp_command", "is empty")
            pairs = _checked_env(env or {})
            where = None if cwd is None else _checked_cwd(cwd)
            return cls("stdio", command=argv, cwd=where, env=pairs, inherit_env=inherit_env,
                       stderr=ChildStderr(orchestrator=" ".join(argv)))  # fmt: skip
        assert url is not None
        if env:
            raise ConfigError("mcp_env", "applies only to an orchestrator VisionFlow spawns (--mcp-command)")
        if cwd is not None:
            raise ConfigError("mcp_cwd", "applies only to an orchestrator VisionFlow spawns (--mcp-command)")
        if not url.startswith(("http://", "https://")):
            raise ConfigError("mcp_url", "must start with http:// or https://")
        if transport == "auto":
            transport = "sse" if url.rstrip("/").endswith("/sse") else "http"
        if transport not in ("http", "sse"):
            raise ConfigError("mcp_transport", f"{transport!r} does not go with a URL; use http or sse")
        return cls("sse" if transport == "sse" else "http", url=url)

    def describe(self) -> str:
        return " ".join(self.command) if self.transport == "stdio" else self.url

    def stderr_lines(self) -> list[str] | None:
        """The last lines a spawned orchestrator wrote to stderr; None for a URL."""
        return self.stderr.lines() if self.transport == "stdio" else None

    def connect(self) -> AbstractAsyncContextManager[ToolCaller]:
        """A fresh client for one session (the SDK's clients cannot be re-entered)."""
        if self.transport == "stdio":
            return self._stdio()
        if self.transport == "sse":
            return Client(sse_client(self.url), mode="legacy", cache=None)
        return Client(self.url, mode="legacy", cache=None)

    @contextlib.asynccontextmanager
    async def _stdio(self) -> AsyncIterator[ToolCaller]:
        env = child_environment(dict(self.env), inherit=self.inherit_env)
        params = StdioServerParameters(command=self.command[0], args=list(self.command[1:]), cwd=self.cwd, env=env)
        with self.stderr.session() as errlog:
            async with Client(stdio_client(params, errlog=errlog), mode="legacy", cache=None) as client:
                errlog.close()  # the child holds its own copy: the pipe now ends with it
                yield client


def _checked_env(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    for name, value in env.items():
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            raise ConfigError("mcp_env", f"{name!r} is not a variable name (letters, digits and _, not first a digit)")
        if not isinstance(value, str) or "\x00" in value:
            raise ConfigError("mcp_env", f"the value of {name} must be text without NUL characters")
    return tuple(sorted(env.items()))


def _checked_cwd(cwd: str | Path) -> str:
    path = Path(cwd).expanduser()
    if not path.is_dir():
        raise ConfigError("mcp_cwd", f"{cwd} is not a directory")
    return str(path.resolve())


def _result_texts(result: CallToolResult) -> list[str]:
    return [block.text for block in result.content if isinstance(block, TextContent)]


def _age_words(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds:g} seconds"


ERROR_LOG_REPEAT_S = 60.0
"""The same error, failing poll after failing poll, is logged again at most this often (it is always counted)."""


class MCPSource:
    """Agents and links from an MCP orchestrator, refreshed in the background."""

    name = "mcp"

    def __init__(
        self,
        connect: ConnectFactory,
        profile: ProfileMapping,
        metrics: Metrics,
        *,
        describe: str = "",
        poll_busy_s: float = 1.0,
        poll_idle_s: float = 5.0,
        poll_max_s: float = 30.0,
        timeout_s: float = 30.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        stale_after_s: float = 300.0,
        max_result_bytes: int = 8 << 20,
        stderr: Callable[[], list[str] | None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 < poll_busy_s <= poll_idle_s:
            raise ConfigError("mcp_poll_busy_s", "must be positive and at most the idle interval")
        if poll_max_s < poll_idle_s:
            raise ConfigError("mcp_poll_max_s", "must be at least the idle interval")
        if timeout_s <= 0:
            raise ConfigError("mcp_timeout_s", "must be positive")
        if not 0 < backoff_initial_s <= backoff_max_s:
            raise ConfigError("mcp_backoff_max_s", "must be at least the initial back-off, which is positive")
        self._connect = connect
        self.profile = profile
        self.metrics = metrics
        self.describe = describe
        self.poll_busy_s = poll_busy_s
        self.poll_idle_s = poll_idle_s
        self.poll_max_s = poll_max_s
        self.timeout_s = timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.stale_after_s = stale_after_s
        self.max_result_bytes = max_result_bytes
        self._stderr = stderr
        self._clock = clock
        self._applier = SnapshotApplier()
        self._pending: OrchestratorSnapshot | None = None
        self._last_good: dict[str, Any] = {}
        self._called_at: dict[str, float] = {}
        self._previous: tuple[Any, ...] | None = None
        self._unchanged = 0
        self._client: ToolCaller | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._busy = False
        self._stale_logged = False
        self._logged_error: tuple[str, float] = ("", -math.inf)
        self.connected = False
        self.last_update: float | None = None
        self.problem: str | None = None
        """What is wrong now (health's ``error``): the failed connect or poll, or missing tools; None when fine."""
        self.missing_tools: list[str] = []
        self.polls = 0
        self.calls = 0
        self.errors = 0
        self.connects = 0
        self.skipped_items = 0
        self.interval_s = poll_idle_s
        self.swarm_status: dict[str, Any] = {}
        metrics.read_at_scrape(metrics.mcp_data_age, self._data_age_or_nan)
        metrics.mcp_up.set(0)

    # ------------------------------------------------------------ lifecycle
    async def start(self, state: SwarmState, now: float) -> None:
        """Launch the poller; the first agents arrive with its first good poll."""
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="visionflow-mcp-poller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._set_connected(False)

    def tick(self, state: SwarmState, now: float, dt: float) -> None:
        snapshot, self._pending = self._pending, None
        if snapshot is not None:
            self._applier.apply(state, snapshot, now)
        elif self._applier.applied:
            self._applier.refresh(state, now)
            state.prune_links(now)
        self._check_staleness()

    # -------------------------------------------------------------- status
    def data_age(self) -> float | None:
        return None if self.last_update is None else max(0.0, self._clock() - self.last_update)

    def _data_age_or_nan(self) -> float:
        age = self.data_age()
        return math.nan if age is None else age

    @property
    def stale(self) -> bool:
        """True while the agents shown are not current: the session is down or the data is old."""
        age = self.data_age()
        return not self.connected or age is None or age > self.stale_after_s

    def _check_staleness(self) -> None:
        age = self.data_age()
        old = age is not None and age > self.stale_after_s
        if old and not self._stale_logged:
            log_event(log, "WARN", f"Using cached agent data (>{_age_words(self.stale_after_s)} old)",
                      category="system", data_age_s=round(age or 0.0, 1), orchestrator=self.describe)  # fmt: skip
        self._stale_logged = old

    def stderr_lines(self) -> list[str] | None:
        return None if self._stderr is None else self._stderr()

    def status(self) -> SourceStatus:
        detail: dict[str, Any] = {
            "profile": self.profile.name,
            "orchestrator": self.describe,
            "poll_interval_s": self.interval_s,
            "polls": self.polls,
            "calls": self.calls,
            "errors": self.errors,
            "connects": self.connects,
            "skipped_items": self.skipped_items,
            "missing_tools": self.missing_tools,
            "swarm": self.swarm_status,
        }
        lines = self.stderr_lines()
        if lines is not None:
            detail["stderr"] = lines[-10:]
        return SourceStatus(
            name=self.name,
            connected=self.connected,
            last_update=self.last_update,
            error=self.problem,
            stale=self.stale,
            degraded=self.problem is not None,
            detail=detail,
        )

    def _set_connected(self, up: bool) -> None:
        self.connected = up
        self.metrics.mcp_up.set(1 if up else 0)

    def _count_error(self, kind: str, message: str, **fields: Any) -> str:
        """Count and (unless it is the same error as a moment ago) log a failure; returns its text for health."""
        text = f"{kind}: {message}"[:1000]
        self.errors += 1
        self.metrics.mcp_errors.labels(kind).inc()
        now = time.monotonic()
        last_text, last_at = self._logged_error
        if text != last_text or now - last_at >= ERROR_LOG_REPEAT_S:
            self._logged_error = (text, now)
            level = "WARN" if kind in ("malformed", "tool") else "ERROR"
            log_event(log, level, "mcp_error", category="system", kind=kind, error=message[:1000],
                      orchestrator=self.describe, **fields)  # fmt: skip
        return text

    # ----------------------------------------------------------------- poller
    async def _run(self) -> None:
        delay = self.backoff_initial_s
        while True:
            try:
                async with contextlib.AsyncExitStack() as stack:
                    async with asyncio.timeout(self.timeout_s):
                        client = await stack.enter_async_context(self._connect())
                        await self._check_tools(client)
                    self._client = client
                    self._set_connected(True)
                    self.connects += 1
                    self._previous, self._unchanged = None, 0
                    self._called_at.clear()
                    self.problem = self._missing_text()
                    log_event(log, "INFO", "mcp_connected", category="system", orchestrator=self.describe,
                              profile=self.profile.name, missing_tools=self.missing_tools)  # fmt: skip
                    delay = self.backoff_initial_s
                    while True:
                        await self._poll(client)
                        await self._sleep(self._next_interval())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure ends the session; the loop reconnects
                kind = "timeout" if _is_timeout(exc) else "connect"
                message = _describe_error(exc)
                lines = self.stderr_lines()
                if lines:
                    message += " | stderr: " + " / ".join(lines[-5:])
                self.problem = self._count_error(kind, message, retry_in_s=round(delay, 2))
            finally:
                self._client = None
                self._set_connected(False)
            await self._sleep(delay)
            delay = min(delay * 2.0, self.backoff_max_s)

    async def _check_tools(self, client: ToolCaller) -> None:
        """Find the profile's tools the orchestrator lacks (``tools/list``); they are named, never called."""
        offered: set[str] = set()
        cursor: str | None = None
        try:
            for _ in range(100):  # pages
                listing = await client.list_tools(cursor=cursor)
                offered.update(tool.name for tool in listing.tools)
                cursor = listing.next_cursor
                if not cursor:
                    break
        except MCPError as exc:
            if exc.code != METHOD_NOT_FOUND:
                raise
            self.missing_tools = []  # it cannot list its tools: find out by calling them
            return
        self.missing_tools = sorted(self.profile.tools() - offered)
        if self.missing_tools:
            log_event(log, "WARN", "mcp_profile_mismatch", category="system", profile=self.profile.name,
                      orchestrator=self.describe, missing_tools=self.missing_tools)  # fmt: skip

    def _missing_text(self) -> str | None:
        if not self.missing_tools:
            return None
        return (f"profile: the orchestrator lacks tools profile {self.profile.name!r} needs: "
                f"{', '.join(self.missing_tools)}")  # fmt: skip

    async def _sleep(self, seconds: float) -> None:
        """Sleep, or wake early when a control action asks for a fresh poll.

        ``asyncio.timeout``, not ``wait_for``: on Python 3.11, ``wait_for`` drops a cancel that
        lands just as the wake event is set, and ``stop()`` then waited for the poller forever.
        """
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    def _next_interval(self) -> float:
        """The busy or idle interval, doubled for every poll in a row that changed nothing."""
        base = self.poll_busy_s if self._busy else self.poll_idle_s
        self.interval_s = min(self.poll_max_s, base * 2.0 ** min(self._unchanged, 30))
        return self.interval_s

    async def _call_json(self, client: ToolCaller, spec: ToolSpec) -> Any:
        """A tool's JSON result. Session failures propagate; tool and shape errors are ``SourceError``."""
        self.calls += 1
        try:
            with span("mcp.call", tool=spec.tool):
                async with asyncio.timeout(self.timeout_s + 1.0):
                    result = await client.call_tool(
                        spec.tool, spec.arguments or None, read_timeout_seconds=self.timeout_s
                    )
        except MCPError as exc:
            if exc.code in (CONNECTION_CLOSED, REQUEST_TIMEOUT):
                raise
            raise ToolFailedError(f"{spec.tool}: {exc.message}") from None
        texts = _result_texts(result)
        if result.is_error:
            raise ToolFailedError(f"{spec.tool}: {' '.join(texts)[:300] or 'error without text'}")
        if not texts and result.structured_content is not None:
            return result.structured_content
        try:
            return parse_json_text(texts, self.max_result_bytes)
        except MalformedResultError as exc:
            raise MalformedResultError(f"{spec.tool}: {exc}") from None

    async def _fetch_optional(self, client: ToolCaller, spec: ToolSpec | None, failures: list[str]) -> Any:
        """An optional tool's result: its last good one when it failed, is missing, or is rare and not yet due."""
        if spec is None or spec.tool in self.missing_tools:
            return None
        now = time.monotonic()
        if spec.rare and now - self._called_at.get(spec.tool, -math.inf) < self.poll_idle_s:
            return self._last_good.get(spec.tool)
        self._called_at[spec.tool] = now
        try:
            payload = await self._call_json(client, spec)
        except MalformedResultError as exc:
            failures.append(self._count_error("malformed", str(exc), tool=spec.tool))
            return self._last_good.get(spec.tool)
        except ToolFailedError as exc:
            failures.append(self._count_error("tool", str(exc), tool=spec.tool))
            return self._last_good.get(spec.tool)
        self._last_good[spec.tool] = payload
        return payload

    async def _poll(self, client: ToolCaller) -> None:
        profile = self.profile
        if profile.agents.tool in self.missing_tools:
            return  # nothing to poll; health names the missing tool
        started = time.perf_counter()
        try:
            agents_payload = await self._call_json(client, profile.agents)
        except (MalformedResultError, ToolFailedError) as exc:
            kind = "malformed" if isinstance(exc, MalformedResultError) else "tool"
            self.problem = self._count_error(kind, str(exc), tool=profile.agents.tool)
            self._unchanged = 0
            return
        failures: list[str] = []
        metrics_payload = await self._fetch_optional(client, profile.metrics, failures)
        tasks_payload = await self._fetch_optional(client, profile.tasks, failures)
        messages_payload = await self._fetch_optional(client, profile.messages, failures)
        status_payload = await self._fetch_optional(client, profile.status, failures)
        extras = {spec.tool: await self._fetch_optional(client, spec, failures) for spec in profile.extra_status}
        elapsed = time.perf_counter() - started
        self.metrics.mcp_fetch_duration.set(elapsed)
        self.metrics.mcp_fetch_latency.observe(elapsed)
        payloads = (agents_payload, metrics_payload, tasks_payload, messages_payload)
        if payloads != self._previous:
            try:
                snapshot = self._map(agents_payload, metrics_payload, tasks_payload, messages_payload)
            except MalformedResultError as exc:
                self.problem = self._count_error("malformed", str(exc), tool=profile.agents.tool)
                self._unchanged = 0
                return
            self._previous = payloads
            self._unchanged = 0
            self._busy = snapshot.busy(profile.busy_statuses)
            self._pending = snapshot
        else:
            self._unchanged += 1
        self.swarm_status = _scalars(status_payload)
        for tool, payload in extras.items():
            if isinstance(payload, dict):
                self.swarm_status[tool] = _scalars(payload)
        self.polls += 1
        self.last_update = self._clock()
        if failures:
            more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
            self.problem = failures[0] + more
            self._unchanged = 0
        else:
            self.problem = self._missing_text()

    def _map(self, agents_payload: Any, metrics_payload: Any, tasks_payload: Any, messages_payload: Any
             ) -> OrchestratorSnapshot:  # fmt: skip
        profile = self.profile
        metric_part = None
        if profile.metrics is not None and metrics_payload is not None:
            metric_part = (metrics_payload, profile.metrics)
        try:
            agents, skipped = map_agents(agents_payload, profile.agents, metric_part)
        except MalformedResultError:
            if metric_part is None:
                raise
            agents, skipped = map_agents(agents_payload, profile.agents)  # bad metrics alone do not lose agents
        tasks: list[TaskRecord] = []
        if profile.tasks is not None and tasks_payload is not None:
            with contextlib.suppress(MalformedResultError):
                tasks, _ = map_tasks(tasks_payload, profile.tasks)
        messages: list[tuple[str, str | None, int]] = []
        if profile.messages is not None and messages_payload is not None:
            with contextlib.suppress(MalformedResultError):
                messages = map_messages(messages_payload, profile.messages)
        if skipped:
            self.skipped_items += skipped
            self._count_error("malformed", f"{skipped} agent record(s) without a usable id", tool=profile.agents.tool)
        agents = with_task_work(agents, tasks)
        pairs = message_pairs(agents, messages)
        return OrchestratorSnapshot(
            agents=agents,
            links=observed_links(agents, tasks, messages_seen=bool(pairs)),
            messages=pairs,
            fetched_at=self._clock(),
        )

    # ---------------------------------------------------------------- control
    async def control(self, action: str, values: dict[str, Any], extra: dict[str, Any]) -> Any:
        """Run a control action (``initialize_swarm``, ``spawn_agent``) over the live session.

        Raises a ``ControlError`` whose class says why not: no such tool in the profile (or
        at the orchestrator), no session, the tool failed, or it did not answer in time.
        """
        spec = self.profile.control.get(action)
        if spec is None:
            raise ControlUnsupportedError(f"profile {self.profile.name!r} has no {action!r} tool")
        if spec.tool in self.missing_tools:
            raise ControlUnsupportedError(f"the orchestrator has no {spec.tool!r} tool")
        client = self._client
        if client is None:
            raise ControlUnavailableError("the MCP orchestrator is not connected")
        arguments = {spec.arguments.get(k, k): v for k, v in values.items() if v is not None}
        arguments.update(extra)
        try:
            payload = await self._call_json(client, ToolSpec(tool=spec.tool, arguments=arguments))
        except (MalformedResultError, ToolFailedError) as exc:
            raise ControlFailedError(str(exc)) from None
        except MCPError as exc:
            failed = ControlTimeoutError if exc.code == REQUEST_TIMEOUT else ControlFailedError
            raise failed(f"{spec.tool}: {exc.message}") from None
        except TimeoutError:
            raise ControlTimeoutError(f"{spec.tool}: no answer in {self.timeout_s:g} s") from None
        if isinstance(payload, dict) and payload.get("success") is False:
            raise ControlFailedError(f"{spec.tool}: {payload.get('error', 'failed')}")
        self._unchanged = 0
        self._wake.set()  # show the result on the next frame, not after an idle interval
        return payload


def _scalars(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        return {}
    return {k: v for k, v in payload.items() if isinstance(v, str | int | float | bool)}


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, TimeoutError):
        return True
    if isinstance(exc, MCPError):
        return exc.code == REQUEST_TIMEOUT
    if isinstance(exc, BaseExceptionGroup):
        return any(_is_timeout(e) for e in exc.exceptions)
    return False


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe_error(e) for e in exc.exceptions[:3])
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
