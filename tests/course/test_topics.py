"""The topic language and its exact predictors, checked against brute-force enumeration of every
document of tiny languages; its character-level twin, checked the same way."""

import math

import pytest
import torch

import forge_lib as fl
from forge_lib.course import chars, topics

A, B, C, D = 4, 5, 6, 7  # the word ids of the tiny languages


def _rows(gen: torch.Generator, allowed: dict[int, list[int]], vocab: int) -> torch.Tensor:
    """(V, V) transitions with seeded positive probabilities on the allowed successors."""
    p = torch.zeros(vocab, vocab, dtype=torch.float64)
    for current, nxt in allowed.items():
        w = torch.rand(len(nxt), generator=gen, dtype=torch.float64) + 0.2
        p[current, nxt] = w / w.sum()
    return p


def dag_language(words=("a", "b", "c", "d")) -> fl.TopicLanguage:
    """Two topics over 4 words; a document is an increasing run of words (ids only grow), so
    there are 16 documents, the empty one included, and a word can sit at several positions."""
    tok = fl.WordTokenizer(list(words))
    gen = torch.Generator().manual_seed(0)
    allowed = {fl.BOS_ID: [A, B, C, D, fl.EOS_ID]}
    allowed.update({w: [*range(w + 1, D + 1), fl.EOS_ID] for w in (A, B, C, D)})
    p = torch.stack([_rows(gen, allowed, len(tok)) for _ in range(2)])
    return fl.TopicLanguage(tok, torch.tensor([0.3, 0.7], dtype=torch.float64), p)


def cyclic_language() -> fl.TopicLanguage:
    """Two topics over 2 words that may repeat; <eos> is likely after every word."""
    tok = fl.WordTokenizer(["a", "b"])
    p = torch.zeros(2, len(tok), len(tok), dtype=torch.float64)
    for k, (stay, end) in enumerate([(0.8, 0.8), (0.2, 0.85)]):
        p[k, fl.BOS_ID, [A, B]] = torch.tensor([stay, 1 - stay], dtype=torch.float64)
        for w, other in ((A, B), (B, A)):
            p[k, w, fl.EOS_ID] = end
            p[k, w, w], p[k, w, other] = (1 - end) * stay, (1 - end) * (1 - stay)
    return fl.TopicLanguage(tok, torch.tensor([0.4, 0.6], dtype=torch.float64), p)


def enumerate_documents(lang: fl.TopicLanguage, max_words: int) -> list[tuple[list[int], float]]:
    """Every document of at most max_words words with its probability: a depth-first walk that
    carries each topic's probability of the prefix."""
    p = lang.transitions.tolist()
    out = []
    stack = [([fl.BOS_ID], lang.prior.tolist())]
    while stack:
        prefix, per_topic = stack.pop()
        ended = sum(q * p[k][prefix[-1]][fl.EOS_ID] for k, q in enumerate(per_topic))
        if ended > 0:
            out.append((prefix + [fl.EOS_ID], ended))
        if len(prefix) <= max_words:
            for w in range(A, len(lang.tokenizer)):
                nxt = [q * p[k][prefix[-1]][w] for k, q in enumerate(per_topic)]
                if sum(nxt) > 0:
                    stack.append((prefix + [w], nxt))
    return sorted(out)


def run_counts(docs: list[tuple[list[int], float]], max_len: int) -> dict[tuple, float]:
    """Expected number of times each contiguous run of at most max_len ids occurs in a document."""
    counts: dict[tuple, float] = {}
    for doc, p in docs:
        for s in range(len(doc)):
            for n in range(1, min(max_len, len(doc) - s) + 1):
                run = tuple(doc[s:s + n])
                counts[run] = counts.get(run, 0.0) + p
    return counts


@pytest.fixture(scope="module")
def dag():
    lang = dag_language()
    return lang, enumerate_documents(lang, 4)


def test_the_enumeration_is_complete(dag):
    _, docs = dag
    assert len(docs) == 16 and math.isclose(sum(p for _, p in docs), 1.0, rel_tol=1e-13)


def test_full_history_nll_is_the_ratio_of_prefix_probabilities(dag):
    lang, docs = dag
    ids = [d for d, _ in docs]
    brute = []
    for doc in ids:
        for t in range(1, len(doc)):
            longer, shorter = (sum(p for d, p in docs if d[:n] == doc[:n]) for n in (t + 1, t))
            brute.append(-math.log(longer / shorter))
    assert torch.allclose(lang.token_nll(ids), torch.tensor(brute, dtype=torch.float64),
                          rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("context", range(7))
def test_c_context_nll_is_the_ratio_of_window_counts(dag, context):
    # The best predictor from the last c ids: p(x | window) = E[#(window, x)] / E[#window],
    # counted over every document; c = 0 is the share of targets equal to x.
    lang, docs = dag
    ids = [d for d, _ in docs]
    targets = sum(p * (len(d) - 1) for d, p in docs)
    counts = run_counts(docs, 7)
    brute = []
    for doc in ids:
        for t in range(1, len(doc)):
            if context == 0:
                brute.append(-math.log(sum(p * d[1:].count(doc[t]) for d, p in docs) / targets))
                continue
            window = tuple(doc[max(0, t - context):t])
            brute.append(-math.log(counts[window + (doc[t],)] / counts[window]))
    assert torch.allclose(lang.token_nll(ids, context), torch.tensor(brute, dtype=torch.float64),
                          rtol=1e-12, atol=1e-13)


@pytest.fixture(scope="module")
def cyclic():
    lang = cyclic_language()
    docs = enumerate_documents(lang, 14)
    return lang, docs, run_counts(docs, 5)


@pytest.mark.parametrize("context", [1, 2, 3])
def test_c_context_nll_with_repeated_words_matches_truncated_enumeration(cyclic, context):
    # Words repeat, so a window's first word can sit at any position: the expected visits, not
    # one position's marginal, weigh the topics. Enumeration stops at 14 words, leaving out
    # documents of probability 7e-11 in all, hence the tolerance (a wrong weighting, such as
    # position 1's marginal or the chain's stationary law, is off by about 1e-2).
    lang, docs, counts = cyclic
    assert 1 - 1e-10 < sum(p for _, p in docs) < 1
    probe = [[1, A, A, B, A, B, B, 2], [1, B, B, B, B, A, 2], [1, A, 2]]
    brute = []
    for doc in probe:
        for t in range(1, len(doc)):
            window = tuple(doc[max(0, t - context):t])
            brute.append(-math.log(counts[window + (doc[t],)] / counts[window]))
    assert torch.allclose(lang.token_nll(probe, context), torch.tensor(brute, dtype=torch.float64),
                          rtol=1e-6)


def _expected_curve(lang, docs, contexts):
    """Exact expected F(c): NLL summed over every document, weighted by its probability."""
    targets = sum(p * (len(d) - 1) for d, p in docs)
    return [sum(p * float(lang.token_nll([d], c).sum()) for d, p in docs) / targets
            for c in contexts]


def test_expected_curve_falls_from_the_unigram_entropy_to_the_full_history(dag):
    lang, docs = dag
    curve = _expected_curve(lang, docs, [0, 1, 2, 3, 4, None])
    assert math.isclose(curve[0], lang.unigram_entropy(), rel_tol=1e-12)
    assert all(a >= b - 1e-12 for a, b in zip(curve, curve[1:], strict=False))
    assert curve[0] > curve[1] > curve[-1]  # both the previous word and the topic inform
    assert curve[4] == pytest.approx(curve[5], rel=1e-12)  # 5 ids: c = 4 sees every history


def test_full_history_bounds_and_the_identity_behind_them(dag):
    # E[NLL] = E[NLL | topic] + H(topic) - E[H(topic | document)], per expected target.
    lang, docs = dag
    targets = sum(p * (len(d) - 1) for d, p in docs)
    full = _expected_curve(lang, docs, [None])[0]
    given_topic = 0.0
    for k in range(lang.n_topics):
        for doc, _ in docs:
            p_k = math.prod(float(lang.transitions[k, a, b]) for a, b in zip(doc[:-1], doc[1:], strict=True))
            given_topic -= float(lang.prior[k]) * p_k * math.log(p_k)
    assert math.isclose(given_topic / targets, lang.entropy_rate_given_topic(), rel_tol=1e-12)
    left = 0.0  # E[H(topic | document)]
    for doc, p in docs:
        post = lang.topic_posterior(doc)[-1]
        left -= p * float((post * post.log()).sum())
    assert math.isclose(full, (given_topic + lang.topic_entropy() - left) / targets, rel_tol=1e-12)
    low, high = lang.full_context_bounds()
    assert low < full < high


def test_a_single_topic_gains_nothing_beyond_one_word():
    # The course language is one topic: every c >= 1 gives its exact floor, the bigram's.
    markov = fl.english_like_language()
    lang = fl.TopicLanguage.from_markov(markov)
    sentences = markov.sample(100, seed=4)
    curve = lang.context_curve(sentences, [0, 1, 2, 5, 30])
    total, count = markov.true_nll_sum_and_count(sentences)
    assert torch.allclose(curve[1:], torch.full((4,), total / count, dtype=torch.float64),
                          rtol=1e-12)
    assert curve[0] > curve[1]


@pytest.fixture(scope="module")
def course():
    lang = fl.topic_language()
    return lang, lang.sample(150, seed=21)


def test_context_curve_is_token_nll_averaged(course):
    lang, docs = course
    contexts = [0, 1, 3, 17, 10_000]
    curve = lang.context_curve(docs, contexts)
    for c, value in zip(contexts, curve.tolist(), strict=True):
        assert math.isclose(value, float(lang.token_nll(docs, c).mean()), rel_tol=1e-12)
    assert math.isclose(float(curve[-1]), float(lang.token_nll(docs).mean()), rel_tol=1e-12)
    assert len(lang.context_curve(docs)) == max(len(d) for d in docs)


def test_one_context_per_target(course):
    # A protocol's contexts, e.g. non-overlapping chunks of 8 ids inside each document: a target
    # at offset i of its chunk sees i ids. Each target then scores as under its own context.
    lang, docs = course
    docs = docs[:20]
    t = torch.cat([torch.arange(1, len(d)) for d in docs])
    contexts = t % 8
    got = lang.token_nll(docs, contexts)
    by_c = {c: lang.token_nll(docs, c) for c in range(8)}
    want = torch.stack([by_c[int(c)][i] for i, c in enumerate(contexts)])
    assert torch.allclose(got, want, rtol=1e-12)
    assert torch.allclose(lang.token_nll(docs, torch.full_like(t, 3)), by_c[3], rtol=1e-12)
    assert torch.allclose(lang.token_nll(docs, t), lang.token_nll(docs), rtol=1e-12)
    with pytest.raises(ValueError, match="context: expected an int, None, or one context"):
        lang.token_nll(docs, contexts[:-1])
    with pytest.raises(ValueError, match="context: expected contexts >= 0"):
        lang.token_nll(docs, contexts - 1)


@pytest.mark.parametrize(("context", "stride"), [(8, 8), (8, 3), (5, 1), (1000, 1)])
def test_window_nll_gives_each_target_the_context_of_its_stream_window(course, context, stride):
    # Brute force: walk the stream's windows; a target at position t of its document, read by
    # a window that starts `seen` ids before it, sees min(seen, t) ids of its own document (the
    # rest is the previous documents, independent of it); <bos> targets are not scored.
    lang, docs = course
    docs = docs[:12]
    starts = torch.tensor([0, *[len(d) for d in docs]]).cumsum(0).tolist()
    doc_of = {starts[i] + t: (i, t) for i, d in enumerate(docs) for t in range(1, len(d))}
    by_c = {}
    want = {}
    for begin, end, n_scored in fl.window_spans(starts[-1], context=context, stride=stride):
        for j in range(end - n_scored + 1, end + 1):
            if j not in doc_of:  # a <bos> target
                continue
            i, t = doc_of[j]
            c = min(j - begin, t)
            if c not in by_c:
                by_c[c] = lang.token_nll(docs, c)
            want[j] = by_c[c][starts[i] - i + t - 1]  # token_nll's order: documents, then t
    got = lang.window_nll(docs, context=context, stride=stride)
    assert torch.allclose(got, torch.stack([want[j] for j in sorted(want)]), rtol=1e-12)


def test_chunking_costs_the_exact_predictor_what_it_cannot_see(course):
    lang, docs = course
    full = float(lang.token_nll(docs).mean())
    chunks = [float(lang.window_nll(docs, context=c, stride=c).mean()) for c in (4, 16, 64)]
    slid = [float(lang.window_nll(docs, context=c, stride=1).mean()) for c in (4, 16, 64)]
    assert chunks[0] > chunks[1] > chunks[2] > full
    assert all(ch > sl >= full - 1e-12 for ch, sl in zip(chunks, slid, strict=True))


def test_context_helps_over_tens_of_tokens(course):
    lang, docs = course
    f = lang.context_curve(docs, [0, 1, 4, 16, 64, 10_000]).tolist()
    assert f[0] > f[1] > f[2] > f[3] > f[4] >= f[5] - 1e-12
    assert f[1] - f[5] > 0.05  # nats per token that only the topic, far back, can give


def test_predictors_are_distributions_and_give_token_nll(course):
    lang, docs = course
    probs = lang.next_token_probs(docs[0])
    assert torch.allclose(probs.sum(dim=1), torch.ones(len(probs), dtype=torch.float64))
    picked = probs[torch.arange(len(probs)), torch.tensor(docs[0][1:])]
    assert torch.allclose(-picked.log(), lang.token_nll([docs[0]]), rtol=1e-12)
    post = lang.topic_posterior(docs[0])
    assert torch.allclose(post[0], lang.prior) and torch.allclose(post.sum(dim=1),
                                                                  torch.ones(len(post), dtype=torch.float64))
    assert math.isclose(float(lang.unigram().sum()), 1.0, rel_tol=1e-12)


def test_monte_carlo_check_of_the_floors():
    # Told the topic, the NLL of a large sample converges to entropy_rate_given_topic; the
    # full-history NLL must land between the exact bounds. Tolerance: 4 standard errors of a
    # ratio estimate over documents.
    lang = fl.topic_language()
    docs, labels = lang.draw(3000, seed=77)
    oracle = torch.stack([lang.topic(k).true_nll_per_sentence([d])[0] for d, k in zip(docs, labels,
                                                                                     strict=True)])
    full = torch.stack([lang.token_nll(docs[i:i + 500]).sum() for i in range(0, 3000, 500)])
    lengths = torch.tensor([len(d) - 1 for d in docs], dtype=torch.float64)
    rate = float(oracle.sum() / lengths.sum())
    resid = oracle - rate * lengths
    se = float(resid.std() * math.sqrt(len(docs)) / lengths.sum())
    assert abs(rate - lang.entropy_rate_given_topic()) < 4 * se
    low, high = lang.full_context_bounds()
    assert low - 4 * se < float(full.sum() / lengths.sum()) < high + 4 * se
    assert se < 0.01  # the check has teeth


def test_monte_carlo_check_of_the_unigram(course):
    lang, _ = course
    docs = lang.sample(2000, seed=78)
    counts = torch.bincount(torch.tensor([i for d in docs for i in d[1:]]),
                            minlength=len(lang.tokenizer)).double()
    assert (counts / counts.sum() - lang.unigram()).abs().max() < 0.003


def test_invariant_to_topic_order_and_to_splitting_a_topic(course):
    lang, docs = course
    docs = docs[:30]
    perm = torch.tensor([2, 0, 3, 1])
    shuffled = fl.TopicLanguage(lang.tokenizer, lang.prior[perm], lang.transitions[perm])
    split = fl.TopicLanguage(lang.tokenizer, torch.cat([lang.prior[:1] / 2, lang.prior[:1] / 2,
                                                        lang.prior[1:]]),
                             torch.cat([lang.transitions[:1], lang.transitions]))
    for other in (shuffled, split):
        for c in (None, 0, 2, 9):
            assert torch.allclose(other.token_nll(docs, c), lang.token_nll(docs, c), rtol=1e-12)
    assert math.isclose(split.entropy_rate_given_topic(), lang.entropy_rate_given_topic(),
                        rel_tol=1e-12)


def test_invariant_to_document_order(course):
    lang, docs = course
    forward = lang.context_curve(docs[:40], [0, 2, 7])
    backward = lang.context_curve(docs[:40][::-1], [0, 2, 7])
    assert torch.allclose(forward, backward, rtol=1e-12)
    one_by_one = torch.cat([lang.token_nll([d], 5) for d in docs[:40]])
    assert torch.allclose(lang.token_nll(docs[:40], 5), one_by_one, rtol=1e-12)


def test_sampling_is_seeded_and_follows_the_prior(course):
    lang, _ = course
    docs, labels = lang.draw(4000, seed=5)
    assert (docs, labels) == lang.draw(4000, seed=5) and docs != lang.sample(4000, seed=6)
    share = torch.bincount(torch.tensor(labels), minlength=4).double() / 4000
    assert (share - lang.prior).abs().max() < 0.03  # 4 standard errors
    assert all(d[0] == fl.BOS_ID and d[-1] == fl.EOS_ID for d in docs)
    period = lang.tokenizer.ids[fl.PERIOD]
    assert all(d[-2] == period for d in docs)  # every document ends a sentence


def test_splits_are_fixed():
    val = fl.topic_split("val")
    assert len(val) == fl.TOPIC_SPLITS["val"][0] and val[:3] == fl.topic_split("val")[:3]
    with pytest.raises(ValueError, match="name: expected one of"):
        fl.topic_split("test")


def test_topic_is_the_chain_of_that_topic(course):
    lang, _ = course
    assert torch.equal(lang.topic(2).transition, lang.transitions[2])
    with pytest.raises(ValueError, match="k: expected a topic in"):
        lang.topic(4)


def test_bad_languages_are_refused(course):
    lang, _ = course
    tok, prior, p = lang.tokenizer, lang.prior, lang.transitions
    with pytest.raises(TypeError, match="tokenizer: expected"):
        fl.TopicLanguage({"a": 1}, prior, p)
    with pytest.raises(TypeError, match="float64"):
        fl.TopicLanguage(tok, prior.float(), p)
    with pytest.raises(ValueError, match="prior: expected positive"):
        fl.TopicLanguage(tok, prior * 2, p)
    with pytest.raises(ValueError, match="same K"):
        fl.TopicLanguage(tok, prior[:3] / prior[:3].sum(), p)
    into_bos = p.clone()
    into_bos[:, 5] = 0
    into_bos[:, 5, fl.BOS_ID] = into_bos[:, 5, fl.EOS_ID] = 0.5
    with pytest.raises(ValueError, match="into <bos>"):
        fl.TopicLanguage(tok, prior, into_bos)
    with pytest.raises(TypeError, match="from_markov|language: expected"):
        fl.TopicLanguage.from_markov(lang)


def test_bad_documents_are_refused(course):
    lang, docs = course
    with pytest.raises(ValueError, match=r"documents\[1\]: expected a document \[BOS"):
        lang.token_nll([docs[0], docs[0][1:]])
    with pytest.raises(ValueError, match="at least one document"):
        lang.context_curve([])
    with pytest.raises(TypeError, match="documents: expected a list"):
        lang.token_nll("the cat")
    with pytest.raises(ValueError, match="context: expected an int >= 0"):
        lang.token_nll(docs, -1)
    with pytest.raises(ValueError, match="contexts: expected an int >= 0"):
        lang.context_curve(docs, [0, -3])
    impossible = [fl.BOS_ID, lang.tokenizer.ids["the"], fl.EOS_ID]  # "the" never ends a document
    with pytest.raises(ValueError, match="probability 0 under every topic"):
        lang.token_nll([impossible])


# --- the character-level twin ---------------------------------------------------------------------

def test_bits_per_byte_is_the_same_under_both_tokenizations(course):
    lang, docs = course
    words = lang.token_nll(docs)
    letters = fl.char_token_nll(lang, docs)
    _, char_docs = fl.char_documents(lang.tokenizer, docs)
    n_bytes = fl.count_bytes(lang.tokenizer, docs)
    assert len(letters) == sum(len(d) - 1 for d in char_docs) == n_bytes  # ASCII: a byte a char
    assert math.isclose(float(letters.sum()), float(words.sum()), rel_tol=1e-12)
    assert math.isclose(fl.bits_per_byte(float(letters.sum()), n_bytes),
                        fl.bits_per_byte(float(words.sum()), n_bytes), rel_tol=1e-12)
    # Per-token perplexities differ: log ppl scales with tokens per byte.
    ratio = math.log(fl.ppl_from_sum(float(words.sum()), len(words))) / math.log(
        fl.ppl_from_sum(float(letters.sum()), len(letters)))
    assert math.isclose(ratio, len(letters) / len(words), rel_tol=1e-12) and ratio > 4
    per_doc = torch.stack([fl.char_token_nll(lang, [d]).sum() for d in docs[:10]])
    assert torch.allclose(per_doc, torch.stack([lang.token_nll([d]).sum() for d in docs[:10]]),
                          rtol=1e-12)


def test_char_nll_matches_next_char_probs_which_sum_to_one(course):
    lang, docs = course
    doc = docs[3]
    text = lang.tokenizer.decode(doc)
    nll = fl.char_token_nll(lang, [doc])
    for i, nxt in enumerate(text + "\n"):
        probs = fl.next_char_probs(lang, text[:i])
        assert math.isclose(sum(probs.values()), 1.0, rel_tol=1e-12)
        assert math.isclose(-math.log(probs[nxt]), float(nll[i]), rel_tol=1e-10)


def _string_prefix_probs(lang, max_words):
    texts = [(lang.tokenizer.decode(d) + "\n", p) for d, p in enumerate_documents(lang, max_words)]
    return texts, lambda s: sum(p for t, p in texts if t.startswith(s))


def test_next_char_probs_match_brute_force_string_probabilities():
    # Words that are prefixes of others ("a", "ab", "abc") and an empty document: every prefix
    # of every text, its next character, by summing the probabilities of whole texts.
    lang = dag_language(("a", "ab", "abc", "b"))
    texts, pref = _string_prefix_probs(lang, 4)
    assert math.isclose(sum(p for _, p in texts), 1.0, rel_tol=1e-13)
    assert ("\n", pytest.approx(pref("\n"))) in [(t, pytest.approx(p)) for t, p in texts]
    for text, _ in texts:
        for i in range(len(text)):
            got = fl.next_char_probs(lang, text[:i])
            want = {c: pref(text[:i] + c) / pref(text[:i]) for c in "abc \n"}
            assert got == pytest.approx({c: v for c, v in want.items() if v > 0}, rel=1e-12)
    ids = [d for d, _ in enumerate_documents(lang, 4)]
    brute = [-math.log(pref(t[:i + 1]) / pref(t[:i])) for t, _ in texts for i in range(len(t))]
    assert torch.allclose(fl.char_token_nll(lang, ids), torch.tensor(brute, dtype=torch.float64),
                          rtol=1e-12, atol=1e-13)


def test_char_tokenizer_round_trips_and_refuses_bad_input():
    tok = fl.CharTokenizer.from_words(fl.WordTokenizer(["cab", "ba"]))
    assert tok.vocab[4:] == [" ", "a", "b", "c"]
    assert tok.decode(tok.encode("cab ba")) == "cab ba" and tok.encode("x")[1] == fl.UNK_ID
    assert len(tok) == 8
    with pytest.raises(ValueError, match="chars: expected distinct"):
        fl.CharTokenizer("aa")
    with pytest.raises(ValueError, match="chars: expected distinct"):
        fl.CharTokenizer("a\n")
    with pytest.raises(TypeError, match="chars: expected a str"):
        fl.CharTokenizer(["a"])
    with pytest.raises(TypeError, match="text: expected a str"):
        tok.encode(3)
    with pytest.raises(ValueError, match="whitespace"):
        fl.CharTokenizer.from_words(fl.WordTokenizer(["a b"]))
    with pytest.raises(TypeError, match="tokenizer: expected a fl.WordTokenizer"):
        fl.char_documents("abc", [[1, 2]])


def test_char_functions_refuse_bad_input(course):
    lang, _ = course
    with pytest.raises(TypeError, match="language: expected a fl.TopicLanguage"):
        fl.char_token_nll(fl.english_like_language(), [[1, 2]])
    with pytest.raises(ValueError, match="text: expected complete words"):
        fl.next_char_probs(lang, "the  cat")
    with pytest.raises(ValueError, match="text: expected complete words"):
        fl.next_char_probs(lang, "thx cat")
    with pytest.raises(TypeError, match="text: expected a str"):
        fl.next_char_probs(lang, "the\n")
    with pytest.raises(ValueError, match="probability 0"):
        fl.next_char_probs(lang, "the qq")
    unk = lang.transitions.clone()
    unk[:, fl.BOS_ID, fl.UNK_ID] = unk[:, fl.BOS_ID, 4]
    unk[:, fl.BOS_ID, 4] = 0
    unk[:, fl.UNK_ID, fl.EOS_ID] = 1.0  # a valid chain that emits <unk>
    with pytest.raises(ValueError, match="<unk>"):
        fl.char_token_nll(fl.TopicLanguage(lang.tokenizer, lang.prior, unk), [[1, 2]])
    assert chars.CharTokenizer is fl.CharTokenizer and topics.TopicLanguage is fl.TopicLanguage
