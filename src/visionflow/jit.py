"""``jit``: Numba's ``njit`` with the decorated function's signature kept for type checkers.

Numba ships no type information, so ``@numba.njit`` would turn every kernel into ``Any``
under ``mypy --strict``; wrapping it once here keeps the kernels' annotations in force.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from numba import njit

__all__ = ["jit"]

F = TypeVar("F", bound=Callable[..., Any])


def jit(**options: Any) -> Callable[[F], F]:
    """``numba.njit(**options)``, typed as returning the function it decorates."""
    return cast(Callable[[F], F], njit(**options))
