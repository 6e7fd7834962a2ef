"""Checkers of the text notebooks: a correct answer passes, a typical wrong one gets its hint.

The "correct" solutions here are written independently of forge_lib's metrics (plain float64
math and torch.nn.functional.cross_entropy), so a checker whose expected values drifted would
fail these tests instead of agreeing with itself.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from forge_lib import check


def passes(capsys, checker, fn) -> bool:
    ok = checker(fn)
    out = capsys.readouterr().out
    assert out.startswith("Correct: " if ok else "Not yet: "), out
    assert out.count("\n") == 1, f"a checker prints exactly one line, got {out!r}"
    return ok


def fails_with(capsys, checker, fn, hint: str) -> None:
    ok = checker(fn)
    out = capsys.readouterr().out
    assert not ok and out.startswith("Not yet: "), out
    assert hint in out, f"expected a hint containing {hint!r}, got {out!r}"


# --- shared behaviour (forge_lib/check/_core.py, through every run_cases checker) ------------

RUN_CASES_CHECKERS = [check.perplexity_from_probs, check.causal_lm_perplexity,
                      check.padded_perplexity, check.token_weighted_mean, check.safe_perplexity,
                      check.bits_per_byte_from_loss, check.convert_perplexity,
                      check.causal_lm_accuracy]


@pytest.mark.parametrize("checker", [*RUN_CASES_CHECKERS, check.shift_labels],
                         ids=lambda c: c.__name__)
def test_not_a_function_is_a_verdict_not_a_traceback(capsys, checker):
    fails_with(capsys, checker, 42, "expects a function, got int")


@pytest.mark.parametrize("checker", [*RUN_CASES_CHECKERS, check.shift_labels],
                         ids=lambda c: c.__name__)
def test_a_raising_answer_is_reported(capsys, checker):
    def unfinished(*args):
        raise ValueError("TODO")

    fails_with(capsys, checker, unfinished, "raised ValueError: TODO")


def test_a_non_number_answer_is_reported(capsys):
    fails_with(capsys, check.perplexity_from_probs, lambda probs: "four", "got 'four'")


# --- 01: perplexity from probabilities -------------------------------------------------------

def test_perplexity_from_probs(capsys):
    def geometric(probs):
        return math.exp(-sum(math.log(p) for p in probs) / len(probs))

    assert passes(capsys, check.perplexity_from_probs, geometric)
    fails_with(capsys, check.perplexity_from_probs,
               lambda probs: sum(1 / p for p in probs) / len(probs), "arithmetic mean")
    fails_with(capsys, check.perplexity_from_probs,
               lambda probs: 1 / math.prod(probs), "N-th root")


def test_bits_per_byte_from_loss(capsys):
    def right(loss, tokens, nbytes):
        return loss * tokens / math.log(2) / nbytes

    assert passes(capsys, check.bits_per_byte_from_loss, right)
    fails_with(capsys, check.bits_per_byte_from_loss,
               lambda loss, tokens, nbytes: loss * tokens / nbytes, "divide by ln 2")
    fails_with(capsys, check.bits_per_byte_from_loss,
               lambda loss, tokens, nbytes: loss / math.log(2) / nbytes, "multiply by the number")
    fails_with(capsys, check.bits_per_byte_from_loss,
               lambda loss, tokens, nbytes: loss / math.log(2), "that is bits per token")
    fails_with(capsys, check.bits_per_byte_from_loss,
               lambda loss, tokens, nbytes: math.exp(loss * tokens / nbytes), "per-byte perplexity")
    # log base 10 is wrong but not a catalogued mistake: a plain "Not yet" without a wrong hint.
    fails_with(capsys, check.bits_per_byte_from_loss,
               lambda loss, tokens, nbytes: loss * tokens / math.log(10) / nbytes, "expected")


def test_convert_perplexity(capsys):
    def right(ppl, n_from, n_to):
        return math.exp(math.log(ppl) * n_from / n_to)  # total NLL kept, re-divided

    assert passes(capsys, check.convert_perplexity, right)
    fails_with(capsys, check.convert_perplexity,
               lambda ppl, n_from, n_to: ppl * n_from / n_to, "rescale the mean NLL")
    fails_with(capsys, check.convert_perplexity,
               lambda ppl, n_from, n_to: ppl ** (n_to / n_from), "upside down")


# --- 02: label shifting ----------------------------------------------------------------------

def reference_causal_ppl(logits, labels):
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).double(),
                           labels[:, 1:].reshape(-1), ignore_index=-100)
    return math.exp(loss.item())


def test_causal_lm_perplexity(capsys):
    assert passes(capsys, check.causal_lm_perplexity, reference_causal_ppl)

    def unshifted(logits, labels):
        return math.exp(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                        ignore_index=-100).item())

    def padding_in_denominator(logits, labels):
        target = labels[:, 1:]
        nll = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).double(),
                              target.reshape(-1), ignore_index=-100, reduction="sum")
        return math.exp(nll.item() / target.numel())

    fails_with(capsys, check.causal_lm_perplexity, unshifted, "logits[:, i] predicts token i+1")
    fails_with(capsys, check.causal_lm_perplexity, padding_in_denominator,
               "the denominator counts padded positions")


def test_shift_labels(capsys):
    def right(labels):
        return F.pad(labels[:, 1:], (0, 1), value=-100)

    assert passes(capsys, check.shift_labels, right)
    fails_with(capsys, check.shift_labels, lambda lb: lb, "labels unchanged")
    fails_with(capsys, check.shift_labels, lambda lb: torch.roll(lb, -1, dims=1), "wraps around")
    fails_with(capsys, check.shift_labels, lambda lb: F.pad(lb[:, :-1], (1, 0), value=-100),
               "moves the labels right")
    fails_with(capsys, check.shift_labels, lambda lb: F.pad(lb[:, 1:], (0, 1), value=0),
               "the last column must be -100")
    fails_with(capsys, check.shift_labels, lambda lb: lb[:, 1:], "keep the shape (B, T)")
    fails_with(capsys, check.shift_labels, lambda lb: lb.tolist(), "expected a tensor, got list")


def test_shift_labels_is_not_fooled_by_editing_the_input_in_place(capsys):
    def in_place(labels):  # right answer, but it overwrites its argument
        labels[:, :-1] = labels[:, 1:].clone()
        labels[:, -1] = -100
        return labels

    assert passes(capsys, check.shift_labels, in_place)
    assert passes(capsys, check.shift_labels, lambda lb: F.pad(lb[:, 1:], (0, 1), value=-100))


def test_causal_lm_accuracy(capsys):
    def right(logits, labels):
        pred, target = logits[:, :-1].argmax(-1), labels[:, 1:]
        real = target != -100
        return (pred[real] == target[real]).sum().item() / real.sum().item()

    def unshifted(logits, labels):
        real = labels != -100
        return (logits.argmax(-1)[real] == labels[real]).float().mean().item()

    def padding_counted(logits, labels):
        pred, target = logits[:, :-1].argmax(-1), labels[:, 1:]
        return (pred == target).float().mean().item()

    def count(logits, labels):
        pred, target = logits[:, :-1].argmax(-1), labels[:, 1:]
        return (pred == target).sum().item()

    assert passes(capsys, check.causal_lm_accuracy, right)
    fails_with(capsys, check.causal_lm_accuracy, unshifted, "logits[:, i] predicts token i+1")
    fails_with(capsys, check.causal_lm_accuracy, padding_counted, "counts padded positions")
    fails_with(capsys, check.causal_lm_accuracy, count, "not a count")


def test_accuracy_cases_tell_the_mistakes_apart():
    """A case where the shifted and unshifted answers coincide could not catch the mistake."""
    from forge_lib.check.nb02_label_shifting import _accuracy_case

    for seed, pad in [(4, 0), (5, 3), (6, 5)]:
        logits, labels = _accuracy_case(seed, pad)
        pred, target = logits[:, :-1].argmax(-1), labels[:, 1:]
        real = target != -100
        shifted = (pred[real] == target[real]).double().mean().item()
        unshifted = (logits.argmax(-1) == labels)[labels != -100].double().mean().item()
        assert shifted > 0.5 > unshifted
        if pad:
            assert (pred == target).double().mean().item() < shifted


# --- 03-05: padding, reduction, overflow (checkers written for those notebooks) --------------

def test_padded_perplexity(capsys):
    def right(ppl, pad_fraction, pad_loss):
        return math.exp((1 - pad_fraction) * math.log(ppl) + pad_fraction * pad_loss)

    assert passes(capsys, check.padded_perplexity, right)
    fails_with(capsys, check.padded_perplexity,
               lambda p, f, lp: (1 - f) * p + f * math.exp(lp), "perplexities do not average")


def test_token_weighted_mean(capsys):
    def right(means, counts):
        return sum(m * c for m, c in zip(means, counts, strict=True)) / sum(counts)

    assert passes(capsys, check.token_weighted_mean, right)
    fails_with(capsys, check.token_weighted_mean, lambda means, counts: sum(means) / len(means),
               "a mean of batch means")


def test_safe_perplexity(capsys):
    def right(mean_nll):
        limit = math.log(torch.finfo(torch.float64).max)  # about 709.78
        return math.inf if mean_nll > limit else math.exp(mean_nll)

    assert passes(capsys, check.safe_perplexity, right)
    fails_with(capsys, check.safe_perplexity,
               lambda loss: math.inf if loss >= 100 else math.exp(loss), "limit is about 709.78")
    fails_with(capsys, check.safe_perplexity, math.exp, "raised OverflowError")
    # The source's own guard: fine at 100 exactly, wrong from just above it.
    fails_with(capsys, check.safe_perplexity,
               lambda loss: math.inf if loss > 100 else math.exp(loss), "limit is about 709.78")
