"""The course's offline stand-in for I3D in FVD: a seeded random 3-D conv net.

    fl.RandomVideoFeatures(seed=0)(videos)           # (N, 224): FVD-style clip features

Published FVD (Unterthiner et al. 2018) uses I3D trained on Kinetics-400, on 16-frame clips at
224 x 224; no such network installs offline, so notebooks 14 and 15 use this one, whose numbers
are comparable only with themselves. A practitioner passes real I3D features to
fl.frechet_distance instead, which is why this lives in course/ and not in metrics/. It shares
the image net's initialisation rule (forge_lib.metrics.feature_nets.random_convs).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from forge_lib.metrics import validation
from forge_lib.metrics.feature_nets import random_convs

__all__ = ["RandomVideoFeatures"]


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
        self.convs = random_convs(nn.Conv3d, widths, in_channels, seed,
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
        for stage, conv in enumerate(self.convs):
            h = F.relu(conv(h))  # (N, C_l, T_l, H_l, W_l)
            if h[0, 0].numel() < 2:  # the std of one position is 0 / 0: NaN, with only a warning
                raise ValueError(f"videos: expected clips large enough for every stage, got "
                                 f"clips of shape {tuple(videos.shape[1:])}, too small for this "
                                 f"net: stage {stage} keeps one position {tuple(h.shape[2:])}, "
                                 f"whose standard deviation is undefined. Use more frames or "
                                 f"larger frames (e.g. 4 frames of 16 x 16).")
            pooled += [h.mean(dim=(2, 3, 4)), h.std(dim=(2, 3, 4))]
        return torch.cat(pooled, dim=1)  # (N, D)
