"""The topic language: documents whose sentences share a hidden topic, so context pays off over
many tokens, and the exact best perplexity at every context length, F(c).

Why: in the course language (fl.english_like_language) every sentence is independent and the
next word depends on the previous word only, so nothing beyond one token of context helps.
Here a document first draws a topic k from a prior, then walks topic k's own word chain (one
first-order Markov chain per topic, over the same vocabulary) through several sentences ended
by "."; it stops at <eos>. Which words are likely depends on the topic, and the topic shows only
through the words already seen, so the best prediction of the next word improves with every
word of the document that the predictor can see, and the best possible prediction is still exact:

    lang = fl.topic_language()                     # seeded; 4 topics over the course's words
    docs = fl.topic_split("val")                   # id lists [BOS, w, ..., ".", ..., ".", EOS]
    lang.token_nll(docs)                           # (N,) exact NLL of the full-history predictor
    lang.token_nll(docs, context=8)                # ... of the best predictor seeing 8 tokens
    curve = lang.context_curve(docs)               # (C,) F(c) for c = 0 .. longest document
    lang.unigram_entropy()                         # F(0) in expectation, exactly
    lang.entropy_rate_given_topic()                # the limit of F(c) for long documents

The exact predictors (derivation in the docstrings of `token_nll` and `unigram`):
- full history: p(x_t | x_<t) = sum_k p(k | x_<t) p_k(x_t | x_t-1), the posterior over topics
  kept by the forward algorithm (here a running product, since the topic never changes);
- the last c tokens only: the window's posterior over topics weights topic k by the expected
  number of times the window occurs in a document of topic k, which is the expected visits of
  the window's first token under k times the window's transition probabilities. A window that
  reaches <bos> is the full history (<bos> occurs only at position 0). This is the predictor
  that minimises the per-token NLL averaged over every target of the documents, i.e. the best
  any model that sees only c tokens can do, whatever its parameters.

Documents are scored one at a time, each starting at its <bos>, like the course's sentences;
targets are ids[1:], so a document of n ids has n - 1 targets, the final <eos> (the newline of
its text) included. On a stream of concatenated documents a window that reaches back past a
document's <bos> sees that <bos>, and what precedes it is independent, so the per-document
scores are the stream's too; the stream only adds a <bos> target after each <eos>, which the
true model predicts at zero cost (for c >= 1). For a protocol that leaves each target its own
context (a stride, non-overlapping chunks), pass one context per target to token_nll.

F(c) is non-increasing in c in expectation (more context never hurts the optimal predictor;
tests/course/test_topics.py checks it exactly on a tiny language); on a finite sample it may
rise by sampling noise (3e-5 nats at c = 50 on the val split). Scores are computed on the
documents padded together: memory K * D * n_max floats, so score tens of thousands of
documents in chunks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import torch

from forge_lib.course.language import (
    _GRAMMAR,
    _WORDS,
    BOS_ID,
    EOS_ID,
    MarkovLanguage,
    WordTokenizer,
    _zipf,
)
from forge_lib.metrics import validation
from forge_lib.metrics.batching import PAD_ID
from forge_lib.metrics.windows import window_contexts

__all__ = ["TopicLanguage", "topic_language", "topic_split", "TOPIC_SPLITS", "PERIOD"]

PERIOD = "."  # the word that ends every sentence of a document; <eos> ends the document
_N_TOPICS = 4
_N_GROUPS = 6  # word groups: the previous word's group shapes the next word, as in language.py
_TOPIC_WEIGHT = 0.5  # share of each word choice that follows the topic (the rest: the group)
_END_DOCUMENT = 0.15  # P(<eos> after "."): about 6.7 sentences per document


@dataclass(frozen=True)
class TopicLanguage:
    """A mixture of first-order Markov chains over one vocabulary: a document draws topic k with
    probability prior[k], then walks transitions[k] from <bos> to <eos>.

    Each topic's chain is checked like a fl.MarkovLanguage (rows are distributions, <eos> is
    reachable); on top of that <bos> must never be a next token, because the exact c-context
    predictor relies on <bos> occurring only at position 0.

    >>> lang = topic_language()
    >>> lang.n_topics, tuple(lang.transitions.shape)
    (4, (4, 259, 259))
    """

    tokenizer: WordTokenizer
    prior: torch.Tensor  # (K,) float64, positive, sums to 1
    transitions: torch.Tensor  # (K, V, V) float64: transitions[k, i, j] = p_k(next j | current i)

    def __post_init__(self) -> None:
        if not isinstance(self.tokenizer, WordTokenizer):
            raise TypeError(f"tokenizer: expected a fl.WordTokenizer, got "
                            f"{type(self.tokenizer).__name__}.")
        prior = validation.float_tensor(self.prior, "prior")
        p = validation.float_tensor(self.transitions, "transitions")
        if prior.dtype != torch.float64 or p.dtype != torch.float64:
            raise TypeError(f"prior, transitions: expected float64 (the floors are exact), got "
                            f"{prior.dtype} and {p.dtype}; call .double() on them.")
        if prior.ndim != 1 or len(prior) == 0 or p.ndim != 3 or p.shape[0] != len(prior):
            raise ValueError(f"prior, transitions: expected shapes (K,) and (K, V, V) with the "
                             f"same K, got {tuple(prior.shape)} and {tuple(p.shape)}.")
        validation.all_finite(prior, "prior")
        if bool((prior <= 0).any()) or abs(float(prior.sum()) - 1) > 1e-9:
            raise ValueError(f"prior: expected positive probabilities summing to 1, got "
                             f"{prior.tolist()}. Drop topics of probability 0; normalise with "
                             f"prior / prior.sum().")
        for k in range(len(prior)):  # each topic is a valid chain: MarkovLanguage checks it
            MarkovLanguage(self.tokenizer, p[k])
        if bool((p[:, :, BOS_ID] != 0).any()):
            raise ValueError("transitions: expected probability 0 into <bos> (a document has one "
                             "<bos>, at position 0; the c-context predictor relies on it).")

    @classmethod
    def from_markov(cls, language: MarkovLanguage) -> TopicLanguage:
        """The course language (or any fl.MarkovLanguage) as a topic language of one topic, so
        the functions here (the character-level twin among them) apply to it too.

        >>> import forge_lib as fl
        >>> one = TopicLanguage.from_markov(fl.english_like_language())
        >>> one.n_topics, round(one.entropy_rate_given_topic(), 4)
        (1, 3.2492)
        """
        if not isinstance(language, MarkovLanguage):
            raise TypeError(f"language: expected a fl.MarkovLanguage, got "
                            f"{type(language).__name__}.")
        return cls(language.tokenizer, torch.ones(1, dtype=torch.float64),
                   language.transition[None].clone())

    @property
    def n_topics(self) -> int:
        return len(self.prior)

    def topic(self, k: int) -> MarkovLanguage:
        """Topic k's chain as a fl.MarkovLanguage (its floor is the floor given the topic).

        >>> round(topic_language().topic(0).entropy_rate(), 4)
        3.4529
        """
        k = validation.non_negative_int(k, "k")
        if k >= self.n_topics:
            raise ValueError(f"k: expected a topic in [0, {self.n_topics}), got {k}.")
        return self._chains[k]

    @cached_property
    def _chains(self) -> tuple[MarkovLanguage, ...]:  # built (and checked) once
        return tuple(MarkovLanguage(self.tokenizer, self.transitions[k])
                     for k in range(self.n_topics))

    @cached_property
    def _log_visits(self) -> torch.Tensor:  # (K, V), solved once: context_curve reads it per c
        return self.expected_visits().log()

    def draw(self, n_documents: int, *, seed: int) -> tuple[list[list[int]], list[int]]:
        """Documents and the topic of each: ([[BOS, ..., EOS], ...], [k, ...]); seeded.

        The topics and one seed per topic come from one generator; the documents of topic k
        are then drawn by topic k's chain with its seed, so each topic's documents are one
        fl.MarkovLanguage sample.

        >>> docs, topics = topic_language().draw(3, seed=0)
        >>> [d[0] for d in docs], [d[-1] for d in docs], topics
        ([1, 1, 1], [2, 2, 2], [3, 1, 0])
        """
        validation.positive_int(n_documents, "n_documents")
        gen = validation.seeded_generator(seed)
        topics = torch.multinomial(self.prior, n_documents, replacement=True, generator=gen)
        seeds = torch.randint(2 ** 62, (self.n_topics,), generator=gen).tolist()
        docs: list[list[int]] = [[] for _ in range(n_documents)]
        for k in range(self.n_topics):
            where = (topics == k).nonzero().flatten().tolist()
            if where:
                for i, doc in zip(where, self.topic(k).sample(len(where), seed=seeds[k]),
                                  strict=True):
                    docs[i] = doc
        return docs, topics.tolist()

    def sample(self, n_documents: int, *, seed: int) -> list[list[int]]:
        """Documents only: `draw(n_documents, seed=seed)[0]`.

        >>> topic_language().sample(2, seed=5) == topic_language().sample(2, seed=5)
        True
        """
        return self.draw(n_documents, seed=seed)[0]

    def expected_visits(self) -> torch.Tensor:
        """(K, V): expected number of times each token is the current token in a document of
        topic k. <bos> gets exactly 1 (position 0); <eos> gets 0 (it is never current).

        >>> float(topic_language().expected_visits()[:, 1].min())
        1.0
        """
        return torch.stack([chain.expected_visits() for chain in self._chains])

    def expected_tokens_per_document(self) -> float:
        """Expected number of targets (ids[1:]) per document, over the topic prior.

        >>> round(topic_language().expected_tokens_per_document(), 2)
        58.85
        """
        return float(self.prior @ self.expected_visits().sum(dim=1))

    def unigram(self) -> torch.Tensor:
        """(V,) the best predictor that sees no context: the share of targets equal to each token.

        It minimises the NLL summed over all targets, so it is the expected number of targets
        equal to x per document divided by the expected number of targets: topic k contributes
        its expected visits (every visit but <bos>'s is a target) and one <eos>.

        >>> round(float(topic_language().unigram().sum()), 12)  # 1 to float64's last bits
        1.0
        """
        counts = self.expected_visits()  # (K, V)
        counts[:, BOS_ID] = 0.0  # <bos> is never a target
        counts[:, EOS_ID] = 1.0  # every document ends with one <eos>
        mixed = self.prior @ counts
        return mixed / mixed.sum()

    def unigram_entropy(self) -> float:
        """F(0) in expectation: the entropy of `unigram()`, in nats per token.

        >>> round(topic_language().unigram_entropy(), 4)
        4.8381
        """
        u = self.unigram()
        return float(-(u[u > 0] * u[u > 0].log()).sum())

    def entropy_rate_given_topic(self) -> float:
        """Nats per token of a predictor told the topic: E[NLL of a document | its topic] / E[targets].

        This is the limit of F(c) for long documents (the window identifies the topic), and a
        lower bound of the full-history NLL: a finite document leaves the predictor paying for
        the topic, at most H(topic) nats per document (see `full_context_bounds`).

        >>> round(topic_language().entropy_rate_given_topic(), 4)
        3.4509
        """
        chains = self._chains
        lengths = torch.tensor([c.expected_tokens_per_sentence() for c in chains], dtype=torch.float64)
        rates = torch.tensor([c.entropy_rate() for c in chains], dtype=torch.float64)
        return float((self.prior * rates * lengths).sum() / (self.prior * lengths).sum())

    def topic_entropy(self) -> float:
        """H(topic) in nats: what the prior leaves unknown before a document's first word.

        >>> round(topic_language().topic_entropy(), 4)
        1.2133
        """
        return float(-(self.prior * self.prior.log()).sum())

    def full_context_bounds(self) -> tuple[float, float]:
        """(low, high) of the expected full-history NLL per token, both exact.

        Per document, -log p(doc) = -log p(doc | k) - log prior[k] + log p(k | doc), so
        E[NLL] = E[NLL | topic] + H(topic) - E[H(topic | doc)], and 0 <= H(topic | doc) <= H(topic).
        Divided by the expected targets per document, that puts the expected full-history NLL
        per token between entropy_rate_given_topic() and that plus H(topic) / E[targets].

        >>> low, high = topic_language().full_context_bounds()
        >>> round(low, 4), round(high, 4)
        (3.4509, 3.4716)
        """
        low = self.entropy_rate_given_topic()
        return low, low + self.topic_entropy() / self.expected_tokens_per_document()

    def topic_posterior(self, document: list[int]) -> torch.Tensor:
        """(n, K): row t is p(topic | ids[:t + 1]); row 0 is the prior.

        >>> lang = topic_language()
        >>> docs, topics = lang.draw(5, seed=0)
        >>> [int(lang.topic_posterior(d)[-1].argmax()) for d in docs] == topics
        True
        >>> round(float(lang.topic_posterior(docs[0])[0, 0]), 4)  # the prior of topic 0
        0.5043
        """
        scores = self._scores(document, "document")
        t = torch.arange(int(scores.lengths[0]))  # (n,)
        zero = torch.zeros_like(t)
        joint = self.prior.log()[:, None] + scores.log_lik(zero, zero, t)  # (K, n)
        return torch.softmax(joint, dim=0).T

    def next_token_probs(self, document: list[int]) -> torch.Tensor:
        """(n - 1, V): row t is the full-history predictor's p(ids[t + 1] = v | ids[:t + 1]).

        >>> lang = topic_language()
        >>> probs = lang.next_token_probs(lang.sample(1, seed=0)[0])
        >>> bool(torch.allclose(probs.sum(dim=1), torch.ones(len(probs), dtype=torch.float64)))
        True
        """
        post = self.topic_posterior(document)[:-1]  # (n - 1, K): after each prefix but the whole
        ids = torch.as_tensor(document[:-1])
        return torch.einsum("tk,ktv->tv", post, self.transitions[:, ids, :])

    def token_nll(self, documents: list[list[int]], context: int | torch.Tensor | None = None
                  ) -> torch.Tensor:
        """(N,) exact NLL in nats of each target (ids[1:] of each document, in order) under the
        best predictor that sees the whole history (context=None) or only the last `context` ids.

        With context c, target t (t >= 1) sees ids[s:t], s = max(0, t - c); the optimal predictor
        is p(x | window) = E[#(window, x)] / E[#window], the expected numbers of occurrences in a
        document. Under topic k the window occurs at position s with probability
        P_k(x_s = w_0) * prod p_k(w_i+1 | w_i), and summing over s turns P_k(x_s = w_0) into the
        expected visits of w_0 under topic k; so topic k weighs prior[k] * visits_k(w_0) *
        prod p_k. When s = 0 the window starts with <bos>, whose expected visits are 1, and the
        formula is the full-history posterior. context=0 is `unigram()`.

        context may also be an (N,) integer tensor, one context per target: the contexts a given
        evaluation protocol leaves each target (non-overlapping chunks, a stride), so its exact
        best NLL can be set beside a model's.

        >>> lang = topic_language()
        >>> docs = lang.sample(200, seed=3)
        >>> [round(float(lang.token_nll(docs, c).mean()), 3) for c in (0, 1, 4, None)]
        [4.856, 3.576, 3.546, 3.48]
        """
        scores = self._scores(documents, "documents")
        d, t = scores.target_d, scores.target_t
        c = self._contexts(context, t)  # (N,)
        windowed = self._window_nll(scores, d, t, c.clamp(min=1))
        unigram = -self.unigram().log()[scores.ids[d, t]]
        return torch.where(c == 0, unigram, windowed)

    @staticmethod
    def _contexts(context: object, t: torch.Tensor) -> torch.Tensor:
        """(N,) the context of each target: t itself (the whole history) for None."""
        if context is None:
            return t
        if not isinstance(context, torch.Tensor):
            return torch.full_like(t, validation.non_negative_int(context, "context"))
        context = validation.integer_tensor(context, "context")
        if tuple(context.shape) != tuple(t.shape):
            raise ValueError(f"context: expected an int, None, or one context per target, shape "
                             f"{tuple(t.shape)}; got shape {tuple(context.shape)}.")
        if bool((context < 0).any()):
            raise ValueError(f"context: expected contexts >= 0, got {int(context.min())}.")
        return context.long()

    def nll_sum_and_count(self, documents: list[list[int]], context: int | None = None
                          ) -> tuple[float, int]:
        """(summed NLL in nats, number of targets) of the documents under `token_nll`'s predictor.

        >>> lang = topic_language()
        >>> total, count = lang.nll_sum_and_count(lang.sample(10, seed=1))
        >>> count == sum(len(d) - 1 for d in lang.sample(10, seed=1))
        True
        """
        nll = self.token_nll(documents, context)
        return float(nll.sum()), len(nll)

    def window_nll(self, documents: list[list[int]], *, context: int, stride: int) -> torch.Tensor:
        """(N,) exact NLL of each target (as token_nll orders them) under the best predictor that
        sees what a sliding-window evaluation of the concatenated documents (fl.token_stream)
        with this context and stride lets a model read: the price of the protocol itself.

        The stream's <bos> targets (the first id of every document after the first) are left
        out, as sliding_window_nll(..., ignore_index=fl.BOS_ID) leaves them out; a window that
        reaches back past a document's <bos> sees that <bos>, i.e. the document's whole history.

        >>> lang = topic_language()
        >>> docs = lang.sample(20, seed=4)
        >>> bool(torch.equal(lang.window_nll(docs, context=10**4, stride=1), lang.token_nll(docs)))
        True
        """
        documents = validation.id_lists(documents, "documents")
        lengths = [len(d) for d in documents]
        contexts = window_contexts(sum(lengths), context=context, stride=stride)
        first_ids = torch.tensor(lengths[:-1]).cumsum(0)  # stream positions of the later <bos>
        scored = torch.ones(len(contexts), dtype=torch.bool)
        scored[first_ids - 1] = False  # target j is contexts[j - 1]
        return self.token_nll(documents, contexts[scored])

    def context_curve(self, documents: list[list[int]],
                      contexts: list[int] | range | None = None) -> torch.Tensor:
        """(C,) F(c): the exact mean NLL per target of the best c-context predictor, for each c.

        contexts: None gives c = 0, 1, ..., n_max - 1 (n_max the longest document's ids), where
        the last equals the full-history NLL. Target t needs its own window only while t > c, so
        the cost is about K * sum(n^2) / 2 operations over all c: seconds for 1,000 documents.

        >>> lang = topic_language()
        >>> curve = lang.context_curve(lang.sample(50, seed=2), [0, 1, 2, 1000])
        >>> bool((curve[1:] <= curve[:-1]).all())
        True
        """
        scores = self._scores(documents, "documents")
        if contexts is None:
            contexts = range(int(scores.lengths.max()))
        contexts = [validation.non_negative_int(c, "contexts") for c in contexts]
        order = torch.argsort(scores.target_t, stable=True)  # targets by position: j > c is a suffix
        d, t = scores.target_d[order], scores.target_t[order]
        full = self._window_nll(scores, d, t, None)
        full_before = torch.cat([torch.zeros(1, dtype=torch.float64), full.cumsum(0)])
        u = -self.unigram().log()
        out = []
        for c in contexts:
            if c == 0:
                out.append(float(u[scores.ids[d, t]].sum()))
                continue
            cut = int(torch.searchsorted(t, torch.tensor(c), right=True))  # targets t <= c
            windowed = self._window_nll(scores, d[cut:], t[cut:], c)
            out.append(float(full_before[cut]) + float(windowed.sum()))
        return torch.tensor(out, dtype=torch.float64) / len(t)

    def _window_nll(self, scores: _Scores, d: torch.Tensor, t: torch.Tensor,
                    context: int | torch.Tensor | None) -> torch.Tensor:
        """NLL of targets (d, t) given ids[d, s:t], s = max(0, t - context) (0 when None)."""
        s = torch.zeros_like(t) if context is None else (t - context).clamp(min=0)
        first = scores.ids[d, s]  # (N,) the window's first id
        base = self.prior.log()[:, None] + self._log_visits[:, first]  # (K, N)
        with_target = torch.logsumexp(base + scores.log_lik(d, s, t), dim=0)
        without = torch.logsumexp(base + scores.log_lik(d, s, t - 1), dim=0)
        nll = without - with_target
        if not bool(torch.isfinite(nll).all()):
            bad = int(d[~torch.isfinite(nll)][0])
            raise ValueError(f"documents[{bad}]: a transition of probability 0 under every "
                             f"topic; expected documents of this language.")
        return nll

    def _scores(self, documents: list[list[int]], name: str) -> _Scores:
        if name == "document":
            documents = [documents]
        validation.id_lists(documents, name)
        if len(documents) == 0:
            raise ValueError(f"{name}: expected at least one document, got none.")
        rows = []
        for i, ids in enumerate(documents):
            ids = validation.token_ids(ids, f"{name}[{i}]", len(self.tokenizer))
            if len(ids) < 2 or int(ids[0]) != BOS_ID or int(ids[-1]) != EOS_ID:
                raise ValueError(f"{name}[{i}]: expected a document [BOS, ..., EOS] of at least "
                                 f"2 ids, got {ids[:6].tolist()}{'...' if len(ids) > 6 else ''}.")
            rows.append(ids)
        return _Scores(self.transitions, rows)


class _Scores:
    """The documents padded to (D, n_max) with each topic's cumulative log-likelihood, so the
    log-likelihood of any stretch ids[s..t] under each topic is one subtraction.

    Transitions of probability 0 are counted apart rather than summed as -inf: a difference of
    two -inf sums would be NaN, and a topic that forbids a transition should simply drop out.
    """

    def __init__(self, transitions: torch.Tensor, rows: list[torch.Tensor]) -> None:
        self.lengths = torch.tensor([len(r) for r in rows])
        n_max = int(self.lengths.max())
        self.ids = torch.full((len(rows), n_max), PAD_ID, dtype=torch.long)  # (D, n_max)
        for i, r in enumerate(rows):
            self.ids[i, :len(r)] = r
        real = torch.arange(n_max)[None, :] < self.lengths[:, None]  # (D, n_max)
        step = transitions[:, self.ids[:, :-1], self.ids[:, 1:]]  # (K, D, n_max - 1)
        step = torch.where(real[None, :, 1:], step, torch.ones_like(step))  # padding: p = 1
        zero = step == 0
        log_step = torch.where(zero, torch.zeros_like(step), step.log())
        pad = torch.zeros(*step.shape[:2], 1, dtype=torch.float64)
        self.cum = torch.cat([pad, log_step.cumsum(dim=2)], dim=2)  # (K, D, n_max)
        self.cum_zero = torch.cat([pad.long(), zero.long().cumsum(dim=2)], dim=2)
        self.target_d, self.target_t = (real & (torch.arange(n_max) > 0)).nonzero(as_tuple=True)

    def log_lik(self, d: torch.Tensor, s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """(K, N) log p_k(ids[d, s+1..t] | ids[d, s]) under each topic; -inf if impossible."""
        finite = self.cum[:, d, t] - self.cum[:, d, s]
        impossible = (self.cum_zero[:, d, t] - self.cum_zero[:, d, s]) > 0
        return finite.masked_fill(impossible, -math.inf)


def topic_language(seed: int = 0) -> TopicLanguage:
    """Build the course's topic language over the course language's words, plus ".".

    Sentences follow the course grammar (fl.english_like_language's), with "." in place of the
    sentence end; after "." the document ends with probability 0.15 or starts a new sentence.
    Inside a word class, the next word is chosen half by the previous word's group (one of 6,
    a seeded Zipf ranking per group and class, as in the course language) and half by the
    document's topic (a seeded Zipf ranking per topic and class). The topic prior is a Zipf law
    over the 4 topics.

    >>> topic_language().tokenizer.vocab[-1]
    '.'
    """
    gen = validation.seeded_generator(seed)
    words = [w for cls in _WORDS for w in _WORDS[cls]]
    tok = WordTokenizer([*words, PERIOD])
    word_class = {w: cls for cls in _WORDS for w in _WORDS[cls]}
    group = dict(zip(words, torch.randint(_N_GROUPS, (len(words),), generator=gen).tolist(),
                     strict=True))
    by_group = {(g, cls): _zipf(len(m))[torch.randperm(len(m), generator=gen)]
                for g in range(_N_GROUPS) for cls, m in _WORDS.items()}
    by_topic = {(k, cls): _zipf(len(m))[torch.randperm(len(m), generator=gen)]
                for k in range(_N_TOPICS) for cls, m in _WORDS.items()}
    vocab = len(tok)
    transitions = torch.zeros(_N_TOPICS, vocab, vocab, dtype=torch.float64)
    for k in range(_N_TOPICS):
        for current in ["<bos>", PERIOD, *words]:
            cls = "bos" if current in ("<bos>", PERIOD) else word_class[current]
            row = transitions[k, tok.ids[current]]
            scale = 1.0 - _END_DOCUMENT if current == PERIOD else 1.0
            if current == PERIOD:
                row[EOS_ID] = _END_DOCUMENT
            for next_cls, p_cls in _GRAMMAR[cls].items():
                if next_cls == "eos":  # the sentence ends: "." follows
                    row[tok.ids[PERIOD]] += scale * p_cls
                    continue
                choice = ((1 - _TOPIC_WEIGHT) * by_group[group.get(current, 0), next_cls]
                          + _TOPIC_WEIGHT * by_topic[k, next_cls])
                row[[tok.ids[w] for w in _WORDS[next_cls]]] += scale * p_cls * choice
    return TopicLanguage(tok, _zipf(_N_TOPICS), transitions)


# The topic language's fixed data: (number of documents, sampling seed) per split.
TOPIC_SPLITS = {"train": (20_000, 11), "val": (1_000, 12)}


def topic_split(name: str) -> list[list[int]]:
    """The documents of split "train" or "val" of the topic language, identical on every machine.

    >>> len(topic_split("val"))
    1000
    """
    if not isinstance(name, str) or name not in TOPIC_SPLITS:  # a dict would be "unhashable"
        raise ValueError(f"name: expected one of {sorted(TOPIC_SPLITS)}, got {name!r:.60}.")
    n_documents, seed = TOPIC_SPLITS[name]
    return topic_language().sample(n_documents, seed=seed)
