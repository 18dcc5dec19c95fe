"""Store exercise inputs and outputs as JSON: arrays, tensors, tuples and the course's environments.

A stored case must rebuild exactly the same objects on every machine, so everything is reduced to
plain JSON with a few tagged forms; floats are written with ``repr`` precision, which round-trips.
"""

from __future__ import annotations

import base64
import importlib
import json
import math
import zlib

import numpy as np

OBJECTS = ("rlcourse.envs.gridworld:GridWorld", "rlcourse.policies:MLPPolicy")
"""The classes a stored case may rebuild (each has ``to_spec``/``from_spec``); nothing else is imported."""
DTYPES = frozenset({"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                    "float16", "bfloat16", "float32", "float64", "complex64", "complex128"})
"""The element types an array or tensor may have: numbers (a string dtype such as ``U100000`` costs
400 kB per element to rebuild)."""
MAX_ELEMENTS = 10_000_000
"""The most elements one decoded array or tensor may hold."""


def encode(x):
    """Turn ``x`` into JSON-compatible data (see :func:`decode` for the inverse)."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x)
    if x is None or isinstance(x, str):
        return x
    if isinstance(x, np.ndarray):
        return {"__array__": x.tolist(), "dtype": str(x.dtype), "shape": list(x.shape)}
    if type(x).__module__ == "torch" and type(x).__name__ == "Tensor":
        return {"__tensor__": x.detach().cpu().tolist(), "dtype": str(x.dtype).removeprefix("torch."),
                "shape": list(x.shape)}
    if isinstance(x, tuple):
        return {"__tuple__": [encode(v) for v in x]}
    if isinstance(x, list):
        return [encode(v) for v in x]
    if isinstance(x, dict):
        if not all(isinstance(k, str) for k in x):
            raise TypeError("only dicts with string keys can be stored")
        return {k: encode(v) for k, v in x.items()}
    if hasattr(x, "to_spec") and f"{type(x).__module__}:{type(x).__qualname__}" in OBJECTS:
        return {"__object__": f"{type(x).__module__}:{type(x).__qualname__}", "spec": x.to_spec()}
    raise TypeError(f"cannot store a value of type {type(x).__name__}")


def decode(d, objects: bool = True):
    """Rebuild the value that :func:`encode` stored.

    Arrays and tensors must have a numeric dtype (:data:`DTYPES`), at most :data:`MAX_ELEMENTS`
    elements and the number of elements their shape says; objects must be one of :data:`OBJECTS`, and
    are refused altogether with ``objects=False`` (how the grader reads what a student's kernel sent:
    :func:`decode_untrusted`). Anything else raises ``ValueError``.
    """
    if isinstance(d, list):
        return [decode(v, objects) for v in d]
    if not isinstance(d, dict):
        return d
    if "__array__" in d:
        values, dtype, shape = _checked_array(d, "__array__")
        return np.array(values, dtype=dtype).reshape(shape)
    if "__tensor__" in d:
        import torch

        values, dtype, shape = _checked_array(d, "__tensor__")
        return torch.tensor(values, dtype=getattr(torch, dtype)).reshape(shape)
    if "__tuple__" in d:
        return tuple(decode(v, objects) for v in d["__tuple__"])
    if "__object__" in d:
        if not objects or d["__object__"] not in OBJECTS:
            raise ValueError(f"refusing to rebuild {str(d['__object__'])[:80]!r}: not a class a case may hold")
        module, _, name = d["__object__"].partition(":")
        return getattr(importlib.import_module(module), name).from_spec(d["spec"])
    return {k: decode(v, objects) for k, v in d.items()}


def decode_untrusted(d):
    """:func:`decode` for data a student's code produced: numbers, strings, containers, arrays, no objects."""
    return decode(d, objects=False)


def _checked_array(d: dict, key: str):
    values, dtype, shape = d.get(key), d.get("dtype"), d.get("shape")
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise ValueError(f"refusing an array of dtype {str(dtype)[:40]!r}: not a numeric dtype")
    if (not isinstance(shape, list) or len(shape) > 32
            or not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_ELEMENTS for n in shape)):
        raise ValueError("refusing an array with a malformed shape")
    size = math.prod(shape)
    if size > MAX_ELEMENTS or _count_leaves(values, MAX_ELEMENTS) != size:
        raise ValueError(f"refusing an array whose values do not fill its shape {shape[:8]} (or exceed "
                         f"{MAX_ELEMENTS:,} elements)")
    return values, dtype, shape


def _count_leaves(values, limit: int) -> int:
    """How many numbers a nested list holds (``limit + 1`` once it holds more, ``-1`` if not numbers)."""
    count, stack = 0, [values]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, (bool, int, float)) or item is None:
            count += 1
            if count > limit:
                return limit + 1
        else:
            return -1
    return count


def pack(data) -> str:
    """Compress already-encoded JSON data into one ASCII string (used for hidden test cases)."""
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def unpack(text: str):
    """Inverse of :func:`pack`."""
    return json.loads(zlib.decompress(base64.b64decode(text)))
