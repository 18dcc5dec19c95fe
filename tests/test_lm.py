"""The small-model infrastructure of Chapters 4 to 7: tokenizers, presets, tasks, decoding, evaluation."""

import numpy as np
import pytest
import torch

from rlcourse.lm import (EOS, addition_problems, bpe_tokenizer, build_gpt, chat_tokens, char_tokenizer,
                         count_parameters, digit_sum_problems, generate, parse_answer, prompt_text,
                         pseudo_words)
from rlcourse.lm.training import causal_lm_loss, pad_batch

ALPHABET = "0123456789+=\n"


@pytest.fixture(scope="module")
def tok():
    return char_tokenizer(ALPHABET)


def test_char_tokenizer_round_trips_and_knows_the_chat_tokens(tok):
    text = "57+218=275\n3+4=7"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(text) and tok.decode(ids) == text
    chat = prompt_text("12+3")
    ids = tok(chat, add_special_tokens=False)["input_ids"]
    assert tok.convert_ids_to_tokens(ids)[:2] == ["<|bos|>", "<|user|>"] and len(ids) == 2 + 4 + 1
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2)


def test_bpe_tokenizer_round_trips_and_compresses():
    texts = [f"the {w} sat on the mat near the {w}" for w in ("cat", "dog", "bird", "fish")] * 20
    tok = bpe_tokenizer(texts, vocab_size=300)
    for t in texts[:4] + ["unseen words: Ubiquitous!"]:
        ids = tok(t, add_special_tokens=False)["input_ids"]
        assert tok.decode(ids) == t
    assert len(tok(texts[0], add_special_tokens=False)["input_ids"]) < len(texts[0]) / 2


def test_chat_tokens_masks_only_the_reply(tok):
    ids, mask = chat_tokens(tok, "12+3", "15")
    tokens = tok.convert_ids_to_tokens(ids)
    assert tokens[-3:] == ["1", "5", EOS] and mask == [0] * (len(ids) - 3) + [1, 1, 1]


def test_nano_preset_size_and_seeded_init(tok):
    a, b, c = (build_gpt(len(tok), "nano", seed=s) for s in (0, 0, 1))
    assert 350_000 < count_parameters(a) < 450_000
    x = torch.tensor([[1, 5, 6, 7]])
    assert torch.equal(a(x).logits, b(x).logits) and not torch.equal(a(x).logits, c(x).logits)
    before = torch.random.get_rng_state()
    build_gpt(len(tok), "nano", seed=3)
    assert torch.equal(before, torch.random.get_rng_state())  # the global RNG is left alone


def test_addition_problems_are_seeded_and_correct():
    probs = addition_problems(200, seed=4)
    assert probs == addition_problems(200, seed=4) and probs != addition_problems(200, seed=5)
    for p in probs:
        a, b = map(int, p["question"].split("+"))
        assert p["value"] == a + b == int(p["answer"]) and 10 <= a < 1000 and 10 <= b < 1000
    rev = addition_problems(5, seed=4, reverse=True)
    assert [r["answer"] for r in rev] == [p["answer"][::-1] for p in probs[:5]]


def test_digit_sum_problems_steps_end_in_the_answer():
    plain, steps = digit_sum_problems(100, seed=3), digit_sum_problems(100, seed=3, show_steps=True)
    assert plain == digit_sum_problems(100, seed=3) and plain != digit_sum_problems(100, seed=4)
    for p, s in zip(plain, steps):
        assert p["question"] == s["question"] and len(p["question"]) == 6
        assert int(p["answer"]) == p["value"] == sum(map(int, p["question"])) % 10
        running = [sum(map(int, p["question"][: i + 1])) % 10 for i in range(6)]
        assert s["answer"] == "".join(map(str, running)) and s["answer"][-1] == p["answer"]


def test_pseudo_words_are_distinct_seeded_and_lower_case():
    words = pseudo_words(500, seed=0)
    assert len(set(words)) == 500 and words == sorted(words) == pseudo_words(500, seed=0)
    assert words != pseudo_words(500, seed=1)
    assert all(w.isalpha() and w.islower() and 6 <= len(w) <= 12 for w in words)


@pytest.mark.parametrize("text,reverse,value", [("275", False, 275), (" 42\n", False, 42), ("572", True, 275),
                                                ("", False, None), ("+12", False, None), ("12+3", False, None),
                                                ("572 1", True, None), ("\u0665", False, 5)])
def test_parse_answer(text, reverse, value):
    assert parse_answer(text, reverse) == value


def test_cached_greedy_decoding_equals_recomputing_everything(tok):
    model = build_gpt(len(tok), "nano", seed=0).eval()
    enc = tok([prompt_text("1+2"), prompt_text("345+67")], return_tensors="pt", padding=True,
              add_special_tokens=False)
    new = generate(model, enc["input_ids"], enc["attention_mask"], max_new_tokens=6, temperature=0.0,
                   eos_token_id=-1)  # never stop early
    for row in range(2):  # recompute without the cache, one row at a time, no padding
        ids = enc["input_ids"][row][enc["attention_mask"][row].bool()][None]
        for t in range(6):
            with torch.no_grad():
                nxt = model(ids).logits[0, -1].argmax()
            assert nxt == new[row, t]
            ids = torch.cat([ids, nxt.view(1, 1)], dim=1)


def test_masked_loss_matches_the_models_own_loss_when_everything_counts(tok):
    model = build_gpt(len(tok), "nano", seed=0)
    batch = pad_batch([[1, 5, 6, 7, 8], [1, 9, 10, 2, 0]], [[1] * 5, [1] * 5], tok.pad_token_id)
    out = model(input_ids=batch["input_ids"], labels=batch["input_ids"])
    assert torch.allclose(causal_lm_loss(out.logits, batch["input_ids"], batch["loss_mask"]), out.loss, atol=1e-6)
    masked = pad_batch([[1, 5, 6, 7, 8]], [[0, 0, 0, 1, 1]], 0)
    logits = model(input_ids=masked["input_ids"]).logits
    logp = torch.log_softmax(logits[0, 2:4], dim=-1)
    expected = -(logp[0, 7] + logp[1, 8]) / 2
    assert torch.allclose(causal_lm_loss(logits, masked["input_ids"], masked["loss_mask"]), expected, atol=1e-6)
    assert np.isfinite(causal_lm_loss(logits, masked["input_ids"], torch.zeros_like(masked["loss_mask"])).item())



def test_training_loss_with_the_head_at_counted_positions_only_equals_the_masked_loss(tok):
    from rlcourse.lm.training import masked_lm_loss

    model = build_gpt(len(tok), "nano", seed=0)
    batch = pad_batch([[1, 5, 6, 7, 8, 2], [1, 9, 10, 2], [1, 5, 2]], [[0, 0, 0, 1, 1, 1], [0, 1, 1, 1], [0, 0, 0]],
                      tok.pad_token_id)
    full = causal_lm_loss(model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits,
                          batch["input_ids"], batch["loss_mask"])
    fast = masked_lm_loss(model, batch)
    assert torch.allclose(fast, full, atol=1e-6)
    grads = [torch.autograd.grad(loss, list(model.parameters())) for loss in (full, fast)]
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*grads))
    nothing = dict(batch, loss_mask=torch.zeros_like(batch["loss_mask"]))
    assert masked_lm_loss(model, nothing).item() == 0.0

def test_rollouts_mask_the_completions_and_share_each_prompt_exactly(tok):
    from rlcourse.lm.rollouts import sample_groups

    model = build_gpt(len(tok), "nano", seed=3)
    questions = ["12+345", "7+8", "999+1"]
    ro = sample_groups(model, tok, questions, group_size=4, max_new_tokens=5, temperature=1.0,
                       generator=torch.Generator().manual_seed(0))
    assert ro.input_ids.shape[0] == 12 and len(ro.replies) == 12
    for b in range(12):  # the mask covers the completion up to and including its first <|eos|>
        completion = ro.input_ids[b, ro.prompt_length:][ro.mask[b, ro.prompt_length:].bool()].tolist()
        assert ro.mask[b, : ro.prompt_length].sum() == 0 and len(completion) >= 1
        assert tok.eos_token_id not in completion[:-1]
        assert ro.replies[b] == tok.decode(completion, skip_special_tokens=True)
    assert torch.equal(ro.input_ids[0, : ro.prompt_length], ro.input_ids[3, : ro.prompt_length])
    # one pass per group, cache repeated == one pass over every row, in value and in gradient
    shared = ro.forward_logits(model)
    (g_shared,) = torch.autograd.grad((shared * ro.attention_mask[..., None]).sum(), model.transformer.wte.weight)
    full = model(input_ids=ro.input_ids, attention_mask=ro.attention_mask, position_ids=ro.position_ids).logits
    (g_full,) = torch.autograd.grad((full * ro.attention_mask[..., None]).sum(), model.transformer.wte.weight)
    m = ro.attention_mask.bool()
    torch.testing.assert_close(shared[m], full[m], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(g_shared, g_full, atol=1e-3, rtol=1e-3)


def test_generating_several_samples_per_prompt_equals_repeating_the_prompt(tok):
    model = build_gpt(len(tok), "nano", seed=4)
    enc = tok([prompt_text("12+3"), prompt_text("456+78")], return_tensors="pt", padding=True, add_special_tokens=False)
    once = generate(model, enc["input_ids"], enc["attention_mask"], 6, temperature=0.0, num_samples=3)
    repeated = generate(model, enc["input_ids"].repeat_interleave(3, 0), enc["attention_mask"].repeat_interleave(3, 0),
                        6, temperature=0.0)
    assert once.shape == (6, 6) and torch.equal(once, repeated)


@pytest.mark.parametrize("a,b,slip", [(57, 68, 15), (12, 34, 46), (999, 1, 990), (5, 5, 0), (123, 4567, 4680)])
def test_add_without_carry_forgets_every_carry(a, b, slip):
    from rlcourse.lm.tasks import add_without_carry

    assert add_without_carry(a, b) == slip == add_without_carry(b, a)


def test_grpo_loop_runs_on_the_pieces_it_is_given():
    """train_grpo uses the functions passed in (the notebook passes the student's): a verifier that
    never rewards leaves every group failing and the parameters exactly where they were."""
    from rlcourse.lm.checkpoints import load_checkpoint
    from rlcourse.lm.grpo import GRPOConfig, Pieces, prompt_batches, train_grpo

    start, tokenizer, _ = load_checkpoint("addition-sft")
    config = GRPOConfig(steps=2, n_prompts=4, group_size=4, eval_every=2)
    never = Pieces(verifier_reward=lambda reply, value, format_bonus=0.0: 0.0)
    model, history = train_grpo(start, tokenizer, config, never, eval_problems=[])
    assert history.all_fail == [1.0, 1.0] and history.exact_match == []
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), start.parameters()))
    trained, history = train_grpo(start, tokenizer, config, eval_problems=[])  # the references
    assert 0 < np.mean(history.reward) < 1
    assert not all(torch.equal(p, q) for p, q in zip(trained.parameters(), start.parameters()))
    batches = prompt_batches(config)
    assert batches == prompt_batches(config) and len(batches) == 2 and all(len(b) == 4 for b in batches)


@pytest.mark.parametrize("module", ["rlcourse.lm.grpo", "rlcourse.lm.ppo"])
def test_a_loops_pieces_are_given_by_keyword_only(module):
    """Given by position, a reordering of the fields of ``Pieces`` would silently swap two functions:
    it is refused, and a piece given by name takes that place, the others being the references."""
    import dataclasses
    import importlib

    Pieces = importlib.import_module(module).Pieces
    with pytest.raises(TypeError):
        Pieces(print)
    names = [f.name for f in dataclasses.fields(Pieces)]
    pieces = Pieces(**{names[-1]: print})
    assert getattr(pieces, names[-1]) is print
    assert all(callable(getattr(pieces, n)) and getattr(pieces, n).__name__ == n for n in names[:-1])


def test_follows_length_counts_the_words_of_a_reply_but_not_its_full_stop():
    from rlcourse.lm.preferences import follows_length

    assert follows_length("brief river", "water boats fish .") and follows_length("brief river", "a b c d e")
    assert not follows_length("brief river", "a b c d e f .") and not follows_length("brief river", ".")
    assert follows_length("detailed river", " ".join(["w"] * 9) + " .")
    assert not follows_length("detailed river", " ".join(["w"] * 6))
    assert follows_length("brief river", "w w w w w w", slack=2)


def test_gold_scorer_gives_the_gold_reward_of_encoded_rows():
    from rlcourse.lm.checkpoints import load_checkpoint
    from rlcourse.lm.preferences import GoldScorer, gold_reward
    from rlcourse.lm.reward_model import encode_replies

    _, tokenizer, _ = load_checkpoint("replies-sft")
    prompts = ["brief river", "detailed jazz", "brief chess", "detailed garden"]
    replies = ["lovely water and boats .", "music songs drums stupid music", "", "roses and bees and trees are lovely ."]
    scorer = GoldScorer(tokenizer)
    scores = scorer.eval().score(encode_replies(tokenizer, prompts, replies))
    assert scores.dtype == torch.float32
    assert scores.tolist() == pytest.approx([gold_reward(p, r) for p, r in zip(prompts, replies)])


def test_cloze_questions_are_sentences_no_pretraining_document_contains():
    from rlcourse.lm.preferences import _TOPIC_OF, CLOZE_FRAMES, TOPICS, cloze_questions, pretraining_documents

    questions = cloze_questions(20, seed=3)
    assert len(questions) == 20 * len(CLOZE_FRAMES) and questions == cloze_questions(20, seed=3)
    corpus = " | ".join(pretraining_documents(2000, seed=4))
    for q in questions:
        assert len(set(q.choices)) == 10 and q.choices[q.answer] not in corpus
        right = q.choices[q.answer].split()
        assert all(len(c.split()) == len(right) for c in q.choices)
        # the right answer is the only choice whose topic words all belong to one topic
        topics = [{w if w in TOPICS else _TOPIC_OF[w] for w in c.split() if w in TOPICS or w in _TOPIC_OF}
                  for c in q.choices]
        assert [len(t) == 1 for t in topics] == [i == q.answer for i in range(10)]
        assert topics[q.answer] == {TOPICS[q.answer]}  # choice i is about topic i


def test_pair_order_accuracy_counts_the_pairs_ordered_as_labelled_ties_half():
    from rlcourse.lm.reward_model import Comparison, pair_order_accuracy

    c = Comparison("brief river", ["a", "b", "c"], ranking=[2, 0, 1])  # pairs (c, a), (c, b), (a, b)
    d = Comparison("brief jazz", ["x", "y"], ranking=[1, 0])            # pair (y, x)
    assert pair_order_accuracy([0.5, 0.0, 1.0], [c]) == 1.0
    assert pair_order_accuracy([0.5, 1.0, 0.0], [c]) == 0.0               # every pair reversed
    assert pair_order_accuracy([0.0, 0.0, 1.0], [c]) == pytest.approx(2.5 / 3)
    # the scores of several comparisons follow one another: c's three replies, then d's two
    assert pair_order_accuracy(np.array([0.5, 0.0, 1.0, 3.0, 2.0]), [c, d]) == pytest.approx(3 / 4)


def test_reward_model_score_runs_the_last_block_at_the_last_position_only_and_equals_the_full_pass():
    from rlcourse.lm.checkpoints import load_checkpoint
    from rlcourse.lm.reward_model import ScalarModel, encode_replies

    sft, tokenizer, _ = load_checkpoint("replies-sft")
    rm = ScalarModel(sft)
    torch.nn.init.normal_(rm.head.weight, std=0.1, generator=torch.Generator().manual_seed(0))
    prompts = ["brief river", "detailed jazz", "brief chess", "detailed garden"]
    replies = ["lovely water .", "music songs drums and more music for the night", "", "roses ."]  # left padding
    batch = encode_replies(tokenizer, prompts, replies)
    full = rm(batch.input_ids, batch.attention_mask, batch.position_ids)[:, -1]
    fast = rm.score(batch)
    assert torch.allclose(fast, full, atol=1e-5)
    grads = [torch.autograd.grad(out.square().sum(), list(rm.parameters())) for out in (full, fast)]
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(*grads))


def test_the_lean_gpt2_pass_gives_transformers_numbers_to_the_last_bit(tok):
    """rlcourse.lm.gpt2 replaces model(...) in decoding, rollouts and reward models: it must compute the
    same numbers exactly, so that the speed-up changes no result of the book."""
    import copy

    from rlcourse.lm import gpt2
    from rlcourse.lm.models import GPTPreset

    model = build_gpt(len(tok), GPTPreset(n_layer=3, n_embd=64, n_head=4, n_positions=32), seed=3)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, len(tok), (6, 9), generator=g)
    padded = torch.ones_like(ids)
    padded[0, :3] = padded[1, :1] = 0  # left padding
    padded[2, -2:] = 0                 # right padding
    full = torch.ones_like(ids)
    for mask in (padded, full):  # with padding (a mask), and without (is_causal, or no mask at all)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.no_grad():
            for p in (pos, None):
                assert torch.equal(gpt2.lm_logits(model, ids, mask, p),
                                   model(input_ids=ids, attention_mask=mask, position_ids=p).logits)
            # a prompt, then one position at a time from the cache
            for p in (pos, None):
                out = model(input_ids=ids[:, :5], attention_mask=mask[:, :5],
                            position_ids=None if p is None else p[:, :5], use_cache=True)
                cache = gpt2.Cache()
                mine = gpt2.lm_logits(model, ids[:, :5], mask[:, :5], None if p is None else p[:, :5], cache)
                assert torch.equal(mine, out.logits)
                hf_cache = out.cache
                for t in range(5, 9):
                    step = None if p is None else p[:, t:t + 1]
                    out = model(input_ids=ids[:, t:t + 1], attention_mask=mask[:, :t + 1], position_ids=step,
                                cache=hf_cache, use_cache=True)
                    hf_cache = out.cache
                    assert torch.equal(gpt2.lm_logits(model, ids[:, t:t + 1], mask[:, :t + 1], step, cache),
                                       out.logits)
        # several positions after a cache, with gradients (PPO's pass over sampled rows)
        twin = copy.deepcopy(model)
        weights = torch.randn(6, 9, len(tok), generator=g)
        out = model(input_ids=ids[:, :4], attention_mask=mask[:, :4], position_ids=pos[:, :4], use_cache=True)
        rest = model(input_ids=ids[:, 4:], attention_mask=mask, position_ids=pos[:, 4:], cache=out.cache,
                     use_cache=True)
        expected = torch.cat([out.logits, rest.logits], dim=1)
        (expected * weights).sum().backward()
        cache = gpt2.Cache()
        first = gpt2.lm_logits(twin, ids[:, :4], mask[:, :4], pos[:, :4], cache)
        mine = torch.cat([first, gpt2.lm_logits(twin, ids[:, 4:], mask, pos[:, 4:], cache)], dim=1)
        (mine * weights).sum().backward()
        assert torch.equal(mine, expected)
        assert all(torch.equal(a.grad, b.grad) for a, b in zip(model.parameters(), twin.parameters()))
        model.zero_grad()
        # the input of the last block, as the reward model's score reads it: every position, padding too
        hidden = model.transformer(input_ids=ids, attention_mask=mask, position_ids=pos, output_hidden_states=True)
        assert torch.equal(gpt2.run_blocks(model.transformer, ids, mask, pos, blocks=2), hidden.hidden_states[2])


def test_the_lean_pass_covers_the_course_models_and_nothing_else(tok):
    from transformers import GPT2Config, GPT2Model

    from rlcourse.lm import gpt2
    from rlcourse.lm.checkpoints import load_checkpoint, load_reward_model

    assert gpt2.supports(load_checkpoint("replies-sft")[0]) and gpt2.supports(load_reward_model()[0])
    assert gpt2.supports(build_gpt(len(tok), "nano"))
    config = dict(vocab_size=20, n_embd=32, n_layer=1, n_head=2, n_positions=16, resid_pdrop=0.0, embd_pdrop=0.0)
    assert not gpt2.supports(GPT2Model(GPT2Config(**config, attn_pdrop=0.1)))  # dropout
    assert not gpt2.supports(GPT2Model(GPT2Config(**config, attn_pdrop=0.0, add_cross_attention=True)))
    eager = build_gpt(len(tok), "nano")
    eager.config._attn_implementation = "eager"
    assert not gpt2.supports(eager)


def test_every_caller_of_the_lean_pass_gives_what_transformers_path_gives(tok, monkeypatch):
    """Decoding, the rollouts' shared-prompt pass, the reward and value models and the training loss,
    once through rlcourse.lm.gpt2 and once through model(...): the same numbers and gradients."""
    import copy

    from rlcourse.lm import generate, gpt2
    from rlcourse.lm.checkpoints import load_checkpoint
    from rlcourse.lm.preferences import prompts
    from rlcourse.lm.reward_model import ScalarModel, encode_replies
    from rlcourse.lm.rollouts import sample_groups
    from rlcourse.lm.training import masked_lm_loss

    sft, tokenizer, _ = load_checkpoint("replies-sft")
    rm = ScalarModel(sft)
    torch.nn.init.normal_(rm.head.weight, std=0.1, generator=torch.Generator().manual_seed(0))
    ids = torch.tensor([[0, 0, 1, 5, 6], [1, 7, 8, 9, 10]])
    batch = pad_batch([[1, 5, 6, 7, 8, 2], [1, 9, 10, 2]], [[0, 0, 0, 1, 1, 1], [0, 1, 1, 1]], 0)

    def everything():
        models = copy.deepcopy(sft), copy.deepcopy(rm)
        draws = [generate(models[0], ids, (ids != 0).long(), 6, t, None, torch.Generator().manual_seed(4),
                          num_samples=3) for t in (0.0, 1.0)]
        ro = sample_groups(models[0], tokenizer, prompts()[:3], 4, 12, generator=torch.Generator().manual_seed(5))
        logits = ro.forward_logits(models[0])
        values = models[1](ro.input_ids, ro.attention_mask, ro.position_ids)
        scores = models[1].score(encode_replies(tokenizer, prompts()[:3], ["lovely water .", "", "music ."]))
        loss = masked_lm_loss(models[0], batch)
        (logits.square().mean() + values.square().mean() + scores.sum() + loss).backward()
        grads = [p.grad for m in models for p in m.parameters()]
        return [*draws, ro.input_ids, logits, values, scores, loss, *grads]

    lean = everything()
    monkeypatch.setattr(gpt2, "supports", lambda model: False)
    assert all(torch.equal(a, b) for a, b in zip(lean, everything(), strict=True))


def test_the_composed_gelu_is_gpt2s_gelu_with_its_derivative(monkeypatch):
    """Where PyTorch runs its generic CPU kernels, the course's models compute GPT-2's tanh GELU from
    plain tensor operations (rlcourse.lm.models.GELUTanh): the same function and derivative as the fused
    kernel, within rounding; elsewhere, the fused kernel itself, to the last bit."""
    import torch.nn.functional as F

    from rlcourse.lm import models
    from rlcourse.lm.checkpoints import load_checkpoint

    composed = models._ComposedGELUTanh.apply
    x = torch.linspace(-6, 6, 1201, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(composed, (x[::40].detach().requires_grad_(),))
    mine, = torch.autograd.grad(composed(x).sum(), x)
    fused, = torch.autograd.grad(F.gelu(x, approximate="tanh").sum(), x)
    assert torch.allclose(composed(x), F.gelu(x, approximate="tanh"), atol=1e-12)
    assert torch.allclose(mine, fused, atol=1e-12)

    x = torch.randn(64, 512, generator=torch.Generator().manual_seed(0))
    for generic in (False, True):
        monkeypatch.setattr(models, "GENERIC_CPU_KERNELS", generic)
        out = models.GELUTanh()(x)
        if generic:
            assert torch.allclose(out, F.gelu(x, approximate="tanh"), atol=1e-6)
        else:
            assert torch.equal(out, F.gelu(x, approximate="tanh"))
    for model in (build_gpt(20, "nano"), load_checkpoint("replies-sft")[0]):
        acts = [block.mlp.act for block in model.transformer.h]
        assert acts and all(isinstance(act, models.GELUTanh) for act in acts)
    monkeypatch.setattr(models, "FAST_GELU", "gelu")  # as bench/checkpoint_redraw.py --activation gelu does
    exact = build_gpt(20, "nano")
    assert exact.config.activation_function == "gelu"
    assert not any(isinstance(m, models.GELUTanh) for m in exact.modules())  # another activation is kept
