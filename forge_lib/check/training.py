"""Checkers for the training notebooks (09-12): curves, token accuracy, checkpoints, windows."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from forge_lib.check._core import Verdict, close, run_cases
from forge_lib.tb_logging import smooth_like_tensorboard
from forge_lib.text import token_accuracy
from forge_lib.windows import sliding_window_perplexity, window_spans

__all__ = ["first_nonfinite_step", "noise_at_batch", "early_stopping", "masked_token_accuracy",
           "top_k_accuracy", "sampling_accuracy", "is_improvement", "tensorboard_smoothing",
           "window_count", "min_context", "sliding_window_ppl"]


# ---- notebook 09: training curves -------------------------------------------------------------

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
        ("a U-shaped curve, patience 2", ([5.0, 4.0, 3.5, 3.6, 3.7, 3.4], 2), (4, 2)),
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
        return None

    return run_cases("early_stopping", fn, cases, mistakes, exact=True)


def _early_stopping_reference(losses: list[float], patience: int,
                              ties_improve: bool = False) -> tuple[int, int]:
    best, since = 0, 0
    for i in range(1, len(losses)):
        if losses[i] < losses[best] or (ties_improve and losses[i] == losses[best]):
            best, since = i, 0
        else:
            since += 1
            if since == patience:
                return i, best
    return len(losses) - 1, best


# ---- notebook 10: token accuracy --------------------------------------------------------------

def _accuracy_case(seed: int, n_pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(3, 6, 5, generator=gen)
    labels = torch.randint(0, 5, (3, 6), generator=gen)
    labels[:, 0] = logits[:, 0].argmax(-1)  # a few sure hits so accuracy is not tiny
    if n_pad:
        labels[0, -n_pad:] = -100
        labels[2, -1] = -100
    return logits, labels


def masked_token_accuracy(fn: Callable[[torch.Tensor, torch.Tensor], float]) -> Verdict:
    """fn(logits (B, T, V), labels (B, T) with -100 at padding, already shifted) -> accuracy."""
    cases = []
    for seed, pad in [(0, 0), (1, 3), (2, 5)]:
        logits, labels = _accuracy_case(seed, pad)
        cases.append((f"a (3, 6, 5) batch with {pad + (1 if pad else 0)} padded positions",
                      (logits, labels), token_accuracy(logits, labels, ignore_index=-100)))

    def mistakes(args, got):
        logits, labels = args
        hits = (logits.argmax(-1) == labels).sum().item()
        if close(got, hits / labels.numel()):
            return "the denominator counts padded positions; divide by real tokens only."
        return None

    return run_cases("masked_token_accuracy", fn, cases, mistakes)


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


# ---- notebook 11: logging and checkpointing ---------------------------------------------------

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
        return None

    return run_cases("tensorboard_smoothing", fn, cases, mistakes)


# ---- notebook 12: sliding windows -------------------------------------------------------------

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
        total, count = 0.0, 0
        for b in range(0, len(ids) - 1, s):  # every target of every window, overlaps included
            window = ids[b:b + c + 1]
            if len(window) < 2:
                break
            logp = torch.log_softmax(model(window[None, :-1])[0].double(), -1)
            total -= float(logp.gather(1, window[1:, None]).sum())
            count += len(window) - 1
        if s < c and close(got, math.exp(total / count)):
            return "overlapping windows score some targets twice; count only the new ones."
        return None

    return run_cases("sliding_window_ppl", fn, cases, mistakes)
