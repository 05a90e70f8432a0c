"""A simulated swarm: the embedded default source, and the tests' stand-in for a real one.

It is seeded and deterministic for a given sequence of ``tick`` calls. It behaves like a
busy orchestrator: a queen over coordinators over workers, agents spawning and leaving,
status changes, tasks assigned and finished, tokens spent, and messages mostly along the
hierarchy, which create links whose intensity rises with traffic and fades in silence.
Work per tick is proportional to the events that happen, not to the swarm's size.
"""

from __future__ import annotations

import random

import numpy as np

from visionflow.errors import ConfigError
from visionflow.sources.base import SourceStatus
from visionflow.swarm import Agent, AgentStatus, AgentType, SwarmState, is_busy

__all__ = ["MAX_AGENTS", "SimulatedSource"]

MAX_AGENTS = 100_000

_WORKER_TYPES = [t for t in AgentType if t not in (AgentType.QUEEN, AgentType.COORDINATOR)]
_WORKER_WEIGHTS = (3, 5, 2, 2, 3, 2, 1, 1, 1, 1)

# Where a status goes next, and how likely each move is.
_TRANSITIONS: dict[AgentStatus, tuple[tuple[AgentStatus, ...], tuple[float, ...]]] = {
    AgentStatus.INITIALIZING: ((AgentStatus.IDLE, AgentStatus.ACTIVE), (0.5, 0.5)),
    AgentStatus.IDLE: ((AgentStatus.ACTIVE, AgentStatus.BUSY, AgentStatus.OFFLINE), (0.6, 0.35, 0.05)),
    AgentStatus.ACTIVE: ((AgentStatus.BUSY, AgentStatus.IDLE, AgentStatus.ERROR), (0.5, 0.45, 0.05)),
    AgentStatus.BUSY: ((AgentStatus.ACTIVE, AgentStatus.IDLE, AgentStatus.ERROR), (0.6, 0.35, 0.05)),
    AgentStatus.ERROR: ((AgentStatus.IDLE, AgentStatus.ACTIVE), (0.7, 0.3)),
    AgentStatus.OFFLINE: ((AgentStatus.IDLE,), (1.0,)),
    AgentStatus.TERMINATING: ((AgentStatus.TERMINATING,), (1.0,)),
}

_TASKS = (
    "analyse logs", "write tests", "refactor module", "review PR", "design schema", "profile hot path",
    "summarise paper", "fix flaky test", "update docs", "benchmark kernel", "triage issue", "plan sprint",
)  # fmt: skip


def _clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


class SimulatedSource:
    """A deterministic swarm of ``agents`` agents (1 to 100,000)."""

    name = "simulated"

    def __init__(
        self,
        agents: int = 200,
        *,
        seed: int = 0,
        message_rate: float = 0.5,
        status_rate: float = 0.05,
        metrics_rate: float = 0.5,
        task_rate: float = 0.03,
        churn_rate: float = 0.002,
        terminate_after_s: float = 2.0,
        activity_cap: int = 5_000,
    ) -> None:
        if not 1 <= agents <= MAX_AGENTS:
            raise ConfigError("agents", f"must be between 1 and {MAX_AGENTS}, got {agents}")
        self.target = agents
        self.seed = seed
        self.rates = {
            "message": message_rate,
            "status": status_rate,
            "metrics": metrics_rate,
            "task": task_rate,
            "churn": churn_rate,
        }
        self.terminate_after_s = terminate_after_s
        self.activity_cap = activity_cap
        """Event rates grow with the swarm up to this many agents, then stay flat: a 100k-agent
        swarm does not message 100k times a second, and the stream would spend its budget on JSON."""
        self._rng = np.random.default_rng(seed)  # event counts per tick
        self._random = random.Random(seed)  # per-event draws: ~20x cheaper than NumPy scalars
        self._ids: list[str] = []
        self._position: dict[str, int] = {}
        self._children: dict[str, list[str]] = {}
        self._coordinators: list[str] = []
        self._terminating: dict[str, float] = {}
        self._serial = 0
        self._task_serial = 0
        self._last_prune = 0.0
        self._last_tick: float | None = None
        self.messages = 0

    # ------------------------------------------------------------ membership
    def _pick(self) -> str:
        return self._ids[self._random.randrange(len(self._ids))]

    def _spawn(self, state: SwarmState, now: float, kind: AgentType, parent: str | None) -> Agent:
        self._serial += 1
        agent_id = f"agent-{self.seed}-{self._serial:06d}"
        agent = Agent(
            id=agent_id,
            name=f"{kind.value}-{self._serial:05d}",
            type=kind,
            status=AgentStatus.INITIALIZING,
            health=self._random.uniform(85, 100),
            cpu=self._random.uniform(1, 20),
            memory_mb=self._random.uniform(80, 400),
            workload=0.0,
            swarm_id=f"swarm-{self.seed}",
            parent_id=parent,
            created_at=now,
        )
        state.add(agent)
        self._position[agent_id] = len(self._ids)
        self._ids.append(agent_id)
        if parent is not None:
            self._children.setdefault(parent, []).append(agent_id)
        if kind in (AgentType.COORDINATOR, AgentType.QUEEN):
            self._coordinators.append(agent_id)
        return agent

    def _forget(self, agent_id: str, parent: str | None) -> None:
        row = self._position.pop(agent_id)
        last = self._ids.pop()
        if last != agent_id:
            self._ids[row] = last
            self._position[last] = row
        if parent is not None and parent in self._children:
            siblings = self._children[parent]
            siblings.remove(agent_id)
            if not siblings:
                del self._children[parent]

    def _spawn_worker(self, state: SwarmState, now: float) -> None:
        parent = self._random.choice(self._coordinators) if self._coordinators else None
        kind = self._random.choices(_WORKER_TYPES, weights=_WORKER_WEIGHTS)[0]
        self._spawn(state, now, kind, parent)

    async def start(self, state: SwarmState, now: float) -> None:
        """Create the initial swarm: a queen, one coordinator per ~20 agents, workers under them."""
        self._spawn(state, now, AgentType.QUEEN, None)
        queen = self._ids[0]
        coordinators = min(self.target - 1, max(1, self.target // 20)) if self.target > 1 else 0
        for _ in range(coordinators):
            self._spawn(state, now, AgentType.COORDINATOR, queen)
        while len(self._ids) < self.target:
            self._spawn_worker(state, now)
        self._last_prune = now
        self._last_tick = now

    async def stop(self) -> None:
        return None

    def status(self) -> SourceStatus:
        return SourceStatus(
            name=self.name,
            connected=True,
            last_update=self._last_tick,
            detail={"seed": self.seed, "target_agents": self.target, "messages": self.messages},
        )

    # ------------------------------------------------------------------ tick
    def _count(self, rate: float, dt: float) -> int:
        active = min(len(self._ids), self.activity_cap)
        return int(self._rng.poisson(rate * active * dt)) if active else 0

    def tick(self, state: SwarmState, now: float, dt: float) -> None:
        self._last_tick = now
        for _ in range(self._count(self.rates["message"], dt)):
            self._message(state, now)
        for _ in range(self._count(self.rates["status"], dt)):
            self._change_status(state)
        for _ in range(self._count(self.rates["metrics"], dt)):
            self._drift(state)
        for _ in range(self._count(self.rates["task"], dt)):
            self._task(state)
        if self.target > 1:
            for _ in range(self._count(self.rates["churn"], dt)):
                self._churn(state, now)
        self._finish_terminations(state, now)
        if now - self._last_prune >= 1.0:
            state.prune_links(now)
            self._last_prune = now

    def _message(self, state: SwarmState, now: float) -> None:
        if len(self._ids) < 2:
            return
        sender = self._pick()
        agent = state.agents[sender]
        roll = self._random.random()
        receiver: str | None = None
        if roll < 0.45 and agent.parent_id in state.agents:
            receiver = agent.parent_id
        elif roll < 0.7 and self._children.get(sender):
            receiver = self._random.choice(self._children[sender])
        elif roll < 0.9 and agent.parent_id is not None and agent.parent_id in self._children:
            receiver = self._random.choice(self._children[agent.parent_id])
        else:
            receiver = self._pick()
        if receiver is not None and receiver != sender:
            nbytes = self._random.randrange(200, 8000)
            if state.record_message(sender, receiver, now, nbytes):
                self.messages += 1
                tokens = nbytes // 4
                agent.tokens += tokens
                agent.token_rate = 0.8 * agent.token_rate + 0.2 * tokens * 4.0

    def _change_status(self, state: SwarmState) -> None:
        agent = state.agents[self._pick()]
        if agent.status is AgentStatus.TERMINATING:
            return
        choices, weights = _TRANSITIONS[agent.status]
        status = self._random.choices(choices, weights=weights)[0]
        health = agent.health
        if status is AgentStatus.ERROR:
            health = max(5.0, health - self._random.uniform(10, 40))
        else:
            health = min(100.0, health + self._random.uniform(0, 8))
        state.update(agent.id, status=status, health=health)

    def _drift(self, state: SwarmState) -> None:
        agent = state.agents[self._pick()]
        busy = is_busy(agent.status)
        target_cpu = 70.0 if busy else 8.0
        gauss = self._random.gauss
        agent.cpu = _clamp(agent.cpu + 0.3 * (target_cpu - agent.cpu) + gauss(0, 5), 0.0, 100.0)
        agent.memory_mb = _clamp(agent.memory_mb + gauss(0, 12), 50.0, 4096.0)
        agent.workload = _clamp(agent.tasks_active / 4 + gauss(0, 0.05), 0.0, 1.0)
        agent.token_rate *= 0.9
        state.touch(agent)

    def _task(self, state: SwarmState) -> None:
        agent = state.agents[self._pick()]
        if agent.status is AgentStatus.TERMINATING:
            return
        if agent.current_task is None or agent.tasks_active == 0:
            self._task_serial += 1
            task = f"{self._random.choice(_TASKS)} #{self._task_serial}"
            state.update(agent.id, current_task=task, tasks_active=agent.tasks_active + 1, status=AgentStatus.BUSY)
        else:
            ok = self._random.random() < 0.92
            done = agent.tasks_completed + 1
            rate = (agent.success_rate * agent.tasks_completed + (1.0 if ok else 0.0)) / done
            state.update(
                agent.id,
                current_task=None,
                tasks_active=agent.tasks_active - 1,
                tasks_completed=done,
                success_rate=rate,
                status=AgentStatus.ACTIVE,
            )

    def _churn(self, state: SwarmState, now: float) -> None:
        if len(self._ids) - len(self._terminating) > self.target or (
            self._random.random() < 0.5 and len(self._ids) >= self.target
        ):
            victim = self._pick()
            agent = state.agents[victim]
            if agent.type is AgentType.QUEEN or victim in self._children or victim in self._terminating:
                return
            state.update(victim, status=AgentStatus.TERMINATING)
            self._terminating[victim] = now
        elif len(self._ids) < self.target + 1:
            self._spawn_worker(state, now)

    def _finish_terminations(self, state: SwarmState, now: float) -> None:
        if not self._terminating:
            return
        done = [a for a, since in self._terminating.items() if now - since >= self.terminate_after_s]
        for agent_id in done:
            del self._terminating[agent_id]
            agent = state.remove(agent_id)
            self._forget(agent_id, agent.parent_id if agent else None)
