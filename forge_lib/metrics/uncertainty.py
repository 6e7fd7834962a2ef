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
from forge_lib.metrics.text import _no_tokens, nll_sum_and_count, ppl_from_sum, shift_for_causal_lm

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
    model = validation.model(model)
    if len(validation.id_lists(sequences, "sequences")) == 0:
        raise ValueError("sequences: expected at least one id sequence to score, got none.")
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


def _per_sequence(nll_sums: object, counts: object, caller: str, name: str = "nll_sums"
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    nll = validation.float_tensor(nll_sums, name).double()
    n = validation.integer_tensor(counts, "counts")
    if nll.ndim != 1 or tuple(n.shape) != tuple(nll.shape):
        raise ValueError(f"{name} and counts: expected two 1-D tensors of one value per "
                         f"sequence, got shapes {tuple(nll.shape)} and {tuple(n.shape)}.")
    if nll.numel() < 2:
        raise ValueError(f"{name}: a bootstrap needs at least 2 sequences, got {nll.numel()}.")
    validation.all_finite(nll, name)
    if bool((nll < 0).any()) or bool((n < 0).any()):
        raise ValueError(f"{name} and counts: expected values >= 0 (summed NLLs and token "
                         f"counts of sequences), found a negative one.")
    _no_empty_sequences(n, caller)
    return nll, n.double()


def _no_empty_sequences(n: torch.Tensor, caller: str) -> None:
    """A resample of only target-less sequences would be 0 / 0 = NaN, so refuse them all."""
    empty = (n == 0).nonzero().flatten()
    if len(empty) == len(n):
        raise _no_tokens(caller, None, " Every sequence's count is 0 (one-token sentences?).")
    if len(empty):
        raise ValueError(f"counts: expected at least one target per sequence, found "
                         f"{len(empty)} with none (first: index {int(empty[0])}, a one-token "
                         f"sentence?). A resample drawing only those has no perplexity: drop "
                         f"them (they add nothing to the sums), e.g. keep = counts > 0.")


def _resamples(n_sequences: int, n_resamples: int, seed: int) -> torch.Tensor:
    """Indices (R, S) of sequences drawn with replacement, the same for every quantity."""
    generator = validation.seeded_generator(seed)
    return torch.randint(n_sequences, (n_resamples, n_sequences), generator=generator)


def _quantile(draws: torch.Tensor, q: float) -> float:
    """torch.quantile's linear interpolation, with inf where a draw overflowed.

    torch.quantile interpolates between two infinite draws as inf - inf = NaN; a resample whose
    perplexity overflows is inf by fl's policy, and so is any quantile that reaches it.
    """
    if bool(torch.isfinite(draws).all()):
        return torch.quantile(draws, q).item()
    ordered = draws.sort().values
    rank = q * (len(ordered) - 1)
    below, weight = int(rank), rank - int(rank)
    if weight == 0:
        return ordered[below].item()
    above = ordered[below + 1].item()
    return above if above == float("inf") else torch.lerp(ordered[below], ordered[below + 1],
                                                           weight).item()


def _interval(point: float, draws: torch.Tensor, level: float) -> Interval:
    tail = (1 - level) / 2
    return Interval(point, _quantile(draws, tail), _quantile(draws, 1 - tail), level)


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
    nll, n = _per_sequence(nll_sums, counts, "perplexity_interval")
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
    nll_a, n = _per_sequence(nll_sums_a, counts, "compare_perplexities", "nll_sums_a")
    nll_b, _ = _per_sequence(nll_sums_b, counts, "compare_perplexities", "nll_sums_b")
    level = _level(level)
    index = _resamples(len(n), validation.positive_int(n_resamples, "n_resamples"), seed)
    tokens = n[index].sum(dim=1)
    draws = ((nll_a[index].sum(dim=1) - nll_b[index].sum(dim=1)) / tokens).exp()  # (R,)
    point = ((nll_a.sum() - nll_b.sum()) / n.sum()).exp().item()
    return _interval(point, draws, level)
