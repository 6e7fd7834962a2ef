"""The padding and reduction checkers: a right answer passes, each typical mistake gets its hint.

The wrong answers below are the mistakes notebooks 03 and 04 are about (counting padding with
numel(), averaging batch means, dividing a weighted loss by a count), so each test also pins
the hint a learner sees for it.
"""

import torch
import torch.nn.functional as F

from forge_lib import check


def run(checker, fn, capsys):
    ok = checker(fn)
    return ok, capsys.readouterr().out


# counted_targets ------------------------------------------------------------------------------

def test_counted_targets_accepts_shifted_mask_sum(capsys):
    ok, out = run(check.counted_targets, lambda mask: int(mask[:, 1:].sum()), capsys)
    assert ok and out.startswith("Correct:")


def test_counted_targets_accepts_sum_minus_rows(capsys):
    # Another right answer: every row with a real token loses exactly its first one.
    ok, _ = run(check.counted_targets, lambda mask: int(mask.sum() - (mask.sum(1) > 0).sum()), capsys)
    assert ok


def test_counted_targets_hints_at_the_unshifted_count(capsys):
    ok, out = run(check.counted_targets, lambda mask: int(mask.sum()), capsys)
    assert not ok and "first token of each row is never a target" in out


def test_counted_targets_hints_at_counting_padding(capsys):
    ok, out = run(check.counted_targets, lambda mask: mask.shape[0] * (mask.shape[1] - 1), capsys)
    # The first case has padding, so B * (T - 1) differs from the right answer there.
    assert not ok and "counts the padded targets" in out


# accumulated_mean_loss ------------------------------------------------------------------------

def _real(targets, ignore_index):
    return [int((t != ignore_index).sum()) for t in targets]


def test_accumulated_mean_loss_accepts_token_weighting(capsys):
    def good(means, targets, ignore_index):
        counts = _real(targets, ignore_index)
        return sum(m * n for m, n in zip(means, counts, strict=True)) / sum(counts)

    ok, out = run(check.accumulated_mean_loss, good, capsys)
    assert ok and out.startswith("Correct:")


def test_accumulated_mean_loss_hints_at_numel(capsys):
    def method_1(means, targets, ignore_index):  # the source's loop: weights by targets.numel()
        return sum(m * t.numel() for m, t in zip(means, targets, strict=True)) / sum(
            t.numel() for t in targets)

    ok, out = run(check.accumulated_mean_loss, method_1, capsys)
    assert not ok and "numel() counts the padded positions" in out


def test_accumulated_mean_loss_hints_at_mean_of_means(capsys):
    ok, out = run(check.accumulated_mean_loss, lambda means, t, ig: sum(means) / len(means), capsys)
    assert not ok and "mean of batch means" in out


def test_accumulated_mean_loss_reports_a_crash_not_a_traceback(capsys):
    def crashes(means, targets, ignore_index):
        raise RuntimeError("boom")

    ok, out = run(check.accumulated_mean_loss, crashes, capsys)
    assert not ok and "RuntimeError: boom" in out


# weighted_mean_loss ---------------------------------------------------------------------------

def test_weighted_mean_loss_refuses_pytorch_s_own_answer(capsys):
    # The exercise says "without calling F.cross_entropy": the right value that way is no answer.
    def torch_mean(logits, target, weight, ignore_index):
        return F.cross_entropy(logits, target, weight=weight, ignore_index=ignore_index)

    ok, out = run(check.weighted_mean_loss, torch_mean, capsys)
    assert not ok and "the value is right, but your function calls cross_entropy" in out


def test_weighted_mean_loss_accepts_a_hand_computation(capsys):
    def by_hand(logits, target, weight, ignore_index):
        keep = target != ignore_index
        nll = -logits[keep].log_softmax(-1).gather(1, target[keep, None]).squeeze(1)
        w = weight[target[keep]]
        return float((w * nll).sum() / w.sum())

    ok, _ = run(check.weighted_mean_loss, by_hand, capsys)
    assert ok


def test_weighted_mean_loss_hints_at_dividing_by_the_count(capsys):
    def by_count(logits, target, weight, ignore_index):
        total = F.cross_entropy(logits, target, weight=weight, ignore_index=ignore_index,
                                reduction="sum")
        return float(total / (target != ignore_index).sum())

    ok, out = run(check.weighted_mean_loss, by_count, capsys)
    assert not ok and "sum of the weights of the counted targets" in out


def test_weighted_mean_loss_hints_at_forgetting_the_weights(capsys):
    def unweighted(logits, target, weight, ignore_index):
        return F.cross_entropy(logits, target, ignore_index=ignore_index)

    ok, out = run(check.weighted_mean_loss, unweighted, capsys)
    assert not ok and "multiply each token's loss by weight[target]" in out


# accumulated_loss -----------------------------------------------------------------------------

def _sum_over_total(logits, targets, ignore_index):
    total = sum(int((t != ignore_index).sum()) for t in targets)
    return sum(F.cross_entropy(lg, t, ignore_index=ignore_index, reduction="sum") / total
               for lg, t in zip(logits, targets, strict=True))


def test_accumulated_loss_accepts_sum_over_total_count(capsys):
    ok, out = run(check.accumulated_loss, _sum_over_total, capsys)
    assert ok and out.startswith("Correct:")


def test_accumulated_loss_hints_at_averaging_micro_batch_means(capsys):
    def naive(logits, targets, ignore_index):  # the usual loss / accumulation_steps
        return sum(F.cross_entropy(lg, t, ignore_index=ignore_index) / len(logits)
                   for lg, t in zip(logits, targets, strict=True))

    ok, out = run(check.accumulated_loss, naive, capsys)
    assert not ok and "averaging the micro-batch means" in out


def test_accumulated_loss_hints_at_summing_means(capsys):
    def summed(logits, targets, ignore_index):
        return sum(F.cross_entropy(lg, t, ignore_index=ignore_index)
                   for lg, t in zip(logits, targets, strict=True))

    ok, out = run(check.accumulated_loss, summed, capsys)
    assert not ok and "summing mean losses" in out


def test_accumulated_loss_rejects_a_detached_number(capsys):
    def as_float(logits, targets, ignore_index):
        return _sum_over_total(logits, targets, ignore_index).item()

    ok, out = run(check.accumulated_loss, as_float, capsys)
    assert not ok and "autograd can differentiate" in out


def test_accumulated_loss_catches_a_right_value_with_a_wrong_gradient(capsys):
    def half_detached(logits, targets, ignore_index):
        # Right value, but the first micro-batch contributes no gradient.
        loss = _sum_over_total(logits, targets, ignore_index)
        first = _sum_over_total([logits[0]], [targets[0]], ignore_index)
        total = sum(int((t != ignore_index).sum()) for t in targets)
        share = int((targets[0] != ignore_index).sum()) / total
        return loss - first * share + (first * share).detach()

    ok, out = run(check.accumulated_loss, half_detached, capsys)
    assert not ok and "the gradient is not" in out


def test_checkers_reject_a_non_function(capsys):
    for checker in (check.counted_targets, check.accumulated_mean_loss,
                    check.weighted_mean_loss, check.accumulated_loss):
        ok, out = run(checker, 42, capsys)
        assert not ok and "expects a function" in out


def test_expected_values_agree_with_pytorch():
    """The checkers' float64 references match PyTorch's own reductions (independent paths)."""
    from forge_lib.check.nb04_reduction import _token_nll64, _weighted_case

    logits, target, weight, ignore_index = _weighted_case(0, 8, 5, 2, -100)
    keep = target != ignore_index
    w = weight.double()[target[keep]]
    ours = (w * _token_nll64(logits[keep], target[keep])).sum() / w.sum()
    theirs = F.cross_entropy(logits.double(), target, weight=weight.double(),
                             ignore_index=ignore_index)
    assert torch.allclose(ours, theirs, rtol=1e-12)
