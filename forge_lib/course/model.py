"""A tiny causal transformer, its checkpoint format, and evaluation of it on id sequences.

About 0.25 M parameters: small enough to train on two CPU cores in minutes, big enough to learn
the course's language to within a few percent of its entropy floor.

    model, card = fl.load_tiny_model()            # the committed checkpoint in data/
    model, card = fl.load_tiny_model(path=p)      # a copy elsewhere (an installed forge_lib)
    logits = model(batch["input_ids"])            # (B, T, V)
    fl.evaluate_lm(model, sentences)              # {"nll_sum", "tokens", "perplexity"}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from forge_lib.metrics import validation
from forge_lib.metrics.checkpoint import load_verified, save_verified

__all__ = ["ModelConfig", "TinyCausalLM", "save_checkpoint", "load_checkpoint",
           "load_tiny_model", "load_topic_model", "load_char_model", "DATA_DIR", "CHECKPOINT_PATH",
           "TOPIC_CHECKPOINT_PATH", "CHAR_CHECKPOINT_PATH"]

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
CHECKPOINT_PATH = DATA_DIR / "tiny_lm.pt"  # the course language, word level (MODEL_CARD.md)
TOPIC_CHECKPOINT_PATH = DATA_DIR / "topic_lm.pt"  # the topic language (TOPIC_LM_CARD.md)
CHAR_CHECKPOINT_PATH = DATA_DIR / "char_lm.pt"  # the course language in characters (CHAR_LM_CARD.md)
_FORMAT = "forge_lib.tiny_lm/2"  # /2: saved atomically, with a SHA-256 of the contents


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int
    block_size: int = 128
    n_layer: int = 2
    n_head: int = 4
    d_model: int = 96
    d_ff: int = 384

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "d_model", "d_ff"):
            validation.positive_int(getattr(self, name), name)
        if self.d_model % self.n_head:
            raise ValueError(f"d_model: expected a multiple of n_head={self.n_head}, got "
                             f"{self.d_model}.")


class Block(nn.Module):
    """Pre-norm transformer block: causal self-attention then an MLP, each with a residual."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.norm1 = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.norm2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(nn.Linear(cfg.d_model, cfg.d_ff), nn.GELU(),
                                 nn.Linear(cfg.d_ff, cfg.d_model))

    def forward(self, x: torch.Tensor, allowed: torch.Tensor | None = None) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.n_head, d // self.n_head).transpose(1, 2) for z in (q, k, v))
        # Causal: position i attends to 0..i only. With right padding this alone keeps padding
        # from changing any real token's logits, so the attention mask is optional.
        if allowed is None:
            att = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, D/H)
        else:
            att = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        x = x + self.proj(att.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.norm2(x))


class TinyCausalLM(nn.Module):
    """GPT-style language model; the output head shares the token embedding's weight."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if not isinstance(cfg, ModelConfig):
            raise TypeError(f"cfg: expected a fl.ModelConfig, got {type(cfg).__name__}.")
        self.config = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_emb = nn.Embedding(cfg.block_size, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm = nn.LayerNorm(cfg.d_model)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight

    def hidden_states(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Final normalised hidden states, (B, T, d_model); logits are these times lm_head.weight.T.

        attention_mask (B, T) of 1 (real) and 0 (padding), optional: keys that are padding are
        hidden from every query, on top of the causal mask. With right padding it changes only
        the outputs at padded positions (notebook 03 measures this).
        """
        input_ids = validation.integer_tensor(input_ids, "input_ids")
        if input_ids.ndim != 2:
            raise ValueError(f"input_ids: expected shape (B, T), got {tuple(input_ids.shape)}.")
        b, t = input_ids.shape
        if t > self.config.block_size:
            raise ValueError(f"input_ids: sequence length {t} exceeds the model's context of "
                             f"{self.config.block_size} tokens; evaluate in windows.")
        if bool(((input_ids < 0) | (input_ids >= self.config.vocab_size)).any()):
            raise ValueError(f"input_ids: expected ids in [0, {self.config.vocab_size}), got "
                             f"min {int(input_ids.min())}, max {int(input_ids.max())}.")
        allowed = None
        if attention_mask is not None:
            attention_mask = validation.tensor(attention_mask, "attention_mask")
            if tuple(attention_mask.shape) != (b, t):
                raise ValueError(f"attention_mask: expected shape {(b, t)} like input_ids, got "
                                 f"{tuple(attention_mask.shape)}.")
            causal = torch.ones(t, t, dtype=torch.bool, device=input_ids.device).tril()  # (T, T)
            keep = validation.binary_mask(attention_mask, "attention_mask")
            allowed = causal & keep[:, None, None, :]  # (B, 1, T, T)
        x = self.tok_emb(input_ids) + self.pos_emb(torch.arange(t, device=input_ids.device))
        for block in self.blocks:
            x = block(x, allowed)
        return self.norm(x)  # (B, T, D)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.lm_head(self.hidden_states(input_ids, attention_mask))  # (B, T, V)


def save_checkpoint(model: TinyCausalLM, path: str | Path, card: dict) -> None:
    """Write config, weights and a card of plain facts (numbers and strings) to `path`,
    atomically and with a SHA-256 of the contents (fl.save_verified)."""
    if not isinstance(model, TinyCausalLM):
        raise TypeError(f"model: expected a fl.TinyCausalLM (its config is saved with it), got "
                        f"{type(model).__name__}.")
    save_verified({"format": _FORMAT, "config": asdict(model.config),
                   "state_dict": model.state_dict(), "card": card}, path)


def load_checkpoint(path: str | Path) -> tuple[TinyCausalLM, dict]:
    """Load a checkpoint written by save_checkpoint, safely (weights_only=True), in eval mode.

    The file's SHA-256 is checked, and its config against its weights before anything is
    allocated: a corrupted or edited file is a ValueError, never a model with wrong weights.
    """
    path = validation.path(path, "path")
    if not path.is_file():
        raise FileNotFoundError(f"load_checkpoint: no checkpoint at {Path(path).name!r}. Rebuild "
                                f"it with `python scripts/train_tiny_lm.py`.")
    blob = load_verified(path, _FORMAT, "load_checkpoint", "fl.save_checkpoint")
    try:
        config = ModelConfig(**blob["config"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"load_checkpoint: {Path(path).name!r} has an invalid config: {exc}") from exc
    with torch.device("meta"):  # shapes only: nothing is allocated yet
        expected = {k: tuple(v.shape) for k, v in TinyCausalLM(config).state_dict().items()}
    found = {k: tuple(v.shape) for k, v in blob["state_dict"].items()}
    if found != expected:
        wrong = sorted(set(found) ^ set(expected) | {k for k in found if found[k] != expected.get(k)})
        raise ValueError(f"load_checkpoint: the weights in {Path(path).name!r} do not fit its config "
                         f"{config} (first mismatches: {wrong[:3]}).")
    model = TinyCausalLM(config)
    model.load_state_dict(blob["state_dict"])  # strict: a missing or extra weight raises
    return model.eval(), blob["card"]


def load_tiny_model(path: str | Path | None = None) -> tuple[TinyCausalLM, dict]:
    """The committed checkpoint data/tiny_lm.pt and its card (see data/MODEL_CARD.md).

    The checkpoint (1 MB) belongs to the course checkout, not to the package: an installed
    forge_lib (`pip install .`, not editable) does not contain it. There, pass `path=` to a
    copy of data/tiny_lm.pt, or rebuild one with the checkout's scripts/train_tiny_lm.py.
    """
    return _load_committed(path, CHECKPOINT_PATH, "load_tiny_model", "")


def load_topic_model(path: str | Path | None = None) -> tuple[TinyCausalLM, dict]:
    """The committed model of the topic language, data/topic_lm.pt (data/TOPIC_LM_CARD.md):
    trained on packed 128-token windows of fl.topic_split("train"), so it reads documents
    as a stream. As for load_tiny_model, pass `path=` outside the course checkout."""
    return _load_committed(path, TOPIC_CHECKPOINT_PATH, "load_topic_model", " --model topic")


def load_char_model(path: str | Path | None = None) -> tuple[TinyCausalLM, dict]:
    """The committed character-level model of the course language, data/char_lm.pt
    (data/CHAR_LM_CARD.md): the same sentences as data/tiny_lm.pt's, cut into characters and
    packed into 128-character windows. As for load_tiny_model, pass `path=` outside the checkout."""
    return _load_committed(path, CHAR_CHECKPOINT_PATH, "load_char_model", " --model char")


def _load_committed(path: str | Path | None, committed: Path, caller: str,
                    script_args: str) -> tuple[TinyCausalLM, dict]:
    if path is None:
        path = committed
        if not path.is_file():  # an installed package: say where it looked and what to do
            raise FileNotFoundError(
                f"{caller}: expected the checkpoint at {path}, and it is not there. It ships "
                f"with the course checkout (data/{path.name}), not with an installed forge_lib: "
                f"work from the checkout with `pip install -e .` (what requirements.txt does), "
                f"or pass path= to a copy of data/{path.name}, e.g. "
                f"fl.{caller}(path={path.name!r}); `python scripts/train_tiny_lm.py"
                f"{script_args}` rebuilds it.")
    return load_checkpoint(path)


def count_parameters(model: nn.Module) -> int:
    """Distinct trainable parameters (the tied embedding counts once)."""
    return sum(p.numel() for p in model.parameters())
