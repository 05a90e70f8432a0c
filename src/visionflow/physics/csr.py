"""Building the springs' CSR adjacency in one Numba pass (a counting sort, no argsort).

Links change nearly every tick in a busy swarm, so this runs often: at 200 nodes the NumPy
version (lookups, masks, a stable argsort, concatenations) cost more than the step itself.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from visionflow.jit import jit
from visionflow.swarm.models import ID_MASK

__all__ = ["build_csr"]

U32 = npt.NDArray[np.uint32]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]


@jit(nogil=True, cache=True)
def _slot(node_id: int, slot_of: I32, ids: U32) -> int:
    index = node_id & ID_MASK
    if index >= slot_of.shape[0]:
        return -1
    slot = slot_of[index]
    if slot < 0 or ids[slot] != node_id:
        return -1
    return int(slot)


@jit(nogil=True, cache=True)
def build_csr(edge_src: U32, edge_dst: U32, slot_of: I32, ids: U32, n: int, ptr: I64, nbr: I32, edge: I32) -> int:
    """Fill ``ptr`` (n + 1), ``nbr`` and ``edge`` (2 x edges each) with both directions of every usable edge.

    An edge is usable when both ends are present and distinct. ``edge[k]`` is the index of the
    input edge behind CSR entry ``k``, so weights follow with one gather. Returns the number
    of CSR entries written.
    """
    m = edge_src.shape[0]
    a = np.empty(m, np.int32)
    b = np.empty(m, np.int32)
    for i in range(n + 1):
        ptr[i] = 0
    for e in range(m):
        sa = _slot(edge_src[e], slot_of, ids)
        sb = _slot(edge_dst[e], slot_of, ids)
        if sa < 0 or sb < 0 or sa == sb:
            sa = -1
        a[e] = sa
        b[e] = sb
        if sa >= 0:
            ptr[sa + 1] += 1
            ptr[sb + 1] += 1
    for i in range(n):
        ptr[i + 1] += ptr[i]
    fill = ptr[:n].copy()
    for e in range(m):
        sa = a[e]
        if sa < 0:
            continue
        sb = b[e]
        k = fill[sa]
        nbr[k] = sb
        edge[k] = e
        fill[sa] = k + 1
        k = fill[sb]
        nbr[k] = sa
        edge[k] = e
        fill[sb] = k + 1
    return int(ptr[n])
