"""Checkers for the exercises of notebooks/02_label_shifting.ipynb."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from forge_lib.check._core import Verdict, call, close, not_a_function, run_cases, verdict
from forge_lib.metrics.text import nll_sum_and_count, perplexity, shift_for_causal_lm, token_accuracy

__all__ = ["causal_lm_accuracy", "causal_lm_perplexity", "shift_labels"]

_WRONG_WAY = ("that shifts the wrong way (logits[:, 1:] against labels[:, :-1]): keep "
              "logits[:, :-1] and labels[:, 1:], since position i predicts token i + 1.")
_DOUBLE_SHIFT = ("that shifts twice (logits[:, i] against token i + 2): the classic double shift "
                 "of code that shifts the labels and then hands them to a loss (Hugging Face's "
                 "models) that shifts them again. Shift once: logits[:, :-1] against labels[:, 1:].")


def _lm_case(seed: int, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(3, 7, 11, generator=gen) * 2
    labels = torch.randint(0, 11, (3, 7), generator=gen)
    if pad:
        labels[0, -pad:] = -100
        labels[2, -1] = -100
    return logits, labels


def causal_lm_perplexity(fn: Callable[[torch.Tensor, torch.Tensor], float]) -> Verdict:
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
        if close(got, perplexity(logits[:, 1:], labels[:, :-1], ignore_index=-100)):
            return _WRONG_WAY
        if close(got, perplexity(logits[:, :-2], labels[:, 2:], ignore_index=-100)):
            return _DOUBLE_SHIFT
        nll, count = nll_sum_and_count(logits[:, :-1], labels[:, 1:], ignore_index=-100)
        if close(got, nll.item() / count):
            return "that is the mean NLL; perplexity is its exp."
        if close(got, math.exp(nll.item() / labels[:, 1:].numel())):
            return "the denominator counts padded positions; divide by real tokens only."
        return _per_row_mean_hint(logits[:, :-1], labels[:, 1:], got)

    return run_cases("causal_lm_perplexity", fn, cases, mistakes)


def _per_row_mean_hint(logits: torch.Tensor, target: torch.Tensor, got: object) -> str | None:
    """The hint for averaging per-sentence perplexities (or mean losses) of aligned logits (B, T, V)
    and targets (B, T), -100 at padding; None when `got` is neither."""
    rows = [nll_sum_and_count(lg, t, ignore_index=-100) for lg, t in zip(logits, target, strict=True)]
    means = [nll.item() / count for nll, count in rows if count > 0]
    if close(got, sum(math.exp(m) for m in means) / len(means)):
        return ("that is the mean of the sentences' perplexities, which is not a perplexity: "
                "add up the NLL of all real tokens, divide by their count, then exp.")
    if close(got, math.exp(sum(means) / len(means))):
        return ("that averages the sentences' mean losses, which weighs a short sentence like a "
                "long one; divide the total NLL by the total count of real tokens, then exp.")
    return None


def _shift_cases() -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    padded = torch.tensor([[1, 5, 6, 2, -100], [1, 7, 2, -100, -100]])
    full = torch.tensor([[1, 9, 8, 7, 2]])
    gen = torch.Generator().manual_seed(3)
    random = torch.randint(4, 50, (4, 9), generator=gen)
    cases = []
    for description, labels in [("a padded (2, 5) batch", padded), ("one unpadded sentence", full),
                                ("a random (4, 9) batch", random)]:
        expected = torch.full_like(labels, -100)
        expected[:, :-1] = labels[:, 1:]
        cases.append((description, labels, expected))
    return cases


def shift_labels(fn: Callable[[torch.Tensor], torch.Tensor]) -> Verdict:
    """fn(labels (B, T)) -> targets (B, T) for the unsliced logits: labels moved one step left,
    the last column -100 (nothing follows it), as Hugging Face's causal LM losses do.

    >>> bool(shift_labels(lambda lb: torch.cat([lb[:, 1:], torch.full_like(lb[:, :1], -100)], dim=1)))
    Correct: all 3 hidden cases pass.
    True
    """
    if (refused := not_a_function("shift_labels", fn)) is not None:
        return refused
    for description, labels, expected in _shift_cases():
        # A clone, so that an in-place edit cannot spoil the case.
        got, error = call(fn, description, labels.clone())
        if error is not None:
            return verdict(False, error)
        if not isinstance(got, torch.Tensor):
            return verdict(False, f"on {description} expected a tensor, got {type(got).__name__}.")
        if tuple(got.shape) != tuple(labels.shape):
            hint = (" Hint: keep the shape (B, T) so the targets line up with the full logits; "
                    "fill the last column with -100." if tuple(got.shape) == (labels.shape[0],
                                                                                labels.shape[1] - 1)
                    else "")
            return verdict(False, f"on {description} expected shape {tuple(labels.shape)}, got "
                           f"{tuple(got.shape)}.{hint}")
        if torch.equal(got.long(), expected):
            continue
        right = torch.full_like(labels, -100)
        right[:, 1:] = labels[:, :-1]
        if torch.equal(got, labels):
            hint = "these are the labels unchanged; logits[:, i] predicts labels[:, i + 1]."
        elif torch.equal(got, torch.roll(labels, -1, dims=1)):
            hint = ("torch.roll wraps around, so the last position is asked to predict the "
                    "sentence's first token; fill it with -100 instead.")
        elif torch.equal(got, right):
            hint = "that moves the labels right; they must move left (target i is token i + 1)."
        elif torch.equal(got[:, :-1], expected[:, :-1]):
            hint = ("the shift is right but the last column must be -100: any real id there "
                    "(0 is <pad>) would be scored.")
        else:
            hint = "compare your first row with the expected one above."
        return verdict(False, f"on {description} expected {expected[0].tolist()} as the first "
                       f"row, got {got[0].tolist()}. Hint: {hint}")
    return verdict(True, "all 3 hidden cases pass.")


def _accuracy_case(seed: int, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits that usually favour the next token, like a trained model's; `pad` padded positions."""
    logits, labels = _lm_case(seed, pad)
    gen = torch.Generator().manual_seed(100 + seed)
    nxt = labels[:, 1:].clamp(min=0)  # (B, T-1)
    boost = (torch.rand(nxt.shape, generator=gen) < 0.7).float() * 8  # right 70% of the time
    logits[:, :-1].scatter_add_(2, nxt[..., None], boost[..., None])
    return logits, labels


def next_token_accuracy_checker(name: str, fn: Callable, *, shifted: bool) -> Verdict:
    """The one checker of a next-token accuracy exercise (notebooks 02, 10 and 15).

    fn(logits (B, T, V), labels (B, T), -100 at padding) -> the share of real targets the argmax
    gets right; `shifted`: the labels are already aligned with the logits (else fn shifts).
    Expected values are fl.token_accuracy's."""
    cases = []
    for seed, pad in [(4, 0), (5, 3), (6, 5)]:
        logits, labels = _accuracy_case(seed, pad)
        if shifted:
            logits, labels = logits[:, :-1], labels[:, 1:]
        aligned = (logits, labels) if shifted else shift_for_causal_lm(logits, labels)
        cases.append((f"a {tuple(logits.shape)} batch with {pad} padded positions",
                      (logits, labels), token_accuracy(*aligned, ignore_index=-100)))

    def mistakes(args, got):
        logits, labels = args
        if not shifted and close(got, token_accuracy(logits, labels, ignore_index=-100)):
            return "you compared logits[:, i] with labels[:, i]; logits[:, i] predicts token i+1."
        if not shifted and close(got, token_accuracy(logits[:, 1:], labels[:, :-1],
                                                     ignore_index=-100)):
            return _WRONG_WAY
        if not shifted and close(got, token_accuracy(logits[:, :-2], labels[:, 2:],
                                                     ignore_index=-100)):
            return _DOUBLE_SHIFT
        pred, target = shift_for_causal_lm(logits, labels) if not shifted else (logits, labels)
        hits = (pred.argmax(-1) == target) & (target != -100)  # (B, T-1)
        real = target != -100
        if close(got, hits.sum().item() / target.numel()):
            return "the denominator counts padded positions; divide by real targets only."
        rows = [h.sum().item() / r.sum().item() for h, r in zip(hits, real, strict=True) if r.any()]
        if close(got, sum(rows) / len(rows)):
            return ("that averages the rows' accuracies, which weighs a row of 3 real targets "
                    "like a row of 6: count the hits and the real targets over the whole batch, "
                    "then divide.")
        if close(got, 100 * hits.sum().item() / real.sum().item()):
            return "that is a percentage; return a fraction in [0, 1] (0.25, not 25)."
        if isinstance(got, (int, float, torch.Tensor)) and float(got) > 1:
            return "return a fraction of the real targets, not a count."
        return None

    return run_cases(name, fn, cases, mistakes)


def causal_lm_accuracy(fn: Callable[[torch.Tensor, torch.Tensor], float]) -> Verdict:
    """fn(logits (B, T, V), labels (B, T), -100 at padding) -> share of real next tokens that the
    argmax of the logits gets right (a fraction in [0, 1]).

    >>> def acc(logits, labels):
    ...     pred, target = logits[:, :-1].argmax(-1), labels[:, 1:]
    ...     real = target != -100
    ...     return (pred[real] == target[real]).float().mean().item()
    >>> bool(causal_lm_accuracy(acc))
    Correct: all 3 hidden cases pass.
    True
    """
    return next_token_accuracy_checker("causal_lm_accuracy", fn, shifted=False)
