"""Batches and a plain training loop for next-token prediction (used by the checkpoint script; the
chapters write their loops out in the notebooks)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch


def causal_lm_loss(logits: torch.Tensor, input_ids: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of predicting token t+1 from tokens up to t, over positions where
    ``loss_mask[:, t+1]`` is 1. logits (B, T, V), input_ids and loss_mask (B, T)."""
    logits, targets, mask = logits[:, :-1], input_ids[:, 1:], loss_mask[:, 1:].float()  # shift by one
    nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                            reduction="none").view_as(mask)  # (B, T-1)
    return (nll * mask).sum() / mask.sum().clamp_min(1.0)


def pad_batch(sequences: list[list[int]], masks: list[list[int]], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Right-pad token lists into (B, T) tensors: input_ids, attention_mask and loss_mask."""
    T = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), T), pad_token_id, dtype=torch.long)
    attn, loss = torch.zeros_like(ids), torch.zeros_like(ids)
    for i, (s, m) in enumerate(zip(sequences, masks)):
        ids[i, : len(s)], attn[i, : len(s)], loss[i, : len(m)] = torch.tensor(s), 1, torch.tensor(m)
    return {"input_ids": ids, "attention_mask": attn, "loss_mask": loss}


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
