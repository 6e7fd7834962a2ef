"""One formatting rule for every number a notebook prints.

nbval compares outputs as exact strings, so every notebook rounds the same way: four significant
digits at every magnitude, with thousands separators from 10,000 on and scientific notation from
a million on or below 0.0001. Integers are counts and stay exact.

    >>> fmt(227.0412), fmt(148_906.3), fmt(148_906), fmt(2.688e43)
    ('227.0', '148,900', '148,906', '2.688e+43')
    >>> fmt(float("inf"))
    'inf'

Four digits are the same on every machine only if the value is not within a last-bit change of
a rounding edge: 0.0700149 prints 0.07001 and 0.0700151 prints 0.07002. So fmt can keep a log.
With the environment variable FORGE_FMT_AUDIT set to a file path, every rounded value is
appended to that file as one JSON line with its *rounding margin*: the distance from the value
to the nearest rounding edge, relative to the value. The test suite sets it while it executes
the notebooks and fails a compared cell that prints a value with too small a margin
(conftest.py at the repository root).

    >>> f"{rounding_margin(0.0700149, 4):.2g}"  # the edge 0.070015 is 1.4e-6 of the value away
    '1.4e-06'
"""

from __future__ import annotations

import json
import math
import numbers
import os

import torch

from forge_lib.metrics import validation

AUDIT_ENV = "FORGE_FMT_AUDIT"


__all__ = ["fmt", "show"]


def rounding_margin(x: float, digits: int) -> float:
    """Relative distance from x to the nearest value where its `digits`-digit rounding changes.

    The edges are the midpoints (k + 1/2) q between neighbouring printed values, q being the
    last printed digit's unit; one more edge sits just below the next power of ten, where the
    unit shrinks (9.9995 rounds up to 10.00).
    """
    x = abs(x)
    exponent = math.floor(math.log10(x))
    unit = 10.0 ** (exponent - digits + 1)
    scaled = x / unit
    to_midpoint = abs(scaled - math.floor(scaled) - 0.5) * unit
    to_lower_edge = x - (10.0 ** exponent - unit / 20)  # the edge 9.9995 below 10.00
    return min(to_midpoint, to_lower_edge) / x


def _audit(x: float, digits: int, text: str) -> None:
    path = os.environ.get(AUDIT_ENV)
    if path:
        # exact: the text is the value itself (90.0 as "90.000"), so nothing was rounded.
        record = {"value": x, "digits": digits, "text": text, "margin": rounding_margin(x, digits),
                  "exact": float(text.replace(",", "")) == x}
        with open(path, "a") as log:
            log.write(json.dumps(record) + "\n")


def fmt(x: float | int | torch.Tensor, digits: int = 4) -> str:
    """Format a number (or a 0-dim tensor) with `digits` significant digits, keeping trailing zeros.

    Integers (Python's, NumPy's, integer tensors) are printed exactly: they are counts. Floats
    are rounded at every magnitude.

    >>> fmt(0.5), fmt(1e-7), fmt(24_400.3), fmt(9_999.7), fmt(123_456)
    ('0.5000', '1.000e-07', '24,400', '10,000', '123,456')
    """
    if isinstance(x, torch.Tensor):
        validation.tensor(x, "fmt")  # a meta tensor has no value to print
        if x.numel() != 1:
            raise ValueError(f"fmt: expected a single number, got a tensor of shape {tuple(x.shape)}.")
        x = x.item()
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, numbers.Integral):  # np.int64 too: a count from a NumPy array is a count
        x = int(x)
        return f"{x:,}" if abs(x) >= 10_000 else str(x)
    validation.positive_int(digits, "digits")
    x = validation.number(x, "fmt")
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == 0:
        return "0"
    scientific = f"{x:.{digits - 1}e}"  # rounds once; its exponent is the rounded value's
    exponent = int(scientific.split("e")[1])
    if -4 <= exponent < 6:
        rounded = float(scientific)
        text = f"{rounded:,.{max(digits - 1 - exponent, 0)}f}"
        if abs(rounded) < 10_000:
            text = text.replace(",", "")
    else:
        text = scientific
    _audit(x, digits, text)
    return text


def show(**named: float | int | torch.Tensor) -> None:
    """Print `name = value` lines, every value through fmt().

    >>> show(tokens=123_456, loss=2.34567)
    tokens = 123,456
    loss   = 2.346
    """
    if not named:
        raise TypeError("show: expected at least one name=value pair, e.g. fl.show(loss=2.31), "
                        "got none.")
    width = max(len(name) for name in named)
    for name, value in named.items():
        print(f"{name:<{width}} = {fmt(value)}")
