"""Metrics across processes: sharding batches and syncing fl.Perplexity.

    shares = fl.uneven_shares(63, 2)            # [range(0, 21), range(21, 63)]: rank r weighted r + 1
    fl.score_batches(model, [batches[i] for i in shares[rank]], metric)
    fl.perplexity_states(metric)                # this rank's sum, count and perplexity

A torchmetrics Metric syncs across processes by all-gathering each state and reducing it with the
state's `dist_reduce_fx`; `fl.Perplexity` keeps a float64 NLL sum and an int64 token count, both
reduced by "sum", so shares of any size combine exactly. The course's launch of a real run is in
forge_lib/course/distributed.py, the script every rank runs in scripts/dist_perplexity.py.
"""

from __future__ import annotations

from itertools import pairwise

import torch

from forge_lib.metrics import validation
from forge_lib.metrics.evaluation import evaluating, model_logits
from forge_lib.metrics.text import Perplexity, ppl_from_sum, shift_for_causal_lm

__all__ = ["uneven_shares", "score_batches", "perplexity_states"]


def uneven_shares(n_items: int, world_size: int) -> list[range]:
    """Split items 0..n_items-1 into `world_size` contiguous ranges, rank r weighted r + 1.

    Every rank gets at least one item (a rank with nothing to score would call compute() on
    empty states). The ranges cover every item exactly once, in order.

    >>> uneven_shares(10, 2)
    [range(0, 3), range(3, 10)]
    >>> [len(r) for r in uneven_shares(63, 3)]
    [10, 21, 32]
    """
    n_items = validation.positive_int(n_items, "n_items")
    world_size = validation.positive_int(world_size, "world_size")
    if n_items < world_size:
        raise ValueError(f"n_items: need at least one item per rank, got {n_items} items "
                         f"for {world_size} ranks. Use fewer processes or a larger batch count.")
    total = world_size * (world_size + 1) // 2  # sum of the weights 1..world_size
    cuts = [0]
    for rank in range(1, world_size):
        cut = (n_items * rank * (rank + 1) // 2) // total  # floor of the weighted boundary
        cuts.append(max(cut, cuts[-1] + 1))  # at least one item each
    cuts = [min(c, n_items - (world_size - i)) for i, c in enumerate(cuts)]  # room for the rest
    cuts.append(n_items)
    return [range(a, b) for a, b in pairwise(cuts)]


def score_batches(
    model: torch.nn.Module, batches: list[dict[str, torch.Tensor]], metric: Perplexity, *more
) -> Perplexity:
    """Update `metric` (and any `more` metrics) with each batch's shifted logits and labels
    (padding = -100, so each metric needs ignore_index=-100); return `metric`.

    >>> import forge_lib as fl  # the course's tiny model and validation batches
    >>> model, _ = fl.load_tiny_model()
    >>> metric = score_batches(model, fl.val_batches()[:2], Perplexity(ignore_index=-100))
    >>> int(metric.count)
    1219
    """
    with evaluating(model):
        for batch in batches:
            logits, target = shift_for_causal_lm(model_logits(model, batch["input_ids"]),
                                                 batch["labels"])
            for m in (metric, *more):
                m.update(logits, target)  # (B, T-1, V), (B, T-1)
    return metric


def perplexity_states(metric: Perplexity) -> dict[str, object]:
    """The metric's local states and the perplexity they alone give, without syncing.

    `nll_sum_hex` is float.hex of the sum: two runs agree bit for bit exactly when these agree.

    >>> import forge_lib as fl
    >>> states = perplexity_states(score_batches(fl.load_tiny_model()[0], fl.val_batches()[:1],
    ...                                          Perplexity(ignore_index=-100)))
    >>> states["count"], round(states["perplexity"], 2)
    (618, 28.27)
    """
    if not isinstance(metric, Perplexity):
        raise TypeError(f"metric: expected an fl.Perplexity, got {type(metric).__name__}.")
    nll_sum, count = float(metric.nll_sum), int(metric.count)
    return {"nll_sum": nll_sum, "nll_sum_hex": nll_sum.hex(), "count": count,
            "perplexity": ppl_from_sum(nll_sum, count, ignore_index=metric.ignore_index,
                                       caller="perplexity_states")}
