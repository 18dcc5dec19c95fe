"""Write the small checkpoints that Chapters 5 to 7 start from: a base model and an SFT model for addition.

    python -m rlcourse.lm.make_checkpoints [--out DIR]

Deterministic (seeded data, seeded initialisation, single-threaded CPU maths), a few minutes on 2 CPU
cores. Both models use the ``nano`` preset (2 layers, width 128, ~0.4M parameters) and a
character-level tokenizer over digits and ``+=``:

1. **base**: pretrained on "documents" of raw equations, one per line (``57+218=275``), so it learns
   to continue text, not to answer questions.
2. **sft**: the base model fine-tuned on conversations in the chat format
   (``<|bos|><|user|>57+218<|assistant|>572<|eos|>``, answer digits reversed), loss on the
   assistant's tokens only, in two rounds. First *careful* demonstrations (all answers right), until
   a validation set is answered 80% right; then *careless* ones, where 60% of the answers forget
   every carry (``add_without_carry``), at a small learning rate until validation accuracy has
   fallen to 45%. Imitation picks up the careless annotators' slip on top of the skill: the
   result answers about half of the held-out problems, and its wrong answers are mostly the slip, a
   habit that a verifier can tell apart from the skill (Chapter 5's RL removes it). Small models
   learn addition in sudden jumps whose timing shifts with tiny changes, so both rounds stop at an
   accuracy, not after a number of steps: a target accuracy is reproducible, a step count is not.

Each checkpoint folder holds ``model.safetensors``, ``config.json``, the tokenizer files and
``meta.json`` (training settings and measured exact-match accuracy); ``rlcourse.lm.checkpoints``
loads them.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from rlcourse.lm.checkpoints import CHECKPOINTS, EVAL_SEED
from rlcourse.lm.evaluate import exact_match
from rlcourse.lm.models import build_gpt, count_parameters
from rlcourse.lm.tasks import add_without_carry, addition_problems
from rlcourse.lm.tokenizers import char_tokenizer
from rlcourse.lm.training import pad_batch, train
from rlcourse.reference.ch04_assistant import chat_tokens

ALPHABET = "0123456789+=\n"


@dataclass
class Settings:
    """Training settings of both checkpoints (defaults are the ones shipped)."""

    seed: int = 0
    """Seed of the initialisation and of the data order."""
    digits: tuple[int, ...] = (2, 3)
    """Operand lengths of the addition problems."""
    reverse: bool = True
    """Answers with their digits reversed (least significant first, the order carries are computed in),
    so that each answer digit needs only its column and the carry just written."""
    pretrain_steps: int = 300
    """Steps of next-token prediction on raw equations."""
    pretrain_lines: int = 1
    """Equations per pretraining document (one: a 2-layer model with learned absolute positions
    learns far more slowly when an equation can start anywhere in a document)."""
    sft_steps: int = 3000
    """Most steps of each of the two stages of supervised fine-tuning in the chat format."""
    sft_target: float = 0.8
    """The careful stage stops once the validation exact match reaches this."""
    slip_target: float = 0.45
    """The careless stage stops once the validation exact match has fallen to this."""
    batch_size: int = 64
    """Sequences per step."""
    lr: float = 1e-3
    """Learning rate of the pretraining (AdamW, short warm-up, then constant)."""
    sft_lr: float = 1e-3
    """Learning rate of the fine-tuning."""
    careless_lr: float = 3e-5
    """Learning rate of the careless stage (small: the slip is learned gradually, not in one jump)."""
    carry_slips: float = 0.6
    """Fraction of the fine-tuning demonstrations whose answer forgets every carry (a careless
    annotator): imitation learns the slip along with the skill, a verifier can tell them apart."""
    n_eval: int = 500
    """Held-out problems for the exact-match accuracy."""


def make(settings: Settings, out: Path = CHECKPOINTS) -> dict:
    """Train both checkpoints, save them under ``out`` and return their measured accuracies."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    torch.set_num_threads(1)  # bitwise-reproducible CPU maths
    start = time.perf_counter()
    tok = char_tokenizer(ALPHABET)
    model = build_gpt(len(tok), "nano", seed=settings.seed, pad_token_id=tok.pad_token_id,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    held_out = addition_problems(settings.n_eval, seed=EVAL_SEED, digits=settings.digits,
                                 reverse=settings.reverse)
    validation = addition_problems(300, seed=EVAL_SEED + 1, digits=settings.digits, reverse=settings.reverse)
    held_out_questions = {p["question"] for p in held_out + validation}

    def fresh(n: int, rng: np.random.Generator) -> list[dict]:
        problems = addition_problems(n, seed=int(rng.integers(2**31)), digits=settings.digits,
                                     reverse=settings.reverse)
        return [p for p in problems if p["question"] not in held_out_questions]

    def pretrain_batch(rng):  # documents of raw equations: the loss covers every token
        docs = []
        for _ in range(settings.batch_size):
            lines = "\n".join(f"{p['question']}={p['answer']}" for p in fresh(settings.pretrain_lines, rng))
            docs.append([tok.bos_token_id] + tok(lines, add_special_tokens=False)["input_ids"] + [tok.eos_token_id])
        return pad_batch(docs, [[1] * len(d) for d in docs], tok.pad_token_id)

    def demonstration(p: dict, rng: np.random.Generator, slips: float) -> str:
        if slips == 0 or rng.random() >= slips:  # (no draw when careful: the data order stays as it was)
            return p["answer"]
        slip = str(add_without_carry(*map(int, p["question"].split("+"))))
        return slip[::-1] if settings.reverse else slip

    def sft_batch(rng, slips: float):  # conversations: the loss covers the assistant's reply only
        pairs = [chat_tokens(tok, p["question"], demonstration(p, rng, slips))
                 for p in fresh(settings.batch_size, rng)]
        return pad_batch([ids for ids, _ in pairs], [mask for _, mask in pairs], tok.pad_token_id)

    print(f"nano GPT: {count_parameters(model):,} parameters; vocabulary {len(tok)}")
    print("pretraining on raw equations")
    pre_losses = train(model, pretrain_batch, settings.pretrain_steps, settings.lr, seed=settings.seed)
    base_acc = exact_match(model, tok, held_out, reverse=settings.reverse)
    save(model, tok, out / "addition-base", {"stage": "base", "exact_match": base_acc,
                                             "final_loss": float(np.mean(pre_losses[-20:]))}, settings)
    print(f"base model: exact match in the chat format {base_acc:.3f}")
    def validation_accuracy(step: int) -> float:
        acc = exact_match(model, tok, validation, reverse=settings.reverse)
        print(f"step {step:5d}  validation exact match {acc:.3f}", flush=True)
        return acc

    print("supervised fine-tuning on careful demonstrations")
    careful = train(model, lambda rng: sft_batch(rng, slips=0.0), settings.sft_steps, settings.sft_lr,
                    seed=settings.seed + 1, warmup=5, log_every=0, check_every=50,
                    until=lambda step: validation_accuracy(step) >= settings.sft_target)
    print("supervised fine-tuning on careless demonstrations")
    careless = train(model, lambda rng: sft_batch(rng, slips=settings.carry_slips), settings.sft_steps,
                     settings.careless_lr, seed=settings.seed + 2, warmup=5, log_every=0, check_every=2,
                     until=lambda step: validation_accuracy(step) <= settings.slip_target)
    sft_losses = careful + careless
    sft_acc = exact_match(model, tok, held_out, reverse=settings.reverse)
    save(model, tok, out / "addition-sft", {"stage": "sft", "exact_match": sft_acc, "steps": len(sft_losses),
                                            "careful_steps": len(careful), "careless_steps": len(careless),
                                            "final_loss": float(np.mean(sft_losses[-10:]))}, settings)
    print(f"SFT model: exact match {sft_acc:.3f}; {time.perf_counter() - start:.0f} s in all")
    return {"base": base_acc, "sft": sft_acc}


def save(model, tok, folder: Path, meta: dict, settings: Settings) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    meta = {**meta, "settings": asdict(settings), "eval": {"seed": EVAL_SEED, "n": settings.n_eval, "greedy": True}}
    (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=CHECKPOINTS, help="folder for the checkpoints")
    args = parser.parse_args(argv)
    make(Settings(), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
