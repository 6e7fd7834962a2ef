"""The topic language's exact context curve F(c): how long it takes, and what it says.

    python benchmarks/bench_topics.py

On the validation split (fl.topic_split("val"), 1,000 documents) it times F(c) for every c
from 0 to the longest document in one call (fl.TopicLanguage.context_curve) against scoring the
same split once per c with token_nll (the cost of doing it naively, measured on a few c and
scaled to all of them), then prints F(c) at a few c, the exact floors, the n-gram baselines
fitted on the training split, and the true model's bits per byte under word and character
tokenization. Median of interleaved runs, 1 thread.
"""

from __future__ import annotations

import math
import statistics
import time

import torch

import forge_lib as fl

REPEATS = 3
SHOWN = (0, 1, 2, 4, 8, 16, 32, 64, 128)


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    torch.set_num_threads(1)
    lang = fl.topic_language()
    val = fl.topic_split("val")
    n_max = max(len(d) for d in val)
    probe = (1, 16, 128)
    curve_s, naive_s = [], []
    for _ in range(REPEATS):  # interleaved, so a burst of load elsewhere hits both alike
        curve_s.append(_timed(lambda: lang.context_curve(val)))
        naive_s.append(sum(_timed(lambda c=c: lang.token_nll(val, c)) for c in probe)
                       / len(probe) * n_max)
    curve = lang.context_curve(val)
    targets = sum(len(d) - 1 for d in val)
    print(f"{len(val):,} documents, {targets:,} targets, longest {n_max} ids; "
          f"{REPEATS} interleaved runs, 1 thread")
    print(f"F(c) for all {len(curve)} c in one call: {statistics.median(curve_s):.2f} s; "
          f"token_nll once per c: {statistics.median(naive_s):.1f} s (from c = {probe}); "
          f"ratio {statistics.median(naive_s) / statistics.median(curve_s):.1f}x")
    print(f"{'c':>6} {'F(c) nats':>10} {'perplexity':>11}")
    for c in SHOWN:
        print(f"{c:>6} {float(curve[c]):>10.4f} {math.exp(float(curve[c])):>11.3f}")
    print(f"{'full':>6} {float(curve[-1]):>10.4f} {math.exp(float(curve[-1])):>11.3f}")
    low, high = lang.full_context_bounds()
    print(f"exact: F(0) expected {lang.unigram_entropy():.4f}; entropy rate given the topic "
          f"{low:.4f} (perplexity {math.exp(low):.3f}); expected full-history NLL in "
          f"[{low:.4f}, {high:.4f}]")
    started = time.perf_counter()
    ngrams = fl.ngram_baselines(fl.topic_split("train"), val, len(lang.tokenizer))
    print(f"n-gram baselines (train split, interpolated Kneser-Ney d = 0.75, "
          f"{time.perf_counter() - started:.1f} s): "
          + ", ".join(f"{n}-gram {v:.4f} (ppl {math.exp(v):.3f})" for n, v in ngrams.items()))
    started = time.perf_counter()
    words, letters = lang.token_nll(val), fl.char_token_nll(lang, val)
    n_bytes = fl.count_bytes(lang.tokenizer, val)
    print(f"true model, {n_bytes:,} bytes ({time.perf_counter() - started:.1f} s): words "
          f"{len(words):,} tokens, ppl {fl.ppl_from_sum(float(words.sum()), len(words)):.3f}, "
          f"bits/byte {fl.bits_per_byte(float(words.sum()), n_bytes):.6f}; characters "
          f"{len(letters):,} tokens, ppl {fl.ppl_from_sum(float(letters.sum()), len(letters)):.4f}, "
          f"bits/byte {fl.bits_per_byte(float(letters.sum()), n_bytes):.6f}; "
          f"{n_bytes / len(words):.3f} bytes per word token")


if __name__ == "__main__":
    main()
