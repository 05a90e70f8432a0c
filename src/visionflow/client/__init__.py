"""Report an agent framework's swarm to VisionFlow in a few calls, from threads or asyncio.

    from visionflow.client import SwarmReporter

    reporter = SwarmReporter("http://127.0.0.1:8080")
    reporter.spawn("planner-1", type="coordinator")
    reporter.message("planner-1", "coder-1", nbytes=512)
    reporter.finish("planner-1")

Calls only queue and return at once. Whatever is queued goes out as one ``POST
/api/bots/update`` within ``flush_interval`` (50 ms) of the first item, together with
everything that arrived meanwhile (up to ``max_batch`` items a request), so an agent is on
screen a fraction of a second after ``spawn`` without ``flush()``. ``AsyncSwarmReporter``
does the same from a task on the caller's event loop (``async with AsyncSwarmReporter(url)
as reporter:``).

What the server says is not lost on the caller:

- A refused item (a bad value, an id another source owns, a wrong token) is handed to
  ``on_rejected`` and counted in ``stats.rejected``; the rest of its batch is sent again
  without it, and a batch too large for the server is split. Logged once.
- A message whose agents the server does not know is handed to ``on_unmatched`` and
  counted in ``stats.unmatched_messages``. Logged once.
- Failed sends (no answer, 429, 5xx) are retried with back-off up to ``max_backoff_s``.
- A server restart (the ``instance_id`` in its answers changed) is noticed and every agent
  the reporter knows, with its latest fields, and every link with its message totals is
  sent again before anything else, so the new server shows the same swarm. Those items are
  idempotent: a server that kept its state is not changed by them.
- While the server is down the queue is bounded (``max_queue`` items): it is coalesced to
  each agent's latest fields and one summary per messaging pair, so final states survive an
  outage of any length. See ``_core`` for the exact policy.

Only the standard library is used, so any framework can import it.
"""

from visionflow.client._asyncio import AsyncSwarmReporter
from visionflow.client._core import RejectedItem, ReporterStats
from visionflow.client._thread import SwarmReporter

__all__ = ["AsyncSwarmReporter", "RejectedItem", "ReporterStats", "SwarmReporter"]
