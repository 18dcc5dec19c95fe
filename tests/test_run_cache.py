"""The per-build cache of deterministic runs (rlcourse.lm.run_cache): a hit returns what computing returns,
any change of input or code misses, and without its environment variable nothing is written."""

import dataclasses

import pytest
import torch

from rlcourse.lm import run_cache
from rlcourse.lm.checkpoints import load_checkpoint, load_reward_model
from rlcourse.lm.ppo import PPOConfig, train_ppo
from rlcourse.lm.preferences import prompts
from rlcourse.lm.run_cache import cached, key, ppo_run


@dataclasses.dataclass
class Settings:
    steps: int = 3
    lr: float = 1e-3


CALLS = []


def noisy_run(model, settings, seed):
    """A deterministic stand-in for a training run that counts its calls."""
    CALLS.append(seed)
    g = torch.Generator().manual_seed(seed)
    return {"weights": model.weight.detach() + torch.randn(model.weight.shape, generator=g) * settings.lr,
            "history": [settings.steps * seed + 0.1]}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "runs"
    monkeypatch.setenv(run_cache.ENV, str(folder))
    CALLS.clear()
    return folder


def test_same_inputs_are_computed_once_and_read_back_equal(cache):
    model = torch.nn.Linear(3, 2)
    first = cached(noisy_run, model, Settings(), seed=1)
    again = cached(noisy_run, model, Settings(), seed=1)
    assert CALLS == [1] and len(list(cache.glob("*.pt"))) == 1
    assert torch.equal(first["weights"], again["weights"]) and first["history"] == again["history"]
    assert not list(cache.glob(".*"))  # no temporary file left behind


def test_any_changed_input_is_recomputed(cache):
    model = torch.nn.Linear(3, 2)
    first = cached(noisy_run, model, Settings(), seed=1)
    cached(noisy_run, model, Settings(lr=2e-3), seed=1)  # the configuration
    cached(noisy_run, model, Settings(), seed=2)  # an argument
    with torch.no_grad():
        model.weight[0, 0] += 1e-7  # the weights, by one rounding step
    changed = cached(noisy_run, model, Settings(), seed=1)
    assert CALLS == [1, 1, 2, 1] and len(list(cache.glob("*.pt"))) == 4
    assert not torch.equal(changed["weights"], first["weights"])  # computed from the changed weights
    assert key(model, Settings()) != key(model, Settings(steps=4))


def test_the_code_is_part_of_the_key(cache, monkeypatch):
    model = torch.nn.Linear(3, 2)
    before = key(model, Settings())
    monkeypatch.setattr(run_cache, "code_digest", lambda: "edited source")
    assert key(model, Settings()) != before


def test_without_the_variable_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv(run_cache.ENV, raising=False)
    CALLS.clear()
    model = torch.nn.Linear(3, 2)
    cached(noisy_run, model, Settings(), seed=1)
    cached(noisy_run, model, Settings(), seed=1)
    assert CALLS == [1, 1] and run_cache.cache_dir() is None and not list(tmp_path.iterdir())


def test_the_book_build_names_the_same_variable():
    from autograde.book import RUN_CACHE, RUN_CACHE_ENV

    assert RUN_CACHE_ENV == run_cache.ENV and RUN_CACHE.parent.name == "_build"  # git-ignored, not shipped


def test_what_cannot_be_digested_is_refused(cache):
    with pytest.raises(TypeError, match="cannot key"):
        key(object())


@pytest.fixture(scope="module")
def replies():
    sft, tokenizer, _ = load_checkpoint("replies-sft")
    rm, _ = load_reward_model("replies-rm")
    return sft, tokenizer, rm, prompts()


def test_a_tokenizer_is_keyed_by_what_it_is_not_by_its_last_call(replies):
    _, tokenizer, _, prompts_ = replies
    before = key(tokenizer)
    tokenizer(prompts_[:3], padding=True)  # leaves padding switched on in the backend until the next call
    assert key(tokenizer) == before


def same_run(a, b):
    pa, pb = a.policy.state_dict(), b.policy.state_dict()
    return all(torch.equal(pa[k], pb[k]) for k in pa) and a.history == b.history


TINY = dict(batch_size=8, lr=3e-4, beta=0.1)


@pytest.mark.parametrize("settings", [{}, {"ptx_coef": 1.0, "ptx_batch": 4}, {"beta": 0.02, "target_kl": 0.5}])
def test_a_ppo_step_does_not_depend_on_the_number_of_steps(replies, settings):
    """What lets a longer run serve a shorter one: train_ppo's first steps are those of a shorter run."""
    sft, tokenizer, rm, prompts_ = replies
    config = {**TINY, **settings}
    kept = {}

    def keep(step, policy):
        kept[step] = {k: v.clone() for k, v in policy.state_dict().items()}

    _, long_history = train_ppo(sft, tokenizer, rm, prompts_, PPOConfig(steps=4, **config), callback=keep)
    short, history = train_ppo(sft, tokenizer, rm, prompts_, PPOConfig(steps=2, **config))
    assert all(torch.equal(v, kept[2][k]) for k, v in short.state_dict().items())
    assert all(getattr(history, f.name) == getattr(long_history, f.name)[:2]
               for f in dataclasses.fields(history) if f.name != "replies")


def test_ppo_run_served_from_the_cache_equals_the_run(replies, cache, monkeypatch):
    sft, tokenizer, rm, prompts_ = replies
    monkeypatch.setattr(run_cache, "SNAPSHOT_EVERY", 2)
    monkeypatch.delenv(run_cache.ENV)
    plain4 = ppo_run(sft, tokenizer, rm, prompts_, PPOConfig(steps=4, **TINY), sample_every=2)
    plain2 = ppo_run(sft, tokenizer, rm, prompts_, PPOConfig(steps=2, **TINY), sample_every=1)
    direct, direct_history = train_ppo(sft, tokenizer, rm, prompts_, PPOConfig(steps=4, **TINY), sample_every=2)
    assert all(torch.equal(v, direct.state_dict()[k]) for k, v in plain4.policy.state_dict().items())
    assert plain4.history == direct_history and len(plain4.history.replies) == 2
    monkeypatch.setenv(run_cache.ENV, str(cache))
    filled = ppo_run(sft, tokenizer, rm, prompts_, PPOConfig(steps=4, **TINY), sample_every=2)
    assert same_run(filled, plain4) and [p.name.split(".")[1] for p in cache.glob("ppo_run-*.pt")] == ["4"]
    read = ppo_run(sft, tokenizer, rm, prompts_, PPOConfig(steps=4, **TINY), sample_every=2)
    shorter = ppo_run(sft, tokenizer, rm, prompts_, PPOConfig(steps=2, **TINY), sample_every=1)  # a prefix
    assert same_run(read, plain4) and same_run(shorter, plain2) and len(list(cache.glob("*.pt"))) == 1
    assert read.seconds == filled.seconds and 0 < shorter.seconds < read.seconds  # the training's own time
    assert all(torch.equal(v, plain2.policy.state_dict()[k]) for k, v in read.policy_at(2).state_dict().items())
    other = ppo_run(sft, tokenizer, rm, prompts_, PPOConfig(steps=2, seed=1, **TINY))  # another seed: computed
    assert len(list(cache.glob("*.pt"))) == 2 and not same_run(other, plain2)
