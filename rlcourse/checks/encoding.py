"""Store exercise inputs and outputs as JSON: arrays, tensors, tuples and the course's environments.

A stored case must rebuild exactly the same objects on every machine, so everything is reduced to
plain JSON with a few tagged forms; floats are written with ``repr`` precision, which round-trips.
"""

from __future__ import annotations

import base64
import importlib
import json
import zlib

import numpy as np

# Only classes from the course's own support package may be rebuilt from a stored case.
_ALLOWED_PREFIX = "rlcourse."


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
    if hasattr(x, "to_spec") and type(x).__module__.startswith(_ALLOWED_PREFIX):
        return {"__object__": f"{type(x).__module__}:{type(x).__qualname__}", "spec": x.to_spec()}
    raise TypeError(f"cannot store a value of type {type(x).__name__}")


def decode(d):
    """Rebuild the value that :func:`encode` stored."""
    if isinstance(d, list):
        return [decode(v) for v in d]
    if not isinstance(d, dict):
        return d
    if "__array__" in d:
        return np.array(d["__array__"], dtype=d["dtype"]).reshape(d["shape"])
    if "__tensor__" in d:
        import torch
        return torch.tensor(d["__tensor__"], dtype=getattr(torch, d["dtype"])).reshape(d["shape"])
    if "__tuple__" in d:
        return tuple(decode(v) for v in d["__tuple__"])
    if "__object__" in d:
        module, _, name = d["__object__"].partition(":")
        if not module.startswith(_ALLOWED_PREFIX):
            raise ValueError(f"refusing to rebuild {d['__object__']}: not part of the course package")
        return getattr(importlib.import_module(module), name).from_spec(d["spec"])
    return {k: decode(v) for k, v in d.items()}


def pack(data) -> str:
    """Compress already-encoded JSON data into one ASCII string (used for hidden test cases)."""
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def unpack(text: str):
    """Inverse of :func:`pack`."""
    return json.loads(zlib.decompress(base64.b64decode(text)))
