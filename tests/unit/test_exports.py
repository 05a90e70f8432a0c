"""Each package's ``__all__`` is sorted and names exactly what it imports for the public."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "visionflow.swarm",
    "visionflow.sources",
    "visionflow.physics",
    "visionflow.physics.cpu",
    "visionflow.physics.cuda",
    "visionflow.protocol",
    "visionflow.stream",
    "visionflow.store",
    "visionflow.server",
    "visionflow.observability",
    "visionflow.ops",
    "visionflow.bench",
    "visionflow.client",
]


def isort_key(name: str) -> tuple[int, str]:
    """Ruff's order for ``__all__``: CONSTANTS, then Classes, then functions."""
    if name.isupper():
        return 0, name
    return (1 if name[:1].isupper() else 2), name


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_complete(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert exported == sorted(exported, key=isort_key)
    public = {k for k, v in vars(module).items() if not k.startswith("_") and not isinstance(v, type(module))}
    assert set(exported) == public
