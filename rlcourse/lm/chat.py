"""The course's chat format: special tokens mark whose turn it is; only the assistant's tokens are trained.

    <|bos|><|user|>12+345<|assistant|>357<|eos|>

A prompt ends with ``<|assistant|>``; the model's completion runs up to and including ``<|eos|>``.
The token ids of one exchange and its loss mask are Chapter 4's exercise ``chat_tokens``
(``rlcourse.reference.ch04_assistant.chat_tokens``).
"""

from __future__ import annotations

PAD, BOS, EOS, USER, ASSISTANT = "<|pad|>", "<|bos|>", "<|eos|>", "<|user|>", "<|assistant|>"
SPECIAL_TOKENS = [PAD, BOS, EOS, USER, ASSISTANT]


def prompt_text(user: str) -> str:
    """The text a model is given to answer ``user``: everything before the assistant's reply."""
    return f"{BOS}{USER}{user}{ASSISTANT}"
