"""Checkers for the exercises of notebooks/15_choosing_a_metric.ipynb."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from forge_lib.check._core import Verdict, close, run_cases
from forge_lib.check.nb02_label_shifting import next_token_accuracy_checker

__all__ = ["bits_per_dim", "causal_token_accuracy"]


def bits_per_dim(fn: Callable[[float, int], float]) -> Verdict:
    """fn(nll_sum_nats, n_dims) -> bits per dimension (sub-pixel)."""
    cases = [(f"{s} nats over {n} sub-pixels", (s, n), s / n / math.log(2))
             for s, n in [(3 * 64 * 64 * 3.0, 3 * 64 * 64), (1000.0, 250), (5545.2, 4000)]]

    def mistakes(args, got):
        s, n = args
        if close(got, s / n):
            return "that is nats per dimension; divide by ln 2 for bits."
        if close(got, s / math.log(2)):
            return "divide by the number of dimensions too (a per-dimension average)."
        if close(got, s / n * math.log(2)):
            return "nats to bits is a division by ln 2, not a multiplication."
        return None

    return run_cases("bits_per_dim", fn, cases, mistakes)


def causal_token_accuracy(fn: Callable[[torch.Tensor, torch.Tensor], float]) -> Verdict:
    """fn(logits (B, T, V), labels (B, T) with -100 at padding) -> next-token top-1 accuracy."""
    return next_token_accuracy_checker("causal_token_accuracy", fn, shifted=False)
