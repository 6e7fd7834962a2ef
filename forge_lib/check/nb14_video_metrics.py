"""Checkers for the exercises of notebooks/14_video_metrics.ipynb."""

from __future__ import annotations

from collections.abc import Callable

import torch

from forge_lib.check._core import Verdict, call, close, not_a_function, run_cases, verdict

__all__ = ["consecutive_cosine", "pixel_flow_to_grid"]


def consecutive_cosine(fn: Callable[[torch.Tensor], float]) -> Verdict:
    """fn(features (T, D)) -> mean cosine similarity of frames t and t+1 over the T-1 pairs."""
    def cos(a, b):
        return torch.nn.functional.cosine_similarity(a, b, dim=-1)

    cases = []
    for seed, t in [(0, 5), (1, 8)]:
        gen = torch.Generator().manual_seed(seed)
        f = torch.randn(t, 6, generator=gen, dtype=torch.float64) + 0.5
        f[1] *= 3.0  # one frame with a larger norm: an unnormalised dot product shows up
        cases.append((f"{t} frames of 6 features", (f,), cos(f[:-1], f[1:]).mean().item()))

    def mistakes(args, got):
        f = args[0]
        if close(got, (f[:-1] * f[1:]).sum(-1).mean().item()):
            return "divide each dot product by both vectors' norms (that is what makes it a cosine)."
        if close(got, cos(f[0:1], f[1:]).mean().item()):
            return "compare each frame with the one before it, not every frame with frame 0."
        n = len(f)
        every = torch.stack([cos(f[i], f[j]) for i in range(n) for j in range(i + 1, n)])
        if close(got, every.mean().item()):
            return "only consecutive pairs (t, t+1) count, not every pair."
        return None

    return run_cases("consecutive_cosine", fn, cases, mistakes)


def pixel_flow_to_grid(fn: Callable[[torch.Tensor], torch.Tensor]) -> Verdict:
    """fn(flow (2, H, W) in pixels) -> grid (H, W, 2) for grid_sample(..., align_corners=True)."""
    name = "pixel_flow_to_grid"
    if (refused := not_a_function(name, fn)) is not None:
        return refused
    for seed, (h, w) in [(0, (5, 7)), (1, (8, 4))]:
        gen = torch.Generator().manual_seed(seed)
        flow = torch.randn(2, h, w, generator=gen, dtype=torch.float64)
        ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64),
                                torch.arange(w, dtype=torch.float64), indexing="ij")
        gx, gy = xs + flow[0], ys + flow[1]
        expected = torch.stack([2 * gx / (w - 1) - 1, 2 * gy / (h - 1) - 1], dim=-1)
        label = f"a {h} x {w} flow"
        got, error = call(fn, label, flow.clone())
        if error is not None:
            return verdict(False, error)
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != (h, w, 2):
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            return verdict(False, f"on {label} expected a tensor of shape {(h, w, 2)}, got {shape}.")
        got = got.double()
        if torch.allclose(got, expected, atol=1e-6):
            continue
        hint = None
        if torch.allclose(got, expected.flip(-1), atol=1e-6):
            hint = "grid_sample wants (x, y) in the last dimension: x (width) first."
        elif torch.allclose(got, torch.stack([(2 * gx + 1) / w - 1, (2 * gy + 1) / h - 1], -1),
                            atol=1e-6):
            hint = "that is the align_corners=False convention; use 2 * x / (W - 1) - 1."
        elif torch.allclose(got, torch.stack([2 * (xs - flow[0]) / (w - 1) - 1,
                                              2 * (ys - flow[1]) / (h - 1) - 1], -1), atol=1e-6):
            hint = ("that samples at p - flow(p): the flow used in the wrong direction, as "
                    "section 1 shows. The backward flow says where pixel p's content was in the "
                    "other frame, and grid_sample pulls it from there: sample at p + flow(p).")
        elif torch.allclose(got, torch.stack([2 * flow[0] / (w - 1), 2 * flow[1] / (h - 1)], -1),
                            atol=1e-6):
            hint = "add the pixel's own coordinates: the grid holds where to sample, not the shift."
        return verdict(False, f"on {label} the grid is wrong." + (f" Hint: {hint}" if hint else ""))
    return verdict(True, "both hidden cases pass.")
