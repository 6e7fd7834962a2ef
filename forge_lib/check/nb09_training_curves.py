"""Checkers for the exercises of notebooks/09_training_curves.ipynb."""

from __future__ import annotations

import math
from collections.abc import Callable

from forge_lib.check._core import Verdict, close, run_cases

__all__ = ["early_stopping", "first_nonfinite_step", "noise_at_batch"]


def first_nonfinite_step(fn: Callable[[list[float]], int | None]) -> Verdict:
    """fn(losses) -> the 1-based step of the first NaN or inf loss, or None if there is none."""
    nan, inf = math.nan, math.inf
    cases = [
        ("a NaN at the 4th step", ([5.0, 4.0, 3.5, nan, nan],), 4),
        ("an inf at the 2nd step", ([5.0, inf, nan],), 2),
        ("a -inf at the 3rd step", ([2.0, 1.0, -inf],), 3),
        ("no NaN at all", ([5.0, 4.0, 3.0],), None),
        ("a NaN at the very first step", ([nan, 1.0],), 1),
    ]

    def mistakes(args, got):
        losses = args[0]
        bad = [i for i, v in enumerate(losses) if not math.isfinite(v)]
        nans = [i for i, v in enumerate(losses) if math.isnan(v)]
        if bad and got == bad[0]:
            return "that is the 0-based index; training loops count steps from 1."
        if bad != nans and (got is None or (nans and got == nans[0] + 1)):
            return "inf and -inf are not finite either: test with math.isfinite, not math.isnan."
        return None

    return run_cases("first_nonfinite_step", fn, cases, mistakes, exact=True)


def noise_at_batch(fn: Callable[[float, int, int], float]) -> Verdict:
    """fn(scatter, batch_from, batch_to) -> the expected scatter of the per-step loss at batch_to.

    A batch loss is a mean over independent-ish tokens, so its standard deviation scales as
    1 / sqrt(batch size).
    """
    cases = [(f"scatter {s} at batch {a}, predicted for batch {b}", (s, a, b), s * math.sqrt(a / b))
             for s, a, b in [(0.1, 16, 2), (0.4, 2, 32), (0.25, 8, 8), (0.05, 64, 1)]]

    def mistakes(args, got):
        s, a, b = args
        if close(got, s * a / b):
            return "the standard deviation of a mean scales with 1/sqrt(n), not 1/n."
        if close(got, s * math.sqrt(b / a)):
            return "upside down: a smaller batch is noisier, so the scatter grows."
        return None

    return run_cases("noise_at_batch", fn, cases, mistakes)


def early_stopping(fn: Callable[[list[float], int], tuple[int, int]]) -> Verdict:
    """fn(val_losses, patience) -> (stop_at, best): 0-based evaluation indices.

    Training stops at the first evaluation that is the `patience`-th in a row without a new
    best (strictly lower); if that never happens, at the last evaluation. best is the index of
    the lowest loss seen up to the stop (the earliest one on ties): the checkpoint to keep.
    """
    cases = [
        # 3.7 is lower than the 3.9 before it but not than the best, 3.5: not an improvement.
        ("a U-shaped curve with a bump, patience 2", ([5.0, 4.0, 3.5, 3.9, 3.7, 3.6, 3.4], 2),
         (4, 2)),
        ("a falling curve, patience 3", ([5.0, 4.0, 3.0, 2.5], 3), (3, 3)),
        ("a tie with the best, patience 1", ([3.0, 2.0, 2.0, 1.0], 1), (2, 1)),
        ("patience 3 with a late recovery", ([4.0, 3.0, 3.1, 3.2, 2.9, 3.5, 3.6, 3.7], 3), (7, 4)),
    ]

    def mistakes(args, got):
        losses, patience = args
        if got == _early_stopping_reference(losses, patience, ties_improve=True):
            return "a tie with the best is not an improvement: compare with <, not <=."
        if got == _early_stopping_reference(losses, patience + 1):
            return "off by one: stop at the patience-th evaluation without a new best."
        if got == _early_stopping_reference(losses, patience, against_previous=True):
            return ("you compare each loss with the evaluation before it; patience counts "
                    "evaluations without a new *best*: a loss that beats its predecessor but "
                    "not the best so far (3.7 after 3.9, with 3.5 the best) is no improvement.")
        return None

    return run_cases("early_stopping", fn, cases, mistakes, exact=True)


def _early_stopping_reference(losses: list[float], patience: int, ties_improve: bool = False,
                              against_previous: bool = False) -> tuple[int, int]:
    """The right answer, or with a flag one of two wrong ones: ties count as improvements, or
    patience is reset by any loss below the previous one (best still the lowest so far)."""
    best, since = 0, 0
    for i in range(1, len(losses)):
        if against_previous and losses[i] < losses[i - 1]:
            since = 0
            if losses[i] < losses[best]:
                best = i
        elif losses[i] < losses[best] or (ties_improve and losses[i] == losses[best]):
            best, since = i, 0
        else:
            since += 1
            if since == patience:
                return i, best
    return len(losses) - 1, best
