"""fl.diagnose on long runs: time against the number of steps, measured side by side in one run.

    python benchmarks/bench_diagnose.py

A real run logs hundreds of thousands of steps. diagnose reads the train loss and the gradient
norm through a running median over 10% of the run; the obvious unfold + median costs
steps x window, quadratic in the steps (before the fix: 50k steps 1.2-3.3 s, 200k steps 63 s).
For 50k, 200k and 10^6 steps of a synthetic run (a noisy power law, a validation loss every
1/15 of the run, gradient norms that decay from 20 to 0.5 with three real spikes) this prints
the time of diagnose and of the running median alone, the ratio of each to 50k steps (a linear
method gives about the steps ratio; n log n a little more), and the findings. At 50k steps it
also times the old unfold + median and checks that both give the same values.
"""

from __future__ import annotations

import statistics
import time

import torch

import forge_lib as fl
from forge_lib.metrics.diagnostics import _running_median

SIZES = (50_000, 200_000, 1_000_000)
REPEATS = 3


def synthetic_run(n: int) -> dict:
    """Train loss, validation loss, their steps and gradient norms of an n-step run."""
    gen = torch.Generator().manual_seed(0)
    t = torch.arange(n, dtype=torch.float64)
    t0 = n / 100
    loss = 3.25 + 2.3 * (t0 / (t + t0)) ** 0.5  # (n,)
    train = loss * (1 + 0.02 * torch.randn(n, generator=gen, dtype=torch.float64))
    val_steps = [round(n * (k + 1) / 15) for k in range(15)]
    grads = (0.5 + 19.5 * torch.exp(-t / t0)) * (1 + 0.1 * torch.randn(n, generator=gen,
                                                                      dtype=torch.float64).abs())
    grads[[n // 3, n // 2, 2 * n // 3]] = 50.0
    return {"train": train.tolist(), "val": [float(loss[s - 1]) + 0.05 for s in val_steps],
            "val_steps": val_steps, "grads": grads.tolist()}


def unfold_median(values: list[float], window: int) -> torch.Tensor:
    """The old running median (the reference): every window sorted on its own."""
    half = window // 2
    x = torch.tensor(values, dtype=torch.float64)
    padded = torch.cat([x[:1].repeat(half), x, x[-1:].repeat(half)])
    return padded.unfold(0, 2 * half + 1, 1).median(dim=1).values


def timed(fn) -> tuple[float, object]:
    times, out = [], None
    for _ in range(REPEATS):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), out


def main() -> None:
    torch.set_num_threads(1)
    print(f"median of {REPEATS} runs each, 1 thread; window = 10% of the run")
    print(f"{'steps':>9} {'diagnose s':>11} {'x 50k':>6} {'median s':>9} {'x 50k':>6}  findings")
    base = None
    for n in SIZES:
        run = synthetic_run(n)
        diag_s, found = timed(lambda run=run: fl.diagnose(
            run["train"], val_loss=run["val"], val_steps=run["val_steps"], grad_norm=run["grads"]))
        med_s, _ = timed(lambda run=run, n=n: _running_median(run["train"], n // 10 | 1))
        base = base or (diag_s, med_s)
        codes = ", ".join(f.code + (f" ({f.evidence['count']})" if "count" in f.evidence else "")
                          for f in found)  # the 3 real spikes, not the early decay
        print(f"{n:>9,} {diag_s:>11.2f} {diag_s / base[0]:>6.1f} {med_s:>9.3f} "
              f"{med_s / base[1]:>6.1f}  {codes}")
    run = synthetic_run(SIZES[0])
    window = SIZES[0] // 10 | 1
    started = time.perf_counter()
    old = unfold_median(run["train"], window)
    old_s = time.perf_counter() - started
    new_s, new = timed(lambda: _running_median(run["train"], window))
    print(f"{SIZES[0]:,} steps: unfold + median {old_s:.2f} s, wavelet running median "
          f"{new_s:.3f} s ({old_s / new_s:.0f}x); same values: {torch.equal(old, new)}")


if __name__ == "__main__":
    main()
