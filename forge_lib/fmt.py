"""One formatting rule for every number a notebook prints.

nbval compares outputs as exact strings, so every notebook rounds the same way: four significant
digits, which is stable across machines and BLAS builds for the quantities in this course.

    >>> fmt(227.0412)
    '227.0'
    >>> fmt(float("inf"))
    'inf'
"""

from __future__ import annotations

import math

import torch


def fmt(x: float | int | torch.Tensor, digits: int = 4) -> str:
    """Format a number (or a 0-dim tensor) with `digits` significant digits, keeping trailing zeros."""
    if isinstance(x, torch.Tensor):
        if x.numel() != 1:
            raise ValueError(f"fmt: expected a single number, got a tensor of shape {tuple(x.shape)}.")
        x = x.item()
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}" if abs(x) >= 10_000 else str(x)
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == 0:
        return "0"
    exponent = math.floor(math.log10(abs(x)))
    if -4 <= exponent < digits + 2:
        decimals = max(digits - 1 - exponent, 0)
        return f"{x:,.{decimals}f}" if abs(x) >= 10_000 else f"{x:.{decimals}f}"
    return f"{x:.{digits - 1}e}"


def show(**named: float | int | torch.Tensor) -> None:
    """Print `name = value` lines, every value through fmt()."""
    width = max(len(name) for name in named)
    for name, value in named.items():
        print(f"{name:<{width}} = {fmt(value)}")
