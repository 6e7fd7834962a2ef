"""Video metrics: synthetic videos with known motion, temporal corruptions, temporal consistency.

    video = fl.moving_shapes_video(n_frames=16, size=32, seed=0)   # frames, flows, valid
    fl.flow_warping_error(video.frames, video.flows, mask=video.valid)  # 0 for the clean video
    fl.temporal_cosine_similarity(frame_features)                  # (T, D) -> mean over pairs
    fl.shuffle_frames(video.frames, seed=1)                         # each frame perfect, order not

Layout: a video is (T, C, H, W) with values in [0, 1]; a batch of videos is (N, T, C, H, W).
Flows are in pixels, (T-1, 2, H, W), channel 0 = x (right), 1 = y (down), and they are
*backward* flows: flows[t] maps each pixel p of frame t+1 to where it came from in frame t, so
frames[t+1](p) = frames[t](p + flows[t](p)). That is the direction `grid_sample` needs to warp
frame t onto frame t+1 (backward warping: every output pixel pulls its value from the source).
FVD is `fl.frechet_distance` over clip features, e.g. from `RandomVideoFeatures`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from forge_lib import _checks

__all__ = [
    "SyntheticVideo", "moving_shapes_video", "moving_shapes_dataset",
    "shuffle_frames", "temporal_jitter", "flicker", "freeze_frames",
    "temporal_cosine_similarity", "frame_features", "backward_warp", "flow_warping_error",
    "estimate_flow_farneback", "RandomVideoFeatures",
]


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
    _checks.positive_int(n_frames, "n_frames")
    _checks.positive_int(size, "size")
    if n_frames < 2 or size < 16:
        raise ValueError(f"expected n_frames >= 2 and size >= 16, got {n_frames} and {size}.")
    _checks.non_negative_int(n_shapes, "n_shapes")
    gen = torch.Generator().manual_seed(_checks.integer(seed, "seed"))
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
    _checks.positive_int(n_videos, "n_videos")
    # Same clips as moving_shapes_video(..., seed=seed * 100_003 + i), without computing flows.
    return torch.stack([_render(n_frames, size, 3, seed * 100_003 + i)[0]
                        for i in range(n_videos)])


# ---------------------------------------------------------------------------------------------
# Temporal corruptions: every frame stays a plausible frame; only time is damaged
# ---------------------------------------------------------------------------------------------

def _video(frames: object, name: str = "frames") -> torch.Tensor:
    frames = _checks.float_tensor(frames, name)
    if frames.ndim not in (4, 5):
        raise ValueError(f"{name}: expected a video (T, C, H, W) or a batch (N, T, C, H, W), "
                         f"got shape {tuple(frames.shape)}.")
    if frames.shape[-4] < 2:
        raise ValueError(f"{name}: expected at least 2 frames (temporal metrics compare "
                         f"neighbours), got {frames.shape[-4]}.")
    _checks.all_finite(frames, name)
    return frames


def _generator(seed: object) -> torch.Generator:
    return torch.Generator().manual_seed(_checks.integer(seed, "seed"))


def _reindex(frames: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return frames.index_select(frames.ndim - 4, index)


def shuffle_frames(frames: torch.Tensor, *, seed: int = 0) -> torch.Tensor:
    """Random order of the same frames (never the identity order).

    >>> v = torch.arange(4.0).view(4, 1, 1, 1)
    >>> sorted(shuffle_frames(v).flatten().tolist())
    [0.0, 1.0, 2.0, 3.0]
    """
    frames = _video(frames)
    t = frames.shape[-4]
    gen = _generator(seed)
    perm = torch.randperm(t, generator=gen)
    while bool((perm == torch.arange(t)).all()):
        perm = torch.randperm(t, generator=gen)
    return _reindex(frames, perm)


def temporal_jitter(frames: torch.Tensor, *, max_shift: int = 1, seed: int = 0) -> torch.Tensor:
    """Frame t shows frame t + d, d uniform in [-max_shift, max_shift]: stutters and reversals.

    >>> temporal_jitter(torch.arange(5.0).view(5, 1, 1, 1), seed=0).flatten().tolist()
    [1.0, 0.0, 3.0, 2.0, 4.0]
    """
    frames = _video(frames)
    _checks.non_negative_int(max_shift, "max_shift")
    t = frames.shape[-4]
    gen = _generator(seed)
    shift = torch.randint(-max_shift, max_shift + 1, (t,), generator=gen)
    return _reindex(frames, (torch.arange(t) + shift).clamp(0, t - 1))


def flicker(frames: torch.Tensor, *, amplitude: float = 0.15, seed: int = 0) -> torch.Tensor:
    """Add a random brightness offset in [-amplitude, amplitude] to each frame, clip to [0, 1].

    >>> flicker(torch.full((3, 1, 2, 2), 0.5), amplitude=0.0).unique().tolist()
    [0.5]
    """
    frames = _checks.unit_images(_video(frames), "frames")  # the result is clipped to [0, 1]
    amplitude = _checks.non_negative_number(amplitude, "amplitude")
    gen = _generator(seed)
    shape = [1] * frames.ndim
    shape[-4] = frames.shape[-4]
    offset = (torch.rand(shape, generator=gen, dtype=frames.dtype) * 2 - 1) * amplitude
    return (frames + offset).clamp(0, 1)


def freeze_frames(frames: torch.Tensor, *, hold: int = 4) -> torch.Tensor:
    """Show every `hold`-th frame `hold` times (a stuck decoder, or a model that stopped moving).

    >>> freeze_frames(torch.arange(6.0).view(6, 1, 1, 1), hold=3).flatten().tolist()
    [0.0, 0.0, 0.0, 3.0, 3.0, 3.0]
    """
    frames = _video(frames)
    _checks.positive_int(hold, "hold")
    t = frames.shape[-4]
    return _reindex(frames, torch.arange(t) // hold * hold)


# ---------------------------------------------------------------------------------------------
# Temporal consistency metrics
# ---------------------------------------------------------------------------------------------

def temporal_cosine_similarity(frame_features: torch.Tensor, *,
                               per_pair: bool = False) -> torch.Tensor:
    """Mean cosine similarity of consecutive frames' features, computed in float64.

    frame_features: (T, D) or (N, T, D). Returns the mean over the T-1 pairs, shape () or (N,);
    per_pair=True keeps them, (T-1,) or (N, T-1). Higher means smoother in feature space. It is
    a consistency score, not a quality score: a frozen video scores a perfect 1.

    >>> f = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> temporal_cosine_similarity(f, per_pair=True).tolist()
    [1.0, 0.0]
    """
    x = _checks.float_tensor(frame_features, "frame_features")
    if x.ndim not in (2, 3):
        raise ValueError(f"frame_features: expected (T, D) or (N, T, D), got {tuple(x.shape)}. "
                         f"Extract one feature vector per frame first.")
    if x.shape[-2] < 2:
        raise ValueError(f"frame_features: expected at least 2 frames, got {x.shape[-2]}.")
    if x.shape[-1] == 0:
        raise ValueError("frame_features: expected at least one feature per frame, got D = 0.")
    _checks.all_finite(x, "frame_features")
    per_pair = _checks.flag(per_pair, "per_pair")
    x = x.double()
    cos = F.cosine_similarity(x[..., :-1, :], x[..., 1:, :], dim=-1, eps=1e-12)  # (..., T-1)
    return cos if per_pair else cos.mean(dim=-1)


def frame_features(videos: torch.Tensor, extractor: nn.Module | None = None) -> torch.Tensor:
    """One feature vector per frame, (..., T, D), float64: the last stage of `extractor`
    (default RandomConvFeatures(seed=0)) flattened, NOT averaged over space.

    Keeping the spatial layout matters for temporal consistency: spatially averaged features
    barely change when an object moves, so they cannot tell a smooth video from a shuffled one.

    >>> frame_features(torch.rand(5, 3, 32, 32)).shape   # 64 channels x 4 x 4 positions
    torch.Size([5, 1024])
    """
    from forge_lib.vision import RandomConvFeatures

    videos = _video(videos, "videos")
    net = extractor if extractor is not None else RandomConvFeatures(seed=0)
    *lead, c, h, w = videos.shape
    with torch.no_grad():
        last = net.stages(videos.reshape(-1, c, h, w))[-1]  # (N*T, C_l, H_l, W_l)
    return last.flatten(1).double().reshape(*lead, -1)


def _flows_for(frames: torch.Tensor, flows: object, name: str = "flows") -> torch.Tensor:
    flows = _checks.float_tensor(flows, name)
    *lead, t, _, h, w = frames.shape
    expected = (*lead, t - 1, 2, h, w)
    if tuple(flows.shape) != expected:
        raise ValueError(f"{name}: expected shape {expected} (one (dx, dy) pixel flow per "
                         f"consecutive pair of frames {tuple(frames.shape)}), got "
                         f"{tuple(flows.shape)}.")
    _checks.all_finite(flows, name)
    return flows


def backward_warp(image: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Warp (B, C, H, W) images by pixel flows (B, 2, H, W): out(p) = image(p + flow(p)).

    Bilinear sampling with torch's grid_sample (align_corners=True, so pixel centres map to
    -1 and +1 exactly). Returns the warped images and a (B, 1, H, W) mask of pixels whose
    source lies inside the image.

    >>> img = torch.arange(4.0).view(1, 1, 1, 4)
    >>> flow = torch.zeros(1, 2, 1, 4); flow[:, 0] = 1.0      # pull from one pixel to the right
    >>> backward_warp(img, flow)[0].flatten().tolist()
    [1.0, 2.0, 3.0, 0.0]
    """
    image = _checks.float_tensor(image, "image")
    flow = _checks.float_tensor(flow, "flow")
    if image.ndim != 4:
        raise ValueError(f"image: expected (B, C, H, W), got {tuple(image.shape)}.")
    b, _, h, w = image.shape
    if tuple(flow.shape) != (b, 2, h, w):
        raise ValueError(f"flow: expected shape {(b, 2, h, w)} (a (dx, dy) pixel offset for every "
                         f"pixel of image {tuple(image.shape)}), got {tuple(flow.shape)}.")
    _checks.all_finite(flow, "flow")
    ys, xs = torch.meshgrid(torch.arange(h, dtype=flow.dtype), torch.arange(w, dtype=flow.dtype),
                            indexing="ij")
    src_x, src_y = xs + flow[:, 0], ys + flow[:, 1]  # (B, H, W), in pixels
    inside = (src_x >= 0) & (src_x <= w - 1) & (src_y >= 0) & (src_y <= h - 1)
    # grid_sample wants (x, y) in [-1, 1]; with align_corners=True pixel 0 -> -1, pixel W-1 -> +1.
    grid = torch.stack([2 * src_x / max(w - 1, 1) - 1, 2 * src_y / max(h - 1, 1) - 1], dim=-1)
    warped = F.grid_sample(image, grid.to(image.dtype), mode="bilinear", padding_mode="zeros",
                           align_corners=True)
    return warped, inside.unsqueeze(1)


def flow_warping_error(frames: torch.Tensor, flows: torch.Tensor, *,
                       mask: torch.Tensor | None = None, per_pair: bool = False) -> torch.Tensor:
    """Mean squared error between frame t+1 and frame t backward-warped by flows[t], float64.

    frames: (T, C, H, W) or (N, T, C, H, W); flows: backward flows (..., T-1, 2, H, W) in pixels
    (see the module docstring for the direction). Pixels whose source falls outside the frame,
    and pixels where `mask` (..., T-1, 1, H, W) is False (occlusions), are left out. Returns the
    mean over pairs, shape () or (N,); per_pair=True keeps (..., T-1). 0 = motion fully explained.

    >>> v = moving_shapes_video(n_frames=5, size=24, seed=0)
    >>> round(flow_warping_error(v.frames, v.flows, mask=v.valid).item(), 12)
    0.0
    """
    frames = _video(frames)
    flows = _flows_for(frames, flows)
    per_pair = _checks.flag(per_pair, "per_pair")
    *lead, t, c, h, w = frames.shape
    src = frames[..., :-1, :, :, :].reshape(-1, c, h, w)
    dst = frames[..., 1:, :, :, :].reshape(-1, c, h, w)
    warped, inside = backward_warp(src.double(), flows.reshape(-1, 2, h, w).double())
    keep = inside
    if mask is not None:
        mask = _checks.tensor(mask, "mask")
        if tuple(mask.shape) != (*lead, t - 1, 1, h, w):
            raise ValueError(f"mask: expected shape {(*lead, t - 1, 1, h, w)}, got "
                             f"{tuple(mask.shape)}.")
        keep = keep & _checks.binary_mask(mask, "mask").reshape(-1, 1, h, w)
    kept = keep.flatten(1).sum(dim=1)  # (P,) pixels scored per pair
    if bool((kept == 0).any()):
        empty = (kept == 0).nonzero().flatten().tolist()
        raise ValueError(f"flow_warping_error: no pixel left to score in frame pair(s) {empty[:5]} "
                         f"(flattened over the batch): the mask is all False there, or the flows "
                         f"move every pixel out of the frame. An error of 0 would claim a perfect "
                         f"match; check the mask's convention (True = keep) and the flows' units "
                         f"(pixels).")
    sq = (warped - dst.double()).square().mean(dim=1, keepdim=True)  # (P, 1, H, W)
    per = ((sq * keep).flatten(1).sum(dim=1) / kept).reshape(*lead, t - 1)  # (..., T-1)
    return per if per_pair else per.mean(dim=-1)


def estimate_flow_farneback(frames: torch.Tensor) -> torch.Tensor:
    """Backward flows (T-1, 2, H, W) estimated by OpenCV's Farneback method on grey frames.

    Needs `opencv-python-headless` (pinned in requirements.txt). OpenCV is asked for the flow
    from frame t+1 to frame t, i.e. the backward flow `flow_warping_error` expects. Single
    threaded, so the result does not depend on the number of cores.

    >>> v = moving_shapes_video(n_frames=3, size=32, seed=0)
    >>> estimate_flow_farneback(v.frames).shape
    torch.Size([2, 2, 32, 32])
    """
    try:
        import cv2
    except ImportError as exc:  # an optional extra: say how to get it
        raise ImportError("estimate_flow_farneback needs OpenCV: pip install "
                          "opencv-python-headless (the version pinned in requirements.txt)") from exc
    import numpy as np

    frames = _checks.unit_images(_video(frames), "frames")  # grey levels are read as [0, 1]
    if frames.ndim != 4:
        raise ValueError(f"frames: expected one video (T, C, H, W), got {tuple(frames.shape)}.")
    cv2.setNumThreads(1)
    grey = (frames.clamp(0, 1).mean(dim=1) * 255).round().to(torch.uint8).numpy()  # (T, H, W)
    flows = [cv2.calcOpticalFlowFarneback(grey[t + 1], grey[t], None, 0.5, 3, 9, 5, 5, 1.1, 0)
             for t in range(len(grey) - 1)]  # each (H, W, 2), (dx, dy)
    return torch.from_numpy(np.stack(flows)).permute(0, 3, 1, 2).float().contiguous()


class RandomVideoFeatures(nn.Module):
    """A fixed, seeded, untrained 3-D conv net: the offline stand-in for I3D in FVD.

    Three stages of 3 x 3 x 3 conv + ReLU (stride 1 in time and 2 in space for the first, 2 in
    both afterwards), He-normal weights from torch.Generator(seed). Input: videos
    (N, T, C, H, W) in [0, 1]; output (N, D): each stage's mean and standard deviation over
    time and space, concatenated, D = 2 * sum(widths) = `num_features`.

    motion_only=True (the default) makes every first-layer kernel sum to zero along time, so
    the net sees only what changes between frames (a random "motion energy" net). With False,
    the kernels are plain random 3-D kernels, whose features are dominated by frame content
    and barely move when frames are shuffled; notebook 14 measures both. Values are
    comparable only with the same extractor, clip length and resolution.

    >>> RandomVideoFeatures()(torch.rand(2, 8, 3, 32, 32)).shape
    torch.Size([2, 224])
    """

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64), *, seed: int = 0,
                 in_channels: int = 3, motion_only: bool = True) -> None:
        super().__init__()
        widths = _checks.positive_ints(widths, "widths")
        self.in_channels = _checks.positive_int(in_channels, "in_channels")
        gen = _generator(seed)
        self.convs = nn.ModuleList()
        for i, (c_in, c_out) in enumerate(zip((in_channels, *widths[:-1]), widths, strict=True)):
            stride = (1, 2, 2) if i == 0 else (2, 2, 2)
            conv = nn.utils.skip_init(nn.Conv3d, c_in, c_out, 3, stride=stride, padding=1)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen)
                                  * math.sqrt(2.0 / (c_in * 27)))
                if motion_only and i == 0:  # zero temporal mean: a static video gives no signal
                    conv.weight.sub_(conv.weight.mean(dim=2, keepdim=True))
                conv.bias.zero_()
            self.convs.append(conv)
        self.num_features = 2 * sum(widths)
        self.requires_grad_(False)
        self.eval()

    def forward(self, videos: torch.Tensor) -> torch.Tensor:
        videos = _checks.float_tensor(videos, "videos")
        if videos.ndim != 5:
            raise ValueError(f"videos: expected (N, T, C, H, W), got {tuple(videos.shape)}.")
        _checks.channels(videos, self.in_channels, "videos", dim=2)
        _checks.unit_images(videos, "videos")
        h = videos.float().permute(0, 2, 1, 3, 4) * 2 - 1  # (N, C, T, H, W), centred
        pooled = []
        for conv in self.convs:
            h = F.relu(conv(h))
            pooled += [h.mean(dim=(2, 3, 4)), h.std(dim=(2, 3, 4))]
        return torch.cat(pooled, dim=1)  # (N, D)
