"""A small, reusable training loop for the tiny model: the runs of notebooks 09, 11 and 12.

Every setting that produces a symptom of a training curve is one field of `TrainConfig`
(learning rate, batch size, how much data, how many steps, gradient clipping), and every run
records the same history: train loss, gradient norm and learning rate per step, validation loss
per evaluation. Typical use:

    run = fl.train_tiny(fl.TrainConfig(lr=3e-3, steps=300, batch_size=32))
    run.history["train_loss"]          # one float per step, in order
    fl.diagnose(run.history["train_loss"], val_loss=run.history["val_loss"])

The loop is split so a checkpoint can stop and resume it: `make_state` builds the model,
optimizer, scheduler and data generator from the config; `run_training` advances a state (up to
`until` steps, or until a callback returns True); `train_tiny` is the two together. The batches
come from a `torch.Generator` owned by the state, so saving its state (fl.BestCheckpoint does)
is enough to continue with exactly the same batches.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache

import torch
import torch.nn.functional as F

from forge_lib.course.chars import CharTokenizer, char_documents
from forge_lib.course.language import SPLITS, course_split, english_like_language
from forge_lib.course.model import ModelConfig, TinyCausalLM
from forge_lib.course.topics import TOPIC_SPLITS, topic_language, topic_split
from forge_lib.metrics import validation
from forge_lib.metrics.batching import PAD_ID, collate
from forge_lib.metrics.evaluation import nll_over_batches
from forge_lib.metrics.text import shift_for_causal_lm

__all__ = ["TrainConfig", "TrainState", "make_state", "train_step", "run_training", "train_tiny",
           "set_lr", "evaluate_loss", "token_stream"]

# What a run can train on (TrainConfig.corpus), with the size of each fixed split: a run may ask
# for at most that many sequences. The course's training sentences are drawn, as many as asked.
_CORPORA = {
    "course": {"val": SPLITS["val"][0]},
    "course-chars": {"val": SPLITS["val"][0]},
    "topics": {"train": TOPIC_SPLITS["train"][0], "val": TOPIC_SPLITS["val"][0]},
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run; two runs with equal configs give bit-identical histories.

    lr: peak learning rate of AdamW. steps: optimizer updates. batch_size: sentences (or packed
    windows) per step, drawn at random with replacement. n_train: how many training sentences
    to draw from (10,000 is more than a few hundred steps can use up, so the model always sees
    fresh data; a few hundred makes it memorise, i.e. overfit). grad_clip: clip the global
    gradient norm to this value (None: no clipping; the norm is recorded either way).
    schedule: "constant" after a linear warm-up, or "cosine" down to 10% of lr.
    packed: None trains on one padded sentence per row; an int trains on windows of that many
    tokens cut from the concatenated sentences, as GPT-style models are trained.
    model: the architecture (None: the committed tiny model's, context 128).
    init_std: initialise every Linear and Embedding weight from N(0, init_std), biases at zero,
    as GPT-2 does, so the first loss is close to ln(vocabulary size); None keeps PyTorch's
    defaults, under which the tied N(0, 1) embedding makes the first logits huge.
    stop_on_nan: stop at the first non-finite loss (what follows is NaN too).
    sampling: "random" draws every batch at random with replacement; "epochs" shuffles the
    sentences once per epoch and takes them in that order, each once, dropping an incomplete
    last batch (how data/tiny_lm.pt was trained; sentence runs only).
    data_seed: the seed of the batches (None: seed + 1); the weights' initialisation uses seed.
    corpus: what to train and validate on: "course" (the course language,
    one sentence per sequence), "course-chars" (the same sentences cut into characters) or
    "topics" (the topic language's documents, whose words depend on the whole document).
    dtype: the precision of the weights and of every computation. float64 by default, because
    the course compares runs digit for digit across machines: in float32 another CPU's kernels
    change the last bit at step 2 or 3, and the difference grows to the 4th digit by step 300;
    in float64 the same run agrees to about 14 digits, for 1.4-1.6x the time
    (benchmarks/bench_float64.py). Pass torch.float32 for speed when the exact digits do not
    matter. The initial weights are drawn in this dtype too: torch.normal_ in float32 differs
    in the last bit between CPU kernels.
    """

    lr: float = 3e-3
    steps: int = 300
    batch_size: int = 32
    n_train: int = 10_000
    n_val: int = 500
    eval_every: int = 25
    warmup: int = 20
    schedule: str = "constant"
    grad_clip: float | None = None
    weight_decay: float = 0.0
    packed: int | None = None
    model: ModelConfig | None = None
    init_std: float | None = 0.02
    seed: int = 0
    stop_on_nan: bool = True
    dtype: torch.dtype = torch.float64
    sampling: str = "random"
    data_seed: int | None = None
    corpus: str = "course"

    def __post_init__(self) -> None:
        if self.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype: expected torch.float32 or torch.float64, got {self.dtype!r}.")
        for name in ("steps", "batch_size", "n_train", "n_val", "eval_every"):
            validation.positive_int(getattr(self, name), name)
        if self.packed is not None:
            validation.positive_int(self.packed, "packed")
        validation.non_negative_int(self.warmup, "warmup")
        validation.positive_number(self.lr, "lr")
        validation.non_negative_number(self.weight_decay, "weight_decay")
        for name in ("init_std", "grad_clip"):  # None: off
            if getattr(self, name) is not None:
                validation.positive_number(getattr(self, name), name)
        validation.integer(self.seed, "seed")
        validation.flag(self.stop_on_nan, "stop_on_nan")
        if self.model is not None and not isinstance(self.model, ModelConfig):
            raise TypeError(f"model: expected None or a fl.ModelConfig, got "
                            f"{type(self.model).__name__} {self.model!r:.60}.")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule: expected 'constant' or 'cosine', got {self.schedule!r}.")
        if self.sampling not in ("random", "epochs"):
            raise ValueError(f"sampling: expected 'random' or 'epochs', got {self.sampling!r}.")
        if self.sampling == "epochs" and self.packed is not None:
            raise ValueError("sampling='epochs' takes whole sentences; packed windows are drawn "
                             "at random. Pass packed=None, or sampling='random'.")
        if self.data_seed is not None:
            validation.integer(self.data_seed, "data_seed")
        if not isinstance(self.corpus, str) or self.corpus not in _CORPORA:
            raise ValueError(f"corpus: expected one of {sorted(_CORPORA)}, got {self.corpus!r:.60}.")
        for split, size in _CORPORA[self.corpus].items():  # no silently shorter split
            name = f"n_{split}"
            if getattr(self, name) > size:
                raise ValueError(f"{name}: corpus {self.corpus!r} has {size:,} documents in its "
                                 f"{split} split, got {name}={getattr(self, name):,}.")

    @property
    def batch_seed(self) -> int:
        """The seed of the batches: data_seed, or seed + 1 when it is None."""
        return self.seed + 1 if self.data_seed is None else self.data_seed


@dataclass
class TrainState:
    """A run in progress: the objects a checkpoint must save, the step reached and the history.

    history: "step", "train_loss", "grad_norm", "lr" (one entry per step; grad_norm is the norm
    before clipping) and "val_step", "val_loss" (one entry per evaluation). Plain lists of
    Python numbers, so they pickle under torch.load(weights_only=True).
    """

    config: TrainConfig
    model: TinyCausalLM
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generator: torch.Generator
    step: int = 0
    history: dict[str, list] = field(default_factory=lambda: {
        "step": [], "train_loss": [], "grad_norm": [], "lr": [], "val_step": [], "val_loss": []})

    def objects(self) -> dict:
        """The stateful objects by name, as fl.BestCheckpoint.update/restore take them."""
        return {"model": self.model, "optimizer": self.optimizer, "scheduler": self.scheduler,
                "generator": self.generator}


@lru_cache(maxsize=4)
def _documents(corpus: str, split: str, n: int) -> tuple[tuple[int, ...], ...]:
    """The first n id sequences of a corpus's split ("train" or "val"), as a run sees them.

    "course" training sentences are drawn with the train split's seed (n = 60,000 gives exactly
    fl.course_split("train"); fewer is quicker to draw); "course-chars" are those sentences in
    characters; "topics" reads fl.topic_split.

    >>> len(_documents("topics", "val", 3))
    3
    """
    if corpus == "topics":  # corpus and n were checked by TrainConfig
        return tuple(tuple(d) for d in topic_split(split)[:n])
    if corpus == "course-chars":
        words = [list(s) for s in _documents("course", split, n)]
        return tuple(tuple(d) for d in char_documents(english_like_language().tokenizer, words)[1])
    if split == "val":
        return tuple(tuple(s) for s in course_split("val")[:n])
    return tuple(tuple(s) for s in english_like_language().sample(n, seed=SPLITS["train"][1]))


def _vocab_size(corpus: str) -> int:
    """How many token ids a model of `corpus` needs (special tokens included).

    >>> [_vocab_size(c) for c in ("course", "course-chars", "topics")]
    [258, 29, 259]
    """
    if corpus == "topics":
        return len(topic_language().tokenizer)
    words = english_like_language().tokenizer
    return len(CharTokenizer.from_words(words)) if corpus == "course-chars" else len(words)


def token_stream(sentences: list[list[int]] | tuple) -> torch.Tensor:
    """Concatenate id sequences into one long 1-D stream, as packed training and evaluation see it.

    >>> token_stream([[1, 5, 2], [1, 6, 7, 2]]).tolist()
    [1, 5, 2, 1, 6, 7, 2]
    """
    validation.id_lists(sentences, "sentences")
    if len(sentences) == 0:
        raise ValueError("token_stream: expected at least one sequence, got none.")
    return torch.cat([validation.token_ids(s, f"sentences[{i}]") for i, s in enumerate(sentences)])


def _lr_factor(config: TrainConfig) -> Callable[[int], float]:
    def factor(step: int) -> float:  # step 0 is the first update
        if step < config.warmup:
            return (step + 1) / config.warmup
        if config.schedule == "constant":
            return 1.0
        progress = (step - config.warmup) / max(1, config.steps - config.warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return factor


def _build_in(dtype: torch.dtype, build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """Construct a module with its parameters created, and randomly initialised, in `dtype`."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        return build()
    finally:
        torch.set_default_dtype(previous)


def _config(config: object) -> TrainConfig:
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config: expected fl.TrainConfig, got {type(config).__name__}.")
    return config


def _state(state: object) -> TrainState:
    """A run built by fl.make_state (a dict or a model alone has no optimizer or schedule)."""
    if not isinstance(state, TrainState):
        raise TypeError(f"state: expected the fl.TrainState that fl.make_state(config) returns, "
                        f"got {type(state).__name__}.")
    return state


def make_state(config: TrainConfig) -> TrainState:
    """Build a fresh run: seeded model, AdamW, warm-up scheduler, batch generator, empty history.

    >>> state = make_state(TrainConfig(steps=5, batch_size=2, n_train=10))
    >>> state.step, state.history["train_loss"]
    (0, [])
    """
    config = _config(config)
    vocab = _vocab_size(config.corpus)
    model_cfg = config.model or ModelConfig(vocab_size=vocab)
    if model_cfg.vocab_size != vocab:
        raise ValueError(f"model.vocab_size: corpus {config.corpus!r} has {vocab} tokens, the "
                         f"config says {model_cfg.vocab_size}. Use "
                         f"ModelConfig(vocab_size={vocab}, ...).")
    if config.packed is not None and config.packed > model_cfg.block_size:
        raise ValueError(f"packed: windows of {config.packed} tokens exceed the model's context "
                         f"of {model_cfg.block_size}; pass packed <= block_size.")
    torch.manual_seed(config.seed)  # the weights' initialisation
    model = _build_in(config.dtype, lambda: TinyCausalLM(model_cfg))
    if config.init_std is not None:
        for module in model.modules():
            if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
                torch.nn.init.normal_(module.weight, std=config.init_std)
            if isinstance(module, torch.nn.Linear) and module.bias is not None:
                torch.nn.init.zeros_(module.bias)
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=config.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_factor(config))
    generator = torch.Generator().manual_seed(config.batch_seed)  # the batches, and only those
    return TrainState(config, model, optimizer, scheduler, generator)


def _train_data(config: TrainConfig) -> tuple | torch.Tensor:
    sentences = _documents(config.corpus, "train", config.n_train)
    return sentences if config.packed is None else token_stream(sentences)


def _sample_batch(config: TrainConfig, data, generator: torch.Generator, block_size: int,
                  step: int = 0) -> torch.Tensor:
    """Labels (B, T) of the batch for update `step` (0 = the first), padding labelled -100.

    Sentences longer than the model's context are cut to its first block_size tokens. Random
    batches come from `generator`, so the same generator state gives the same batch (saving it
    is enough to resume); epoch batches are a function of the step alone."""
    if config.sampling == "epochs":
        index = _epoch_batch(len(data), config.batch_size, config.batch_seed, step)
        return collate([list(data[i]) for i in index], max_len=block_size)["labels"]
    if config.packed is None:
        index = torch.randint(len(data), (config.batch_size,), generator=generator)
        return collate([list(data[i]) for i in index.tolist()], max_len=block_size)["labels"]
    window = config.packed
    if len(data) <= window:
        raise ValueError(f"packed: the training stream has {len(data)} tokens, fewer than one "
                         f"window of {window}; raise n_train.")
    start = torch.randint(len(data) - window + 1, (config.batch_size, 1), generator=generator)
    return data[start + torch.arange(window)]  # (B, window)


def _epoch_batch(n: int, batch_size: int, seed: int, step: int) -> list[int]:
    """Sentence indices of `step`'s batch: epoch e reads the e-th permutation drawn from a
    generator seeded with `seed`, batch_size at a time, and drops its incomplete tail."""
    per_epoch = n // batch_size
    if per_epoch == 0:
        raise ValueError(f"batch_size: {batch_size} exceeds the {n} training sentences, so no "
                         f"epoch holds a full batch; lower batch_size or raise n_train.")
    epoch, position = divmod(step, per_epoch)
    order = _epoch_orders(n, seed, epoch)[epoch]
    return order[position * batch_size:(position + 1) * batch_size]


@lru_cache(maxsize=2)
def _epoch_orders(n: int, seed: int, last_epoch: int) -> tuple[list[int], ...]:
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.randperm(n, generator=generator).tolist() for _ in range(last_epoch + 1))


def _input_ids(labels: torch.Tensor) -> torch.Tensor:
    """What the model reads for labels (B, T): padding (-100) reads as id 0, <pad>."""
    return labels.clamp(min=PAD_ID)


def _labels(labels: object, vocab_size: int) -> torch.Tensor:
    """Labels (B, T) with ids in [0, vocab_size) or -100, and a target to score after the shift.

    An all-padding batch would make the mean loss 0 / 0 = NaN, and its NaN gradient would reach
    AdamW's moments: every later step would be NaN too.
    """
    labels = validation.integer_tensor(labels, "labels")
    if labels.ndim != 2 or labels.shape[1] < 2:
        raise ValueError(f"labels: expected (B, T) with T >= 2 (each position predicts the next), "
                         f"got shape {tuple(labels.shape)}.")
    bad = ((labels < 0) | (labels >= vocab_size)) & (labels != -100)
    if bool(bad.any()):
        raise ValueError(f"labels: expected ids in [0, {vocab_size}) or -100 at padding, found "
                         f"{int(bad.sum())} outside (first: {int(labels[bad][0])}).")
    if not bool((labels[:, 1:] != -100).any()):
        raise ValueError(f"labels: expected at least one target that is not padding (-100) after "
                         f"the shift, got an all-padding batch of shape {tuple(labels.shape)}: "
                         f"its mean loss is 0 / 0 (NaN). Skip empty batches before train_step.")
    return labels


def train_step(state: TrainState, labels: torch.Tensor) -> tuple[float, float, float]:
    """One AdamW update on a batch of labels (B, T), -100 at padding; returns (loss, grad norm, lr).

    The gradient norm is measured before clipping (clipping rescales, so after it the norm would
    just read grad_clip); lr is the rate this update used.

    >>> state = make_state(TrainConfig(steps=1, batch_size=2, n_train=10))
    >>> loss, norm, lr = train_step(state, torch.tensor([[1, 5, 2], [1, 6, 2]]))
    >>> state.step, round(lr, 8)
    (1, 0.00015)
    """
    model, optimizer = _state(state).model, state.optimizer
    labels = _labels(labels, model.config.vocab_size)
    model.train()
    logits, target = shift_for_causal_lm(model(_input_ids(labels)), labels)  # (B, T-1, V), (B, T-1)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                           ignore_index=-100)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    params = [p for p in model.parameters() if p.grad is not None]
    norm = torch.nn.utils.get_total_norm([p.grad for p in params])
    if state.config.grad_clip is not None:
        torch.nn.utils.clip_grads_with_norm_(params, state.config.grad_clip, norm)
    lr = optimizer.param_groups[0]["lr"]
    optimizer.step()
    state.scheduler.step()
    state.step += 1
    return loss.item(), norm.item(), lr


def set_lr(state: TrainState, lr: float) -> None:
    """Change the peak learning rate for the rest of a run (the schedule's shape is kept).

    >>> state = make_state(TrainConfig(lr=0.1, warmup=0))
    >>> set_lr(state, 0.01)
    >>> state.optimizer.param_groups[0]["lr"]
    0.01
    """
    state = _state(state)
    lr = validation.positive_number(lr, "lr")  # a bool is refused, not read as 1
    factor = _lr_factor(state.config)(state.step)
    state.scheduler.base_lrs = [lr] * len(state.optimizer.param_groups)
    for group in state.optimizer.param_groups:
        group["initial_lr"] = lr
        group["lr"] = lr * factor


def evaluate_loss(model: TinyCausalLM, config: TrainConfig, *, batch_size: int = 64) -> float:
    """Mean NLL per token (nats) on the first `config.n_val` validation sentences.

    Packed runs are scored on those sentences concatenated and cut into non-overlapping windows
    of `config.packed` tokens; sentence runs on one padded sentence per row.
    """
    if not isinstance(model, TinyCausalLM):
        raise TypeError(f"model: expected a fl.TinyCausalLM, got {type(model).__name__}.")
    config = _config(config)
    sentences = _documents(config.corpus, "val", config.n_val)
    if config.packed is None:
        rows = [collate([list(s) for s in sentences[i:i + batch_size]],
                        max_len=model.config.block_size)["labels"]
                for i in range(0, len(sentences), batch_size)]
    else:
        stream = token_stream(sentences)
        n = len(stream) // config.packed
        windows = stream[:n * config.packed].view(n, config.packed)  # (n, window)
        rows = list(windows.split(batch_size))
    batches = ({"input_ids": _input_ids(labels), "labels": labels} for labels in rows)
    result = nll_over_batches(model, batches, caller="evaluate_loss")
    return result["nll_sum"] / result["tokens"]


def run_training(
    state: TrainState,
    *,
    until: int | None = None,
    callback: Callable[[TrainState, dict], object] | None = None,
    progress: bool = False,
    desc: str = "training",
) -> TrainState:
    """Advance `state` to step `until` (default: config.steps), recording the history.

    After every step, callback(state, record) gets record = {"step", "train_loss", "grad_norm",
    "lr"}, plus "val_loss" on steps with an evaluation (every eval_every steps and the last);
    a truthy return value stops the loop there (early stopping, or a simulated crash).
    progress=True shows a tqdm.auto bar: a widget in JupyterLab (ipywidgets), text on stderr in
    a terminal. It is off by default because its output holds timings: a notebook cell that
    turns it on must carry the tag nbval-ignore-output.
    """
    config = _state(state).config
    until = config.steps if until is None else min(validation.positive_int(until, "until"),
                                                   config.steps)
    data = _train_data(config)
    bar, shown = _progress_bar(until, state.step, desc) if progress else (None, None)
    history = state.history
    while state.step < until:
        batch = _sample_batch(config, data, state.generator, state.model.config.block_size,
                              state.step)
        loss, norm, lr = train_step(state, batch)
        record = {"step": state.step, "train_loss": loss, "grad_norm": norm, "lr": lr}
        for key in ("step", "train_loss", "grad_norm", "lr"):
            history[key].append(record[key])
        finite = math.isfinite(loss)
        if finite and (state.step % config.eval_every == 0 or state.step == config.steps):
            record["val_loss"] = evaluate_loss(state.model, config)
            history["val_step"].append(state.step)
            history["val_loss"].append(record["val_loss"])
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        stop = callback(state, record) if callback is not None else False
        if stop or (config.stop_on_nan and not finite):
            break
    if bar is not None:
        bar.close()
        if shown is not None:
            shown.update(bar.container)  # the saved text/plain: the final bar, not the first
    return state


def _progress_bar(total: int, initial: int, desc: str) -> tuple[object, object]:
    """tqdm.auto's bar and, in a notebook, the display handle of its widget (else None).

    Under a Jupyter kernel with ipywidgets the bar is a widget; its output also holds a
    text/plain copy, which is what an executed notebook file keeps (and GitHub, nbconvert and
    a kernel without widgets show). That copy is taken when the widget is displayed, i.e. at
    "0%"; displaying it with a display id lets the loop replace it by the finished bar.
    """
    from tqdm.auto import tqdm
    from tqdm.notebook import tqdm as notebook_tqdm

    if not issubclass(tqdm, notebook_tqdm):  # a terminal or plain python: text on stderr
        return tqdm(total=total, initial=initial, desc=desc, mininterval=0.5), None
    from IPython.display import display

    bar = tqdm(total=total, initial=initial, desc=desc, mininterval=0.5, display=False)
    return bar, display(bar.container, display_id=True)


def train_tiny(
    config: TrainConfig | None = None,
    *,
    callback: Callable[[TrainState, dict], object] | None = None,
    progress: bool = False,
    desc: str = "training",
    **overrides,
) -> TrainState:
    """Train a fresh tiny model: make_state(config) then run_training. Keyword overrides
    replace config fields, so `train_tiny(lr=1e-1)` is a run with only the learning rate changed.

    >>> run = train_tiny(steps=3, batch_size=2, n_train=20, eval_every=3, n_val=4)
    >>> len(run.history["train_loss"]), run.history["val_step"]
    (3, [3])
    """
    config = replace(TrainConfig() if config is None else _config(config), **overrides)
    return run_training(make_state(config), callback=callback, progress=progress, desc=desc)


# The run that made data/tiny_lm.pt (scripts/train_tiny_lm.py): the whole train split in
# shuffled epochs, PyTorch's default initialisation, float32, on this same loop.
TINY_LM_RUN = TrainConfig(lr=3e-3, steps=2500, batch_size=64, n_train=SPLITS["train"][0],
                          warmup=100, schedule="cosine", weight_decay=0.01, grad_clip=1.0,
                          sampling="epochs", seed=0, data_seed=0, init_std=None,
                          dtype=torch.float32, eval_every=2500, n_val=SPLITS["val"][0])

# The runs that made data/topic_lm.pt and data/char_lm.pt (scripts/train_tiny_lm.py --model
# topic|char): the same architecture, packed 128-token windows (GPT-style, so the models read
# streams, and the topic model sees up to 128 tokens of its document), GPT-2's initialisation.
_PACKED_RUN = replace(TINY_LM_RUN, packed=128, steps=4000, batch_size=32, sampling="random",
                      init_std=0.02, eval_every=4000)
TOPIC_LM_RUN = replace(_PACKED_RUN, corpus="topics", n_train=TOPIC_SPLITS["train"][0],
                       n_val=TOPIC_SPLITS["val"][0])
CHAR_LM_RUN = replace(_PACKED_RUN, corpus="course-chars")
