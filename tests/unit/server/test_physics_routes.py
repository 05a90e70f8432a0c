"""``GET/PATCH /api/physics/params`` and what health says of the physics (``--physics`` itself: physics/test_select)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from visionflow.server.runtime import Runtime

Api = Callable[..., httpx.Response]


def test_get_params_lists_every_parameter_and_the_backend(runtime: Runtime, api: Api) -> None:
    body = api(runtime, "GET", "/api/physics/params").json()
    assert body["params"] == runtime.engine.params.as_dict()
    assert body["backend"] == "cpu"
    assert body["method"] in ("exact", "barnes-hut", "cell-list")


def test_patch_changes_params_and_wakes_a_resting_layout(runtime: Runtime, api: Api) -> None:
    runtime.pipeline.resting = True
    response = api(runtime, "PATCH", "/api/physics/params", json={"theta": 0.5, "gravity": 0.2})
    assert response.status_code == 200, response.text
    assert response.json()["params"]["theta"] == 0.5
    assert runtime.engine.params.gravity == 0.2
    runtime.pipeline.tick_inline()
    assert not runtime.pipeline.resting


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"damping": 3.0}, "damping"),
        ({"wobble": 1}, "wobble"),
        ({"theta": "x"}, "theta"),
        ([1, 2], "body"),
        ({}, "body"),
        ({"warmup_steps": 2.5}, "warmup_steps"),
    ],
)
def test_bad_patch_is_a_422_naming_the_field_and_changes_nothing(
    runtime: Runtime, body: Any, field: str, api: Api
) -> None:
    before = runtime.engine.params
    response = api(runtime, "PATCH", "/api/physics/params", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == field
    assert runtime.engine.params is before


def test_health_names_the_backend_method_and_rest(runtime: Runtime) -> None:
    physics = runtime.health()["components"]["physics"]
    assert physics["backend"] == "cpu"
    assert physics["method"] == runtime.engine.method.value
    assert physics["resting"] is False
