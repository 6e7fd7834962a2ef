"""A seeded random conv net: the default extractor of fl.perceptual_distance and fl.frame_features.

    fl.RandomConvFeatures(seed=0)(images)            # (B, 112): one vector per image
    fl.RandomConvFeatures(seed=0).stages(images)     # every stage's map, for LPIPS-style distances

It is here, in metrics/, because those two metrics build it when no extractor is passed: a
metric never imports the course. Random features rank distortions sensibly but are NOT
comparable to published FID or LPIPS numbers, which are defined by Inception-v3 and
AlexNet/VGG weights; for a real FID pass FID's Inception (fl.inception_features). `random_convs`
is the one initialisation rule (He-normal from a torch.Generator, zero biases, frozen) that the
course's video net (forge_lib/course/video_features.py) shares.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from forge_lib.metrics import validation

__all__ = ["RandomConvFeatures"]


def random_convs(conv: type[nn.Module], widths: object, in_channels: int, seed: object, *,
                  strides: Callable[[int], int | tuple[int, ...]]) -> nn.ModuleList:
    """The one initialisation of both nets: 3-wide kernels, He-normal weights drawn from a
    generator seeded with `seed`, zero biases, frozen. skip_init plus our own generator: building
    a net leaves the global RNG untouched, so it changes no other result."""
    widths = validation.positive_ints(widths, "widths")
    generator = validation.seeded_generator(seed)
    convs = nn.ModuleList()
    for i, (c_in, c_out) in enumerate(zip((in_channels, *widths[:-1]), widths, strict=True)):
        layer = nn.utils.skip_init(conv, c_in, c_out, 3, stride=strides(i), padding=1)
        fan_in = layer.weight[0].numel()  # c_in x 3 x 3 (x 3)
        with torch.no_grad():
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator)
                               * math.sqrt(2.0 / fan_in))
            layer.bias.zero_()
        convs.append(layer)
    return convs.requires_grad_(False)


class RandomConvFeatures(nn.Module):
    """A fixed, seeded, untrained conv net: features for FID- and LPIPS-style comparisons offline.

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
        self.in_channels = validation.positive_int(in_channels, "in_channels")
        self.convs = random_convs(nn.Conv2d, widths, in_channels, seed, strides=lambda i: 2)
        self.num_features = sum(c.out_channels for c in self.convs)
        self.requires_grad_(False)
        self.eval()

    def stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps of every stage for images (B, C, H, W) in [0, 1]."""
        x = validation.float_tensor(x, "images")
        if x.ndim != 4:
            raise ValueError(f"images: expected (B, C, H, W), got {tuple(x.shape)}.")
        validation.channels(x, self.in_channels, "images", dim=1)
        validation.unit_images(x, "images")
        h = x.float() * 2 - 1  # centre [0, 1] pixels so ReLUs see both signs
        maps = []
        for conv in self.convs:
            h = F.relu(conv(h))  # (B, C_l, H / 2^l, W / 2^l)
            maps.append(h)
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([m.mean(dim=(2, 3)) for m in self.stages(x)], dim=1)  # (B, D)
