"""Video metrics: temporal consistency, flow warping error, optical flow.

    fl.flow_warping_error(video.frames, video.flows, mask=video.valid)  # 0 for a consistent video
    fl.temporal_cosine_similarity(frame_features)                  # (T, D) -> mean over pairs
    fl.estimate_flow_farneback(frames)                             # flows when none are known

Layout: a video is (T, C, H, W) with values in [0, 1]; a batch of videos is (N, T, C, H, W).
Flows are in pixels, (T-1, 2, H, W), channel 0 = x (right), 1 = y (down), and they are
*backward* flows: flows[t] maps each pixel p of frame t+1 to where it came from in frame t, so
frames[t+1](p) = frames[t](p + flows[t](p)). That is the direction `grid_sample` needs to warp
frame t onto frame t+1 (backward warping: every output pixel pulls its value from the source).
FVD is `fl.frechet_distance` over clip features. Published FVD (Unterthiner et al. 2018) uses
I3D features (Kinetics-400) of 16-frame 224 x 224 clips; the course's offline stand-in,
`fl.RandomVideoFeatures`, gives values that are not comparable to published ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from forge_lib.metrics import validation

__all__ = ["temporal_cosine_similarity", "frame_features", "backward_warp", "flow_warping_error",
           "estimate_flow_farneback"]


def _video(frames: object, name: str = "frames") -> torch.Tensor:
    frames = validation.float_tensor(frames, name)
    if frames.ndim not in (4, 5):
        raise ValueError(f"{name}: expected a video (T, C, H, W) or a batch (N, T, C, H, W), "
                         f"got shape {tuple(frames.shape)}.")
    if frames.shape[-4] < 2:
        raise ValueError(f"{name}: expected at least 2 frames (temporal metrics compare "
                         f"neighbours), got {frames.shape[-4]}.")
    # the layout promises [0, 1]: 0-255 frames would give errors 255^2 = 65,025 times larger
    return validation.unit_images(frames, name)


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
    x = validation.float_tensor(frame_features, "frame_features")
    if x.ndim not in (2, 3):
        raise ValueError(f"frame_features: expected (T, D) or (N, T, D), got {tuple(x.shape)}. "
                         f"Extract one feature vector per frame first.")
    if x.shape[-2] < 2:
        raise ValueError(f"frame_features: expected at least 2 frames, got {x.shape[-2]}.")
    if x.shape[-1] == 0:
        raise ValueError("frame_features: expected at least one feature per frame, got D = 0.")
    validation.all_finite(x, "frame_features")
    per_pair = validation.flag(per_pair, "per_pair")
    x = x.double()
    _no_zero_vectors(x)
    cos = F.cosine_similarity(x[..., :-1, :], x[..., 1:, :], dim=-1, eps=1e-12)  # (..., T-1)
    return cos if per_pair else cos.mean(dim=-1)


def _no_zero_vectors(x: torch.Tensor) -> None:
    """The cosine of a zero vector is 0 / 0: undefined, not 0 (eps would make it 0 silently)."""
    zero = (x == 0).all(dim=-1)  # (..., T)
    if bool(zero.any()):
        where = zero.nonzero().tolist()
        raise ValueError(f"frame_features: expected a non-zero feature vector for every frame, "
                         f"found {len(where)} all-zero one(s) (first at index {where[0]}): their "
                         f"cosine similarity is undefined (0 / 0). A black frame through a ReLU "
                         f"net can do this; drop those frames or use other features.")


def frame_features(videos: torch.Tensor, extractor: nn.Module | None = None) -> torch.Tensor:
    """One feature vector per frame, (..., T, D), float64: the last stage of `extractor`
    (default RandomConvFeatures(seed=0)) flattened, NOT averaged over space.

    Keeping the spatial layout matters for temporal consistency: spatially averaged features
    barely change when an object moves, so they cannot tell a smooth video from a shuffled one.

    >>> frame_features(torch.rand(5, 3, 32, 32)).shape   # 64 channels x 4 x 4 positions
    torch.Size([5, 1024])
    """
    from forge_lib.metrics.feature_nets import RandomConvFeatures

    videos = _video(videos, "videos")
    net = extractor if extractor is not None else RandomConvFeatures(seed=0)
    *lead, c, h, w = videos.shape
    with torch.no_grad():
        last = net.stages(videos.reshape(-1, c, h, w))[-1]  # (N*T, C_l, H_l, W_l)
    return last.flatten(1).double().reshape(*lead, -1)


def _flows_for(frames: torch.Tensor, flows: object, name: str = "flows") -> torch.Tensor:
    flows = validation.float_tensor(flows, name)
    *lead, t, _, h, w = frames.shape
    expected = (*lead, t - 1, 2, h, w)
    if tuple(flows.shape) != expected:
        raise ValueError(f"{name}: expected shape {expected} (one (dx, dy) pixel flow per "
                         f"consecutive pair of frames {tuple(frames.shape)}), got "
                         f"{tuple(flows.shape)}.")
    validation.all_finite(flows, name)
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
    image = validation.float_tensor(image, "image")
    flow = validation.float_tensor(flow, "flow")
    if image.ndim != 4:
        raise ValueError(f"image: expected (B, C, H, W), got {tuple(image.shape)}.")
    b, _, h, w = image.shape
    if tuple(flow.shape) != (b, 2, h, w):
        raise ValueError(f"flow: expected shape {(b, 2, h, w)} (a (dx, dy) pixel offset for every "
                         f"pixel of image {tuple(image.shape)}), got {tuple(flow.shape)}.")
    validation.all_finite(flow, "flow")
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

    frames: (T, C, H, W) or (N, T, C, H, W) in [0, 1]; flows: backward flows (..., T-1, 2, H, W)
    in pixels (see the module docstring for the direction). Pixels whose source falls outside the
    frame, and pixels where `mask` (..., T-1, 1, H, W) is False (occlusions), are left out. Returns the
    mean over pairs, shape () or (N,); per_pair=True keeps (..., T-1). 0 = motion fully explained.

    >>> import forge_lib as fl  # the course's synthetic videos
    >>> v = fl.moving_shapes_video(n_frames=5, size=24, seed=0)
    >>> round(flow_warping_error(v.frames, v.flows, mask=v.valid).item(), 12)
    0.0
    """
    frames = _video(frames)
    flows = _flows_for(frames, flows)
    per_pair = validation.flag(per_pair, "per_pair")
    *lead, t, c, h, w = frames.shape
    src = frames[..., :-1, :, :, :].reshape(-1, c, h, w)
    dst = frames[..., 1:, :, :, :].reshape(-1, c, h, w)
    warped, inside = backward_warp(src.double(), flows.reshape(-1, 2, h, w).double())
    keep = inside
    if mask is not None:
        mask = validation.tensor(mask, "mask")
        if tuple(mask.shape) != (*lead, t - 1, 1, h, w):
            raise ValueError(f"mask: expected shape {(*lead, t - 1, 1, h, w)}, got "
                             f"{tuple(mask.shape)}.")
        keep = keep & validation.binary_mask(mask, "mask").reshape(-1, 1, h, w)
    kept = keep.flatten(1).sum(dim=1)  # (P,) pixels scored per pair
    if bool((kept == 0).any()):
        empty = (kept == 0).nonzero().flatten().tolist()
        raise ValueError(f"mask and flows: expected a pixel to score in every frame pair, but "
                         f"no pixel left to score in frame pair(s) {empty[:5]} (flattened over "
                         f"the batch): the mask is all False there, or the flows "
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

    >>> import forge_lib as fl
    >>> v = fl.moving_shapes_video(n_frames=3, size=32, seed=0)
    >>> estimate_flow_farneback(v.frames).shape
    torch.Size([2, 2, 32, 32])
    """
    try:
        import cv2
    except ImportError as exc:  # an optional extra: say how to get it
        raise ImportError("estimate_flow_farneback needs OpenCV: pip install "
                          "opencv-python-headless (the version pinned in requirements.txt)") from exc
    import numpy as np

    frames = _video(frames)  # in [0, 1]: the grey levels below are read that way
    if frames.ndim != 4:
        raise ValueError(f"frames: expected one video (T, C, H, W), got {tuple(frames.shape)}.")
    cv2.setNumThreads(1)
    grey = (frames.clamp(0, 1).mean(dim=1) * 255).round().to(torch.uint8).numpy()  # (T, H, W)
    flows = [cv2.calcOpticalFlowFarneback(grey[t + 1], grey[t], None, 0.5, 3, 9, 5, 5, 1.1, 0)
             for t in range(len(grey) - 1)]  # each (H, W, 2), (dx, dy)
    return torch.from_numpy(np.stack(flows)).permute(0, 3, 1, 2).float().contiguous()
