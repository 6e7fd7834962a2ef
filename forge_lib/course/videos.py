"""The course's videos: synthetic videos with known motion, and temporal corruptions.

    video = fl.moving_shapes_video(n_frames=16, size=32, seed=0)   # frames, flows, valid
    fl.shuffle_frames(video.frames, seed=1)                         # each frame perfect, order not

Layout and flow conventions are those of forge_lib/metrics/video.py: a video is (T, C, H, W)
with values in [0, 1]; flows are backward flows in pixels, (T-1, 2, H, W).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from forge_lib.metrics import validation
from forge_lib.metrics.video import _video

__all__ = ["SyntheticVideo", "moving_shapes_video", "moving_shapes_dataset", "shuffle_frames",
           "temporal_jitter", "flicker", "freeze_frames"]


class SyntheticVideo(NamedTuple):
    frames: torch.Tensor  # (T, 3, H, W) in [0, 1]
    flows: torch.Tensor   # (T-1, 2, H, W) backward flow in pixels: frame t+1 -> frame t
    valid: torch.Tensor   # (T-1, 1, H, W) bool: False where a pixel of frame t+1 was hidden in t


def _texture(size: int, gen: torch.Generator, scale: int) -> torch.Tensor:
    """Smooth random colour texture (3, size, size): coarse noise, upsampled."""
    coarse = torch.rand(1, 3, scale, scale, generator=gen)
    return F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=True)[0]


def _render(n_frames: int, size: int, n_shapes: int, seed: int
            ) -> tuple[torch.Tensor, list[torch.Tensor], list[list[torch.Tensor]]]:
    """Draw the clip; return frames (T, 3, H, W), per-frame object-id maps and shape positions."""
    validation.positive_int(n_frames, "n_frames")
    validation.positive_int(size, "size")
    if n_frames < 2 or size < 16:
        raise ValueError(f"expected n_frames >= 2 and size >= 16, got {n_frames} and {size}.")
    validation.non_negative_int(n_shapes, "n_shapes")
    gen = torch.Generator().manual_seed(validation.integer(seed, "seed"))
    background = 0.25 + 0.5 * _texture(size, gen, 6)
    shapes = []
    for _ in range(n_shapes):
        half = int(torch.randint(size // 10 + 2, size // 5 + 3, (1,), generator=gen))
        side = 2 * half + 1  # odd, so the shape has a centre pixel
        yy, xx = torch.meshgrid(torch.arange(side) - half, torch.arange(side) - half, indexing="ij")
        disc = bool(torch.rand(1, generator=gen) < 0.5)
        mask = (yy**2 + xx**2 <= half**2) if disc else torch.ones(side, side, dtype=torch.bool)
        colour = torch.rand(3, 1, 1, generator=gen)
        stripes = 0.5 + 0.5 * torch.cos(2 * math.pi * (xx + yy).float() / 5)  # moves with the shape
        texture = (0.6 * colour + 0.4 * stripes).clamp(0, 1)  # (3, side, side)
        pos = torch.randint(0, size - side + 1, (2,), generator=gen)  # top-left (y, x)
        vel = torch.randint(1, 3, (2,), generator=gen) * (torch.randint(0, 2, (2,), generator=gen)
                                                          * 2 - 1)
        shapes.append({"side": side, "mask": mask, "texture": texture, "pos": pos, "vel": vel})

    frames, ids, positions = [], [], []
    for _ in range(n_frames):
        frame, id_map = background.clone(), torch.zeros(size, size, dtype=torch.long)
        for k, s in enumerate(shapes, start=1):
            y, x, side = int(s["pos"][0]), int(s["pos"][1]), s["side"]
            region = frame[:, y:y + side, x:x + side]
            region[:, s["mask"]] = s["texture"][:, s["mask"]]
            id_map[y:y + side, x:x + side][s["mask"]] = k
        frames.append(frame)
        ids.append(id_map)
        positions.append([s["pos"].clone() for s in shapes])
        for s in shapes:  # move, bouncing off the borders
            nxt = s["pos"] + s["vel"]
            for d in range(2):
                if nxt[d] < 0 or nxt[d] > size - s["side"]:
                    s["vel"][d] = -s["vel"][d]
            s["pos"] = s["pos"] + s["vel"]

    return torch.stack(frames), ids, positions


def moving_shapes_video(n_frames: int = 16, size: int = 32, *, n_shapes: int = 3,
                        seed: int = 0) -> SyntheticVideo:
    """Textured squares and discs moving at integer velocities over a static textured background.

    Shapes bounce off the borders; later shapes are drawn on top. Because motion is an integer
    number of pixels per frame and each shape carries its texture with it, warping frame t with
    the returned flow reproduces frame t+1 exactly wherever `valid` is True (pixels that were
    hidden behind another shape, or under a shape that moved away, are marked invalid).

    >>> v = moving_shapes_video(n_frames=4, size=24, seed=0)
    >>> v.frames.shape, v.flows.shape, v.valid.shape
    (torch.Size([4, 3, 24, 24]), torch.Size([3, 2, 24, 24]), torch.Size([3, 1, 24, 24]))
    """
    frames, ids, positions = _render(n_frames, size, n_shapes, seed)
    flows, valid = [], []
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    for t in range(n_frames - 1):
        flow = torch.zeros(2, size, size)
        for k in range(1, n_shapes + 1):
            here = ids[t + 1] == k
            dy, dx = (positions[t][k - 1] - positions[t + 1][k - 1]).tolist()  # back to frame t
            flow[0][here], flow[1][here] = float(dx), float(dy)
        src_x, src_y = xs + flow[0].long(), ys + flow[1].long()
        inside = (src_x >= 0) & (src_x < size) & (src_y >= 0) & (src_y < size)
        same = torch.zeros_like(inside)
        same[inside] = ids[t][src_y[inside], src_x[inside]] == ids[t + 1][inside]
        flows.append(flow)
        valid.append(same.unsqueeze(0))
    return SyntheticVideo(frames, torch.stack(flows), torch.stack(valid))


def moving_shapes_dataset(n_videos: int, n_frames: int = 16, size: int = 32, *,
                          seed: int = 0) -> torch.Tensor:
    """n_videos clean videos (N, T, 3, H, W); video i uses seed `seed * 100_003 + i`.

    >>> moving_shapes_dataset(2, 4, 16).shape
    torch.Size([2, 4, 3, 16, 16])
    """
    validation.positive_int(n_videos, "n_videos")
    # Same clips as moving_shapes_video(..., seed=seed * 100_003 + i), without computing flows.
    return torch.stack([_render(n_frames, size, 3, seed * 100_003 + i)[0]
                        for i in range(n_videos)])


def _reindex(frames: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return frames.index_select(frames.ndim - 4, index)


def shuffle_frames(frames: torch.Tensor, *, seed: int = 0) -> torch.Tensor:
    """Random order of the same frames (never the identity order).

    >>> v = torch.arange(4.0).view(4, 1, 1, 1) / 8    # frame t has brightness t / 8
    >>> [8 * x for x in sorted(shuffle_frames(v).flatten().tolist())]
    [0.0, 1.0, 2.0, 3.0]
    """
    frames = _video(frames)
    t = frames.shape[-4]
    gen = validation.seeded_generator(seed)
    perm = torch.randperm(t, generator=gen)
    while bool((perm == torch.arange(t)).all()):
        perm = torch.randperm(t, generator=gen)
    return _reindex(frames, perm)


def temporal_jitter(frames: torch.Tensor, *, max_shift: int = 1, seed: int = 0) -> torch.Tensor:
    """Frame t shows frame t + d, d uniform in [-max_shift, max_shift]: stutters and reversals.

    >>> v = torch.arange(5.0).view(5, 1, 1, 1) / 8    # frame t has brightness t / 8
    >>> (8 * temporal_jitter(v, seed=0)).flatten().tolist()
    [1.0, 0.0, 3.0, 2.0, 4.0]
    """
    frames = _video(frames)
    validation.non_negative_int(max_shift, "max_shift")
    t = frames.shape[-4]
    gen = validation.seeded_generator(seed)
    shift = torch.randint(-max_shift, max_shift + 1, (t,), generator=gen)
    return _reindex(frames, (torch.arange(t) + shift).clamp(0, t - 1))


def flicker(frames: torch.Tensor, *, amplitude: float = 0.15, seed: int = 0) -> torch.Tensor:
    """Add a random brightness offset in [-amplitude, amplitude] to each frame, clip to [0, 1].

    >>> flicker(torch.full((3, 1, 2, 2), 0.5), amplitude=0.0).unique().tolist()
    [0.5]
    """
    frames = _video(frames)  # in [0, 1], as the result is clipped to [0, 1]
    amplitude = validation.non_negative_number(amplitude, "amplitude")
    gen = validation.seeded_generator(seed)
    shape = [1] * frames.ndim
    shape[-4] = frames.shape[-4]
    offset = (torch.rand(shape, generator=gen, dtype=frames.dtype) * 2 - 1) * amplitude
    return (frames + offset).clamp(0, 1)


def freeze_frames(frames: torch.Tensor, *, hold: int = 4) -> torch.Tensor:
    """Show every `hold`-th frame `hold` times (a stuck decoder, or a model that stopped moving).

    >>> v = torch.arange(6.0).view(6, 1, 1, 1) / 8    # frame t has brightness t / 8
    >>> (8 * freeze_frames(v, hold=3)).flatten().tolist()
    [0.0, 0.0, 0.0, 3.0, 3.0, 3.0]
    """
    frames = _video(frames)
    validation.positive_int(hold, "hold")
    t = frames.shape[-4]
    return _reindex(frames, torch.arange(t) // hold * hold)
