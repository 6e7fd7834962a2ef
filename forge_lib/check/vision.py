"""Checkers for the image and video notebooks (13-15): PSNR, Fréchet distance, flows, bits/dim."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from forge_lib.check._core import Verdict, call, close, run_cases, verdict

__all__ = ["psnr_from_mse", "frechet_1d", "trace_sqrt_product", "consecutive_cosine",
           "pixel_flow_to_grid", "bits_per_dim", "causal_token_accuracy"]


def psnr_from_mse(fn: Callable[[float, float], float]) -> Verdict:
    """fn(mse, data_range) -> PSNR in dB."""
    cases = [(f"MSE {m} with data_range {r}", (m, r), 10 * math.log10(r * r / m))
             for m, r in [(0.01, 1.0), (100.0, 255.0), (0.0025, 2.0)]]

    def mistakes(args, got):
        m, r = args
        if close(got, 10 * math.log10(r / m)):
            return "the peak enters squared: 10 log10(data_range**2 / MSE)."
        if close(got, 20 * math.log10(r / m)):
            return "20 log10 goes with the root of the MSE (RMSE), not the MSE itself."
        if close(got, 10 * math.log10(m / r**2)):
            return "the ratio is upside down: signal peak over noise, so higher is better."
        return None

    return run_cases("psnr_from_mse", fn, cases, mistakes)


def frechet_1d(fn: Callable[[float, float, float, float], float]) -> Verdict:
    """fn(mu_a, var_a, mu_b, var_b) -> Fréchet distance between two 1-D Gaussians."""
    cases = [(f"N({ma}, {va}) vs N({mb}, {vb})", (ma, va, mb, vb),
              (ma - mb) ** 2 + va + vb - 2 * math.sqrt(va * vb))
             for ma, va, mb, vb in [(0.0, 1.0, 3.0, 1.0), (1.0, 4.0, 1.0, 9.0),
                                    (2.0, 0.25, -1.0, 4.0)]]

    def mistakes(args, got):
        ma, va, mb, vb = args
        if close(got, abs(ma - mb) + va + vb - 2 * math.sqrt(va * vb)):
            return "the mean term is the squared distance: (mu_a - mu_b)**2."
        if close(got, (ma - mb) ** 2 + va + vb - 2 * va * vb):
            return "the cross term is 2 * sqrt(var_a * var_b), a square root of the product."
        if close(got, (ma - mb) ** 2 + va + vb):
            return "you left out the cross term -2 sqrt(var_a var_b): two equal Gaussians must give 0."
        return None

    return run_cases("frechet_1d", fn, cases, mistakes)


def _spd(seed: int, d: int = 4) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    a = torch.rand(d, d, generator=gen, dtype=torch.float64)  # positive entries: so that an
    return a @ a.T + 0.1 * torch.eye(d, dtype=torch.float64)  # elementwise sqrt gives a number


def trace_sqrt_product(fn: Callable[[torch.Tensor, torch.Tensor], float]) -> Verdict:
    """fn(S_a, S_b) -> Tr((S_a S_b)^(1/2)) for symmetric positive definite (D, D) float64."""
    cases = []
    for seed in (0, 1, 2):
        sa, sb = _spd(2 * seed), _spd(2 * seed + 1)
        expected = torch.linalg.eigvals(sa @ sb).sqrt().real.sum().item()
        cases.append((f"two 4 x 4 covariances (seed {seed})", (sa, sb), expected))

    def mistakes(args, got):
        sa, sb = args
        if isinstance(got, float) and math.isnan(got):
            return "NaN: an elementwise sqrt of a negative entry? Use eigenvalues instead."
        if close(got, (sa @ sb).sqrt().trace().item()):
            return "torch.sqrt is elementwise; a matrix square root needs eigenvalues."
        if close(got, (sa @ sb).trace().sqrt().item()):
            return "sqrt(Tr(M)) is not Tr(M^(1/2)): take the root of each eigenvalue, then sum."
        if close(got, (sa.trace() * sb.trace()).sqrt().item()):
            return "the product of the matrices, not of their traces."
        return None

    return run_cases("trace_sqrt_product", fn, cases, mistakes)


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
    if not callable(fn):
        return verdict(False, f"{name} expects a function, got {type(fn).__name__}.")
    for seed, (h, w) in [(0, (5, 7)), (1, (8, 4))]:
        gen = torch.Generator().manual_seed(seed)
        flow = torch.randn(2, h, w, generator=gen, dtype=torch.float64)
        ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64),
                                torch.arange(w, dtype=torch.float64), indexing="ij")
        gx, gy = xs + flow[0], ys + flow[1]
        expected = torch.stack([2 * gx / (w - 1) - 1, 2 * gy / (h - 1) - 1], dim=-1)
        got, error = call(fn, flow.clone())
        label = f"a {h} x {w} flow"
        if error is not None:
            return verdict(False, f"on {label} your function raised {error}.")
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
        elif torch.allclose(got, torch.stack([2 * flow[0] / (w - 1), 2 * flow[1] / (h - 1)], -1),
                            atol=1e-6):
            hint = "add the pixel's own coordinates: the grid holds where to sample, not the shift."
        return verdict(False, f"on {label} the grid is wrong." + (f" Hint: {hint}" if hint else ""))
    return verdict(True, "both hidden cases pass.")


def bits_per_dim(fn: Callable[[float, int], float]) -> Verdict:
    """fn(nll_sum_nats, n_dims) -> bits per dimension (sub-pixel)."""
    cases = [(f"{s} nats over {n} sub-pixels", (s, n), s / n / math.log(2))
             for s, n in [(3 * 64 * 64 * 3.0, 3 * 64 * 64), (1000.0, 250), (5545.2, 4000)]]

    def mistakes(args, got):
        s, n = args
        if close(got, s / n):
            return "that is nats per dimension; divide by ln 2 for bits."
        if close(got, s / math.log(2)):
            return "divide by the number of dimensions too (a per-dimension average)."
        if close(got, s / n * math.log(2)):
            return "nats to bits is a division by ln 2, not a multiplication."
        return None

    return run_cases("bits_per_dim", fn, cases, mistakes)


def causal_token_accuracy(fn: Callable[[torch.Tensor, torch.Tensor], float]) -> Verdict:
    """fn(logits (B, T, V), labels (B, T) with -100 at padding) -> next-token top-1 accuracy."""
    def acc(logits, labels, shift=True, ignore=True):
        if shift:
            logits, labels = logits[:, :-1], labels[:, 1:]
        hit = logits.argmax(-1) == labels
        keep = labels != -100 if ignore else torch.ones_like(hit)
        return (hit & keep).sum().item() / keep.sum().item()

    cases = []
    for seed, pad in [(0, 2), (1, 4)]:
        gen = torch.Generator().manual_seed(seed)
        labels = torch.randint(0, 5, (3, 9), generator=gen)
        logits = torch.randn(3, 9, 5, generator=gen)
        logits[:, :-1].scatter_add_(2, labels[:, 1:, None], 2.5 * torch.ones(3, 8, 1))  # ~most right
        labels[:, -pad:] = -100
        cases.append((f"a (3, 9, 5) batch with {pad} padded positions per row", (logits, labels),
                      acc(logits, labels)))

    def mistakes(args, got):
        logits, labels = args
        if close(got, acc(logits, labels, shift=False)):
            return "logits[:, t] predicts labels[:, t + 1]: shift before comparing."
        if close(got, acc(logits, labels, ignore=False)):
            return "padded positions (-100) must count neither as right nor in the denominator."
        return None

    return run_cases("causal_token_accuracy", fn, cases, mistakes)
