"""Padding id sequences into batches: input_ids, attention_mask and labels with -100 at padding.

    batch = fl.collate([[1, 7, 2], [1, 2]])    # (B, T) each, right-padded
    for batch in fl.iterate_batches(sequences, 64): ...

Unshifted: a causal LM's loss shifts (fl.shift_for_causal_lm). The padding id fills input
positions only; the labels there are -100, so no loss ever scores them.
"""

from __future__ import annotations

import torch

from forge_lib.metrics import validation

__all__ = ["PAD_ID", "collate", "iterate_batches"]

# The id padded input positions read: <pad> in the course's tokenizer, and the usual choice.
PAD_ID = 0


def collate(
    sequences: list[list[int]],
    *,
    pad_id: int = PAD_ID,
    label_pad: int = -100,
    max_len: int | None = None,
) -> dict[str, torch.Tensor]:
    """Right-pad id lists into a batch: input_ids, attention_mask and (unshifted) labels, all (B, T).

    labels equal input_ids except at padding, where they hold `label_pad`. Two conventions:
    label_pad=-100 (PyTorch's default ignore_index, as Hugging Face does) or label_pad=pad_id,
    in which case the loss must be told ignore_index=pad_id. Shift before scoring a causal LM.
    Ids must be ints >= 0: a -100 inside a sequence is a label, and is refused as an id.

    >>> b = collate([[1, 7, 2], [1, 2]])
    >>> b["input_ids"].tolist(), b["labels"].tolist()
    ([[1, 7, 2], [1, 2, 0]], [[1, 7, 2], [1, 2, -100]])
    """
    if len(validation.id_lists(sequences, "sequences")) == 0:
        raise ValueError("collate: expected at least one sequence, got an empty list.")
    rows = [validation.token_ids(seq, f"sequences[{i}]") for i, seq in enumerate(sequences)]
    if any(len(ids) == 0 for ids in rows):
        raise ValueError("collate: found an empty sequence; every sequence needs at least one id.")
    pad_id = validation.non_negative_int(pad_id, "pad_id")  # a token id, read by the embedding
    label_pad = validation.integer(label_pad, "label_pad")  # True would mean label 1
    longest = max(len(ids) for ids in rows)
    width = longest if max_len is None else min(longest, validation.positive_int(max_len, "max_len"))
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for row, ids in enumerate(rows):
        ids = ids[:width]
        input_ids[row, :len(ids)] = ids
        attention_mask[row, :len(ids)] = 1
    labels = input_ids.masked_fill(attention_mask == 0, label_pad)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def iterate_batches(sequences: list[list[int]], batch_size: int, **collate_kwargs):
    """Yield collated batches of `batch_size` sequences, in order (the last may be smaller)."""
    validation.id_lists(sequences, "sequences")
    validation.positive_int(batch_size, "batch_size")
    for start in range(0, len(sequences), batch_size):
        yield collate(sequences[start:start + batch_size], **collate_kwargs)
