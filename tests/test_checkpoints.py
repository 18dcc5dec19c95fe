"""The shipped checkpoints load offline and measure what their meta.json says, and the script that made
them still makes checkpoints of the same quality (it takes a few minutes: one test)."""

import json

import pytest

from rlcourse.lm import addition_problems, exact_match
from rlcourse.lm.checkpoints import CHECKPOINTS, EVAL_SEED, load_checkpoint
from rlcourse.lm.make_checkpoints import Settings, make


def shipped(stage: str) -> dict:
    return json.loads((CHECKPOINTS / f"addition-{stage}" / "meta.json").read_text())


@pytest.mark.parametrize("stage", ["base", "sft"])
def test_shipped_checkpoint_loads_offline_and_matches_its_meta(stage):
    model, tok, meta = load_checkpoint(f"addition-{stage}")
    held_out = addition_problems(meta["eval"]["n"], seed=EVAL_SEED, reverse=meta["settings"]["reverse"])
    assert exact_match(model, tok, held_out, reverse=meta["settings"]["reverse"]) == pytest.approx(
        meta["exact_match"], abs=0.01)
    assert (CHECKPOINTS / f"addition-{stage}" / "model.safetensors").stat().st_size < 3_000_000


def test_sft_checkpoint_leaves_room_for_rl():
    assert 0.4 <= shipped("sft")["exact_match"] <= 0.7
    assert shipped("base")["exact_match"] < shipped("sft")["exact_match"]  # the base model has no chat format


@pytest.mark.slow
def test_script_reproduces_checkpoints_of_the_same_quality(tmp_path):
    acc = make(Settings(), tmp_path)
    assert 0.4 <= acc["sft"] <= 0.7
    assert acc["sft"] == pytest.approx(shipped("sft")["exact_match"], abs=0.1)
    assert acc["base"] == pytest.approx(shipped("base")["exact_match"], abs=0.05)
    assert load_checkpoint("addition-sft", root=tmp_path)[2]["exact_match"] == acc["sft"]


def test_the_sft_model_learned_the_careless_annotators_slip():
    from rlcourse.lm.evaluate import completions
    from rlcourse.lm.tasks import add_without_carry, parse_answer

    model, tok, meta = load_checkpoint("addition-sft")
    held_out = addition_problems(300, seed=EVAL_SEED, reverse=True)
    replies = completions(model, tok, [p["question"] for p in held_out])
    slips = sum(parse_answer(r, reverse=True) == add_without_carry(*map(int, p["question"].split("+"))) != p["value"]
                for r, p in zip(replies, held_out))
    assert slips >= 0.1 * len(held_out), slips  # a habit imitation taught, which RL can remove (Chapter 5)
