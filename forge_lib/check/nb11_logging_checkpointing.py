"""Checkers for the exercises of notebooks/11_logging_checkpointing.ipynb."""

from __future__ import annotations

import math
from collections.abc import Callable

from forge_lib.check._core import Verdict, close, run_cases
from forge_lib.metrics.tb_logging import smooth_like_tensorboard

__all__ = ["is_improvement", "tensorboard_smoothing"]


def is_improvement(fn: Callable[[float, float | None, str], bool]) -> Verdict:
    """fn(metric, best, mode) -> True when metric beats best ("min": lower, "max": higher);
    best None means nothing is saved yet; NaN never improves; equal is not better."""
    nan = math.nan
    cases = [("2.0 vs best 3.0, mode min", (2.0, 3.0, "min"), True),
             ("3.0 vs best 3.0, mode min (a tie)", (3.0, 3.0, "min"), False),
             ("0.9 vs best 0.8, mode max", (0.9, 0.8, "max"), True),
             ("0.7 vs best 0.8, mode max", (0.7, 0.8, "max"), False),
             ("5.0 with nothing saved (best None)", (5.0, None, "min"), True),
             ("NaN vs best 3.0, mode min", (nan, 3.0, "min"), False),
             ("NaN with nothing saved", (nan, None, "max"), False)]

    def mistakes(args, got):
        metric, best, mode = args
        if best is not None and metric == best and got:
            return "a tie is not an improvement: use < (or >), not <=, or every tie rewrites the file."
        if metric != metric:
            return "NaN must never replace a saved model: check math.isnan first."
        if best is not None and mode == "max" and got == (metric < best):
            return "mode 'max' means higher is better (accuracy)."
        return None

    return run_cases("is_improvement", fn, cases, mistakes, exact=True)


def tensorboard_smoothing(fn: Callable[[list[float], float], list[float]]) -> Verdict:
    """fn(values, weight) -> TensorBoard's smoothed curve: a debiased exponential moving average."""
    series = [[4.0, 3.0, 3.5, 2.0, 2.5], [1.0, 1.0, 1.0], [10.0, 0.0, 10.0, 0.0]]
    cases = [(f"{v} with weight {w}", (v, w), smooth_like_tensorboard(v, w))
             for v, w in [(series[0], 0.6), (series[1], 0.9), (series[2], 0.5), (series[0], 0.0)]]

    def mistakes(args, got):
        values, w = args
        biased, last = [], 0.0
        for v in values:
            last = last * w + (1 - w) * v
            biased.append(last)
        if close(got, biased):
            return ("the average starts at 0, so the first points are pulled down; "
                    "divide by 1 - weight**n (n = points so far).")
        seeded = [values[0]]  # the average started at the first value instead of 0
        for v in values[1:]:
            seeded.append(seeded[-1] * w + (1 - w) * v)
        if close(got, seeded):
            return ("starting the average at the first value is another cure for the start-up "
                    "bias, but not TensorBoard's: it starts at 0 and divides by 1 - weight**n "
                    "(n = points so far), which weighs the first value less from the second "
                    "point on.")
        return None

    return run_cases("tensorboard_smoothing", fn, cases, mistakes)
