"""Write the small checkpoints that Chapters 5 to 7 start from: addition (Chapter 5) and replies (Chapters 6-7).

    python -m rlcourse.lm.make_checkpoints [--out DIR] [--only addition|replies]

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
   **sft-careful** is the same model saved after the careful round, before any careless step: the
   SFT model that was never degraded, which Chapter 5 also trains with RL.

For the replies task of Chapters 6 and 7 (``rlcourse.lm.preferences``; a word-level tokenizer), by
:func:`make_replies`:

3. **replies-base**: a nano GPT pretrained on short documents about the topics (the text whose
   likelihood measures the alignment tax);
4. **replies-sft**: it fine-tuned on the demonstrators' replies (mixed quality, as a crowd writes),
   with a quarter of each batch pretraining documents, so it keeps its likelihood of pretraining
   text;
5. **replies-sft-large**: the same recipe on the ``micro`` preset (4.4 times the parameters), the
   larger SFT-only model an RLHF'd small model is compared with (stored in float16);
6. **replies-rm** and **replies-rm-small**: reward models initialised from ``replies-sft`` and
   trained for one epoch with Chapter 6's ranking loss on 1500 (and 300) comparisons of the SFT
   model's replies, ranked by the simulated labelers, then normalised so the SFT model's replies
   score 0 on average.

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

from safetensors.torch import save_file

from rlcourse.lm import preferences as task
from rlcourse.lm.checkpoints import CHECKPOINTS, EVAL_SEED
from rlcourse.lm.evaluate import exact_match
from rlcourse.lm.models import build_gpt, count_parameters
from rlcourse.lm.tasks import add_without_carry, addition_problems
from rlcourse.lm.reward_model import (RewardModelConfig, collect_comparisons, normalize_reward_model,
                                      pairwise_accuracy, train_reward_model)
from rlcourse.lm.rollouts import sample_groups
from rlcourse.lm.tokenizers import char_tokenizer, word_tokenizer
from rlcourse.lm.training import causal_lm_loss, document_tokens, pad_batch, train
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
            docs.append(document_tokens(tok, lines))
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
    careful_acc = exact_match(model, tok, held_out, reverse=settings.reverse)
    save(model, tok, out / "addition-sft-careful", {"stage": "sft-careful", "exact_match": careful_acc,
                                                    "steps": len(careful),
                                                    "final_loss": float(np.mean(careful[-10:]))}, settings)
    print(f"careful SFT model: exact match {careful_acc:.3f}")
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
    return {"base": base_acc, "sft-careful": careful_acc, "sft": sft_acc}


@dataclass
class ReplySettings:
    """Training settings of the replies checkpoints (defaults are the ones shipped)."""

    seed: int = 0
    """Seed of the initialisation and of the data order."""
    pretrain_steps: int = 300
    """Steps of next-token prediction on the pretraining documents (nano)."""
    sft_steps: int = 400
    """Steps of supervised fine-tuning on demonstrations (nano); the loss has flattened by then."""
    large_pretrain_steps: int = 120
    """The same for the ``micro`` model (it learns faster per step and costs ~3x more per step)."""
    large_sft_steps: int = 200
    batch_size: int = 64
    """Sequences per step."""
    sft_pretrain_fraction: float = 0.25
    """Share of each fine-tuning batch that is pretraining documents, so the SFT model keeps the
    likelihood of pretraining text that the alignment tax is measured on."""
    lr: float = 1e-3
    """Learning rate of pretraining and fine-tuning (AdamW, short warm-up, then constant)."""
    rm_comparisons: int = 1500
    """Ranked groups of K = 4..9 SFT replies the reward model is trained on."""
    rm_small_comparisons: int = 300
    """The same for the reward model trained on less data."""
    rm_lr: float = 1e-3
    """Adam's learning rate of the reward models (one epoch)."""
    comparison_seed: int = 1
    """Seed of the replies sampled for the comparisons and of the labelers."""
    n_normalize: int = 640
    """SFT replies whose mean score is shifted to 0."""


def make_replies(settings: ReplySettings, out: Path = CHECKPOINTS) -> dict:
    """Train the replies checkpoints, save them under ``out`` and return their measured figures."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    torch.set_num_threads(1)  # bitwise-reproducible CPU maths
    start = time.perf_counter()
    tok = word_tokenizer(task.VOCABULARY)
    prompts = task.prompts()

    def pretrain_batch(rng):
        docs = [document_tokens(tok, d) for d in task.pretraining_documents(settings.batch_size, int(rng.integers(2**31)))]
        return pad_batch(docs, [[1] * len(d) for d in docs], tok.pad_token_id)

    def sft_batch(rng):  # demonstrations, with some pretraining documents mixed in (the model keeps its LM skill)
        n_docs = round(settings.sft_pretrain_fraction * settings.batch_size)
        pairs = [chat_tokens(tok, p, task.demonstration(p, rng)) for p in rng.choice(prompts, settings.batch_size - n_docs)]
        docs = [document_tokens(tok, d) for d in task.pretraining_documents(n_docs, int(rng.integers(2**31)))]
        return pad_batch([ids for ids, _ in pairs] + docs, [mask for _, mask in pairs] + [[1] * len(d) for d in docs],
                         tok.pad_token_id)

    def sft_gold(model) -> float:
        ro = sample_groups(model, tok, prompts, 32, max_new_tokens=12, generator=torch.Generator().manual_seed(EVAL_SEED))
        return float(np.mean([task.gold_reward(p, r) for p, r in zip([p for p in prompts for _ in range(32)], ro.replies)]))

    def held_out_nll(model) -> float:
        batch = pretrain_batch(np.random.default_rng(EVAL_SEED))
        with torch.no_grad():
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        return float(causal_lm_loss(logits, batch["input_ids"], batch["loss_mask"]))

    figures = {}
    sft = None
    for name, preset, pre_steps, sft_steps in [("replies", "nano", settings.pretrain_steps, settings.sft_steps),
                                               ("replies-large", "micro", settings.large_pretrain_steps,
                                                settings.large_sft_steps)]:
        model = build_gpt(len(tok), preset, seed=settings.seed, pad_token_id=tok.pad_token_id,
                          bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
        print(f"{preset} GPT: {count_parameters(model):,} parameters; pretraining on documents")
        pre = train(model, pretrain_batch, pre_steps, settings.lr, seed=settings.seed, log_every=0)
        if preset == "nano":
            figures["base_nll"] = held_out_nll(model)
            save(model, tok, out / "replies-base", {"stage": "base", "held_out_nll": figures["base_nll"],
                                                   "final_loss": float(np.mean(pre[-20:]))}, settings)
        print("supervised fine-tuning on demonstrations")
        losses = train(model, sft_batch, sft_steps, settings.lr, seed=settings.seed + 1, log_every=0)
        key = "sft" if preset == "nano" else "sft_large"
        if preset == "micro":  # shipped in float16 (3.6 MB, not 7.3 MB); measured as shipped
            model = model.half().float()
        figures[key + "_gold"], figures[key + "_nll"] = sft_gold(model), held_out_nll(model)
        save(model, tok, out / ("replies-sft" if preset == "nano" else "replies-sft-large"),
             {"stage": "sft", "preset": preset, "parameters": count_parameters(model), "gold": figures[key + "_gold"],
              "held_out_nll": figures[key + "_nll"], "final_loss": float(np.mean(losses[-20:]))}, settings,
             half=preset == "micro")
        print(f"{name}: mean gold reward of samples {figures[key + '_gold']:.3f}")
        if preset == "nano":
            sft = model

    held_out = collect_comparisons(sft, tok, prompts, 300, seed=EVAL_SEED)
    normalise = sample_groups(sft, tok, prompts, settings.n_normalize // len(prompts), max_new_tokens=12,
                              generator=torch.Generator().manual_seed(settings.comparison_seed + 100))
    norm_prompts = [p for p in prompts for _ in range(settings.n_normalize // len(prompts))]
    comparisons = collect_comparisons(sft, tok, prompts, settings.rm_comparisons, seed=settings.comparison_seed)
    for name, n in [("replies-rm", settings.rm_comparisons), ("replies-rm-small", settings.rm_small_comparisons)]:
        rm, _ = train_reward_model(sft, tok, comparisons[:n], RewardModelConfig(lr=settings.rm_lr))
        shift = normalize_reward_model(rm, tok, norm_prompts, normalise.replies)
        acc = pairwise_accuracy(rm, tok, held_out)
        figures[name] = acc
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in rm.state_dict().items()}, str(folder / "model.safetensors"))
        meta = {"stage": "reward model", "comparisons": n, "held_out_accuracy": acc, "bias_shift": shift,
                "settings": asdict(settings), "eval": {"seed": EVAL_SEED, "n": len(held_out)}}
        (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        print(f"{name}: {n} comparisons, held-out pairwise accuracy {acc:.3f}")
    print(f"replies checkpoints: {time.perf_counter() - start:.0f} s in all")
    return figures


def save(model, tok, folder: Path, meta: dict, settings, half: bool = False) -> None:
    """Write a checkpoint folder (weights in float16 with ``half``; ``load_checkpoint`` returns float32)."""
    folder.mkdir(parents=True, exist_ok=True)
    model.half().save_pretrained(folder) if half else model.save_pretrained(folder)
    model.float()
    tok.save_pretrained(folder)
    meta = {**meta, "settings": asdict(settings),
            "eval": {"seed": EVAL_SEED, "n": getattr(settings, "n_eval", None), "greedy": isinstance(settings, Settings)}}
    (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=CHECKPOINTS, help="folder for the checkpoints")
    parser.add_argument("--only", choices=["addition", "replies"], help="make one set only")
    args = parser.parse_args(argv)
    if args.only != "replies":
        make(Settings(), args.out)
    if args.only != "addition":
        make_replies(ReplySettings(), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
