"""Checkers of notebook 05: a correct answer passes, a typical wrong one gets its hint.

The correct solutions are written from scratch (finfo arithmetic, a max-shifted log-sum-exp,
Kahan's loop), not by calling the forge_lib functions that the checkers compare against.
"""

import math

import pytest
import torch

from forge_lib import check


def verdict_of(capsys, checker, fn):
    ok = checker(fn)
    out = capsys.readouterr().out
    assert out.startswith("Correct: " if ok else "Not yet: "), out
    assert out.count("\n") == 1, f"a checker prints exactly one line, got {out!r}"
    return ok, out


# --- stable_mean_nll ------------------------------------------------------------------------

def shifted_log_sum_exp(logits, target):
    row_max = logits.max(dim=1, keepdim=True).values
    lse = row_max.squeeze(1) + torch.log(torch.exp(logits - row_max).sum(dim=1))
    return (lse - logits.gather(1, target[:, None]).squeeze(1)).mean().item()


def softmax_then_log(logits, target):
    return -torch.softmax(logits, dim=1).gather(1, target[:, None]).log().mean().item()


def unshifted_log_sum_exp(logits, target):
    lse = torch.log(torch.exp(logits).sum(dim=1))
    return (lse - logits.gather(1, target[:, None]).squeeze(1)).mean().item()


def test_stable_mean_nll_accepts_a_max_shifted_log_sum_exp(capsys):
    assert verdict_of(capsys, check.stable_mean_nll, shifted_log_sum_exp)[0]


@pytest.mark.parametrize("wrong, hint", [(softmax_then_log, "Never take the log of a softmax"),
                                         (unshifted_log_sum_exp, "Subtract each row's max")])
def test_stable_mean_nll_hints(capsys, wrong, hint):
    ok, out = verdict_of(capsys, check.stable_mean_nll, wrong)
    assert not ok and hint in out


def test_stable_mean_nll_reports_a_crash_without_raising(capsys):
    ok, out = verdict_of(capsys, check.stable_mean_nll, lambda logits, target: 1 / 0)
    assert not ok and "ZeroDivisionError" in out


# --- stall_point_rule ------------------------------------------------------------------------

def stall(increment, dtype, *, half=True, overflow=True):
    info = torch.finfo(dtype)
    step = torch.tensor(increment, dtype=dtype).item()
    power = 2.0 ** math.ceil(math.log2((2 if half else 1) * step / info.eps))
    return math.inf if overflow and power > info.max else power


def test_stall_point_rule_accepts_the_rule(capsys):
    assert verdict_of(capsys, check.stall_point_rule, stall)[0]


@pytest.mark.parametrize("wrong, hint", [
    (lambda d, dtype: stall(d, dtype, half=False), "half the spacing"),
    (lambda d, dtype: stall(d, dtype, overflow=False), "overflows to inf"),
    (lambda d, dtype: stall(d, torch.float32), "eps of the accumulator's own dtype"),
])
def test_stall_point_rule_hints(capsys, wrong, hint):
    ok, out = verdict_of(capsys, check.stall_point_rule, wrong)
    assert not ok and hint in out


# --- compensated_sum -------------------------------------------------------------------------

def kahan(values):
    total = torch.zeros((), dtype=values.dtype)
    lost = torch.zeros((), dtype=values.dtype)
    for value in values:
        corrected = value - lost
        new_total = total + corrected
        lost = (new_total - total) - corrected
        total = new_total
    return total


def plain(values):
    total = torch.zeros((), dtype=values.dtype)
    for value in values:
        total = total + value
    return total


def test_compensated_sum_accepts_kahan(capsys):
    assert verdict_of(capsys, check.compensated_sum, kahan)[0]


def test_compensated_sum_hints_at_the_plain_running_sum(capsys):
    ok, out = verdict_of(capsys, check.compensated_sum, plain)
    assert not ok and "plain running sum" in out and "Kahan" in out


def test_compensated_sum_wants_the_accumulator_dtype(capsys):
    ok, out = verdict_of(capsys, check.compensated_sum, lambda v: kahan(v).item())
    assert not ok and "dtype" in out


def test_compensated_sum_rejects_a_non_function(capsys):
    ok, out = verdict_of(capsys, check.compensated_sum, 42)
    assert not ok and "expects a function" in out
