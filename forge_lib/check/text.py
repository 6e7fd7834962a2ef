"""Checkers for the text notebooks (01-05): perplexity, shifting, padding, reduction, overflow."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from forge_lib.check._core import close, run_cases
from forge_lib.text import nll_sum_and_count, perplexity

__all__ = ["perplexity_from_probs", "causal_lm_perplexity", "padded_perplexity",
           "token_weighted_mean", "safe_perplexity"]


def perplexity_from_probs(fn: Callable[[list[float]], float]) -> bool:
    """fn(probs) -> perplexity, where probs are the probabilities given to each actual token."""
    cases = [
        ("four tokens each with p = 0.25", ([0.25] * 4,), 4.0),
        ("a single certain token (p = 1)", ([1.0],), 1.0),
        ("p = [0.5, 0.125]", ([0.5, 0.125],), 4.0),
        ("p = [0.9, 0.05, 0.3]", ([0.9, 0.05, 0.3],), (0.9 * 0.05 * 0.3) ** (-1 / 3)),
    ]

    def mistakes(args, got):
        probs = args[0]
        if close(got, sum(1 / p for p in probs) / len(probs)):
            return "that is the arithmetic mean of 1/p; perplexity is the geometric mean."
        if close(got, math.prod(probs) ** (-1)):
            return "take the N-th root of the product of 1/p (N = number of tokens)."
        return None

    return run_cases("perplexity_from_probs", fn, cases, mistakes)


def _lm_case(seed: int, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(3, 7, 11, generator=gen) * 2
    labels = torch.randint(0, 11, (3, 7), generator=gen)
    if pad:
        labels[0, -pad:] = -100
        labels[2, -1] = -100
    return logits, labels


def causal_lm_perplexity(fn: Callable[[torch.Tensor, torch.Tensor], float]) -> bool:
    """fn(logits (B, T, V), labels (B, T) with -100 at padding) -> perplexity of a causal LM."""
    cases = []
    for seed, pad in [(0, 0), (1, 3), (2, 5)]:
        logits, labels = _lm_case(seed, pad)
        expected = perplexity(logits[:, :-1], labels[:, 1:], ignore_index=-100)
        cases.append((f"a (3, 7, 11) batch with {pad} padded positions", (logits, labels), expected))

    def mistakes(args, got):
        logits, labels = args
        unshifted = perplexity(logits, labels, ignore_index=-100)
        if close(got, unshifted):
            return "you scored logits[:, i] against labels[:, i]; logits[:, i] predicts token i+1."
        nll, _ = nll_sum_and_count(logits[:, :-1], labels[:, 1:], ignore_index=-100)
        if close(got, math.exp(nll.item() / labels[:, 1:].numel())):
            return "the denominator counts padded positions; divide by real tokens only."
        return None

    return run_cases("causal_lm_perplexity", fn, cases, mistakes)


def padded_perplexity(fn: Callable[[float, float, float], float]) -> bool:
    """fn(ppl_real, pad_fraction, pad_loss) -> perplexity when padded positions are counted."""
    cases = [(f"ppl {p}, pad fraction {f}, per-pad loss {lp}", (p, f, lp),
              math.exp((1 - f) * math.log(p) + f * lp))
             for p, f, lp in [(227.0, 0.5, 14.8), (20.0, 0.0, 9.0), (50.0, 0.25, 3.0)]]

    def mistakes(args, got):
        p, f, lp = args
        if close(got, (1 - f) * p + f * math.exp(lp)):
            return "perplexities do not average; losses do. Mix the log-perplexities, then exp."
        return None

    return run_cases("padded_perplexity", fn, cases, mistakes)


def token_weighted_mean(fn: Callable[[list[float], list[int]], float]) -> bool:
    """fn(batch_mean_losses, batch_token_counts) -> mean loss per token over all batches."""
    cases = [
        ("equal counts", ([2.0, 4.0], [10, 10]), 3.0),
        ("counts 30 and 10", ([2.0, 4.0], [30, 10]), 2.5),
        ("three batches", ([1.5, 2.5, 3.5], [5, 100, 20]), (7.5 + 250 + 70) / 125),
    ]

    def mistakes(args, got):
        means, _ = args
        if close(got, sum(means) / len(means)):
            return "a mean of batch means weights a 5-token batch like a 100-token one."
        return None

    return run_cases("token_weighted_mean", fn, cases, mistakes)


def safe_perplexity(fn: Callable[[float], float]) -> bool:
    """fn(mean_nll) -> perplexity, inf (not an exception) where exp overflows float64."""
    cases = [("mean NLL 0", (0.0,), 1.0), ("mean NLL ln 227", (math.log(227.0),), 227.0),
             ("mean NLL 100 (exp is 2.7e43, fine in float64)", (100.0,), math.exp(100.0)),
             ("mean NLL 800", (800.0,), math.inf)]

    def mistakes(args, got):
        if args[0] == 100.0 and got == math.inf:
            return "exp(100) does not overflow float64; the limit is about 709.78."
        return None

    return run_cases("safe_perplexity", fn, cases, mistakes)
