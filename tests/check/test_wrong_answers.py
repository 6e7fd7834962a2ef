"""A catalogue of typical wrong answers, one table for every checker: each must fail with its own
hint (a distinctive piece of the hint text), the notebooks' reference solutions must pass, and
the student edition's stubs (`raise NotImplementedError`) must get a "Not yet" that names the
function, never a traceback.

The wrong answers are the mistakes a learner makes (forgetting exp, shifting the wrong way,
averaging perplexities, hard-coding -100, ...) and the shortcuts an exercise rules out (calling
cross_entropy where log-sum-exp is the exercise, joining micro-batches, scoring all tokens at
once). A hint that stops matching its mistake fails here.
"""

import ast
import itertools
import math
import re
import statistics
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import forge_lib as fl
from forge_lib import check
from forge_lib.check import _core
from forge_lib.metrics.windows import window_spans
from forge_lib.tools import publish

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CHECKERS = sorted({name for module in vars(check).values() if hasattr(module, "__all__")
                   and module.__name__.startswith("forge_lib.check.nb")
                   for name in module.__all__})


def verdict_of(capsys, checker, fn) -> tuple[bool, str]:
    ok = bool(checker(fn))
    out = capsys.readouterr().out
    assert out.count("\n") == 1, f"a checker prints exactly one line, got {out!r}"
    return ok, out


# --- wrong answers that take a few lines ---------------------------------------------------------

def _ppl(logits, labels):  # the right perplexity of aligned logits and labels, -100 ignored
    return fl.perplexity(logits, labels, ignore_index=-100)


def mean_of_row_perplexities(logits, labels):
    shifted, target = fl.shift_for_causal_lm(logits, labels)
    return statistics.mean(_ppl(shifted[i:i + 1], target[i:i + 1]) for i in range(len(target)))


def exp_of_mean_row_loss(logits, labels):
    shifted, target = fl.shift_for_causal_lm(logits, labels)
    return math.exp(statistics.mean(math.log(_ppl(shifted[i:i + 1], target[i:i + 1]))
                                    for i in range(len(target))))


def accuracy_without_shift(logits, labels):
    real = labels != -100
    return (logits.argmax(-1) == labels)[real].double().mean().item()


def accuracy_shifted_wrong_way(logits, labels):
    return accuracy_without_shift(logits[:, 1:], labels[:, :-1])


def accuracy_over_all_positions(logits, labels):
    return (logits[:, :-1].argmax(-1) == labels[:, 1:]).double().mean().item()


def weighted_mean_loss_minus_100(logits, target, weight, ignore_index):
    keep = target != -100  # the argument ignored
    nll = -logits[keep].log_softmax(-1).gather(1, target[keep, None]).squeeze(1)
    return ((weight[target[keep]] * nll).sum() / weight[target[keep]].sum()).item()


def weighted_mean_loss_by_count(logits, target, weight, ignore_index):
    keep = target != ignore_index
    nll = -logits[keep].log_softmax(-1).gather(1, target[keep, None]).squeeze(1)
    return ((weight[target[keep]] * nll).sum() / keep.sum()).item()


def accumulated_mean_loss_minus_100(means, targets, ignore_index):
    counts = [int((t != -100).sum()) for t in targets]
    return sum(m * n for m, n in zip(means, counts, strict=True)) / sum(counts)


def accumulated_loss_mean_of_means(logits, targets, ignore_index):
    terms = [F.cross_entropy(lg, t, ignore_index=ignore_index) for lg, t in zip(logits, targets, strict=True)]
    return sum(terms) / len(terms)


def accumulated_loss_concatenated(logits, targets, ignore_index):
    return F.cross_entropy(torch.cat(logits), torch.cat(targets), ignore_index=ignore_index)


def mean_nll_by_hand(logits, target):  # notebook 05's exercise 2, right
    row_max = logits.max(dim=1, keepdim=True).values
    lse = row_max.squeeze(1) + torch.log(torch.exp(logits - row_max).sum(dim=1))
    return (lse - logits.gather(1, target[:, None]).squeeze(1)).mean().item()


def mean_nll_softmax_then_log(logits, target):
    return -torch.log(torch.softmax(logits, -1).gather(1, target[:, None])).mean().item()


def mean_nll_without_max(logits, target):
    lse = torch.log(torch.exp(logits).sum(dim=1))
    return (lse - logits.gather(1, target[:, None]).squeeze(1)).mean().item()


def stall_point_half(increment, dtype):
    step = torch.tensor(increment, dtype=dtype).item()
    power = 2.0 ** math.ceil(math.log2(2 * step / torch.finfo(dtype).eps))
    return power / 2 if power <= torch.finfo(dtype).max else math.inf


def plain_running_sum(values):
    total = torch.zeros((), dtype=values.dtype)
    for v in values:
        total = total + v
    return total


def chunked_nll_without_last_chunk(hidden, weight, target, chunk):
    whole = target.numel() // chunk * chunk
    return sum(fl.nll_sum_and_count(hidden[s:s + chunk] @ weight.T, target[s:s + chunk])[0].item()
               for s in range(0, whole, chunk))


def chunked_nll_of_means(hidden, weight, target, chunk):
    return sum(F.cross_entropy(hidden[s:s + chunk] @ weight.T, target[s:s + chunk]).item()
               for s in range(0, target.numel(), chunk))


def first_nonfinite_0_based(losses):
    return next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)


def first_nan_only(losses):
    return next((i + 1 for i, v in enumerate(losses) if math.isnan(v)), None)


def early_stopping_ties(losses, patience):
    return check.nb09_training_curves._early_stopping_reference(losses, patience, ties_improve=True)


def early_stopping_late(losses, patience):
    return check.nb09_training_curves._early_stopping_reference(losses, patience + 1)


def smoothing_biased(values, weight):
    out, ema = [], 0.0
    for v in values:
        ema = weight * ema + (1 - weight) * v
        out.append(ema)
    return out


def improvement_with_ties(metric, best, mode):
    if math.isnan(metric):
        return False
    return best is None or (metric <= best if mode == "min" else metric >= best)


def improvement_nan(metric, best, mode):
    return best is None or (metric < best if mode == "min" else metric > best)


def sliding_window_ppl_by_hand(model, ids, context, stride, per_window_mean=False, log=False,
                               score_overlap=False):
    """Right unless told to average the windows' perplexities, to stop before exp, or to score
    every target of every window (the overlap counted again)."""
    nll, count, ppls = 0.0, 0, []
    for begin, end, n_scored in window_spans(len(ids), context=context, stride=stride):
        n = end - begin if score_overlap else n_scored
        logp = torch.log_softmax(model(ids[None, begin:end])[0].double(), -1)
        window = -float(logp.gather(1, ids[begin + 1:end + 1, None])[-n:].sum())
        nll, count = nll + window, count + n
        ppls.append(math.exp(window / n))
    if per_window_mean:
        return statistics.mean(ppls)
    return nll / count if log else math.exp(nll / count)


def cosine_with_frame_0(f):
    return F.cosine_similarity(f[:1], f[1:], dim=-1).mean().item()


def cosine_unnormalised(f):
    return (f[:-1] * f[1:]).sum(-1).mean().item()


def grid_y_first(flow):
    _, h, w = flow.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=flow.dtype), torch.arange(w, dtype=flow.dtype),
                            indexing="ij")
    return torch.stack([2 * (ys + flow[1]) / (h - 1) - 1, 2 * (xs + flow[0]) / (w - 1) - 1], -1)


def grid_shift_only(flow):
    _, h, w = flow.shape
    return torch.stack([2 * flow[0] / (w - 1), 2 * flow[1] / (h - 1)], -1)


def shards_drop_remainder(n, world):
    size = n // world
    return [range(r * size, (r + 1) * size) for r in range(world)]


def shards_padded(n, world):
    size = -(-n // world)
    return [[i % n for i in range(r * size, (r + 1) * size)] for r in range(world)]


def mean_nll_one_max(logits, target):  # log-sum-exp with one max for the whole batch
    m = logits.max()
    lse = m + torch.log(torch.exp(logits - m).sum(dim=1))
    return (lse - logits.gather(1, target[:, None]).squeeze(1)).mean().item()


def chunked_nll_softmax_then_log(hidden, weight, target, chunk):
    total = 0.0
    for s in range(0, target.numel(), chunk):
        probs = torch.softmax(hidden[s:s + chunk] @ weight.T, dim=-1)
        total -= probs.gather(1, target[s:s + chunk, None]).log().sum().item()
    return total


def chunked_nll_full_bmm(hidden, weight, target, chunk):  # all logits at once, through bmm
    logits = torch.bmm(hidden[None], weight.T[None])[0]
    return sum(fl.nll_sum_and_count(logits[s:s + chunk], target[s:s + chunk])[0].item()
               for s in range(0, target.numel(), chunk))


def chunked_nll_full_broadcast(hidden, weight, target, chunk):  # all logits, by broadcasting
    logits = (hidden[:, None, :] * weight[None, :, :]).sum(-1)  # (N, V, D) -> (N, V)
    return fl.nll_sum_and_count(logits, target)[0].item()


def early_stopping_against_previous(losses, patience):
    return check.nb09_training_curves._early_stopping_reference(losses, patience,
                                                                against_previous=True)


def smoothing_seeded(values, weight):  # the average started at the first value, not debiased
    out = [values[0]]
    for v in values[1:]:
        out.append(weight * out[-1] + (1 - weight) * v)
    return out


def sqrtm_sym(s):
    evals, evecs = torch.linalg.eigh(s)
    return evecs @ torch.diag(evals.clamp(min=0).sqrt()) @ evecs.T


def grid_minus_flow(flow):
    _, h, w = flow.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=flow.dtype), torch.arange(w, dtype=flow.dtype),
                            indexing="ij")
    return torch.stack([2 * (xs - flow[0]) / (w - 1) - 1, 2 * (ys - flow[1]) / (h - 1) - 1], -1)


def accuracy_per_row_mean(logits, labels):  # the rows' accuracies averaged
    pred, target = logits[:, :-1].argmax(-1), labels[:, 1:]
    rows = [((p == t) & (t != -100)).sum().item() / (t != -100).sum().item()
            for p, t in zip(pred, target, strict=True)]
    return statistics.mean(rows)


def masked_accuracy_per_row_mean(logits, labels):  # the same for already shifted labels
    rows = [((lg.argmax(-1) == t) & (t != -100)).sum().item() / (t != -100).sum().item()
            for lg, t in zip(logits, labels, strict=True)]
    return statistics.mean(rows)


def accumulated_loss_by_numel(logits, targets, ignore_index):
    total = sum(t.numel() for t in targets)  # counts the ignored positions too
    return sum(F.cross_entropy(lg, t, ignore_index=ignore_index, reduction="sum") / total
               for lg, t in zip(logits, targets, strict=True))


def guide_loop_ppl(model, ids, context, stride, before=False):
    """A port of the Hugging Face guide's strided loop (notebook 12, section 7)."""
    ppl_today, ppl_before = check.nb12_sliding_window._guide_loop_ppl(model, ids, context, stride)
    return ppl_before if before else ppl_today


# --- the catalogue: (checker, wrong answer, a distinctive piece of its hint) ---------------------

WRONG = [
    # 01
    ("perplexity_from_probs", lambda p: -sum(math.log(x) for x in p) / len(p), "exp of it"),
    ("perplexity_from_probs", lambda p: math.exp(sum(math.log(x) for x in p) / len(p)),
     "mind the minus sign"),
    ("perplexity_from_probs", lambda p: sum(1 / x for x in p) / len(p), "geometric mean"),
    ("perplexity_from_probs", lambda p: 1 / math.prod(p), "N-th root"),
    ("bits_per_byte_from_loss", lambda loss, t, b: loss * b / math.log(2) / t, "swapped"),
    ("bits_per_byte_from_loss", lambda loss, t, b: loss * t / b, "divide by ln 2"),
    ("bits_per_byte_from_loss", lambda loss, t, b: loss * t * math.log(2) / b, "not a multiplication"),
    ("bits_per_byte_from_loss", lambda loss, t, b: loss / math.log(2), "bits per token"),
    ("convert_perplexity", lambda ppl, a, b: ppl * a / b, "rescale the mean NLL"),
    ("convert_perplexity", lambda ppl, a, b: ppl ** (b / a), "upside down"),
    # 02
    ("causal_lm_perplexity", lambda lg, lb: _ppl(lg, lb), "logits[:, i] predicts token i+1"),
    ("causal_lm_perplexity", lambda lg, lb: _ppl(lg[:, 1:], lb[:, :-1]), "the wrong way"),
    ("causal_lm_perplexity", lambda lg, lb: math.log(_ppl(lg[:, :-1], lb[:, 1:])),
     "perplexity is its exp"),
    ("causal_lm_perplexity", mean_of_row_perplexities, "mean of the sentences' perplexities"),
    ("causal_lm_perplexity", exp_of_mean_row_loss, "averages the sentences' mean losses"),
    ("causal_lm_perplexity", lambda lg, lb: _ppl(lg[:, :-2], lb[:, 2:]), "shifts twice"),
    ("shift_labels", lambda lb: lb, "labels unchanged"),
    ("shift_labels", lambda lb: torch.roll(lb, -1, dims=1), "torch.roll wraps around"),
    ("shift_labels", lambda lb: lb[:, 1:], "keep the shape (B, T)"),
    ("shift_labels", lambda lb: torch.cat([torch.full_like(lb[:, :1], -100), lb[:, :-1]], 1),
     "moves the labels right"),
    ("causal_lm_accuracy", accuracy_without_shift, "logits[:, i] predicts token i+1"),
    ("causal_lm_accuracy", accuracy_shifted_wrong_way, "the wrong way"),
    ("causal_lm_accuracy", accuracy_over_all_positions, "counts padded positions"),
    ("causal_lm_accuracy", lambda lg, lb: 100 * accuracy_without_shift(lg[:, :-1], lb[:, 1:]),
     "that is a percentage"),
    ("causal_lm_accuracy", lambda lg, lb: accuracy_without_shift(lg[:, :-2], lb[:, 2:]),
     "shifts twice"),
    ("causal_lm_accuracy", accuracy_per_row_mean, "averages the rows' accuracies"),
    # 03
    ("padded_perplexity", lambda p, f, lp: (1 - f) * p + f * math.exp(lp), "perplexities do not average"),
    ("padded_perplexity", lambda p, f, lp: (1 - f) * math.log(p) + f * lp, "the perplexity is its exp"),
    ("counted_targets", lambda m: int(m[:, :-1].sum()), "mask[:, :-1] drops the last position"),
    ("counted_targets", lambda m: int(m.sum()), "the first token of each row is never a target"),
    ("counted_targets", lambda m: m.shape[0] * (m.shape[1] - 1), "counts the padded targets"),
    ("counted_targets", lambda m: m.numel(), "numel() counts padding"),
    ("counted_targets", lambda m: int(m.sum()) - 1, "subtract one per row"),
    ("accumulated_mean_loss", lambda ms, ts, ig: statistics.mean(ms), "a mean of batch means"),
    ("accumulated_mean_loss", lambda ms, ts, ig: sum(m * t.numel() for m, t in zip(ms, ts, strict=True))
     / sum(t.numel() for t in ts), "targets.numel() counts the padded positions"),
    ("accumulated_mean_loss", accumulated_mean_loss_minus_100, "not a hard-coded -100"),
    # 04
    ("token_weighted_mean", lambda ms, ns: statistics.mean(ms), "a mean of batch means"),
    ("weighted_mean_loss", weighted_mean_loss_minus_100, "not a hard-coded -100"),
    ("weighted_mean_loss", weighted_mean_loss_by_count, "sum of the weights"),
    ("weighted_mean_loss", lambda lg, t, w, ig: F.cross_entropy(lg, t, ignore_index=ig).item(),
     "multiply each token's loss by weight[target]"),
    ("weighted_mean_loss", lambda lg, t, w, ig: F.cross_entropy(lg, t, weight=w, ignore_index=ig),
     "calls cross_entropy, which this exercise rules out"),
    ("weighted_mean_loss", lambda lg, t, w, ig: F.nll_loss(lg.log_softmax(-1), t, weight=w,
                                                           ignore_index=ig),
     "calls nll_loss, which this exercise rules out"),
    ("accumulated_loss", accumulated_loss_mean_of_means, "averaging the micro-batch means"),
    ("accumulated_loss", lambda lgs, ts, ig: sum(F.cross_entropy(lg, t, ignore_index=ig)
                                                 for lg, t in zip(lgs, ts, strict=True)),
     "summing mean losses"),
    ("accumulated_loss", lambda lgs, ts, ig: accumulated_loss_mean_of_means(lgs, ts, ig).item(),
     "autograd can differentiate"),
    ("accumulated_loss", accumulated_loss_concatenated, "joins the micro-batches' logits"),
    ("accumulated_loss", accumulated_loss_by_numel, "counts the ignored positions too"),
    # 05
    ("safe_perplexity", lambda x: math.inf if x > 88.7 else math.exp(x), "does not overflow float64"),
    *[("safe_perplexity", lambda x, cut=cut: math.inf if x > cut else math.exp(x),
       "not a round number below it") for cut in (301, 500, 709)],
    ("stable_mean_nll", lambda lg, t: F.cross_entropy(lg, t).item(),
     "calls cross_entropy, which this exercise rules out"),
    ("stable_mean_nll", lambda lg, t: torch.nn.CrossEntropyLoss()(lg, t).item(), "cross_entropy"),
    ("stable_mean_nll", lambda lg, t: -lg.log_softmax(-1).gather(1, t[:, None]).mean().item(),
     "calls log_softmax"),
    ("stable_mean_nll", lambda lg, t: (torch.logsumexp(lg, 1) - lg.gather(1, t[:, None])[:, 0])
     .mean().item(), "calls logsumexp"),
    ("stable_mean_nll", lambda lg, t: fl.nll_sum_and_count(lg, t)[0].item() / len(t), "cross_entropy"),
    ("stable_mean_nll", mean_nll_softmax_then_log, "Never take the log of a softmax"),
    ("stable_mean_nll", mean_nll_without_max, "Subtract each row's max before exp"),
    ("stable_mean_nll", mean_nll_one_max, "one max for the whole batch"),
    ("stable_mean_nll", lambda lg, t: mean_nll_softmax_then_log(lg.double(), t),
     "a wider dtype does not save it"),
    ("stall_point_rule", stall_point_half, "round to nearest keeps an increment"),
    ("compensated_sum", plain_running_sum, "plain running sum"),
    ("compensated_sum", lambda v: v.double().sum(), "of dtype"),
    # 06
    ("tensor_megabytes", lambda shape, dt: math.prod(shape) * torch.empty((), dtype=dt)
     .element_size() / 2**20, "MiB"),
    ("tensor_megabytes", lambda shape, dt: math.prod(shape) / 1e6, "element_size()"),
    ("tensor_megabytes", lambda shape, dt: math.prod(shape) * 4 / 1e6, "float16 has 2"),
    ("peak_above_entry", lambda s, e: s[-1] - e, "the level at the end"),
    ("peak_above_entry", lambda s, e: max(s), "subtract the level at entry"),
    ("peak_above_entry", lambda s, e: max(s) - e, "clip a negative result to 0"),
    ("peak_above_entry", lambda s, e: max(0.0, max(s[1:]) - e), "the first sample counts too"),
    # 07
    ("median_after_warmup", lambda t, w: min(t[w:]), "the minimum is the luckiest run"),
    ("median_after_warmup", lambda t, w: statistics.mean(t[w:]), "that is the mean"),
    ("median_after_warmup", lambda t, w: statistics.median(t), "drop the warm-up runs first"),
    ("median_after_warmup", lambda t, w: sorted(t[w:])[len(t[w:]) // 2], "two middle ones"),
    ("tokens_per_second", lambda n, t: n / statistics.mean(t), "use the median time"),
    ("tokens_per_second", lambda n, t: n / sum(t), "not the sum"),
    ("tokens_per_second", lambda n, t: statistics.median(t) / n, "seconds per token"),
    ("tokens_per_second", lambda n, t: n / min(t), "the fastest run"),
    # 08
    ("logits_gigabytes", lambda b, t, v, n: b * t * v * n / 2**30, "GiB"),
    ("logits_gigabytes", lambda b, t, v, n: b * t * v / 1e9, "bytes per element"),
    ("max_chunk_tokens", lambda mb, v, n: mb * 1e6 / (v * n), "round down with //"),
    ("max_chunk_tokens", lambda mb, v, n: -(-mb * 10**6 // (v * n)), "overshoots the budget"),
    ("max_chunk_tokens", lambda mb, v, n: mb * 2**20 // (v * n), "not 2**20"),
    ("max_chunk_tokens", lambda mb, v, n: mb * 1e6 // (v * n), "Wrap it in int()"),
    ("chunked_nll", lambda h, w, t, c: fl.nll_sum_and_count(h @ w.T, t)[0].item(),
     "the logits of all"),
    ("chunked_nll", lambda h, w, t, c: F.cross_entropy(F.linear(h, w), t, reduction="sum").item(),
     "the logits of all"),
    ("chunked_nll", chunked_nll_without_last_chunk, "the last, shorter chunk is missing"),
    ("chunked_nll", chunked_nll_of_means, "per-chunk means do not add up"),
    ("chunked_nll", chunked_nll_softmax_then_log, "never the log of a softmax"),
    ("chunked_nll", chunked_nll_full_bmm, "the logits of all"),
    ("chunked_nll", chunked_nll_full_broadcast, "the logits of all"),
    # 09
    ("first_nonfinite_step", first_nonfinite_0_based, "0-based index"),
    ("first_nonfinite_step", first_nan_only, "math.isfinite"),
    ("noise_at_batch", lambda s, a, b: s * a / b, "1/sqrt(n)"),
    ("noise_at_batch", lambda s, a, b: s * math.sqrt(b / a), "upside down"),
    ("early_stopping", early_stopping_ties, "compare with <, not <="),
    ("early_stopping", early_stopping_late, "off by one"),
    ("early_stopping", early_stopping_against_previous, "without a new *best*"),
    # 10
    ("masked_token_accuracy", lambda lg, lb: (lg.argmax(-1) == lb).double().mean().item(),
     "counts padded positions"),
    ("masked_token_accuracy", lambda lg, lb: ((lg.argmax(-1) == lb) & (lb != -100)).sum().item(),
     "not a count"),
    ("masked_token_accuracy", masked_accuracy_per_row_mean, "averages the rows' accuracies"),
    ("top_k_accuracy", lambda lg, t, k: (lg.topk(k, 1, largest=False).indices == t[:, None])
     .any(1).float().mean().item(), "k smallest logits"),
    ("top_k_accuracy", lambda lg, t, k: fl.token_accuracy(lg, t, top_k=max(k - 1, 1)), "off by one"),
    ("sampling_accuracy", lambda p: max(p), "accuracy of the argmax guess"),
    # 11
    ("is_improvement", improvement_with_ties, "a tie is not an improvement"),
    ("is_improvement", improvement_nan, "NaN must never replace a saved model"),
    ("is_improvement", lambda m, b, mode: not math.isnan(m) and (b is None or m < b),
     "mode 'max' means higher is better"),
    ("tensorboard_smoothing", smoothing_biased, "divide by 1 - weight**n"),
    ("tensorboard_smoothing", smoothing_seeded, "another cure for the start-up bias"),
    # 12
    ("window_count", lambda n, c, s: math.ceil(n / s), "begin + context >= n_tokens - 1"),
    ("window_count", lambda n, c, s: 1 + max(0, math.ceil((n - c) / s)),
     "the Hugging Face guide's count"),
    ("min_context", lambda c, s: c - s, "C - stride + 1"),
    ("target_contexts", lambda n, c, s: [x - 1 for x in fl.window_contexts(n, context=c, stride=s)
                                         .tolist()], "off by one"),
    ("target_contexts", lambda n, c, s: [min(j, c) for j in range(1, n)], "what stride 1 gives"),
    ("target_contexts", lambda n, c, s: fl.window_contexts(n, context=c, stride=s), ".tolist()"),
    ("target_contexts", lambda n, c, s: fl.window_contexts(n, context=c, stride=s)[:-1].tolist(),
     "one context per target"),
    ("two_topic_best_nll", lambda a, b, c: two_topic_by_enumeration(a, b, c) / math.log(2),
     "in bits"),
    ("two_topic_best_nll", lambda a, b, c: two_topic_by_enumeration(a, b, 0), "that is F(0)"),
    ("two_topic_best_nll", lambda a, b, c: 0.5 * (binary_entropy(a) + binary_entropy(b)),
     "c -> infinity"),
    ("two_topic_best_nll", lambda a, b, c: two_topic_by_enumeration(a, b, c, plug_in=True),
     "more likely topic alone"),
    ("sliding_window_ppl", lambda m, ids, c, s: sliding_window_ppl_by_hand(m, ids, c, s, log=True),
     "the perplexity is its exp"),
    ("sliding_window_ppl", lambda m, ids, c, s: sliding_window_ppl_by_hand(
        m, ids, c, s, per_window_mean=True), "mean of the windows' perplexities"),
    ("sliding_window_ppl", lambda m, ids, c, s: sliding_window_ppl_by_hand(
        m, ids, c, s, score_overlap=True), "twice"),
    ("sliding_window_ppl", guide_loop_ppl, "the Hugging Face guide's loop"),
    ("sliding_window_ppl", lambda m, ids, c, s: guide_loop_ppl(m, ids, c, s, before=True),
     "the Hugging Face guide's loop"),
    # 13
    ("psnr_from_mse", lambda m, r: 10 * math.log10(r / m), "the peak enters squared"),
    ("psnr_from_mse", lambda m, r: 20 * math.log10(r / m), "root of the MSE"),
    ("psnr_from_mse", lambda m, r: 10 * math.log10(m / r**2), "upside down"),
    ("frechet_1d", lambda ma, va, mb, vb: abs(ma - mb) + va + vb - 2 * math.sqrt(va * vb),
     "squared distance"),
    ("frechet_1d", lambda ma, va, mb, vb: (ma - mb) ** 2 + va + vb, "left out the cross term"),
    ("frechet_1d", lambda ma, va, mb, vb: (ma - mb) ** 2 + va + vb - 2 * va * vb,
     "a square root of the product"),
    ("frechet_1d", lambda ma, va, mb, vb: (ma - mb) ** 2 + va**2 + vb**2 - 2 * va * vb,
     "uses a variance as a standard deviation"),
    ("trace_sqrt_product", lambda a, b: (a @ b).sqrt().trace().item(), "torch.sqrt is elementwise"),
    ("trace_sqrt_product", lambda a, b: (a @ b).trace().sqrt().item(), "sqrt(Tr(M))"),
    ("trace_sqrt_product", lambda a, b: torch.linalg.eigvalsh(a @ b).sqrt().sum().item(),
     "eigvalsh reads only one triangle"),
    ("trace_sqrt_product", lambda a, b: torch.linalg.eigvalsh(a @ b).clamp(min=0).sqrt().sum()
     .item(), "eigvalsh reads only one triangle"),
    ("trace_sqrt_product", lambda a, b: (sqrtm_sym(a) @ sqrtm_sym(b)).trace().item(),
     "unless the matrices commute"),
    # 14
    ("consecutive_cosine", cosine_unnormalised, "both vectors' norms"),
    ("consecutive_cosine", cosine_with_frame_0, "not every frame with frame 0"),
    ("pixel_flow_to_grid", grid_y_first, "x (width) first"),
    ("pixel_flow_to_grid", grid_shift_only, "add the pixel's own coordinates"),
    ("pixel_flow_to_grid", grid_minus_flow, "samples at p - flow(p)"),
    # 15
    ("bits_per_dim", lambda s, n: s / n, "divide by ln 2"),
    ("bits_per_dim", lambda s, n: s / math.log(2), "number of dimensions"),
    ("bits_per_dim", lambda s, n: s / n * math.log(2), "not a multiplication"),
    ("causal_token_accuracy", accuracy_without_shift, "logits[:, i] predicts token i+1"),
    ("causal_token_accuracy", accuracy_shifted_wrong_way, "the wrong way"),
    ("causal_token_accuracy", accuracy_per_row_mean, "averages the rows' accuracies"),
    # 16
    ("combine_ranks", lambda st: statistics.mean(math.exp(s / n) for s, n in st),
     "mean of the ranks' perplexities"),
    ("combine_ranks", lambda st: math.exp(statistics.mean(s / n for s, n in st)),
     "weighs every rank the same"),
    ("combine_ranks", lambda st: sum(s for s, _ in st) / sum(n for _, n in st),
     "perplexity is its exponential"),
    ("even_shards", shards_drop_remainder, "drops the remainder"),
    ("even_shards", shards_padded, "counts those items twice"),
    ("order_free_sum", sum, "not associative"),
    ("order_free_sum", lambda v: sum(sorted(v)), "sorting makes the order fixed"),
    ("order_free_sum", lambda v: sum(sorted(v, key=abs)), "sorting makes the order fixed"),
    ("order_free_sum", lambda v: float(np.sum(np.array(v, dtype=np.longdouble))),
     "np.longdouble too"),
    # 17: labels from the attention mask; the same predictions under another tokenizer
    ("labels_from_mask", lambda ids, m: ids.masked_fill(ids == 2, -100), "finds padding by its id"),
    ("labels_from_mask", lambda ids, m: ids.masked_fill(m == 1, -100), "masks the real tokens"),
    ("labels_from_mask", lambda ids, m: ids.clone(), "must be -100"),
    ("labels_from_mask", lambda ids, m: ids.masked_fill(m == 0, 0), "not 0"),
    ("ppl_per_other_token", lambda bpb, b, t: 2 ** (bpb * t / b), "swapped"),
    ("ppl_per_other_token", lambda bpb, b, t: 2 ** bpb, "perplexity per byte"),
    ("ppl_per_other_token", lambda bpb, b, t: math.exp(bpb * b / t), "bits are base 2"),
    ("ppl_per_other_token", lambda bpb, b, t: bpb * b / t, "2 to that power"),
]


@pytest.mark.parametrize(("checker", "wrong", "hint"), WRONG,
                         ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(WRONG)])
def test_a_typical_wrong_answer_gets_its_hint(capsys, checker, wrong, hint):
    ok, out = verdict_of(capsys, getattr(check, checker), wrong)
    assert not ok and out.startswith("Not yet: "), out
    assert hint in out, f"expected a hint containing {hint!r}, got {out!r}"


def test_the_catalogue_covers_every_checker():
    assert set(CHECKERS) == {c for c, _, _ in WRONG}


# --- the notebooks' own solutions pass -----------------------------------------------------------

def _exercises(student: bool = False) -> list[tuple[str, str, str, object, str]]:
    """(notebook, checker, function name, function, committed output) for every self-check cell.

    The functions are the defs of the notebook's cells tagged `solution`, or with student=True
    of the stubs that the student edition (forge_lib.tools.publish) puts in their place."""
    found = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nb, tag = (publish.student_edition(nb), publish.EXERCISE_TAG) if student else (nb, "solution")
        namespace = {"math": math, "statistics": statistics, "torch": torch, "F": F, "fl": fl}
        for cell in nb.cells:
            if tag in cell.metadata.get("tags", []):
                tree = ast.parse(cell.source)  # the defs only: the demo lines need the notebook
                tree.body = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
                exec(compile(tree, str(path), "exec"), namespace)
        for cell in nb.cells:
            for checker, name in re.findall(r"fl\.check\.(\w+)\((\w+)\)", cell.source):
                committed = "".join(o.get("text", "") for o in cell.get("outputs", []))
                found.append((path.name, checker, name, namespace[name], committed))
    return found


SOLUTIONS, STUBS = _exercises(), _exercises(student=True)


def test_every_checker_has_a_notebook_solution():
    assert {checker for _, checker, _, _, _ in SOLUTIONS} == set(CHECKERS)


@pytest.mark.parametrize(("notebook", "checker", "name", "solution", "committed"), SOLUTIONS,
                         ids=[f"{nb[:2]}-{c}" for nb, c, _, _, _ in SOLUTIONS])
def test_the_notebook_solution_passes(capsys, notebook, checker, name, solution, committed):
    ok, out = verdict_of(capsys, getattr(check, checker), solution)
    assert ok and out.startswith("Correct: "), f"{notebook} {name}: {out}"
    assert out == committed, f"{notebook}: the self-check's committed output changes"


def test_log_sum_exp_by_hand_passes_the_forbidden_function_check(capsys):
    assert verdict_of(capsys, check.stable_mean_nll, mean_nll_by_hand)[0]


def binary_entropy(p):
    return -(p * math.log(p) + (1 - p) * math.log(1 - p))


def two_topic_by_enumeration(p_a, p_b, c, plug_in=False):
    """F(c) from every topic and sequence of c + 1 words: the window's posterior over the two
    topics mixes their next-word probabilities (plug_in: the more likely topic alone)."""
    total = 0.0
    for words in itertools.product((True, False), repeat=c + 1):
        like = [math.prod(p if w else 1 - p for w in words[:-1]) for p in (p_a, p_b)]
        if plug_in:
            x_next = p_a if like[0] > like[1] else p_b if like[1] > like[0] else (p_a + p_b) / 2
        else:
            x_next = (like[0] * p_a + like[1] * p_b) / (like[0] + like[1])
        for p, weight in zip((p_a, p_b), like, strict=True):
            p_next = p if words[-1] else 1 - p
            total -= 0.5 * weight * p_next * math.log(x_next if words[-1] else 1 - x_next)
    return total


def safe_perplexity_by_exception(mean_nll):
    try:
        return math.exp(mean_nll)
    except OverflowError:
        return math.inf


OTHER_RIGHT_ANSWERS = [  # the library's own functions and closed forms agree with the checkers
    ("tensorboard_smoothing", fl.smooth_like_tensorboard),
    ("window_count", lambda n, c, s: len(window_spans(n, context=c, stride=s))),
    ("window_count", lambda n, c, s: 1 + max(0, math.ceil((n - 1 - c) / s))),
    ("sliding_window_ppl", lambda m, ids, c, s: fl.sliding_window_perplexity(m, ids, context=c,
                                                                             stride=s)),
    ("sliding_window_ppl", sliding_window_ppl_by_hand),
    ("target_contexts", lambda n, c, s: fl.window_contexts(n, context=c, stride=s).tolist()),
    ("two_topic_best_nll", two_topic_by_enumeration),  # every sequence, no binomial shortcut
    ("max_chunk_tokens", lambda mb, v, n: np.int64(mb) * 10**6 // (v * n)),  # NumPy's integer
    ("tensor_megabytes", lambda shape, dt: torch.empty(shape, dtype=dt).nbytes / 1e6),
    ("safe_perplexity", safe_perplexity_by_exception),
    ("order_free_sum", lambda v: math.fsum(sorted(v))),
]


def test_tensor_megabytes_cases_are_cheap_to_allocate(capsys):
    """An answer that allocates the tensor is right; under the course's deterministic mode
    torch.empty NaN-fills it, so no hidden case may be big (the 1.65 GB case took 1-6 s)."""
    sizes = []
    check.tensor_megabytes(lambda shape, dt: sizes.append(math.prod(shape) * torch.empty(
        (), dtype=dt).element_size()) or sizes[-1] / 1e6)
    assert capsys.readouterr().out.startswith("Correct: ")
    assert max(sizes) <= 2e8, sizes


@pytest.mark.parametrize(("checker", "right"), OTHER_RIGHT_ANSWERS,
                         ids=[f"{c}-{i}" for i, (c, _) in enumerate(OTHER_RIGHT_ANSWERS)])
def test_another_right_answer_passes(capsys, checker, right):
    ok, out = verdict_of(capsys, getattr(check, checker), right)
    assert ok and out.startswith("Correct: "), out


# --- the student edition's stubs -----------------------------------------------------------------

def my_answer(*args):
    raise NotImplementedError("Exercise 1: write my_answer")


@pytest.mark.parametrize("checker", CHECKERS)
def test_a_stub_is_asked_for_not_reported_as_a_crash(capsys, checker):
    ok, out = verdict_of(capsys, getattr(check, checker), my_answer)
    assert not ok
    assert out.startswith("Not yet: define `my_answer` in the cell above"), out
    assert "raised" not in out


@pytest.mark.parametrize(("notebook", "checker", "name", "stub", "_"), STUBS,
                         ids=[f"{nb[:2]}-{c}" for nb, c, _, _, _ in STUBS])
def test_the_student_edition_stub_is_asked_for(capsys, notebook, checker, name, stub, _):
    ok, out = verdict_of(capsys, getattr(check, checker), stub)
    assert not ok
    assert out == f"Not yet: define `{name}` in the cell above, run it, then run this cell again.\n"


def test_a_not_implemented_error_from_deeper_code_is_still_reported(capsys):
    def calls_something_unfinished(probs):
        return helper(probs)

    def helper(probs):
        raise NotImplementedError("helper: not written yet")

    ok, out = verdict_of(capsys, check.perplexity_from_probs, calls_something_unfinished)
    assert not ok and "raised NotImplementedError: helper: not written yet" in out


@pytest.mark.parametrize("checker", CHECKERS)
def test_a_crash_or_a_non_function_is_a_verdict(capsys, checker):
    ok, out = verdict_of(capsys, getattr(check, checker), lambda *args: 1 / 0)
    assert not ok and "raised ZeroDivisionError" in out
    ok, out = verdict_of(capsys, getattr(check, checker), 42)
    assert not ok and "expects a function, got int" in out


def test_torch_calls_sees_only_the_top_level_calls():
    logits, target = torch.randn(2, 3), torch.tensor([0, 1])
    with _core.TorchCalls() as calls:
        F.cross_entropy(logits, target)
    assert calls.names == {"cross_entropy"}  # not the log_softmax inside it
