"""Tokenizers built locally with the ``tokenizers`` library, wrapped as ``PreTrainedTokenizerFast``."""

from __future__ import annotations

import re
from typing import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from rlcourse.lm.chat import BOS, EOS, PAD, SPECIAL_TOKENS


def _wrap(tok: Tokenizer, special_tokens: list[str]) -> PreTrainedTokenizerFast:
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, bos_token=BOS, eos_token=EOS,
                                   additional_special_tokens=[t for t in special_tokens if t not in (PAD, BOS, EOS)])
    fast.padding_side = "left"  # prompts are left-padded so that generation continues every row at the end
    return fast


def char_tokenizer(alphabet: str, special_tokens: list[str] = SPECIAL_TOKENS) -> PreTrainedTokenizerFast:
    """One token per character of ``alphabet`` (plus the special tokens, which come first).

    Example:
        >>> tok = char_tokenizer("0123456789+=")
        >>> tok.convert_ids_to_tokens(tok("12+3")["input_ids"])
        ['1', '2', '+', '3']
    """
    chars = sorted(set(alphabet))
    vocab = {t: i for i, t in enumerate([*special_tokens, *chars])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=PAD))
    tok.add_special_tokens(list(special_tokens))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")  # every character
    tok.decoder = decoders.Fuse()  # join without spaces
    return _wrap(tok, list(special_tokens))


def word_tokenizer(words: Iterable[str], special_tokens: list[str] = SPECIAL_TOKENS) -> PreTrainedTokenizerFast:
    """One token per word of ``words`` (plus the special tokens, which come first); text is split on
    whitespace and decoded with single spaces.

    Example:
        >>> tok = word_tokenizer(["brief", "river", "water", "."])
        >>> tok.convert_ids_to_tokens(tok("brief river")["input_ids"])
        ['brief', 'river']
    """
    vocab = {t: i for i, t in enumerate([*special_tokens, *dict.fromkeys(words)])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=PAD))
    tok.add_special_tokens(list(special_tokens))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return _wrap(tok, list(special_tokens))


def bpe_tokenizer(texts: Iterable[str], vocab_size: int,
                  special_tokens: list[str] = SPECIAL_TOKENS) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on ``texts`` (GPT-2's scheme, at a small vocabulary size).

    Example:
        >>> tok = bpe_tokenizer(["the cat sat on the mat"] * 10, vocab_size=300)
    """
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(special_tokens),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    return _wrap(tok, list(special_tokens))


PRETOKENIZE = re.compile(r" ?[^\W\d_]+| ?\d+| ?[^\s\w]+|\s+")
"""GPT-2-style pre-tokenization for the BPE of Chapter 4: words keep their leading space; numbers,
punctuation and runs of whitespace are separate pieces. BPE merges never cross a piece boundary."""


def merge_pair(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    """``symbols`` with every occurrence of the adjacent ``pair``, left to right, fused into one symbol.

    Example:
        >>> merge_pair(["a", "a", "a", "b"], ("a", "a"))
        ['aa', 'a', 'b']
    """
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out
