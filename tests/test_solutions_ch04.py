"""Properties of Chapter 4's reference implementations (data and tokens) and of the synthetic crawl."""

import json

import pytest
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

from rlcourse.lm.corpus import BLOCKED_DOMAINS, web_pages
from rlcourse.lm.tokenizers import PRETOKENIZE, merge_pair
from solutions.ch04_assistant import bpe_encode, bpe_train, extract_text, remove_pii


@pytest.fixture(scope="module")
def pages():
    return web_pages(300, seed=1)


@pytest.fixture(scope="module")
def corpus(pages):
    return "\n".join(extract_text(p["html"]) for p in pages if not any(d in p["url"] for d in BLOCKED_DOMAINS))


def test_crawl_is_seeded_and_has_every_problem_a_pipeline_removes(pages):
    assert pages == web_pages(300, seed=1) and pages != web_pages(300, seed=2)
    htmls = [p["html"] for p in pages]
    assert len(set(htmls)) < len(htmls)  # exact duplicates
    assert any(d in p["url"] for p in pages for d in BLOCKED_DOMAINS)
    assert any("@" in h for h in htmls) and any("Der" in h or "Die" in h for h in htmls)


def test_extracted_text_has_no_markup_or_boilerplate(pages):
    for p in pages:
        text = extract_text(p["html"])
        assert "<" not in text.replace("<EMAIL>", "") and "&amp;" not in text and "&#39;" not in text
        assert "Copyright" not in text and "Home" not in text and "tracker" not in text


def test_pii_removal_leaves_no_address_or_number_but_keeps_other_numbers(corpus):
    clean = remove_pii(corpus)
    assert "@" not in clean and "(555)" not in clean and "+44" not in clean
    assert remove_pii("In 1890, 12 boats.") == "In 1890, 12 boats."
    assert remove_pii(clean) == clean  # idempotent


def test_merge_pair_fuses_left_to_right():
    assert merge_pair(list("aaaa"), ("a", "a")) == ["aa", "aa"]
    assert merge_pair(list("aaa"), ("a", "a")) == ["aa", "a"]
    assert merge_pair(["a"], ("a", "a")) == ["a"]


def test_bpe_matches_the_tokenizers_library_merge_for_merge(corpus):
    n = 150
    ours = bpe_train(corpus, n)
    alphabet = sorted(set(corpus))
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.Split(Regex(PRETOKENIZE.pattern), behavior="isolated")
    hf.train_from_iterator([corpus], trainers.BpeTrainer(vocab_size=len(alphabet) + n, initial_alphabet=alphabet,
                                                         show_progress=False))
    assert ours == [tuple(m) for m in json.loads(hf.to_str())["model"]["merges"]]
    for line in corpus.splitlines()[:50]:
        assert bpe_encode(line, ours) == hf.encode(line).tokens


def test_bpe_round_trips_and_compresses(corpus):
    merges = bpe_train(corpus, 100)
    assert len(merges) == 100 and len(set(merges)) == 100
    for text in [corpus[:2000], "unseen: Ubiquitous £€ 42!", ""]:
        assert "".join(bpe_encode(text, merges)) == text
    assert len(bpe_encode(corpus, merges)) < len(corpus) / 1.5
    assert bpe_train("ab", 10) == [("a", "b")]  # stops when nothing is left to merge


def test_next_token_loss_equals_the_models_own_loss():
    import torch

    from rlcourse.lm import build_gpt
    from rlcourse.reference.ch04_assistant import next_token_loss

    model = build_gpt(50, "nano", seed=0)
    ids = torch.randint(0, 50, (3, 12), generator=torch.Generator().manual_seed(0))
    out = model(input_ids=ids, labels=ids)
    assert torch.allclose(next_token_loss(out.logits, ids), out.loss, atol=1e-6)


def test_sample_token_greedy_top_k_and_temperature():
    import torch

    from rlcourse.reference.ch04_assistant import sample_token

    logits = torch.tensor([[3.0, 2.0, 1.0, 0.0]]).repeat(4000, 1)
    assert torch.equal(sample_token(logits, 0.0, None, None), torch.zeros(4000, dtype=torch.long))
    draws = sample_token(logits, 1.0, 2, torch.Generator().manual_seed(0))
    assert set(draws.tolist()) == {0, 1}
    cold = (sample_token(logits, 0.25, None, torch.Generator().manual_seed(1)) == 0).float().mean()
    hot = (sample_token(logits, 4.0, None, torch.Generator().manual_seed(1)) == 0).float().mean()
    assert cold > 0.95 > 0.5 > hot
    freq = (sample_token(logits, 1.0, None, torch.Generator().manual_seed(1)) == 0).float().mean()
    assert abs(freq - torch.softmax(logits[0], 0)[0]) < 0.04
    assert torch.equal(draws, sample_token(logits, 1.0, 2, torch.Generator().manual_seed(0)))


def test_chat_tokens_mask_covers_the_reply_and_its_eos_only():
    from rlcourse.lm import char_tokenizer
    from rlcourse.reference.ch04_assistant import chat_tokens

    tok = char_tokenizer("abc ?")
    ids, mask = chat_tokens(tok, "ab?", "cab")
    assert tok.convert_ids_to_tokens(ids) == ["<|bos|>", "<|user|>", "a", "b", "?", "<|assistant|>", "c", "a", "b",
                                              "<|eos|>"]
    assert mask == [0] * 6 + [1] * 4
