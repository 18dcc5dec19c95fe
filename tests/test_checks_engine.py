"""The check engine's comparisons, encodings and messages."""

import numpy as np
import pytest
import torch

from rlcourse.checks import compare
from rlcourse.checks.encoding import decode, encode, pack, unpack
from rlcourse.envs import GridSpec, GridWorld


def test_encoding_round_trips():
    env = GridWorld(GridSpec(rows=2, cols=3, start=(1, 0), goal=(0, 2), walls=((0, 0),), slip=0.3))
    value = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "t": torch.tensor([[1.5, -2.0]]),
             "tup": (1, 2.5, "x"), "env": env, "n": None}
    back = decode(unpack(pack(encode(value))))
    assert back["a"].dtype == np.float32 and np.array_equal(back["a"], value["a"])
    assert torch.equal(back["t"], value["t"]) and back["tup"] == (1, 2.5, "x")
    assert back["env"].to_spec() == env.to_spec() and back["n"] is None


def test_decode_refuses_foreign_classes():
    with pytest.raises(ValueError, match="not part of the course"):
        decode({"__object__": "os:system", "spec": {}})


def test_compare_messages():
    assert compare(np.ones(3), np.ones(3)) is None
    assert "expected shape (3,), got shape (4,)" in compare(np.ones(4), np.ones(3))
    assert "1 of 3 entries differ; first at index (2,)" in compare(np.array([1, 1, 5.0]), np.ones(3))
    assert compare(2.0, 1.0) == "expected 1, got 2."
    assert "expected 1" not in compare(2.0, 1.0, reveal=False)
    assert "item 1" in compare((1.0, 2.0), (1.0, 3.0))
    assert "expected a number" in compare("abc", 1.0)
    assert compare(torch.tensor([1.0, 2.0]), np.array([1.0, 2.0])) is None
