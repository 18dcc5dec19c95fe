"""Batches and a plain training loop for next-token prediction (used by the checkpoint script and by
the chapters' supervised fine-tuning runs)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from rlcourse.lm import gpt2


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


def masked_lm_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """:func:`causal_lm_loss` of a GPT-2 language model on a :func:`pad_batch` batch, the same number
    computed faster: the last block's attention output and MLP, the language-model head and the softmax
    over the vocabulary run only at the positions whose next token counts (:func:`gpt2.last_block_at`)."""
    targets = batch["input_ids"].masked_fill(batch["loss_mask"] == 0, -100)[:, 1:]  # (B, T-1): token t+1
    rows, cols = (targets != -100).nonzero(as_tuple=True)                          # is predicted at t
    body = model.base_model
    x = gpt2.run_blocks(body, batch["input_ids"], batch["attention_mask"], blocks=len(body.h) - 1)  # (B, T, D)
    if len(rows) == 0:  # no target at all: a mean over nothing
        return x.sum() * 0.0
    logits = model.get_output_embeddings()(gpt2.last_block_at(body, x, batch["attention_mask"], rows, cols))  # (n, V)
    return torch.nn.functional.cross_entropy(logits, targets[rows, cols])


def train(model, next_batch: Callable[[np.random.Generator], dict], steps: int, lr: float, seed: int,
          warmup: int = 20, log_every: int = 50, weight_decay: float = 0.01,
          until: Callable[[int], bool] | None = None, check_every: int = 25) -> list[float]:
    """AdamW with a linear warm-up, then a constant learning rate; returns the loss of every step.

    ``next_batch(rng)`` returns a dict from :func:`pad_batch`; the loss is :func:`causal_lm_loss` on its
    ``loss_mask`` (computed by :func:`masked_lm_loss`). With ``until``, training stops early
    after the first multiple of ``check_every`` steps at which ``until(step)`` is true.
    """
    rng = np.random.default_rng(seed)
    # foreach: the same numbers as the loop over the parameters PyTorch picks on CPU, in fewer kernel calls
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, foreach=True)

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))
    model.train()
    losses = []
    for step in range(steps):
        batch = next_batch(rng)
        loss = masked_lm_loss(model, batch)
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
