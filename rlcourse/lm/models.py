"""GPT-2 models built from a config, in sizes that train in seconds to minutes on a laptop CPU."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import GPT2Config, GPT2LMHeadModel


FAST_GELU = "gelu_pytorch_tanh"
"""GPT-2's GELU (``gelu_new``, tanh approximation) as one fused PyTorch kernel; checkpoints load with it too."""


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
    (``gelu_pytorch_tanh``): the same function as transformers' ``gelu_new``, which builds it from
    five tensor operations in Python and took about 15% of a PPO step.

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
    return model


def count_parameters(model: torch.nn.Module) -> int:
    """Number of distinct parameters (tied weights counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
