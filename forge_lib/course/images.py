"""The course's images: matplotlib's bundled sample photographs and the distortions notebook 13
scores with them.

    photo = fl.load_sample_image(size=64)            # (3, H, W) float32 in [0, 1]
    fl.add_gaussian_noise(photo, 0.1, seed=0); fl.gaussian_blur(photo, 1.5)
    fl.jpeg_compress(photo, quality=20); fl.random_crops(...)

Nothing is downloaded: the photographs ship with matplotlib, the noise has fixed seeds.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import torch
import torch.nn.functional as F

from forge_lib.metrics import validation

__all__ = ["load_sample_image", "add_gaussian_noise", "gaussian_blur", "jpeg_compress", "random_crops"]


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
        validation.positive_int(size, "size")
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
    images = validation.unit_images(images, "images")  # the result is clipped to [0, 1]
    std = validation.non_negative_number(std, "std")
    gen = torch.Generator().manual_seed(validation.integer(seed, "seed"))
    noise = torch.randn(images.shape, generator=gen, dtype=images.dtype)
    return (images + std * noise).clamp(0, 1)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur (reflect padding) of (C, H, W) or (B, C, H, W) images.

    >>> round(gaussian_blur(torch.ones(3, 8, 8), 1.0).mean().item(), 6)
    1.0
    """
    images = validation.float_tensor(images, "images")
    if images.ndim not in (3, 4):
        raise ValueError(f"images: expected (C, H, W) or (B, C, H, W), got {tuple(images.shape)}.")
    if validation.non_negative_number(sigma, "sigma") == 0:
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

    image = validation.unit_images(image, "image")
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"image: expected (3, H, W), got {tuple(image.shape)}.")
    if not 1 <= validation.positive_int(quality, "quality") <= 95:
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
    image = validation.float_tensor(image, "image")
    if image.ndim != 3:
        raise ValueError(f"image: expected one image (C, H, W), got {tuple(image.shape)}.")
    validation.positive_int(n, "n")
    validation.positive_int(size, "size")
    c, h, w = image.shape
    if size > min(h, w):
        raise ValueError(f"size: expected at most {min(h, w)} for a {h} x {w} image, got {size}.")
    gen = torch.Generator().manual_seed(validation.integer(seed, "seed"))
    tops = torch.randint(0, h - size + 1, (n,), generator=gen)
    lefts = torch.randint(0, w - size + 1, (n,), generator=gen)
    return torch.stack([image[:, t:t + size, s:s + size] for t, s in
                        zip(tops.tolist(), lefts.tolist(), strict=True)])
