"""Checkers for the exercises of notebooks/16_distributed_metrics.ipynb."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

from forge_lib.check._core import Verdict, call, close, not_a_function, run_cases, verdict

__all__ = ["combine_ranks", "even_shards", "order_free_sum"]


def combine_ranks(fn: Callable[[list[tuple[float, int]]], float]) -> Verdict:
    """fn(rank_states) -> the perplexity of all the data, where rank_states holds one
    (nll_sum in nats, token count) pair per process.

    >>> bool(combine_ranks(lambda st: math.exp(sum(s for s, _ in st) / sum(n for _, n in st))))
    Correct: all 3 hidden cases pass.
    True
    """
    raw = [
        ("two ranks with 3 and 9 tokens", [(3 * 2.0, 3), (9 * 4.0, 9)]),
        ("the 21/42-batch split of the val set", [(11_773 * 3.2946, 11_773), (22_952 * 3.3018, 22_952)]),
        ("three ranks, one nearly empty", [(0.5, 1), (120.0, 40), (330.0, 100)]),
    ]
    cases = [(d, (states,), math.exp(sum(s for s, _ in states) / sum(n for _, n in states)))
             for d, states in raw]

    def mistakes(args, got):
        states = args[0]
        per_rank = [math.exp(s / n) for s, n in states]
        if close(got, sum(per_rank) / len(per_rank)):
            return ("that is the mean of the ranks' perplexities; ranks with more tokens must "
                    "weigh more. Add the sums and the counts first, then divide and exp.")
        if close(got, math.exp(sum(s / n for s, n in states) / len(states))):
            return ("that is exp of the mean of the ranks' mean losses, which weighs every rank "
                    "the same whatever its token count. Divide the total NLL by the total count.")
        if close(got, sum(s for s, _ in states) / sum(n for _, n in states)):
            return "that is the mean NLL in nats; perplexity is its exponential."
        return None

    return run_cases("combine_ranks", fn, cases, mistakes)


def even_shards(fn: Callable[[int, int], list[range]]) -> Verdict:
    """fn(n_items, world_size) -> one range per rank: contiguous, in order, every item exactly
    once (no padding, no drops), sizes differing by at most one.

    >>> def shards(n, w):
    ...     bounds = [n * r // w for r in range(w + 1)]
    ...     return [range(a, b) for a, b in zip(bounds, bounds[1:])]
    >>> bool(even_shards(shards))
    Correct: all 4 hidden cases pass.
    True
    """
    if (refused := not_a_function("even_shards", fn)) is not None:
        return refused
    cases = [(10, 3), (10, 2), (4000, 3), (7, 7)]
    for n, world in cases:
        description = f"{n} items over {world} ranks"
        got, error = call(fn, description, n, world)
        if error is not None:
            return verdict(False, error)
        try:
            shards = [list(r) for r in got]
        except TypeError:
            return verdict(False, f"on {description} expected a list of ranges, got "
                           f"{type(got).__name__}.")
        if len(shards) != world:
            return verdict(False, f"on {description} expected {world} shards, got {len(shards)}.")
        flat = [i for shard in shards for i in shard]
        sizes = [len(s) for s in shards]
        if len(flat) > n:
            return verdict(False, f"on {description} the shards hold {len(flat)} items, "
                           f"{len(flat) - n} more than exist. Hint: padding by repeating items "
                           f"(as DistributedSampler does) counts those items twice in a metric.")
        if len(flat) < n:
            lost = n - len(flat)
            return verdict(False, f"on {description} the shards hold {len(flat)} items; {lost} "
                           f"{'is' if lost == 1 else 'are'} lost. Hint: n // world_size per rank drops the "
                           f"remainder; give the first n % world_size ranks one item more.")
        if flat != list(range(n)):
            return verdict(False, f"on {description} the shards are not the items 0..{n - 1} in "
                           f"order, each once. Hint: rank r takes one contiguous block.")
        if max(sizes) - min(sizes) > 1:
            return verdict(False, f"on {description} the shard sizes are {sizes}; expected sizes "
                           f"that differ by at most one.")
    return verdict(True, f"all {len(cases)} hidden cases pass.")


def _distinct_orders(values: list[float]) -> Iterator[list[float]]:
    """Every distinct order of `values` once ([0.1] * 10 has one, not 10! = 3,628,800)."""
    if not values:
        yield []
        return
    for first in dict.fromkeys(values):
        rest = list(values)
        rest.remove(first)
        for tail in _distinct_orders(rest):
            yield [first, *tail]


def order_free_sum(fn: Callable[[list[float]], float]) -> Verdict:
    """fn(values) -> their sum as a float, bit-identical whatever order the values come in
    (ranks can report in any order) and as close to the exact sum as a float can be.

    The cases: 1e40 and 1 (133 bits apart, more than any machine's long double holds, so a
    wider accumulator is order-dependent too); 1 beside 2**53 and -2**53, which are equal in
    absolute value (so sorting by abs leaves their order, and the sum, to the input); ten 0.1s,
    whose sum in any fixed order is 0.9999999999999999, not 1.0.

    >>> bool(order_free_sum(math.fsum))
    Correct: all 3 hidden cases give the correctly rounded sum in every order.
    True
    """
    if (refused := not_a_function("order_free_sum", fn)) is not None:
        return refused
    cases = [
        ("[1e40, 1.0, -1e40, 1.0]", [1e40, 1.0, -1e40, 1.0]),
        ("[1.0, 2.0**53, -2.0**53]", [1.0, 2.0 ** 53, -(2.0 ** 53)]),
        ("[0.1] * 10", [0.1] * 10),
    ]
    for description, values in cases:
        exact = math.fsum(values)
        results = set()
        for order in _distinct_orders(values):
            got, error = call(fn, description, list(order))
            if error is not None:
                return verdict(False, error)
            try:
                results.add(float(got))
            except (TypeError, ValueError):
                return verdict(False, f"on {description} expected a float, got {type(got).__name__}.")
        if len(results) == 1 and results == {exact}:
            continue
        if len(results) > 1:
            shown = ", ".join(repr(r) for r in sorted(results))
            return verdict(False, f"on {description} different orders gave different sums: "
                           f"{shown}. Hint: float addition is not associative, in any width "
                           f"(np.longdouble too: 1e40 + 1 needs 133 bits), and sorting by size "
                           f"leaves ties such as 2**53 and -2**53 in the input's order; an "
                           f"exactly rounded sum such as math.fsum does not depend on the order.")
        (got,) = results
        return verdict(False, f"on {description} every order gave {got!r}, but the exact sum "
                       f"is {exact!r}. Hint: sorting makes the order fixed, not the sum exact; "
                       f"try math.fsum.")
    return verdict(True, f"all {len(cases)} hidden cases give the correctly rounded sum in every order.")
