"""Input validation shared by every forge_lib function.

One place, so that every error reads the same way: what was expected, what was given, and how
to fix it. Functions here raise TypeError for the wrong kind of object or dtype and ValueError
for the right kind with bad contents.
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path

import torch


def tensor(x: object, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}. "
                        f"Wrap it with torch.as_tensor(...) first.")
    if x.is_meta:  # shapes without values: the first .item() would fail with a raw RuntimeError
        raise ValueError(f"{name}: expected a tensor with values, got a meta tensor of shape "
                         f"{tuple(x.shape)} (built under torch.device('meta'): shapes only). "
                         f"Materialise it first, e.g. model.to_empty(device='cpu') and load weights.")
    return x


def float_tensor(x: object, name: str) -> torch.Tensor:
    x = tensor(x, name)
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor (float16/bfloat16/float32/"
                        f"float64), got dtype {x.dtype}. Convert it with .float().")
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
    # bool is an int in Python; True would silently mean "ignore token 1". np.int64 is an int.
    if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
        raise TypeError(f"ignore_index: expected an int (e.g. -100 or the pad id) or None, "
                        f"got {type(value).__name__} {value!r}.")
    return None if value is None else int(value)


def all_finite(x: torch.Tensor, name: str) -> None:
    if not bool(torch.isfinite(x).all()):
        n_nan = int(torch.isnan(x).sum())
        n_inf = int(torch.isinf(x).sum())
        raise ValueError(f"{name}: expected only finite values, found {n_nan} NaN and {n_inf} "
                         f"infinite entries. Find where they first appear upstream (a model's forward "
                         f"pass, a division by zero, an overflowing fp16 loss scale).")


def number(x: object, name: str) -> float:
    """A real number as a float: an int, a float, a NumPy scalar or a one-element tensor.

    A bool or a str is refused: float(True) and float("1.5") would go through without a word.
    """
    if isinstance(x, torch.Tensor):
        if x.numel() != 1:
            raise ValueError(f"{name}: expected a single number, got a tensor of shape "
                             f"{tuple(x.shape)}.")
        if x.is_complex() or x.dtype == torch.bool:
            raise TypeError(f"{name}: expected a real number, got a {x.dtype} tensor.")
        return float(x)
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {type(x).__name__} {x!r:.60}.")
    return float(x)


def finite_number(x: object, name: str) -> float:
    """A number that is not NaN (an infinite loss is a value; NaN means something broke)."""
    x = number(x, name)
    if math.isnan(x):
        raise ValueError(f"{name}: expected a number, got NaN. A NaN loss means training or "
                         f"evaluation already broke upstream; find where it first appeared.")
    return x


def positive_number(x: object, name: str) -> float:
    """A finite number > 0 (a sigma, a scale)."""
    value = number(x, name)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: expected a finite number > 0, got {x!r}.")
    return value


def non_negative_number(x: object, name: str) -> float:
    """A finite number >= 0 (a noise level, an amplitude: 0 means none)."""
    value = number(x, name)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name}: expected a finite number >= 0, got {x!r}.")
    return value


def float_dtype(x: object, name: str) -> torch.dtype:
    """A floating-point torch.dtype (the precision a computation or an overflow limit is in)."""
    if not isinstance(x, torch.dtype) or not x.is_floating_point:
        raise TypeError(f"{name}: expected a floating-point torch.dtype such as torch.float32, "
                        f"got {x!r}.")
    return x


def model(x: object, name: str = "model") -> object:
    """Something to call on input ids: an nn.Module or a function."""
    if not callable(x):
        raise TypeError(f"{name}: expected a model to call on input ids (an nn.Module or a "
                        f"function returning logits), got {type(x).__name__} {x!r:.40}.")
    return x


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
    # numbers.Integral: a NumPy integer (len of an array, np.int64(16)) is an int too
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{name}: expected a positive int, got {type(x).__name__} {x!r}.")
    if x <= 0:
        raise ValueError(f"{name}: expected a positive int, got {x}.")
    return int(x)


def non_negative_int(x: object, name: str) -> int:
    """An int >= 0 (a count); a 0-d integer tensor is read as its value, a bool is refused."""
    if isinstance(x, torch.Tensor) and x.ndim == 0 and not x.is_floating_point():
        x = int(x)
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{name}: expected an int >= 0, got {type(x).__name__} {x!r}.")
    if x < 0:
        raise ValueError(f"{name}: expected an int >= 0, got {x}.")
    return int(x)


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


# --- plain Python arguments ----------------------------------------------------------------------

def integer(x: object, name: str) -> int:
    """Any int (a seed, a label value); a bool or a float is refused, not truncated."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(x).__name__} {x!r:.60}.")
    return int(x)


def seeded_generator(seed: object) -> torch.Generator:
    """A torch.Generator seeded with an int seed (a float or a bool is refused, not truncated)."""
    seed = integer(seed, "seed")
    if not -(2 ** 63) <= seed < 2 ** 64:  # what torch.Generator.manual_seed can hold
        raise ValueError(f"seed: expected an int in [-2**63, 2**64), got {seed}.")
    return torch.Generator().manual_seed(seed)


def positive_ints(x: object, name: str) -> tuple[int, ...]:
    """A non-empty tuple (or list) of positive ints, such as the widths of a net's layers."""
    if not isinstance(x, (tuple, list)) or len(x) == 0:
        raise TypeError(f"{name}: expected a non-empty tuple of positive ints, e.g. (16, 32, 64), "
                        f"got {type(x).__name__} {x!r:.60}.")
    return tuple(positive_int(v, f"{name}[{i}]") for i, v in enumerate(x))


def flag(x: object, name: str) -> bool:
    """True or False; any other value would be read by its truthiness ("no" is True)."""
    if not isinstance(x, bool):
        raise TypeError(f"{name}: expected True or False, got {type(x).__name__} {x!r:.60}.")
    return x


def path(x: object, name: str) -> Path:
    if isinstance(x, bytes) or not isinstance(x, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a file path (a str or pathlib.Path), got "
                        f"{type(x).__name__} {x!r:.60}.")
    return Path(x)


def float_sequence(values: object, name: str, *, allow_empty: bool = False) -> list[float]:
    """A 1-D sequence of numbers (list, tuple, 1-D tensor or array) as a list of floats."""
    if isinstance(values, torch.Tensor):
        if values.ndim != 1:
            raise ValueError(f"{name}: expected a 1-D sequence of floats in time order, got a "
                             f"tensor of shape {tuple(values.shape)}.")
        values = values.tolist()
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)) and not hasattr(
            values, "__array__"):
        raise TypeError(f"{name}: expected a sequence of floats (list, tuple, 1-D tensor or "
                        f"array), got {type(values).__name__}.")
    try:
        out = [number(v, f"{name}[{i}]") for i, v in enumerate(values)]
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected numbers only, but {exc}") from None
    if not out and not allow_empty:
        raise ValueError(f"{name}: expected at least one value, got an empty sequence.")
    return out


# --- token ids -----------------------------------------------------------------------------------

def id_lists(x: object, name: str) -> object:
    """A batch of id sequences: a list or tuple of them (or a 2-D tensor), never a string."""
    if isinstance(x, (str, bytes)) or not isinstance(x, (list, tuple, torch.Tensor)):
        raise TypeError(f"{name}: expected a list of token id lists, got {type(x).__name__} "
                        f"{x!r:.40}. Encode text with a tokenizer first (tok.encode(line)).")
    return x


def token_ids(x: object, name: str, vocab_size: int | None = None) -> torch.Tensor:
    """One flat sequence of token ids (list, tuple or 1-D integer tensor) as a 1-D long tensor.

    Every id must be >= 0 (and < vocab_size when given): -100 is a *label* for padding, and
    inside input ids it would reach an embedding, or be taken for padding by the loss.
    """
    if isinstance(x, (str, bytes)) or not isinstance(x, (list, tuple, torch.Tensor)):
        raise TypeError(f"{name}: expected a flat list of int token ids, got "
                        f"{type(x).__name__} {x!r:.40}.")
    if len(x) == 0:
        return torch.zeros(0, dtype=torch.long)
    try:
        ids = torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"{name}: expected a flat list of int token ids, got {x!r:.40} "
                        f"({exc}).") from None
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool or ids.ndim != 1:
        raise TypeError(f"{name}: expected a flat list of int token ids, got {ids.dtype} values "
                        f"of shape {tuple(ids.shape)} (a float id would be truncated silently). "
                        f"Round or convert the ids first.")
    ids = ids.long()
    bad = (ids < 0) if vocab_size is None else (ids < 0) | (ids >= vocab_size)
    if bool(bad.any()):
        first = int(ids[bad][0])
        expected = "ids >= 0" if vocab_size is None else f"ids in [0, {vocab_size})"
        hint = (" -100 and other negative values mark padding in *labels*; token ids are never "
                "negative." if first < 0 else " Was the text encoded with another tokenizer?")
        raise ValueError(f"{name}: expected {expected}, found {int(bad.sum())} outside (first: "
                         f"{first}).{hint}")
    return ids


# --- images --------------------------------------------------------------------------------------

def same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b}: expected the same shape, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}. Resize or crop one of them first.")


def _pixels(x: torch.Tensor, name: str) -> tuple[float, float]:
    """Check that x holds some finite real pixels; return their (min, max)."""
    if x.is_complex() or x.dtype == torch.bool:
        raise TypeError(f"{name}: expected real-valued images (float, or integer such as "
                        f"uint8), got dtype {x.dtype}. Convert a mask with .float() first.")
    if x.numel() == 0:
        raise ValueError(f"{name}: expected at least one pixel, got an empty tensor of shape "
                         f"{tuple(x.shape)} (an empty batch?).")
    if x.is_floating_point():
        all_finite(x, name)
    return float(x.min()), float(x.max())


def _span_fits(lo: float, hi: float, data_range: float) -> bool:
    # Twice data_range leaves room for unclipped noise around [0, 1]; a 0-255 image scored as
    # [0, 1] spans up to 255 times too much.
    return hi - lo <= 2 * data_range


def _reference_fits(lo_p: float, hi_p: float, lo_t: float, hi_t: float,
                    data_range: float, given: object) -> None:
    """At least one image of the pair (the clean reference) spans no more than data_range.

    Noise may push a distorted image past its format's range, never the reference; [-1, 1]
    images scored with data_range=1.0 span 2 in both, and PSNR would read 6.02 dB low.
    """
    span = min(hi_p - lo_p, hi_t - lo_t)
    if span > data_range * (1 + 1e-6):
        raise ValueError(
            f"data_range={given} is smaller than the span of both images (pred "
            f"[{lo_p:.4g}, {hi_p:.4g}], target [{lo_t:.4g}, {hi_t:.4g}]): PSNR would come out "
            f"{20 * math.log10(span / data_range):.2f} dB too low. Expected the width of the "
            f"pixel format: 2.0 for [-1, 1] images, 1.0 for [0, 1], 255 for uint8.")


def image_pair(pred: object, target: object, data_range: object
               ) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Validate images and their data range (PSNR, SSIM); return both as float and the range.

    data_range is the peak-to-peak range of the pixel format: 1.0 for [0, 1] floats, 255 for
    uint8, 2.0 for [-1, 1]. Two mix-ups are refused, each worth 20 log10(255) = 48.13 dB of PSNR:
    - data_range too small: the images span more than twice data_range (0-255 images scored
      with data_range=1). Twice, so that unclipped noise around [0, 1] still passes.
    - data_range too large: float images whose every value lies in [-1, 1] (the [0, 1] and
      [-1, 1] conventions) scored with data_range > 2, the width of [-1, 1] ([0, 1] images
      with data_range=255). A float 0-255 image whose every value is at most 1 is black, so
      nothing real is lost; integer images are exempt, since their dtype states the scale.
    """
    pred, target = tensor(pred, "pred"), tensor(target, "target")
    same_shape(pred, target, "pred", "target")
    if pred.is_floating_point() != target.is_floating_point():
        raise TypeError(f"pred and target: expected the same kind of dtype, got {pred.dtype} and "
                        f"{target.dtype}. Convert both to float in the same range.")
    # numbers.Real, not (int, float): np.int64(255) is as good a data_range as np.float64(255)
    if isinstance(data_range, bool) or not isinstance(data_range, numbers.Real):
        raise TypeError(f"data_range: expected a number (1.0 for [0, 1] images, 255 for uint8), "
                        f"got {type(data_range).__name__}.")
    integral_range = isinstance(data_range, numbers.Integral)
    if not math.isfinite(data_range) or data_range <= 0:
        raise ValueError(f"data_range: expected a positive finite number, got {data_range}.")
    given, data_range = data_range, float(data_range)  # np.uint8(255) * 2 would wrap to 254
    (lo_p, hi_p), (lo_t, hi_t) = _pixels(pred, "pred"), _pixels(target, "target")
    lo, hi = min(lo_p, lo_t), max(hi_p, hi_t)
    is_float = pred.is_floating_point()
    if not is_float:
        if not integral_range:
            raise TypeError(
                f"integer images ({pred.dtype}) with a float data_range={given}: integer "
                f"images hold 0..255 (uint8), so pass data_range=255, or convert the images "
                f"with .float() / 255 and keep data_range=1.0.")
        pred, target = pred.double(), target.double()
    if not _span_fits(lo, hi, data_range):
        raise ValueError(
            f"the images span [{lo:.4g}, {hi:.4g}], more than twice data_range={given}. "
            f"0-255 images need data_range=255 (or divide them by 255 first).")
    _reference_fits(lo_p, hi_p, lo_t, hi_t, data_range, given)
    if is_float and data_range > 2 and -1 <= lo and hi <= 1:
        raise ValueError(
            f"data_range={given} is far wider than the images: their values lie in "
            f"[{lo:.4g}, {hi:.4g}], so they are [0, 1] (or [-1, 1]) images: PSNR would come out "
            f"{20 * math.log10(data_range):.2f} dB too high and SSIM close to 1. Images in "
            f"[0, 1] need data_range=1.0 ([-1, 1] images: 2.0).")
    return pred, target, data_range


def channels(x: torch.Tensor, expected: int, name: str, *, dim: int) -> None:
    """The channel count a feature net was built for (its in_channels)."""
    if x.shape[dim] != expected:
        raise ValueError(f"{name}: expected {expected} channels (the net's in_channels) in "
                         f"dimension {dim} of {tuple(x.shape)}, got {x.shape[dim]}. Build the net "
                         f"with in_channels={x.shape[dim]}, or convert the images.")


def covariance_spectrum(values: torch.Tensor, name: str) -> None:
    """Eigenvalues (or variances) of a covariance matrix: none clearly below zero.

    Rounding makes tiny negative ones, which projecting onto the positive semi-definite cone
    removes; one below -1e-4 times the largest is a mistake that the projection would hide
    (a covariance of -I would give a Frechet distance of 0).
    """
    if float(values.min()) < -1e-4 * float(values.abs().max()):
        raise ValueError(f"{name}: expected a covariance matrix (positive semi-definite), found "
                         f"an eigenvalue or variance of {float(values.min()):.4g}. Compute it "
                         f"with torch.cov or fl.gaussian_stats.")


def unit_images(x: object, name: str) -> torch.Tensor:
    """Float images that the caller reads as pixels in [0, 1]: finite, not empty, and not
    spanning more than 2 (the rule of image_pair with data_range=1, so unclipped noise passes
    and 0-255 images do not)."""
    x = float_tensor(x, name)
    lo, hi = _pixels(x, name)
    if not _span_fits(lo, hi, 1.0):
        raise ValueError(f"{name}: expected pixel values in [0, 1], found values from {lo:.4g} "
                         f"to {hi:.4g}. Divide 0-255 images by 255 first.")
    return x
