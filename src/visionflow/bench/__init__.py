"""The benchmark harness behind ``visionflow bench``: our hot paths against peers run side by side.

- ``physics``: layout steps against igraph, fa2, networkx, d3-force-3d and the NumPy reference,
  and layout quality at equal wall time; ``peers/`` holds the peers' scripts (package data, so
  the command works from an installed wheel)
- ``report``: the Rich tables of ``visionflow bench physics``
"""

__all__: list[str] = []
