"""One module per aggregate: agents (and their statuses), links, positions, physics parameters, alerts, KPIs."""

from visionflow.store.repos import agents, alerts, kpi, links, params, positions

__all__ = ["agents", "alerts", "kpi", "links", "params", "positions"]
