"""The first schema: agents, status history, links, positions, physics parameters, alerts, KPI samples.

On PostgreSQL ``agent_positions`` is partitioned by range of ``t`` (one partition a day, which
the server creates ahead and drops past retention); on SQLite it is a plain table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""SQLite gives a row id only to a column declared exactly INTEGER PRIMARY KEY."""

POSITION_COLUMNS = """
    agent_key BIGINT NOT NULL,
    node_id BIGINT NOT NULL,
    t DOUBLE PRECISION NOT NULL,
    x REAL NOT NULL, y REAL NOT NULL, z REAL NOT NULL,
    vx REAL NOT NULL, vy REAL NOT NULL, vz REAL NOT NULL
"""


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "agents",
        sa.Column("key", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("id", sa.String(256), nullable=False),
        sa.Column("node_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("first_seen", sa.Double(), nullable=False),
        sa.Column("last_seen", sa.Double(), nullable=False),
        sa.Column("removed_at", sa.Double(), nullable=True),
        sa.Column("fields", JSON, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_agents"),
        sa.UniqueConstraint("id", name="uq_agents_id"),
    )
    # The manual's "active agents" index, on what "active" means here: in the live swarm.
    op.create_index("ix_agents_active", "agents", ["id"], postgresql_where=sa.text("active"),
                    sqlite_where=sa.text("active"))  # fmt: skip

    op.create_table(
        "agent_status_history",
        sa.Column("id", BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("agent_key", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("previous", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_agent_status_history"),
        # Nothing twice from a replayed spool; and its index finds an agent's status at a moment.
        sa.UniqueConstraint("agent_key", "at", "status", name="uq_agent_status_history_agent_key_at_status"),
    )
    op.create_index("ix_agent_status_history_at", "agent_status_history", ["at"])

    op.create_table(
        "communication_links",
        sa.Column("source", sa.String(256), nullable=False),
        sa.Column("target", sa.String(256), nullable=False),
        sa.Column("message_count", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("intensity", sa.Double(), nullable=False),
        sa.Column("first_message_at", sa.Double(), nullable=False),
        sa.Column("last_message_at", sa.Double(), nullable=False),
        sa.Column("inferred", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("source", "target", name="pk_communication_links"),
    )
    # The manual's links index, by intensity; and by recency, which "recent links" queries read.
    op.create_index("ix_communication_links_intensity", "communication_links", [sa.text("intensity DESC")])
    op.create_index("ix_communication_links_recency", "communication_links", [sa.text("last_message_at DESC")])

    if postgres:
        op.execute(f"CREATE TABLE agent_positions ({POSITION_COLUMNS}) PARTITION BY RANGE (t)")
    else:
        op.execute(f"CREATE TABLE agent_positions ({POSITION_COLUMNS})")
    # The manual's positions index (by agent, newest first), and one by time for frames and replay.
    op.create_index("ix_agent_positions_agent_key_t", "agent_positions", ["agent_key", sa.text("t DESC")])
    op.create_index("ix_agent_positions_t", "agent_positions", ["t"])

    op.create_table(
        "physics_params",
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("changed_at", sa.Double(), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("changes", JSON, nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_physics_params"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("received_at", sa.Double(), nullable=False),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("alertname", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=True),
        sa.Column("playbook", sa.String(16), nullable=False),
        sa.Column("record", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_received_at", "alerts", ["received_at"])
    op.create_table(
        "kpi_samples",
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("cpu_percent", sa.Double(), nullable=True),
        sa.Column("memory_bytes", sa.BigInteger(), nullable=True),
        sa.Column("agents", sa.Integer(), nullable=False),
        sa.Column("clients", sa.Integer(), nullable=False),
        sa.Column("tick_p50_ms", sa.Double(), nullable=True),
        sa.Column("tick_p95_ms", sa.Double(), nullable=True),
        sa.Column("frames_per_s", sa.Double(), nullable=False),
        sa.Column("errors_per_s", sa.Double(), nullable=False),
        sa.Column("api_p95_ms", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("at", name="pk_kpi_samples"),
    )


def downgrade() -> None:
    for table in ("kpi_samples", "alerts", "physics_params", "agent_positions", "communication_links",
                  "agent_status_history", "agents"):  # fmt: skip
        op.drop_table(table)
