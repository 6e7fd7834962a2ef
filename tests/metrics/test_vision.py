"""forge_lib.vision against independent references: torchmetrics, scipy, float64 formulas."""

import math

import numpy as np
import pytest
import scipy.linalg
import scipy.ndimage
import torch
from torchmetrics.functional.image import peak_signal_noise_ratio as tm_psnr
from torchmetrics.functional.image import structural_similarity_index_measure as tm_ssim
from torchmetrics.image.fid import FrechetInceptionDistance

import forge_lib as fl
from forge_lib import check as checks


def _images(seed=0, shape=(3, 3, 40, 48)):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=gen)
    y = (x + 0.1 * torch.randn(shape, generator=gen)).clamp(0, 1)
    return x, y


@pytest.fixture(scope="module")
def photo():
    return fl.load_sample_image(size=96)


# --------------------------------------------------------------------------------------- PSNR

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_psnr_matches_torchmetrics_pooled_and_per_image(seed):
    x, y = _images(seed)
    assert abs(fl.psnr(y, x, data_range=1.0).item() - tm_psnr(y, x, data_range=1.0).item()) < 1e-5
    ours = fl.psnr(y, x, data_range=1.0, per_image=True)
    theirs = tm_psnr(y, x, data_range=1.0, dim=(1, 2, 3), reduction="none")
    assert ours.shape == (3,)
    assert torch.allclose(ours, theirs.double(), atol=1e-5)


def test_psnr_float64_formula():
    x, y = _images(3)
    mse = ((y.double() - x.double()) ** 2).mean().item()
    assert fl.psnr(y, x, data_range=1.0).item() == pytest.approx(10 * math.log10(1 / mse), abs=1e-12)


def test_psnr_identical_is_inf_and_uint8_matches_float(photo):
    assert fl.psnr(photo, photo, data_range=1.0).item() == math.inf
    noisy = fl.add_gaussian_noise(photo, 0.05)
    a8, b8 = (photo * 255).round().to(torch.uint8), (noisy * 255).round().to(torch.uint8)
    as_float = fl.psnr(b8.double() / 255, a8.double() / 255, data_range=1.0)
    assert fl.psnr(b8, a8, data_range=255).item() == pytest.approx(as_float.item(), abs=1e-9)


def test_psnr_bad_inputs():
    x, y = _images()
    with pytest.raises(ValueError, match="same shape"):
        fl.psnr(x[:, :, :10], y, data_range=1.0)
    with pytest.raises(ValueError, match="data_range=255"):
        fl.psnr(x * 255, y * 255, data_range=1.0)  # 0-255 images scored as [0, 1]
    with pytest.raises(TypeError, match="integer images"):
        fl.psnr((x * 255).byte(), (y * 255).byte(), data_range=1.0)
    with pytest.raises(TypeError, match="same kind"):
        fl.psnr((x * 255).byte(), y, data_range=255)
    with pytest.raises(ValueError, match="positive"):
        fl.psnr(x, y, data_range=-1.0)
    with pytest.raises(TypeError, match="number"):
        fl.psnr(x, y, data_range="1")
    with pytest.raises(TypeError, match="torch.Tensor"):
        fl.psnr(x.numpy(), y, data_range=1.0)
    bad = x.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        fl.psnr(bad, y, data_range=1.0)
    bad[0, 0, 0, 0] = float("inf")
    with pytest.raises(ValueError, match="infinite"):
        fl.ssim(bad, y, data_range=1.0)


# --------------------------------------------------------------------------------------- SSIM

@pytest.mark.parametrize("seed", [0, 1])
def test_ssim_matches_torchmetrics(seed):
    x, y = _images(seed)
    assert abs(fl.ssim(y, x, data_range=1.0).item() - tm_ssim(y, x, data_range=1.0).item()) < 1e-5
    ours = fl.ssim(y, x, data_range=1.0, per_image=True)
    theirs = tm_ssim(y, x, data_range=1.0, reduction="none")
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_ssim_matches_torchmetrics_on_a_photo_and_255_range(photo):
    blurred = fl.gaussian_blur(photo, 1.5)
    ours = fl.ssim(blurred * 255, photo * 255, data_range=255.0).item()
    theirs = tm_ssim((blurred * 255)[None], (photo * 255)[None], data_range=255.0).item()
    assert abs(ours - theirs) < 1e-5


def _ssim_scipy(x, y, data_range, sigma=1.5):
    """Float64 SSIM with scipy's Gaussian filter: 'mirror' is torch's 'reflect' padding."""
    def blur(a):
        return scipy.ndimage.gaussian_filter(a, sigma, mode="mirror", truncate=5 / sigma)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    values = []
    for a, b in zip(x, y, strict=True):
        for ca, cb in zip(a, b, strict=True):
            mx, my = blur(ca), blur(cb)
            vx, vy, cov = blur(ca * ca) - mx**2, blur(cb * cb) - my**2, blur(ca * cb) - mx * my
            values.append(((2 * mx * my + c1) * (2 * cov + c2))
                          / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    return float(np.mean(values))


def test_ssim_float64_against_scipy_reference():
    x, y = _images(4, (2, 2, 30, 33))
    ours = fl.ssim(y.double(), x.double(), data_range=1.0).item()
    assert ours == pytest.approx(_ssim_scipy(y.double().numpy(), x.double().numpy(), 1.0), abs=1e-10)


def _skimage_ssim(a: torch.Tensor, b: torch.Tensor, **settings) -> float:
    metrics = pytest.importorskip("skimage.metrics", reason="scikit-image is pinned in requirements.txt")
    return float(metrics.structural_similarity(a.double().numpy(), b.double().numpy(), channel_axis=0,
                                               data_range=1.0, **settings))


# scikit-image with torchmetrics' window: Gaussian, sigma 1.5, truncated at 3.5 sigma (11 taps),
# population covariance. Its map is then fl's map, but it averages only the interior: it crops
# (11 - 1) // 2 = 5 pixels on each side, where fl reflects the image and averages every pixel.
SKIMAGE_MATCHED = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
CROP = 5


@pytest.mark.parametrize("size", [24, 64])
def test_ssim_matches_scikit_image_on_reflect_padded_images(photo, size):
    # Padding both images with torch's reflect padding and letting scikit-image crop it again
    # leaves exactly fl's pixels and windows, so the two must agree to float64 rounding: both
    # compute in float64 with the same normalised 11-tap weights, but scipy filters by
    # correlation and fl by banded matrix products, and fl shifts by the mean before E[x^2] -
    # E[x]^2; measured: under 1e-15. 1e-12 leaves room for other BLAS kernels and fails on any
    # convention change (measured here: the border alone moves the value by 2e-2 to 4e-2, the
    # 7 x 7 uniform window by 2e-3 to 1e-2).
    ref = torch.nn.functional.interpolate(photo[None].double(), size=(size, size + 6),
                                          mode="area")[0]  # (3, size, size + 6): not square
    noisy = fl.add_gaussian_noise(ref, 0.05, seed=1)
    ours = fl.ssim(noisy, ref, data_range=1.0).item()
    padded = [torch.nn.functional.pad(im[None], (CROP,) * 4, mode="reflect")[0] for im in (noisy, ref)]
    assert _skimage_ssim(*padded, **SKIMAGE_MATCHED) == pytest.approx(ours, abs=1e-12)
    # ...and the convention does matter: on the images themselves scikit-image drops the border.
    cropped = _skimage_ssim(noisy, ref, **SKIMAGE_MATCHED)
    assert abs(cropped - ours) > 1e-3
    # scikit-image's value is the mean of the interior of the same map (torchmetrics exposes it).
    _, ssim_map = tm_ssim(noisy[None], ref[None], data_range=1.0, return_full_image=True)
    assert ssim_map[..., CROP:-CROP, CROP:-CROP].mean().item() == pytest.approx(cropped, abs=1e-12)
    # Its defaults (7 x 7 uniform window, sample covariance) are another metric again.
    assert abs(_skimage_ssim(noisy, ref) - cropped) > 1e-3


def test_ssim_float32_matches_scikit_image_at_float32_precision(photo):
    # fl computes float32 images in float32: against scikit-image's float64 value the error is
    # float32 rounding of each local statistic, mostly averaged out over the map (measured: 3e-9);
    # 1e-5 is the bound this file uses for every float32 SSIM comparison.
    noisy = fl.add_gaussian_noise(photo, 0.05, seed=1)
    padded = [torch.nn.functional.pad(im[None].double(), (CROP,) * 4, mode="reflect")[0]
              for im in (noisy, photo)]
    assert fl.ssim(noisy, photo, data_range=1.0).dtype == torch.float32
    assert fl.ssim(noisy, photo, data_range=1.0).item() == pytest.approx(
        _skimage_ssim(*padded, **SKIMAGE_MATCHED), abs=1e-5)


def test_ssim_identical_inverted_and_bad_inputs(photo):
    assert fl.ssim(photo, photo, data_range=1.0).item() == pytest.approx(1.0, abs=1e-6)
    assert fl.ssim(1 - photo, photo, data_range=1.0).item() < 0  # SSIM is not in [0, 1]
    with pytest.raises(ValueError, match="larger than"):
        fl.ssim(torch.rand(1, 1, 4, 4), torch.rand(1, 1, 4, 4), data_range=1.0)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        fl.ssim(torch.rand(20, 20), torch.rand(20, 20), data_range=1.0)


# ------------------------------------------------------------------------------ Fréchet distance

def _fd_scipy(a, b):
    """The pytorch-fid recipe: scipy.linalg.sqrtm of the non-symmetric product, real part."""
    a, b = a.numpy(), b.numpy()
    mu_a, mu_b = a.mean(0), b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(sa @ sb).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(sa) + np.trace(sb) - 2 * np.trace(covmean))


class _Identity(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.num_features = d

    def forward(self, x):
        return x


def _feature_sets(seed, n=400, d=16):
    gen = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=gen, dtype=torch.float64)
    a = torch.randn(n, d, generator=gen, dtype=torch.float64) @ mix
    b = torch.randn(n + 37, d, generator=gen, dtype=torch.float64) @ (mix * 1.1) + 0.3
    return a, b


@pytest.mark.parametrize("seed", [0, 1])
def test_frechet_matches_scipy_and_torchmetrics(seed):
    a, b = _feature_sets(seed)
    ours = fl.frechet_distance(a, b).item()
    assert ours == pytest.approx(_fd_scipy(a, b), rel=1e-9)
    fid = FrechetInceptionDistance(feature=_Identity(a.shape[1]))
    fid.update(a, real=True)
    fid.update(b, real=False)
    assert ours == pytest.approx(fid.compute().item(), rel=1e-6)


def test_frechet_known_value_and_identical_sets():
    eye = torch.eye(3, dtype=torch.float64)
    # N(0, I) vs N(1, 4I): |mu|^2 = 3, trace term 3 * (1 + 4 - 2 * 2) = 3
    value = fl.frechet_distance_from_stats(torch.zeros(3), eye, torch.ones(3), 4 * eye)
    assert value.item() == pytest.approx(6.0, abs=1e-12)
    a, _ = _feature_sets(2)
    assert fl.frechet_distance(a, a).item() == pytest.approx(0.0, abs=1e-8)


def test_gaussian_stats_matches_numpy():
    a, _ = _feature_sets(3, n=50, d=5)
    mu, cov = fl.gaussian_stats(a)
    assert np.allclose(mu.numpy(), a.numpy().mean(0))
    assert np.allclose(cov.numpy(), np.cov(a.numpy(), rowvar=False))


def test_frechet_singular_covariance_stays_real_and_finite():
    a, b = _feature_sets(4, n=20, d=64)[0][:20], _feature_sets(5, n=20, d=64)[1][:30]
    ours = fl.frechet_distance(a.float(), b.float())
    assert ours.dtype == torch.float64 and math.isfinite(ours.item()) and ours.item() > 0
    # The exact value for rank-deficient covariances, via the nuclear-norm identity:
    # Tr((S_a S_b)^(1/2)) = || X_a^T X_b ||_* / sqrt((n_a - 1)(n_b - 1)) for centred X.
    xa, xb = a - a.mean(0), b - b.mean(0)
    nuclear = torch.linalg.svdvals(xa @ xb.T).sum() / math.sqrt(19 * 29)
    exact = ((a.mean(0) - b.mean(0)) ** 2).sum() + (xa**2).sum() / 19 + (xb**2).sum() / 29 \
        - 2 * nuclear
    assert ours.item() == pytest.approx(exact.item(), rel=1e-6)
    with_eps = fl.frechet_distance(a, b, eps=1e-3).item()
    assert with_eps != ours.item() and math.isfinite(with_eps)


def test_frechet_eps_lowers_the_value_unlike_a_plus_2_eps_d_bias():
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(300, 40, generator=gen, dtype=torch.float64)
    b = 1.3 * torch.randn(300, 40, generator=gen, dtype=torch.float64) + 0.1
    base = fl.frechet_distance(a, b).item()
    previous = base
    for eps in (1e-4, 1e-3, 1e-2):  # the same N(0, eps I) added to both: never further apart
        value = fl.frechet_distance(a, b, eps=eps).item()
        assert value < previous
        previous = value
    # pytorch-fid's fallback offsets only inside the square root: lower by a further 2 eps D.
    eps, d = 1e-3, 40
    s_a, s_b = np.cov(a.numpy().T), np.cov(b.numpy().T)
    off = eps * np.eye(d)
    pytorch_fid = (np.square(a.mean(0).numpy() - b.mean(0).numpy()).sum() + np.trace(s_a)
                   + np.trace(s_b) - 2 * np.trace(scipy.linalg.sqrtm((s_a + off) @ (s_b + off))).real)
    ours = fl.frechet_distance(a, b, eps=eps).item()
    assert abs(pytorch_fid - (ours - 2 * eps * d)) < 1e-8 * base


def test_frechet_bad_inputs():
    a, b = _feature_sets(0)
    with pytest.raises(ValueError, match="same extractor"):
        fl.frechet_distance(a, b[:, :8])
    with pytest.raises(ValueError, match="at least 2 samples"):
        fl.frechet_distance(a[:1], b)
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        fl.frechet_distance(a[0], b)
    with pytest.raises(TypeError, match="floating-point"):
        fl.frechet_distance(a.long(), b)
    bad = a.clone()
    bad[3, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        fl.frechet_distance(bad, b)
    with pytest.raises(ValueError, match="one D"):
        fl.frechet_distance_from_stats(torch.zeros(3), torch.eye(3), torch.zeros(2), torch.eye(2))


# ----------------------------------------------------------------- extractor, LPIPS-style distance

def test_random_features_are_seeded_and_leave_global_rng_alone():
    state = torch.get_rng_state()
    a, b, c = fl.RandomConvFeatures(seed=0), fl.RandomConvFeatures(seed=0), fl.RandomConvFeatures(seed=1)
    assert torch.equal(torch.get_rng_state(), state)
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(a(x), b(x)) and not torch.equal(a(x), c(x))
    assert a(x).shape == (2, a.num_features)
    assert fl.extract_features(a, x, batch_size=1).dtype == torch.float64


def test_custom_extractor_in_torchmetrics_fid_matches_ours(photo):
    net = fl.RandomConvFeatures(seed=0)
    real = fl.random_crops(photo, 150, 32, seed=1)
    fake = fl.random_crops(fl.gaussian_blur(photo, 1.0), 150, 32, seed=2)
    ours = fl.frechet_distance(fl.extract_features(net, real), fl.extract_features(net, fake))
    fid = FrechetInceptionDistance(feature=net, normalize=True, input_img_size=(3, 32, 32))
    fid.update(real, real=True)
    fid.update(fake, real=False)
    # torchmetrics returns the features' dtype (float32): agreement to float32 precision
    assert ours.item() == pytest.approx(fid.compute().item(), rel=1e-5)


def test_perceptual_distance(photo):
    x = photo[None]
    assert fl.perceptual_distance(x, x).item() == 0.0
    weak, strong = fl.add_gaussian_noise(x, 0.02), fl.add_gaussian_noise(x, 0.2)
    d_weak, d_strong = fl.perceptual_distance(weak, x).item(), fl.perceptual_distance(strong, x).item()
    assert 0 < d_weak < d_strong
    assert fl.perceptual_distance(x, strong).item() == pytest.approx(d_strong, rel=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        fl.perceptual_distance(x, x[..., :-1])
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        fl.RandomConvFeatures().stages(photo)


def test_distortions_and_crops(photo):
    assert fl.psnr(fl.jpeg_compress(photo, 20), photo, data_range=1.0) < \
        fl.psnr(fl.jpeg_compress(photo, 90), photo, data_range=1.0)
    blurred = fl.gaussian_blur(photo, 2.0)
    assert blurred.shape == photo.shape and fl.ssim(blurred, photo, data_range=1.0) < 0.95
    crops = fl.random_crops(photo, 3, 16, seed=0)
    assert crops.shape == (3, 3, 16, 16)
    with pytest.raises(ValueError, match="at most"):
        fl.random_crops(photo, 3, 200)
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        fl.jpeg_compress(photo[:1], 50)


# ----------------------------------------------------------------------------------- checkers

def test_checker_psnr_from_mse(capsys):
    assert checks.psnr_from_mse(lambda m, r: 10 * math.log10(r * r / m))
    assert not checks.psnr_from_mse(lambda m, r: 20 * math.log10(r / m))
    assert "RMSE" in capsys.readouterr().out


def test_checker_frechet_1d(capsys):
    assert checks.frechet_1d(lambda ma, va, mb, vb: (ma - mb) ** 2 + (va**0.5 - vb**0.5) ** 2)
    assert not checks.frechet_1d(lambda ma, va, mb, vb: (ma - mb) ** 2 + va + vb)
    assert "cross term" in capsys.readouterr().out


def test_checker_trace_sqrt_product(capsys):
    def right(sa, sb):
        evals, evecs = torch.linalg.eigh(sa)
        root = evecs @ torch.diag(evals.sqrt()) @ evecs.T
        return torch.linalg.eigvalsh(root @ sb @ root).sqrt().sum().item()

    assert checks.trace_sqrt_product(right)
    assert not checks.trace_sqrt_product(lambda sa, sb: (sa @ sb).sqrt().trace().item())
    assert "elementwise" in capsys.readouterr().out


def test_checker_bits_per_dim(capsys):
    assert checks.bits_per_dim(lambda s, n: s / n / math.log(2))
    assert not checks.bits_per_dim(lambda s, n: s / n)
    assert "ln 2" in capsys.readouterr().out


def test_checker_causal_token_accuracy(capsys):
    def right(logits, labels):
        logits, labels = logits[:, :-1], labels[:, 1:]
        keep = labels != -100
        return ((logits.argmax(-1) == labels) & keep).sum().item() / keep.sum().item()

    def unmasked(logits, labels):
        return (logits[:, :-1].argmax(-1) == labels[:, 1:]).float().mean().item()

    assert checks.causal_token_accuracy(right)
    assert not checks.causal_token_accuracy(unmasked)
    assert "denominator" in capsys.readouterr().out
