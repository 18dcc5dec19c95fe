"""Reference implementations of Chapter 5 (RL with verifiable rewards) that nothing else uses; the
others are in ``rlcourse/reference/ch05_rlvr.py``. Copied into ``book/05-rlvr/rlvr.ipynb`` by
``python -m autograde sync``.
"""

import numpy as np


def pass_at_k(n, c, k):
    """Unbiased estimate of pass@k from ``n`` samples of which ``c`` are correct (Chen et al., 2021).

    ``pass@k = 1 - C(n - c, k) / C(n, k)``: the probability that ``k`` samples drawn without
    replacement from the ``n`` include at least one correct one. Computed as a product, without the
    huge binomial coefficients.

    Args:
        n: samples drawn (int, ``n >= k``).
        c: correct samples among them (int, ``0 <= c <= n``).
        k: the budget of attempts (int, ``k >= 1``).

    Returns:
        a float in [0, 1].

    Example:
        >>> pass_at_k(10, 1, 1), pass_at_k(10, 1, 10), pass_at_k(10, 0, 5)
        (0.1, 1.0, 0.0)
    """
    if n - c < k:  # every draw of k samples contains a correct one
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))
