"""Sampling groups of completions for RL on a chat model: the batch every policy-gradient step needs."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rlcourse.lm import gpt2
from rlcourse.lm.chat import prompt_text
from rlcourse.lm.decoding import generate


@dataclass
class Rollouts:
    """``N`` prompts with ``K`` sampled completions each, ``B = N * K`` rows, prompt after prompt.

    A row is the left-padded prompt followed by its completion (right-padded after ``<|eos|>``); the
    completions' part is as wide as the longest completion of the batch.
    """

    input_ids: torch.Tensor
    """(B, T) token ids."""
    attention_mask: torch.Tensor
    """(B, T) 1 on real tokens (prompt and completion), 0 on padding."""
    position_ids: torch.Tensor
    """(B, T) positions counted from each row's first real token (as during sampling)."""
    mask: torch.Tensor
    """(B, T) 1 on the completion's tokens, up to and including ``<|eos|>``."""
    replies: list[str]
    """(B,) the completions as text, special tokens removed."""
    group_size: int
    """K."""
    prompt_length: int
    """Columns of ``input_ids`` that hold the (left-padded) prompts; the completions follow."""

    def forward_logits(self, model) -> torch.Tensor:
        """(B, T, V) logits of ``model`` on these rows, with the positions used when sampling.

        The ``K`` rows of a group share their prompt, so the prompt is run once per group and its
        keys and values are repeated for the ``K`` completions: the same logits as one pass over all
        rows (up to float rounding), differentiable, for about half the computation.
        """
        K, P = self.group_size, self.prompt_length
        cache = gpt2.Cache()  # gpt2.lm_logits: the same numbers as model(...), with less overhead
        prompt = gpt2.lm_logits(model, self.input_ids[::K, :P], self.attention_mask[::K, :P],
                                self.position_ids[::K, :P], cache)
        cache.batch_repeat_interleave(K)  # (N, ...) -> (N * K, ...), group after group
        rest = gpt2.lm_logits(model, self.input_ids[:, P:], self.attention_mask, self.position_ids[:, P:], cache)
        return torch.cat([prompt.repeat_interleave(K, dim=0), rest], dim=1)


def sample_groups(model, tokenizer, questions: list[str], group_size: int, max_new_tokens: int,
                  temperature: float = 1.0, generator: torch.Generator | None = None) -> Rollouts:
    """Sample ``group_size`` completions of every question in the chat format (KV-cached, batched)."""
    enc = tokenizer([prompt_text(q) for q in questions], return_tensors="pt", padding=True,
                    add_special_tokens=False)  # (N, P), left-padded
    new = generate(model, enc["input_ids"], enc["attention_mask"], max_new_tokens, temperature, None, generator,
                   eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                   num_samples=group_size)  # (N * K, max_new)
    enc = {k: v.repeat_interleave(group_size, dim=0) for k, v in enc.items()}  # (B, P), group after group
    eos = tokenizer.eos_token_id
    # A completion's tokens: everything up to and including its first <|eos|> (all of it if none).
    after_eos = torch.cumsum((new == eos).long(), dim=1) - (new == eos).long() > 0  # strictly after the eos
    completion = (~after_eos).long()
    width = int(completion.sum(dim=1).max())  # columns that hold no row's completion are padding only:
    new, completion = new[:, :width], completion[:, :width]  # every pass over the batch skips them
    input_ids = torch.cat([enc["input_ids"], new], dim=1)
    attention_mask = torch.cat([enc["attention_mask"], completion], dim=1)
    mask = torch.cat([torch.zeros_like(enc["input_ids"]), completion], dim=1)
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    replies = tokenizer.batch_decode(new, skip_special_tokens=True)  # generate() pads after <|eos|>
    return Rollouts(input_ids, attention_mask, position_ids, mask, replies, group_size, enc["input_ids"].shape[1])
