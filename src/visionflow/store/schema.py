"""The database tables, as typed declarative models (the operations manual's tables, adapted).

Times are Unix seconds in double precision, the same numbers the live model uses, so a row
needs no conversion on the hot path and PostgreSQL can range-partition positions by day on
them. Agents are referred to by ``key``, a small integer the server gives each agent id the
first time it sees it: a position row then costs eight bytes of identity instead of the id.

``agent_positions`` has no primary key: it is written by the thousand rows a second with
COPY, and on PostgreSQL it is the parent of one partition per day (created by the migration
as ``PARTITION BY RANGE (t)``, see ``partitions.py``).

No table has a foreign key. The writer keeps references whole by its order (an agent's row
is queued before anything that names it), and a constraint the database enforced could only
turn a record it refused into one that blocks every record spooled behind it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Double,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AgentPositionRow",
    "AgentRow",
    "AgentStatusRow",
    "AlertRow",
    "Base",
    "KpiSampleRow",
    "LinkRow",
    "PhysicsParamsRow",
]

Json = JSON().with_variant(JSONB(), "postgresql")
Real = Float(precision=24)
"""Four-byte floats for positions and velocities: the wire format's precision, half the bytes."""

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: Json}


class AgentRow(Base):
    """Every agent ever seen, current (``active``) and past, with its last known fields."""

    __tablename__ = "agents"

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(256), unique=True)
    node_id: Mapped[int] = mapped_column(BigInteger)
    """The wire id it had last; an agent that comes back while its old id is free gets it again."""
    name: Mapped[str] = mapped_column(String(256))
    type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))
    """Which source reported it: ``push`` agents are restored on start, the others are sent again."""
    active: Mapped[bool] = mapped_column(Boolean)
    first_seen: Mapped[float] = mapped_column(Double)
    last_seen: Mapped[float] = mapped_column(Double)
    removed_at: Mapped[float | None] = mapped_column(Double, nullable=True)
    fields: Mapped[dict[str, Any]]
    """Everything else the live model knows (health, load, tokens, task, metadata...)."""

    __table_args__ = (Index("ix_agents_active", "id", postgresql_where=text("active"), sqlite_where=text("active")),)


class AgentStatusRow(Base):
    """Each status an agent went through, with when; ``removed`` marks it leaving the swarm."""

    __tablename__ = "agent_status_history"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    agent_key: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[float] = mapped_column(Double)
    status: Mapped[str] = mapped_column(String(32))
    previous: Mapped[str | None] = mapped_column(String(32), nullable=True)

    __table_args__ = (
        UniqueConstraint("agent_key", "at", "status"),  # nothing twice from a replayed spool; seeks by agent
        Index("ix_agent_status_history_at", "at"),
    )


class LinkRow(Base):
    """The last known state of each communication link, one row per pair (``source`` < ``target``)."""

    __tablename__ = "communication_links"

    source: Mapped[str] = mapped_column(String(256), primary_key=True)
    target: Mapped[str] = mapped_column(String(256), primary_key=True)
    message_count: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger)
    intensity: Mapped[float] = mapped_column(Double)
    """At the last message; it decays from there with the link table's time constant."""
    first_message_at: Mapped[float] = mapped_column(Double)
    last_message_at: Mapped[float] = mapped_column(Double)
    inferred: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        Index("ix_communication_links_intensity", text("intensity DESC")),
        Index("ix_communication_links_recency", text("last_message_at DESC")),
    )


class AgentPositionRow(Base):
    """Where an agent was at time ``t`` (sampled at ``history_hz``, only agents that moved)."""

    __tablename__ = "agent_positions"

    # The ORM needs a primary key to map a class; the table itself has none (see the module docstring).
    agent_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    node_id: Mapped[int] = mapped_column(BigInteger)
    t: Mapped[float] = mapped_column(Double, primary_key=True)
    x: Mapped[float] = mapped_column(Real)
    y: Mapped[float] = mapped_column(Real)
    z: Mapped[float] = mapped_column(Real)
    vx: Mapped[float] = mapped_column(Real)
    vy: Mapped[float] = mapped_column(Real)
    vz: Mapped[float] = mapped_column(Real)


class PhysicsParamsRow(Base):
    """Every parameter set the layout ran with; the highest version is the live one."""

    __tablename__ = "physics_params"

    version: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    changed_at: Mapped[float] = mapped_column(Double)
    params: Mapped[dict[str, Any]]
    changes: Mapped[dict[str, Any]]


class AlertRow(Base):
    """Alerts Alertmanager posted and what the playbook did; ``record`` is the receiver's whole record."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    received_at: Mapped[float] = mapped_column(Double)
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    alertname: Mapped[str] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(Text, nullable=True)
    playbook: Mapped[str] = mapped_column(String(16))
    record: Mapped[dict[str, Any]]

    __table_args__ = (Index("ix_alerts_received_at", "received_at"),)


class KpiSampleRow(Base):
    """One row a minute of the figures capacity planning reads."""

    __tablename__ = "kpi_samples"

    at: Mapped[float] = mapped_column(Double, primary_key=True)
    cpu_percent: Mapped[float | None] = mapped_column(Double, nullable=True)
    """Of one core, averaged over the minute (200 = two cores busy)."""
    memory_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    agents: Mapped[int] = mapped_column(Integer)
    clients: Mapped[int] = mapped_column(Integer)
    tick_p50_ms: Mapped[float | None] = mapped_column(Double, nullable=True)
    tick_p95_ms: Mapped[float | None] = mapped_column(Double, nullable=True)
    frames_per_s: Mapped[float] = mapped_column(Double)
    errors_per_s: Mapped[float] = mapped_column(Double)
    api_p95_ms: Mapped[float | None] = mapped_column(Double, nullable=True)
    """NULL while the server measures no API latency."""
