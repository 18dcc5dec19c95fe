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


# ----- Chapter 3: outputs that live in gradients and in updated parameters ------------------------
@adapter("logp_and_grad")
def _logp_and_grad(fn, args):
    """The log-probabilities, and their gradient w.r.t. the logits (a policy update needs both)."""
    import torch

    logits = args["logits"].clone().requires_grad_(True)
    logp = fn(logits, args["actions"])
    if not torch.is_tensor(logp):
        raise TypeError(f"expected a torch tensor, got {type(logp).__name__}; stay in torch so gradients flow")
    grad = _grad_or_zeros(logp.sum(), logits)
    return {"logp": logp.detach(), "gradient of logp.sum() w.r.t. logits": grad}


@adapter("loss_and_grad")
def _loss_and_grad(fn, args):
    """The loss, and its gradient w.r.t. ``logp`` (what ``loss.backward()`` sends to the policy)."""
    import torch

    logp = args["logp"].clone().requires_grad_(True)
    loss = torch.as_tensor(fn(**{**args, "logp": logp}))
    if loss.ndim != 0:
        raise ValueError(f"the loss should be a scalar tensor, got shape {tuple(loss.shape)}")
    return {"loss": loss.detach(), "gradient of the loss w.r.t. logp": _grad_or_zeros(loss, logp)}


@adapter("policy_update")
def _policy_update(fn, args):
    """Parameters after one call, with plain SGD and stale gradients left by an earlier step."""
    import torch

    policy = args["policy"]
    optimizer = torch.optim.SGD(policy.parameters(), lr=args["lr"])
    for p in policy.parameters():  # as after an earlier update in a training loop
        p.grad = torch.full_like(p, 0.5)
    fn(policy, optimizer, args["obs"], args["actions"], args["rewards"])
    return torch.nn.utils.parameters_to_vector(policy.parameters()).detach()


def _grad_or_zeros(out, wrt):
    """d out / d wrt, or zeros when ``out`` does not depend on ``wrt`` through autograd (e.g. detached)."""
    import torch

    if not out.requires_grad:
        return torch.zeros_like(wrt)
    (grad,) = torch.autograd.grad(out, wrt, allow_unused=True)
    return torch.zeros_like(wrt) if grad is None else grad


# ----- Chapter 4: functions of a random generator and of a tokenizer -----------------------------
@adapter("seeded_sampler")
def _seeded_sampler(fn, args):
    """Tokens drawn with ``torch.Generator().manual_seed(args["seed"])``; the global generator is set
    to another seed first, so an answer that ignores ``generator`` draws different tokens."""
    import torch

    state = torch.random.get_rng_state()
    torch.manual_seed(args["seed"] + 1)
    try:
        return fn(args["logits"], args["temperature"], args["top_k"], torch.Generator().manual_seed(args["seed"]))
    finally:
        torch.random.set_rng_state(state)


@adapter("char_chat_tokens")
def _char_chat_tokens(fn, args):
    """Call ``fn(tokenizer, user, assistant)`` with a character-level tokenizer over ``args["alphabet"]``."""
    from rlcourse.lm.tokenizers import char_tokenizer

    ids, mask = fn(char_tokenizer(args["alphabet"]), args["user"], args["assistant"])
    return {"ids": [int(i) for i in ids], "mask": [int(m) for m in mask]}


# ----- Chapter 5: outputs whose gradient matters -------------------------------------------------
@adapter("output_and_grad_logits")
def _output_and_grad_logits(fn, args):
    """The output, and the gradient of ``output.sum()`` w.r.t. ``args["logits"]``."""
    import torch

    logits = args["logits"].clone().requires_grad_(True)
    out = fn(**{**args, "logits": logits})
    if not torch.is_tensor(out):
        raise TypeError(f"expected a torch tensor, got {type(out).__name__}; stay in torch so gradients flow")
    return {"output": out.detach(), "gradient of output.sum() w.r.t. logits": _grad_or_zeros(out.sum(), logits)}


# ----- Chapter 6: losses whose gradient w.r.t. an input matters -----------------------------------
def _loss_and_grads(fn, args, wrt: tuple[str, ...]):
    """The loss, and its gradient w.r.t. each argument named in ``wrt``."""
    import torch

    leaves = {k: args[k].clone().requires_grad_(True) for k in wrt}
    loss = fn(**{**args, **leaves})
    if not torch.is_tensor(loss):
        raise TypeError(f"expected a torch tensor, got {type(loss).__name__}; stay in torch so gradients flow")
    if loss.ndim != 0:
        raise ValueError(f"the loss should be a scalar tensor, got shape {tuple(loss.shape)}")
    names = list(leaves)
    grads = [torch.zeros_like(leaves[k]) for k in names]
    if loss.requires_grad:
        found = torch.autograd.grad(loss, [leaves[k] for k in names], allow_unused=True)
        grads = [g if f is None else f for g, f in zip(grads, found)]
    return {"loss": loss.detach(), **{f"gradient of the loss w.r.t. {k}": g for k, g in zip(names, grads)}}


@adapter("loss_and_grad_rewards")
def _loss_and_grad_rewards(fn, args):
    return _loss_and_grads(fn, args, ("rewards",))


@adapter("loss_and_grad_values")
def _loss_and_grad_values(fn, args):
    return _loss_and_grads(fn, args, ("values",))


@adapter("loss_and_grad_policy_logps")
def _loss_and_grad_policy_logps(fn, args):
    return _loss_and_grads(fn, args, ("logp_w", "logp_l"))


@adapter("with_infinities")
def _with_infinities(fn, args):
    """The output with its infinite entries apart: JSON, which carries a graded kernel's outputs to the
    grader, has no infinity."""
    import torch

    out = fn(**args)
    if not torch.is_tensor(out):
        raise TypeError(f"expected a torch tensor, got {type(out).__name__}")
    infinite = torch.isinf(out)
    return {"the finite entries (0 where infinite)": torch.where(infinite, torch.zeros_like(out), out),
            "the sign of the infinite entries (0 where finite)": (torch.sign(out) * infinite).to(torch.int64)}
