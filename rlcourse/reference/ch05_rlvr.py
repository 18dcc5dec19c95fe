"""Chapter 5's reference implementations that the RL loop (``rlcourse.lm.grpo``), Chapters 6-7 and the
benchmarks reuse; ``python -m autograde sync`` copies them into the chapter's solution cells.

Shapes: a batch holds ``N`` prompts with ``K`` sampled completions each, ``B = N * K`` rows, stored
prompt after prompt (rows ``i*K .. i*K+K-1`` belong to prompt ``i``). A row is the prompt followed by
its completion, ``T`` tokens; ``mask`` is 1 on the completion's tokens (up to and including
``<|eos|>``) and 0 on the prompt and the padding. Token log-probabilities are aligned with the tokens
they score: ``logp[:, t]`` is ``log pi(token t | tokens < t)``, and ``logp[:, 0]`` (nothing predicts
the first token) is 0.
"""

import re

import torch


def verifier_reward(reply, value, format_bonus=0.0):
    """Score one completion of an addition problem whose answer is written with its digits reversed.

    A reply is *well formed* when, apart from surrounding whitespace, it is one or more digits and
    nothing else. A well-formed reply whose digits, read reversed, are ``value`` is correct.

    Args:
        reply: the model's completion as text (special tokens removed), possibly anything.
        value: the correct sum, an int.
        format_bonus: reward of a well-formed but wrong reply.

    Returns:
        1.0 if correct, ``format_bonus`` if well formed but wrong, else 0.0. Never raises.

    Example:
        >>> verifier_reward("572", 275), verifier_reward("571", 275, 0.1), verifier_reward("57x", 275, 0.1)
        (1.0, 0.1, 0.0)
    """
    match = re.fullmatch(r"\s*(\d+)\s*", reply)
    if match is None:
        return 0.0
    return 1.0 if int(match.group(1)[::-1]) == value else float(format_bonus)


def group_advantages(rewards, normalize=False, eps=1e-6):
    """Group-relative advantages: each reward minus the mean reward of its prompt's group.

    Args:
        rewards: (N, K) float tensor, ``K`` completions of each of ``N`` prompts.
        normalize: also divide by the group's standard deviation (population, ``unbiased=False``)
            plus ``eps``, as GRPO does.
        eps: keeps a group whose rewards are all equal at advantage 0 instead of 0/0.

    Returns:
        (N, K) tensor of advantages.

    Example:
        >>> group_advantages(torch.tensor([[1., 0., 0., 1.], [1., 1., 1., 1.]]))
        tensor([[ 0.5000, -0.5000, -0.5000,  0.5000],
                [ 0.0000,  0.0000,  0.0000,  0.0000]])
    """
    advantages = rewards - rewards.mean(dim=1, keepdim=True)  # baseline: this prompt's mean reward
    if normalize:
        advantages = advantages / (rewards.std(dim=1, unbiased=False, keepdim=True) + eps)
    return advantages


def token_logprobs(logits, input_ids, mask):
    """Log-probabilities of the completion tokens under the model, aligned with the tokens.

    Args:
        logits: (B, T, V) float tensor; ``logits[:, t]`` is the model's prediction of token ``t + 1``.
        input_ids: (B, T) int64 tensor, prompts and completions.
        mask: (B, T) tensor, 1 on completion tokens.

    Returns:
        (B, T) tensor: ``out[:, t] = log softmax(logits[:, t - 1])[input_ids[:, t]]`` where
        ``mask[:, t] == 1``, and 0 elsewhere (always 0 at ``t = 0``). Differentiable w.r.t. ``logits``.

    Example:
        >>> token_logprobs(torch.zeros(1, 3, 4), torch.tensor([[0, 1, 2]]), torch.tensor([[0, 1, 1]]))
        tensor([[ 0.0000, -1.3863, -1.3863]])
    """
    log_probs = torch.log_softmax(logits[:, :-1].float(), dim=-1)  # (B, T-1, V): predictions of tokens 1..T-1
    picked = log_probs.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)  # (B, T-1)
    out = torch.cat([torch.zeros_like(picked[:, :1]), picked], dim=1)  # (B, T), aligned with input_ids
    return out * mask.to(out.dtype)


def policy_gradient_loss(logp, advantages, mask, normalization="token"):
    """The REINFORCE surrogate loss over sampled completions; its gradient is minus the policy gradient.

    Every completion token of row ``b`` is weighted by the row's advantage ``A_b``:

    * ``"token"``: ``-sum_{b,t} A_b logp[b,t] mask[b,t] / sum_{b,t} mask[b,t]`` (every token of the batch
      counts the same; long completions weigh more),
    * ``"sequence"``: ``-1/B sum_b (sum_t A_b logp[b,t] mask[b,t]) / (sum_t mask[b,t])`` (every completion
      counts the same, whatever its length; GRPO's original choice).

    Args:
        logp: (B, T) token log-probabilities (from :func:`token_logprobs`).
        advantages: (B,) one advantage per completion (held constant: not differentiated).
        mask: (B, T) 1 on completion tokens.
        normalization: ``"token"`` or ``"sequence"``.

    Returns:
        scalar tensor.

    Example:
        >>> logp = torch.tensor([[-1.0, -1.0, 0.0], [-3.0, 0.0, 0.0]])
        >>> mask = torch.tensor([[1, 1, 0], [1, 0, 0]])  # completions of 2 tokens and of 1 token
        >>> advantages = torch.tensor([1.0, -1.0])
        >>> policy_gradient_loss(logp, advantages, mask, "token")  # -(-2 + 3) / 3
        tensor(-0.3333)
        >>> policy_gradient_loss(logp, advantages, mask, "sequence")  # -(-2 / 2 + 3 / 1) / 2
        tensor(-1.)
    """
    mask = mask.to(logp.dtype)
    weighted = advantages.detach()[:, None] * logp * mask  # (B, T)
    if normalization == "token":
        return -weighted.sum() / mask.sum().clamp_min(1.0)
    if normalization == "sequence":
        return -(weighted.sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)).mean()
    raise ValueError(f"normalization must be 'token' or 'sequence', not {normalization!r}")


def kl_estimate(logp, ref_logp, mask, estimator="k3"):
    """Per-token estimates of ``KL(pi || pi_ref)`` from tokens sampled from ``pi``.

    With ``r = pi_ref(token) / pi(token)`` (so ``log r = ref_logp - logp``):

    * ``"k1"``: ``-log r = logp - ref_logp`` (unbiased, can be negative, high variance),
    * ``"k3"``: ``(r - 1) - log r`` (unbiased, never negative, lower variance).

    Args:
        logp, ref_logp: (B, T) token log-probabilities under the policy and the frozen reference.
        mask: (B, T) 1 on completion tokens.
        estimator: ``"k1"`` or ``"k3"``.

    Returns:
        (B, T) tensor, 0 where ``mask`` is 0.

    Example:
        >>> logp, ref_logp = torch.tensor([[0.5, 0.25]]).log(), torch.tensor([[0.25, 0.5]]).log()
        >>> kl_estimate(logp, ref_logp, torch.ones(1, 2), "k1")  # log 2 and -log 2
        tensor([[ 0.6931, -0.6931]])
        >>> kl_estimate(logp, ref_logp, torch.ones(1, 2), "k3")  # r = 1/2 and r = 2: both positive
        tensor([[0.1931, 0.3069]])
    """
    log_ratio = ref_logp - logp  # log r
    if estimator == "k1":
        kl = -log_ratio
    elif estimator == "k3":
        kl = torch.exp(log_ratio) - 1 - log_ratio
    else:
        raise ValueError(f"estimator must be 'k1' or 'k3', not {estimator!r}")
    return kl * mask.to(kl.dtype)


def clipped_surrogate_loss(logp, old_logp, advantages, mask, clip_eps=0.2):
    """PPO's clipped objective, per token, averaged over the completion tokens of the batch (negated).

    With ``ratio = exp(logp - old_logp)`` per token and ``A_b`` the row's advantage, each token
    contributes ``min(ratio * A_b, clip(ratio, 1 - eps, 1 + eps) * A_b)``; the loss is minus the sum
    over completion tokens divided by their number.

    Args:
        logp: (B, T) token log-probabilities under the current policy (differentiable).
        old_logp: (B, T) the same under the policy that sampled the batch (constant).
        advantages: (B,) one per completion, or (B, T) one per token (Chapter 6's GAE).
        mask: (B, T) 1 on completion tokens.
        clip_eps: the clip range.

    Returns:
        scalar tensor; when ``logp == old_logp`` its gradient is that of :func:`policy_gradient_loss`
        (token normalisation): one update per batch is plain REINFORCE.

    Example:
        >>> logp = torch.tensor([[1.5, 0.5]]).log()  # ratios 1.5 and 0.5 against old_logp = 0
        >>> clipped_surrogate_loss(logp, torch.zeros(1, 2), torch.tensor([1.0]), torch.ones(1, 2))
        tensor(-0.8500)

        With ``A = 1`` the tokens contribute ``min(1.5, 1.2) = 1.2`` and ``min(0.5, 0.8) = 0.5``: the
        clip caps what a step can gain, never what it can lose.
    """
    mask = mask.to(logp.dtype)
    ratio = torch.exp(logp - old_logp.detach())  # (B, T)
    A = advantages.detach()
    A = A[:, None] if A.dim() == 1 else A  # (B, 1) or (B, T)
    objective = torch.minimum(ratio * A, torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * A)
    return -(objective * mask).sum() / mask.sum().clamp_min(1.0)
