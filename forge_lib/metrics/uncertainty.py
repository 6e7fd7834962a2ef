"""How sure a perplexity is: bootstrap intervals over sequences, and paired comparisons.

    nll, counts = fl.sequence_nll(model, sentences)               # one (sum, count) per sequence
    fl.perplexity_interval(nll, counts)                           # point, low, high (95%)
    fl.compare_perplexities(nll_a, nll_b, counts)                 # ratio A / B, paired

A validation set is a sample of text, so its perplexity has sampling error. Sequences, not
tokens, are the units that were drawn (tokens of one sentence are not independent), so the
bootstrap resamples whole sequences with replacement and recomputes exp(sum NLL / sum count),
the token-weighted perplexity, each time. Two models scored on the same sequences are compared
*paired*: one resampling of the sequences serves both, so the difficulty that the two share
cancels and the interval of their ratio is much narrower than the two intervals suggest.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from forge_lib.metrics import validation
from forge_lib.metrics.batching import iterate_batches
from forge_lib.metrics.evaluation import evaluating, model_logits
from forge_lib.metrics.text import nll_sum_and_count, ppl_from_sum, shift_for_causal_lm

__all__ = ["Interval", "sequence_nll", "perplexity_interval", "compare_perplexities"]


class Interval(NamedTuple):
    """A point estimate and a two-sided bootstrap percentile interval around it."""
    point: float
    low: float
    high: float
    level: float


def sequence_nll(model, sequences: list[list[int]], *, batch_size: int = 64
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed NLL (float64, nats) and target count of each sequence under a causal LM, shifted,
    in eval mode without gradients: the per-sequence inputs of the bootstrap. (S,) each."""
    sums, counts = [], []
    with evaluating(model):
        for batch in iterate_batches(sequences, batch_size):
            logits, target = shift_for_causal_lm(model_logits(model, batch["input_ids"]),
                                                 batch["labels"])  # (B, T-1, V), (B, T-1)
            for row_logits, row_target in zip(logits, target, strict=True):
                nll, n = nll_sum_and_count(row_logits, row_target, ignore_index=-100)
                sums.append(nll)
                counts.append(n)
    return torch.stack(sums), torch.tensor(counts, dtype=torch.long)


def _per_sequence(nll_sums: object, counts: object) -> tuple[torch.Tensor, torch.Tensor]:
    nll = validation.float_tensor(nll_sums, "nll_sums").double()
    n = validation.integer_tensor(counts, "counts")
    if nll.ndim != 1 or tuple(n.shape) != tuple(nll.shape):
        raise ValueError(f"nll_sums and counts: expected two 1-D tensors of one value per "
                         f"sequence, got shapes {tuple(nll.shape)} and {tuple(n.shape)}.")
    if nll.numel() < 2:
        raise ValueError(f"nll_sums: a bootstrap needs at least 2 sequences, got {nll.numel()}.")
    validation.all_finite(nll, "nll_sums")
    if bool((nll < 0).any()) or bool((n < 0).any()):
        raise ValueError("nll_sums and counts: expected values >= 0 (summed NLLs and token "
                         "counts of sequences), found a negative one.")
    return nll, n.double()


def _resamples(n_sequences: int, n_resamples: int, seed: int) -> torch.Tensor:
    """Indices (R, S) of sequences drawn with replacement, the same for every quantity."""
    generator = validation.seeded_generator(seed)
    return torch.randint(n_sequences, (n_resamples, n_sequences), generator=generator)


def _interval(point: float, draws: torch.Tensor, level: float) -> Interval:
    tail = (1 - level) / 2
    low, high = torch.quantile(draws, torch.tensor([tail, 1 - tail], dtype=torch.float64))
    return Interval(point, low.item(), high.item(), level)


def _level(level: object) -> float:
    value = validation.positive_number(level, "level")
    if value >= 1:
        raise ValueError(f"level: expected a confidence level in (0, 1), such as 0.95, got {value}.")
    return value


def perplexity_interval(nll_sums: object, counts: object, *, level: float = 0.95,
                        n_resamples: int = 2000, seed: int = 0) -> Interval:
    """Token-weighted perplexity of the sequences and its bootstrap percentile interval.

    >>> nll = torch.tensor([2.0, 4.0, 3.0, 5.0]); n = torch.tensor([1, 2, 1, 2])
    >>> ci = perplexity_interval(nll, n, n_resamples=200)
    >>> round(ci.point, 4), ci.low <= ci.point <= ci.high   # exp(14 nats / 6 tokens)
    (10.3123, True)
    """
    nll, n = _per_sequence(nll_sums, counts)
    level = _level(level)
    index = _resamples(len(nll), validation.positive_int(n_resamples, "n_resamples"), seed)
    draws = (nll[index].sum(dim=1) / n[index].sum(dim=1)).exp()  # (R,)
    return _interval(ppl_from_sum(nll.sum(), int(n.sum().item()), caller="perplexity_interval"),
                     draws, level)


def compare_perplexities(nll_sums_a: object, nll_sums_b: object, counts: object, *,
                         level: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> Interval:
    """Ratio perplexity(A) / perplexity(B) of two models on the same sequences, with a paired
    bootstrap interval: an interval that excludes 1 says the difference is not sampling noise.

    >>> a = torch.tensor([2.0, 4.0, 3.0, 5.0]); n = torch.tensor([1, 2, 1, 2])
    >>> round(compare_perplexities(a + 0.1, a, n, n_resamples=200).point, 4)  # exp(0.4 / 6)
    1.0689
    """
    nll_a, n = _per_sequence(nll_sums_a, counts)
    nll_b, _ = _per_sequence(nll_sums_b, counts)
    level = _level(level)
    index = _resamples(len(n), validation.positive_int(n_resamples, "n_resamples"), seed)
    tokens = n[index].sum(dim=1)
    draws = ((nll_a[index].sum(dim=1) - nll_b[index].sum(dim=1)) / tokens).exp()  # (R,)
    point = ((nll_a.sum() - nll_b.sum()) / n.sum()).exp().item()
    return _interval(point, draws, level)
