"""Exact-match accuracy of a chat model on problems with a checkable answer."""

from __future__ import annotations

import torch

from rlcourse.lm.chat import prompt_text
from rlcourse.lm.decoding import generate
from rlcourse.lm.tasks import parse_answer


def completions(model, tokenizer, questions: list[str], max_new_tokens: int = 8, temperature: float = 0.0,
                top_k: int | None = None, seed: int = 0, batch_size: int = 512) -> list[str]:
    """The model's replies to ``questions`` in the chat format (greedy by default), as text."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    replies = []
    for i in range(0, len(questions), batch_size):
        enc = tokenizer([prompt_text(q) for q in questions[i:i + batch_size]], return_tensors="pt", padding=True,
                        add_special_tokens=False)
        new = generate(model, enc["input_ids"], enc["attention_mask"], max_new_tokens, temperature, top_k, gen,
                       eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
        replies += tokenizer.batch_decode(new, skip_special_tokens=True)
    return replies


def exact_match(model, tokenizer, problems: list[dict], reverse: bool = False, **kwargs) -> float:
    """Fraction of ``problems`` (dicts with ``question`` and ``value``) answered exactly right."""
    replies = completions(model, tokenizer, [p["question"] for p in problems], **kwargs)
    return sum(parse_answer(r, reverse) == p["value"] for r, p in zip(replies, problems)) / len(problems)
