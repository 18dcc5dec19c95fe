"""How a check calls an exercise function.

Most exercises are called as ``fn(**args)`` and their return value is compared. An adapter is for
exercises whose result is an effect (an updated model, a gradient): it calls the function and returns
what should be compared. Chapters register theirs here by name; stored cases refer to the name.
"""

from __future__ import annotations

from typing import Callable

_ADAPTERS: dict[str, Callable] = {}


def adapter(name: str):
    """Register ``f(fn, args) -> output`` under ``name``."""
    def register(f):
        _ADAPTERS[name] = f
        return f
    return register


def get(name: str | None) -> Callable:
    if name is None:
        return lambda fn, args: fn(**args)
    if name not in _ADAPTERS:
        raise KeyError(f"unknown check adapter {name!r}; is rlcourse up to date?")
    return _ADAPTERS[name]
