"""forge_lib.course.numerics against independent references: torch.nextafter for spacings, brute-force
accumulation for stall points, scipy's float64 logsumexp for the underflow case, Python floats
and numpy for running sums."""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from torchmetrics.text import Perplexity as TorchmetricsPerplexity

import forge_lib as fl

DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
UP = math.inf


def true_perplexity(logits, target):
    rows = logits.double().numpy()
    nll = [logsumexp(row) - row[t] for row, t in zip(rows, target.tolist(), strict=True)]
    return math.exp(math.fsum(nll) / len(nll))


# --- underflow_case and naive_perplexity -----------------------------------------------------

def test_underflow_case_is_built_as_documented():
    case = fl.underflow_case(n_tokens=1000, vocab=50, gap=200.0, seed=0)
    logits, target, hard = case
    assert logits.shape == (1000, 50) and logits.dtype == torch.float32
    assert target.shape == (1000,) and 0 <= hard < 1000
    picked = logits.gather(1, target[:, None]).squeeze(1)  # (N,)
    rival = logits.scatter(1, target[:, None], -math.inf).max(dim=1).values  # (N,)
    gap = rival - picked
    assert gap[hard].item() == pytest.approx(200.0, abs=1e-3)
    others = torch.ones(1000, dtype=torch.bool)
    others[hard] = False
    assert torch.allclose(gap[others], torch.full((999,), -3.3), atol=1e-5)
    again = fl.underflow_case(seed=0)
    assert torch.equal(again.logits, logits) and again.hard == hard
    assert not torch.equal(fl.underflow_case(seed=1).logits, logits)


def test_underflow_case_true_perplexity_and_who_gets_it_right():
    logits, target, hard = fl.underflow_case()
    truth = true_perplexity(logits, target)
    assert truth == pytest.approx(1.62, abs=0.005)
    assert torch.softmax(logits[hard], 0)[target[hard]].item() == 0.0  # underflows float32
    assert fl.perplexity(logits, target) == pytest.approx(truth, rel=1e-6)
    assert math.isinf(TorchmetricsPerplexity()(logits[None], target[None]).item())
    assert math.isinf(fl.naive_perplexity(logits, target))


def test_naive_perplexity_agrees_where_nothing_underflows():
    gen = torch.Generator().manual_seed(3)
    logits, target = torch.randn(2, 9, 20, generator=gen), torch.randint(0, 20, (2, 9), generator=gen)
    assert fl.naive_perplexity(logits, target) == pytest.approx(true_perplexity(
        logits.reshape(-1, 20), target.reshape(-1)), rel=1e-5)
    assert fl.naive_perplexity(logits, target) == pytest.approx(
        TorchmetricsPerplexity()(logits, target).item(), rel=1e-5)


def test_float64_moves_the_cliff_but_does_not_remove_it():
    mid = fl.underflow_case(gap=200.0)
    far = fl.underflow_case(gap=800.0)  # e^-800 is below float64's smallest number too
    assert fl.naive_perplexity(mid.logits.double(), mid.target) == pytest.approx(
        true_perplexity(mid.logits, mid.target), rel=1e-9)
    assert math.isinf(fl.naive_perplexity(far.logits.double(), far.target))
    assert fl.perplexity(far.logits, far.target) == pytest.approx(
        true_perplexity(far.logits, far.target), rel=1e-6)


@pytest.mark.parametrize("kwargs, error", [({"n_tokens": 0}, ValueError), ({"vocab": 1}, ValueError),
                                           ({"vocab": 2.5}, TypeError),
                                           ({"gap": float("nan")}, ValueError),
                                           ({"margin": float("inf")}, ValueError)])
def test_underflow_case_rejects_bad_arguments(kwargs, error):
    with pytest.raises(error):
        fl.underflow_case(**kwargs)


# --- exp_overflow_edge and ulp ---------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_exp_overflow_edge_is_one_step_wide(dtype):
    last, first = fl.exp_overflow_edge(dtype)
    x_last, x_first = torch.tensor(last, dtype=dtype), torch.tensor(first, dtype=dtype)
    assert math.isfinite(torch.exp(x_last).item()) and math.isinf(torch.exp(x_first).item())
    assert torch.nextafter(x_last, torch.tensor(UP, dtype=dtype)).item() == first
    assert last <= fl.exp_limit(dtype) + 1e-12 and first > fl.exp_limit(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x", [1.0, 3.3, 256.0, 300.0, 8192.0, 16384.0, 1e-3, -5.0])
def test_ulp_is_the_gap_to_the_next_number(dtype, x):
    here = torch.tensor(abs(x), dtype=dtype)
    expected = (torch.nextafter(here, torch.tensor(UP, dtype=dtype)) - here).item()
    assert fl.ulp(x, dtype) == expected


@pytest.mark.parametrize("dtype", DTYPES)
def test_ulp_of_subnormals(dtype):
    info = torch.finfo(dtype)
    smallest = torch.nextafter(torch.tensor(0.0, dtype=dtype), torch.tensor(UP, dtype=dtype)).item()
    assert fl.ulp(0.0, dtype) == smallest == fl.ulp(info.tiny / 4, dtype)


def test_ulp_rejects_what_does_not_fit():
    with pytest.raises(ValueError, match="float16"):
        fl.ulp(1e6, torch.float16)  # rounds to inf in float16
    with pytest.raises(TypeError, match="dtype"):
        fl.ulp(1.0, torch.int32)


# --- stall_point and running_sum -------------------------------------------------------------

def brute_force_stall(increment, dtype, limit=100_000):
    total, step = torch.zeros((), dtype=dtype), torch.tensor(increment, dtype=dtype)
    for _ in range(limit):
        new = total + step
        if torch.isinf(new):
            return math.inf
        if new == total:
            return total.item()
        total = new
    raise AssertionError("did not stall")


@pytest.mark.parametrize("increment, dtype", [(1.0, torch.bfloat16), (3.3, torch.bfloat16),
                                              (3.3, torch.float16), (0.7, torch.float16),
                                              (4.0, torch.bfloat16), (40.0, torch.float16),
                                              (1e-3, torch.float16), (6e-8, torch.float16),
                                              (1e-8, torch.float16), (1e6, torch.float16)])
def test_stall_point_matches_brute_force(increment, dtype):
    assert fl.stall_point(increment, dtype) == brute_force_stall(increment, dtype)


@pytest.mark.parametrize("increment", [0.1, 3.3, 1e-4])
def test_stall_point_in_float32_by_its_defining_property(increment):
    # Too many steps to simulate, so check the definition at the predicted point and below it.
    point = fl.stall_point(increment, torch.float32)
    p = torch.tensor(point, dtype=torch.float32)
    d = torch.tensor(increment, dtype=torch.float32)
    below = torch.nextafter(p, torch.tensor(0.0))
    assert p + d == p  # stalls here
    assert below + d != below and (p / 2) + d != p / 2  # and not before


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_stall_point_rejects_non_positive_increments(bad):
    with pytest.raises(ValueError, match="increment"):
        fl.stall_point(bad, torch.float16)


def test_running_sum_in_float64_is_python_float_addition():
    values = np.random.default_rng(0).uniform(0.1, 9.0, 500).tolist()
    expected = list(itertools.accumulate(values))  # Python floats are float64
    got = fl.running_sum(values, torch.float64)
    assert got.dtype == torch.float64 and got.shape == (500,)
    assert got.tolist() == expected


@pytest.mark.parametrize("dtype, np_dtype", [(torch.float16, np.float16),
                                             (torch.float32, np.float32)])
def test_running_sum_matches_numpy_accumulation(dtype, np_dtype):
    values = np.random.default_rng(1).uniform(0.1, 9.0, 3000).astype(np_dtype)
    expected = np.add.accumulate(values, dtype=np_dtype).astype(np.float64)  # rounds every step
    got = fl.running_sum(torch.from_numpy(values), dtype).numpy()
    np.testing.assert_array_equal(got, expected)


def test_running_sum_in_bfloat16_stalls_where_predicted():
    sums = fl.running_sum(torch.full((2000,), 3.3), torch.bfloat16)
    assert sums[-1].item() == fl.stall_point(3.3, torch.bfloat16) == 1024.0
    exact = math.fsum([torch.tensor(3.3, dtype=torch.bfloat16).item()] * 2000)
    assert exact > 6000  # the true sum, six times larger


def test_running_sum_rejects_integer_dtypes():
    with pytest.raises(TypeError, match="dtype"):
        fl.running_sum([1.0, 2.0], torch.int64)
