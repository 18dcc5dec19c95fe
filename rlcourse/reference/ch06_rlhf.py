"""Chapter 6's reference implementations that the RLHF loops (``rlcourse.lm.reward_model``,
``rlcourse.lm.ppo``, ``rlcourse.lm.dpo``), Chapter 7 and the benchmark reuse; ``python -m autograde
sync`` copies them into the chapter's solution cells.

Shapes follow Chapter 5 (``rlcourse.reference.ch05_rlvr``): ``B`` rows, each a left-padded prompt and
its reply, ``T`` tokens; ``mask`` is 1 on the reply's tokens (up to and including ``<|eos|>``);
per-token quantities are aligned with the token they belong to (``logp[:, t]`` scores token ``t``,
``values[:, t]`` is the value of the state in which token ``t`` is chosen). A reward model's batch
holds ``N`` prompts with ``K`` replies each.
"""

import torch
import torch.nn.functional as F


def ranking_loss(rewards, ranking):
    """InstructGPT's reward-model loss: every pair of one prompt's ranked replies, as one batch element.

    For prompt ``i`` with ``K_i`` ranked replies, the loss is the mean over its ``C(K_i, 2)`` pairs of
    ``-log sigmoid(r(x, y_w) - r(x, y_l))``, where ``y_w`` is ranked above ``y_l``; the batch's loss is
    the mean of the prompts' losses (each prompt weighs the same, however many replies it has).

    Args:
        rewards: (N, K) float tensor, the reward model's score of reply ``k`` of prompt ``i``.
        ranking: (N, K) int64 tensor; row ``i`` lists the indices of prompt ``i``'s replies from best
            to worst. A prompt with fewer than ``K`` replies ends its row with ``-1`` (padding); the
            matching columns of ``rewards`` are then ignored.

    Returns:
        scalar tensor, differentiable w.r.t. ``rewards``.

    Example:
        >>> ranking_loss(torch.tensor([[0.0, 1.0]]), torch.tensor([[1, 0]]))  # -log sigmoid(1)
        tensor(0.3133)
    """
    valid = ranking >= 0  # (N, K)
    ranked = rewards.gather(1, ranking.clamp(min=0))  # (N, K): scores, best first
    margin = ranked[:, :, None] - ranked[:, None, :]  # (N, K, K): r(y_a) - r(y_b)
    K = rewards.shape[1]
    better = torch.ones(K, K, dtype=torch.bool).triu(diagonal=1)  # a < b: y_a is ranked above y_b
    pairs = (better & valid[:, :, None] & valid[:, None, :]).to(rewards.dtype)  # (N, K, K)
    per_pair = -F.logsigmoid(margin) * pairs  # log sigmoid computed stably, never log(0)
    return (per_pair.sum(dim=(1, 2)) / pairs.sum(dim=(1, 2))).mean()


def shaped_rewards(score, logp, ref_logp, mask, beta):
    """InstructGPT's per-token reward: a KL penalty at every reply token, the reward model's score at
    the last one.

    ``rewards[b, t] = -beta * (logp[b, t] - ref_logp[b, t])`` on the reply's tokens, plus ``score[b]``
    at the row's last reply token (its ``<|eos|>``, or the last token of a reply that was cut off);
    0 on the prompt and the padding. Summed over a reply, the penalty is ``-beta`` times the
    sampled estimate of ``log pi(y|x) - log pi_SFT(y|x)``.

    Args:
        score: (B,) the reward model's score of each reply.
        logp, ref_logp: (B, T) token log-probabilities under the policy and the SFT model.
        mask: (B, T) 1 on reply tokens (every row has at least one).
        beta: the KL coefficient.

    Returns:
        (B, T) tensor (no gradient is needed: it is a reward).

    Example:
        >>> shaped_rewards(torch.tensor([2.0]), torch.tensor([[0.0, -1.0, -1.0, 0.0]]),
        ...                torch.tensor([[0.0, -2.0, -1.0, 0.0]]), torch.tensor([[0, 1, 1, 0]]), beta=0.5)
        tensor([[ 0.0000, -0.5000,  2.0000,  0.0000]])
    """
    mask = mask.to(logp.dtype)
    rewards = beta * (ref_logp - logp) * mask  # (B, T): the per-token KL penalty, -beta (logp - ref_logp)
    positions = torch.arange(mask.shape[1], dtype=logp.dtype)  # (T,)
    last = (mask * (positions + 1)).argmax(dim=1)  # (B,) the row's last reply token
    rewards[torch.arange(mask.shape[0]), last] += score
    return rewards


def gae(rewards, values, mask, gamma=1.0, lam=0.95):
    """Generalised advantage estimation (Schulman et al., 2016) over replies of different lengths.

    With ``delta_t = r_t + gamma * V_{t+1} - V_t`` and ``V`` after a reply's last token taken as 0
    (the episode has ended), ``A_t = delta_t + gamma * lam * A_{t+1}``, computed backwards over each
    reply's own tokens only: what lies after a reply (padding) adds nothing, whatever ``values``
    holds there. The returns, the value function's targets, are ``A_t + V_t``.

    Args:
        rewards: (B, T) per-token rewards (e.g. :func:`shaped_rewards`).
        values: (B, T) the value function's estimates, aligned with the tokens.
        mask: (B, T) 1 on reply tokens (a contiguous run per row).
        gamma: discount (InstructGPT: 1).
        lam: GAE's lambda (0: one-step TD error; 1: Monte Carlo return minus ``V``).

    Returns:
        ``(advantages, returns)``, two (B, T) tensors, 0 where ``mask`` is 0.

    Example:
        >>> adv, ret = gae(torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([[0.0, 0.5, 0.5]]),
        ...                torch.tensor([[0, 1, 1]]), gamma=1.0, lam=1.0)
        >>> adv, ret
        (tensor([[0.0000, 0.5000, 0.5000]]), tensor([[0., 1., 1.]]))
    """
    mask = mask.to(rewards.dtype)
    advantages = torch.zeros_like(rewards)
    next_value = torch.zeros_like(rewards[:, 0])  # (B,) V of the next state; 0 after the last token
    next_advantage = torch.zeros_like(rewards[:, 0])  # (B,)
    for t in reversed(range(rewards.shape[1])):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        next_advantage = (delta + gamma * lam * next_advantage) * mask[:, t]
        next_value = values[:, t] * mask[:, t]
        advantages[:, t] = next_advantage
    returns = (advantages + values) * mask
    return advantages, returns


def clipped_value_loss(values, old_values, returns, mask, clip_eps=0.2):
    """PPO's clipped value loss: the value function may not move more than ``clip_eps`` from its old
    estimate for free.

    A token's plain loss is ``0.5 * (values - returns)^2``. Within ``clip_eps`` of ``old_values`` that
    is its loss. Further out, the extra distance may cost but never pay: a value that has moved past
    the edge of the range ``old_values -/+ clip_eps`` towards its return, and that is still no closer
    to it than the edge, is charged the error it would have at the edge, and gets no gradient (one
    batch cannot buy more than ``clip_eps`` of improvement); a value that has moved past the edge away
    from its return, or so far towards it that it is now further from the return than the edge is, is
    charged its own error, gradient and all. Work out what each of these cases charges, find the short
    form that covers them all, then average over the reply tokens of the batch.

    Args:
        values: (B, T) the value function's current estimates (differentiable).
        old_values: (B, T) its estimates when the batch was sampled (constant).
        returns: (B, T) the targets (from :func:`gae`).
        mask: (B, T) 1 on reply tokens.
        clip_eps: how far a value may move before the clipped term takes over.

    Returns:
        scalar tensor.

    Example:
        >>> # old value 0, return 1: inside the range, past the edge towards 1, away from 1, overshooting
        >>> clipped_value_loss(torch.tensor([[0.1, 0.5, -0.5, 2.0]]), torch.zeros(1, 4), torch.ones(1, 4),
        ...                    torch.ones(1, 4), clip_eps=0.2)  # 0.5 * (0.81 + 0.64 + 2.25 + 1.0) / 4
        tensor(0.5875)
    """
    mask = mask.to(values.dtype)
    old_values = old_values.detach()
    clipped = old_values + torch.clamp(values - old_values, -clip_eps, clip_eps)  # (B, T)
    loss = 0.5 * torch.maximum((values - returns) ** 2, (clipped - returns) ** 2)
    return (loss * mask).sum() / mask.sum().clamp_min(1.0)


def ptx_loss(rl_loss, pretrain_logp, pretrain_mask, ptx_coef):
    """The PPO-ptx loss: the RL loss of a step, with InstructGPT's pretraining term added.

    InstructGPT maximises ``E[r(x, y) - beta log(pi(y|x) / pi_SFT(y|x))] + gamma E_pretrain[log pi(x)]``.
    Turn the pretraining term into a loss to minimise alongside ``rl_loss`` (which already has its
    sign), estimated from a padded batch of pretraining documents of different lengths. Measure it as
    the policy's pretraining loss measured it, per token: every real token of the batch counts once,
    whichever document it is in, so that ``ptx_coef`` (InstructGPT's gamma) means the same whatever
    the documents' lengths and the batch size. Before you write it, work out what the two documents of
    the example give, and what you would get by averaging within each document first.

    Args:
        rl_loss: scalar tensor, the PPO loss of the step.
        pretrain_logp: (B, T) token log-probabilities of pretraining documents under the policy.
        pretrain_mask: (B, T) 1 on the documents' predicted tokens, 0 on padding.
        ptx_coef: the pretraining coefficient (InstructGPT's gamma).

    Returns:
        scalar tensor.

    Example:
        >>> logp = torch.tensor([[-1.0, -1.0, -1.0], [-2.0, 0.0, 0.0]])  # three tokens, then one
        >>> ptx_loss(torch.tensor(2.0), logp, torch.tensor([[1, 1, 1], [1, 0, 0]]), 0.5)
        tensor(2.6250)
    """
    pretrain_mask = pretrain_mask.to(pretrain_logp.dtype)
    mean_logp = (pretrain_logp * pretrain_mask).sum() / pretrain_mask.sum().clamp_min(1.0)
    return rl_loss - ptx_coef * mean_logp


def dpo_loss(logp_w, logp_l, ref_logp_w, ref_logp_l, beta=0.1):
    """Direct preference optimisation (Rafailov et al., 2023): the reward model's loss, with the policy
    itself as the reward model.

    The policy defines an implicit reward for every reply, ``beta * log(pi(y|x) / pi_ref(y|x))``
    (the KL-regularised optimum read backwards, without the ``beta * log Z(x)`` that two replies to the
    same prompt share). DPO fits that reward to the labels exactly as Exercise 6.1 fitted a reward
    model: return the mean over the batch's pairs of the negative log-likelihood, under the
    Bradley-Terry model, of the label "``y_w`` is preferred to ``y_l``". Stay finite when the policy
    has moved far from the reference.

    Args:
        logp_w, logp_l: (B,) log-probabilities of the preferred and the rejected reply under the policy
            (summed over their tokens; differentiable).
        ref_logp_w, ref_logp_l: (B,) the same under the frozen reference (SFT) model.
        beta: strength of the implicit KL constraint (the paper's default 0.1).

    Returns:
        scalar tensor.

    Example:
        >>> dpo_loss(torch.tensor([-1.0]), torch.tensor([-3.0]), torch.tensor([-2.0]), torch.tensor([-2.0]), 1.0)
        tensor(0.1269)
    """
    implicit_w = beta * (logp_w - ref_logp_w)  # (B,)
    implicit_l = beta * (logp_l - ref_logp_l)
    return -F.logsigmoid(implicit_w - implicit_l).mean()


def best_of_n_kl_exact(probs, scores, n):
    """The KL divergence of best-of-``n`` sampling from the policy it samples, computed exactly.

    A policy ``pi`` gives outcome ``a`` (a reply) the probability ``probs[a]``; a reward model gives
    it the score ``scores[a]``. Best-of-``n`` draws ``n`` outcomes from ``pi`` independently and
    returns the draw with the highest score; when several draws share the highest score, it returns
    one of those draws picked uniformly at random (so it cannot prefer one of two outcomes that score
    the same). Return ``KL(pi_bon || pi)``, in nats, where ``pi_bon`` is the distribution of what
    best-of-``n`` returns.

    Derive ``pi_bon`` on paper first (the chance that all ``n`` draws score at most ``s`` is a good
    place to start), then its KL from ``pi``. Use your result to predict the examples below before you
    run them, and check it against ``log n - (n - 1) / n``, the value Gao et al. use: when does your
    answer reach it? The answer must stay finite when ``n`` is in the hundreds and some outcomes are
    rare.

    Args:
        probs: (A,) float tensor, the probability of each outcome under ``pi`` (all > 0, summing to 1).
        scores: (A,) float tensor, each outcome's score; outcomes may share a score.
        n: the number of draws (>= 1).

    Returns:
        float, ``KL(pi_bon || pi)`` in nats.

    Example:
        >>> best_of_n_kl_exact(torch.tensor([0.25, 0.75]), torch.tensor([0.0, 0.0]), 8)  # a tie
        0.0
        >>> round(best_of_n_kl_exact(torch.tensor([0.5, 0.5]), torch.tensor([0.0, 1.0]), 2), 4)
        0.1308
    """
    levels, level = torch.unique(scores, return_inverse=True)  # ascending score levels; each outcome's level
    p_level = torch.zeros(len(levels), dtype=probs.dtype).index_add_(0, level, probs)  # (L,) P(score = s)
    at_most = torch.cumsum(p_level, dim=0)  # (L,) P(score <= s)
    below = torch.cat([at_most.new_zeros(1), at_most[:-1]])  # (L,) P(score < s)
    p_bon = at_most ** n - below ** n  # (L,) P(the best of n draws scores s)
    # Within a level best-of-n keeps pi's proportions (a tie goes to a random draw), so the KL is the
    # KL between the two distributions over levels; xlogy makes a level that n draws never reach add 0.
    return float(torch.xlogy(p_bon, p_bon / p_level).sum())
