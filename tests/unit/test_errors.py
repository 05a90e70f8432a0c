"""The error tree: the drawing in ``errors.py`` is the real hierarchy, and nothing raises outside it."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import visionflow
from visionflow import errors

_BRANCH = re.compile(r"^(?P<indent>[ │]*)[├└]── (?P<name>\w+)")


def drawn_tree() -> dict[str, str]:
    """Each class drawn in the module docstring, and the class it hangs under."""
    lines = (errors.__doc__ or "").splitlines()
    root = next(i for i, line in enumerate(lines) if line.strip() == "VisionFlowError")
    parents = {"VisionFlowError": ""}
    stack = ["VisionFlowError"]
    for line in lines[root + 1 :]:
        match = _BRANCH.match(line.strip("\n")[4:])
        if match is None:
            break
        depth = len(match["indent"]) // 4 + 1
        del stack[depth:]
        parents[match["name"]] = stack[-1]
        stack.append(match["name"])
    return parents


def test_the_drawing_is_the_hierarchy() -> None:
    tree = drawn_tree()
    assert set(tree) == set(errors.__all__)
    for name, parent in tree.items():
        cls = getattr(errors, name)
        if parent:
            assert cls.__bases__[0] is getattr(errors, parent), f"{name} is drawn under {parent}"


def test_every_exception_class_of_the_package_is_in_the_tree() -> None:
    found = []
    for module_info in pkgutil.walk_packages(visionflow.__path__, "visionflow."):
        module = importlib.import_module(module_info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                found.append((module.__name__, name, obj))
    assert found, "walked no modules"
    outside = [f"{module}.{name}" for module, name, cls in found if not issubclass(cls, errors.VisionFlowError)]
    assert outside == []
    assert {module for module, _, _ in found} == {"visionflow.errors"}
