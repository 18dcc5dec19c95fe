"""Reference implementations of Chapter 5 (RL with verifiable rewards) that nothing else uses; the
others are in ``rlcourse/reference/ch05_rlvr.py``. Copied into ``book/05-rlvr/rlvr.ipynb`` by
``python -m autograde sync``.
"""

import numpy as np
import torch


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
        >>> [round(pass_at_k(10, 1, k), 6) for k in (1, 5, 10)]  # one correct sample in ten: k / 10
        [0.1, 0.5, 1.0]
        >>> pass_at_k(10, 0, 5)
        0.0
    """
    if n - c < k:  # every draw of k samples contains a correct one
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def expected_kl_gradients(logits, ref_logits):
    """What a KL term in the loss pushes the policy towards: the expected gradient of each estimator.

    A loss term ``k(y)`` is computed on a token ``y`` sampled from ``pi = softmax(logits)`` and
    ``loss.backward()`` differentiates it with the sample held fixed: sampling has no gradient. So
    the expected gradient with respect to the logits is ``sum_y pi(y) * d k(y) / d logits``, where
    ``pi(y)`` only weights the outcomes. Compute it exactly, by enumerating the ``V`` outcomes, for
    the two estimators of Exercise 5.5 (with ``log r(y) = log pi_ref(y) - log pi(y)``):
    ``k1 = -log r`` and ``k3 = (r - 1) - log r``. For comparison, also return the gradients of the
    two exact divergences, ``KL(pi || pi_ref) = sum_y pi(y) log(pi(y) / pi_ref(y))`` and
    ``KL(pi_ref || pi) = sum_y pi_ref(y) log(pi_ref(y) / pi(y))``.

    Args:
        logits: (V,) float64 tensor, the policy's logits (a leaf; do not modify it in place).
        ref_logits: (V,) float64 tensor, the reference policy's logits (held fixed).

    Returns:
        dict of (V,) tensors, gradients with respect to ``logits``: ``"k1"`` and ``"k3"`` (the
        expected gradients of the estimators as loss terms), ``"kl"`` (of ``KL(pi || pi_ref)``) and
        ``"reverse_kl"`` (of ``KL(pi_ref || pi)``).

    Example:
        >>> g = expected_kl_gradients(torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64))
        >>> [float(g[name].abs().max()) for name in ("k1", "k3", "kl", "reverse_kl")]  # pi = pi_ref
        [0.0, 0.0, 0.0, 0.0]
    """
    logits = logits.detach().requires_grad_(True)
    logp = torch.log_softmax(logits, dim=-1)                      # (V,) log pi(y) for every outcome y
    ref_logp = torch.log_softmax(ref_logits.detach(), dim=-1)     # (V,) log pi_ref(y)
    weight = logp.exp().detach()                                  # pi(y): weights the outcomes, no gradient
    log_r = ref_logp - logp
    estimators = {"k1": -log_r, "k3": torch.exp(log_r) - 1 - log_r}  # (V,) each: the value if y were drawn
    exact = {"kl": (logp.exp() * (logp - ref_logp)).sum(),       # KL(pi || pi_ref)
             "reverse_kl": (ref_logp.exp() * (ref_logp - logp)).sum()}  # KL(pi_ref || pi)
    grads = {}
    for name, k in estimators.items():
        grads[name], = torch.autograd.grad((weight * k).sum(), logits, retain_graph=True)
    for name, value in exact.items():
        grads[name], = torch.autograd.grad(value, logits, retain_graph=True)
    return grads
