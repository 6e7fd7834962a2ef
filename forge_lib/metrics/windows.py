"""Perplexity of a text longer than the model's context: sliding windows, each token counted once.

A model with a context of C tokens cannot read a 40,000-token text at once. Cut the text into
windows of C tokens that start every `stride` tokens; each window scores only the targets that
no earlier window scored, so every token from the second to the last is predicted exactly once.

    ppl = fl.sliding_window_perplexity(model, ids, context=128, stride=64)   # ids: (N,) long
    fl.window_spans(len(ids), context=128, stride=64)   # the plan: (begin, end, n_scored) each

stride = context: non-overlapping windows, cheapest; the first targets of each window see
almost no context. stride = 1: every target (after the first window) sees the full C tokens,
at about C times the cost. In between, each scored target sees at least C - stride + 1 tokens
of context. More context helps only where the text has structure that reaches back that far
(natural language: topics, names, quotes); on a first-order Markov language the previous token
says all there is. Notebook 12 sets a model's stride curve beside the exact best for each
protocol on a language with document-long structure: chunks of 128 cost the best predictor
0.57%, and the model did best at stride 64 and worst at stride 1, since a window that reaches
into an unrelated earlier document only distracts it. A smaller stride is a bet on long-range
structure, not a sure gain. `window_contexts` gives what each target sees under a protocol.
"""

from __future__ import annotations

import torch

from forge_lib.metrics import validation
from forge_lib.metrics.evaluation import check_context, evaluating, model_logits
from forge_lib.metrics.text import nll_sum_and_count, ppl_from_sum

__all__ = ["window_spans", "window_contexts", "sliding_window_nll", "sliding_window_perplexity"]


def _int_arg(x: object, name: str) -> int:
    return validation.positive_int(x, name)


def window_spans(n_tokens: int, *, context: int, stride: int) -> list[tuple[int, int, int]]:
    """The windows for a text of `n_tokens` ids: (begin, end, n_scored) per window.

    The model reads ids[begin:end] (at most `context` of them); its logits at position j predict
    ids[begin + j + 1], and only the last `n_scored` of those predictions are counted. The
    n_scored add up to n_tokens - 1: the first id has nothing before it to predict it from.

    >>> window_spans(10, context=4, stride=2)
    [(0, 4, 4), (2, 6, 2), (4, 8, 2), (6, 9, 1)]
    """
    n_tokens, context, stride = (_int_arg(n_tokens, "n_tokens"), _int_arg(context, "context"),
                                 _int_arg(stride, "stride"))
    if stride > context:
        raise ValueError(f"stride: expected at most context ({context}), got {stride}; a larger "
                         f"stride would skip {stride - context} tokens between windows.")
    if n_tokens < 2:
        raise ValueError(f"n_tokens: expected at least 2 ids (one to read, one to predict), got "
                         f"{n_tokens}.")
    spans, last_scored, begin = [], 0, 0  # last_scored: the highest target position counted
    while last_scored < n_tokens - 1:
        last = min(begin + context, n_tokens - 1)  # the last target this window predicts
        spans.append((begin, last, last - last_scored))
        last_scored = last
        begin += stride
    return spans


def window_contexts(n_tokens: int, *, context: int, stride: int) -> torch.Tensor:
    """(n_tokens - 1,) how many ids the window that scores target j (j = 1 .. n_tokens - 1)
    lets the model read before it: j - begin of that window. The protocol's context per target,
    which an exact predictor can be given (fl.TopicLanguage.token_nll) to price the protocol.

    >>> window_contexts(10, context=4, stride=2).tolist()
    [1, 2, 3, 4, 3, 4, 3, 4, 3]
    >>> window_contexts(10, context=4, stride=4).tolist()   # chunks: the context restarts at 1
    [1, 2, 3, 4, 1, 2, 3, 4, 1]
    """
    spans = window_spans(n_tokens, context=context, stride=stride)
    out = torch.empty(sum(n_scored for *_, n_scored in spans), dtype=torch.long)
    for begin, end, n_scored in spans:
        targets = torch.arange(end - n_scored + 1, end + 1)
        out[targets - 1] = targets - begin
    return out


def _token_ids(token_ids: object) -> torch.Tensor:
    if isinstance(token_ids, (list, tuple)):
        token_ids = torch.as_tensor(token_ids)  # floats stay floats, and are refused below
    ids = validation.integer_tensor(token_ids, "token_ids")
    if ids.ndim != 1:
        raise ValueError(f"token_ids: expected one long 1-D stream of ids (N,), got shape "
                         f"{tuple(ids.shape)}. Concatenate the sequences first "
                         f"(torch.cat or fl.token_stream).")
    if ids.numel() and int(ids.min()) < 0:
        raise ValueError(f"token_ids: expected real token ids (>= 0) only, found "
                         f"{int((ids < 0).sum())} negative (first: {int(ids[ids < 0][0])}). A "
                         f"stream is read as context too, so it cannot hold -100 labels; to "
                         f"leave some targets unscored pass ignore_index=<their id>.")
    return ids


def _window_batches(ids: torch.Tensor, spans: list[tuple[int, int, int]],
                    ignore_index: int | None, batch_size: int):
    """(inputs, labels) pairs, (B, L) each, labels aligned with the logits and -100 where a
    target is not scored here. Windows of one length share a batch: all but the last one or
    two are exactly `context` long."""
    by_length: dict[int, list[tuple[int, int, int]]] = {}
    for span in spans:
        by_length.setdefault(span[1] - span[0], []).append(span)
    for length, group in by_length.items():
        for i in range(0, len(group), batch_size):
            chunk = group[i:i + batch_size]
            begins = torch.tensor([b for b, _, _ in chunk])[:, None] + torch.arange(length)
            labels = ids[begins + 1]
            fresh = torch.tensor([length - n for _, _, n in chunk])[:, None]
            scored = torch.arange(length) >= fresh  # the last n targets: new in this window
            if ignore_index is not None:
                scored &= labels != ignore_index
            yield ids[begins], labels.masked_fill(~scored, -100)


def sliding_window_nll(
    model: torch.nn.Module, token_ids: torch.Tensor, *, context: int, stride: int,
    ignore_index: int | None = None, batch_size: int = 32,
) -> tuple[torch.Tensor, int]:
    """Summed NLL (float64, nats) and count over every target of the stream; see window_spans.

    model(input_ids (B, T)) returns logits (B, T, V) or an output with .logits (Hugging Face); it
    runs in eval mode and is left in the mode it had. Windows of equal length are batched.
    Targets equal to `ignore_index` are read as context but not scored (e.g. the <bos> after
    each <eos> of a concatenated stream, which a per-sentence evaluation never predicts).
    """
    model = validation.model(model)
    ids = _token_ids(token_ids)
    ignore_index = validation.ignore_index_arg(ignore_index)
    batch_size = _int_arg(batch_size, "batch_size")
    if isinstance(context, int):  # a non-int context is refused by window_spans below
        check_context(model, context, "context", "Pass a smaller context.")
    spans = window_spans(len(ids), context=context, stride=stride)
    total, count = torch.zeros((), dtype=torch.float64), 0
    with evaluating(model):
        for inputs, labels in _window_batches(ids, spans, ignore_index, batch_size):
            nll, n = nll_sum_and_count(model_logits(model, inputs), labels, ignore_index=-100)
            total += nll
            count += n
    return total, count


def sliding_window_perplexity(
    model: torch.nn.Module, token_ids: torch.Tensor, *, context: int, stride: int,
    ignore_index: int | None = None, batch_size: int = 32,
) -> float:
    """Perplexity of one long stream of ids under a fixed-context model, each target once.

    >>> model = lambda x: torch.zeros(*x.shape, 7)          # uniform over 7 tokens
    >>> round(sliding_window_perplexity(model, torch.arange(50) % 7, context=8, stride=3), 4)
    7.0
    """
    nll, count = sliding_window_nll(model, token_ids, context=context, stride=stride,
                                    ignore_index=ignore_index, batch_size=batch_size)
    return ppl_from_sum(nll, count, ignore_index=ignore_index, caller="sliding_window_perplexity")
