"""Exercises of Chapter 4 (data and tokens): cases, points and the plausible mistakes each check must catch."""

import html as html_lib
import math
import re
from collections import Counter

import torch

from autograde.spec import Chapter, Exercise, Mistake, variant
from rlcourse.lm.corpus import web_pages
from rlcourse.lm.tokenizers import PRETOKENIZE, merge_pair
from rlcourse.reference import ch04_assistant as shared
from solutions import ch04_assistant as ref

PAGE = ('<html><head><title>Fish &amp; Chips</title><style>p { color: red; }</style></head><body>'
        '<nav><a href="/">Home</a></nav><main><p>Fish &amp; chips at the <b>harbour</b>.</p>'
        '<p>  Open daily, it&#39;s cheap.  </p></main><script>track();</script>'
        '<footer>All rights reserved</footer></body></html>')
PAGES = web_pages(60, seed=3)


# ----- wrong implementations -------------------------------------------------------------------
def _text_whole_page(html):
    return html_lib.unescape(re.sub(r"<[^>]+>", "\n", html)).strip()


def _text_variant(html, unescape=True, strip_tags=True, sep="\n"):
    main = re.search(r"<main>(.*?)</main>", html, flags=re.S)
    if main is None:
        return ""
    out = []
    for p in re.findall(r"<p>(.*?)</p>", main.group(1), flags=re.S):
        p = re.sub(r"<[^>]+>", "", p) if strip_tags else p
        out.append((html_lib.unescape(p) if unescape else p).strip())
    return sep.join(out)


def _pii_emails_only(text):
    return re.sub(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", "<EMAIL>", text)


def _pii_simple_email(text):
    text = re.sub(r"\w+@\w+\.\w+", "<EMAIL>", text)
    text = re.sub(r"\+\d(?: ?\d){7,}", "<PHONE>", text)
    return re.sub(r"\(\d{3}\) \d{3}-\d{4}", "<PHONE>", text)


def _pii_any_digits(text):
    text = re.sub(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", "<EMAIL>", text)
    return re.sub(r"[+(]?\d[\d ()-]{2,}\d", "<PHONE>", text)


def _pii_us_phones_only(text):
    text = re.sub(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", "<EMAIL>", text)
    return re.sub(r"\(\d{3}\) \d{3}-\d{4}", "<PHONE>", text)


def _train_variant(text, n_merges, weighted=True, pretokenize=True, ties_to_first=True):
    pieces = Counter(PRETOKENIZE.findall(text)) if pretokenize else Counter([text])
    order = {c: i for i, c in enumerate(sorted(set("".join(pieces))))}
    splits = {p: list(p) for p in pieces}
    merges = []
    for _ in range(n_merges):
        counts = Counter()
        for piece, freq in pieces.items():
            for pair in zip(splits[piece], splits[piece][1:]):
                counts[pair] += freq if weighted else 1
        if not counts:
            break
        sign = -1 if ties_to_first else 1
        best = max(counts, key=lambda p: (counts[p], sign * order[p[0]], sign * order[p[1]]))
        merges.append(best)
        order[best[0] + best[1]] = len(order)
        splits = {piece: merge_pair(s, best) for piece, s in splits.items()}
    return merges


def _encode_longest_match(text, merges):
    vocab = {a + b for a, b in merges}
    tokens = []
    for piece in PRETOKENIZE.findall(text):
        i = 0
        while i < len(piece):
            j = next(j for j in range(len(piece), i, -1) if j == i + 1 or piece[i:j] in vocab)
            tokens.append(piece[i:j])
            i = j
    return tokens


def _encode_first_occurrence(text, merges):
    tokens = []
    for piece in PRETOKENIZE.findall(text):
        symbols = list(piece)
        for a, b in merges:  # fuses only the first occurrence of each pair
            for i in range(len(symbols) - 1):
                if (symbols[i], symbols[i + 1]) == (a, b):
                    symbols[i:i + 2] = [a + b]
                    break
        tokens += symbols
    return tokens


def _encode_characters(text, merges):
    return list(text)


def _loss_variant(logits, input_ids, shift=1, reduction="mean", softmax_first=False):
    V = logits.shape[-1]
    if shift == 1:
        pred, target = logits[:, :-1], input_ids[:, 1:]
    elif shift == 0:
        pred, target = logits, input_ids
    else:
        pred, target = logits[:, 1:], input_ids[:, :-1]
    pred = torch.softmax(pred, dim=-1) if softmax_first else pred
    return torch.nn.functional.cross_entropy(pred.reshape(-1, V), target.reshape(-1), reduction=reduction)


def _loss_negated(logits, input_ids):
    return -_loss_variant(logits, input_ids)


def _sample_variant(logits, temperature, top_k, generator, multiply=False, smallest=False, use_generator=True):
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits * temperature if multiply else logits / temperature
    if top_k is not None:
        k = min(top_k, logits.shape[-1])
        kth = (torch.topk(-logits, k, dim=-1).values[:, -1:] * -1) if smallest else torch.topk(logits, k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits > kth if smallest else logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator if use_generator else None).squeeze(1)


def _chat_variant(tokenizer, user, assistant, bos=True, mask_prompt=False, eos=True, train_eos=True):
    prompt = tokenizer(f"{'<|bos|>' if bos else ''}<|user|>{user}<|assistant|>", add_special_tokens=False)["input_ids"]
    reply = tokenizer(assistant + ("<|eos|>" if eos else ""), add_special_tokens=False)["input_ids"]
    mask = [1 if mask_prompt else 0] * len(prompt) + [1] * len(reply)
    if eos and not train_eos:
        mask[-1] = 0
    return prompt + reply, mask


# ----- cases ------------------------------------------------------------------------------------
def _lm_case(seed, B, T, V):
    gen = torch.Generator().manual_seed(seed)
    return dict(logits=3 * torch.randn(B, T, V, generator=gen), input_ids=torch.randint(0, V, (B, T), generator=gen))


def _sample_case(seed, temperature, top_k, V=6, B=64):
    gen = torch.Generator().manual_seed(seed)
    return dict(logits=(2 * torch.randn(1, V, generator=gen)).repeat(B, 1), temperature=temperature, top_k=top_k,
                seed=seed)


CORPUS = "\n".join(ref.extract_text(p["html"]) for p in PAGES)
SMALL = "low lower lowest newer newest wider widest low low"

def _bpc_nats(loss, n_tokens, n_characters):
    return float(loss * n_tokens / n_characters)


def _bpc_per_token(loss, n_tokens, n_characters):
    return float(loss / math.log(2))


def _bpc_inverted(loss, n_tokens, n_characters):
    return float(loss * n_characters / n_tokens / math.log(2))


def _bpc_log10(loss, n_tokens, n_characters):
    return float(loss * n_tokens / math.log(10) / n_characters)


CHAPTER = Chapter(
    id="04-text-to-assistant",
    notebook="text_to_assistant.ipynb",
    exercises=[
        Exercise(
            reference=ref.extract_text,
            visible=[dict(html=PAGE), dict(html=PAGES[0]["html"])],
            hidden=[dict(html=PAGES[i]["html"]) for i in (4, 9, 17)] +
                   [dict(html="<html><body><p>no main here</p></body></html>"),
                    dict(html="<main><p>a <i>b</i> &amp; c</p><div>skip</div><p>d</p></main>")],
            mistakes=[
                Mistake("whole_page", "text from the whole page is kept (title, navigation, script, footer): "
                        "keep only the <p> paragraphs inside <main>.", _text_whole_page),
                Mistake("no_unescape", "HTML entities are left as they are: decode them (html.unescape), "
                        "so '&amp;' becomes '&'.", variant(_text_variant, unescape=False)),
                Mistake("inner_tags", "tags inside a paragraph (like <b>) are still there: remove every "
                        "<...> from the paragraph text.", variant(_text_variant, strip_tags=False)),
                Mistake("space_joined", "paragraphs are joined with spaces; join them with newlines.",
                        variant(_text_variant, sep=" ")),
            ],
            points=(1, 1),
        ),
        Exercise(
            reference=ref.remove_pii,
            visible=[dict(text="Mail anna.12@example.org or call (555) 123-4567 before 1890 ends."),
                     dict(text="Write to ben.41@mail.example.com, call +44 20 1234 5678 or (555) 987-6543.")],
            hidden=[dict(text=ref.extract_text(p["html"])) for p in PAGES if "@" in p["html"]][:4] +
                   [dict(text="No personal data here: 2024, 12 apples, version 3.10."),
                    dict(text="a+b@x.io, (555) 000-1111 and +1 2345 6789 0.")],
            mistakes=[
                Mistake("emails_only", "phone numbers are still there: replace them by <PHONE> too.",
                        _pii_emails_only),
                Mistake("simple_email", "only part of an e-mail address was replaced: names may contain dots "
                        "and domains several dots (anna.12@mail.example.com).", _pii_simple_email),
                Mistake("any_digits", "ordinary numbers (like a year) were replaced as phone numbers: match "
                        "only the two phone formats.", _pii_any_digits),
                Mistake("us_phones_only", "international numbers (+44 20 1234 5678) are still there.",
                        _pii_us_phones_only),
            ],
            points=(1, 1),
        ),
        Exercise(
            reference=ref.bpe_train,
            visible=[dict(text="aaab", n_merges=2), dict(text="ab ab ab", n_merges=3), dict(text=SMALL, n_merges=8)],
            hidden=[dict(text=CORPUS[:3000], n_merges=40), dict(text="ab cd", n_merges=3),
                    dict(text="x", n_merges=5), dict(text=SMALL + " " + SMALL.upper(), n_merges=12)],
            mistakes=[
                Mistake("unweighted", "each distinct piece was counted once; a piece that occurs k times "
                        "contributes its pairs k times.", variant(_train_variant, weighted=False)),
                Mistake("no_pretokenize", "pairs were counted across piece boundaries: pre-tokenize with "
                        "PRETOKENIZE first and count pairs only inside pieces.",
                        variant(_train_variant, pretokenize=False)),
                Mistake("ties_to_last", "ties went to the most recently created symbols; they go to the "
                        "earliest (sorted characters first, then merges in the order learned).",
                        variant(_train_variant, ties_to_first=False)),
            ],
            points=(1, 2),
        ),
        Exercise(
            reference=ref.bpe_encode,
            visible=[dict(text="aaab", merges=[("a", "a"), ("aa", "a")]),
                     dict(text="abc aaaa", merges=[("b", "c"), ("a", "b"), ("a", "a")]),
                     dict(text="lowest newer", merges=ref.bpe_train(SMALL, 8))],
            hidden=[dict(text=CORPUS[3000:3600], merges=ref.bpe_train(CORPUS[:3000], 40)),
                    dict(text="", merges=[("a", "b")]), dict(text="abab", merges=[("b", "a"), ("a", "b")])],
            mistakes=[
                Mistake("longest_match", "this is greedy longest-match, not BPE: apply the learned merges, "
                        "earliest-learned first.", _encode_longest_match),
                Mistake("first_occurrence_only", "each merge fused only its first occurrence in a piece; "
                        "fuse every occurrence.", _encode_first_occurrence),
                Mistake("characters", "no merge was applied: these are single characters.", _encode_characters),
            ],
            points=(1, 1),
        ),
        Exercise(
            reference=shared.next_token_loss,
            visible=[_lm_case(0, 2, 5, 7), _lm_case(1, 1, 3, 4)],
            hidden=[_lm_case(2, 4, 16, 50), _lm_case(3, 1, 2, 3)],
            mistakes=[
                Mistake("no_shift", "the logits at position t were compared with token t itself; they predict "
                        "token t+1: use logits[:, :-1] against input_ids[:, 1:].", variant(_loss_variant, shift=0)),
                Mistake("shift_backwards", "the shift goes the wrong way: logits[:, :-1] predict input_ids[:, 1:].",
                        variant(_loss_variant, shift=-1)),
                Mistake("sum_not_mean", "the losses are summed; take their mean.",
                        variant(_loss_variant, reduction="sum")),
                Mistake("softmax_first", "cross_entropy applies log-softmax itself: pass it the raw logits.",
                        variant(_loss_variant, softmax_first=True)),
                Mistake("negated_loss", "this is the mean log-probability of the next tokens; the loss is its "
                        "negative, -log softmax(logits)[target], which minimising makes the text more likely.",
                        _loss_negated),
            ],
            points=(1, 1),
            rtol=1e-5, atol=1e-6,
        ),
        Exercise(
            reference=shared.sample_token,
            visible=[_sample_case(0, 1.0, None), _sample_case(1, 0.5, 3), _sample_case(2, 0.0, None)],
            hidden=[_sample_case(3, 2.0, 2), _sample_case(4, 1.0, 1), _sample_case(5, 0.7, 10, V=8)],
            mistakes=[
                Mistake("temperature_multiplied", "the logits were multiplied by the temperature; divide them "
                        "(a low temperature must sharpen the distribution).", variant(_sample_variant, multiply=True)),
                Mistake("top_k_smallest", "the k *smallest* logits were kept; keep the k largest.",
                        variant(_sample_variant, smallest=True)),
                Mistake("global_rng", "the draw did not use `generator`: pass generator=generator to "
                        "torch.multinomial, so that sampling is reproducible.",
                        variant(_sample_variant, use_generator=False)),
                Mistake("top_k_ignored", "top_k was ignored: set every logit below the k-th largest of its row "
                        "to -inf before the softmax.", variant(_sample_variant, top_k=None)),
            ],
            points=(1, 1),
            adapter="seeded_sampler",
        ),
        Exercise(
            reference=ref.bits_per_character,
            visible=[dict(loss=2 * math.log(2), n_tokens=10, n_characters=20),
                     dict(loss=1.7, n_tokens=1200, n_characters=3000)],
            hidden=[dict(loss=0.9, n_tokens=5000, n_characters=5000), dict(loss=3.2, n_tokens=700, n_characters=2900),
                    dict(loss=0.05, n_tokens=64, n_characters=301)],
            mistakes=[
                Mistake("nats_not_bits", "the loss is in nats: divide by ln 2 to get bits.", _bpc_nats),
                Mistake("per_token", "this is bits per *token*: multiply by the number of tokens to get the "
                        "text's total, then divide by its characters.", _bpc_per_token),
                Mistake("ratio_inverted", "tokens and characters are swapped: total bits = loss * n_tokens / "
                        "ln 2, shared out over n_characters.", _bpc_inverted),
                Mistake("log10", "a bit is log base 2: divide nats by ln 2, not ln 10.", _bpc_log10),
            ],
            points=(1, 1),
            rtol=1e-9, atol=1e-12,
        ),
        Exercise(
            reference=shared.chat_tokens,
            visible=[dict(alphabet="abcdefghijklmnopqrstuvwxyz ?.", user="hi?", assistant="hello."),
                     dict(alphabet="0123456789+=", user="12+3", assistant="15")],
            hidden=[dict(alphabet="abc", user="", assistant="abc"), dict(alphabet="ab ", user="a b a", assistant="")],
            mistakes=[
                Mistake("mask_everything", "the prompt is trained on too: the mask must be 0 on the user's turn "
                        "and the special tokens before the reply.", variant(_chat_variant, mask_prompt=True)),
                Mistake("eos_not_trained", "the final <|eos|> has mask 0; it must be 1, or the model never "
                        "learns to stop.", variant(_chat_variant, train_eos=False)),
                Mistake("no_bos", "the sequence must start with <|bos|>.", variant(_chat_variant, bos=False)),
                Mistake("no_eos", "the reply must end with <|eos|>.", variant(_chat_variant, eos=False)),
            ],
            points=(1, 1),
            adapter="char_chat_tokens",
        ),
    ],
)
