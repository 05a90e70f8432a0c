"""Array aliases shared by the stages, so signatures say what shape and dtype they expect."""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = ["FloatArray", "IdArray", "IndexArray", "Real", "Vec3Array"]

Vec3Array: TypeAlias = npt.NDArray[np.float32]
"""Positions or velocities: shape (N, 3), float32, C-contiguous."""

FloatArray: TypeAlias = npt.NDArray[np.float32]
"""One float32 per node or per edge."""

IdArray: TypeAlias = npt.NDArray[np.uint32]
"""Wire node ids (flag bits included), one per node."""

IndexArray: TypeAlias = npt.NDArray[np.int32]
"""Dense indices into the engine's arrays."""

Real: TypeAlias = float | np.floating[Any]
"""A scalar the kernels take: a Python float or a NumPy one (the engine passes float32, converted once)."""
