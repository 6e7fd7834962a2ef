"""Rebuild the committed checkpoint: `python -m forge_lib.train` (a few minutes on 2 CPU cores).

Trains TinyCausalLM on the course language's "train" split with fixed seeds and deterministic
algorithms, evaluates it on the "val" split, and writes data/tiny_lm.pt and data/MODEL_CARD.md.
The same machine type and library versions give the same weights; other CPUs may differ in the
last bits, and the card's perplexity (4 significant digits) is what the tests check.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch

from forge_lib.data import SPLITS, collate, course_split, english_like_language
from forge_lib.model import (
    CHECKPOINT_PATH,
    DATA_DIR,
    ModelConfig,
    TinyCausalLM,
    cosine_lr,
    count_parameters,
    evaluate_lm,
    save_checkpoint,
)
from forge_lib.text import shift_for_causal_lm

SEED = 0
HPARAMS = {"steps": 2500, "batch_size": 64, "peak_lr": 3e-3, "warmup": 100,
           "weight_decay": 0.01, "grad_clip": 1.0}


def train(steps: int, log_every: int = 250) -> tuple[TinyCausalLM, dict]:
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    lang = english_like_language()
    train_set = course_split("train")
    model = TinyCausalLM(ModelConfig(vocab_size=len(lang.tokenizer)))
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": HPARAMS["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}], lr=HPARAMS["peak_lr"])
    gen = torch.Generator().manual_seed(SEED)
    order = torch.randperm(len(train_set), generator=gen).tolist()
    cursor, started = 0, time.perf_counter()
    for step in range(steps):
        if cursor + HPARAMS["batch_size"] > len(order):  # new epoch, new shuffle
            order, cursor = torch.randperm(len(train_set), generator=gen).tolist(), 0
        batch = collate([train_set[i] for i in order[cursor:cursor + HPARAMS["batch_size"]]])
        cursor += HPARAMS["batch_size"]
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, steps, HPARAMS["peak_lr"], HPARAMS["warmup"])
        logits, target = shift_for_causal_lm(model(batch["input_ids"]), batch["labels"])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                 target.reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), HPARAMS["grad_clip"])
        opt.step()
        if (step + 1) % log_every == 0:
            print(f"step {step + 1:5d}  loss {loss.item():.4f}  "
                  f"{time.perf_counter() - started:6.1f} s", flush=True)
    val = evaluate_lm(model, course_split("val"))
    card = {"seed": SEED, **HPARAMS, "steps": steps, "parameters": count_parameters(model),
            "train_sentences": SPLITS["train"][0], "train_seed": SPLITS["train"][1],
            "val_sentences": SPLITS["val"][0], "val_seed": SPLITS["val"][1],
            "val_tokens": val["tokens"], "val_nll_sum": val["nll_sum"],
            "val_perplexity": val["perplexity"], "floor_perplexity": lang.floor_perplexity(),
            "torch_version": torch.__version__.split("+")[0],
            "vocab_words": len(lang.tokenizer) - 4}
    return model, card


def write_model_card(card: dict, path: Path) -> None:
    oracle_nll, oracle_n = english_like_language().true_nll_sum_and_count(course_split("val"))
    gap = card["val_perplexity"] / card["floor_perplexity"] - 1
    cfg = ModelConfig(vocab_size=0)
    path.write_text(f"""# Model card: tiny_lm.pt

A tiny causal transformer trained on the course's synthetic English-like language
(`forge_lib.data.english_like_language()`, a first-order Markov chain over {card["vocab_words"]} words
plus 4 special tokens). Used by the notebooks wherever training is not the point.

| | |
|---|---|
| architecture | `forge_lib.model.TinyCausalLM`: {cfg.n_layer} pre-norm layers, {cfg.n_head} heads, \
d_model {cfg.d_model}, MLP {cfg.d_ff}, context {cfg.block_size}, tied embedding |
| parameters | {card['parameters']:,} |
| data | train split: {card['train_sentences']:,} sentences (seed {card['train_seed']}); \
validation: {card['val_sentences']:,} sentences (seed {card['val_seed']}), \
{card['val_tokens']:,} predicted tokens |
| training | {card['steps']} steps of AdamW, batch {card['batch_size']} sentences, peak lr \
{card['peak_lr']}, warm-up {card['warmup']}, cosine to 10%, weight decay \
{card['weight_decay']}, gradient clip {card['grad_clip']}, seed {card['seed']}, \
torch {card['torch_version']} on CPU |
| loss | token-mean cross-entropy, labels shifted, padding ignored (-100) |
| validation perplexity | **{card['val_perplexity']:.4g}** |
| exact floor (entropy rate) | **{card['floor_perplexity']:.4g}** \
(exp of {math.log(card['floor_perplexity']):.4f} nats per token) |
| true model on the same validation sentences | {math.exp(oracle_nll / oracle_n):.4g} |
| gap to the floor | {100 * gap:.1f}% |

The floor is the exact entropy rate of the language (`lang.floor_perplexity()`); the true
model's perplexity on the finite validation sample scatters around it.

## Rebuild

```
python -m forge_lib.train
```

Deterministic on the same machine type and library versions (fixed seeds,
`torch.use_deterministic_algorithms(True)`); a few minutes on 2 CPU cores. Load with
`fl.load_tiny_model()`, which calls `torch.load(..., weights_only=True)` and checks the format.
`tests/test_model.py` checks that the committed checkpoint reproduces the validation perplexity
above.
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=HPARAMS["steps"])
    parser.add_argument("--out", type=Path, default=CHECKPOINT_PATH)
    args = parser.parse_args()
    torch.set_num_threads(2)
    model, card = train(args.steps)
    save_checkpoint(model, args.out, card)
    write_model_card(card, DATA_DIR / "MODEL_CARD.md" if args.out == CHECKPOINT_PATH
                     else args.out.with_suffix(".md"))
    print(f"validation perplexity {card['val_perplexity']:.4g} "
          f"(floor {card['floor_perplexity']:.4g})")


if __name__ == "__main__":
    main()
