"""Checkers for the exercises of notebooks/08_memory_bounded_eval.ipynb."""

from __future__ import annotations

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
    """fn(budget_mb, vocab, bytes_per_element) -> most tokens whose logits fit the budget (int)."""
    cases = [(f"a budget of {mb} MB, V = {v:,}, {nb} bytes", (mb, v, nb), (mb * 10**6) // (v * nb))
             for mb, v, nb in [(64, 50_257, 4), (100, 32_000, 2), (1, 258, 4)]]

    def mistakes(args, got):
        mb, v, nb = args
        exact = mb * 1e6 / (v * nb)
        if isinstance(got, float) and close(got, exact):
            return "a chunk holds whole tokens: round down with // (and return an int)."
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
        if isinstance(got, bool) or not isinstance(got, int) or got != expected:
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
    """fn(hidden (N, D), weight (V, D), target (N,), chunk_tokens) -> summed NLL in nats."""
    cases = []
    for seed, n, vocab, d, chunk in [(0, 10, 7, 4, 3), (1, 64, 50, 8, 16), (2, 33, 100, 16, 10)]:
        hidden, weight, target = _chunk_case(seed, n, vocab, d)
        expected = nll_sum_and_count(hidden @ weight.T, target)[0].item()
        cases.append((f"N = {n} tokens, V = {vocab}, chunks of {chunk}",
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
        return None

    def shortcut(args, calls):
        hidden, weight, _, chunk = args
        budget = chunk * weight.shape[0]  # one chunk's logits: chunk_tokens x V
        # The logits come out of a matrix product; a broadcast multiply-and-sum would slip past,
        # but nobody writes the full logits that way by accident.
        products = {"matmul", "__matmul__", "__rmatmul__", "mm", "linear", "einsum", "addmm",
                    "tensordot", "inner"}
        sizes = [tuple(out.shape) for name, _, out in calls.log
                 if name in products and isinstance(out, torch.Tensor) and out.numel() > budget]
        if not sizes:
            return None
        return (f"your function computes logits of shape {sizes[0]} at once, more than "
                f"chunk_tokens = {chunk} tokens' worth: the point is that only one chunk's logits "
                f"exist at a time. Loop over range(0, N, chunk_tokens) and multiply "
                f"hidden[start:start + chunk_tokens] by weight.T inside the loop.")

    return run_cases("chunked_nll", fn, cases, mistakes, shortcut=shortcut)
