"""Checkers for the exercises of notebooks/17_real_model.ipynb."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from forge_lib.check._core import Verdict, call, close, not_a_function, run_cases, verdict

__all__ = ["labels_from_mask", "ppl_per_other_token"]

# The hidden cases' end-of-text id, also their padding (pad = eos): SmolLM2's <|im_end|> is id 2,
# so an answer that finds padding with `ids == smol_tok.eos_token_id` gets its specific hint.
EOS = 2


def _mask_cases() -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """Batches padded with the end-of-text id, whose real rows end with it too, so that finding
    padding by id removes real targets; one row starts with padding (left padding)."""
    right = (torch.tensor([[5, 9, 7, EOS, EOS, EOS], [4, 8, 6, 3, 9, EOS]]),
             torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]]))
    left = (torch.tensor([[EOS, EOS, 5, 6, EOS], [7, 3, 8, 4, EOS]]),
            torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]]))
    unpadded = (torch.tensor([[3, 4, 5, 6]]), torch.ones(1, 4, dtype=torch.long))
    return [("a right-padded batch with pad = eos", *right), ("a left-padded batch", *left),
            ("a batch without padding", *unpadded)]


def _mask_hint(ids: torch.Tensor, mask: torch.Tensor, got: torch.Tensor) -> str:
    if torch.equal(got, ids.masked_fill(ids == EOS, -100)):
        return ("that finds padding by its id: with pad = eos it also removes every real "
                "end-of-text target. Use attention_mask == 0 instead.")
    if torch.equal(got, ids.masked_fill(mask == 1, -100)):
        return "that masks the real tokens and keeps the padding: -100 goes where the mask is 0."
    if torch.equal(got, ids):
        return "padding positions must be -100, or the model is scored on predicting padding."
    if torch.equal(got, ids.masked_fill(mask == 0, 0)):
        return "padding must be -100 (the ignore_index of the losses), not 0, which is a real id."
    return "compare your first row with the expected one above."


def labels_from_mask(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Verdict:
    """fn(input_ids (B, T), attention_mask (B, T)) -> labels (B, T): the ids, -100 where the mask is 0.

    >>> bool(labels_from_mask(lambda ids, m: ids.masked_fill(m == 0, -100)))
    Correct: all 3 hidden cases pass.
    True
    """
    if (refused := not_a_function("labels_from_mask", fn)) is not None:
        return refused
    cases = _mask_cases()
    for description, ids, mask in cases:
        got, error = call(fn, description, ids.clone(), mask.clone())  # clones: in-place edits are fine
        if error is not None:
            return verdict(False, error)
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(ids.shape):
            shown = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            return verdict(False, f"on {description} expected a tensor of shape {tuple(ids.shape)}, "
                           f"got {shown}.")
        expected = ids.masked_fill(mask == 0, -100)
        if not torch.equal(got.long(), expected):
            return verdict(False, f"on {description} expected {expected[0].tolist()} as the first "
                           f"row, got {got[0].tolist()}. Hint: {_mask_hint(ids, mask, got)}")
    return verdict(True, f"all {len(cases)} hidden cases pass.")


def ppl_per_other_token(fn: Callable[[float, int, int], float]) -> Verdict:
    """fn(bits_per_byte, n_bytes, n_tokens) -> the per-token perplexity of the same predictions
    when the n_bytes are split into n_tokens tokens: 2 ** (bits_per_byte * n_bytes / n_tokens).

    >>> bool(ppl_per_other_token(lambda bpb, b, t: 2 ** (bpb * b / t)))
    Correct: all 3 hidden cases pass.
    True
    """
    cases = [(f"{bpb} bits per byte, {b:,} bytes in {t:,} tokens", (bpb, b, t), 2 ** (bpb * b / t))
             for bpb, b, t in [(1.25, 4_000, 1_000), (0.9, 10_000, 2_600), (2.0, 300, 120)]]

    def mistakes(args, got):
        bpb, n_bytes, n_tokens = args
        if close(got, 2 ** (bpb * n_tokens / n_bytes)):
            return "bytes and tokens are swapped: bits per token = bits per byte x bytes / tokens."
        if close(got, 2 ** bpb):
            return "that is the perplexity per byte; scale the bits by bytes per token first."
        if close(got, math.exp(bpb * n_bytes / n_tokens)):
            return "bits are base 2: raise 2, not e, to the bits per token."
        if close(got, bpb * n_bytes / n_tokens):
            return "that is the bits per token; the perplexity is 2 to that power."
        return None

    return run_cases("ppl_per_other_token", fn, cases, mistakes)
