"""Batches and a plain training loop for next-token prediction (used by the checkpoint script and by
the chapters' supervised fine-tuning runs)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch



def causal_lm_loss(logits: torch.Tensor, input_ids: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """Chapter 4's ``next_token_loss`` restricted to the tokens where ``loss_mask`` is 1 (SFT trains on
    the assistant's reply only). logits (B, T, V), input_ids and loss_mask (B, T); 0 if nothing counts.

    The tokens that do not count get cross-entropy's ``ignore_index`` (-100) as their target, so the
    mean runs over the counted predictions only.
    """
    targets = input_ids.masked_fill(loss_mask == 0, -100)  # (B, T)
    if not (targets[:, 1:] != -100).any():  # no target at all: a mean over nothing
        return logits.sum() * 0.0
    from rlcourse.reference.ch04_assistant import next_token_loss  # on first use (see rlcourse.lm)

    return next_token_loss(logits, targets)


def document_tokens(tokenizer, text: str) -> list[int]:
    """``<|bos|>`` + the text's tokens + ``<|eos|>``: a pretraining document, whose every token is trained."""
    return [tokenizer.bos_token_id] + tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]


def pad_batch(sequences: list[list[int]], masks: list[list[int]], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Right-pad token lists into (B, T) tensors: input_ids, attention_mask and loss_mask."""
    T = max(len(s) for s in sequences)
    ids = np.full((len(sequences), T), pad_token_id, dtype=np.int64)  # filled in NumPy: a training step
    attn, loss = np.zeros_like(ids), np.zeros_like(ids)                 # builds one batch of short rows
    for i, (s, m) in enumerate(zip(sequences, masks)):
        ids[i, : len(s)], attn[i, : len(s)], loss[i, : len(m)] = s, 1, m
    return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(attn),
            "loss_mask": torch.from_numpy(loss)}


def train(model, next_batch: Callable[[np.random.Generator], dict], steps: int, lr: float, seed: int,
          warmup: int = 20, log_every: int = 50, weight_decay: float = 0.01,
          until: Callable[[int], bool] | None = None, check_every: int = 25) -> list[float]:
    """AdamW with a linear warm-up, then a constant learning rate; returns the loss of every step.

    ``next_batch(rng)`` returns a dict from :func:`pad_batch`. With ``until``, training stops early
    after the first multiple of ``check_every`` steps at which ``until(step)`` is true.
    """
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))
    model.train()
    losses = []
    for step in range(steps):
        batch = next_batch(rng)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        loss = causal_lm_loss(logits, batch["input_ids"], batch["loss_mask"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if log_every and (step + 1) % log_every == 0:
            print(f"step {step + 1:5d}  loss {np.mean(losses[-log_every:]):.4f}", flush=True)
        if until is not None and (step + 1) % check_every == 0:
            model.eval()
            stop = until(step + 1)
            model.train()
            if stop:
                break
    model.eval()
    return losses
