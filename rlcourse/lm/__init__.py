"""Small language models for Chapters 4 to 7: tokenizers, model presets, tasks, decoding, evaluation.

Everything is built locally from a config (no download): a model is ``build_gpt(vocab_size, "nano")``,
a tokenizer is ``char_tokenizer(...)`` or ``bpe_tokenizer(texts, ...)``, and the checkpoints the later
chapters start from are written by ``python -m rlcourse.lm.make_checkpoints`` and loaded by
``rlcourse.lm.checkpoints.load_checkpoint``.
"""

from rlcourse.lm.chat import ASSISTANT, BOS, EOS, PAD, SPECIAL_TOKENS, USER, prompt_text
from rlcourse.lm.decoding import generate
from rlcourse.lm.evaluate import exact_match
from rlcourse.lm.models import PRESETS, GPTPreset, build_gpt, count_parameters
from rlcourse.lm.tasks import addition_problems, digit_sum_problems, parse_answer, pseudo_words
from rlcourse.lm.tokenizers import bpe_tokenizer, char_tokenizer

__all__ = ["ASSISTANT", "BOS", "EOS", "PAD", "SPECIAL_TOKENS", "USER", "chat_tokens", "prompt_text",
           "generate", "exact_match", "PRESETS", "GPTPreset", "build_gpt", "count_parameters",
           "addition_problems", "digit_sum_problems", "pseudo_words", "parse_answer", "bpe_tokenizer", "char_tokenizer"]


def __getattr__(name):
    # Chapter 4's reference, imported on first use: a kernel grading Chapter 4 cannot import it, and
    # everything else of this package must still load there.
    if name == "chat_tokens":
        from rlcourse.reference.ch04_assistant import chat_tokens

        return chat_tokens
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
