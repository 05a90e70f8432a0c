from __future__ import annotations

import numpy as np

from visionflow.physics.csr import build_csr
from visionflow.swarm.models import AGENT_FLAG


def test_csr_holds_both_directions_of_usable_edges_in_edge_order() -> None:
    n = 5
    ids = (np.arange(n, dtype=np.uint32) + 10) | np.uint32(AGENT_FLAG)
    slot_of = np.full(64, -1, dtype=np.int32)
    slot_of[10:15] = np.arange(n)
    absent = np.uint32(AGENT_FLAG | 40)
    stale = np.uint32(11)  # right index, wrong flag bits: not the node in slot 1
    src = np.array([ids[0], ids[1], ids[2], ids[3], absent, stale, ids[4]], dtype=np.uint32)
    dst = np.array([ids[1], ids[2], ids[2], ids[0], ids[0], ids[0], ids[0]], dtype=np.uint32)
    ptr = np.empty(n + 1, np.int64)
    nbr = np.empty(2 * len(src), np.int32)
    edge = np.empty(2 * len(src), np.int32)
    used = build_csr(src, dst, slot_of, ids, n, ptr, nbr, edge)
    usable = [0, 1, 3, 6]  # 2 is a self-loop, 4 and 5 name nodes that are not there
    assert used == 2 * len(usable)
    expected: dict[int, list[tuple[int, int]]] = {i: [] for i in range(n)}
    for e in usable:
        a, b = int(np.flatnonzero(ids == src[e])[0]), int(np.flatnonzero(ids == dst[e])[0])
        expected[a].append((b, e))
        expected[b].append((a, e))
    for node in range(n):
        row = slice(int(ptr[node]), int(ptr[node + 1]))
        assert list(zip(nbr[row].tolist(), edge[row].tolist(), strict=True)) == expected[node]


def test_empty_edge_list() -> None:
    ptr = np.empty(4, np.int64)
    used = build_csr(np.empty(0, np.uint32), np.empty(0, np.uint32), np.full(8, -1, np.int32),
                     np.zeros(3, np.uint32), 3, ptr, np.empty(0, np.int32), np.empty(0, np.int32))  # fmt: skip
    assert used == 0 and ptr.tolist() == [0, 0, 0, 0]
