"""Checkers for the exercises of notebooks/08_memory_bounded_eval.ipynb."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch

from forge_lib.check._core import Verdict, call, close, not_a_function, run_cases, verdict
from forge_lib.metrics.text import nll_sum_and_count

__all__ = ["chunked_nll", "logits_gigabytes", "max_chunk_tokens"]


def logits_gigabytes(fn: Callable[[int, int, int, int], float]) -> Verdict:
    """fn(batch, seq_len, vocab, bytes_per_element) -> gigabytes (10**9 bytes) of the logits."""
    cases = [
        ("8 x 1,024 tokens, V = 50,257, float32", (8, 1024, 50_257, 4), 1.646821376),
        ("1 x 4,096 tokens, V = 50,257, bfloat16", (1, 4096, 50_257, 2), 0.411705344),
        ("64 x 128 tokens, V = 258, float32", (64, 128, 258, 4), 0.008454144),
    ]

    def mistakes(args, got):
        b, t, v, nbytes = args
        if close(got, b * t * v * nbytes / 2**30):
            return "that is GiB (2**30 bytes); a gigabyte here is 10**9 bytes."
        if close(got, b * t * v / 1e9):
            return "multiply by the bytes per element (4 for float32, 2 for bfloat16)."
        return None

    return run_cases("logits_gigabytes", fn, cases, mistakes)


def max_chunk_tokens(fn: Callable[[float, int, int], int]) -> Verdict:
    """fn(budget_mb, vocab, bytes_per_element) -> most tokens whose logits fit the budget: an
    integer (a Python int or a NumPy one such as np.int64), since it sizes slices and ranges."""
    cases = [(f"a budget of {mb} MB, V = {v:,}, {nb} bytes", (mb, v, nb), (mb * 10**6) // (v * nb))
             for mb, v, nb in [(64, 50_257, 4), (100, 32_000, 2), (1, 258, 4)]]

    def mistakes(args, got):
        mb, v, nb = args
        exact = mb * 1e6 / (v * nb)
        if isinstance(got, float) and close(got, exact):
            return "a chunk holds whole tokens: round down with // (and return an int)."
        if isinstance(got, float) and got == mb * 10**6 // (v * nb):
            return ("the count is right but a float (// of floats stays a float): a chunk size "
                    "is a length, and range(0, N, chunk) or hidden[s:s + chunk] refuse a float. "
                    "Wrap it in int().")
        if close(got, -(-mb * 10**6 // (v * nb))):
            return "rounding up gives a chunk that overshoots the budget: round down."
        if close(got, mb * 2**20 // (v * nb)):
            return "a megabyte here is 10**6 bytes, not 2**20."
        return None

    if (refused := not_a_function("max_chunk_tokens", fn)) is not None:
        return refused
    for description, args, expected in cases:
        got, error = call(fn, description, *args)
        if error is not None:
            return verdict(False, error)
        # numbers.Integral takes np.int64 too (what numpy's // returns); bool is not a count.
        if isinstance(got, bool) or not isinstance(got, numbers.Integral) or got != expected:
            hint = mistakes(args, got)
            return verdict(False, f"on {description} expected {expected}, got {got!r}."
                           + (f" Hint: {hint}" if hint else ""))
    return verdict(True, f"all {len(cases)} hidden cases pass.")


def _chunk_case(seed: int, n: int, vocab: int, d: int):
    gen = torch.Generator().manual_seed(seed)
    hidden = torch.randn(n, d, generator=gen)
    weight = torch.randn(vocab, d, generator=gen) / d ** 0.5
    target = torch.randint(0, vocab, (n,), generator=gen)
    return hidden, weight, target


def chunked_nll(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int], float]) -> Verdict:
    """fn(hidden (N, D), weight (V, D), target (N,), chunk_tokens) -> summed NLL in nats.

    The last case scales the hidden states so that some target probabilities fall below
    float32's smallest number: softmax-then-log gives log(0) there, log_softmax does not.
    Every case has N, V, D and chunk_tokens all different, so that a tensor with a dimension
    of N and one of V is the full logits, however it was made (matmul, bmm, einsum, broadcasting).
    """
    cases = []
    for seed, n, vocab, d, chunk, scale in [(0, 10, 7, 4, 3, 1.0), (1, 64, 50, 8, 16, 1.0),
                                            (2, 33, 100, 16, 10, 60.0)]:
        hidden, weight, target = _chunk_case(seed, n, vocab, d)
        hidden = hidden * scale
        expected = nll_sum_and_count(hidden @ weight.T, target)[0].item()
        cases.append((f"N = {n} tokens, V = {vocab}, chunks of {chunk}"
                      + (f", hidden states x {scale:g}" if scale != 1 else ""),
                      (hidden, weight, target, chunk), expected))

    def mistakes(args, got):
        hidden, weight, target, chunk = args
        n = target.numel()
        whole = (n // chunk) * chunk
        if whole < n and close(got, nll_sum_and_count(hidden[:whole] @ weight.T,
                                                      target[:whole])[0].item()):
            return "the last, shorter chunk is missing: range(0, N, chunk) includes it."
        means = [nll_sum_and_count(hidden[s:s + chunk] @ weight.T, target[s:s + chunk])[0].item()
                 / target[s:s + chunk].numel() for s in range(0, n, chunk)]
        if close(got, sum(means)) or close(got, sum(means) / len(means)):
            return "add the chunks' NLL sums; per-chunk means do not add up to the total."
        try:
            infinite = math.isinf(float(got))
        except (TypeError, ValueError):
            infinite = False
        if infinite:
            return ("a target probability underflowed to 0 in softmax and log(0) = -inf: take "
                    "torch.log_softmax of the chunk's logits (or fl.nll_sum_and_count), never "
                    "the log of a softmax.")
        return None

    def shortcut(args, calls):
        hidden, weight, _, chunk = args
        n, vocab = hidden.shape[0], weight.shape[0]
        # Full logits are any tensor with a dimension of N tokens and one of V, whatever made
        # it: (N, V) from a matmul, (1, N, V) from bmm, (N, V, D) from a broadcast multiply.
        # A one-hot of all targets is refused too: it costs what the full logits cost.
        sizes = [tuple(out.shape) for _, _, out in calls.log
                 if isinstance(out, torch.Tensor) and n in out.shape and vocab in out.shape]
        if not sizes:
            return None
        return (f"your function makes a tensor of shape {sizes[0]}, as big as the logits of "
                f"all {n} tokens at once, not chunk_tokens = {chunk} tokens' worth. The point is "
                f"that only one chunk's logits exist at a time: loop over range(0, N, "
                f"chunk_tokens) and multiply hidden[start:start + chunk_tokens] by weight.T "
                f"inside the loop.")

    return run_cases("chunked_nll", fn, cases, mistakes, shortcut=shortcut)
