"""Checkers for the exercises of notebooks/12_sliding_window.ipynb."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from forge_lib.check._core import Verdict, close, run_cases
from forge_lib.metrics.windows import sliding_window_perplexity, window_contexts, window_spans

__all__ = ["min_context", "sliding_window_ppl", "window_count", "target_contexts",
           "two_topic_best_nll"]


def window_count(fn: Callable[[int, int, int], int]) -> Verdict:
    """fn(n_tokens, context, stride) -> how many forward passes a sliding-window evaluation makes.

    The window that starts at `begin` reads ids[begin:begin + context] and predicts the ids after
    each of them, up to id begin + context; windows start every `stride` ids, and the last one is
    the first whose last target is the last id: begin + context >= n_tokens - 1.
    """
    cases = [(f"{n} tokens, context {c}, stride {s}", (n, c, s),
              len(window_spans(n, context=c, stride=s)))
             for n, c, s in [(10, 4, 2), (1000, 128, 128), (1000, 128, 1), (129, 128, 64),
                             (5000, 128, 32)]]

    def mistakes(args, got):
        n, c, s = args
        if got == 1 + max(0, math.ceil((n - c) / s)):
            return ("that is the Hugging Face guide's count (section 7): its windows run until "
                    "one *reads* the last id (begin + context >= n_tokens), because its model "
                    "shifts the labels inside each window. Here a window predicts the id after "
                    "each one it reads, so the last window is the first whose last *target*, "
                    "id begin + context, is the last id: begin + context >= n_tokens - 1.")
        if got == math.ceil(n / s) or got == n // s:
            return ("windows do not run to the end of the stream one stride at a time: the last "
                    "window is the first whose last target, id begin + context, is the last "
                    "id, so count windows until begin + context >= n_tokens - 1.")
        return None

    return run_cases("window_count", fn, cases, mistakes, exact=True)


def min_context(fn: Callable[[int, int], int]) -> Verdict:
    """fn(context, stride) -> the fewest tokens of context any target gets after the first window."""
    cases = [(f"context {c}, stride {s}", (c, s), c - s + 1)
             for c, s in [(128, 128), (128, 64), (128, 1), (16, 5)]]

    def mistakes(args, got):
        c, s = args
        if got == c - s:
            return "a window of C inputs predicts C targets; its first new target sees C - stride + 1."
        return None

    return run_cases("min_context", fn, cases, mistakes, exact=True)


class _BigramModel(torch.nn.Module):
    """A fixed toy model whose logits depend on the current and previous token only."""

    def __init__(self, vocab: int = 11) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(7)
        self.table = torch.randn(vocab, vocab, generator=gen) * 2
        self.prev = torch.randn(vocab, vocab, generator=gen)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        prev = torch.cat([input_ids[:, :1], input_ids[:, :-1]], dim=1)
        first = torch.zeros_like(input_ids, dtype=torch.bool)
        first[:, 0] = True  # no previous token inside the window: context matters
        return self.table[input_ids] + self.prev[prev].masked_fill(first[..., None], 0.0)


def _guide_loop_ppl(model: torch.nn.Module, ids: torch.Tensor, max_length: int,
                    stride: int) -> tuple[float, float]:
    """The Hugging Face guide's strided loop ("Perplexity of fixed-length models"), ported to a
    model that returns logits: its perplexity today (each window's loss weighted by its valid
    labels - 1) and in earlier versions (weighted by trg_len, divided by the stream's length).
    A window that scores no label is skipped, as a port must to get a number at all."""
    nll, count, nll_before, prev_end, end = 0.0, 0, 0.0, 0, 0
    for begin in range(0, len(ids), stride):
        end = min(begin + max_length, len(ids))
        trg_len = end - prev_end
        labels = ids[begin:end].clone()
        labels[:-trg_len] = -100  # the overlap is context only
        logp = torch.log_softmax(model(ids[None, begin:end])[0].double(), -1)[:-1]  # shifted
        target = labels[1:]
        keep = target != -100
        if keep.any():  # a last window of one id scores nothing: its mean loss would be NaN
            loss = -float(logp[keep].gather(1, target[keep, None]).mean())
            valid = int((labels != -100).sum()) - 1  # num_valid_tokens - batch_size
            nll, count, nll_before = nll + loss * valid, count + valid, nll_before + loss * trg_len
        prev_end = end
        if end == len(ids):
            break
    return math.exp(nll / count), math.exp(nll_before / end)


def sliding_window_ppl(fn: Callable[[torch.nn.Module, torch.Tensor, int, int], float]) -> Verdict:
    """fn(model, token_ids (N,), context, stride) -> sliding-window perplexity, each target once."""
    model = _BigramModel()
    gen = torch.Generator().manual_seed(8)
    ids = torch.randint(0, 11, (57,), generator=gen)
    cases = [(f"57 tokens, context {c}, stride {s}", (model, ids, c, s),
              sliding_window_perplexity(model, ids, context=c, stride=s))
             for c, s in [(8, 8), (8, 3), (8, 1), (57, 57)]]

    def mistakes(args, got):
        model, ids, c, s = args
        window_nll = []  # (NLL of the targets each window newly scores, their count)
        rescored_nll, rescored_count = 0.0, 0  # every target of every window, overlaps again
        for begin, end, n_scored in window_spans(len(ids), context=c, stride=s):
            logp = torch.log_softmax(model(ids[None, begin:end])[0].double(), -1)
            picked = logp.gather(1, ids[begin + 1:end + 1, None])
            window_nll.append((-float(picked[-n_scored:].sum()), n_scored))
            rescored_nll -= float(picked.sum())
            rescored_count += end - begin
        total_nll = sum(nll for nll, _ in window_nll)
        if close(got, total_nll / (len(ids) - 1)):
            return "that is the mean NLL; the perplexity is its exp."
        if len(window_nll) > 1 and close(got, sum(math.exp(nll / n) for nll, n in window_nll)
                                         / len(window_nll)):
            return ("that is the mean of the windows' perplexities, which weighs a window that "
                    "scores 1 new target like one that scores 8: add the windows' NLL sums and "
                    "counts, then exp(total NLL / total count).")
        scored_twice = "overlapping windows score some targets twice; count only the new ones."
        if s < c and close(got, math.exp(rescored_nll / rescored_count)):
            return scored_twice
        total, count = 0.0, 0
        for b in range(0, len(ids) - 1, s):  # the same, with a window starting every stride
            window = ids[b:b + c + 1]
            if len(window) < 2:
                break
            logp = torch.log_softmax(model(window[None, :-1])[0].double(), -1)
            total -= float(logp.gather(1, window[1:, None]).sum())
            count += len(window) - 1
        if s < c and close(got, math.exp(total / count)):
            return scored_twice
        if any(close(got, ppl) for ppl in _guide_loop_ppl(model, ids, c, s)):
            return ("that is the Hugging Face guide's loop (section 7), which counts differently: "
                    "its model shifts the labels inside each window, so the id at a window's "
                    "position 0 is never a target (with stride = context it skips one id per "
                    "window), and it weights each window by its valid labels - 1 (or earlier, "
                    "trg_len over the stream's length), not by the targets it scored. Here a "
                    "window reads token_ids[begin:begin + context] and predicts the next "
                    "context ids: score each target once and divide by their number.")
        return None

    return run_cases("sliding_window_ppl", fn, cases, mistakes)


def target_contexts(fn: Callable[[int, int, int], list[int]]) -> Verdict:
    """fn(n_tokens, context, stride) -> for targets 1 .. n_tokens - 1, how many ids the window
    that scores it lets the model read before it (fl.window_contexts)."""
    cases = [(f"{n} tokens, context {c}, stride {s}", (n, c, s),
              window_contexts(n, context=c, stride=s).tolist())
             for n, c, s in [(10, 4, 2), (10, 4, 4), (12, 5, 1), (30, 8, 3), (6, 8, 8)]]

    def mistakes(args, got):
        n, c, s = args
        want = window_contexts(n, context=c, stride=s).tolist()
        if isinstance(got, torch.Tensor):
            return "expected a list of ints; call .tolist() on the tensor."
        if not isinstance(got, (list, tuple)) or len(got) != len(want):
            return (f"expected one context per target, {n - 1} of them (target 1 .. "
                    f"{n - 1}), as a list of ints.")
        if list(got) == [w - 1 for w in want]:
            return ("off by one: the window that starts at `begin` lets target j see "
                    "ids[begin:j], which is j - begin ids (target 1 of the first window sees 1).")
        if list(got) == [min(j, c) for j in range(1, n)]:
            return ("that is what stride 1 gives; with a larger stride a target is scored by the "
                    "first window that predicts it, which may have started up to stride - 1 ids "
                    "later than the latest window would, so it sees fewer ids.")
        return None

    return run_cases("target_contexts", fn, cases, mistakes, exact=True)


def _expected_nll(p_a: float, p_b: float, c: int,
                  next_x: Callable[[float, float], float]) -> float:
    """F(c)-style expected NLL of a predictor of the next word that sees the last c words of two
    equally likely topics of i.i.d. words ("x" with probability p_a under topic A, p_b under B,
    else "y"). Only the window's number of x's, k, matters: next_x(like_a, like_b) is the
    predictor's probability of "x" after a window whose likelihood under each topic is given."""
    total = 0.0
    for k in range(c + 1):
        like = [p ** k * (1 - p) ** (c - k) for p in (p_a, p_b)]
        x_next = next_x(*like)
        for p, weight in zip((p_a, p_b), like, strict=True):
            seen = 0.5 * math.comb(c, k) * weight  # P(this topic, k x's among the c words)
            total += seen * -(p * math.log(x_next) + (1 - p) * math.log(1 - x_next))
    return total


def _two_topic_reference(p_a: float, p_b: float, c: int) -> float:
    """Exact F(c): the posterior mixes the topics' next-word probabilities."""
    return _expected_nll(p_a, p_b, c, lambda la, lb: (la * p_a + lb * p_b) / (la + lb))


def _plug_in(p_a: float, p_b: float, c: int) -> float:
    """The wrong answer that bets on the more probable topic (a tie: the 50/50 mixture)."""
    return _expected_nll(p_a, p_b, c, lambda la, lb: p_a if la > lb else p_b if lb > la
                         else 0.5 * (p_a + p_b))


def _entropy(p: float) -> float:
    return -(p * math.log(p) + (1 - p) * math.log(1 - p))


def two_topic_best_nll(fn: Callable[[float, float, int], float]) -> Verdict:
    """fn(p_a, p_b, c) -> F(c) in nats: the expected NLL of the best predictor of the next word
    that sees the last c words, for two equally likely topics of i.i.d. words ("x" with
    probability p_a under topic A, p_b under topic B, else "y")."""
    cases = [(f"p_a={a}, p_b={b}, c={c}", (a, b, c), _two_topic_reference(a, b, c))
             for a, b, c in [(0.9, 0.2, 0), (0.9, 0.2, 1), (0.9, 0.2, 5), (0.6, 0.5, 3),
                             (0.99, 0.01, 12)]]

    def mistakes(args, got):
        a, b, c = args
        if close(got, _two_topic_reference(a, b, c) / math.log(2)):
            return "that is in bits; F(c) here is in nats (natural log)."
        if close(got, _entropy(0.5 * a + 0.5 * b)):
            return ("that is F(0), the entropy of one word with the topic unknown: a predictor "
                    "that ignores the window. Weigh each topic by how likely it makes the window.")
        if close(got, 0.5 * _entropy(a) + 0.5 * _entropy(b)):
            return ("that is the limit for c -> infinity, where the window reveals the topic; "
                    "with c words the predictor is still unsure of it, and pays for that.")
        if close(got, _plug_in(a, b, c)):
            return ("that predicts with the more likely topic alone; the best predictor mixes "
                    "both topics' next-word probabilities, weighted by their posterior.")
        return None

    return run_cases("two_topic_best_nll", fn, cases, mistakes)

