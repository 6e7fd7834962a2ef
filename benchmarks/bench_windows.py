"""Sliding-window evaluation: time against stride, measured side by side in one run.

    python benchmarks/bench_windows.py

The committed tiny model (context 128) scores the first 300 validation sentences as one stream
(about 2,900 ids) at strides 128 down to 1. For each stride it prints the number of windows,
the token positions the model processes (windows x context), the median time of interleaved
runs, and both as ratios to stride 128: the time ratio should follow the positions ratio,
which is the cost model notebook 12 uses.
"""

from __future__ import annotations

import statistics
import time

import torch

import forge_lib as fl

STRIDES = (128, 32, 8, 2, 1)
REPEATS = 3


def main() -> None:
    torch.set_num_threads(1)
    model, _ = fl.load_tiny_model()
    stream = fl.token_stream(fl.course_split("val")[:300])
    times: dict[int, list[float]] = {s: [] for s in STRIDES}
    for s in STRIDES:  # warm-up
        fl.sliding_window_perplexity(model, stream, context=128, stride=s)
    for _ in range(REPEATS):  # interleaved, so a burst of load elsewhere hits every stride alike
        for s in STRIDES:
            started = time.perf_counter()
            fl.sliding_window_perplexity(model, stream, context=128, stride=s)
            times[s].append(time.perf_counter() - started)
    base_windows = len(fl.window_spans(len(stream), context=128, stride=STRIDES[0]))
    base_time = statistics.median(times[STRIDES[0]])
    print(f"{len(stream):,} ids, context 128, {REPEATS} interleaved runs, 1 thread")
    print(f"{'stride':>6} {'windows':>8} {'positions':>10} {'median s':>9} "
          f"{'positions x':>12} {'time x':>7}")
    for s in STRIDES:
        windows = len(fl.window_spans(len(stream), context=128, stride=s))
        median = statistics.median(times[s])
        print(f"{s:>6} {windows:>8} {windows * 128:>10,} {median:>9.3f} "
              f"{windows / base_windows:>12.1f} {median / base_time:>7.1f}")


if __name__ == "__main__":
    main()
