"""Checkers for the exercises of notebooks/05_overflow_numerics.ipynb."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from forge_lib.check._core import Verdict, call, close, forbidden_calls, not_a_function, run_cases, verdict
from forge_lib.course.numerics import naive_perplexity, running_sum, stall_point, ulp, underflow_case
from forge_lib.metrics.text import exp_limit, nll_sum_and_count

__all__ = ["compensated_sum", "safe_perplexity", "stable_mean_nll", "stall_point_rule"]


def safe_perplexity(fn: Callable[[float], float]) -> Verdict:
    """fn(mean_nll) -> perplexity, inf (not an exception) where exp overflows float64.

    The probes sit on both sides of float64's limit, exp_limit() = 709.7827: 709.78 is still
    finite (1.8e308), so a hand-picked cut-off anywhere below it (88.7, 301, 500, 709) fails.
    """
    limit = exp_limit(torch.float64)
    cases = [("mean NLL 0", (0.0,), 1.0), ("mean NLL ln 227", (math.log(227.0),), 227.0),
             ("mean NLL 300 (exp is 1.9e130, fine in float64)", (300.0,), math.exp(300.0)),
             ("mean NLL 709.78 (exp is 1.8e308, just under float64's limit)", (709.78,),
              math.exp(709.78)),
             ("mean NLL 800", (800.0,), math.inf)]

    def mistakes(args, got):
        if args[0] < limit and got == math.inf:
            return (f"exp({args[0]:g}) = {math.exp(args[0]):.2g} does not overflow float64; "
                    f"the limit is about 709.78 (log of float64's max, {limit:.7g}), not a round "
                    f"number below it: "
                    f"compare with math.log(torch.finfo(torch.float64).max) or catch "
                    f"OverflowError.")
        return None

    return run_cases("safe_perplexity", fn, cases, mistakes)


def _same(a: object, b: float) -> bool:
    """close(), with NaN matching NaN: a wrong formula's non-finite result, recognised."""
    try:
        if math.isnan(float(a)) and math.isnan(b):
            return True
    except (TypeError, ValueError):
        return False
    return close(a, b)


def _one_max_nll(logits: torch.Tensor, target: torch.Tensor) -> float:
    """Log-sum-exp with one max for the whole batch (wrong): a row far below it has
    exp(x - m) = 0 everywhere, log(0) = -inf."""
    m = logits.max()
    lse = m + torch.log(torch.exp(logits - m).sum(dim=1))
    return (lse - logits.gather(1, target[:, None]).squeeze(1)).mean().item()


def stable_mean_nll(fn: Callable[[torch.Tensor, torch.Tensor], float]) -> Verdict:
    """fn(logits (N, V) float32, target (N,)) -> mean NLL in nats, finite wherever the truth is,
    computed with max, exp, log, sum and gather only (no log_softmax, logsumexp, cross_entropy).

    The cases: ordinary logits; rows near +1000 beside rows near 0 (exp overflows, and one max
    for the whole batch sends the low rows to log(0)); a target 800 below its row, whose
    probability e^-800 underflows float64 too, so softmax-then-log fails in any precision.
    """
    gen = torch.Generator().manual_seed(5)
    ordinary = (torch.randn(64, 10, generator=gen), torch.randint(0, 10, (64,), generator=gen))
    offsets = torch.zeros(64, 1)
    offsets[::2] = 1000.0  # exp(1000) overflows float32 (and float64); every other row near 0
    huge = (ordinary[0] * 3 + offsets, ordinary[1])
    hard = underflow_case(gap=800.0)
    cases = []
    for description, (logits, target) in [
            ("ordinary (64, 10) logits", ordinary),
            ("rows near +1000 beside rows near 0 (exp overflows)", huge),
            ("the underflow case with one target logit 800 below its row", hard[:2])]:
        nll, count = nll_sum_and_count(logits, target)
        cases.append((description, (logits, target), nll.item() / count))

    def mistakes(args, got):
        try:
            got = float(got)
        except (TypeError, ValueError):
            return None
        if not math.isfinite(got) and _same(got, _one_max_nll(*args)):
            return ("one max for the whole batch is not enough: a row 1000 below it has "
                    "exp(x - m) = 0 in every entry and log(0) = -inf. Subtract each row's own "
                    "max: logits.max(dim=1, keepdim=True).")
        if not math.isfinite(got) and float(args[0].max()) > exp_limit(args[0].dtype):
            return ("exp of a large logit overflowed to inf (inf - x = inf, inf / inf = NaN). "
                    "Subtract each row's max before exp: "
                    "logsumexp(x) = m + log(sum(exp(x - m))).")
        if math.isinf(got) and math.isinf(naive_perplexity(*args)):
            return ("a target probability underflowed to 0 and log(0) = -inf (e^-800 is below "
                    "even float64's smallest number, so a wider dtype does not save it). Never "
                    "take the log of a softmax: NLL = logsumexp(logits) - logits[target].")
        return None

    def shortcut(args, calls):
        # The exercise is log-sum-exp by hand: these do it for you (fl.nll_sum_and_count too).
        return forbidden_calls(calls, {"log_softmax", "_log_softmax", "logsumexp",
                                       "special_logsumexp", "cross_entropy"},
                               "subtract each row's max m, then NLL = m + log(sum(exp(x - m))) "
                               "- x[target], with max, exp, log, sum and gather.")

    return run_cases("stable_mean_nll", fn, cases, mistakes, shortcut=shortcut)


def stall_point_rule(fn: Callable[[float, torch.dtype], float]) -> Verdict:
    """fn(increment, dtype) -> the running sum at which adding `increment` no longer changes it."""
    cases = [(f"increment {d} in {str(dtype).removeprefix('torch.')}", (d, dtype),
              stall_point(d, dtype))
             for d, dtype in [(1.0, torch.bfloat16), (3.3, torch.float16), (3.3, torch.bfloat16),
                              (0.1, torch.float32), (40.0, torch.float16)]]

    def mistakes(args, got):
        increment, dtype = args
        expected = stall_point(increment, dtype)
        if math.isinf(expected):
            return ("the stall point would lie past torch.finfo(dtype).max, so the sum overflows "
                    "to inf before it stalls: return math.inf there.")
        if close(got, expected / 2):
            return ("round to nearest keeps an increment while it is more than half the "
                    "spacing (it rounds up to a whole step); it is lost only at <= half. "
                    "So P * eps / 2 >= increment.")
        if close(got, expected * 2):
            return ("a tie (increment exactly half the spacing) rounds to even, and at a power "
                    "of two that means staying put: use >=, not >.")
        if any(close(got, stall_point(increment, other)) for other in
               (torch.float16, torch.bfloat16, torch.float32, torch.float64) if other != dtype):
            return "use torch.finfo(dtype).eps of the accumulator's own dtype."
        return None

    return run_cases("stall_point_rule", fn, cases, mistakes)


def compensated_sum(fn: Callable[[torch.Tensor], torch.Tensor | float]) -> Verdict:
    """fn(values (n,) in bfloat16 or float16) -> their sum as a 0-dim tensor of that same dtype.

    Passes when the result is within one spacing (ulp) of the exact sum: what a compensated
    (Kahan) accumulator achieves, and what a plain running sum misses by a factor of five or more.
    It cannot see how the sum was taken: widening the accumulator (torch.sum does, internally)
    passes too, which is the other honest fix.
    """
    if (refused := not_a_function("compensated_sum", fn)) is not None:
        return refused
    gen = torch.Generator().manual_seed(7)
    for dtype, n in [(torch.bfloat16, 3000), (torch.float16, 3000)]:
        values = (torch.rand(n, generator=gen) * 6 + 0.5).to(dtype)  # losses in [0.5, 6.5)
        exact = math.fsum(values.double().tolist())
        name = f"{n} losses in [0.5, 6.5) as {str(dtype).removeprefix('torch.')}"
        got, error = call(fn, name, values.clone())
        if error is not None:
            return verdict(False, error)
        if not (isinstance(got, torch.Tensor) and got.dtype == dtype and got.numel() == 1):
            return verdict(False, f"on {name} expected a one-number tensor of dtype {dtype} "
                           f"(the accumulator's), got {repr(got)[:60]}.")
        got = got.item()
        if not abs(got - exact) <= ulp(exact, dtype):
            hint = ""
            if close(got, running_sum(values, dtype)[-1].item()):
                hint = (" Hint: that is the plain running sum, which stalls. Keep a second "
                        "variable with the part of each addition that was rounded away, and "
                        "subtract it from the next value (Kahan).")
            return verdict(False, f"on {name} expected {exact:.6g} (within "
                           f"{ulp(exact, dtype):g}), got {got:.6g}.{hint}")
    return verdict(True, "both hidden cases are within one spacing of the exact sum.")
