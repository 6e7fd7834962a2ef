"""Benchmarks for forge_lib.vision, measured side by side in one run (not a test).

    python benchmarks/bench_vision.py            # a few minutes on 2 CPU cores

1. fl.frechet_distance at D = 2,048 and N = 10,000 samples per side, against the pytorch-fid
   recipe (numpy covariance + scipy.linalg.sqrtm of the non-symmetric product) and torchmetrics'
   FrechetInceptionDistance (identity feature module, update + compute). Accuracy is relative
   error against a float64 reference that takes an independent route: numpy two-pass
   covariances, a Cholesky factor S_a = L L^T, and Tr((S_a S_b)^(1/2)) = sum sqrt(eig(L^T S_b L)).
2. fl.ssim on 16 images of 3 x 256 x 256 against torchmetrics' SSIM (median of repeats).
3. fl.frechet_distance with fewer samples than dimensions (N = 32 per side, D = 2,048: notebook
   13's real-Inception section), whose route through the singular values of the N x N cross
   product is set against the D x D route (fl.frechet_distance_from_stats) and torchmetrics'
   compute, with errors against a 50-digit mpmath value of the same formula on a D = 64 copy
   of the case (mpmath at D = 2,048 would take hours).
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import scipy.linalg
import torch
from torchmetrics.functional.image import structural_similarity_index_measure as tm_ssim
from torchmetrics.image.fid import FrechetInceptionDistance

import forge_lib as fl


class Identity(torch.nn.Module):
    """The features are given directly; torchmetrics reads `num_features`."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.num_features = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def features(n: int, d: int, seed: int, scale: float, shift: float) -> torch.Tensor:
    """(n, d) float64 features with a realistic spectrum: a low-rank part plus decaying noise."""
    gen = torch.Generator().manual_seed(seed)
    basis = torch.randn(64, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    low_rank = torch.randn(n, 64, generator=gen, dtype=torch.float64) @ basis / 8
    spectrum = torch.linspace(1.0, 0.05, d, dtype=torch.float64)
    noise = torch.randn(n, d, generator=gen, dtype=torch.float64) * spectrum
    return scale * (low_rank + noise) + shift


def reference_fd(a: np.ndarray, b: np.ndarray) -> float:
    mu_a, mu_b = a.mean(0), b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    chol = scipy.linalg.cholesky(sa, lower=True)  # S_a = L L^T (N > D, so S_a is definite)
    evals = scipy.linalg.eigvalsh(chol.T @ sb @ chol)
    tr_sqrt = np.sqrt(np.clip(evals, 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(sa) + np.trace(sb) - 2 * tr_sqrt)


def scipy_fd(a: np.ndarray, b: np.ndarray) -> float:
    mu_a, mu_b = a.mean(0), b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(sa @ sb)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(sa) + np.trace(sb)
                 - 2 * np.trace(covmean).real)


def torchmetrics_fd(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    fid = FrechetInceptionDistance(feature=Identity(a.shape[1]))
    update_start = time.perf_counter()
    fid.update(a, real=True)
    fid.update(b, real=False)
    update_s = time.perf_counter() - update_start
    value, compute_s = timed(fid.compute)
    return value.item(), update_s, compute_s


def bench_frechet(n: int = 10_000, d: int = 2048) -> None:
    print(f"Fréchet distance, D = {d}, N = {n:,} per side, float64 features, "
          f"{torch.get_num_threads()} threads")
    cases = {"different distributions": (1.1, 0.02), "same distribution (FID bias only)": (1.0, 0.0)}
    for label, (scale, shift) in cases.items():
        a = features(n, d, seed=1, scale=1.0, shift=0.0)
        b = features(n, d, seed=2, scale=scale, shift=shift)
        an, bn = a.numpy(), b.numpy()
        ref, ref_s = timed(lambda: reference_fd(an, bn))  # noqa: B023
        ours, ours_s = timed(lambda: fl.frechet_distance(a, b).item())  # noqa: B023
        sp, sp_s = timed(lambda: scipy_fd(an, bn))  # noqa: B023
        tm, tm_update_s, tm_compute_s = torchmetrics_fd(a, b)
        print(f"\n  {label}: reference value {ref:.10g} ({ref_s:.1f} s)")
        print(f"  {'method':<34} {'time s':>8} {'x ours':>8} {'rel. error':>11}")
        rows = [("fl.frechet_distance", ours_s, ours),
                ("numpy cov + scipy sqrtm", sp_s, sp),
                ("torchmetrics update + compute", tm_update_s + tm_compute_s, tm),
                ("  of which compute only", tm_compute_s, tm)]
        for name, seconds, value in rows:
            print(f"  {name:<34} {seconds:8.2f} {seconds / ours_s:8.2f} {abs(value - ref) / ref:11.2e}")


def bench_ssim(batch: int = 16, size: int = 256, repeats: int = 5) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 3, size, size, generator=gen)
    y = (x + 0.05 * torch.randn(x.shape, generator=gen)).clamp(0, 1)
    ours_t, theirs_t = [], []
    for _ in range(repeats + 1):  # interleaved, so machine load hits both alike; first is warm-up
        ours, t1 = timed(lambda: fl.ssim(y, x, data_range=1.0))
        theirs, t2 = timed(lambda: tm_ssim(y, x, data_range=1.0))
        ours_t.append(t1)
        theirs_t.append(t2)
    ours_s, theirs_s = statistics.median(ours_t[1:]), statistics.median(theirs_t[1:])
    print(f"\nSSIM, {batch} images of 3 x {size} x {size}, float32, median of {repeats}")
    print(f"  fl.ssim            {ours_s:7.3f} s   value {ours.item():.7f}")
    print(f"  torchmetrics ssim  {theirs_s:7.3f} s   value {theirs.item():.7f}")
    print(f"  time ratio torchmetrics / fl = {theirs_s / ours_s:.2f}; "
          f"|difference| = {abs(ours.item() - theirs.item()):.1e}")


def bench_frechet_few_samples(n: int = 32, d: int = 2048) -> None:
    import mpmath

    print(f"\nFréchet distance with N = {n} < D = {d} (float64), {torch.get_num_threads()} threads")
    a, b = features(n, d, seed=3, scale=1.0, shift=0.0), features(n, d, seed=4, scale=1.1, shift=0.02)
    ours, ours_s = timed(lambda: fl.frechet_distance(a, b).item())
    stats, stats_s = timed(lambda: fl.frechet_distance_from_stats(*fl.gaussian_stats(a),
                                                                    *fl.gaussian_stats(b)).item())
    tm, tm_update_s, tm_compute_s = torchmetrics_fd(a, b)
    print(f"  {'method':<44} {'time s':>8} {'x ours':>8} {'rel. diff to ours':>18}")
    for name, seconds, value in [("fl.frechet_distance (N x N singular values)", ours_s, ours),
                                 ("frechet_distance_from_stats (D x D eigh)", stats_s, stats),
                                 ("torchmetrics compute (D x D eigvals)", tm_compute_s, tm)]:
        print(f"  {name:<44} {seconds:8.3f} {seconds / ours_s:8.1f} {abs(value - ours) / ours:18.2e}")
    small_a, small_b = a[:, :64], b[:, :64]  # accuracy against 50 digits, on a D = 64 copy
    mpmath.mp.dps = 50

    def mp_stats(x):
        m = mpmath.matrix((x - x.mean(0)).tolist())
        return m.T * m / (x.shape[0] - 1)

    s_a, s_b = mp_stats(small_a), mp_stats(small_b)
    evals = mpmath.eig(s_a * s_b, left=False, right=False)
    mean_term = (small_a.mean(0) - small_b.mean(0)).square().sum().item()
    exact = float(mean_term + sum(s_a[i, i] + s_b[i, i] for i in range(64))
                  - 2 * mpmath.fsum(mpmath.sqrt(max(mpmath.re(e), 0)) for e in evals))
    low_rank = fl.frechet_distance(small_a, small_b).item()
    by_stats = fl.frechet_distance_from_stats(*fl.gaussian_stats(small_a),
                                              *fl.gaussian_stats(small_b)).item()
    print(f"  D = 64 copy, relative error against mpmath: N x N route {abs(low_rank - exact) / exact:.1e},"
          f" D x D route {abs(by_stats - exact) / exact:.1e}")


if __name__ == "__main__":
    bench_ssim()
    bench_frechet_few_samples()
    bench_frechet()
