"""The benchmark tests' shared set-up."""

from __future__ import annotations

import pytest

from .peers import D3Install, install_d3


@pytest.fixture(scope="session")
def d3(tmp_path_factory: pytest.TempPathFactory) -> D3Install:
    """d3-force-3d installed once a run, so its tests run in CI rather than skip."""
    return install_d3(tmp_path_factory.mktemp("d3"))
