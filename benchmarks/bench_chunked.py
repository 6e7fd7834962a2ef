"""Peak memory of evaluation against sequence length: chunked from hidden states vs full logits.

    python benchmarks/bench_chunked.py

Hidden states (1, T, 96) and an LM head of GPT-2's vocabulary (50,257 x 96) exist before each
measurement; fl.MemoryTracker reports what each path needs on top of them. The full path
materialises hidden @ weight.T, (1, T, 50,257), then scores it with fl.nll_sum_and_count; the
chunked path is fl.chunked_nll_sum_and_count with chunk_tokens = 256 (51 MB of logits a chunk).
Run twice: with glibc's default allocator settings, and with its mmap threshold fixed at 1 MB,
which stops the heap from keeping freed temporaries resident (that part of RSS is the
allocator's, not the computation's).
Target from the issue: the chunked peak at T = 4,096 within 1.2x of its peak at T = 512, while
the full computation's grows with T. Also prints how far the two results agree.
"""

from __future__ import annotations

import statistics

import torch

import forge_lib as fl

VOCAB, D_MODEL, CHUNK = 50_257, 96, 256
LENGTHS = (512, 1024, 2048, 4096)
REPEATS = 3


def full(hidden, weight, target):
    return fl.nll_sum_and_count(hidden @ weight.T, target)  # (1, T, V) logits, then the NLL


def chunked(hidden, weight, target):
    return fl.chunked_nll_sum_and_count(hidden, weight, target, chunk_tokens=CHUNK)


def run(weight: torch.Tensor, allocator: str) -> None:
    gen = torch.Generator().manual_seed(1)
    paths = {"full": full, "chunked": chunked}
    peaks: dict[str, dict[int, float]] = {name: {} for name in paths}
    times: dict[str, dict[int, float]] = {name: {} for name in paths}
    print(f"\nallocator: {allocator}; V = {VOCAB:,}, D = {D_MODEL}, B = 1, chunk_tokens = "
          f"{CHUNK}; extra peak MB above the inputs, median of {REPEATS} interleaved runs")
    warm = torch.randn(1, CHUNK, D_MODEL), torch.randint(0, VOCAB, (1, CHUNK))
    for fn in paths.values():  # unmeasured: first calls allocate buffers libraries keep
        fn(warm[0], weight, warm[1])
    print(f"{'T':>6} {'logits MB':>10} {'full MB':>9} {'chunked MB':>11} {'full s':>8} "
          f"{'chunked s':>10} {'rel. diff':>10}")
    for seq_len in LENGTHS:
        hidden = torch.randn(1, seq_len, D_MODEL, generator=gen)             # (1, T, D)
        target = torch.randint(0, VOCAB, (1, seq_len), generator=gen)         # (1, T)
        results, mem, sec = {}, {name: [] for name in paths}, {name: [] for name in paths}
        for _ in range(REPEATS):
            for name, fn in paths.items():
                with fl.MemoryTracker(name, device="cpu") as tracker, \
                        fl.Timer(name, device="cpu") as clock:
                    results[name] = fn(hidden, weight, target)
                mem[name].append(tracker.process_peak_mb)
                sec[name].append(clock.elapsed_s)
        for name in paths:
            peaks[name][seq_len] = statistics.median(mem[name])
            times[name][seq_len] = statistics.median(sec[name])
        (a, n_a), (b, n_b) = results["full"], results["chunked"]
        assert n_a == n_b == seq_len
        rel = abs(a.item() - b.item()) / abs(a.item())
        print(f"{seq_len:>6} {fl.logits_nbytes(1, seq_len, VOCAB) / 1e6:>10.1f} "
              f"{peaks['full'][seq_len]:>9.1f} {peaks['chunked'][seq_len]:>11.1f} "
              f"{times['full'][seq_len]:>8.3f} {times['chunked'][seq_len]:>10.3f} {rel:>10.1e}")
    lo, hi = LENGTHS[0], LENGTHS[-1]
    chunk_ratio = peaks["chunked"][hi] / peaks["chunked"][lo]
    full_ratio = peaks["full"][hi] / peaks["full"][lo]
    print(f"chunked peak T={hi:,} / T={lo}: {chunk_ratio:.3f} (target <= 1.2: "
          f"{'met' if chunk_ratio <= 1.2 else 'NOT met'})")
    print(f"full peak    T={hi:,} / T={lo}: {full_ratio:.3f} (grows with T: "
          f"{'yes' if full_ratio > 1.2 else 'no'})")
    print(f"at T={hi:,} the chunked path needs {peaks['chunked'][hi] / peaks['full'][hi]:.3f} of "
          f"the full path's extra memory")


def main() -> None:
    weight = torch.randn(VOCAB, D_MODEL, generator=torch.Generator().manual_seed(0))
    weight /= D_MODEL ** 0.5  # (V, D)
    run(weight, "glibc defaults (dynamic mmap threshold)")
    # Fixed threshold: freed blocks of 1 MB and more go back to the OS instead of staying in
    # the heap, so RSS follows the live tensors (see fl.fix_mmap_threshold). Lasts from here on.
    if fl.fix_mmap_threshold(1 << 20):
        run(weight, "mmap threshold fixed at 1 MB")


if __name__ == "__main__":
    main()
