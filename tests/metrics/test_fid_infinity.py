"""fl.fid_infinity (Chong and Forsyth 2020): FID extrapolated linearly in 1/N to N = infinity."""

import numpy as np
import pytest
import torch

import forge_lib as fl


def _gaussians(d=16, shift=0.25, n=4000, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(n, d, generator=gen, dtype=torch.float64),
            torch.randn(n, d, generator=gen, dtype=torch.float64) + shift)


def test_points_are_the_mean_fid_of_the_documented_draws():
    a, b = _gaussians()
    fit = fl.fid_infinity(a, b, (100, 300), draws=3, seed=5)
    gen = torch.Generator().manual_seed(5)  # a first, then b, `draws` times per size, in order
    expected = []
    for n in (100, 300):
        expected.append(np.mean([fl.frechet_distance(a[torch.randperm(4000, generator=gen)[:n]],
                                                     b[torch.randperm(4000, generator=gen)[:n]]).item()
                                 for _ in range(3)]))
    assert fit.sizes == (100, 300)
    assert fit.fids == pytest.approx(expected, rel=1e-12)


def test_line_is_the_least_squares_fit_in_one_over_n():
    a, b = _gaussians()
    fit = fl.fid_infinity(a, b, (100, 200, 400, 800), draws=2)
    slope, intercept = np.polyfit([1 / n for n in fit.sizes], fit.fids, 1)  # independent fit
    assert fit.value == pytest.approx(intercept, rel=1e-9)
    assert fit.slope == pytest.approx(slope, rel=1e-9)


def test_removes_the_bias_that_every_finite_n_keeps():
    a, b = _gaussians()  # true distance 16 * 0.25**2 = 1
    fit = fl.fid_infinity(a, b, (100, 200, 400, 800), draws=10)
    assert min(fit.fids) > 1.1  # every finite-N FID is biased upward by more than 10 %
    assert abs(fit.value - 1.0) < min(0.15, min(fit.fids) - 1.0)  # closer than the largest N
    assert fit.slope > 0


def test_same_distribution_extrapolates_to_about_zero():
    a, _ = _gaussians(seed=1)
    b, _ = _gaussians(seed=2)
    fit = fl.fid_infinity(a, b, (100, 200, 400, 800), draws=10)
    assert fit.fids[-1] > 0.2  # N = 800 still far from 0
    assert abs(fit.value) < min(0.1, fit.fids[-1] / 2)


@pytest.mark.parametrize("sizes,match", [((100,), "two different"), ((100, 100), "two different"),
                                         ((1, 100), "from 2"), ((100, 5000), "4000")])
def test_bad_sizes_are_refused_with_the_argument_named(sizes, match):
    a, b = _gaussians()
    with pytest.raises(ValueError, match=match) as err:
        fl.fid_infinity(a, b, sizes)
    assert "sizes" in str(err.value)


def test_bad_arguments_name_themselves():
    a, b = _gaussians()
    with pytest.raises(TypeError, match="sizes"):
        fl.fid_infinity(a, b, 100)
    with pytest.raises(TypeError, match="draws"):
        fl.fid_infinity(a, b, (100, 200), draws=2.0)
    with pytest.raises(ValueError, match="features_b"):
        fl.fid_infinity(a, b[:, :3], (100, 200))
    with pytest.raises(TypeError, match="seed"):
        fl.fid_infinity(a, b, (100, 200), seed=0.5)
