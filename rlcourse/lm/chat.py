"""The course's chat format: special tokens mark whose turn it is; only the assistant's tokens are trained.

    <|bos|><|user|>12+345<|assistant|>357<|eos|>

A prompt ends with ``<|assistant|>``; the model's completion runs up to and including ``<|eos|>``.
"""

from __future__ import annotations

PAD, BOS, EOS, USER, ASSISTANT = "<|pad|>", "<|bos|>", "<|eos|>", "<|user|>", "<|assistant|>"
SPECIAL_TOKENS = [PAD, BOS, EOS, USER, ASSISTANT]


def prompt_text(user: str) -> str:
    """The text a model is given to answer ``user``: everything before the assistant's reply."""
    return f"{BOS}{USER}{user}{ASSISTANT}"


def chat_example(tokenizer, user: str, assistant: str) -> tuple[list[int], list[int]]:
    """Token ids of one exchange and its loss mask (1 on the assistant's reply and its ``<|eos|>``).

    Returns:
        (input_ids, mask), two lists of the same length.
    """
    prompt = tokenizer(prompt_text(user), add_special_tokens=False)["input_ids"]
    reply = tokenizer(assistant + EOS, add_special_tokens=False)["input_ids"]
    return prompt + reply, [0] * len(prompt) + [1] * len(reply)
