"""Seeding: reproducible draws, and no PyTorch import for the chapters that do not use it."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import torch

from rlcourse.seeding import set_seed


def test_set_seed_makes_every_global_generator_repeat():
    draws = []
    for _ in range(2):
        rng = set_seed(7)
        draws.append((random.random(), np.random.rand(), torch.rand(1).item(), rng.random()))
    assert draws[0] == draws[1]
    set_seed(8)
    assert torch.rand(1).item() != draws[0][2]


def test_a_notebook_without_torch_does_not_import_it():
    code = ("import sys\nfrom rlcourse.notebook import setup_notebook\nsetup_notebook(seed=0)\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
