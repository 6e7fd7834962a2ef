"""Checkers for the exercises of notebooks/12_sliding_window.ipynb."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from forge_lib.check._core import Verdict, close, run_cases
from forge_lib.metrics.windows import sliding_window_perplexity, window_spans

__all__ = ["min_context", "sliding_window_ppl", "window_count"]


def window_count(fn: Callable[[int, int, int], int]) -> Verdict:
    """fn(n_tokens, context, stride) -> how many forward passes a sliding-window evaluation makes."""
    cases = [(f"{n} tokens, context {c}, stride {s}", (n, c, s),
              len(window_spans(n, context=c, stride=s)))
             for n, c, s in [(10, 4, 2), (1000, 128, 128), (1000, 128, 1), (129, 128, 64),
                             (5000, 128, 32)]]

    def mistakes(args, got):
        n, c, s = args
        if got == math.ceil(n / s) or got == n // s:
            return ("the last window ends at the last token: windows stop once a window "
                    "reaches it, so count windows until begin + context >= n - 1.")
        return None

    return run_cases("window_count", fn, cases, mistakes, exact=True)


def min_context(fn: Callable[[int, int], int]) -> Verdict:
    """fn(context, stride) -> the fewest tokens of context any target gets after the first window."""
    cases = [(f"context {c}, stride {s}", (c, s), c - s + 1)
             for c, s in [(128, 128), (128, 64), (128, 1), (16, 5)]]

    def mistakes(args, got):
        c, s = args
        if got == c - s:
            return "a window of C inputs predicts C targets; its first new target sees C - stride + 1."
        return None

    return run_cases("min_context", fn, cases, mistakes, exact=True)


class _BigramModel(torch.nn.Module):
    """A fixed toy model whose logits depend on the current and previous token only."""

    def __init__(self, vocab: int = 11) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(7)
        self.table = torch.randn(vocab, vocab, generator=gen) * 2
        self.prev = torch.randn(vocab, vocab, generator=gen)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        prev = torch.cat([input_ids[:, :1], input_ids[:, :-1]], dim=1)
        first = torch.zeros_like(input_ids, dtype=torch.bool)
        first[:, 0] = True  # no previous token inside the window: context matters
        return self.table[input_ids] + self.prev[prev].masked_fill(first[..., None], 0.0)


def sliding_window_ppl(fn: Callable[[torch.nn.Module, torch.Tensor, int, int], float]) -> Verdict:
    """fn(model, token_ids (N,), context, stride) -> sliding-window perplexity, each target once."""
    model = _BigramModel()
    gen = torch.Generator().manual_seed(8)
    ids = torch.randint(0, 11, (57,), generator=gen)
    cases = [(f"57 tokens, context {c}, stride {s}", (model, ids, c, s),
              sliding_window_perplexity(model, ids, context=c, stride=s))
             for c, s in [(8, 8), (8, 3), (8, 1), (57, 57)]]

    def mistakes(args, got):
        model, ids, c, s = args
        window_nll = []  # (NLL of the targets each window newly scores, their count)
        rescored_nll, rescored_count = 0.0, 0  # every target of every window, overlaps again
        for begin, end, n_scored in window_spans(len(ids), context=c, stride=s):
            logp = torch.log_softmax(model(ids[None, begin:end])[0].double(), -1)
            picked = logp.gather(1, ids[begin + 1:end + 1, None])
            window_nll.append((-float(picked[-n_scored:].sum()), n_scored))
            rescored_nll -= float(picked.sum())
            rescored_count += end - begin
        total_nll = sum(nll for nll, _ in window_nll)
        if close(got, total_nll / (len(ids) - 1)):
            return "that is the mean NLL; the perplexity is its exp."
        if len(window_nll) > 1 and close(got, sum(math.exp(nll / n) for nll, n in window_nll)
                                         / len(window_nll)):
            return ("that is the mean of the windows' perplexities, which weighs a window that "
                    "scores 1 new target like one that scores 8: add the windows' NLL sums and "
                    "counts, then exp(total NLL / total count).")
        scored_twice = "overlapping windows score some targets twice; count only the new ones."
        if s < c and close(got, math.exp(rescored_nll / rescored_count)):
            return scored_twice
        total, count = 0.0, 0
        for b in range(0, len(ids) - 1, s):  # the same, with a window starting every stride
            window = ids[b:b + c + 1]
            if len(window) < 2:
                break
            logp = torch.log_softmax(model(window[None, :-1])[0].double(), -1)
            total -= float(logp.gather(1, window[1:, None]).sum())
            count += len(window) - 1
        if s < c and close(got, math.exp(total / count)):
            return scored_twice
        return None

    return run_cases("sliding_window_ppl", fn, cases, mistakes)
