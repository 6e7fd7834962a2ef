"""Input validation shared by every forge_lib function.

One place, so that every error reads the same way: what was expected, what was given, and how
to fix it. Functions here raise TypeError for the wrong kind of object or dtype and ValueError
for the right kind with bad contents.
"""

from __future__ import annotations

import math

import torch


def tensor(x: object, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}. "
                        f"Wrap it with torch.as_tensor(...) first.")
    return x


def float_tensor(x: object, name: str) -> torch.Tensor:
    x = tensor(x, name)
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor (float16/bfloat16/float32/"
                        f"float64), got dtype {x.dtype}. Logits are real numbers; call .float().")
    return x


def integer_tensor(x: object, name: str) -> torch.Tensor:
    """An integer tensor of ids, returned as torch.long.

    int64 because every comparison that follows must see the true values: against a uint8
    tensor, ignore_index=-100 would be cast to 156 (a real token) and a vocabulary size of 300
    to 44, so valid ids would be dropped or rejected.
    """
    x = tensor(x, name)
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise TypeError(f"{name}: expected an integer tensor of token ids (torch.long), "
                        f"got dtype {x.dtype}. Call .long() on it.")
    return x.long()


def ignore_index_arg(value: object) -> int | None:
    """None or an int: the target id that is not scored (-100, or the pad id)."""
    # bool is an int in Python; True would silently mean "ignore token 1".
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"ignore_index: expected an int (e.g. -100 or the pad id) or None, "
                        f"got {type(value).__name__} {value!r}.")
    return value


def all_finite(x: torch.Tensor, name: str) -> None:
    if not bool(torch.isfinite(x).all()):
        n_nan = int(torch.isnan(x).sum())
        n_inf = int(torch.isinf(x).sum())
        raise ValueError(f"{name}: expected only finite values, found {n_nan} NaN and {n_inf} "
                         f"infinite entries. Check the model's forward pass (or the loss scale).")


def finite_number(x: float, name: str) -> float:
    x = float(x)
    if math.isnan(x):
        raise ValueError(f"{name}: expected a number, got NaN. A NaN loss means training or "
                         f"evaluation already broke upstream; find where it first appeared.")
    return x


def positive_number(x: object, name: str) -> float:
    """A finite number > 0 (a sigma, a scale)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not (math.isfinite(x) and x > 0):
        raise ValueError(f"{name}: expected a finite number > 0, got {x!r}.")
    return float(x)


def binary_mask(x: object, name: str) -> torch.Tensor:
    """A keep-mask of 1 (or True) for what counts and 0 (False) for what does not, as bool.

    Casting with .bool() alone would invert an additive mask (0 keep, -1e9 or -inf drop), the
    other common convention, without a word; so any value other than 0 and 1 is refused.
    """
    x = tensor(x, name)
    if x.dtype != torch.bool and bool(((x != 0) & (x != 1)).any()):
        raise ValueError(f"{name}: expected 1 (or True) to keep and 0 (or False) to drop, got "
                         f"values from {x.min().item():g} to {x.max().item():g}. An additive mask "
                         f"(0 keep, -inf or -1e9 drop) is the other convention: pass (mask == 0).")
    return x.bool()


def positive_int(x: object, name: str) -> int:
    if isinstance(x, bool) or not isinstance(x, int):
        raise TypeError(f"{name}: expected a positive int, got {type(x).__name__} {x!r}.")
    if x <= 0:
        raise ValueError(f"{name}: expected a positive int, got {x}.")
    return x


def logits_and_target(
    logits: object, target: object, ignore_index: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate (B, T, V) or (N, V) logits against (B, T) or (N,) targets; return (N, V), (N,).

    The finiteness of the logits is *not* checked here: on large logits that check costs a
    full-size temporary, so the callers do it chunk by chunk.
    """
    ignore_index = ignore_index_arg(ignore_index)
    logits = float_tensor(logits, "logits")
    target = integer_tensor(target, "target")
    if logits.ndim not in (2, 3):
        raise ValueError(f"logits: expected shape (B, T, V) or (N, V), got {tuple(logits.shape)}.")
    if tuple(target.shape) != tuple(logits.shape[:-1]):
        raise ValueError(
            f"target: expected shape {tuple(logits.shape[:-1])} to match logits "
            f"{tuple(logits.shape)} without its last (vocabulary) dimension, got "
            f"{tuple(target.shape)}. For a causal LM, did you shift one and not the other? "
            f"Use fl.shift_for_causal_lm(logits, labels).")
    vocab = logits.shape[-1]
    if vocab == 0:
        raise ValueError("logits: the vocabulary dimension is empty (V = 0).")
    target = target.reshape(-1)
    bad = (target < 0) | (target >= vocab)
    if ignore_index is not None:
        bad &= target != ignore_index
    if bool(bad.any()):
        first = int(target[bad][0])
        raise ValueError(
            f"target: expected ids in [0, {vocab}) or ignore_index={ignore_index}, found "
            f"{int(bad.sum())} out of range (first: {first}). If {first} marks padding, pass "
            f"ignore_index={first}.")
    return logits.reshape(-1, vocab), target
