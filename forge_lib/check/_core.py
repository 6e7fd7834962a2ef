"""The machinery every checker shares: run hidden cases, never raise, print one verdict."""

from __future__ import annotations

import math
from collections.abc import Callable


class Verdict:
    """A checker's answer: truthy when correct; `message` holds the line printed to the learner.

    It displays nothing in a notebook (the line is already printed), so a self-check cell shows
    the verdict alone, without a trailing `True`.
    """

    def __init__(self, ok: bool, message: str) -> None:
        self.ok, self.message = ok, message

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"Verdict(ok={self.ok}, message={self.message!r})"

    def _ipython_display_(self) -> None:
        pass  # already printed by verdict(); showing the repr again would only add noise


def verdict(ok: bool, message: str) -> Verdict:
    """Print a one-line verdict for the learner and return it (truthy when correct, for tests)."""
    line = ("Correct: " if ok else "Not yet: ") + message
    print(line)
    return Verdict(ok, line)


def close(a: object, b: float | list[float], rel: float = 1e-4) -> bool:
    """True when `a` is a number within `rel` of `b` (inf matches inf); for a list `b`, a list or
    tuple of the same length that is close element by element."""
    if isinstance(b, (list, tuple)):
        return (isinstance(a, (list, tuple)) and len(a) == len(b)
                and all(close(x, y, rel) for x, y in zip(a, b, strict=True)))
    try:
        a = float(a)  # accepts floats, ints and 0-dim tensors
    except (TypeError, ValueError):
        return False
    if math.isinf(b) or math.isinf(a):
        return a == b
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


def _shown(x: object) -> object:
    """A number or a list of numbers as a learner should read it (4 decimals), else a short repr."""
    if isinstance(x, (list, tuple)):
        return [round(float(v), 4) if isinstance(v, (int, float)) else v for v in x]
    return x if isinstance(x, (int, float)) else repr(x)[:60]


def call(fn: Callable, *args) -> tuple[object, str | None]:
    """Call the learner's function; return (result, None) or (None, a one-line error report)."""
    try:
        return fn(*args), None
    except Exception as exc:  # a learner's bug is a hint, not a traceback
        return None, f"{type(exc).__name__}: {exc}"


def run_cases(
    name: str,
    fn: Callable,
    cases: list[tuple[str, tuple, object]],
    known_mistakes: Callable[[tuple, object], str | None] = lambda args, got: None,
    *,
    exact: bool = False,
) -> Verdict:
    """Check fn on (description, args, expected) cases; `known_mistakes` maps a wrong answer to a hint.

    Numbers (and lists of numbers) are compared with `close` (relative 1e-4); with exact=True
    answers are compared with == instead (ints, None, tuples).
    """
    if not callable(fn):
        return verdict(False, f"{name} expects a function, got {type(fn).__name__}.")
    for description, args, expected in cases:
        got, error = call(fn, *args)
        if error is not None:
            return verdict(False, f"on {description} your function raised {error}.")
        if not (got == expected if exact else close(got, expected)):
            hint = known_mistakes(args, got)
            if exact:
                wanted, shown = repr(expected), f"{got!r:.60}"
            else:
                wanted = _shown(expected) if isinstance(expected, list) else f"{expected:.6g}"
                shown = _shown(got)
            return verdict(False, f"on {description} expected {wanted}, got {shown}."
                           + (f" Hint: {hint}" if hint else ""))
    return verdict(True, f"all {len(cases)} hidden cases pass.")
