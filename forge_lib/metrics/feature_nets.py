"""Seeded random conv nets: the offline stand-ins for Inception and VGG (images) and I3D (video).

    fl.RandomConvFeatures(seed=0)(images)            # (B, 112): FID-style features; .stages for LPIPS
    fl.RandomVideoFeatures(seed=0)(videos)           # (N, 224): FVD-style clip features

No pretrained network can be downloaded in this course. Random features rank distortions
sensibly but are NOT comparable to published FID, LPIPS or FVD numbers, which are defined by
Inception-v3, AlexNet/VGG and I3D weights (FVD: I3D trained on Kinetics-400, 16-frame clips at
224 x 224; Unterthiner et al. 2018). Both nets are built by one function, so their
initialisation (He-normal from a torch.Generator, zero biases, frozen, eval mode) is one rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from forge_lib.metrics import validation

__all__ = ["RandomConvFeatures", "RandomVideoFeatures"]


def _random_convs(conv: type[nn.Module], widths: object, in_channels: int, seed: object, *,
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
        self.in_channels = validation.positive_int(in_channels, "in_channels")
        self.convs = _random_convs(nn.Conv2d, widths, in_channels, seed, strides=lambda i: 2)
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


class RandomVideoFeatures(nn.Module):
    """A fixed, seeded, untrained 3-D conv net: the offline stand-in for I3D in FVD.

    Three stages of 3 x 3 x 3 conv + ReLU (stride 1 in time and 2 in space for the first, 2 in
    both afterwards), He-normal weights from torch.Generator(seed). Input: videos
    (N, T, C, H, W) in [0, 1]; output (N, D): each stage's mean and standard deviation over
    time and space, concatenated, D = 2 * sum(widths) = `num_features`.

    motion_only=True (the default) makes every first-layer kernel sum to zero along time, so
    in the interior frames the first layer responds only to what changes between frames (a
    random "motion energy" net). A static clip still gives features: the zero padding in time
    (mid-grey, as the input is centred) makes the first and last frames look like a change, so
    those borders respond (feature norm about 0.36 for a static 16-frame clip of notebook 14,
    1.58 for the moving one; measured there). With False,
    the kernels are plain random 3-D kernels, whose features are dominated by frame content
    and barely move when frames are shuffled; notebook 14 measures both. Values are
    comparable only with the same extractor, clip length and resolution.

    >>> RandomVideoFeatures()(torch.rand(2, 8, 3, 32, 32)).shape
    torch.Size([2, 224])
    """

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64), *, seed: int = 0,
                 in_channels: int = 3, motion_only: bool = True) -> None:
        super().__init__()
        self.in_channels = validation.positive_int(in_channels, "in_channels")
        # stride 1 in time at first: a short clip keeps its frames for the later stages
        self.convs = _random_convs(nn.Conv3d, widths, in_channels, seed,
                                   strides=lambda i: (1, 2, 2) if i == 0 else (2, 2, 2))
        if motion_only:  # zero temporal mean: no response to static content, except at the
            # first and last frame, where the zero padding in time is a change
            with torch.no_grad():
                first = self.convs[0].weight
                first.sub_(first.mean(dim=2, keepdim=True))
        self.num_features = 2 * sum(c.out_channels for c in self.convs)
        self.requires_grad_(False)
        self.eval()

    def forward(self, videos: torch.Tensor) -> torch.Tensor:
        videos = validation.float_tensor(videos, "videos")
        if videos.ndim != 5:
            raise ValueError(f"videos: expected (N, T, C, H, W), got {tuple(videos.shape)}.")
        validation.channels(videos, self.in_channels, "videos", dim=2)
        validation.unit_images(videos, "videos")
        h = videos.float().permute(0, 2, 1, 3, 4) * 2 - 1  # (N, C, T, H, W), centred
        pooled = []
        for conv in self.convs:
            h = F.relu(conv(h))
            pooled += [h.mean(dim=(2, 3, 4)), h.std(dim=(2, 3, 4))]
        return torch.cat(pooled, dim=1)  # (N, D)
