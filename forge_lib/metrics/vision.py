"""Image metrics: PSNR, SSIM, the Fréchet distance behind FID/FVD, and an LPIPS-style distance.

    fl.psnr(pred, target, data_range=1.0)            # dB; inf for identical images
    fl.ssim(pred, target, data_range=1.0)            # in [-1, 1]; 1 for identical images
    fl.frechet_distance(features_real, features_gen) # FID when the features are image features
    fl.kernel_inception_distance(real, gen, subset_size=200)  # KID: (mean, std) over subsets
    fl.fid_infinity(real, gen, sizes=(500, 1000, 2000))  # FID extrapolated in 1/N to N = inf
    fl.perceptual_distance(x, y, extractor)          # LPIPS-style, on any conv feature extractor
    fl.inception_features(net, images, resize="pil_bicubic")  # (N, 2048) for a real FID

PSNR and SSIM follow torchmetrics' conventions exactly (pooled MSE over the batch; Gaussian
window 11 x 11, sigma 1.5, reflect padding, every pixel averaged), so a number from here and one
from `torchmetrics.image` agree. The Fréchet distance is computed in float64 by a symmetric
formulation that cannot produce complex numbers; KID follows torchmetrics' KernelInceptionDistance
(cubic polynomial kernel, unbiased MMD^2 per random subset). The default feature extractor is
fl.RandomConvFeatures (forge_lib/metrics/feature_nets.py), whose numbers are comparable only
with themselves. For a real FID, `inception_features` prepares images the way FID's
Inception network expects them (resize to 299 with a named filter, optional uint8 quantisation,
(x - 128) / 128) and embeds them in batches; the network is an argument (the course loads it with
fl.load_fid_inception()), so this module downloads and imports nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch

from forge_lib.metrics import validation
from forge_lib.metrics.feature_nets import RandomConvFeatures

__all__ = ["psnr", "ssim", "gaussian_stats", "frechet_distance", "frechet_distance_from_stats",
           "kernel_inception_distance", "extract_features", "perceptual_distance",
           "INCEPTION_RESIZE", "inception_inputs", "inception_features"]


def psnr(pred: torch.Tensor, target: torch.Tensor, *, data_range: float,
         per_image: bool = False) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB: 10 log10(data_range^2 / MSE), computed in float64.

    pred, target: images of the same shape, e.g. (B, C, H, W). By default the MSE is pooled over
    every element (torchmetrics' default); `per_image=True` returns one PSNR per leading index,
    shape (B,). Identical images have MSE 0 and PSNR = +inf (returned, not an error).
    Integer images need an integer data_range (255 for uint8). A data_range that does not fit
    the images is refused: 0-255 images with data_range=1, and [0, 1] images with
    data_range=255 (the exact rule is in forge_lib.validation.image_pair).

    >>> x = torch.zeros(1, 1, 2, 2); y = x.clone(); y[0, 0, 0, 0] = 0.2
    >>> round(psnr(y, x, data_range=1.0).item(), 3)   # MSE = 0.01 -> 20 dB
    20.0
    """
    pred, target, data_range = validation.image_pair(pred, target, data_range)
    diff = pred.double() - target.double()
    if validation.flag(per_image, "per_image"):
        if diff.ndim < 2:
            raise ValueError(f"per_image=True needs a batch dimension, got shape {tuple(diff.shape)}.")
        mse = diff.square().flatten(1).mean(dim=1)  # (B,)
    else:
        mse = diff.square().mean()
    # MSE = 0 gives +inf by policy; torch.where keeps log10(0) warnings out of the way.
    safe = torch.where(mse > 0, mse, torch.ones_like(mse))
    return torch.where(mse > 0, 10 * torch.log10(data_range**2 / safe),
                       torch.full_like(mse, math.inf))


def _gaussian_1d(sigma: float, dtype: torch.dtype) -> torch.Tensor:
    size = int(3.5 * sigma + 0.5) * 2 + 1  # torchmetrics' window: 11 taps for sigma = 1.5
    dist = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-0.5 * (dist / sigma) ** 2)
    return (g / g.sum()).to(dtype)


def _blur_matrix(window: torch.Tensor, n: int) -> torch.Tensor:
    """(n, n) matrix applying a 1-D window with reflect padding ('dcb|abcd|cba') along a side."""
    pad = (window.numel() - 1) // 2
    rows = torch.arange(n).repeat_interleave(window.numel())  # output index, once per tap
    cols = torch.arange(n).view(-1, 1) + torch.arange(-pad, pad + 1).view(1, -1)  # (n, taps)
    cols = cols.abs()  # reflect below 0
    cols = torch.where(cols > n - 1, 2 * (n - 1) - cols, cols).reshape(-1)  # reflect above n - 1
    matrix = torch.zeros(n, n, dtype=window.dtype)
    matrix.index_put_((rows, cols), window.repeat(n), accumulate=True)
    return matrix


def ssim(pred: torch.Tensor, target: torch.Tensor, *, data_range: float,
         per_image: bool = False, sigma: float = 1.5, k1: float = 0.01,
         k2: float = 0.03) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004) with torchmetrics' conventions; 1 = identical.

    pred, target: (B, C, H, W) or (C, H, W). Local statistics come from a Gaussian window
    (sigma 1.5, 11 x 11) applied with reflect padding, and the SSIM map is averaged over every
    pixel and channel; per_image=True returns shape (B,). The value lies in [-1, 1]: an inverted
    image scores below 0. Computed in float32 (float64 if the inputs are float64). data_range is
    checked against the images as in `psnr`; k1 and k2 must be > 0 (with 0, flat regions give
    0 / 0).

    >>> x = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> ssim(x, x, data_range=1.0).item()
    1.0
    """
    pred, target, data_range = validation.image_pair(pred, target, data_range)
    if pred.ndim == 3:
        pred, target = pred.unsqueeze(0), target.unsqueeze(0)
    if pred.ndim != 4:
        raise ValueError(f"pred and target: ssim expects (B, C, H, W) or (C, H, W) images, got "
                         f"shape {tuple(pred.shape)}.")
    dtype = torch.float64 if pred.dtype == torch.float64 else torch.float32
    pred, target = pred.to(dtype), target.to(dtype)
    window = _gaussian_1d(validation.positive_number(sigma, "sigma"), dtype)
    k1, k2 = validation.positive_number(k1, "k1"), validation.positive_number(k2, "k2")
    per_image = validation.flag(per_image, "per_image")
    pad = (window.numel() - 1) // 2
    b, c, h, w = pred.shape
    if min(h, w) <= pad:
        raise ValueError(f"pred and target: ssim needs images larger than {pad} pixels on each "
                         f"side for a sigma={sigma} window, got {h} x {w}.")
    # Variances are E[x^2] - E[x]^2, which cancels badly in float32 on bright images. Shifting both
    # images by one constant per image/channel leaves variances and covariance unchanged, so
    # subtract the target's mean first and add it back to the local means afterwards.
    shift = target.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
    x, y = pred - shift, target - shift
    stack = torch.cat([x, y, x * x, y * y, x * y]).reshape(5 * b * c, h, w)  # (5BC, H, W)
    # The Gaussian window is separable and reflect padding is linear, so the whole local mean is
    # K_h @ X @ K_w^T with banded (H, H) and (W, W) matrices: two matrix products, which run
    # about twice as fast as torchmetrics' grouped 11 x 11 convolution on a CPU.
    stack = _blur_matrix(window, h) @ stack @ _blur_matrix(window, w).T  # (5BC, H, W)
    mu_x, mu_y, e_xx, e_yy, e_xy = stack.reshape(5, b, c, h, w)
    var_x = (e_xx - mu_x * mu_x).clamp(min=0)
    var_y = (e_yy - mu_y * mu_y).clamp(min=0)
    cov = e_xy - mu_x * mu_y
    mu_x, mu_y = mu_x + shift, mu_y + shift
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))  # (B, C, H, W)
    per = ssim_map.flatten(1).mean(dim=1)  # (B,)
    return per if per_image else per.mean()


def _features(x: object, name: str) -> torch.Tensor:
    x = validation.float_tensor(x, name)
    if x.ndim != 2:
        raise ValueError(f"{name}: expected features of shape (N, D), got {tuple(x.shape)}. "
                         f"Flatten each sample's features first: x.reshape(len(x), -1).")
    if x.shape[1] == 0:
        raise ValueError(f"{name}: expected at least one feature per sample, got D = 0.")
    if x.shape[0] < 2:
        raise ValueError(f"{name}: expected at least 2 samples to estimate a covariance, got "
                         f"{x.shape[0]}. FID needs many (thousands for stable values).")
    validation.all_finite(x, name)
    return x


def _feature_pair(a: object, b: object, name_a: str, name_b: str
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Two feature sets (N_a, D) and (N_b, D) of one extractor: the same D."""
    a, b = _features(a, name_a), _features(b, name_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{name_a} has {a.shape[1]} dimensions and {name_b} {b.shape[1]}: "
                         f"both sets must come from the same extractor (same D).")
    return a, b


def gaussian_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), both float64.

    Two passes (centre, then multiply): the one-pass sum of outer products minus N mu mu^T loses
    digits when the mean is large compared with the spread.

    >>> mu, cov = gaussian_stats(torch.tensor([[0.0, 1.0], [2.0, 3.0]]))
    >>> mu.tolist(), cov.tolist()
    ([1.0, 2.0], [[2.0, 2.0], [2.0, 2.0]])
    """
    x = _features(features, "features").double()
    mu = x.mean(dim=0)
    centred = x - mu  # (N, D)
    return mu, centred.T @ centred / (x.shape[0] - 1)


def frechet_distance_from_stats(mu_a: torch.Tensor, sigma_a: torch.Tensor, mu_b: torch.Tensor,
                                sigma_b: torch.Tensor, *, eps: float = 0.0) -> torch.Tensor:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)), in float64.

    Tr((S_a S_b)^(1/2)) is computed as Tr((A S_b A)^(1/2)) with A = S_a^(1/2): the same
    eigenvalues, but A S_b A is symmetric positive semi-definite, so its eigenvalues are real and
    `eigvalsh` applies (scipy's sqrtm of the non-symmetric S_a S_b can return complex leftovers).
    Regularisation: eigenvalues that rounding pushes below zero are set to zero, i.e. each
    matrix is projected onto the positive semi-definite cone; this is what keeps a singular
    covariance (fewer samples than dimensions) finite and real; an eigenvalue clearly below
    zero (under -1e-4 times the largest) is no rounding, and is refused. `eps` > 0 additionally adds
    eps * I to both covariances, in the traces and in the square root alike. That is the same
    N(0, eps I) noise added to both Gaussians, which can only pull them together: the value never
    rises and falls by an amount that depends on the spectra, not a fixed 2 * eps * D (commuting
    case: each eigenpair's (sqrt(a) - sqrt(b))^2 becomes (sqrt(a + eps) - sqrt(b + eps))^2). On
    notebook 13's features (D = 112) eps = 1e-3 lowers 0.07626 by 0.00633 (8 %). pytorch-fid's
    fallback adds eps * I only inside the square root, which lowers its value by a further
    2 * eps * D. So eps is off by default. The result is clipped at 0: a distance is non-negative.

    >>> i = torch.eye(2, dtype=torch.float64)
    >>> frechet_distance_from_stats(torch.zeros(2), i, torch.ones(2), 4 * i).item()  # 2 + 2*(2-1)^2
    4.0
    """
    stats = {"mu_a": mu_a, "sigma_a": sigma_a, "mu_b": mu_b, "sigma_b": sigma_b}
    mu_a, sigma_a, mu_b, sigma_b = (validation.tensor(t, name).double() for name, t in stats.items())
    d = mu_a.numel()
    if d == 0:
        raise ValueError("mu_a: expected at least one feature dimension, got D = 0.")
    if mu_a.shape != (d,) or mu_b.shape != (d,) or sigma_a.shape != (d, d) or sigma_b.shape != (d, d):
        raise ValueError(f"mu_a, sigma_a, mu_b, sigma_b: expected means (D,) and covariances "
                         f"(D, D) with one D, got "
                         f"{tuple(mu_a.shape)}, {tuple(sigma_a.shape)}, {tuple(mu_b.shape)}, "
                         f"{tuple(sigma_b.shape)}.")
    for stat, name in [(mu_a, "mu_a"), (sigma_a, "sigma_a"), (mu_b, "mu_b"), (sigma_b, "sigma_b")]:
        validation.all_finite(stat, name)
    for cov, name in [(sigma_a, "sigma_a"), (sigma_b, "sigma_b")]:
        if not torch.allclose(cov, cov.T, rtol=1e-6, atol=1e-12 * float(cov.abs().max())):
            raise ValueError(f"{name}: expected a symmetric covariance matrix (D, D); it is not. "
                             f"Compute it with torch.cov or fl.gaussian_stats.")
    eps = validation.non_negative_number(eps, "eps")  # the offset added to both covariances
    if eps:
        eye = torch.eye(d, dtype=torch.float64)
        sigma_a, sigma_b = sigma_a + eps * eye, sigma_b + eps * eye
    evals, evecs = torch.linalg.eigh(sigma_a)
    validation.covariance_spectrum(evals, "sigma_a")
    root_a = (evecs * evals.clamp(min=0).sqrt()) @ evecs.T  # S_a^(1/2), (D, D)
    middle = root_a @ sigma_b @ root_a
    middle = (middle + middle.T) / 2  # exactly symmetric despite rounding
    middle_evals = torch.linalg.eigvalsh(middle)
    # With S_a positive semi-definite, A S_b A has a clearly negative eigenvalue only if S_b has
    # one (in the span of S_a); its diagonal catches the rest of the obvious mistakes for free.
    validation.covariance_spectrum(middle_evals, "sigma_b")
    validation.covariance_spectrum(sigma_b.diagonal(), "sigma_b")
    tr_sqrt = middle_evals.clamp(min=0).sqrt().sum()
    dist = (mu_a - mu_b).square().sum() + sigma_a.trace() + sigma_b.trace() - 2 * tr_sqrt
    return dist.clamp(min=0)


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor, *,
                     eps: float = 0.0) -> torch.Tensor:
    """Fréchet distance between Gaussians fitted to two feature sets (N_a, D) and (N_b, D).

    FID is this on Inception-v3 pool features of images; FVD on I3D features of video clips;
    here any extractor's features. Float64 throughout; see `frechet_distance_from_stats` for
    the square root and the regularisation of singular covariances. The value is biased upward
    for small N (two samples of one distribution give > 0), so compare values only at equal N.

    With fewer samples than dimensions (N_a or N_b < D, e.g. a few hundred Inception features of
    D = 2,048) and eps = 0 it never forms a D x D matrix: with X_a, X_b the centred features,
    Tr((S_a S_b)^(1/2)) is the sum of the singular values of X_a X_b^T (N_a x N_b) divided by
    sqrt((N_a - 1)(N_b - 1)), exactly; two D x D eigendecompositions would cost seconds and add
    the square roots of D - N rounding-level eigenvalues.

    >>> a = torch.randn(500, 3, generator=torch.Generator().manual_seed(0))
    >>> round(frechet_distance(a, a + 1.0).item(), 6)   # same covariance: ||(1, 1, 1)||^2
    3.0
    """
    a, b = _feature_pair(features_a, features_b, "features_a", "features_b")
    eps = validation.non_negative_number(eps, "eps")
    if eps == 0 and min(len(a), len(b)) < a.shape[1]:
        return _frechet_distance_low_rank(a.double(), b.double())
    return frechet_distance_from_stats(*gaussian_stats(a), *gaussian_stats(b), eps=eps)


class FIDInfinity(NamedTuple):
    """fid_infinity's result: the extrapolated value, the fitted slope, and the points fitted."""
    value: float  # the intercept at 1/N = 0: the Fréchet distance without its 1/N bias
    slope: float  # FID(N) ~ value + slope / N
    sizes: tuple[int, ...]  # the N drawn from each set
    fids: tuple[float, ...]  # the mean Fréchet distance over `draws` draws at each N


def fid_infinity(features_a: torch.Tensor, features_b: torch.Tensor, sizes: tuple[int, ...], *,
                 draws: int = 1, seed: int = 0) -> FIDInfinity:
    """FID extrapolated to infinitely many samples (FID-infinity, Chong and Forsyth 2020).

    The bias of the Fréchet distance falls like 1/N, so FID(N) = FID_inf + slope / N to first
    order: draw N rows from each set without replacement (`draws` times per N, torch.randperm
    on a generator seeded with `seed`), average, fit a straight line in 1/N by least squares, and
    read its intercept. The paper draws from 5,000 to 50,000 images; use sizes spread over a
    range where the line is straight (N above D, or the low-rank bias bends it). The value is not
    clipped: an intercept near or below 0 means no distance is resolved at these N.

    >>> g = torch.Generator().manual_seed(0)
    >>> a, b = torch.randn(4000, 16, generator=g), torch.randn(4000, 16, generator=g) + 0.25
    >>> fit = fid_infinity(a, b, (100, 200, 400, 800), draws=10)  # true distance 16 * 0.25^2 = 1
    >>> [round(f, 1) for f in fit.fids], round(fit.value, 1)   # biased at every N; not at 1/N = 0
    ([2.8, 1.8, 1.4, 1.3], 1.0)
    """
    a, b = _feature_pair(features_a, features_b, "features_a", "features_b")
    sizes = validation.positive_ints(sizes, "sizes")
    smallest = min(len(a), len(b))
    if len(set(sizes)) < 2 or not all(2 <= n <= smallest for n in sizes):
        raise ValueError(f"sizes: expected at least two different sample sizes from 2 to the "
                         f"smaller set's size ({smallest}), got {sizes}.")
    draws = validation.positive_int(draws, "draws")
    generator = validation.seeded_generator(seed)
    fids = []
    for n in sizes:
        runs = [frechet_distance(a[torch.randperm(len(a), generator=generator)[:n]],
                                 b[torch.randperm(len(b), generator=generator)[:n]])
                for _ in range(draws)]
        fids.append(torch.stack(runs).mean().item())
    inverse = torch.tensor([1.0 / n for n in sizes], dtype=torch.float64)  # the regressor, 1/N
    design = torch.stack([torch.ones_like(inverse), inverse], dim=1)  # (len(sizes), 2)
    coef = torch.linalg.lstsq(design, torch.tensor(fids, dtype=torch.float64)[:, None]).solution
    return FIDInfinity(coef[0, 0].item(), coef[1, 0].item(), sizes, tuple(fids))


def _frechet_distance_low_rank(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """frechet_distance through the N_a x N_b cross product: for S = X^T X / (N - 1),
    (S_a S_b)^(1/2) has the singular values of X_a X_b^T / sqrt((N_a - 1)(N_b - 1)) as its
    non-zero eigenvalues, so its trace is their sum (a nuclear norm)."""
    mu_a, mu_b = a.mean(dim=0), b.mean(dim=0)
    xa, xb = a - mu_a, b - mu_b  # (N_a, D), (N_b, D), centred
    na, nb = len(a) - 1, len(b) - 1
    tr_sqrt = torch.linalg.svdvals(xa @ xb.T).sum() / math.sqrt(na * nb)
    dist = (mu_a - mu_b).square().sum() + xa.square().sum() / na + xb.square().sum() / nb - 2 * tr_sqrt
    return dist.clamp(min=0)


def _unbiased_mmd2(x: torch.Tensor, y: torch.Tensor, degree: int, gamma: float,
                   coef: float) -> torch.Tensor:
    """Unbiased MMD^2 of two (m, D) samples under k(a, b) = (gamma a.b + coef)^degree."""
    m = x.shape[0]
    k_xx = (gamma * x @ x.T + coef) ** degree  # (m, m)
    k_yy = (gamma * y @ y.T + coef) ** degree
    k_xy = (gamma * x @ y.T + coef) ** degree
    # Within a sample the i = j terms k(x_i, x_i) would bias the estimate upward; drop them.
    within = (k_xx.sum() - k_xx.diagonal().sum() + k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return within - 2 * k_xy.sum() / m**2  # the cross term keeps all m^2 pairs, as torchmetrics


def kernel_inception_distance(features_real: torch.Tensor, features_fake: torch.Tensor, *,
                              subsets: int = 100, subset_size: int = 1000, degree: int = 3,
                              gamma: float | None = None, coef: float = 1.0,
                              seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """KID (Binkowski et al. 2018): the unbiased MMD^2 between two feature sets, (mean, std).

    features_real (N_r, D), features_fake (N_f, D). Each of `subsets` rounds draws subset_size
    rows from each set without replacement (torch.randperm on a generator seeded with `seed`,
    real first, then fake, as torchmetrics' KernelInceptionDistance draws them), and scores them
    with the polynomial kernel k(x, y) = (gamma x.y + coef)^degree, gamma = 1 / D by default.
    Returns the mean and the population std (torchmetrics' `std(unbiased=False)`) over subsets,
    float64 scalars. Unlike FID the estimator is unbiased: two samples of one distribution
    give values centred on 0, some of them negative, at any subset_size.

    >>> a = torch.randn(300, 8, generator=torch.Generator().manual_seed(0))
    >>> mean, std = kernel_inception_distance(a, a + 1.0, subsets=10, subset_size=100)
    >>> bool(mean > 5 * std)   # a shifted copy is far away; same-set values straddle 0
    True
    """
    real, fake = (x.double() for x in _feature_pair(features_real, features_fake,
                                                     "features_real", "features_fake"))
    subsets = validation.positive_int(subsets, "subsets")
    subset_size = validation.positive_int(subset_size, "subset_size")
    smallest = min(len(real), len(fake))
    if not 2 <= subset_size <= smallest:
        raise ValueError(f"subset_size: expected an int from 2 to the smaller set's size "
                         f"({smallest}), got {subset_size}. Pass subset_size={smallest} (or "
                         f"fewer) for these features.")
    degree = validation.positive_int(degree, "degree")
    gamma = 1.0 / real.shape[1] if gamma is None else validation.positive_number(gamma, "gamma")
    coef = validation.non_negative_number(coef, "coef")
    generator = validation.seeded_generator(seed)
    scores = torch.empty(subsets, dtype=torch.float64)
    for i in range(subsets):
        x = real[torch.randperm(len(real), generator=generator)[:subset_size]]  # (m, D)
        y = fake[torch.randperm(len(fake), generator=generator)[:subset_size]]
        scores[i] = _unbiased_mmd2(x, y, degree, gamma, coef)
    return scores.mean(), scores.std(correction=0)


def extract_features(extractor: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor,
                     *, batch_size: int = 256) -> torch.Tensor:
    """Run `extractor` over `inputs` in batches without gradients; return (N, D) float64.

    >>> extract_features(RandomConvFeatures(), torch.rand(5, 3, 16, 16)).shape
    torch.Size([5, 112])
    """
    if not callable(extractor):
        raise TypeError(f"extractor: expected a module or function mapping a batch to features, "
                        f"got {type(extractor).__name__}.")
    validation.tensor(inputs, "inputs")
    validation.positive_int(batch_size, "batch_size")
    if len(inputs) == 0:
        raise ValueError(f"inputs: expected at least one sample, got shape {tuple(inputs.shape)}.")
    with torch.no_grad():
        parts = [extractor(inputs[i:i + batch_size]) for i in range(0, len(inputs), batch_size)]
    return torch.cat(parts).reshape(len(inputs), -1).double()


def perceptual_distance(x: torch.Tensor, y: torch.Tensor,
                        extractor: RandomConvFeatures | None = None) -> torch.Tensor:
    """LPIPS-style distance: per stage, unit-normalise each pixel's channel vector, square the
    difference, sum over channels, average over pixels; then sum over stages. Shape (B,).

    This is LPIPS' formula with every learned channel weight set to 1 (the paper's untuned
    baseline) on `extractor`'s stages (default RandomConvFeatures(seed=0)). It is 0 for identical
    images and grows with feature-space difference; the values are not LPIPS values.

    >>> x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    >>> perceptual_distance(x, x).tolist()
    [0.0, 0.0]
    """
    x = validation.unit_images(x, "x")
    y = validation.unit_images(y, "y")
    validation.same_shape(x, y, "x", "y")
    net = extractor if extractor is not None else RandomConvFeatures(seed=0)
    if not hasattr(net, "stages"):
        raise TypeError(f"extractor: expected a net with .stages(images) -> list of feature maps, "
                        f"like fl.RandomConvFeatures, got {type(net).__name__}.")
    total = torch.zeros(x.shape[0], dtype=torch.float64)
    with torch.no_grad():
        for fx, fy in zip(net.stages(x), net.stages(y), strict=True):
            nx = fx / (fx.norm(dim=1, keepdim=True) + 1e-10)  # unit length along channels
            ny = fy / (fy.norm(dim=1, keepdim=True) + 1e-10)
            total += (nx - ny).square().sum(dim=1).mean(dim=(1, 2)).double()
    return total


# The resize filters of the FID implementations that clean-fid compares (Parmar et al. 2022).
INCEPTION_RESIZE = ("pil_bicubic", "bicubic", "bilinear")


def _pil_bicubic(x: torch.Tensor, size: int) -> torch.Tensor:
    """clean-fid's resize: PIL's bicubic filter on each channel as a float32 image ('F' mode).
    PIL widens the filter by the scale factor when it shrinks an image, so it antialiases."""
    import numpy as np
    from PIL import Image

    out = np.empty((x.shape[0], x.shape[1], size, size), dtype=np.float32)
    arr = x.numpy()
    for i in range(arr.shape[0]):
        for c in range(arr.shape[1]):
            img = Image.fromarray(np.ascontiguousarray(arr[i, c], dtype=np.float32))  # mode 'F'
            out[i, c] = np.asarray(img.resize((size, size), Image.Resampling.BICUBIC))
    return torch.from_numpy(out)


def inception_inputs(images: torch.Tensor, *, resize: str = "pil_bicubic", quantize: bool = True,
                     size: int = 299) -> torch.Tensor:
    """Images prepared for FID's Inception network: (N, 3, size, size) float32, (x - 128) / 128.

    images: (N, 3, H, W), float in [0, 1] (values outside are clipped, as saving a file would)
    or uint8 in 0..255. Steps, in clean-fid's order:
    1. quantize=True rounds float images to 0..255 integers first, as stored PNGs are
       (clean-fid's advice for generated images); False keeps the float values.
    2. resize to size x size with `resize`: "pil_bicubic" (clean-fid's "clean" mode, PIL's
       bicubic on float channels, antialiased when shrinking), "bicubic" or "bilinear"
       (torch.nn.functional.interpolate, align_corners=False, no antialiasing: the aliased
       resizes of pytorch-fid and clean-fid's "legacy_pytorch" mode). Clipped to [0, 255].
    3. scale to (x - 128) / 128, the TF graph's input convention.

    >>> x = inception_inputs(torch.zeros(2, 3, 32, 32), size=64)
    >>> tuple(x.shape), x.min().item()                   # black is (0 - 128) / 128
    ((2, 3, 64, 64), -1.0)
    """
    x = _pixels_0_255(images, resize, quantize)
    return _resize_and_scale(x, resize, validation.positive_int(size, "size"))


def _pixels_0_255(images: object, resize: object, quantize: object) -> torch.Tensor:
    """Validate inception_inputs' arguments; return the images as float32 0-255 values."""
    images = validation.tensor(images, "images")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images: expected (N, 3, H, W) RGB images, got shape {tuple(images.shape)}.")
    if images.shape[0] == 0:
        raise ValueError("images: expected at least one image, got an empty batch.")
    if resize not in INCEPTION_RESIZE:
        raise ValueError(f"resize: expected one of {INCEPTION_RESIZE}, got {resize!r}.")
    quantize = validation.flag(quantize, "quantize")
    if images.dtype == torch.uint8:
        return images.float()  # 0..255 already, and already quantised
    if not images.is_floating_point():
        raise TypeError(f"images: expected float images in [0, 1] or uint8 images in 0..255, "
                        f"got dtype {images.dtype}.")
    x = validation.unit_images(images, "images").float().clamp(0, 1) * 255
    return x.round() if quantize else x  # round: the uint8 values a PNG would store


def _resize_and_scale(x: torch.Tensor, resize: str, size: int) -> torch.Tensor:
    if resize == "pil_bicubic":
        x = _pil_bicubic(x, size)
    else:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode=resize,
                                            align_corners=False, antialias=False)
    return (x.clamp(0, 255) - 128) / 128  # (N, 3, size, size)


def inception_features(net: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, *,
                       resize: str = "pil_bicubic", quantize: bool = True, size: int = 299,
                       batch_size: int = 16) -> torch.Tensor:
    """Embed images with FID's Inception network: `inception_inputs` then `net`, batch by
    batch without gradients. Returns (N, D) float64 (D = 2,048 for the pool features).

    net: e.g. fl.load_fid_inception(), which takes (B, 3, 299, 299) scaled as (x - 128) / 128.
    The network runs in its own dtype (float32), so the features carry float32 rounding.

    >>> toy = lambda x: x.mean(dim=(2, 3))             # a stand-in "network": channel means
    >>> inception_features(toy, torch.ones(2, 3, 8, 8), size=16).shape
    torch.Size([2, 3])
    """
    if not callable(net):
        raise TypeError(f"net: expected a module mapping (B, 3, {size}, {size}) images to features "
                        f"(e.g. fl.load_fid_inception()), got {type(net).__name__}.")
    pixels = _pixels_0_255(images, resize, quantize)  # (N, 3, H, W) float32 in 0-255
    size = validation.positive_int(size, "size")
    # Resized batch by batch inside the one batching loop: 299 px copies of all N images at once
    # would cost N x 1 MB.
    return extract_features(lambda batch: net(_resize_and_scale(batch, resize, size)), pixels,
                            batch_size=batch_size)
