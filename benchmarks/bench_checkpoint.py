"""What atomic, verified checkpointing costs: fl.atomic_save and fl.save_verified against a plain
torch.save, and fl.BestCheckpoint's update with and without a last checkpoint.

    python benchmarks/bench_checkpoint.py

Saves the full training state of the course's tiny model (weights, AdamW state, scheduler,
random states: about 6 MB) with a plain torch.save onto the final path, with fl.atomic_save
(temporary file, fsync, os.replace), with fl.save_verified (the same plus a SHA-256 of the
contents), and through BestCheckpoint.update on an improving metric, with and without `last=`
(two verified files per update instead of one), interleaved, and prints the median times and
their ratios. The fsync is most of the atomic save's extra cost: it waits for the disk, which is
the point (a rename of a file whose bytes are not yet on disk is not crash-safe).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch

import forge_lib as fl

REPEATS = 15


def main() -> None:
    torch.set_num_threads(1)
    state = fl.make_state(fl.TrainConfig(steps=1))
    fl.run_training(state)  # one step, so the optimizer has its moment estimates
    blob = {"model": state.model.state_dict(), "optimizer": state.optimizer.state_dict(),
            "scheduler": state.scheduler.state_dict(), "rng": fl.capture_rng_state(state.generator)}
    folder = Path(tempfile.mkdtemp(prefix="bench_checkpoint_"))
    best_only = fl.BestCheckpoint(folder / "best_only.pt")
    best_last = fl.BestCheckpoint(folder / "best.pt", last=folder / "last.pt")
    step = iter(range(1, 10**6))  # a falling metric: every update is an improvement

    def update(ckpt: fl.BestCheckpoint) -> None:
        s = next(step)
        ckpt.update(-s, step=s, **state.objects())

    writers = {"torch.save": lambda: torch.save(blob, folder / "plain.pt"),
               "fl.atomic_save": lambda: fl.atomic_save(blob, folder / "atomic.pt"),
               "fl.save_verified": lambda: fl.save_verified(blob, folder / "verified.pt"),
               "update, best only": lambda: update(best_only),
               "update, best+last": lambda: update(best_last)}
    for write in writers.values():  # warm-up
        write()
    times: dict[str, list[float]] = {name: [] for name in writers}
    for _ in range(REPEATS):
        for name, write in writers.items():
            started = time.perf_counter()
            write()
            times[name].append(time.perf_counter() - started)
    size = (folder / "atomic.pt").stat().st_size
    median = {name: statistics.median(v) for name, v in times.items()}
    print(f"checkpoint of {size / 1e6:.2f} MB, {REPEATS} interleaved saves after a warm-up")
    for name, t in median.items():
        print(f"{name:>18}: median {1e3 * t:7.2f} ms (min {1e3 * min(times[name]):.2f}, "
              f"max {1e3 * max(times[name]):.2f})")
    print(f"ratio atomic / plain = {median['fl.atomic_save'] / median['torch.save']:.2f}")
    print(f"ratio verified / atomic = {median['fl.save_verified'] / median['fl.atomic_save']:.2f}")
    print(f"ratio best+last / best only = "
          f"{median['update, best+last'] / median['update, best only']:.2f}")
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()


if __name__ == "__main__":
    main()
