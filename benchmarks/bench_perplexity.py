"""fl.perplexity against torchmetrics' Perplexity on logits of 4 x 512 x 50,257 (GPT-2's vocabulary).

    python benchmarks/bench_perplexity.py

Prints, measured side by side in one run: the median time of each (interleaved runs after a
warm-up, so both see the same machine load) and the extra peak memory each needs above the
logits themselves (fl.MemoryTracker, process RSS), with the ratios fl / torchmetrics.
Targets: time ratio <= 0.4 (the physical floor is about two passes over the logits), extra peak
memory ratio <= 0.2.
"""

from __future__ import annotations

import statistics

import torch
from torchmetrics.text import Perplexity as TorchmetricsPerplexity

import forge_lib as fl

SHAPE = (4, 512, 50_257)
REPEATS = 5


def run_forge(logits: torch.Tensor, target: torch.Tensor) -> float:
    return fl.perplexity(logits, target)


def run_torchmetrics(logits: torch.Tensor, target: torch.Tensor) -> float:
    metric = TorchmetricsPerplexity()
    metric.update(logits, target)
    return metric.compute().item()


def main() -> None:
    torch.manual_seed(0)
    logits = torch.randn(*SHAPE) * 3  # (B, T, V): 412 MB in float32
    target = torch.randint(0, SHAPE[-1], SHAPE[:2])
    candidates = {"forge_lib": run_forge, "torchmetrics": run_torchmetrics}
    values = {name: fn(logits, target) for name, fn in candidates.items()}  # warm-up
    times: dict[str, list[float]] = {name: [] for name in candidates}
    extra_mb: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(REPEATS):  # interleaved: a burst of load elsewhere hits both alike
        for name, fn in candidates.items():
            with fl.MemoryTracker(name, device="cpu") as mem, fl.Timer(name, device="cpu") as clock:
                fn(logits, target)
            times[name].append(clock.elapsed_s)
            extra_mb[name].append(mem.process_peak_mb)
    t = {name: statistics.median(v) for name, v in times.items()}
    m = {name: statistics.median(v) for name, v in extra_mb.items()}
    print(f"logits {SHAPE}, float32: {fl.logits_nbytes(*SHAPE) / 1e6:.1f} MB; "
          f"{REPEATS} interleaved runs after one warm-up; {torch.get_num_threads()} threads")
    for name in candidates:
        print(f"{name:>12}: perplexity {values[name]:.6g}, median {t[name]:.3f} s "
              f"(runs {', '.join(f'{x:.3f}' for x in times[name])}), "
              f"extra peak {m[name]:.1f} MB (runs {', '.join(f'{x:.0f}' for x in extra_mb[name])})")
    rel = abs(values["forge_lib"] - values["torchmetrics"]) / values["forge_lib"]
    print(f"agreement: relative difference {rel:.2e}")
    time_ratio = t["forge_lib"] / t["torchmetrics"]
    mem_ratio = m["forge_lib"] / m["torchmetrics"]
    print(f"time ratio forge_lib / torchmetrics = {time_ratio:.3f} (target <= 0.4: "
          f"{'met' if time_ratio <= 0.4 else 'NOT met'})")
    print(f"extra peak memory ratio forge_lib / torchmetrics = {mem_ratio:.3f} (target <= 0.2: "
          f"{'met' if mem_ratio <= 0.2 else 'NOT met'})")


if __name__ == "__main__":
    main()
