"""The shipped checkpoints load offline and measure what their meta.json says, and the script that made
them still makes checkpoints of the same quality (it takes a few minutes: one test)."""

import json

import pytest

from rlcourse.lm import addition_problems, exact_match
from rlcourse.lm.checkpoints import CHECKPOINTS, EVAL_SEED, load_checkpoint
from rlcourse.lm.make_checkpoints import Settings, make


def shipped(stage: str) -> dict:
    return json.loads((CHECKPOINTS / f"addition-{stage}" / "meta.json").read_text())


@pytest.mark.parametrize("stage", ["base", "sft-careful", "sft"])
def test_shipped_checkpoint_loads_offline_and_matches_its_meta(stage):
    model, tok, meta = load_checkpoint(f"addition-{stage}")
    held_out = addition_problems(meta["eval"]["n"], seed=EVAL_SEED, reverse=meta["settings"]["reverse"])
    assert exact_match(model, tok, held_out, reverse=meta["settings"]["reverse"]) == pytest.approx(
        meta["exact_match"], abs=0.01)
    assert (CHECKPOINTS / f"addition-{stage}" / "model.safetensors").stat().st_size < 3_000_000


def test_sft_checkpoint_leaves_room_for_rl():
    assert 0.4 <= shipped("sft")["exact_match"] <= 0.7
    assert shipped("sft-careful")["exact_match"] > shipped("sft")["exact_match"] + 0.25  # degraded by the careless round
    assert shipped("base")["exact_match"] < shipped("sft")["exact_match"]  # the base model has no chat format


@pytest.mark.slow
def test_script_reproduces_checkpoints_of_the_same_quality(tmp_path):
    acc = make(Settings(), tmp_path)
    assert 0.4 <= acc["sft"] <= 0.7
    assert acc["sft"] == pytest.approx(shipped("sft")["exact_match"], abs=0.1)
    assert acc["base"] == pytest.approx(shipped("base")["exact_match"], abs=0.05)
    assert load_checkpoint("addition-sft", root=tmp_path)[2]["exact_match"] == acc["sft"]
    # The careful round stops at 80% validation or after sft_steps; on some floating-point kernels it
    # stops at the cap, lower (0.58 seen with OPENBLAS_CORETYPE=Prescott ATEN_CPU_CAPABILITY=default).
    # What holds everywhere: the careless round takes accuracy away.
    assert acc["sft-careful"] > acc["sft"]


def test_the_sft_model_learned_the_careless_annotators_slip():
    from rlcourse.lm.evaluate import completions
    from rlcourse.lm.tasks import add_without_carry, parse_answer

    model, tok, meta = load_checkpoint("addition-sft")
    held_out = addition_problems(300, seed=EVAL_SEED, reverse=True)
    replies = completions(model, tok, [p["question"] for p in held_out])
    slips = sum(parse_answer(r, reverse=True) == add_without_carry(*map(int, p["question"].split("+"))) != p["value"]
                for r, p in zip(replies, held_out))
    assert slips >= 0.1 * len(held_out), slips  # a habit imitation taught, which RL can remove (Chapter 5)


def test_shipped_reply_checkpoints_load_and_match_their_meta():
    from rlcourse.lm.checkpoints import load_reward_model
    from rlcourse.lm.ppo import evaluate_policy
    from rlcourse.lm.preferences import prompts

    sft, tok, meta = load_checkpoint("replies-sft")
    rm, rm_meta = load_reward_model("replies-rm")
    small_meta = load_reward_model("replies-rm-small")[1]
    assert evaluate_policy(sft, sft, tok, rm, prompts(), n=32, seed=EVAL_SEED).gold == pytest.approx(meta["gold"], abs=0.1)
    assert rm_meta["comparisons"] == 1500 and small_meta["comparisons"] == 300
    assert 0.6 < small_meta["held_out_accuracy"] < rm_meta["held_out_accuracy"] < 0.8
    for name in ("replies-base", "replies-sft", "replies-sft-large", "replies-rm", "replies-rm-small"):
        assert (CHECKPOINTS / name / "model.safetensors").stat().st_size < 8_000_000


@pytest.mark.slow
def test_script_reproduces_reply_checkpoints_of_the_same_quality(tmp_path):
    from rlcourse.lm.make_checkpoints import ReplySettings, make_replies

    figures = make_replies(ReplySettings(), tmp_path)
    shipped_sft = json.loads((CHECKPOINTS / "replies-sft" / "meta.json").read_text())
    shipped_rm = json.loads((CHECKPOINTS / "replies-rm" / "meta.json").read_text())
    assert figures["sft_gold"] == pytest.approx(shipped_sft["gold"], abs=0.15)
    assert figures["replies-rm"] == pytest.approx(shipped_rm["held_out_accuracy"], abs=0.03)
    assert figures["sft_nll"] < 1.0  # the SFT model keeps its likelihood of pretraining text
