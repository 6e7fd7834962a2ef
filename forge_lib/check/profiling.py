"""Checkers for the measurement notebooks (06-08): memory sizes, peaks, medians, chunking."""

from __future__ import annotations

import statistics
from collections.abc import Callable

import torch

from forge_lib.check._core import Verdict, call, close, run_cases, verdict
from forge_lib.text import nll_sum_and_count

__all__ = ["tensor_megabytes", "peak_above_entry", "median_after_warmup", "tokens_per_second",
           "logits_gigabytes", "max_chunk_tokens", "chunked_nll"]


def tensor_megabytes(fn: Callable[[tuple, torch.dtype], float]) -> Verdict:
    """fn(shape, dtype) -> megabytes (10**6 bytes) a dense tensor of that shape and dtype needs."""
    cases = [
        ("shape (25_000_000,) float32", ((25_000_000,), torch.float32), 100.0),
        ("shape (1000, 1000) float16", ((1000, 1000), torch.float16), 2.0),
        ("shape (8, 1024, 50257) float32", ((8, 1024, 50257), torch.float32), 1646.821376),
        ("shape (3, 5) int64", ((3, 5), torch.int64), 15 * 8 / 1e6),
    ]

    def mistakes(args, got):
        shape, dtype = args
        numel = 1
        for n in shape:
            numel *= n
        size = torch.empty((), dtype=dtype).element_size()
        if close(got, numel * size / 2**20):
            return "that is MiB (2**20 bytes); a megabyte here is 10**6 bytes."
        if close(got, numel / 1e6):
            return "multiply the number of elements by the bytes per element (element_size())."
        if close(got, numel * 4 / 1e6):
            return "not every dtype has 4 bytes per element: float16 has 2, int64 has 8."
        return None

    return run_cases("tensor_megabytes", fn, cases, mistakes)


def peak_above_entry(fn: Callable[[list[float], float], float]) -> Verdict:
    """fn(samples_mb, entry_mb) -> the block's peak above the level at entry (never negative)."""
    cases = [
        ("samples [210, 350, 220] from entry 200", ([210.0, 350.0, 220.0], 200.0), 150.0),
        ("a block that only frees: [180, 150] from entry 200", ([180.0, 150.0], 200.0), 0.0),
        ("a spike in the middle: [200, 900, 201] from 200", ([200.0, 900.0, 201.0], 200.0), 700.0),
    ]

    def mistakes(args, got):
        samples, entry = args
        if close(got, samples[-1] - entry):
            return "that is the level at the end of the block; the peak is the largest sample."
        if close(got, max(samples)):
            return "subtract the level at entry: the block is charged only for what it added."
        if close(got, max(samples) - entry):
            return "a block that frees memory added nothing: clip a negative result to 0."
        return None

    return run_cases("peak_above_entry", fn, cases, mistakes)


def median_after_warmup(fn: Callable[[list[float], int], float]) -> Verdict:
    """fn(times_s, warmup) -> median of the times after dropping the first `warmup` runs."""
    cases = [
        ("times [3.0, 1.0, 1.2, 1.1] with 1 warm-up run", ([3.0, 1.0, 1.2, 1.1], 1), 1.1),
        ("times [5.0, 2.0, 1.0, 1.0, 9.0, 1.1] with 2 warm-up runs",
         ([5.0, 2.0, 1.0, 1.0, 9.0, 1.1], 2), 1.05),
        ("times [1.0, 2.0, 4.0] with no warm-up", ([1.0, 2.0, 4.0], 0), 2.0),
    ]

    def mistakes(args, got):
        times, warmup = args
        if close(got, statistics.mean(times[warmup:])):
            return "that is the mean; one slow run (another program busy) drags it, the median not."
        if close(got, statistics.median(times)):
            return "drop the warm-up runs first: times[warmup:]."
        if close(got, min(times[warmup:])):
            return "the minimum is the luckiest run; report the median (the typical run)."
        return None

    return run_cases("median_after_warmup", fn, cases, mistakes)


def tokens_per_second(fn: Callable[[int, list[float]], float]) -> Verdict:
    """fn(tokens, times_s) -> throughput of one run that scores `tokens`, from its median time."""
    cases = [
        ("34,725 tokens, times [0.5, 0.6, 0.55]", (34_725, [0.5, 0.6, 0.55]), 34_725 / 0.55),
        ("1,000 tokens, times [0.1, 0.1, 0.9, 0.1]", (1_000, [0.1, 0.1, 0.9, 0.1]), 10_000.0),
        ("256 tokens, times [2.0]", (256, [2.0]), 128.0),
    ]

    def mistakes(args, got):
        tokens, times = args
        if close(got, tokens / statistics.mean(times)):
            return "use the median time: the mean is dragged by the one slow run."
        if close(got, tokens / sum(times)):
            return "each run scores all the tokens; divide by one run's (median) time, not the sum."
        if close(got, statistics.median(times) / tokens):
            return "that is seconds per token; invert it."
        return None

    return run_cases("tokens_per_second", fn, cases, mistakes)


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

    for description, args, expected in cases:
        got, error = call(fn, *args)
        if error is not None:
            return verdict(False, f"on {description} your function raised {error}.")
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

    return run_cases("chunked_nll", fn, cases, mistakes)
