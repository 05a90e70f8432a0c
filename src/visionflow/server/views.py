"""The swarm as JSON for the HTTP API, read from the live model and the engine's arrays.

Kept out of the pipeline: the loop produces the state, and the API only reads it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from visionflow.physics import PhysicsEngine
from visionflow.swarm import SwarmState

__all__ = ["agents_data"]


def agents_data(
    state: SwarmState,
    engine: PhysicsEngine,
    *,
    tick: int,
    now: float,
    offset: int = 0,
    limit: int | None = None,
) -> dict[str, Any]:
    """The body of ``GET /api/bots/data``: a page of agents with positions, and their edges.

    The whole swarm carries every edge; a page carries only the edges touching its agents,
    so that paging through a large swarm does not send every edge with every page.
    """
    agents = list(state.agents.values())
    total = len(agents)
    page = agents[offset : None if limit is None else offset + limit]
    ids = np.array([a.node_id for a in page], dtype=np.uint32)
    slots = engine.slots_of(ids)
    pos = engine.positions
    vel = engine.velocities
    out = []
    for agent, slot in zip(page, slots.tolist(), strict=True):
        item = agent.to_dict()
        if slot >= 0:
            item["position"] = {"x": float(pos[slot, 0]), "y": float(pos[slot, 1]), "z": float(pos[slot, 2])}
            item["velocity"] = {"x": float(vel[slot, 0]), "y": float(vel[slot, 1]), "z": float(vel[slot, 2])}
        else:
            item["position"] = item["velocity"] = None
        out.append(item)
    links = state.links
    whole = offset == 0 and len(page) == total
    chosen = links.links(now) if whole else links.links_touching(ids, now)
    return {
        "tick": tick,
        "timestamp": now,
        "total_agents": total,
        "offset": offset,
        "agents": out,
        "edges": [link.to_dict() for link in chosen],
        "total_edges": len(links),
    }
