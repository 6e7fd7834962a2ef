"""Memory-bounded evaluation: the summed NLL of a language model without its full logits.

A causal LM's logits are (B, T, V) floats: at a GPT-2-sized vocabulary (V = 50,257) and 8 x 1,024
tokens that is 1.6 GB in float32, before softmax makes a second copy. But the logits are only
hidden states (B, T, D) times the LM-head weight (V, D) transposed, and the NLL is a sum over
tokens, so the tokens can be scored a chunk at a time: only chunk_tokens x V logits ever exist.

    hidden = model.hidden_states(input_ids)[:, :-1]             # (B, T-1, D)
    nll, n = fl.chunked_nll_sum_and_count(hidden, model.lm_head.weight, labels[:, 1:],
                                          chunk_tokens=1024, ignore_index=-100)
    fl.evaluate_lm_chunked(model, sentences)                    # like fl.evaluate_lm, bounded

The per-chunk math is fl.nll_sum_and_count's, so the result is the full computation's, summed in
a different order (float64 sums: equal to about 1e-12 relative, far inside 1e-6).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from forge_lib.metrics import validation
from forge_lib.metrics.batching import iterate_batches
from forge_lib.metrics.text import nll_sum_and_count, ppl_from_sum, shift_for_causal_lm

__all__ = ["chunked_nll_sum_and_count", "evaluate_lm", "evaluate_lm_chunked", "logits_nbytes",
           "model_logits", "evaluating", "nll_over_batches", "full_logits_nll"]


def logits_nbytes(batch: int, seq_len: int, vocab: int, dtype: torch.dtype = torch.float32) -> int:
    """Bytes of a (batch, seq_len, vocab) logits tensor: B x T x V x bytes per element.

    >>> logits_nbytes(8, 1024, 50257)   # GPT-2's vocabulary, 8 x 1,024 tokens: 1.6 GB
    1646821376
    """
    for value, name in ((batch, "batch"), (seq_len, "seq_len"), (vocab, "vocab")):
        validation.positive_int(value, name)
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype: expected a torch.dtype such as torch.float32, got {dtype!r}.")
    return batch * seq_len * vocab * torch.empty((), dtype=dtype).element_size()


def _check_inputs(hidden: object, weight: object, target: object, chunk_tokens: object,
                  ignore_index: int | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    hidden = validation.float_tensor(hidden, "hidden")
    validation.all_finite(hidden, "hidden")  # else its NaN would surface as a NaN in "logits"
    weight = validation.float_tensor(weight, "lm_head_weight")
    target = validation.integer_tensor(target, "target")
    validation.positive_int(chunk_tokens, "chunk_tokens")
    ignore_index = validation.ignore_index_arg(ignore_index)
    if hidden.ndim not in (2, 3):
        raise ValueError(f"hidden: expected shape (B, T, D) or (N, D), got {tuple(hidden.shape)}.")
    if weight.ndim != 2:
        raise ValueError(f"lm_head_weight: expected shape (V, D), got {tuple(weight.shape)}.")
    d_model = hidden.shape[-1]
    if weight.shape[1] != d_model:
        hint = (" It looks transposed: pass the weight as stored by nn.Linear, (V, D)."
                if weight.shape[0] == d_model else "")
        raise ValueError(f"lm_head_weight: expected shape (V, {d_model}) to match the hidden "
                         f"size D = {d_model} of hidden {tuple(hidden.shape)}, got "
                         f"{tuple(weight.shape)}.{hint}")
    if hidden.dtype != weight.dtype:
        raise TypeError(f"hidden and lm_head_weight: expected the same dtype, got {hidden.dtype} "
                        f"and {weight.dtype}. Cast one, e.g. hidden.to(weight.dtype).")
    if hidden.device != weight.device or target.device != hidden.device:
        raise ValueError(f"hidden, lm_head_weight and target: expected one device, got "
                         f"{hidden.device}, {weight.device} and {target.device}.")
    if tuple(target.shape) != tuple(hidden.shape[:-1]):
        raise ValueError(f"target: expected shape {tuple(hidden.shape[:-1])} to match hidden "
                         f"{tuple(hidden.shape)} without its last dimension, got "
                         f"{tuple(target.shape)}. For a causal LM, shift both: "
                         f"hidden[:, :-1] and labels[:, 1:].")
    vocab = weight.shape[0]
    bad = (target < 0) | (target >= vocab)
    if ignore_index is not None:
        bad &= target != ignore_index
    if bool(bad.any()):
        first = int(target[bad][0])
        raise ValueError(f"target: expected ids in [0, {vocab}) or ignore_index={ignore_index}, "
                         f"found {int(bad.sum())} out of range (first: {first}). If {first} "
                         f"marks padding, pass ignore_index={first}.")
    return hidden, weight, target


@torch.no_grad()
def chunked_nll_sum_and_count(
    hidden: torch.Tensor, lm_head_weight: torch.Tensor, target: torch.Tensor, *,
    chunk_tokens: int, ignore_index: int | None = None,
) -> tuple[torch.Tensor, int]:
    """Summed NLL (nats, float64) and token count from hidden states, chunk_tokens at a time.

    hidden: (B, T, D) or (N, D) final hidden states (already shifted for a causal LM);
    lm_head_weight: (V, D), as nn.Linear stores it (logits = hidden @ weight.T, no bias);
    target: (B, T) or (N,) ids, positions equal to ignore_index skipped before the matmul.
    Extra memory is one chunk's logits, chunk_tokens x V x 4 bytes, plus the temporaries of
    fl.nll_sum_and_count on them (a few tensors of at most 4M elements), whatever B and T
    are. For evaluation:
    runs under torch.no_grad() (a graph through every chunk would keep them all alive).

    >>> g = torch.Generator().manual_seed(0)
    >>> hidden, weight = torch.randn(2, 5, 4, generator=g), torch.randn(7, 4, generator=g)
    >>> target = torch.randint(0, 7, (2, 5), generator=g)
    >>> nll, n = chunked_nll_sum_and_count(hidden, weight, target, chunk_tokens=3)
    >>> full, _ = nll_sum_and_count(hidden @ weight.T, target)
    >>> eps = torch.finfo(torch.float32).eps  # float32 logits: agreement to float32 precision
    >>> n, abs(nll.item() - full.item()) < 10 * eps * full.item()
    (10, True)
    """
    hidden, weight, target = _check_inputs(hidden, lm_head_weight, target, chunk_tokens,
                                           ignore_index)
    flat_hidden = hidden.reshape(-1, hidden.shape[-1])  # (N, D)
    flat_target = target.reshape(-1)                    # (N,)
    total = torch.zeros((), dtype=torch.float64, device=hidden.device)
    count = 0
    for start in range(0, flat_target.numel(), chunk_tokens):
        h = flat_hidden[start:start + chunk_tokens]     # (C, D)
        t = flat_target[start:start + chunk_tokens]     # (C,)
        if ignore_index is not None:
            keep = t != ignore_index
            if not bool(keep.all()):  # skip padding before the matmul, not after it
                h, t = h[keep], t[keep]
            if t.numel() == 0:
                continue
        logits = h @ weight.T  # (C, V): the only vocabulary-sized tensor that exists
        nll, n = nll_sum_and_count(logits, t)
        # Free it now: kept until the next matmul returns, two chunks would be alive at once.
        del logits
        total += nll
        count += n
    return total, count


def context_limit(model: object) -> int | None:
    """The most positions the model reads, where its config says: fl's block_size, or Hugging
    Face's max_position_embeddings (GPT-2's n_positions answers to that name too); else None.

    >>> class Config: block_size = 128
    >>> context_limit(type("Model", (), {"config": Config})())
    128
    """
    config = getattr(model, "config", None)
    for name in ("block_size", "max_position_embeddings"):
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def check_context(model: object, n_positions: int, name: str, fix: str) -> None:
    """Refuse `n_positions` beyond the model's context_limit, before the model fails inside
    (an IndexError from a position embedding) or silently reads positions it never learned."""
    limit = context_limit(model)
    if limit is not None and n_positions > limit:
        raise ValueError(f"{name}: the model reads at most {limit} positions (its config's "
                         f"block_size or max_position_embeddings), got {n_positions}. {fix}")


_LONG_SEQUENCE_FIX = ("Shorten the sequences, or score a long text in windows with "
                      "fl.sliding_window_perplexity.")


def model_logits(model: Callable, input_ids: torch.Tensor) -> torch.Tensor:
    """model(input_ids) as logits (B, T, V): the tensor it returns, or the `.logits` of the
    output object a Hugging Face model returns.

    >>> model_logits(lambda ids: torch.zeros(*ids.shape, 5), torch.zeros(2, 3, dtype=torch.long)).shape
    torch.Size([2, 3, 5])
    """
    model = validation.model(model)
    check_context(model, validation.tensor(input_ids, "input_ids").shape[-1], "input_ids",
                  _LONG_SEQUENCE_FIX)
    out = model(input_ids)
    logits = out if isinstance(out, torch.Tensor) else getattr(out, "logits", None)
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"model: expected model(input_ids) to return logits (B, T, V), or an "
                        f"output with .logits as Hugging Face models do, got "
                        f"{type(out).__name__}.")
    return logits


@contextmanager
def evaluating(model: object) -> Iterator[None]:
    """Inside: no gradients, and `model` (an nn.Module) in eval mode, so dropout is off; after:
    every submodule back in the mode it had, even if the body raised.

    >>> net = nn.Sequential(nn.Dropout(0.5)).train()
    >>> with evaluating(net):
    ...     net.training
    False
    >>> net.training
    True
    """
    validation.model(model)  # a model to call, checked on entry
    modules = list(model.modules()) if isinstance(model, nn.Module) else []
    modes = [m.training for m in modules]
    for m in modules:
        m.training = False
    try:
        with torch.no_grad():
            yield
    finally:
        for m, mode in zip(modules, modes, strict=True):
            m.training = mode


NllOfBatch = Callable[[Callable, torch.Tensor, torch.Tensor], tuple[torch.Tensor, int]]


def full_logits_nll(model: Callable, input_ids: torch.Tensor,
                    labels: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Summed NLL and count of one batch: the model's logits, shifted, padding (-100) ignored."""
    logits, target = shift_for_causal_lm(model_logits(model, input_ids), labels)
    return nll_sum_and_count(logits, target, ignore_index=-100)


def nll_over_batches(model: Callable, batches: Iterable[dict[str, torch.Tensor]], *,
                     nll_of_batch: NllOfBatch = full_logits_nll,
                     caller: str = "nll_over_batches") -> dict:
    """The one evaluation loop: token-weighted NLL of `model` over batches of unshifted
    {"input_ids", "labels"} (B, T), labels -100 at padding, in eval mode without gradients.

    Returns {"nll_sum": float, "tokens": int, "perplexity": float}; zero tokens raise
    (fl.ppl_from_sum). `nll_of_batch` scores one batch (default: the full logits).
    """
    total, tokens = 0.0, 0
    with evaluating(model):
        for batch in batches:
            nll, n = nll_of_batch(model, batch["input_ids"], batch["labels"])
            total += nll.item()
            tokens += n
    return {"nll_sum": total, "tokens": tokens,
            "perplexity": ppl_from_sum(total, tokens, ignore_index=-100, caller=caller)}


def evaluate_lm(model: Callable, sequences: list[list[int]], *, batch_size: int = 64) -> dict:
    """Token-weighted NLL and perplexity of a causal LM over id sequences, padding ignored.

    `model(input_ids)` returns logits (B, T, V) or an output with .logits (Hugging Face). It is
    evaluated in eval mode (no dropout) and left in the mode it had.
    Returns {"nll_sum": float, "tokens": int, "perplexity": float}.
    """
    return nll_over_batches(model, iterate_batches(sequences, batch_size), caller="evaluate_lm")


# Config fields with which Hugging Face models change the logits after the LM head, and the
# value that changes nothing: Gemma-2/3's tanh softcapping, Cohere's logit_scale (a product),
# Granite's logits_scaling (a quotient), output_multiplier (a product before a softcap).
_POST_HEAD_FIELDS = {"final_logit_softcapping": None, "logit_scale": 1.0, "logits_scaling": 1.0,
                     "output_multiplier": 1.0}


def _refuse_post_head_config(model: object) -> None:
    config = getattr(model, "config", None)
    configs = [config]
    if callable(getattr(config, "get_text_config", None)):
        configs.append(config.get_text_config())
    for cfg in configs:
        for field, neutral in _POST_HEAD_FIELDS.items():
            value = getattr(cfg, field, None)
            if value is not None and value != neutral:
                raise ValueError(f"model: its config sets {field}={value}, a transform of the "
                                 f"logits after the LM head that chunked scoring from hidden "
                                 f"states leaves out (its perplexity would be another model's); "
                                 f"use fl.evaluate_lm.")


def _refuse_other_logits(model: object, input_ids: torch.Tensor) -> None:
    """Compare hidden @ weight.T with the model's own logits on a few tokens of one sequence:
    catches any post-head change the config does not name (a bias, a cut vocabulary, ...)."""
    probe = input_ids[:1, :16]  # (1, <=16): a 16 x V logits tensor, whatever the batch
    hidden, weight = _hidden_and_head(model, probe)
    mine, full = hidden @ weight.T, model_logits(model, probe)
    # Two matmul kernels may round differently: a few ulps of the largest logit.
    tol = 8 * torch.finfo(full.dtype).eps * (1 + float(full.abs().max()))
    gap = float((mine - full).abs().max()) if mine.shape == full.shape else math.inf
    if gap > tol:
        diff = (f"a difference of up to {gap:.4g}" if mine.shape == full.shape
                else "shape " + str(tuple(full.shape)))
        raise ValueError(f"model: its logits are not hidden states @ lm_head.weight.T ({diff} "
                         f"on the first tokens): it changes them after the head, which chunked "
                         f"scoring cannot reproduce; use fl.evaluate_lm.")


def _hidden_and_head(model: object, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Final hidden states (B, T, D) and the LM-head weight (V, D), without the logits."""
    check_context(model, input_ids.shape[-1], "input_ids", _LONG_SEQUENCE_FIX)
    if hasattr(model, "hidden_states") and hasattr(model, "lm_head"):  # fl.TinyCausalLM
        return model.hidden_states(input_ids), model.lm_head.weight
    head = getattr(model, "get_output_embeddings", lambda: None)()
    if isinstance(head, nn.Linear) and hasattr(model, "base_model"):  # a Hugging Face causal LM
        if head.bias is not None:
            raise ValueError("model: its LM head has a bias, which chunked scoring from hidden "
                             "states leaves out; use fl.evaluate_lm.")
        return model.base_model(input_ids).last_hidden_state, head.weight
    raise TypeError(f"model: expected a model with .hidden_states(input_ids) and .lm_head (like "
                    f"fl.TinyCausalLM) or a Hugging Face causal LM, got {type(model).__name__}.")


def evaluate_lm_chunked(model: nn.Module, sequences: list[list[int]], *, batch_size: int = 64,
                        chunk_tokens: int = 1024) -> dict:
    """fl.evaluate_lm, but the logits are computed chunk_tokens at a time from hidden states.

    `model` is fl.TinyCausalLM (.hidden_states(input_ids) -> (B, T, D), .lm_head.weight (V, D))
    or a Hugging Face causal LM (base_model and get_output_embeddings()). A model whose logits
    are more than hidden @ lm_head.weight.T is refused (ValueError): a config that softcaps or
    scales them (Gemma-2, Cohere, Granite), or logits that differ on a 16-token probe of the
    first sequence (checked once per call, by one extra short forward pass).
    Returns {"nll_sum": float, "tokens": int, "perplexity": float}.

    >>> import forge_lib as fl
    >>> model, _ = fl.load_tiny_model()
    >>> sentences = fl.course_split("val")[:32]
    >>> a = evaluate_lm_chunked(model, sentences, chunk_tokens=100)
    >>> b = fl.evaluate_lm(model, sentences)
    >>> a["tokens"] == b["tokens"], abs(a["nll_sum"] - b["nll_sum"]) < 1e-6 * b["nll_sum"]
    (True, True)
    """
    validation.positive_int(chunk_tokens, "chunk_tokens")
    _refuse_post_head_config(model)
    probed = []

    def chunked(model, input_ids, labels):
        if not probed:
            _refuse_other_logits(model, input_ids)
            probed.append(True)
        hidden, weight = _hidden_and_head(model, input_ids)
        return chunked_nll_sum_and_count(hidden[:, :-1], weight, labels[:, 1:],
                                         chunk_tokens=chunk_tokens, ignore_index=-100)

    return nll_over_batches(model, iterate_batches(sequences, batch_size), nll_of_batch=chunked,
                            caller="evaluate_lm_chunked")
