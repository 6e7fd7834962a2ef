"""Checkers for the exercises of notebooks/03_padding.ipynb."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from forge_lib.check._core import Verdict, close, run_cases

__all__ = ["accumulated_mean_loss", "counted_targets", "padded_perplexity"]


def padded_perplexity(fn: Callable[[float, float, float], float]) -> Verdict:
    """fn(ppl_real, pad_fraction, pad_loss) -> perplexity when padded positions are counted."""
    cases = [(f"ppl {p}, pad fraction {f}, per-pad loss {lp}", (p, f, lp),
              math.exp((1 - f) * math.log(p) + f * lp))
             for p, f, lp in [(227.0, 0.5, 14.8), (20.0, 0.0, 9.0), (50.0, 0.25, 3.0)]]

    def mistakes(args, got):
        p, f, lp = args
        if close(got, (1 - f) * math.log(p) + f * lp):
            return "that is the mixed mean loss; the perplexity is its exp."
        if close(got, (1 - f) * p + f * math.exp(lp)):
            return "perplexities do not average; losses do. Mix the log-perplexities, then exp."
        return None

    return run_cases("padded_perplexity", fn, cases, mistakes)


def counted_targets(fn: Callable[[torch.Tensor], int]) -> Verdict:
    """fn(attention_mask (B, T), 1 = real token, right padding) -> number of targets that a
    causal LM's shifted loss scores when padding is ignored.

    >>> bool(counted_targets(lambda mask: int(mask[:, 1:].sum())))
    Correct: all 3 hidden cases pass.
    True
    """
    masks = [
        # Two full rows, so that every wrong count differs from the right 11: mask[:, :-1]
        # (which drops their real last tokens) 12, mask.sum() - 1 (one <bos> for the whole
        # batch) 13, mask.sum() 14, B * (T - 1) 15, numel() 18.
        ("a (3, 6) mask with rows of 6, 6 and 2 real tokens",
         torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0]])),
        ("a (3, 5) mask with no padding", torch.ones(3, 5, dtype=torch.long)),
        ("a (3, 6) mask with one row holding only <bos>",
         torch.tensor([[1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]])),
    ]
    # Target i of the shifted loss is token i + 1; it is real exactly where mask[:, i + 1] is 1.
    cases = [(d, (m,), float(sum(max(int(row.sum()) - 1, 0) for row in m))) for d, m in masks]

    def mistakes(args, got):
        mask = args[0]
        if close(got, float(mask[:, :-1].sum())):
            return ("mask[:, :-1] drops the last position, but the position that is never a "
                    "target is the first (target i is token i + 1): use mask[:, 1:]. The two "
                    "agree only when no row is padded.")
        if close(got, float(mask.sum()) - 1):
            return ("every row's first token is never a target, so subtract one per row "
                    "(mask.shape[0] of them), not one for the whole batch: or count mask[:, 1:].")
        if close(got, float(mask.sum())):
            return ("the first token of each row is never a target: after the shift the "
                    "targets are positions 1..T-1, so each row scores one token fewer.")
        if close(got, float(mask.shape[0] * (mask.shape[1] - 1))):
            return "B * (T - 1) counts the padded targets too; count only where the mask is 1."
        if close(got, float(mask.numel())):
            return "numel() counts padding, and the first token is never a target."
        return None

    return run_cases("counted_targets", fn, cases, mistakes)


def _batches(shapes_and_real: list[tuple[int, int, int]], ignore_index: int, seed: int):
    """Target tensors of the given (B, T) shapes with `real` counted tokens each, rest ignored."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for b, t, real in shapes_and_real:
        target = torch.randint(4, 50, (b * t,), generator=gen)
        target[real:] = ignore_index  # padding at the end, as right padding leaves it
        out.append(target.view(b, t))
    return out


def accumulated_mean_loss(fn: Callable[[list[float], list[torch.Tensor], int], float]) -> Verdict:
    """fn(batch_mean_losses, batch_targets, ignore_index) -> mean loss per counted token.

    Each batch's mean loss was computed with ignore_index, so it is a mean over that batch's
    counted targets; batch_targets are the (B, T) targets the loss saw, padding included.

    >>> bool(accumulated_mean_loss(lambda means, targets, ig: sum(
    ...     m * int((t != ig).sum()) for m, t in zip(means, targets))
    ...     / sum(int((t != ig).sum()) for t in targets)))
    Correct: all 3 hidden cases pass.
    True
    """
    layouts = [
        ("a full (1, 4) batch (mean 2.0) and a (2, 6) batch with 3 real targets (mean 4.0)",
         [2.0, 4.0], [(1, 4, 4), (2, 6, 3)], -100),
        ("three (2, 5) batches with no padding", [3.1, 2.9, 3.3], [(2, 5, 10)] * 3, -100),
        ("three batches padded with pad id 0 (ignore_index=0)", [3.0, 3.5, 2.5],
         [(4, 8, 30), (4, 20, 22), (2, 3, 6)], 0),
    ]
    cases = []
    for seed, (description, means, shapes, ignore_index) in enumerate(layouts):
        targets = _batches(shapes, ignore_index, seed)
        counts = [real for _, _, real in shapes]
        expected = sum(m * n for m, n in zip(means, counts, strict=True)) / sum(counts)
        cases.append((description, (means, targets, ignore_index), expected))

    def mistakes(args, got):
        means, targets, ignore_index = args
        if ignore_index != -100:
            counted = [int((t != -100).sum()) for t in targets]
            if close(got, sum(m * n for m, n in zip(means, counted, strict=True)) / sum(counted)):
                return (f"that counts the padded positions of a batch padded with "
                        f"{ignore_index}: compare with the ignore_index argument, not a "
                        f"hard-coded -100.")
        numel = [t.numel() for t in targets]
        if close(got, sum(m * n for m, n in zip(means, numel, strict=True)) / sum(numel)):
            return ("targets.numel() counts the padded positions too, so heavily padded batches "
                    "weigh more than their real tokens; count (targets != ignore_index).")
        if close(got, sum(means) / len(means)):
            return "a mean of batch means weights a 3-token batch like a 30-token one."
        return None

    return run_cases("accumulated_mean_loss", fn, cases, mistakes)
