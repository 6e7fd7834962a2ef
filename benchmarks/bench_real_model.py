"""The real assets' costs on this machine: loading SmolLM2 and FID's Inception, one forward pass
of SmolLM2 per window length in float32 and float64 (and how far the two perplexities end
apart), and the real Inception's images per second at 299 px. Notebook 17's and 13's budgets
come from these figures.

    python benchmarks/bench_real_model.py
"""

import time

import torch

import forge_lib as fl


def seconds(fn, repeat: int = 3) -> float:
    """The median wall time of fn() over `repeat` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main() -> None:
    torch.manual_seed(0)
    start = time.perf_counter()
    model, tok = fl.load_smollm2()
    print(f"SmolLM2: tokenizer and model loaded in {time.perf_counter() - start:.1f} s "
          f"({torch.get_num_threads()} threads)")
    ids = tok(fl.load_play("hamlet"), return_tensors="pt").input_ids  # (1, 55,480)
    for length in (128, 256, 512):
        window = ids[:, :length]
        with torch.no_grad():
            t32 = seconds(lambda w=window: model(w))
            ppl32 = fl.perplexity(*fl.shift_for_causal_lm(model(window).logits, window))
            model.to(torch.float64)  # in place: the same module, its weights now float64
            t64 = seconds(lambda w=window: model(w), repeat=1)
            ppl64 = fl.perplexity(*fl.shift_for_causal_lm(model(window).logits, window))
            model.to(torch.float32)
        print(f"  {length:>4} tokens: float32 {t32:.2f} s ({length / t32:.0f} tokens/s), float64 "
              f"{t64:.2f} s ({t64 / t32:.2f}x); perplexity {ppl32:.7g} vs {ppl64:.7g} "
              f"(relative {abs(ppl32 / ppl64 - 1):.1e})")

    start = time.perf_counter()
    inception = fl.load_fid_inception()
    print(f"FID's Inception: loaded in {time.perf_counter() - start:.2f} s")
    images = torch.rand(8, 3, 299, 299) * 255
    with torch.no_grad():
        t = seconds(lambda: inception((images - 128) / 128), repeat=1)
    print(f"  8 images at 299 px: {t:.2f} s, {8 / t:.1f} images/s")


if __name__ == "__main__":
    main()
