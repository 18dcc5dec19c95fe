"""The forward pass of the course's GPT-2 models without transformers' general machinery.

At the course's sizes (2 or 4 blocks of width 128 or 192, rows of a few dozen tokens) a pass is short, and
most of a decoding step of transformers' ``GPT2LMHeadModel`` is spent in Python around the arithmetic: argument
handling, mask construction, cache objects, output classes. :func:`run_blocks` performs the same tensor
operations in the same order, on the model's own parameters (the one difference: its cache keeps the
keys and values as the views the projection gives, where transformers' copies them on the first pass,
which changes no number), so it gives the same numbers to the last
bit (``tests/test_lm.py`` compares it with ``model(...)`` on batches with and without padding, with and
without a cache, with gradients) in less time: decoding, which runs one short pass per new token,
about 1.3 times as fast (a PPO run, bound by its arithmetic, only 5%). :func:`last_block_at` runs the
last block at chosen positions only, for the losses that read a few positions of each row (a reward
model's score, next-token prediction on a reply).

It covers what the course builds (:func:`rlcourse.lm.models.build_gpt`): self-attention through
PyTorch's ``scaled_dot_product_attention`` (transformers' default), no cross-attention, no dropout, no
gradient checkpointing. :func:`supports` says whether a model is of that kind; :func:`run_blocks` and
:func:`lm_logits` run any other model through ``model(...)`` instead, so callers need not ask. The lean
pass calls the blocks' layers directly, so hooks or adapters (e.g. LoRA) registered on a block, its
attention or its MLP would be skipped: the course registers none.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def supports(model) -> bool:
    """Whether :func:`run_blocks` reproduces ``model``: a GPT-2 transformer (or a language model or
    reward model around one) with SDPA attention, no cross-attention, no dropout and no gradient
    checkpointing."""
    from torch import nn
    from transformers import GPT2Model

    body = getattr(model, "transformer", getattr(model, "body", model))
    return (isinstance(body, GPT2Model) and body.config._attn_implementation == "sdpa"
            and not body.config.add_cross_attention and not body.gradient_checkpointing
            and all(m.p == 0 for m in body.modules() if isinstance(m, nn.Dropout)))


class Cache:
    """The keys and values of every position read so far: one ``(keys, values)`` pair of
    (B, heads, positions, head size) tensors per block, or, for a model :func:`supports` does not cover,
    transformers' own cache of it (``hf``)."""

    def __init__(self):
        self.layers: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.hf = None
        self.lean: bool | None = None
        """Whether the model this cache is for runs the lean pass: asked once, on the first pass (asking
        takes about 0.15 ms, a good part of a decoding step at the course's sizes)."""

    @property
    def length(self) -> int:
        return self.layers[0][0].shape[2] if self.layers else 0

    def batch_repeat_interleave(self, repeats: int) -> None:
        """Each row ``repeats`` times in a row (several continuations of one prompt), as transformers'
        ``DynamicCache.batch_repeat_interleave``."""
        if self.hf is not None:
            self.hf.batch_repeat_interleave(repeats)
        self.layers = {i: (k.repeat_interleave(repeats, dim=0), v.repeat_interleave(repeats, dim=0))
                       for i, (k, v) in self.layers.items()}


def _lean(model, cache: Cache | None) -> bool:
    """:func:`supports`, asked once per cache."""
    if cache is None:
        return supports(model)
    if cache.lean is None:
        cache.lean = supports(model)
    return cache.lean


def _attention_mask(attention_mask: torch.Tensor, T: int, past: int):
    """The mask and ``is_causal`` flag transformers gives SDPA. Without padding: no mask, and
    ``is_causal`` for several new positions without a cache (for one new position every earlier one is
    visible anyway). Otherwise (B, 1, T, past + T) booleans, causal and padding, and no ``is_causal``."""
    keep = attention_mask.bool()  # (B, past + T)
    if (T == 1 or past == 0) and bool(keep.all()):
        return None, T > 1
    positions = torch.arange(past + T, device=attention_mask.device)
    causal = positions[None, :] <= positions[past:, None]  # (T, past + T)
    return causal[None, None] & keep[:, None, None, :], False


def _linear(layer, x: torch.Tensor) -> torch.Tensor:
    """transformers' ``Conv1D``: ``x @ weight + bias`` as one ``addmm`` over the flattened rows."""
    return torch.addmm(layer.bias, x.view(-1, x.shape[-1]), layer.weight).view(*x.shape[:-1], -1)


def _attention(block, x: torch.Tensor, mask, is_causal: bool, cache: Cache | None = None, i: int = 0) -> torch.Tensor:
    """(B, T, D) the attention of ``block`` (its heads side by side, before the output projection) on the
    residual stream ``x`` (B, T, D); with a cache, after the keys and values of block ``i``'s earlier
    positions, which it extends in place with these."""
    B, T, _ = x.shape
    attn = block.attn
    q, k, v = _linear(attn.c_attn, block.ln_1(x)).split(attn.split_size, dim=2)
    q, k, v = (z.view(B, T, -1, attn.head_dim).transpose(1, 2) for z in (q, k, v))  # (B, H, T, d)
    if cache is not None:
        if i in cache.layers:
            k, v = torch.cat([cache.layers[i][0], k], dim=-2), torch.cat([cache.layers[i][1], v], dim=-2)
        cache.layers[i] = (k, v)
    a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.0, scale=attn.scaling,
                                       is_causal=is_causal)  # (B, H, T, d)
    return a.transpose(1, 2).contiguous().reshape(B, T, -1).contiguous()  # transformers' two copies (the
    # second does nothing; kept so that the operations are transformers')


def _after_attention(block, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """The rest of ``block``: its attention's output projection and the MLP, each added to the residual
    stream ``x``; ``a`` is :func:`_attention`'s output at the same positions (any leading shape)."""
    x = _linear(block.attn.c_proj, a) + x
    return x + _linear(block.mlp.c_proj, block.mlp.act(_linear(block.mlp.c_fc, block.ln_2(x))))


def run_blocks(body, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor | None = None,
               cache: Cache | None = None, blocks: int | None = None) -> torch.Tensor:
    """(B, T, D) the hidden states of a GPT-2 transformer ``body`` (``model.transformer``): the output of
    the final layer norm, as ``body(...).last_hidden_state``.

    Args:
        body: a ``GPT2Model``; if :func:`supports` does not hold for it, it is run as ``body(...)``.
        input_ids, position_ids: (B, T) the new positions (``position_ids`` ``None``: 0 to T - 1, after
            the cache's positions).
        attention_mask: (B, past + T), 0 on padding; ``past`` is the cache's length.
        cache: the keys and values of earlier positions, extended in place with these (``None``: none).
        blocks: run only the first ``blocks`` blocks and return their output, the input of the next
            block (no final layer norm); ``None``: all of them.
    """
    assert cache is None or blocks is None, "a cache must hold every block's keys and values"
    if not _lean(body, cache):
        out = body(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                   cache=None if cache is None else cache.hf, use_cache=cache is not None,
                   output_hidden_states=blocks is not None)  # the embeddings, then every block's output
        if cache is not None:
            cache.hf = out.cache
        return out.last_hidden_state if blocks is None else out.hidden_states[blocks]
    T = input_ids.shape[1]
    past = cache.length if cache is not None else 0
    mask, is_causal = _attention_mask(attention_mask, T, past)
    if position_ids is None:
        position_ids = (torch.arange(T, device=input_ids.device) + past)[None]  # (1, T), as transformers does
    x = body.wte(input_ids) + body.wpe(position_ids)
    for i in range(len(body.h) if blocks is None else blocks):
        x = _after_attention(body.h[i], x, _attention(body.h[i], x, mask, is_causal, cache, i))
    return body.ln_f(x) if blocks is None else x


def last_block_at(body, x: torch.Tensor, attention_mask: torch.Tensor, rows: torch.Tensor,
                  cols: torch.Tensor) -> torch.Tensor:
    """(n, D) the output of ``body`` (final layer norm included) at the n positions ``(rows, cols)`` only,
    from ``x``, the (B, T, D) input of its last block (``run_blocks(..., blocks=len(body.h) - 1)``): the
    same numbers as the full pass's ``last_hidden_state[rows, cols]``.

    The last block needs the keys and values of every position, but its attention's output projection
    and its MLP, three quarters of its multiplications, only where its output is read.
    """
    B, T, _ = x.shape
    causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
    sees = (causal & attention_mask.bool()[:, None, None, :]) | torch.eye(T, dtype=torch.bool, device=x.device)
    # (B, 1, T, T): the diagonal only matters at a padding position of a left-padded row, which then sees
    # itself instead of nothing; no output there is read
    a = _attention(body.h[-1], x, sees, False)[rows, cols]  # (n, D)
    return body.ln_f(_after_attention(body.h[-1], x[rows, cols], a))


def lm_logits(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor,
              cache: Cache | None = None) -> torch.Tensor:
    """(B, T, V) the logits of a causal language model, as ``model(...).logits``: through :func:`run_blocks`
    for a ``GPT2LMHeadModel`` that :func:`supports` covers, through ``model(...)`` for any other."""
    if _lean(model, cache):  # run_blocks then finds cache.lean set, or asks again (no cache: one pass)
        return model.lm_head(run_blocks(model.transformer, input_ids, attention_mask, position_ids, cache))
    out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                cache=None if cache is None else cache.hf, use_cache=cache is not None)
    if cache is not None:
        cache.hf = out.cache
    return out.logits
