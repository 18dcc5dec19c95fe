"""Sampling from a causal language model, batched, with a KV cache and a local random generator."""

from __future__ import annotations

import torch

from rlcourse.lm import gpt2


@torch.no_grad()
def generate(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, max_new_tokens: int,
             temperature: float = 1.0, top_k: int | None = None, generator: torch.Generator | None = None,
             eos_token_id: int = 2, pad_token_id: int = 0, num_samples: int = 1) -> torch.Tensor:
    """Continue a batch of left-padded prompts until ``<|eos|>`` or ``max_new_tokens``.

    The prompt is read once; each new token then costs one forward pass of length 1 that reuses the
    cached keys and values of all earlier positions.

    Args:
        model: a causal LM (e.g. ``GPT2LMHeadModel``).
        input_ids: (B, T) prompt token ids, left-padded.
        attention_mask: (B, T), 0 on padding.
        max_new_tokens: most tokens to add per row.
        temperature: 0 for greedy decoding.
        top_k: sample only among the k most likely tokens (``None``: all).
        generator: local ``torch.Generator`` for sampling (seeded by the caller).
        num_samples: continuations of each prompt; the prompt is read once and its cache repeated.

    Returns:
        (B * num_samples, max_new_tokens) new token ids, the samples of a prompt in consecutive rows;
        after a row's ``<|eos|>`` come ``pad_token_id``.
    """
    from rlcourse.reference.ch04_assistant import sample_token  # on first use (see rlcourse.lm)

    cache = gpt2.Cache()  # the keys and values of every position so far

    def forward(input_ids, attention_mask, position_ids):  # model(...)'s logits at the last position, faster
        return gpt2.lm_logits(model, input_ids, attention_mask, position_ids, cache)[:, -1]

    position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)  # (B, T) left padding shifts positions
    logits = forward(input_ids, attention_mask, position_ids)  # (B, V)
    if num_samples > 1:
        cache.batch_repeat_interleave(num_samples)
        logits, attention_mask, position_ids = (x.repeat_interleave(num_samples, dim=0)
                                                for x in (logits, attention_mask, position_ids))
    B = logits.shape[0]
    position = position_ids[:, -1:]  # (B, 1)
    done = torch.zeros(B, dtype=torch.bool)
    new_tokens = torch.full((B, max_new_tokens), pad_token_id, dtype=torch.long)
    for t in range(max_new_tokens):
        token = sample_token(logits, temperature, top_k, generator)  # Chapter 4's exercise
        token = torch.where(done, torch.full_like(token, pad_token_id), token)
        new_tokens[:, t] = token
        done |= token == eos_token_id
        if done.all() or t == max_new_tokens - 1:
            break
        attention_mask = torch.cat([attention_mask, torch.ones(B, 1, dtype=attention_mask.dtype)], dim=1)
        position = position + 1
        logits = forward(token[:, None], attention_mask, position)
    return new_tokens
