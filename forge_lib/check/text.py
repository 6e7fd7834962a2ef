"""Checkers for the text notebooks (01-05): perplexity, shifting, padding, reduction, overflow."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from forge_lib.check._core import Verdict, call, close, run_cases, verdict
from forge_lib.text import nll_sum_and_count, perplexity

__all__ = ["perplexity_from_probs", "causal_lm_perplexity", "padded_perplexity",
           "token_weighted_mean", "safe_perplexity"]


def perplexity_from_probs(fn: Callable[[list[float]], float]) -> Verdict:
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
        nll, _ = nll_sum_and_count(logits[:, :-1], labels[:, 1:], ignore_index=-100)
        if close(got, math.exp(nll.item() / labels[:, 1:].numel())):
            return "the denominator counts padded positions; divide by real tokens only."
        return None

    return run_cases("causal_lm_perplexity", fn, cases, mistakes)


def padded_perplexity(fn: Callable[[float, float, float], float]) -> Verdict:
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


def safe_perplexity(fn: Callable[[float], float]) -> Verdict:
    """fn(mean_nll) -> perplexity, inf (not an exception) where exp overflows float64."""
    cases = [("mean NLL 0", (0.0,), 1.0), ("mean NLL ln 227", (math.log(227.0),), 227.0),
             ("mean NLL 100 (exp is 2.7e43, fine in float64)", (100.0,), math.exp(100.0)),
             ("mean NLL 300 (finite in float64)", (300.0,), math.exp(300.0)),
             ("mean NLL 800", (800.0,), math.inf)]

    def mistakes(args, got):
        if args[0] in (100.0, 300.0) and got == math.inf:
            return "exp(100) does not overflow float64; the limit is about 709.78."
        return None

    return run_cases("safe_perplexity", fn, cases, mistakes)


# --- Added for notebooks 01 (perplexity) and 02 (label shifting). -----------------------------

__all__ += ["bits_per_byte_from_loss", "convert_perplexity", "shift_labels", "causal_lm_accuracy"]


def bits_per_byte_from_loss(fn: Callable[[float, int, int], float]) -> Verdict:
    """fn(mean_nll, n_tokens, n_bytes) -> bits per byte, from a token-mean loss in nats.

    >>> bool(bits_per_byte_from_loss(lambda loss, tokens, nbytes: loss * tokens / math.log(2) / nbytes))
    Correct: all 3 hidden cases pass.
    True
    """
    cases = [(f"mean NLL {loss:.4g} nats over {tokens} tokens and {nbytes} bytes",
              (loss, tokens, nbytes), loss * tokens / math.log(2) / nbytes)
             for loss, tokens, nbytes in [(math.log(2), 10, 40), (2.0, 100, 700),
                                          (3.3, 34725, 226000)]]

    def mistakes(args, got):
        loss, tokens, nbytes = args
        if close(got, loss * tokens / nbytes):
            return "that is nats per byte; divide by ln 2 to turn nats into bits."
        if close(got, loss / math.log(2) / nbytes):
            return ("the loss is a mean per token: multiply by the number of tokens to get the "
                    "total, then divide by the bytes.")
        if close(got, loss / math.log(2)):
            return "that is bits per token; spread the total over bytes instead of tokens."
        if close(got, math.exp(loss * tokens / nbytes)):
            return "that is a per-byte perplexity; bits per byte is the total NLL in bits / bytes."
        return None

    return run_cases("bits_per_byte_from_loss", fn, cases, mistakes)


def convert_perplexity(fn: Callable[[float, int, int], float]) -> Verdict:
    """fn(ppl, n_from, n_to) -> the perplexity of the same total NLL counted over n_to units.

    The same text and the same model's total NLL, split into n_from tokens by one tokenizer and
    into n_to by another: ppl ** (n_from / n_to).

    >>> bool(convert_perplexity(lambda ppl, n_from, n_to: ppl ** (n_from / n_to)))
    Correct: all 4 hidden cases pass.
    True
    """
    cases = [(f"perplexity {ppl} over {n_from} tokens, re-counted over {n_to}",
              (ppl, n_from, n_to), ppl ** (n_from / n_to))
             for ppl, n_from, n_to in [(100.0, 10, 20), (4.0, 3, 6), (10.0, 7, 7),
                                       (27.08, 34725, 160000)]]

    def mistakes(args, got):
        ppl, n_from, n_to = args
        if close(got, ppl * n_from / n_to):
            return ("perplexity is exp of a mean: rescale the mean NLL (its log), not the "
                    "perplexity itself.")
        if close(got, ppl ** (n_to / n_from)):
            return ("the exponent is upside down: the same NLL spread over more tokens gives a "
                    "lower perplexity.")
        return None

    return run_cases("convert_perplexity", fn, cases, mistakes)


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
    if not callable(fn):
        return verdict(False, f"shift_labels expects a function, got {type(fn).__name__}.")
    for description, labels, expected in _shift_cases():
        got, error = call(fn, labels.clone())  # a clone, so an in-place edit cannot spoil the case
        if error is not None:
            return verdict(False, f"on {description} your function raised {error}.")
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
    cases = []
    for seed, pad in [(4, 0), (5, 3), (6, 5)]:
        logits, labels = _accuracy_case(seed, pad)
        pred, target = logits[:, :-1].argmax(-1), labels[:, 1:]
        real = target != -100
        expected = (pred[real] == target[real]).double().mean().item()
        description = f"a (3, 7, 11) batch with {pad} padded positions"
        cases.append((description, (logits, labels), expected))

    def mistakes(args, got):
        logits, labels = args
        real = labels != -100
        if close(got, (logits.argmax(-1)[real] == labels[real]).double().mean().item()):
            return "you compared logits[:, i] with labels[:, i]; logits[:, i] predicts token i+1."
        pred, target = logits[:, :-1].argmax(-1), labels[:, 1:]
        hits = (pred == target).sum().item()
        if close(got, hits / target.numel()):
            return "the denominator counts padded positions; divide by real targets only."
        if isinstance(got, (int, float, torch.Tensor)) and float(got) > 1:
            return "return a fraction of the real targets, not a count."
        return None

    return run_cases("causal_lm_accuracy", fn, cases, mistakes)
