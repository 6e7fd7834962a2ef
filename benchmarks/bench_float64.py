"""What float64 training costs, and what it buys: notebook 09's healthy run in both precisions.

    python benchmarks/bench_float64.py

Prints the time of each precision (median of 3 runs, side by side in one process) and their
ratio, and how far the float32 and float64 runs end apart. Run it under another kernel setting
(README, "How the outputs are tested") and compare the printed final losses: the float64 ones
agree to about 14 digits, the float32 ones in 3 or 4.
"""

import statistics
import time

import torch

import forge_lib as fl

torch.set_num_threads(1)  # as notebooks 09 and 11 train
SMALL = fl.ModelConfig(vocab_size=258, n_layer=1, n_head=2, d_model=48, d_ff=192)
BASE = fl.TrainConfig(lr=3e-3, steps=300, batch_size=16, n_val=200, eval_every=20, model=SMALL)


def timed(dtype: torch.dtype) -> tuple[float, float]:
    started = time.perf_counter()
    run = fl.train_tiny(BASE, dtype=dtype)
    return time.perf_counter() - started, run.history["val_loss"][-1]


def main() -> None:
    times = {torch.float32: [], torch.float64: []}
    final = {}
    for _ in range(3):
        for dtype in times:  # interleaved, so both see the same machine load
            seconds, final[dtype] = timed(dtype)
            times[dtype].append(seconds)
    for dtype, values in times.items():
        print(f"{str(dtype):<14} {statistics.median(values):6.2f} s a run, "
              f"final validation loss {final[dtype]!r}")
    ratio = statistics.median(times[torch.float64]) / statistics.median(times[torch.float32])
    print(f"float64 / float32 time: {ratio:.2f}x")
    print(f"float32 - float64 final validation loss: {final[torch.float32] - final[torch.float64]:.2e}")


if __name__ == "__main__":
    main()
