"""One place to seed every random number generator a notebook uses."""

import random
import sys

import numpy as np


def set_seed(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and (if imported) PyTorch, and return a fresh NumPy generator.

    Call it once at the top of a notebook, after its imports: PyTorch is seeded when the notebook has
    imported it (every chapter that uses it does so in its setup cell), and not imported otherwise, so
    the chapters without it start a second faster. Code that needs randomness should then take an explicit
    generator (``np.random.default_rng(seed)`` or ``torch.Generator().manual_seed(seed)``); this
    function exists so that library code which draws from the global generators is reproducible too.
    (Python's string hashing is seeded when the interpreter starts, by ``PYTHONHASHSEED``; setting it
    from a running process has no effect, so nothing here depends on the order of a set of strings.)

    Args:
        seed: any non-negative integer.

    Returns:
        ``np.random.default_rng(seed)``, for code that wants a local generator right away.

    Example:
        >>> rng = set_seed(0)
    """
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch = sys.modules.get("torch")  # seeded if the notebook uses it (it imports torch first); Chapters 1-2 do not
    if torch is not None:
        torch.manual_seed(seed)
    return np.random.default_rng(seed)
