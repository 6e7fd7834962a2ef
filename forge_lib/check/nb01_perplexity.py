"""Checkers for the exercises of notebooks/01_perplexity.ipynb."""

from __future__ import annotations

import math
from collections.abc import Callable

from forge_lib.check._core import Verdict, close, run_cases

__all__ = ["bits_per_byte_from_loss", "convert_perplexity", "perplexity_from_probs"]


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
        mean_nll = -sum(math.log(p) for p in probs) / len(probs)
        if close(got, mean_nll):
            return "that is the mean NLL (a log); perplexity is exp of it: math.exp(mean NLL)."
        if close(got, math.exp(-mean_nll)):
            return ("that is 1 / perplexity (the geometric mean of p): the NLL is -log p, "
                    "so mind the minus sign.")
        if close(got, sum(1 / p for p in probs) / len(probs)):
            return "that is the arithmetic mean of 1/p; perplexity is the geometric mean."
        if close(got, math.prod(probs) ** (-1)):
            return "take the N-th root of the product of 1/p (N = number of tokens)."
        return None

    return run_cases("perplexity_from_probs", fn, cases, mistakes)


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
        if close(got, loss * nbytes / math.log(2) / tokens):
            return ("n_tokens and n_bytes are swapped: the total NLL is mean_nll * n_tokens, "
                    "and bits per byte divides it by n_bytes.")
        if close(got, loss * tokens * math.log(2) / nbytes):
            return "nats to bits is a division by ln 2, not a multiplication."
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
