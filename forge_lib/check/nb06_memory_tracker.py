"""Checkers for the exercises of notebooks/06_memory_tracker.ipynb."""

from __future__ import annotations

from collections.abc import Callable

import torch

from forge_lib.check._core import Verdict, close, run_cases

__all__ = ["peak_above_entry", "tensor_megabytes"]


def tensor_megabytes(fn: Callable[[tuple, torch.dtype], float]) -> Verdict:
    """fn(shape, dtype) -> megabytes (10**6 bytes) a dense tensor of that shape and dtype needs."""
    cases = [
        ("shape (25_000_000,) float32", ((25_000_000,), torch.float32), 100.0),
        ("shape (1000, 1000) float16", ((1000, 1000), torch.float16), 2.0),
        # One sequence's logits, not a batch's: an answer that allocates the tensor to read its
        # .nbytes is right, and under the course's deterministic mode torch.empty NaN-fills what
        # it allocates (0.98 s for the 1.65 GB of (8, 1024, 50257) float32, 0.06 s for this).
        ("shape (1024, 50257) bfloat16", ((1024, 50257), torch.bfloat16), 102.926336),
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
        # The peak first: a loop over samples[1:] (or from a sample "before" the block) misses it.
        ("samples [350, 230, 210] from entry 200", ([350.0, 230.0, 210.0], 200.0), 150.0),
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
        if close(got, max(0.0, max(samples[1:]) - entry)):
            return ("the first sample counts too: it was read inside the block, and here it "
                    "is the peak. Take max(samples_mb) over all of them.")
        return None

    return run_cases("peak_above_entry", fn, cases, mistakes)
