"""GPT-2 models built from a config, in sizes that train in seconds to minutes on a laptop CPU."""

from __future__ import annotations

import math
import platform

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel


FAST_GELU = "gelu_pytorch_tanh"
"""GPT-2's GELU (``gelu_new``, tanh approximation) as one fused PyTorch kernel; checkpoints load with it too."""

GENERIC_CPU_KERNELS = (torch.backends.cpu.get_cpu_capability() == "DEFAULT"
                       and platform.machine().lower() in ("x86_64", "amd64", "i386", "i686"))
"""Whether PyTorch runs its generic CPU kernels on this x86 machine (a CPU without AVX2, or
``ATEN_CPU_CAPABILITY=default``), where its fused tanh-GELU kernel is about four times slower than the
same function composed of plain tensor operations (:class:`GELUTanh`)."""


class _ComposedGELUTanh(torch.autograd.Function):
    """GPT-2's GELU, 0.5 x (1 + tanh(c (x + a x^3))), and its derivative, in plain tensor operations."""

    C, A = math.sqrt(2 / math.pi), 0.044715

    @staticmethod
    def forward(ctx, x):
        c, a = _ComposedGELUTanh.C, _ComposedGELUTanh.A
        t = torch.tanh((x * x).mul_(a).add_(1.0).mul_(x).mul_(c))
        ctx.save_for_backward(x, t)
        return (t + 1.0).mul_(x).mul_(0.5)

    @staticmethod
    @torch.autograd.function.once_differentiable  # a second derivative raises instead of being wrong
    def backward(ctx, grad):
        c, a = _ComposedGELUTanh.C, _ComposedGELUTanh.A
        x, t = ctx.saved_tensors
        # d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 a x^2)
        slope = (1.0 - t * t).mul_((x * x).mul_(3 * a).add_(1.0)).mul_(x).mul_(0.5 * c).add_(t.mul(0.5)).add_(0.5)
        return grad * slope


class GELUTanh(nn.Module):
    """GPT-2's GELU (tanh approximation), as fast as this machine computes it.

    PyTorch's fused kernel (``F.gelu(x, approximate="tanh")``, what transformers' ``gelu_pytorch_tanh``
    runs), except on CPU tensors where PyTorch runs its generic kernels (:data:`GENERIC_CPU_KERNELS`):
    there the composed function takes a quarter of the time (5 against 22 ms forward and backward on a
    1088 x 512 activation; ``bench/where_ppo_time_goes.py``). The two differ by rounding only (within
    3e-7 in float32, the course's precision), and which one runs depends on the machine alone, so a run
    gives the same numbers every time on one machine.

    Example:
        >>> x = torch.linspace(-3, 3, 7)
        >>> bool(torch.allclose(GELUTanh()(x), F.gelu(x, approximate="tanh"), atol=1e-6))
        True
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if GENERIC_CPU_KERNELS and x.device.type == "cpu":
            return _ComposedGELUTanh.apply(x)
        return F.gelu(x, approximate="tanh")


TANH_GELUS = (FAST_GELU, "gelu_new")
"""transformers' names of GPT-2's GELU (tanh approximation): the activations :func:`use_fast_gelu` replaces."""


def use_fast_gelu(model: nn.Module) -> nn.Module:
    """Give every GPT-2 MLP block of ``model`` the :class:`GELUTanh` activation, if its config's activation
    is GPT-2's tanh GELU (any other activation is left as it is); in place, returns ``model``."""
    from transformers.models.gpt2.modeling_gpt2 import GPT2MLP

    if getattr(getattr(model, "config", None), "activation_function", None) not in TANH_GELUS:
        return model
    for module in model.modules():
        if isinstance(module, GPT2MLP):
            module.act = GELUTanh()
    return model


@dataclass(frozen=True)
class GPTPreset:
    """Shape of a GPT-2 model (the vocabulary size comes from the tokenizer)."""

    n_layer: int
    """Transformer blocks."""
    n_embd: int
    """Width D of the residual stream."""
    n_head: int
    """Attention heads (D must be divisible by it)."""
    n_positions: int
    """Longest sequence the model can read, in tokens."""


PRESETS = {
    "nano": GPTPreset(n_layer=2, n_embd=128, n_head=4, n_positions=64),    # ~0.4M parameters
    "micro": GPTPreset(n_layer=4, n_embd=192, n_head=6, n_positions=128),  # ~1.8M parameters
}
"""Laptop-sized presets; ``nano`` is the one the chapters train."""


def build_gpt(vocab_size: int, preset: str | GPTPreset = "nano", seed: int = 0, pad_token_id: int = 0,
              bos_token_id: int = 1, eos_token_id: int = 2) -> GPT2LMHeadModel:
    """A freshly initialised GPT-2 language model (no download), seeded.

    Dropout is off: the models are small and the data is plentiful, and it keeps runs deterministic.
    The activation is GPT-2's tanh approximation of GELU computed by PyTorch's fused kernel
    (``gelu_pytorch_tanh``; :class:`GELUTanh`): the same function as transformers' ``gelu_new``, which
    builds it from five tensor operations in Python and took about 15% of a PPO step.

    Example:
        >>> model = build_gpt(vocab_size=20, preset="nano", seed=0)
    """
    p = PRESETS[preset] if isinstance(preset, str) else preset
    config = GPT2Config(vocab_size=vocab_size, n_positions=p.n_positions, n_embd=p.n_embd, n_layer=p.n_layer,
                        n_head=p.n_head, activation_function=FAST_GELU, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id)
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # transformers initialises from the global generator; restore it afterwards
    try:
        model = GPT2LMHeadModel(config)
    finally:
        torch.random.set_rng_state(state)
    return use_fast_gelu(model)


def count_parameters(model: torch.nn.Module) -> int:
    """Number of distinct parameters (tied weights counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
