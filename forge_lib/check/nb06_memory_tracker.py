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
