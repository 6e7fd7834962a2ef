"""Checkers for the exercises of notebooks/07_timer.ipynb."""

from __future__ import annotations

import statistics
from collections.abc import Callable

from forge_lib.check._core import Verdict, close, run_cases

__all__ = ["median_after_warmup", "tokens_per_second"]


def median_after_warmup(fn: Callable[[list[float], int], float]) -> Verdict:
    """fn(times_s, warmup) -> median of the times after dropping the first `warmup` runs."""
    cases = [
        ("times [3.0, 1.0, 1.2, 1.1] with 1 warm-up run", ([3.0, 1.0, 1.2, 1.1], 1), 1.1),
        ("times [5.0, 2.0, 1.0, 1.0, 9.0, 1.1] with 2 warm-up runs",
         ([5.0, 2.0, 1.0, 1.0, 9.0, 1.1], 2), 1.05),
        ("times [1.0, 2.0, 4.0] with no warm-up", ([1.0, 2.0, 4.0], 0), 2.0),
    ]

    def mistakes(args, got):
        times, warmup = args
        if close(got, statistics.mean(times[warmup:])):
            return "that is the mean; one slow run (another program busy) drags it, the median not."
        if close(got, statistics.median(times)):
            return "drop the warm-up runs first: times[warmup:]."
        kept = sorted(times[warmup:])
        if len(kept) % 2 == 0 and (close(got, kept[len(kept) // 2])
                                   or close(got, kept[len(kept) // 2 - 1])):
            return ("with an even number of runs the median is the mean of the two middle ones; "
                    "statistics.median does that.")
        if close(got, min(times[warmup:])):
            return "the minimum is the luckiest run; report the median (the typical run)."
        return None

    return run_cases("median_after_warmup", fn, cases, mistakes)


def tokens_per_second(fn: Callable[[int, list[float]], float]) -> Verdict:
    """fn(tokens, times_s) -> throughput of one run that scores `tokens`, from its median time."""
    cases = [
        ("34,725 tokens, times [0.5, 0.6, 0.55]", (34_725, [0.5, 0.6, 0.55]), 34_725 / 0.55),
        ("1,000 tokens, times [0.1, 0.1, 0.9, 0.1]", (1_000, [0.1, 0.1, 0.9, 0.1]), 10_000.0),
        ("256 tokens, times [2.0]", (256, [2.0]), 128.0),
    ]

    def mistakes(args, got):
        tokens, times = args
        if close(got, tokens / statistics.mean(times)):
            return "use the median time: the mean is dragged by the one slow run."
        if close(got, tokens / sum(times)):
            return "each run scores all the tokens; divide by one run's (median) time, not the sum."
        if close(got, statistics.median(times) / tokens):
            return "that is seconds per token; invert it."
        if close(got, tokens / min(times)):
            return ("that divides by the fastest run, the luckiest one; the throughput of a "
                    "typical run uses the median time.")
        return None

    return run_cases("tokens_per_second", fn, cases, mistakes)
