"""The machinery every checker shares: run hidden cases, never raise, print one verdict."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import torch
from torch.overrides import TorchFunctionMode


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
    if isinstance(x, torch.Tensor) and x.numel() == 1:
        return x.detach().item()  # a 0-dim tensor reads as its number, not as tensor(4.2161)
    return x if isinstance(x, (int, float)) else repr(x)[:60]


def _is_stub(fn: Callable, exc: BaseException) -> bool:
    """True when `exc` was raised by fn's own body: an exercise stub, not a library's NotImplementedError."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code is getattr(fn, "__code__", None)


def not_a_function(name: str, fn: object) -> Verdict | None:
    """The verdict for a self-check handed something other than a function (a result, a typo'd
    variable), else None; every checker starts with it."""
    if callable(fn):
        return None
    return verdict(False, f"{name} expects a function, got {type(fn).__name__}.")


def call(fn: Callable, description: str, *args) -> tuple[object, str | None]:
    """Call the learner's function on one case; return (result, None), or (None, the message for
    verdict()). Every checker calls the learner's code through here, so that a crash is a hint and
    the student edition's stub (`raise NotImplementedError(...)`) is a reminder, not an error."""
    try:
        return fn(*args), None
    except Exception as exc:  # a learner's bug is a hint, not a traceback
        if isinstance(exc, NotImplementedError) and _is_stub(fn, exc):
            name = getattr(fn, "__name__", "your function")
            return None, f"define `{name}` in the cell above, run it, then run this cell again."
        return None, f"on {description} your function raised {type(exc).__name__}: {exc}."


class TorchCalls(TorchFunctionMode):
    """Records the torch functions that the code run inside `with TorchCalls() as calls:` calls
    itself (not those called inside them): `calls.names` and (name, args, result) in `calls.log`.

    This is how a checker sees *how* an answer got its value: a forbidden shortcut (cross_entropy
    where the exercise asks for log-sum-exp by hand) or the logits of all tokens at once.
    """

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, tuple, object]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        self.log.append((getattr(func, "__name__", repr(func)), args, result))
        return result

    @property
    def names(self) -> set[str]:
        return {name for name, _, _ in self.log}


def forbidden_calls(calls: TorchCalls, forbidden: set[str], instead: str) -> str | None:
    """A hint naming the forbidden torch functions the answer called and what to do `instead`."""
    used = sorted(calls.names & forbidden)
    if not used:
        return None
    return f"your function calls {', '.join(used)}, which this exercise rules out: {instead}"


def run_cases(
    name: str,
    fn: Callable,
    cases: list[tuple[str, tuple, object]],
    known_mistakes: Callable[[tuple, object], str | None] = lambda args, got: None,
    *,
    exact: bool = False,
    shortcut: Callable[[tuple, TorchCalls], str | None] | None = None,
) -> Verdict:
    """Check fn on (description, args, expected) cases; `known_mistakes` maps a wrong answer to a hint.

    Numbers (and lists of numbers) are compared with `close` (relative 1e-4); with exact=True
    answers are compared with == instead (ints, None, tuples). With `shortcut`, each call runs
    under TorchCalls, and shortcut(args, calls) names a way of getting the right value that the
    exercise rules out (a forbidden function, an unchunked matmul): a right value is not enough.
    """
    if (refused := not_a_function(name, fn)) is not None:
        return refused
    for description, args, expected in cases:
        with TorchCalls() if shortcut else contextlib.nullcontext() as calls:
            got, error = call(fn, description, *args)
        if error is not None:
            return verdict(False, error)
        if not (got == expected if exact else close(got, expected)):
            hint = known_mistakes(args, got)
            if exact:
                wanted, shown = repr(expected), f"{got!r:.60}"
            else:
                wanted = _shown(expected) if isinstance(expected, list) else f"{expected:.6g}"
                shown = _shown(got)
            return verdict(False, f"on {description} expected {wanted}, got {shown}."
                           + (f" Hint: {hint}" if hint else ""))
        hint = shortcut(args, calls) if shortcut else None
        if hint:
            return verdict(False, f"on {description} the value is right, but {hint}")
    return verdict(True, f"all {len(cases)} hidden cases pass.")
