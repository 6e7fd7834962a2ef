"""Image metrics: PSNR, SSIM, the Fréchet distance behind FID/FVD, and an LPIPS-style distance.

    fl.psnr(pred, target, data_range=1.0)            # dB; inf for identical images
    fl.ssim(pred, target, data_range=1.0)            # in [-1, 1]; 1 for identical images
    fl.frechet_distance(features_real, features_gen) # FID when the features are image features
    fl.perceptual_distance(x, y, extractor)          # LPIPS-style, on any conv feature extractor

PSNR and SSIM follow torchmetrics' conventions exactly (pooled MSE over the batch; Gaussian
window 11 x 11, sigma 1.5, reflect padding, every pixel averaged), so a number from here and one
from `torchmetrics.image` agree. The Fréchet distance is computed in float64 by a symmetric
formulation that cannot produce complex numbers. No pretrained network can be downloaded in
this course, so the features come from `RandomConvFeatures`, a fixed seeded random conv net:
its values rank distortions sensibly but are NOT comparable to published FID or LPIPS numbers,
which are defined by Inception-v3 and AlexNet/VGG weights respectively.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from forge_lib import _checks

__all__ = [
    "psnr", "ssim", "gaussian_stats", "frechet_distance", "frechet_distance_from_stats",
    "RandomConvFeatures", "extract_features", "perceptual_distance",
    "load_sample_image", "add_gaussian_noise", "gaussian_blur", "jpeg_compress", "random_crops",
]


# ---------------------------------------------------------------------------------------------
# PSNR
# ---------------------------------------------------------------------------------------------

def psnr(pred: torch.Tensor, target: torch.Tensor, *, data_range: float,
         per_image: bool = False) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB: 10 log10(data_range^2 / MSE), computed in float64.

    pred, target: images of the same shape, e.g. (B, C, H, W). By default the MSE is pooled over
    every element (torchmetrics' default); `per_image=True` returns one PSNR per leading index,
    shape (B,). Identical images have MSE 0 and PSNR = +inf (returned, not an error).
    Integer images need an integer data_range (255 for uint8). A data_range that does not fit
    the images is refused: 0-255 images with data_range=1, and [0, 1] images with
    data_range=255 (the exact rule is in forge_lib._checks.image_pair).

    >>> x = torch.zeros(1, 1, 2, 2); y = x.clone(); y[0, 0, 0, 0] = 0.2
    >>> round(psnr(y, x, data_range=1.0).item(), 3)   # MSE = 0.01 -> 20 dB
    20.0
    """
    pred, target, data_range = _checks.image_pair(pred, target, data_range)
    diff = pred.double() - target.double()
    if _checks.flag(per_image, "per_image"):
        if diff.ndim < 2:
            raise ValueError(f"per_image=True needs a batch dimension, got shape {tuple(diff.shape)}.")
        mse = diff.square().flatten(1).mean(dim=1)  # (B,)
    else:
        mse = diff.square().mean()
    # MSE = 0 gives +inf by policy; torch.where keeps log10(0) warnings out of the way.
    safe = torch.where(mse > 0, mse, torch.ones_like(mse))
    return torch.where(mse > 0, 10 * torch.log10(data_range**2 / safe),
                       torch.full_like(mse, math.inf))


# ---------------------------------------------------------------------------------------------
# SSIM
# ---------------------------------------------------------------------------------------------

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
    pred, target, data_range = _checks.image_pair(pred, target, data_range)
    if pred.ndim == 3:
        pred, target = pred.unsqueeze(0), target.unsqueeze(0)
    if pred.ndim != 4:
        raise ValueError(f"pred and target: ssim expects (B, C, H, W) or (C, H, W) images, got "
                         f"shape {tuple(pred.shape)}.")
    dtype = torch.float64 if pred.dtype == torch.float64 else torch.float32
    pred, target = pred.to(dtype), target.to(dtype)
    window = _gaussian_1d(_checks.positive_number(sigma, "sigma"), dtype)
    k1, k2 = _checks.positive_number(k1, "k1"), _checks.positive_number(k2, "k2")
    per_image = _checks.flag(per_image, "per_image")
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


# ---------------------------------------------------------------------------------------------
# Fréchet distance (FID, FVD)
# ---------------------------------------------------------------------------------------------

def _features(x: object, name: str) -> torch.Tensor:
    x = _checks.float_tensor(x, name)
    if x.ndim != 2:
        raise ValueError(f"{name}: expected features of shape (N, D), got {tuple(x.shape)}. "
                         f"Flatten each sample's features first: x.reshape(len(x), -1).")
    if x.shape[1] == 0:
        raise ValueError(f"{name}: expected at least one feature per sample, got D = 0.")
    if x.shape[0] < 2:
        raise ValueError(f"{name}: expected at least 2 samples to estimate a covariance, got "
                         f"{x.shape[0]}. FID needs many (thousands for stable values).")
    _checks.all_finite(x, name)
    return x


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
    eps * I to both covariances (pytorch-fid's fallback offset); it biases the value by about
    2 * eps * D, so it is off by default. The result is clipped at 0: a distance is non-negative.

    >>> i = torch.eye(2, dtype=torch.float64)
    >>> frechet_distance_from_stats(torch.zeros(2), i, torch.ones(2), 4 * i).item()  # 2 + 2*(2-1)^2
    4.0
    """
    stats = {"mu_a": mu_a, "sigma_a": sigma_a, "mu_b": mu_b, "sigma_b": sigma_b}
    mu_a, sigma_a, mu_b, sigma_b = (_checks.tensor(t, name).double() for name, t in stats.items())
    d = mu_a.numel()
    if d == 0:
        raise ValueError("mu_a: expected at least one feature dimension, got D = 0.")
    if mu_a.shape != (d,) or mu_b.shape != (d,) or sigma_a.shape != (d, d) or sigma_b.shape != (d, d):
        raise ValueError(f"mu_a, sigma_a, mu_b, sigma_b: expected means (D,) and covariances "
                         f"(D, D) with one D, got "
                         f"{tuple(mu_a.shape)}, {tuple(sigma_a.shape)}, {tuple(mu_b.shape)}, "
                         f"{tuple(sigma_b.shape)}.")
    for stat, name in [(mu_a, "mu_a"), (sigma_a, "sigma_a"), (mu_b, "mu_b"), (sigma_b, "sigma_b")]:
        _checks.all_finite(stat, name)
    for cov, name in [(sigma_a, "sigma_a"), (sigma_b, "sigma_b")]:
        if not torch.allclose(cov, cov.T, rtol=1e-6, atol=1e-12 * float(cov.abs().max())):
            raise ValueError(f"{name}: expected a symmetric covariance matrix (D, D); it is not. "
                             f"Compute it with torch.cov or fl.gaussian_stats.")
    eps = _checks.non_negative_number(eps, "eps")  # the offset added to both covariances
    if eps:
        eye = torch.eye(d, dtype=torch.float64)
        sigma_a, sigma_b = sigma_a + eps * eye, sigma_b + eps * eye
    evals, evecs = torch.linalg.eigh(sigma_a)
    _checks.covariance_spectrum(evals, "sigma_a")
    root_a = (evecs * evals.clamp(min=0).sqrt()) @ evecs.T  # S_a^(1/2), (D, D)
    middle = root_a @ sigma_b @ root_a
    middle = (middle + middle.T) / 2  # exactly symmetric despite rounding
    middle_evals = torch.linalg.eigvalsh(middle)
    # With S_a positive semi-definite, A S_b A has a clearly negative eigenvalue only if S_b has
    # one (in the span of S_a); its diagonal catches the rest of the obvious mistakes for free.
    _checks.covariance_spectrum(middle_evals, "sigma_b")
    _checks.covariance_spectrum(sigma_b.diagonal(), "sigma_b")
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

    >>> a = torch.randn(500, 3, generator=torch.Generator().manual_seed(0))
    >>> round(frechet_distance(a, a + 1.0).item(), 6)   # same covariance: ||(1, 1, 1)||^2
    3.0
    """
    a = _features(features_a, "features_a")
    b = _features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"features_a has {a.shape[1]} dimensions and features_b {b.shape[1]}: "
                         f"both sets must come from the same extractor (same D).")
    return frechet_distance_from_stats(*gaussian_stats(a), *gaussian_stats(b), eps=eps)


# ---------------------------------------------------------------------------------------------
# A small offline feature extractor and an LPIPS-style distance
# ---------------------------------------------------------------------------------------------

class RandomConvFeatures(nn.Module):
    """A fixed, seeded, untrained conv net: the offline stand-in for Inception (FID) and VGG (LPIPS).

    Three stages of 3 x 3 conv (stride 2) + ReLU, with He-normal weights drawn from
    torch.Generator(seed), zero biases. `stages(x)` returns every stage's map (for LPIPS-style
    distances); `forward(x)` returns the spatial mean of every stage, concatenated: (B, D) with
    D = sum(widths) = `num_features` (the attribute torchmetrics' FID reads).

    Trade-offs, candidly: random features are deterministic, need no download and no training,
    and already separate noise, blur and compression (they respond to local frequency content).
    But they carry no semantics (a dog and a cat that share textures look alike), and their
    scale is arbitrary, so the numbers they give are comparable only with themselves.

    >>> net = RandomConvFeatures(seed=0)
    >>> net(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 112])
    """

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64), *, seed: int = 0,
                 in_channels: int = 3) -> None:
        super().__init__()
        widths = _checks.positive_ints(widths, "widths")
        self.in_channels = _checks.positive_int(in_channels, "in_channels")
        gen = torch.Generator().manual_seed(_checks.integer(seed, "seed"))
        self.convs = nn.ModuleList()
        for c_in, c_out in zip((in_channels, *widths[:-1]), widths, strict=True):
            conv = nn.utils.skip_init(nn.Conv2d, c_in, c_out, 3, stride=2, padding=1)
            # skip_init + our own generator: building the net leaves the global RNG untouched
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen)
                                  * math.sqrt(2.0 / (c_in * 9)))
                conv.bias.zero_()
            self.convs.append(conv)
        self.num_features = sum(widths)
        self.requires_grad_(False)
        self.eval()

    def stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps of every stage for images (B, C, H, W) in [0, 1]."""
        x = _checks.float_tensor(x, "images")
        if x.ndim != 4:
            raise ValueError(f"images: expected (B, C, H, W), got {tuple(x.shape)}.")
        _checks.channels(x, self.in_channels, "images", dim=1)
        _checks.unit_images(x, "images")
        h = x.float() * 2 - 1  # centre [0, 1] pixels so ReLUs see both signs
        maps = []
        for conv in self.convs:
            h = F.relu(conv(h))  # (B, C_l, H / 2^l, W / 2^l)
            maps.append(h)
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([m.mean(dim=(2, 3)) for m in self.stages(x)], dim=1)  # (B, D)


def extract_features(extractor: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor,
                     *, batch_size: int = 256) -> torch.Tensor:
    """Run `extractor` over `inputs` in batches without gradients; return (N, D) float64.

    >>> extract_features(RandomConvFeatures(), torch.rand(5, 3, 16, 16)).shape
    torch.Size([5, 112])
    """
    if not callable(extractor):
        raise TypeError(f"extractor: expected a module or function mapping a batch to features, "
                        f"got {type(extractor).__name__}.")
    _checks.tensor(inputs, "inputs")
    _checks.positive_int(batch_size, "batch_size")
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
    x = _checks.unit_images(x, "x")
    y = _checks.unit_images(y, "y")
    _checks.same_shape(x, y, "x", "y")
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


# ---------------------------------------------------------------------------------------------
# Images and distortions for the notebooks (all offline)
# ---------------------------------------------------------------------------------------------

def load_sample_image(name: str = "grace_hopper.jpg", *, size: int | None = 256) -> torch.Tensor:
    """One of matplotlib's bundled sample photographs as (3, H, W) float32 in [0, 1].

    With `size`, the image is resized (shorter side) and centre-cropped to size x size.
    Nothing is downloaded: the files ship with matplotlib.

    >>> load_sample_image(size=64).shape
    torch.Size([3, 64, 64])
    """
    import matplotlib
    import numpy as np
    from matplotlib import cbook
    from PIL import Image

    if size is not None:
        _checks.positive_int(size, "size")
    folder = Path(matplotlib.get_data_path()) / "sample_data"
    photos = sorted(p.name for p in folder.glob("*") if p.suffix in (".jpg", ".png"))
    if not isinstance(name, str):
        raise TypeError(f"name: expected a file name such as 'grace_hopper.jpg', got "
                        f"{type(name).__name__}.")
    if name not in photos:
        raise ValueError(f"name: expected one of matplotlib's sample images {photos}, got "
                         f"{name!r}.")
    with cbook.get_sample_data(name) as f:
        img = Image.open(f).convert("RGB")
        if size is not None:
            w, h = img.size
            scale = size / min(w, h)
            img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))),
                             Image.Resampling.BICUBIC)
            w, h = img.size
            left, top = (w - size) // 2, (h - size) // 2
            img = img.crop((left, top, left + size, top + size))
        arr = np.asarray(img, dtype=np.float32) / 255.0  # (H, W, 3)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()


def add_gaussian_noise(images: torch.Tensor, std: float, *, seed: int = 0) -> torch.Tensor:
    """Add N(0, std^2) noise and clip to [0, 1].

    >>> add_gaussian_noise(torch.zeros(1, 4, 4), 0.0).sum().item()
    0.0
    """
    images = _checks.unit_images(images, "images")  # the result is clipped to [0, 1]
    std = _checks.non_negative_number(std, "std")
    gen = torch.Generator().manual_seed(_checks.integer(seed, "seed"))
    noise = torch.randn(images.shape, generator=gen, dtype=images.dtype)
    return (images + std * noise).clamp(0, 1)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur (reflect padding) of (C, H, W) or (B, C, H, W) images.

    >>> round(gaussian_blur(torch.ones(3, 8, 8), 1.0).mean().item(), 6)
    1.0
    """
    images = _checks.float_tensor(images, "images")
    if images.ndim not in (3, 4):
        raise ValueError(f"images: expected (C, H, W) or (B, C, H, W), got {tuple(images.shape)}.")
    if _checks.non_negative_number(sigma, "sigma") == 0:
        return images.clone()
    squeeze = images.ndim == 3
    x = images.unsqueeze(0) if squeeze else images
    b, c, h, w = x.shape
    radius = max(1, math.ceil(3 * sigma))
    if radius >= min(h, w):  # reflect padding needs the image to be wider than the kernel's reach
        raise ValueError(f"sigma: a blur of sigma={sigma} reaches {radius} pixels, more than this "
                         f"{h} x {w} image allows; use sigma < {min(h, w) / 3:.3g}.")
    dist = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (dist / sigma) ** 2)
    k = (k / k.sum()).to(x.dtype)
    flat = F.pad(x.reshape(b * c, 1, h, w), (radius,) * 4, mode="reflect")
    flat = F.conv2d(F.conv2d(flat, k.view(1, 1, 1, -1)), k.view(1, 1, -1, 1))
    out = flat.reshape(b, c, h, w)
    return out[0] if squeeze else out


def jpeg_compress(image: torch.Tensor, quality: int) -> torch.Tensor:
    """JPEG-encode and decode a (3, H, W) [0, 1] image in memory with PIL at `quality` (1-95).

    >>> jpeg_compress(torch.full((3, 16, 16), 0.5), 75).shape
    torch.Size([3, 16, 16])
    """
    import numpy as np
    from PIL import Image

    image = _checks.unit_images(image, "image")
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"image: expected (3, H, W), got {tuple(image.shape)}.")
    if not 1 <= _checks.positive_int(quality, "quality") <= 95:
        raise ValueError(f"quality: expected an int from 1 (worst) to 95 (best; PIL advises "
                         f"against more), got {quality}.")
    arr = (image.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(arr).save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    decoded = np.asarray(Image.open(buffer).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(decoded.copy()).permute(2, 0, 1).contiguous()


def random_crops(image: torch.Tensor, n: int, size: int, *, seed: int = 0) -> torch.Tensor:
    """n random size x size crops of a (C, H, W) image: (n, C, size, size). A cheap 'data set'.

    >>> random_crops(torch.rand(3, 40, 40), 4, 16).shape
    torch.Size([4, 3, 16, 16])
    """
    image = _checks.float_tensor(image, "image")
    if image.ndim != 3:
        raise ValueError(f"image: expected one image (C, H, W), got {tuple(image.shape)}.")
    _checks.positive_int(n, "n")
    _checks.positive_int(size, "size")
    c, h, w = image.shape
    if size > min(h, w):
        raise ValueError(f"size: expected at most {min(h, w)} for a {h} x {w} image, got {size}.")
    gen = torch.Generator().manual_seed(_checks.integer(seed, "seed"))
    tops = torch.randint(0, h - size + 1, (n,), generator=gen)
    lefts = torch.randint(0, w - size + 1, (n,), generator=gen)
    return torch.stack([image[:, t:t + size, s:s + size] for t, s in
                        zip(tops.tolist(), lefts.tolist(), strict=True)])
