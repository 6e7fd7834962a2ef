"""Each checker of notebooks 09-12 passes a correct answer and hints at a typical wrong one."""

import math

import pytest
import torch

import forge_lib as fl


def verdict_of(capsys, checker, fn):
    ok = checker(fn)
    return bool(ok), capsys.readouterr().out


def test_first_nonfinite_step(capsys):
    def right(losses):
        return next((i + 1 for i, v in enumerate(losses) if not math.isfinite(v)), None)

    def zero_based(losses):
        return next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)

    def nan_only(losses):
        return next((i + 1 for i, v in enumerate(losses) if math.isnan(v)), None)

    assert verdict_of(capsys, fl.check.first_nonfinite_step, right) == (
        True, "Correct: all 5 hidden cases pass.\n")
    ok, out = verdict_of(capsys, fl.check.first_nonfinite_step, zero_based)
    assert not ok and "0-based" in out
    ok, out = verdict_of(capsys, fl.check.first_nonfinite_step, nan_only)
    assert not ok and "math.isfinite" in out


def test_noise_at_batch(capsys):
    assert fl.check.noise_at_batch(lambda s, a, b: s * math.sqrt(a / b))
    ok, out = verdict_of(capsys, fl.check.noise_at_batch, lambda s, a, b: s * a / b)
    assert not ok and "1/sqrt(n)" in out
    ok, out = verdict_of(capsys, fl.check.noise_at_batch, lambda s, a, b: s * math.sqrt(b / a))
    assert not ok and "upside down" in out


def early_stop(losses, patience, ties=False):
    best, since = 0, 0
    for i in range(1, len(losses)):
        if losses[i] < losses[best] or (ties and losses[i] == losses[best]):
            best, since = i, 0
        else:
            since += 1
            if since == patience:
                return i, best
    return len(losses) - 1, best


def test_early_stopping(capsys):
    assert fl.check.early_stopping(early_stop)
    ok, out = verdict_of(capsys, fl.check.early_stopping,
                         lambda losses, p: early_stop(losses, p, ties=True))
    assert not ok and "tie" in out
    ok, out = verdict_of(capsys, fl.check.early_stopping,
                         lambda losses, p: early_stop(losses, p + 1))
    assert not ok and "off by one" in out


def test_masked_token_accuracy(capsys):
    def right(logits, labels):
        keep = labels != -100
        return (logits.argmax(-1)[keep] == labels[keep]).float().mean().item()

    def counts_padding(logits, labels):
        return (logits.argmax(-1) == labels).float().mean().item()

    assert fl.check.masked_token_accuracy(right)
    ok, out = verdict_of(capsys, fl.check.masked_token_accuracy, counts_padding)
    assert not ok and "padded positions" in out


def test_top_k_accuracy(capsys):
    def right(logits, target, k):
        return (logits.topk(k, dim=1).indices == target[:, None]).any(1).float().mean().item()

    def smallest(logits, target, k):
        hit = logits.topk(k, dim=1, largest=False).indices == target[:, None]
        return hit.any(1).float().mean().item()

    def off_by_one(logits, target, k):
        if k == 1:
            return right(logits, target, 1)
        return right(logits, target, k - 1)

    assert fl.check.top_k_accuracy(right)
    ok, out = verdict_of(capsys, fl.check.top_k_accuracy, smallest)
    assert not ok and "largest" in out
    ok, out = verdict_of(capsys, fl.check.top_k_accuracy, off_by_one)
    assert not ok and "off by one" in out


def test_sampling_accuracy(capsys):
    assert fl.check.sampling_accuracy(lambda p: sum(x * x for x in p))
    ok, out = verdict_of(capsys, fl.check.sampling_accuracy, max)
    assert not ok and "argmax" in out


def test_is_improvement(capsys):
    def right(metric, best, mode):
        if math.isnan(metric):
            return False
        if best is None:
            return True
        return metric < best if mode == "min" else metric > best

    def less_or_equal(metric, best, mode):
        if math.isnan(metric):
            return False
        return best is None or (metric <= best if mode == "min" else metric >= best)

    def forgets_nan(metric, best, mode):
        return best is None or (metric < best if mode == "min" else metric > best)

    assert fl.check.is_improvement(right)
    ok, out = verdict_of(capsys, fl.check.is_improvement, less_or_equal)
    assert not ok and "tie" in out
    ok, out = verdict_of(capsys, fl.check.is_improvement, forgets_nan)
    assert not ok and "NaN" in out


def test_tensorboard_smoothing(capsys):
    assert fl.check.tensorboard_smoothing(fl.smooth_like_tensorboard)

    def biased(values, w):
        out, last = [], 0.0
        for v in values:
            last = last * w + (1 - w) * v
            out.append(last)
        return out

    ok, out = verdict_of(capsys, fl.check.tensorboard_smoothing, biased)
    assert not ok and "1 - weight**n" in out


def test_window_count(capsys):
    assert fl.check.window_count(
        lambda n, c, s: len(fl.window_spans(n, context=c, stride=s)))
    assert fl.check.window_count(
        lambda n, c, s: 1 + max(0, math.ceil((n - 1 - c) / s)))  # the closed form
    ok, out = verdict_of(capsys, fl.check.window_count, lambda n, c, s: math.ceil(n / s))
    assert not ok and "last window" in out


def test_min_context(capsys):
    assert fl.check.min_context(lambda c, s: c - s + 1)
    ok, out = verdict_of(capsys, fl.check.min_context, lambda c, s: c - s)
    assert not ok and "C - stride + 1" in out


def test_sliding_window_ppl(capsys):
    assert fl.check.sliding_window_ppl(
        lambda m, ids, c, s: fl.sliding_window_perplexity(m, ids, context=c, stride=s))

    def double_counts(model, ids, c, s):
        total, count = 0.0, 0
        for b in range(0, len(ids) - 1, s):
            window = ids[b:b + c + 1]
            if len(window) < 2:
                break
            logp = torch.log_softmax(model(window[None, :-1])[0].double(), -1)
            total -= float(logp.gather(1, window[1:, None]).sum())
            count += len(window) - 1
        return math.exp(total / count)

    ok, out = verdict_of(capsys, fl.check.sliding_window_ppl, double_counts)
    assert not ok and "twice" in out


@pytest.mark.parametrize("checker", [fl.check.first_nonfinite_step, fl.check.is_improvement,
                                     fl.check.tensorboard_smoothing, fl.check.noise_at_batch])
def test_checkers_never_raise(capsys, checker):
    assert not checker("not a function")
    assert not checker(lambda *args: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out
