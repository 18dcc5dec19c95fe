"""Chapter 4's reference implementations that later chapters reuse: the pretraining loss, sampling a
token, and the chat format. The support package's decoding, training and RL code call these, so
each lives once; ``python -m autograde sync`` copies them into the chapter's solution cells.
"""

import torch


def next_token_loss(logits, input_ids):
    """Mean cross-entropy of predicting every next token: the pretraining objective.

    The logits at position t are the model's prediction for token t+1, so the last position has no
    target and the first token is never predicted: compare ``logits[:, :-1]`` with ``input_ids[:, 1:]``.

    Args:
        logits: (B, T, V) float tensor.
        input_ids: (B, T) int64 tensor.

    Returns:
        scalar tensor, the mean over the B * (T - 1) predictions of ``-log softmax(logits)[target]``.

    Example:
        >>> logits = torch.zeros(1, 3, 4)  # uniform predictions over V = 4 tokens
        >>> next_token_loss(logits, torch.tensor([[0, 1, 2]]))  # log 4
        tensor(1.3863)
        >>> logits[0, 2, 3] = 100.0  # the last position predicts no token of the text: no change
        >>> next_token_loss(logits, torch.tensor([[0, 1, 2]]))
        tensor(1.3863)
    """
    V = logits.shape[-1]
    pred = logits[:, :-1].reshape(-1, V)  # (B*(T-1), V) predictions for positions 1..T-1
    target = input_ids[:, 1:].reshape(-1)  # (B*(T-1),)
    return torch.nn.functional.cross_entropy(pred, target)


def sample_token(logits, temperature, top_k, generator):
    """Draw one next token per row from ``softmax(logits / temperature)``, restricted to the
    ``top_k`` largest logits of the row (all of them when ``top_k`` is None); greedy (argmax) when
    ``temperature == 0``.

    Args:
        logits: (B, V) float tensor.
        temperature: float >= 0; below 1 sharpens the distribution, above 1 flattens it.
        top_k: int or None.
        generator: ``torch.Generator`` to draw with (``torch.multinomial(..., generator=generator)``).

    Returns:
        (B,) int64 tensor of token ids.

    Example:
        >>> logits, gen = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.0, 5.0]]), torch.Generator().manual_seed(0)
        >>> sample_token(logits, 0.0, None, gen)  # temperature 0: the largest logit of each row
        tensor([0, 2])
        >>> draws = sample_token(logits[:1].repeat(1000, 1), 1.0, 2, gen)  # 1000 draws from row 0
        >>> sorted(set(draws.tolist()))  # top_k = 2: token 2 is never drawn
        [0, 1]
    """
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator).squeeze(1)


def chat_tokens(tokenizer, user, assistant):
    """Token ids of one exchange in the chat format, and the mask of the tokens SFT trains on.

    The text is ``<|bos|><|user|>{user}<|assistant|>{assistant}<|eos|>``. The mask is 1 on the
    assistant's reply and its ``<|eos|>`` (the model must learn to answer, and to stop), 0 on
    everything before.

    Args:
        tokenizer: a ``PreTrainedTokenizerFast`` that knows the special tokens.
        user: the user's message.
        assistant: the reply.

    Returns:
        (ids, mask): two lists of ints of the same length.

    Example:
        >>> from rlcourse.lm import char_tokenizer
        >>> tok = char_tokenizer("0123456789+")
        >>> ids, mask = chat_tokens(tok, "2+3", "5")
        >>> tok.convert_ids_to_tokens(ids)
        ['<|bos|>', '<|user|>', '2', '+', '3', '<|assistant|>', '5', '<|eos|>']
        >>> mask
        [0, 0, 0, 0, 0, 0, 1, 1]
    """
    prompt = tokenizer(f"<|bos|><|user|>{user}<|assistant|>", add_special_tokens=False)["input_ids"]
    reply = tokenizer(f"{assistant}<|eos|>", add_special_tokens=False)["input_ids"]
    return prompt + reply, [0] * len(prompt) + [1] * len(reply)
