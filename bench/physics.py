"""Physics benchmark: our engine against igraph, fa2, networkx, d3-force-3d and the NumPy reference.

    python bench/physics.py [--nodes 200,10000,100000] [--graph swarm|ba] [--steps 100] [--peers] [--json]

The same as ``visionflow bench physics``; see ``visionflow.bench.physics`` for what is
measured and how. Peers: ``make bench-peers`` (``pip install -e .[bench]`` and ``npm install --prefix bench``).
"""

from __future__ import annotations

import sys

from visionflow.cli import app

if __name__ == "__main__":
    sys.exit(app(["bench", "physics", *sys.argv[1:]]))
