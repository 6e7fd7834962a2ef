"""Checkers for the exercises of notebooks/04_reduction.ipynb."""

from __future__ import annotations

from collections.abc import Callable

import torch

from forge_lib.check._core import (
    TorchCalls,
    Verdict,
    call,
    close,
    forbidden_calls,
    not_a_function,
    run_cases,
    verdict,
)

__all__ = ["accumulated_loss", "token_weighted_mean", "weighted_mean_loss"]


def token_weighted_mean(fn: Callable[[list[float], list[int]], float]) -> Verdict:
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


def _token_nll64(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """-log softmax(logits)[target] per row, in float64: (N, V), (N,) -> (N,)."""
    return -logits.double().log_softmax(dim=-1).gather(1, target[:, None]).squeeze(1)


def _weighted_case(seed: int, n: int, vocab: int, n_ignored: int, ignore_index: int):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, vocab, generator=gen) * 2
    target = torch.randint(0, vocab, (n,), generator=gen)
    if ignore_index >= 0:  # keep the ignored id out of the real targets
        target[target == ignore_index] = (ignore_index + 1) % vocab
    target[n - n_ignored:] = ignore_index
    weight = torch.rand(vocab, generator=gen) * 2 + 0.1
    return logits, target, weight, ignore_index


def weighted_mean_loss(
    fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int], float]
) -> Verdict:
    """fn(logits (N, V), target (N,), weight (V,), ignore_index) -> what
    F.cross_entropy(logits, target, weight=weight, ignore_index=ignore_index) returns (mean),
    computed without F.cross_entropy or F.nll_loss (the exercise is the weighted mean itself).

    >>> def by_hand(logits, target, weight, ignore_index):
    ...     keep = target != ignore_index
    ...     nll = -logits[keep].log_softmax(-1).gather(1, target[keep, None]).squeeze(1)
    ...     w = weight[target[keep]]
    ...     return (w * nll).sum() / w.sum()
    >>> bool(weighted_mean_loss(by_hand))
    Correct: all 3 hidden cases pass.
    True
    """
    specs = [("8 targets, 2 ignored (-100), vocabulary 5", (0, 8, 5, 2, -100)),
             ("12 targets, none ignored, vocabulary 7", (1, 12, 7, 0, -100)),
             ("10 targets, 4 ignored with ignore_index=0, vocabulary 6", (2, 10, 6, 4, 0))]
    cases = []
    for description, spec in specs:
        logits, target, weight, ignore_index = _weighted_case(*spec)
        keep = target != ignore_index
        w = weight.double()[target[keep]]
        expected = float((w * _token_nll64(logits[keep], target[keep])).sum() / w.sum())
        cases.append((description, (logits, target, weight, ignore_index), expected))

    def mistakes(args, got):
        logits, target, weight, ignore_index = args
        if ignore_index != -100:  # the right formula, but skipping -100 instead of ignore_index
            kept = target != -100
            w = weight.double()[target[kept]]
            if close(got, float((w * _token_nll64(logits[kept], target[kept])).sum() / w.sum())):
                return (f"the targets equal to ignore_index ({ignore_index}) are counted: "
                        f"compare with the ignore_index argument, not a hard-coded -100.")
        keep = target != ignore_index
        w = weight.double()[target[keep]]
        nll = _token_nll64(logits[keep], target[keep])
        if close(got, float((w * nll).sum() / keep.sum())):
            return ("with class weights, 'mean' divides by the sum of the weights of the "
                    "counted targets, not by their number.")
        if close(got, float((w * nll).sum() / target.numel())):
            return "ignored positions are in neither the sum nor the denominator."
        if close(got, float(nll.mean())):
            return "multiply each token's loss by weight[target] (and divide by those weights' sum)."
        return None

    def shortcut(args, calls):
        return forbidden_calls(calls, {"cross_entropy", "nll_loss"},
                               "take -log_softmax at each kept target, multiply by "
                               "weight[target] and divide by the sum of those weights.")

    return run_cases("weighted_mean_loss", fn, cases, mistakes, shortcut=shortcut)


def accumulated_loss(
    fn: Callable[[list[torch.Tensor], list[torch.Tensor], int], torch.Tensor]
) -> Verdict:
    """fn(micro_logits [(n_i, V)], micro_targets [(n_i,)], ignore_index) -> a 0-dim loss tensor
    whose value and gradient equal those of the token-mean loss over all micro-batches at once.

    >>> import torch.nn.functional as F
    >>> def good(logits, targets, ig):
    ...     total = sum(int((t != ig).sum()) for t in targets)
    ...     return sum(F.cross_entropy(lg, t, ignore_index=ig, reduction="sum") / total
    ...                for lg, t in zip(logits, targets))
    >>> bool(accumulated_loss(good))
    Correct: all 3 hidden cases pass.
    True
    """
    if (refused := not_a_function("accumulated_loss", fn)) is not None:
        return refused
    layouts = [
        ("micro-batches of 2, 10 and 30 counted targets", [(2, 0), (10, 0), (30, 0)], -100),
        ("two equal micro-batches of 12 targets", [(12, 0), (12, 0)], -100),
        ("micro-batches with padding (ignore_index=0)", [(20, 15), (8, 1), (16, 0)], 0),
    ]
    vocab = 9
    for seed, (description, sizes, ignore_index) in enumerate(layouts):
        gen = torch.Generator().manual_seed(100 + seed)
        logits = [torch.randn(n, vocab, generator=gen, dtype=torch.float64).requires_grad_()
                  for n, _ in sizes]
        targets = []
        for n, n_ignored in sizes:
            t = torch.randint(1, vocab, (n,), generator=gen)
            t[n - n_ignored:] = ignore_index
            targets.append(t)
        # Reference: one token-mean over everything, in float64.
        keep = [t != ignore_index for t in targets]
        total = sum(int(k.sum()) for k in keep)
        nll = [_token_nll64(lg[k], t[k]) for lg, t, k in zip(logits, targets, keep, strict=True)]
        reference = sum(x.sum() for x in nll) / total
        expected_grads = torch.autograd.grad(reference, logits)
        with TorchCalls() as calls:  # to see whether the micro-batches are joined
            got, error = call(fn, description, list(logits), [t.clone() for t in targets],
                              ignore_index)
        if error is not None:
            return verdict(False, error)
        if not isinstance(got, torch.Tensor) or got.numel() != 1 or not got.requires_grad:
            return verdict(False, f"on {description} expected a 0-dim loss tensor that autograd "
                           f"can differentiate, got {repr(got)[:60]}. Build it from the logits "
                           f"with torch operations (no .item()).")
        value = got.detach()  # float() of a tensor that requires grad warns
        if not close(value, reference.item()):
            means = [x.mean().item() for x in nll if x.numel() > 0]
            hint = ""
            if close(value, sum(means) / len(means)):
                hint = (" Hint: averaging the micro-batch means weights a 2-token micro-batch "
                        "like a 30-token one; divide every micro-batch's summed loss by the "
                        "total number of counted targets of the whole batch.")
            elif close(value, sum(means)):
                hint = (" Hint: summing mean losses counts every micro-batch fully; scale each "
                        "by its share of the counted targets.")
            elif close(value, sum(x.sum().item() for x in nll) / sum(t.numel() for t in targets)):
                hint = (" Hint: the total counts the ignored positions too (t.numel()); divide "
                        "by the number of counted targets, int((t != ignore_index).sum()).")
            return verdict(False, f"on {description} expected {reference.item():.6g}, got "
                           f"{value.item():.6g}.{hint}")
        grads = torch.autograd.grad(got, logits, allow_unused=True)
        for g, e in zip(grads, expected_grads, strict=True):
            if g is None or not torch.allclose(g.double(), e, rtol=1e-4, atol=1e-9):
                return verdict(False, f"on {description} the value is right but the gradient "
                               f"is not. Hint: compute the loss from the logits you were given, "
                               f"without .detach() or .item().")
        if _concatenates(calls, vocab, max(n for n, _ in sizes)):
            return verdict(False, f"on {description} the value and gradient are right, but your "
                           f"function joins the micro-batches' logits into one tensor: with "
                           f"accumulation they never exist together (each is scored and "
                           f"backward()-ed on its own). Score each micro-batch with "
                           f"reduction='sum', divide by the total count, and add the terms.")
    return verdict(True, f"all {len(layouts)} hidden cases pass.")


def _concatenates(calls: TorchCalls, vocab: int, largest: int) -> bool:
    """True when a cat/stack-like call built logits (n, V) for more tokens than any micro-batch."""
    joins = {"cat", "concat", "concatenate", "stack", "hstack", "vstack", "row_stack"}
    return any(name in joins and isinstance(out, torch.Tensor) and out.shape[-1:] == (vocab,)
               and out.numel() // vocab > largest for name, _, out in calls.log)
