"""Checkers for the padding and reduction notebooks (03, 04): what a loss counts and divides by.

    fl.check.counted_targets(my_fn)        # 03: targets a shifted causal-LM loss scores
    fl.check.accumulated_mean_loss(my_fn)  # 03: the fix for weighting batch means by numel()
    fl.check.weighted_mean_loss(my_fn)     # 04: cross-entropy's mean with class weights
    fl.check.accumulated_loss(my_fn)       # 04: gradient accumulation over uneven micro-batches

Each prints "Correct: ..." or "Not yet: ... Hint: ..." and returns a Verdict, truthy when the
answer is right (it displays nothing more in a notebook). Expected values come from float64
arithmetic written out here, not from the functions the learner uses.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from forge_lib.check._core import Verdict, call, close, run_cases, verdict

__all__ = ["counted_targets", "accumulated_mean_loss", "weighted_mean_loss", "accumulated_loss"]


def _token_nll64(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """-log softmax(logits)[target] per row, in float64: (N, V), (N,) -> (N,)."""
    return -logits.double().log_softmax(dim=-1).gather(1, target[:, None]).squeeze(1)


def counted_targets(fn: Callable[[torch.Tensor], int]) -> Verdict:
    """fn(attention_mask (B, T), 1 = real token, right padding) -> number of targets that a
    causal LM's shifted loss scores when padding is ignored.

    >>> bool(counted_targets(lambda mask: int(mask[:, 1:].sum())))
    Correct: all 3 hidden cases pass.
    True
    """
    masks = [
        ("a (2, 4) mask with rows of 3 and 2 real tokens",
         torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])),
        ("a (3, 5) mask with no padding", torch.ones(3, 5, dtype=torch.long)),
        ("a (3, 6) mask with one row holding only <bos>",
         torch.tensor([[1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]])),
    ]
    # Target i of the shifted loss is token i + 1; it is real exactly where mask[:, i + 1] is 1.
    cases = [(d, (m,), float(sum(max(int(row.sum()) - 1, 0) for row in m))) for d, m in masks]

    def mistakes(args, got):
        mask = args[0]
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
        means, targets, _ = args
        numel = [t.numel() for t in targets]
        if close(got, sum(m * n for m, n in zip(means, numel, strict=True)) / sum(numel)):
            return ("targets.numel() counts the padded positions too, so heavily padded batches "
                    "weigh more than their real tokens; count (targets != ignore_index).")
        if close(got, sum(means) / len(means)):
            return "a mean of batch means weights a 3-token batch like a 30-token one."
        return None

    return run_cases("accumulated_mean_loss", fn, cases, mistakes)


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
    F.cross_entropy(logits, target, weight=weight, ignore_index=ignore_index) returns (mean).

    >>> import torch.nn.functional as F
    >>> bool(weighted_mean_loss(lambda lg, t, w, ig: F.cross_entropy(lg, t, weight=w,
    ...                                                               ignore_index=ig)))
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

    return run_cases("weighted_mean_loss", fn, cases, mistakes)


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
    if not callable(fn):
        return verdict(False, f"accumulated_loss expects a function, got {type(fn).__name__}.")
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
        got, error = call(fn, [lg for lg in logits], [t.clone() for t in targets], ignore_index)
        if error is not None:
            return verdict(False, f"on {description} your function raised {error}.")
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
            return verdict(False, f"on {description} expected {reference.item():.6g}, got "
                           f"{value.item():.6g}.{hint}")
        grads = torch.autograd.grad(got, logits, allow_unused=True)
        for g, e in zip(grads, expected_grads, strict=True):
            if g is None or not torch.allclose(g.double(), e, rtol=1e-4, atol=1e-9):
                return verdict(False, f"on {description} the value is right but the gradient "
                               f"is not. Hint: compute the loss from the logits you were given, "
                               f"without .detach() or .item().")
    return verdict(True, f"all {len(layouts)} hidden cases pass.")
