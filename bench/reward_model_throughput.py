"""Preference pairs per second and held-out accuracy of Chapter 6's reward-model training against TRL's RewardTrainer.

    .venv/bin/pip install -r requirements-bench.txt     # TRL is a benchmark-only dependency
    .venv/bin/python bench/reward_model_throughput.py [--cores 2]

The course's side is ``train_reward_model`` as Section 6.7 (``reward_model.md``) runs it:
``RewardModelConfig(lr=1e-3, seed=0)`` (one epoch, Adam at a constant 1e-3, 16 comparisons per step,
InstructGPT's ``ranking_loss`` over all the C(K, 2) pairs of each, every reply run once), on the page's
1,500 comparisons (``collect_comparisons(sft, ..., 1500, seed=1)``, K from 4 to 9 replies of the
``replies-sft`` model ranked by a simulated labeler). Its model is a ``ScalarModel``: the SFT model's
transformer and a zero-initialised linear head read at the reply's last token. The peer is TRL's
``RewardTrainer`` on the same pairs (one chosen/rejected row per pair, given as the course's token ids:
``<|bos|><|user|>prompt<|assistant|>reply<|eos|>``), training a ``GPT2ForSequenceClassification`` with
one label built from the same config (pad token set) and the same initial weights (the SFT
transformer, a zero head), with one epoch, a constant 1e-3, AdamW with no weight decay (Adam's update,
the same betas and epsilon), no gradient clipping, float32 and no gradient checkpointing (TRL's defaults
are bfloat16 autocast and checkpointing: both switched off so that both sides compute the same thing),
and as many pairs per step as the course's steps hold on average, so both take about as many steps.

What could not be matched: TRL's head has no bias (the course's has one, which a pairwise loss never
moves: its gradient is zero); TRL's model reads the rightmost non-padding token, the course's the last
position of a left-padded row (both the reply's ``<|eos|>``); the course runs each reply of a ranked
group once and weighs every comparison the same (the mean over its pairs, then over the comparisons),
where TRL runs both replies of every pair (``2 * sum C(K, 2)`` rows against ``sum K``, about six times
as many) and weighs every pair the same; the course's steps hold 16 whole comparisons, TRL's a fixed
number of pairs drawn at random from the whole set. The course also has TRL's way:
``pairing="shuffled"`` (the pairs shuffled over the whole set, each its own batch element, two rows
per pair, as many per step as the grouped run uses on average), run third as the control with the
same work and loss as TRL's.

Each runs once, one after the other in this process; the time is that of the training call alone.
Printed: seconds, pairs per second, the ratios, and each model's held-out pairwise accuracy on the
page's 300 held-out comparisons (``seed=EVAL_SEED``), measured for all with the course's
``pairwise_accuracy`` (TRL's weights copied into a ``ScalarModel``). Figures, not a test: they depend
on the machine.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402

from _common import page_comparisons, pairs_per_trl_step, pin_cores  # noqa: E402
from rlcourse.lm.checkpoints import load_checkpoint  # noqa: E402
from rlcourse.lm.reward_model import (RewardModelConfig, ScalarModel, encode_replies,  # noqa: E402
                                      pairwise_accuracy, train_reward_model)


def course_loop(sft, tokenizer, comparisons, config: RewardModelConfig):
    """Chapter 6's ``train_reward_model``; returns (reward model, seconds, steps)."""
    start = time.perf_counter()
    rm, history = train_reward_model(sft, tokenizer, comparisons, config)
    return rm, time.perf_counter() - start, len(history.loss)


def token_rows(tokenizer, prompts_: list[str], replies: list[str]) -> list[list[int]]:
    """The course's rows (``encode_replies``), without their padding."""
    enc = encode_replies(tokenizer, prompts_, replies)
    return [ids[attn.bool()].tolist() for ids, attn in zip(enc.input_ids, enc.attention_mask)]


def trl_loop(sft, tokenizer, comparisons, config: RewardModelConfig, pairs_per_step: int):
    """TRL's RewardTrainer on the pairs of ``comparisons``; returns (reward model as a ScalarModel, seconds, steps)."""
    from datasets import Dataset
    from transformers import GPT2ForSequenceClassification, PrinterCallback
    from transformers.utils import logging as hf_logging
    from trl import RewardConfig, RewardTrainer

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    pairs = [(c.prompt, c.replies[w], c.replies[l]) for c in comparisons for w, l in c.pairs()]
    pair_prompts = [p for p, _, _ in pairs]
    dataset = Dataset.from_dict({"chosen_ids": token_rows(tokenizer, pair_prompts, [w for _, w, _ in pairs]),
                                 "rejected_ids": token_rows(tokenizer, pair_prompts, [l for _, _, l in pairs])})
    model_config = copy.deepcopy(sft.config)
    model_config.num_labels, model_config.pad_token_id = 1, tokenizer.pad_token_id
    model = GPT2ForSequenceClassification(model_config)
    model.transformer.load_state_dict(sft.transformer.state_dict())  # the same start as ScalarModel(sft)
    torch.nn.init.zeros_(model.score.weight)
    with tempfile.TemporaryDirectory() as out:
        args = RewardConfig(
            output_dir=out, use_cpu=True, report_to="none", save_strategy="no", logging_strategy="no",
            disable_tqdm=True, seed=config.seed, num_train_epochs=config.epochs, learning_rate=config.lr,
            lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0, max_grad_norm=0.0,
            optim="adamw_torch", per_device_train_batch_size=pairs_per_step, bf16=False,
            gradient_checkpointing=False, dataloader_num_workers=0, max_length=None,
        )
        trainer = RewardTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
        trainer.remove_callback(PrinterCallback)
        start = time.perf_counter()
        result = trainer.train()
        seconds = time.perf_counter() - start
    rm = ScalarModel(sft)  # TRL's weights in the course's model, to be measured by the course's code
    rm.body.load_state_dict(trainer.model.transformer.state_dict())
    with torch.no_grad():
        rm.head.weight.copy_(trainer.model.score.weight)
        rows = dataset[:64]["chosen_ids"]  # TRL's scores (right padding) are the copy's (left padding)
        batch = trainer.data_collator([{"chosen_ids": r, "rejected_ids": r} for r in rows])
        theirs = trainer.model.eval()(input_ids=batch["input_ids"][:64],
                                      attention_mask=batch["attention_mask"][:64]).logits[:, 0]
        ours = rm.eval().score(encode_replies(tokenizer, [p for p, _, _ in pairs[:64]], [w for _, w, _ in pairs[:64]]))
        if not torch.allclose(theirs, ours, atol=1e-4):
            raise RuntimeError(f"the copied reward model scores differently: {(theirs - ours).abs().max():.2e}")
    return rm.eval(), seconds, result.global_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cores", type=int, default=2, help="CPU cores to run on (default 2)")
    parser.add_argument("--comparisons", type=int, default=1500, help="training comparisons (the page: 1500)")
    args = parser.parse_args()
    pin_cores(args.cores)

    sft, tokenizer, _ = load_checkpoint("replies-sft")
    comparisons, held_out = page_comparisons(sft, tokenizer, args.comparisons)
    config = RewardModelConfig(lr=1e-3, seed=0)  # the page's settings (those of the shipped replies-rm)
    n_pairs, course_steps, pairs_per_step = pairs_per_trl_step(comparisons, config)
    print(f"{config}\n{len(comparisons)} comparisons, {sum(len(c.replies) for c in comparisons)} replies, "
          f"{n_pairs} pairs; {course_steps} course steps, {pairs_per_step} pairs per TRL step; "
          f"{torch.get_num_threads()} threads", flush=True)
    rates = {}
    runs = [("course, pairs by prompt", lambda: course_loop(sft, tokenizer, comparisons, config)),
            ("TRL RewardTrainer", lambda: trl_loop(sft, tokenizer, comparisons, config, pairs_per_step)),
            ("course, shuffled pairs", lambda: course_loop(sft, tokenizer, comparisons,
                                                           RewardModelConfig(lr=1e-3, seed=0, pairing="shuffled")))]
    for name, run in runs:
        torch.manual_seed(0)
        rm, seconds, steps = run()
        rates[name] = n_pairs * config.epochs / seconds
        print(f"{name:<24} {seconds:7.1f} s   {rates[name]:8.1f} pairs/s   {steps} steps   "
              f"held-out pairwise accuracy {pairwise_accuracy(rm, tokenizer, held_out):.3f}", flush=True)
    trl = rates["TRL RewardTrainer"]
    print(f"ratio (course / TRL): {rates['course, pairs by prompt'] / trl:.2f}x; "
          f"shuffled pairs (the same work and loss as TRL): {rates['course, shuffled pairs'] / trl:.2f}x")


if __name__ == "__main__":
    main()
