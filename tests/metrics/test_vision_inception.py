"""fl.inception_inputs / fl.inception_features (FID's input protocols) and the low-rank route of
fl.frechet_distance, against independent references: PIL's own 8-bit resampler, 2 x 2 block
means, mpmath at 50 digits, scipy's sqrtm and torchmetrics."""

import mpmath
import numpy as np
import pytest
import scipy.linalg
import torch
from torchmetrics.image.fid import FrechetInceptionDistance

import forge_lib as fl


def _photos(n=3, size=40, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=gen)


# ------------------------------------------------------------------------- inception_inputs

def test_scaling_black_white_and_shape():
    x = torch.stack([torch.zeros(3, 8, 8), torch.ones(3, 8, 8)])
    out = fl.inception_inputs(x, size=8)
    assert out.shape == (2, 3, 8, 8) and out.dtype == torch.float32
    assert out[0].unique().tolist() == [-1.0]
    assert out[1].unique().tolist() == [(255 - 128) / 128]


@pytest.mark.parametrize("resize", fl.INCEPTION_RESIZE)
def test_same_size_is_no_resize_and_quantize_rounds_to_uint8_levels(resize):
    x = _photos(size=16)
    rounded = fl.inception_inputs(x, resize=resize, size=16) * 128 + 128
    exact = fl.inception_inputs(x, resize=resize, quantize=False, size=16) * 128 + 128
    assert torch.allclose(rounded, (x * 255).round(), atol=1e-4)  # integer levels
    assert torch.allclose(exact, x * 255, atol=1e-4)  # the float values kept
    assert (rounded - exact).abs().max() <= 0.5 + 1e-4


def test_uint8_images_equal_their_float_version():
    x = (_photos() * 255).round().to(torch.uint8)
    for resize in fl.INCEPTION_RESIZE:
        a = fl.inception_inputs(x, resize=resize, size=29)
        b = fl.inception_inputs(x.float() / 255, resize=resize, size=29)
        assert torch.allclose(a, b, atol=1e-5)


def _bicubic_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out, n_in) weights of PIL's bicubic resize (a = -0.5, widened by the shrink factor,
    window clipped at the borders and renormalised), written from its documented algorithm."""
    def cubic(t, a=-0.5):
        t = abs(t)
        if t < 1:
            return ((a + 2) * t - (a + 3)) * t * t + 1
        return (((t - 5) * t + 8) * t - 4) * a if t < 2 else 0.0

    scale = n_in / n_out
    widen = max(scale, 1.0)
    m = torch.zeros(n_out, n_in, dtype=torch.float64)
    for i in range(n_out):
        centre = (i + 0.5) * scale
        lo, hi = max(int(centre - 2 * widen + 0.5), 0), min(int(centre + 2 * widen + 0.5), n_in)
        w = torch.tensor([cubic((j - centre + 0.5) / widen) for j in range(lo, hi)], dtype=torch.float64)
        m[i, lo:hi] = w / w.sum()
    return m


def test_pil_bicubic_matches_a_separable_reference():
    x = _photos(n=2, size=57).double()
    for size in (29, 96):  # shrink (antialiased: the filter widens) and enlarge
        ours = fl.inception_inputs(x, size=size) * 128 + 128
        m = _bicubic_matrix(57, size)
        ref = (m @ (x * 255).round() @ m.T).clamp(0, 255)  # rows, then columns
        assert torch.allclose(ours.double(), ref, atol=2e-3)


def test_bilinear_halving_is_the_mean_of_2_by_2_blocks_and_pil_antialiases():
    x = _photos(n=2, size=32)
    ours = fl.inception_inputs(x, resize="bilinear", quantize=False, size=16) * 128 + 128
    blocks = (x * 255).reshape(2, 3, 16, 2, 16, 2).mean(dim=(3, 5))
    assert torch.allclose(ours, blocks, atol=1e-3)
    # PIL's filter widens with the shrink factor: a one-pixel checkerboard averages to grey
    board = ((torch.arange(64).view(-1, 1) + torch.arange(64)) % 2).float().expand(1, 3, 64, 64)
    pil = fl.inception_inputs(board, size=16) * 128 + 128
    assert (pil - 127.5).abs().max() < 2


def test_values_outside_0_1_are_clipped_like_a_saved_file():
    x = _photos() * 1.2 - 0.1  # unclipped noise around [0, 1]
    out = fl.inception_inputs(x, size=40, quantize=False)
    assert torch.allclose(out, fl.inception_inputs(x.clamp(0, 1), size=40, quantize=False))


def test_bad_inputs_name_the_argument():
    x = _photos()
    cases = [
        (lambda: fl.inception_inputs(x.numpy()), TypeError, "images"),
        (lambda: fl.inception_inputs(x[0]), ValueError, "images"),
        (lambda: fl.inception_inputs(x[:, :1]), ValueError, "images"),
        (lambda: fl.inception_inputs(x[:0]), ValueError, "images"),
        (lambda: fl.inception_inputs(x * 255), ValueError, "images"),
        (lambda: fl.inception_inputs(x.to(torch.int32)), TypeError, "images"),
        (lambda: fl.inception_inputs(x.clone().fill_(float("nan"))), ValueError, "images"),
        (lambda: fl.inception_inputs(x, resize="lanczos"), ValueError, "resize"),
        (lambda: fl.inception_inputs(x, quantize="yes"), TypeError, "quantize"),
        (lambda: fl.inception_inputs(x, size=0), ValueError, "size"),
        (lambda: fl.inception_features("net", x), TypeError, "net"),
        (lambda: fl.inception_features(lambda b: b.mean((2, 3)), x, batch_size=0), ValueError,
         "batch_size"),
        (lambda: fl.inception_features(lambda b: b.mean((2, 3)), x, resize="area"), ValueError,
         "resize"),
    ]
    for call, error, name in cases:
        with pytest.raises(error, match=name):
            call()


# ----------------------------------------------------------------------- inception_features

def test_features_are_the_net_on_the_prepared_images_in_any_batches():
    x = _photos(n=5)
    conv = torch.nn.Conv2d(3, 4, 3, stride=2)
    torch.nn.init.normal_(conv.weight, generator=torch.Generator().manual_seed(0))
    net = torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    with torch.no_grad():
        ref = net(fl.inception_inputs(x, size=33)).double()
    for batch_size in (1, 2, 16):
        out = fl.inception_features(net, x, size=33, batch_size=batch_size)
        assert out.dtype == torch.float64 and out.shape == (5, 4)
        assert torch.allclose(out, ref, atol=1e-5)
    assert not any(p.grad is not None for p in net.parameters())


def test_real_inception_embeds_to_2048_non_negative_features():
    try:
        net = fl.load_fid_inception()
    except FileNotFoundError as err:
        pytest.skip(str(err))
    x = _photos(n=2, size=64)
    f = fl.inception_features(net, x, batch_size=1)
    assert f.shape == (2, 2048) and torch.isfinite(f).all()
    assert (f >= 0).all()  # the pool of ReLU outputs
    assert torch.allclose(fl.inception_features(net, x), f, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------- frechet_distance with N < D (low rank)

def _mp_frechet(a: torch.Tensor, b: torch.Tensor) -> float:
    """50-digit reference: covariances and the eigenvalues of S_a S_b in mpmath."""
    mpmath.mp.dps = 50

    def stats(x):
        m = mpmath.matrix(x.tolist())
        mu = [mpmath.fsum(m[i, j] for i in range(m.rows)) / m.rows for j in range(m.cols)]
        c = mpmath.matrix(m.rows, m.cols)
        for i in range(m.rows):
            for j in range(m.cols):
                c[i, j] = m[i, j] - mu[j]
        return mu, c.T * c / (m.rows - 1)

    (mu_a, s_a), (mu_b, s_b) = stats(a), stats(b)
    evals = mpmath.eig(s_a * s_b, left=False, right=False)
    tr_sqrt = mpmath.fsum(mpmath.sqrt(max(mpmath.re(e), 0)) for e in evals)
    d = len(mu_a)
    value = (mpmath.fsum((mu_a[j] - mu_b[j]) ** 2 for j in range(d))
             + mpmath.fsum(s_a[j, j] + s_b[j, j] for j in range(d)) - 2 * tr_sqrt)
    return float(value)


@pytest.mark.parametrize("n_a, n_b, d", [(5, 7, 9), (12, 6, 20), (3, 3, 4)])
def test_low_rank_route_matches_a_50_digit_reference(n_a, n_b, d):
    gen = torch.Generator().manual_seed(n_a * d)
    mix = torch.randn(d, d, generator=gen, dtype=torch.float64)
    a = torch.randn(n_a, d, generator=gen, dtype=torch.float64) @ mix
    b = torch.randn(n_b, d, generator=gen, dtype=torch.float64) @ mix + 0.3
    ref = _mp_frechet(a, b)
    assert fl.frechet_distance(a, b).item() == pytest.approx(ref, rel=1e-12)
    # the D x D route agrees to the rounding of its D - N near-zero eigenvalues
    by_stats = fl.frechet_distance_from_stats(*fl.gaussian_stats(a), *fl.gaussian_stats(b))
    assert by_stats.item() == pytest.approx(ref, rel=1e-6)


def test_low_rank_route_matches_scipy_and_torchmetrics():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(16, 300, generator=gen, dtype=torch.float64).abs()
    b = torch.randn(12, 300, generator=gen, dtype=torch.float64).abs() * 1.1
    ours = fl.frechet_distance(a, b).item()
    s_a, s_b = np.cov(a.numpy().T), np.cov(b.numpy().T)
    scipy_value = (np.square(a.numpy().mean(0) - b.numpy().mean(0)).sum() + np.trace(s_a)
                   + np.trace(s_b) - 2 * np.trace(scipy.linalg.sqrtm(s_a @ s_b)).real)
    assert ours == pytest.approx(scipy_value, rel=1e-6)

    class Given(torch.nn.Module):  # the features are the "images"
        num_features = 300

        def forward(self, x):
            return x

    fid = FrechetInceptionDistance(feature=Given())
    fid.update(a, real=True)
    fid.update(b, real=False)
    assert ours == pytest.approx(fid.compute().item(), rel=1e-6)


def test_eps_and_n_above_d_keep_the_covariance_route():
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(6, 10, generator=gen, dtype=torch.float64)
    b = torch.randn(8, 10, generator=gen, dtype=torch.float64) + 1
    stats = (*fl.gaussian_stats(a), *fl.gaussian_stats(b))
    assert fl.frechet_distance(a, b, eps=1e-3).item() == fl.frechet_distance_from_stats(
        *stats, eps=1e-3).item()
    a, b = torch.randn(30, 4, generator=gen), torch.randn(40, 4, generator=gen)
    assert fl.frechet_distance(a, b).item() == fl.frechet_distance_from_stats(
        *fl.gaussian_stats(a), *fl.gaussian_stats(b)).item()
    with pytest.raises(ValueError, match="eps"):
        fl.frechet_distance(a, b, eps=-1.0)


def test_identical_sets_give_zero_on_the_low_rank_route():
    a = torch.randn(5, 50, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    assert fl.frechet_distance(a, a.clone()).item() == pytest.approx(0.0, abs=1e-10)
