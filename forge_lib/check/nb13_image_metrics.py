"""Checkers for the exercises of notebooks/13_image_metrics.ipynb."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from forge_lib.check._core import Verdict, close, run_cases

__all__ = ["frechet_1d", "psnr_from_mse", "trace_sqrt_product"]


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
        if close(got, (ma - mb) ** 2 + va**2 + vb**2 - 2 * va * vb):
            return ("var_a and var_b are already variances (sigma squared): squaring them again "
                    "uses a variance as a standard deviation. In 1-D, Tr(S) is the variance.")
        if close(got, (ma - mb) ** 2 + va + vb):
            return "you left out the cross term -2 sqrt(var_a var_b): two equal Gaussians must give 0."
        return None

    return run_cases("frechet_1d", fn, cases, mistakes)


def _spd(seed: int, d: int = 4) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    a = torch.rand(d, d, generator=gen, dtype=torch.float64)  # positive entries: so that an
    return a @ a.T + 0.1 * torch.eye(d, dtype=torch.float64)  # elementwise sqrt gives a number


def _is_nan(x: object) -> bool:
    try:
        return math.isnan(float(x))
    except (TypeError, ValueError):
        return False


def _sqrtm(s: torch.Tensor) -> torch.Tensor:
    """The symmetric square root of a symmetric positive definite matrix."""
    evals, evecs = torch.linalg.eigh(s)
    return evecs @ torch.diag(evals.clamp(min=0).sqrt()) @ evecs.T


def trace_sqrt_product(fn: Callable[[torch.Tensor, torch.Tensor], float]) -> Verdict:
    """fn(S_a, S_b) -> Tr((S_a S_b)^(1/2)) for symmetric positive definite (D, D) float64."""
    cases = []
    for seed in (0, 1, 2):
        sa, sb = _spd(2 * seed), _spd(2 * seed + 1)
        expected = torch.linalg.eigvals(sa @ sb).sqrt().real.sum().item()
        cases.append((f"two 4 x 4 covariances (seed {seed})", (sa, sb), expected))

    def mistakes(args, got):
        sa, sb = args
        product_evals = torch.linalg.eigvalsh(sa @ sb)  # reads one triangle: wrong here
        if (close(got, product_evals.clamp(min=0).sqrt().sum().item())
                or close(got, product_evals.abs().sqrt().sum().item())
                or (_is_nan(got) and bool((product_evals < 0).any()))):
            return ("S_a @ S_b is not symmetric, and eigvalsh reads only one triangle of it, so "
                    "its eigenvalues are wrong. Make it symmetric first: S_a S_b has the "
                    "eigenvalues of S_a^(1/2) S_b S_a^(1/2), which eigvalsh may take.")
        root_a, root_b = _sqrtm(sa), _sqrtm(sb)
        if close(got, (root_a @ root_b).trace().item()):
            return ("(S_a S_b)^(1/2) is not S_a^(1/2) S_b^(1/2) unless the matrices commute: "
                    "take the eigenvalues of S_a^(1/2) S_b S_a^(1/2), root them, and sum.")
        if _is_nan(got):
            return "NaN: an elementwise sqrt of a negative entry? Use eigenvalues instead."
        if close(got, (sa @ sb).sqrt().trace().item()):
            return "torch.sqrt is elementwise; a matrix square root needs eigenvalues."
        if close(got, (sa @ sb).trace().sqrt().item()):
            return "sqrt(Tr(M)) is not Tr(M^(1/2)): take the root of each eigenvalue, then sum."
        if close(got, (sa.trace() * sb.trace()).sqrt().item()):
            return "the product of the matrices, not of their traces."
        return None

    return run_cases("trace_sqrt_product", fn, cases, mistakes)
