"""What the SHA-256 of fl.save_verified / fl.load_verified costs on a large checkpoint.

    python benchmarks/bench_checksum.py [megabytes]

Writes a float32 state dict of about 200 MB (by default) in 50 tensors and times, interleaved:
saving with fl.atomic_save (temporary file, fsync, rename) against fl.save_verified (the same
plus a SHA-256 of every tensor's bytes), and loading with torch.load(weights_only=True) against
fl.load_verified (the same plus recomputing the SHA-256), and, for comparison, zipfile's
testzip(), which checks the CRC-32 that torch.save already stores for every record and that
torch.load never reads. Prints the median of each and the ratio. Timings, not tests: they depend
on the disk, the page cache and the CPU, so they are printed here and never compared.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import torch

import forge_lib as fl

REPEATS = 5


def main(megabytes: int = 200) -> None:
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    per_tensor = megabytes * 10**6 // 4 // 50  # float32 elements per tensor
    payload = {"format": "bench/1",
               "model": {f"w{i}": torch.randn(per_tensor, generator=gen) for i in range(50)}}
    folder = Path(tempfile.mkdtemp(prefix="bench_checksum_"))
    plain, verified = folder / "plain.pt", folder / "verified.pt"
    tasks = {
        "save: fl.atomic_save": lambda: fl.atomic_save(payload, plain),
        "save: fl.save_verified": lambda: fl.save_verified(payload, verified),
        "load: torch.load": lambda: torch.load(plain, weights_only=True),
        "load: fl.load_verified": lambda: fl.load_verified(verified, "bench/1", "bench", "bench"),
        "check: zipfile testzip (CRC-32)": lambda: zipfile.ZipFile(plain).testzip(),
    }
    times: dict[str, list[float]] = {name: [] for name in tasks}
    for task in tasks.values():  # warm-up: files exist, page cache filled
        task()
    for _ in range(REPEATS):
        for name, task in tasks.items():  # interleaved, so drifts in load hit all alike
            start = time.perf_counter()
            task()
            times[name].append(time.perf_counter() - start)
    size = plain.stat().st_size / 1e6
    print(f"checkpoint of {size:.0f} MB, median of {REPEATS} (1 thread):")
    med = {name: statistics.median(t) for name, t in times.items()}
    for name, value in med.items():
        print(f"  {name:<34} {value:6.2f} s")
    print(f"SHA-256 on save: x{med['save: fl.save_verified'] / med['save: fl.atomic_save']:.2f}"
          f" (+{med['save: fl.save_verified'] - med['save: fl.atomic_save']:.2f} s); on load:"
          f" x{med['load: fl.load_verified'] / med['load: torch.load']:.2f}"
          f" (+{med['load: fl.load_verified'] - med['load: torch.load']:.2f} s)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
