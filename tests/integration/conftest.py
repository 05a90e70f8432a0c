"""Fixtures for tests that go over the network: a live server of 200 simulated agents."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.live import LiveServer, start_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("server") / "server.log", "--agents", "200", "--seed", "3")
    yield server
    server.stop()
