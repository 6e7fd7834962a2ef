"""Checkers for the exercises of notebooks/10_token_accuracy.ipynb."""

from __future__ import annotations

from collections.abc import Callable

import torch

from forge_lib.check._core import Verdict, close, run_cases
from forge_lib.check.nb02_label_shifting import next_token_accuracy_checker
from forge_lib.metrics.text import token_accuracy

__all__ = ["masked_token_accuracy", "sampling_accuracy", "top_k_accuracy"]


def masked_token_accuracy(fn: Callable[[torch.Tensor, torch.Tensor], float]) -> Verdict:
    """fn(logits (B, T, V), labels (B, T) with -100 at padding, already shifted) -> accuracy."""
    return next_token_accuracy_checker("masked_token_accuracy", fn, shifted=True)


def top_k_accuracy(fn: Callable[[torch.Tensor, torch.Tensor, int], float]) -> Verdict:
    """fn(logits (N, V), target (N,), k) -> fraction of targets among the k highest logits."""
    gen = torch.Generator().manual_seed(3)
    logits, target = torch.randn(40, 9, generator=gen), torch.randint(0, 9, (40,), generator=gen)
    cases = [(f"40 tokens, vocabulary 9, k = {k}", (logits, target, k),
              token_accuracy(logits, target, top_k=k)) for k in (1, 3, 9)]

    def mistakes(args, got):
        logits, target, k = args
        lowest = (logits.topk(k, dim=1, largest=False).indices == target[:, None]).any(1)
        if k < logits.shape[1] and close(got, lowest.float().mean().item()):
            return "you took the k smallest logits; topk(k) with largest=True (the default)."
        if k > 1 and close(got, token_accuracy(logits, target, top_k=k - 1)):
            return "off by one: the top k includes the argmax itself."
        return None

    return run_cases("top_k_accuracy", fn, cases, mistakes)


def sampling_accuracy(fn: Callable[[list[float]], float]) -> Verdict:
    """fn(p) -> expected accuracy when the guess is *sampled* from p and the truth also follows p."""
    cases = [("p = [0.5, 0.5]", ([0.5, 0.5],), 0.5), ("p = [1.0]", ([1.0],), 1.0),
             ("p = [0.7, 0.2, 0.1]", ([0.7, 0.2, 0.1],), 0.54),
             ("p uniform over 10", ([0.1] * 10,), 0.1)]

    def mistakes(args, got):
        if close(got, max(args[0])):
            return "max(p) is the accuracy of the argmax guess; a sampled guess matches with p_i * p_i."
        return None

    return run_cases("sampling_accuracy", fn, cases, mistakes)
