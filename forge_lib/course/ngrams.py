"""n-gram baselines: unigram, bigram and trigram tables counted on a training split, with
interpolated Kneser-Ney smoothing, scored on id sequences like any other model.

Why: "why a transformer and not a bigram table?" needs the table's perplexity on the same axes
as the model's and the exact floor. On the course language a bigram table is already optimal;
on the topic language (fl.topic_language) it cannot see the topic, and no n-gram of small n can.

    train, val = fl.topic_split("train"), fl.topic_split("val")
    bigram = fl.NGramModel.fit(train, order=2, vocab_size=len(fl.topic_language().tokenizer))
    bigram.token_nll(val)                      # (N,) nats per target, targets ids[1:] of each
    fl.ngram_baselines(train, val, vocab_size) # {1: nll, 2: nll, 3: nll} mean nats per target

Smoothing: interpolated Kneser-Ney with one absolute discount d (Chen and Goodman 1998, 3.5):

    p_n(w | h) = max(c(h, w) - d, 0) / c(h) + d * N1+(h) / c(h) * p_n-1(w | h')

with h the previous n - 1 ids, h' its last n - 2, N1+(h) the number of distinct words counted
after h, and p_0 uniform over the ids that can be targets (all but <pad> and <bos>). At the
highest order c counts occurrences in training; at the lower orders c(h', w) counts the distinct
ids seen just before h' w (the continuation counts of Kneser-Ney), and c(h') their sum. A
history never seen in training falls back to p_n-1. Histories reaching before the start of a
sequence are filled with <bos>, in training and in scoring alike. Every probability is positive,
so no validation id is infinitely surprising.

With 1.2 M training tokens a trigram table over 259 ids is too sparse to beat the bigram table
(most trigrams are seen once): more context pays only with enough data to estimate it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from forge_lib.course.language import BOS_ID
from forge_lib.metrics import validation
from forge_lib.metrics.batching import PAD_ID

__all__ = ["NGramModel", "ngram_baselines"]


@dataclass(frozen=True)
class NGramModel:
    """Counts of every order up to `order`, kept as sorted integer keys (a history of m ids and
    the next id, written in base vocab_size), so scoring is a few vectorised look-ups.

    >>> train = [[1, 4, 5, 2], [1, 4, 4, 5, 2]]
    >>> model = NGramModel.fit(train, order=2, vocab_size=6)
    >>> round(float(model.token_nll([[1, 4, 5, 2]]).sum()), 4)
    1.2419
    """

    order: int
    vocab_size: int
    discount: float
    keys: tuple[torch.Tensor, ...]  # per m = 0..order-1: sorted keys (history * V + next id)
    counts: tuple[torch.Tensor, ...]  # c(h, w) for each key
    history_keys: tuple[torch.Tensor, ...]  # per m: sorted distinct histories
    history_counts: tuple[torch.Tensor, ...]  # c(h)
    history_types: tuple[torch.Tensor, ...]  # N1+(h)

    def __post_init__(self) -> None:  # the tables come from fit(); the numbers are checked here
        validation.positive_int(self.order, "order")
        validation.positive_int(self.vocab_size, "vocab_size")
        if not 0 < validation.finite_number(self.discount, "discount") < 1:
            raise ValueError(f"discount: expected a number in (0, 1) (d >= 1 would take all the "
                             f"mass from words seen once), got {self.discount}.")
        tables = (self.keys, self.counts, self.history_keys, self.history_counts,
                  self.history_types)
        if any(not isinstance(t, tuple) or len(t) != self.order for t in tables):
            raise ValueError(f"keys, counts, history_*: expected one table per order 1..{self.order}; "
                             f"build the model with NGramModel.fit(sequences, order=...).")

    @classmethod
    def fit(cls, sequences: list[list[int]], *, order: int, vocab_size: int,
            discount: float = 0.75) -> NGramModel:
        """Count the n-grams of `sequences` (id lists starting with <bos>) for n = 1 .. order.

        >>> NGramModel.fit([[1, 4, 2]], order=3, vocab_size=5).order
        3
        """
        order = validation.positive_int(order, "order")
        vocab_size = validation.positive_int(vocab_size, "vocab_size")
        if vocab_size ** order >= 2 ** 62:
            raise ValueError(f"order: {order} with vocab_size {vocab_size} overflows the int64 "
                             f"keys; use a lower order.")
        histories, targets = _ngrams(sequences, order, vocab_size, "sequences")
        keys, counts = [], []
        for m in range(order):  # m ids of history: raw counts c(h, w)
            k, c = torch.unique(histories[m] * vocab_size + targets, return_counts=True)  # sorted
            keys.append(k)
            counts.append(c)
        for m in range(order - 1):  # Kneser-Ney: lower orders count distinct left extensions
            upper = keys[m + 1]  # (h * V + v) * V + w, v the id one step further back
            keys[m], counts[m] = torch.unique((upper // vocab_size ** 2) * vocab_size
                                              + upper % vocab_size, return_counts=True)
        fields: dict[str, list[torch.Tensor]] = {f: [] for f in (
            "keys", "counts", "history_keys", "history_counts", "history_types")}
        for k, c in zip(keys, counts, strict=True):
            h_keys, inverse = torch.unique(k // vocab_size, return_inverse=True)
            h_counts = torch.zeros(len(h_keys), dtype=torch.long).index_add_(0, inverse, c)
            h_types = torch.bincount(inverse, minlength=len(h_keys))
            for name, value in zip(fields, (k, c, h_keys, h_counts, h_types), strict=True):
                fields[name].append(value)
        return cls(order, vocab_size, discount, *(tuple(v) for v in fields.values()))

    def token_nll(self, sequences: list[list[int]]) -> torch.Tensor:
        """(N,) NLL in nats of each target (ids[1:] of each sequence, in order).

        >>> model = NGramModel.fit([[1, 4, 2]], order=1, vocab_size=5)
        >>> model.token_nll([[1, 4, 2]]).shape
        torch.Size([2])
        """
        histories, targets = _ngrams(sequences, self.order, self.vocab_size, "sequences")
        n_targets = self.vocab_size - 2  # every id but <pad> and <bos> can be a target
        p = torch.full(targets.shape, 1.0 / n_targets, dtype=torch.float64)  # p_0
        for m in range(self.order):
            c_hw = _look_up(self.keys[m], self.counts[m], histories[m] * self.vocab_size + targets)
            c_h = _look_up(self.history_keys[m], self.history_counts[m], histories[m])
            types = _look_up(self.history_keys[m], self.history_types[m], histories[m])
            seen = c_h > 0
            c_h = c_h.clamp(min=1)  # unseen histories keep p_m-1 (below); avoid 0 / 0
            higher = (c_hw - self.discount).clamp(min=0) / c_h + self.discount * types / c_h * p
            p = torch.where(seen, higher, p)
        return -p.log()

    def nll_sum_and_count(self, sequences: list[list[int]]) -> tuple[float, int]:
        """(summed NLL in nats, number of targets) of the sequences.

        >>> NGramModel.fit([[1, 4, 2]], order=2, vocab_size=5).nll_sum_and_count([[1, 4, 2]])[1]
        2
        """
        nll = self.token_nll(sequences)
        return float(nll.sum()), len(nll)


def _ngrams(sequences: list[list[int]], order: int, vocab_size: int, name: str
            ) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Histories of m = 0..order-1 ids (as base-V integers) and the target of every target
    position ids[1:], with <bos> filling histories that reach before the start."""
    ids, lengths = _flatten(sequences, vocab_size, name)  # (L,) all ids, (S,) each one's length
    starts = torch.cumsum(lengths, 0) - lengths  # (S,) where each sequence begins
    position = torch.arange(len(ids)) - torch.repeat_interleave(starts, lengths)  # (L,)
    where = (position > 0).nonzero().flatten()  # (N,) the targets: every id but the first
    histories = [torch.zeros(len(where), dtype=torch.long)]  # m = 0: the empty history
    for back in range(1, order):  # the id `back` steps before each target; <bos> before the start
        before = torch.where(position[where] >= back, ids[(where - back).clamp(min=0)],
                             torch.full_like(where, BOS_ID))
        histories.append(histories[-1] * vocab_size + before)
    return histories, ids[where]


def _flatten(sequences: list[list[int]], vocab_size: int, name: str
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """All ids in one tensor, and each sequence's length. The common case (lists of ints, all
    valid) is checked in one pass; anything else is checked sequence by sequence, so a message
    names the sequence at fault."""
    validation.id_lists(sequences, name)
    if len(sequences) == 0:
        raise ValueError(f"{name}: expected at least one sequence, got none.")
    try:
        flat = [i for s in sequences for i in s]
        ok = all(type(i) is int for i in flat)  # a float or a bool would be cast silently
        if ok:
            lengths = torch.tensor([len(s) for s in sequences])
            ids = torch.tensor(flat, dtype=torch.long)
            ok = (bool((lengths >= 2).all()) and bool(((ids >= 0) & (ids < vocab_size)).all())
                  and bool((ids[torch.cumsum(lengths, 0) - lengths] == BOS_ID).all())
                  and not bool((ids == PAD_ID).any()))
    except (TypeError, ValueError, RuntimeError):  # not sequences of ints: the slow path says why
        ok = False
    if ok:
        return ids, lengths
    checked = []  # the slow path: tensors, NumPy ints, or a sequence at fault that it names
    for i, seq in enumerate(sequences):
        seq = validation.token_ids(seq, f"{name}[{i}]", vocab_size)
        if len(seq) < 2 or int(seq[0]) != BOS_ID or bool((seq[1:] == PAD_ID).any()):
            raise ValueError(f"{name}[{i}]: expected [BOS, ...] with at least one target and no "
                             f"padding, got {seq[:6].tolist()}{'...' if len(seq) > 6 else ''}.")
        checked.append(seq)
    return torch.cat(checked), torch.tensor([len(s) for s in checked])


def _look_up(keys: torch.Tensor, values: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """values[i] where keys[i] == query, else 0; keys sorted. Returns float64, shaped like query."""
    where = torch.searchsorted(keys, query).clamp(max=len(keys) - 1)
    found = keys[where] == query
    return torch.where(found, values[where].double(), torch.zeros(query.shape, dtype=torch.float64))


def ngram_baselines(train: list[list[int]], val: list[list[int]], vocab_size: int, *,
                    orders: tuple[int, ...] = (1, 2, 3), discount: float = 0.75
                    ) -> dict[int, float]:
    """Mean NLL in nats per target on `val` of an n-gram table fitted on `train`, per order.

    >>> nll = ngram_baselines([[1, 4, 5, 2]] * 3, [[1, 4, 5, 2]], 6, orders=(1, 2))
    >>> {n: round(v, 4) for n, v in nll.items()}
    {1: 1.1632, 2: 0.2012}
    """
    validation.id_lists(train, "train")  # named here: fit and token_nll say "sequences"
    validation.id_lists(val, "val")
    validation.positive_ints(orders, "orders")
    out = {}
    for n in orders:
        total, count = NGramModel.fit(train, order=n, vocab_size=vocab_size,
                                      discount=discount).nll_sum_and_count(val)
        out[n] = total / count
    return out
