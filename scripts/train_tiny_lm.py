"""Rebuild a committed checkpoint: `python scripts/train_tiny_lm.py [--model word|topic|char]`.

word (default): TinyCausalLM on the course language's "train" split, one sentence per row;
writes data/tiny_lm.pt and data/MODEL_CARD.md. topic: the same architecture on packed windows
of the topic language's documents; writes data/topic_lm.pt and data/TOPIC_LM_CARD.md. char: on
packed windows of the course sentences in characters; writes data/char_lm.pt and
data/CHAR_LM_CARD.md. A few minutes each on 2 CPU cores, with fixed seeds and deterministic
algorithms. The same machine type and library versions give the same weights; other CPUs may
differ in the last bits, and the cards' figures (4 significant digits) are what the tests check.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import replace
from pathlib import Path

import torch

from forge_lib.course.chars import CharTokenizer, char_documents, char_token_nll
from forge_lib.course.language import BOS_ID, SPLITS, count_bytes, course_split, english_like_language
from forge_lib.course.model import (
    CHAR_CHECKPOINT_PATH,
    CHECKPOINT_PATH,
    DATA_DIR,
    TOPIC_CHECKPOINT_PATH,
    ModelConfig,
    count_parameters,
    load_checkpoint,
    save_checkpoint,
)
from forge_lib.course.topics import TOPIC_SPLITS, TopicLanguage, topic_language, topic_split
from forge_lib.course.training import (
    CHAR_LM_RUN,
    TINY_LM_RUN,
    TOPIC_LM_RUN,
    TrainConfig,
    TrainState,
    token_stream,
    train_tiny,
)
from forge_lib.metrics.evaluation import evaluate_lm
from forge_lib.metrics.text import bits_per_byte, ppl_from_sum
from forge_lib.metrics.uncertainty import compare_perplexities, sequence_nll
from forge_lib.metrics.windows import sliding_window_nll


def _log_progress(every: int, started: float):
    def callback(state: TrainState, record: dict) -> None:
        if record["step"] % every == 0:
            print(f"step {record['step']:5d}  loss {record['train_loss']:.4f}  "
                  f"{time.perf_counter() - started:6.1f} s", flush=True)
    return callback


def train(run: TrainConfig, steps: int, log_every: int = 250) -> tuple[torch.nn.Module, dict]:
    """Train `run` for `steps` steps; the card's common facts (how it was trained)."""
    torch.use_deterministic_algorithms(True)
    config = replace(run, steps=steps, eval_every=steps)
    started = time.perf_counter()
    model = train_tiny(config, callback=_log_progress(log_every, started)).model
    card = {"seed": config.seed, "steps": steps, "batch_size": config.batch_size,
            "peak_lr": config.lr, "warmup": config.warmup, "weight_decay": config.weight_decay,
            "grad_clip": config.grad_clip, "parameters": count_parameters(model),
            "corpus": config.corpus, "packed": config.packed or 0,
            "train_seconds": round(time.perf_counter() - started, 1),
            "torch_version": torch.__version__.split("+")[0]}
    return model, card


def word_facts(model: torch.nn.Module) -> dict:
    """data/tiny_lm.pt's evaluation: the validation split, one sentence at a time."""
    val = evaluate_lm(model, course_split("val"))
    lang = english_like_language()
    return {"train_sentences": SPLITS["train"][0], "train_seed": SPLITS["train"][1],
            "val_sentences": SPLITS["val"][0], "val_seed": SPLITS["val"][1],
            "val_tokens": val["tokens"], "val_nll_sum": val["nll_sum"],
            "val_perplexity": val["perplexity"], "floor_perplexity": lang.floor_perplexity(),
            "vocab_words": len(lang.tokenizer) - 4}


def stream_nll(model: torch.nn.Module, documents: list[list[int]], stride: int) -> tuple[float, int]:
    """The model's NLL on the documents as one stream, context 128, <bos> targets skipped."""
    nll, count = sliding_window_nll(model, token_stream(documents), context=128, stride=stride,
                                    ignore_index=BOS_ID)
    return float(nll), count


def topic_facts(model: torch.nn.Module) -> dict:
    """data/topic_lm.pt's evaluation: the val documents as one stream, against the exact best
    predictor under the same protocol (stride 1: every target sees 128 tokens; stride 128:
    non-overlapping chunks) and with the whole history."""
    lang, docs = topic_language(), topic_split("val")
    facts = {"train_documents": TOPIC_SPLITS["train"][0], "train_seed": TOPIC_SPLITS["train"][1],
             "val_documents": TOPIC_SPLITS["val"][0], "val_seed": TOPIC_SPLITS["val"][1],
             "exact_full_history_nll": float(lang.token_nll(docs).mean())}
    for stride in (1, 128):
        nll, count = stream_nll(model, docs, stride)
        facts[f"val_nll_stride_{stride}"] = nll / count
        facts[f"exact_nll_stride_{stride}"] = float(lang.window_nll(docs, context=128,
                                                                    stride=stride).mean())
    facts["val_targets"] = count
    return facts


def char_facts(model: torch.nn.Module) -> dict:
    """data/char_lm.pt's evaluation: the validation sentences in characters as one stream
    (context 128, stride 64), in bits per byte beside the word model and the true model."""
    lang, val = english_like_language(), course_split("val")
    n_bytes = count_bytes(lang.tokenizer, val)
    nll, count = stream_nll(model, char_documents(lang.tokenizer, val)[1], stride=64)
    true_nll = float(char_token_nll(TopicLanguage.from_markov(lang), val).sum())
    word_card = load_checkpoint(CHECKPOINT_PATH)[1]
    return {"val_sentences": SPLITS["val"][0], "val_targets": count, "val_bytes": n_bytes,
            "val_nll_sum": nll, "val_perplexity": ppl_from_sum(nll, count),
            "bits_per_byte": bits_per_byte(nll, n_bytes),
            "true_bits_per_byte": bits_per_byte(true_nll, n_bytes),
            "true_char_perplexity": ppl_from_sum(true_nll, count),
            "word_model_bits_per_byte": bits_per_byte(word_card["val_nll_sum"], n_bytes),
            "word_model_perplexity": word_card["val_perplexity"]}


def write_model_card(model: torch.nn.Module, card: dict, path: Path) -> None:
    lang, val = english_like_language(), course_split("val")
    oracle_nll, oracle_n = lang.true_nll_sum_and_count(val)
    oracle_ppl = ppl_from_sum(oracle_nll, oracle_n)
    gap = card["val_perplexity"] / card["floor_perplexity"] - 1
    # The honest headline: the gap to the true model on the same sentences, paired (notebook 01,
    # section 4). The gap to the floor also holds how hard this sample happens to be.
    model_nll, targets = sequence_nll(model, val)  # per sentence: (4000,), (4000,)
    paired = compare_perplexities(model_nll, lang.true_nll_per_sentence(val), targets)
    cfg = ModelConfig(vocab_size=card["vocab_words"] + 4)  # the architecture: ModelConfig defaults
    path.write_text(f"""# Model card: tiny_lm.pt

A tiny causal transformer trained on the course's synthetic English-like language
(`forge_lib.data.english_like_language()`, a first-order Markov chain over {card["vocab_words"]} words
plus 4 special tokens). Used by the notebooks wherever training is not the point.

| | |
|---|---|
| architecture | `forge_lib.course.model.TinyCausalLM`: {cfg.n_layer} pre-norm layers, {cfg.n_head} heads, \
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
| true model on the same validation sentences | {oracle_ppl:.4g} \
({100 * (oracle_ppl / card['floor_perplexity'] - 1):.1f}% above the floor: \
this sample is harder than average) |
| gap to the true model, same sentences (paired) | **{100 * (paired.point - 1):.1f}%** \
(95% interval {100 * (paired.low - 1):.1f}% to {100 * (paired.high - 1):.1f}%, \
`fl.compare_perplexities`) |
| gap to the floor | {100 * gap:.1f}% (sample and model together) |

The floor is the exact entropy rate of the language (`lang.floor_perplexity()`): an expectation.
The true model's perplexity on a finite sample scatters around it (the validation sample's 4,000
sentences are a little harder than average), so the model's own excess is its paired gap to the
true model on the same sentences, not its gap to the floor.

## Rebuild

```
python scripts/train_tiny_lm.py              # train, save data/tiny_lm.pt, write this card
python scripts/train_tiny_lm.py --card-only  # rewrite this card from the committed checkpoint
```

The run is `fl.train_tiny` (the course's one training loop, as notebooks 09 and 11 use it) with
the settings `TINY_LM_RUN` in `forge_lib/course/training.py`: shuffled epochs over the train
split, PyTorch's default initialisation, float32. Deterministic for the same CPU kernels and
library versions (fixed seeds, `torch.use_deterministic_algorithms(True)`); a few minutes on 2
CPU cores. Float32 training is not bit-reproducible across CPUs: elsewhere the weights differ in
their last bits, which grow over the 2,500 steps, and the validation perplexity agrees to about
4 digits. Load with `fl.load_tiny_model()`, which calls `torch.load(..., weights_only=True)`,
checks the format, verifies the SHA-256 of the contents recorded at saving, and checks the
config against the weights before building the model. The checkpoint lives in the course
checkout, not in the package: a non-editable `pip install .` does not contain it, and there
`fl.load_tiny_model()` raises a FileNotFoundError saying where it looked; pass
`fl.load_tiny_model(path=...)` to a copy of this file. `tests/course/test_model.py` checks that
the committed checkpoint reproduces the validation perplexity above.
""")


def _training_row(card: dict, unit: str) -> str:
    return (f"| training | {card['steps']} steps of AdamW, batch {card['batch_size']} {unit}, peak "
            f"lr {card['peak_lr']}, warm-up {card['warmup']}, cosine to 10%, weight decay "
            f"{card['weight_decay']}, gradient clip {card['grad_clip']}, GPT-2 initialisation "
            f"(N(0, 0.02)), seed {card['seed']}, float32, torch {card['torch_version']} on CPU; "
            f"{card['train_seconds']:.0f} s on 2 CPU cores |")


def _rebuild(flag: str, run: str, path: str, test: str) -> str:
    return f"""## Rebuild

```
python scripts/train_tiny_lm.py --model {flag}              # train, save {path}, write this card
python scripts/train_tiny_lm.py --model {flag} --card-only  # rewrite this card from the checkpoint
```

The run is `fl.train_tiny`, the course's one training loop, with the settings `{run}` in
`forge_lib/course/training.py`. Deterministic for the same CPU kernels and library versions
(fixed seeds, `torch.use_deterministic_algorithms(True)`); float32 training is not
bit-reproducible across CPUs, so a rebuild elsewhere agrees to about 4 digits. The checkpoint
has the format and SHA-256 check of data/tiny_lm.pt. `{test}` checks that the committed
checkpoint reproduces the figures above.
"""


def write_topic_card(_model: torch.nn.Module, card: dict, path: Path) -> None:
    cfg = ModelConfig(vocab_size=len(topic_language().tokenizer))
    gaps = {s: 100 * (math.exp(card[f"val_nll_stride_{s}"] - card[f"exact_nll_stride_{s}"]) - 1)
            for s in (1, 128)}
    path.write_text(f"""# Model card: topic_lm.pt

A tiny causal transformer trained on the course's topic language (`fl.topic_language()`:
documents of several sentences that share a hidden topic, so the best prediction of a word
improves with every earlier word of its document). Notebook 12 measures it against the exact
best perplexity at every context length, F(c).

| | |
|---|---|
| architecture | `fl.TinyCausalLM`: {cfg.n_layer} pre-norm layers, {cfg.n_head} heads, d_model \
{cfg.d_model}, MLP {cfg.d_ff}, context {cfg.block_size}, tied embedding, {cfg.vocab_size} tokens |
| parameters | {card['parameters']:,} |
| data | `fl.topic_split("train")`: {card['train_documents']:,} documents (seed \
{card['train_seed']}), concatenated and cut into random windows of {card['packed']} tokens; \
validation: `fl.topic_split("val")`, {card['val_documents']:,} documents (seed \
{card['val_seed']}), {card['val_targets']:,} predicted tokens |
{_training_row(card, f"windows of {card['packed']} tokens")}
| loss | token-mean cross-entropy over every target of the window, labels shifted |
| evaluation | the validation documents as one stream, context 128, `<bos>` targets skipped \
(`fl.sliding_window_nll(..., ignore_index=fl.BOS_ID)`) |
| validation perplexity, stride 1 (every target sees 128 tokens) | \
**{math.exp(card['val_nll_stride_1']):.4g}** |
| exact best under the same protocol | {math.exp(card['exact_nll_stride_1']):.4g} \
(model {gaps[1]:.1f}% above) |
| validation perplexity, stride 128 (non-overlapping chunks) | \
{math.exp(card['val_nll_stride_128']):.4g} |
| exact best under the same protocol | {math.exp(card['exact_nll_stride_128']):.4g} \
(model {gaps[128]:.1f}% above) |
| exact best with the whole document seen | {math.exp(card['exact_full_history_nll']):.4g} |

The exact figures are the optimal predictor's (`lang.window_nll`, `lang.token_nll`) on the same
targets: no model that reads what this protocol lets it read can do better on average.

{_rebuild("topic", "TOPIC_LM_RUN", "data/topic_lm.pt", "tests/course/test_context_models.py")}""")


def write_char_card(_model: torch.nn.Module, card: dict, path: Path) -> None:
    cfg = ModelConfig(vocab_size=len(CharTokenizer.from_words(english_like_language().tokenizer)))
    path.write_text(f"""# Model card: char_lm.pt

A tiny causal transformer that reads the course language one character at a time: the same
sentences as data/tiny_lm.pt's, as text, cut into characters (`fl.char_documents`). Notebook 01
sets it beside the word-level model: their per-token perplexities cannot be compared, their
bits per byte can.

| | |
|---|---|
| architecture | `fl.TinyCausalLM`: {cfg.n_layer} pre-norm layers, {cfg.n_head} heads, d_model \
{cfg.d_model}, MLP {cfg.d_ff}, context {cfg.block_size}, tied embedding, {cfg.vocab_size} tokens \
({cfg.vocab_size - 4} characters, space included, and `<pad>`, `<bos>`, `<eos>` for the newline, `<unk>`) |
| parameters | {card['parameters']:,} |
| data | the course language's train split in characters ({SPLITS['train'][0]:,} sentences, seed \
{SPLITS['train'][1]}), concatenated and cut into random windows of {card['packed']} characters; \
validation: the {card['val_sentences']:,} validation sentences, {card['val_targets']:,} \
predicted characters ({card['val_bytes']:,} bytes, newlines included) |
{_training_row(card, f"windows of {card['packed']} characters")}
| evaluation | the validation sentences as one character stream, context 128, stride 64, \
`<bos>` targets skipped |
| validation perplexity per character | **{card['val_perplexity']:.4g}** \
(true model: {card['true_char_perplexity']:.4g}) |
| bits per byte | **{card['bits_per_byte']:.4g}** |
| the word-level tiny_lm.pt on the same text | perplexity {card['word_model_perplexity']:.4g} \
per word token, {card['word_model_bits_per_byte']:.4g} bits per byte |
| the true model on the same text | {card['true_bits_per_byte']:.4g} bits per byte, under \
either tokenization |

{_rebuild("char", "CHAR_LM_RUN", "data/char_lm.pt", "tests/course/test_context_models.py")}""")


# --model: the run, the checkpoint, how it is evaluated and the card it gets.
MODELS = {
    "word": (TINY_LM_RUN, CHECKPOINT_PATH, word_facts, write_model_card, "MODEL_CARD.md"),
    "topic": (TOPIC_LM_RUN, TOPIC_CHECKPOINT_PATH, topic_facts, write_topic_card, "TOPIC_LM_CARD.md"),
    "char": (CHAR_LM_RUN, CHAR_CHECKPOINT_PATH, char_facts, write_char_card, "CHAR_LM_CARD.md"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="word")
    parser.add_argument("--steps", type=int, default=None, help="default: the run's own")
    parser.add_argument("--out", type=Path, default=None, help="default: the committed path")
    parser.add_argument("--card-only", action="store_true",
                        help="rewrite the card of the committed checkpoint, without training")
    args = parser.parse_args()
    run, committed, facts, write_card, card_name = MODELS[args.model]
    out = args.out or committed
    torch.set_num_threads(2)
    if args.card_only:
        model, card = load_checkpoint(out)
    else:
        model, card = train(run, args.steps or run.steps)
        card.update(facts(model))
        save_checkpoint(model, out, card)
    write_card(model, card, DATA_DIR / card_name if out == committed else out.with_suffix(".md"))
    print({k: v for k, v in card.items() if "perplexity" in k or "nll" in k or "bits" in k})


if __name__ == "__main__":
    main()
