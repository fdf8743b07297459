"""Each package's `__all__` is sorted and complete, like httpx's test of its exports."""

from __future__ import annotations

import importlib
import inspect

import pytest

PACKAGES = ["bot.charts", "conversations", "handlers", "storage", "storage.models"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_lists_only_real_members(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported)
    for member in exported:
        assert hasattr(module, member), f"{name}.__all__ names missing {member}"


@pytest.mark.parametrize("name", PACKAGES)
def test_public_classes_and_functions_are_exported(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        n
        for n, obj in vars(module).items()
        if not n.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj)) and not inspect.ismodule(obj)
        and getattr(obj, "__module__", "").startswith(name.split(".")[0])
    }
    assert public <= set(module.__all__), public - set(module.__all__)
