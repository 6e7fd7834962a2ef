"""Bad inputs that used to be silently wrong: narrow id dtypes, fractional ids, ignore_index=True,
-100 inside a token stream, and non-finite checkpoint metrics (issue: every bad input a clear error)."""

import math

import pytest
import torch

import forge_lib as fl

V = 300  # larger than uint8's range, so a cast of V to uint8 (44) would show


def _reference_nll(logits, target, ignore_index):
    keep = target != ignore_index
    return torch.nn.functional.cross_entropy(logits.double()[keep], target[keep], reduction="sum")


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32])
def test_narrow_integer_ids_score_like_long(dtype):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, V, generator=g)
    high = 127 if dtype == torch.int8 else (255 if dtype == torch.uint8 else V)
    target = torch.randint(0, high, (6,), generator=g)
    target[2] = 156 % high  # with -100 cast to uint8 this id would be "ignored"
    nll, n = fl.nll_sum_and_count(logits, target.to(dtype), ignore_index=-100)
    assert n == 6
    torch.testing.assert_close(nll, _reference_nll(logits, target, -100))
    assert fl.token_accuracy(logits, target.to(dtype)) == fl.token_accuracy(logits, target)


def test_uint8_padding_label_is_not_confused_with_minus_100():
    logits = torch.randn(3, V)
    target = torch.tensor([156, 1, 2], dtype=torch.uint8)
    assert fl.nll_sum_and_count(logits, target, ignore_index=-100)[1] == 3


@pytest.mark.parametrize("call", [
    lambda: fl.token_accuracy(torch.randn(3, 5), torch.tensor([1, 2, 3]), ignore_index=True),
    lambda: fl.nll_sum_and_count(torch.randn(3, 5), torch.tensor([1, 2, 3]), ignore_index=1.0),
    lambda: fl.sliding_window_nll(lambda x: torch.zeros(*x.shape, 7), torch.arange(20) % 7,
                                  context=8, stride=4, ignore_index=True),
])
def test_ignore_index_must_be_an_int_everywhere(call):
    with pytest.raises(TypeError, match="ignore_index: expected an int"):
        call()


def test_minus_100_inside_a_stream_is_refused():
    stream = torch.arange(20) % 7
    stream[5] = -100
    with pytest.raises(ValueError, match=r"token_ids: expected real token ids .*first: -100"):
        fl.sliding_window_nll(lambda x: torch.zeros(*x.shape, 7), stream, context=8, stride=4)


@pytest.mark.parametrize("bad", [[[1.7, 2.2]], [[1, 2], [True, False]], [[[1, 2]]]])
def test_collate_refuses_ids_that_are_not_ints(bad):
    with pytest.raises(TypeError, match="flat list of int token ids"):
        fl.collate(bad)


@pytest.mark.parametrize("metric", [math.inf, -math.inf, math.nan])
def test_non_finite_metric_is_never_an_improvement(metric, tmp_path):
    assert not fl.is_improvement(metric, None) and not fl.is_improvement(metric, 3.0, mode="max")
    best = fl.BestCheckpoint(tmp_path / "best.pt")
    assert not best.update(metric, step=1, model=torch.nn.Linear(2, 1))
    assert best.best is None and not (tmp_path / "best.pt").exists()


@pytest.mark.parametrize("min_delta", [-0.1, math.nan, math.inf])
def test_min_delta_must_be_finite_and_non_negative(min_delta, tmp_path):
    with pytest.raises(ValueError, match="min_delta: expected a finite number >= 0"):
        fl.BestCheckpoint(tmp_path / "best.pt", min_delta=min_delta)
    with pytest.raises(ValueError, match="min_delta"):
        fl.is_improvement(1.0, 2.0, min_delta=min_delta)
