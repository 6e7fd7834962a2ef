"""forge_lib.metrics.text against independent references: float64 math (scipy's logsumexp, per row) and
torchmetrics where torchmetrics is right (ordinary logits), plus every bad input it rejects."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from torchmetrics.text import Perplexity as TorchmetricsPerplexity

import forge_lib as fl
import forge_lib.metrics.text as text


def reference_nll(logits, target, ignore_index=None):
    """Summed NLL and count in float64, token by token with scipy: independent of forge_lib."""
    rows = logits.detach().double().reshape(-1, logits.shape[-1]).numpy()
    ids = target.reshape(-1).tolist()
    total, count = 0.0, 0
    for row, t in zip(rows, ids, strict=True):
        if ignore_index is not None and t == ignore_index:
            continue
        total += float(logsumexp(row) - row[t])
        count += 1
    return total, count


def random_batch(seed, shape=(3, 7), vocab=11, scale=2.0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    logits = (torch.randn(*shape, vocab, generator=gen, dtype=torch.float64) * scale).to(dtype)
    target = torch.randint(0, vocab, shape, generator=gen)
    return logits, target


# --- nll_sum_and_count and perplexity against float64 ---------------------------------------

@pytest.mark.parametrize("shape", [(3, 7), (21,)], ids=["(B, T, V)", "(N, V)"])
@pytest.mark.parametrize("ignore_index", [None, -100, 0])
def test_nll_sum_and_count_matches_float64_reference(shape, ignore_index):
    logits, target = random_batch(1, shape)
    if ignore_index == -100:
        target.view(-1)[::4] = -100
    nll, count = fl.nll_sum_and_count(logits, target, ignore_index=ignore_index)
    ref, ref_count = reference_nll(logits, target, ignore_index)
    assert nll.dtype == torch.float64 and nll.ndim == 0
    assert isinstance(count, int) and count == ref_count
    assert nll.item() == pytest.approx(ref, rel=1e-6)


def test_both_layouts_give_the_same_result():
    logits, target = random_batch(2, (4, 9))
    nll_3d, n_3d = fl.nll_sum_and_count(logits, target)
    nll_2d, n_2d = fl.nll_sum_and_count(logits.reshape(-1, 11), target.reshape(-1))
    assert n_3d == n_2d == 36
    assert nll_3d.item() == pytest.approx(nll_2d.item(), rel=1e-12)


def test_perplexity_matches_reference_and_torchmetrics_on_ordinary_logits():
    logits, target = random_batch(3, (4, 16), vocab=30)
    target[1, 10:] = -100
    ref, count = reference_nll(logits, target, -100)
    ours = fl.perplexity(logits, target, ignore_index=-100)
    theirs = TorchmetricsPerplexity(ignore_index=-100)(logits, target).item()
    assert ours == pytest.approx(math.exp(ref / count), rel=1e-6)
    assert ours == pytest.approx(theirs, rel=1e-5)  # torchmetrics sums in float32


def test_perplexity_matches_cross_entropy_of_pytorch():
    logits, target = random_batch(4, (2, 12), vocab=17)
    loss = F.cross_entropy(logits.double().reshape(-1, 17), target.reshape(-1))
    assert fl.perplexity(logits, target) == pytest.approx(math.exp(loss.item()), rel=1e-6)


def test_uniform_logits_give_the_vocabulary_size():
    assert fl.perplexity(torch.zeros(5, 37), torch.arange(5)) == pytest.approx(37.0, rel=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_logits_are_scored_in_float32(dtype):
    logits, target = random_batch(5, (3, 8), vocab=13, scale=4.0, dtype=dtype)
    assert logits.dtype == dtype
    nll, count = fl.nll_sum_and_count(logits, target)
    ref, ref_count = reference_nll(logits, target)  # the half values, upcast exactly
    assert count == ref_count and nll.item() == pytest.approx(ref, rel=1e-6)


def test_float64_logits_keep_float64_precision():
    logits = torch.tensor([[0.0, 1e-10]], dtype=torch.float64)
    nll, _ = fl.nll_sum_and_count(logits, torch.tensor([1]))
    expected = math.log(1 + math.exp(1e-10)) - 1e-10
    assert nll.item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("chunk_elements", [1, 11, 50, 1000])
def test_chunked_loop_gives_the_unchunked_result(monkeypatch, chunk_elements):
    logits, target = random_batch(6, (5, 9), vocab=11)
    target[0, :3] = -100
    whole, n_whole = fl.nll_sum_and_count(logits, target, ignore_index=-100)
    monkeypatch.setattr(text, "_CHUNK_ELEMENTS", chunk_elements)  # 1 element: one row a chunk
    chunked, n_chunked = fl.nll_sum_and_count(logits, target, ignore_index=-100)
    assert n_chunked == n_whole == 42
    assert chunked.item() == pytest.approx(whole.item(), rel=1e-12)


def test_chunked_loop_checks_every_chunk_for_non_finite_logits(monkeypatch):
    logits, target = random_batch(7, (40,), vocab=10)
    logits[-1, 3] = float("nan")  # in the last chunk only
    monkeypatch.setattr(text, "_CHUNK_ELEMENTS", 50)  # 5 rows a chunk, 8 chunks
    with pytest.raises(ValueError, match="finite"):
        fl.nll_sum_and_count(logits, target)


def test_all_ignored_batch_counts_zero_and_accumulates():
    logits, _ = random_batch(8, (2, 3))
    nll, count = fl.nll_sum_and_count(logits, torch.full((2, 3), -100), ignore_index=-100)
    assert count == 0 and nll.item() == 0.0 and nll.dtype == torch.float64


@pytest.mark.parametrize("dtype", [torch.int32, torch.int16, torch.uint8])
def test_target_ids_of_any_integer_dtype(dtype):
    logits, target = random_batch(9, (12,), vocab=7)
    expected = fl.perplexity(logits, target)
    assert fl.perplexity(logits, target.to(dtype)) == pytest.approx(expected, rel=1e-12)


# --- the underflow case: softmax-then-log fails, log-softmax does not ------------------------

def test_underflow_case_right_where_torchmetrics_returns_inf():
    case = fl.underflow_case(n_tokens=1000, vocab=50, gap=200.0, seed=0)
    ref, count = reference_nll(case.logits, case.target)
    true_ppl = math.exp(ref / count)
    assert true_ppl == pytest.approx(1.62, abs=0.01)
    assert fl.perplexity(case.logits, case.target) == pytest.approx(true_ppl, rel=1e-6)
    theirs = TorchmetricsPerplexity()(case.logits[None], case.target[None])
    assert math.isinf(theirs.item())


# --- shift_for_causal_lm ---------------------------------------------------------------------

def test_shift_pairs_each_prediction_with_the_next_token():
    logits = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
    labels = torch.tensor([[10, 11, 12, 13], [20, 21, 22, 23]])
    shifted_logits, shifted_labels = fl.shift_for_causal_lm(logits, labels)
    assert torch.equal(shifted_logits, logits[:, :3])
    assert shifted_labels.tolist() == [[11, 12, 13], [21, 22, 23]]


@pytest.mark.parametrize("logits, labels, error, match", [
    (torch.zeros(2, 4, 3), torch.zeros(2, 5, dtype=torch.long), ValueError, "same B and T"),
    (torch.zeros(8, 3), torch.zeros(8, dtype=torch.long), ValueError, r"\(B, T, V\)"),
    (torch.zeros(2, 1, 3), torch.zeros(2, 1, dtype=torch.long), ValueError, "at least 2"),
    (torch.zeros(2, 4, 3, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long), TypeError,
     "floating-point"),
    (torch.zeros(2, 4, 3), torch.zeros(2, 4), TypeError, "integer"),
])
def test_shift_rejects_bad_input(logits, labels, error, match):
    with pytest.raises(error, match=match):
        fl.shift_for_causal_lm(logits, labels)


# --- ppl_from_loss, exp_limit, bits ----------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_exp_limit_is_log_of_the_largest_float(dtype):
    limit = fl.exp_limit(dtype)
    assert limit == pytest.approx(math.log(float(torch.finfo(dtype).max)), rel=1e-15)
    # one representable step past the limit overflows in that dtype
    past = torch.nextafter(torch.tensor(limit, dtype=dtype), torch.tensor(math.inf, dtype=dtype))
    assert math.isinf(torch.exp(past).item())


def test_ppl_from_loss_is_exp_below_the_limit():
    assert fl.ppl_from_loss(math.log(227.0)) == pytest.approx(227.0, rel=1e-12)
    assert fl.ppl_from_loss(0.0) == 1.0
    assert fl.ppl_from_loss(100.0) == pytest.approx(2.6881171418161356e43, rel=1e-12)
    assert fl.ppl_from_loss(torch.tensor(2.0, dtype=torch.float64)) == pytest.approx(math.e ** 2)


def test_ppl_from_loss_returns_inf_past_the_limit_and_never_raises_overflow():
    limit = fl.exp_limit(torch.float64)
    assert math.isfinite(fl.ppl_from_loss(limit))  # the edge itself is still a number
    for loss in [limit + 1e-9, 710.0, 1e6, math.inf]:
        assert fl.ppl_from_loss(loss) == math.inf
    assert math.isfinite(fl.ppl_from_loss(88.0, dtype=torch.float32))
    assert fl.ppl_from_loss(89.0, dtype=torch.float32) == math.inf
    assert fl.ppl_from_loss(12.0, dtype=torch.float16) == math.inf


@pytest.mark.parametrize("function", [fl.ppl_from_loss, fl.bits_per_token])
@pytest.mark.parametrize("bad, match", [(float("nan"), "NaN"), (-0.5, "negative")])
def test_nan_or_negative_mean_loss_raises(function, bad, match):
    with pytest.raises(ValueError, match=match):
        function(bad)


def test_bits_per_token_and_per_byte_against_log2():
    nll = 3.2492
    assert fl.bits_per_token(nll) == pytest.approx(nll / np.log(2), rel=1e-12)
    assert fl.bits_per_token(math.log(256)) == pytest.approx(8.0, rel=1e-12)
    assert fl.bits_per_byte(math.log(2) * 100, 25) == pytest.approx(4.0, rel=1e-12)
    nll_sum = torch.tensor(math.log(2) * 8, dtype=torch.float64)  # as nll_sum_and_count returns it
    assert fl.bits_per_byte(nll_sum, 1) == pytest.approx(8.0, rel=1e-12)


@pytest.mark.parametrize("n_bytes, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError),
                                            (True, TypeError)])
def test_bits_per_byte_rejects_bad_byte_counts(n_bytes, error):
    with pytest.raises(error, match="n_bytes"):
        fl.bits_per_byte(10.0, n_bytes)


# --- Perplexity (the torchmetrics wrapper) ---------------------------------------------------

def test_metric_over_uneven_batches_equals_the_function_on_all_tokens():
    logits, target = random_batch(10, (60,), vocab=9)
    target[::7] = -100
    metric = fl.Perplexity(ignore_index=-100)
    for lo, hi in [(0, 5), (5, 6), (6, 40), (40, 60)]:
        metric.update(logits[lo:hi], target[lo:hi])
    ref, count = reference_nll(logits, target, -100)
    assert metric.compute().item() == pytest.approx(math.exp(ref / count), rel=1e-6)
    assert metric.compute().item() == pytest.approx(
        fl.perplexity(logits, target, ignore_index=-100), rel=1e-12)  # only the order differs
    assert metric.compute().dtype == torch.float64
    metric.reset()
    metric.update(logits[:5], target[:5])
    assert metric.compute().item() == pytest.approx(
        fl.perplexity(logits[:5], target[:5], ignore_index=-100), rel=1e-12)


def test_metric_states_merge_like_processes():
    logits, target = random_batch(11, (4, 10), vocab=8)
    left, right = fl.Perplexity(), fl.Perplexity()
    left.update(logits[:1], target[:1])  # one "process" saw 10 tokens, the other 30
    right.update(logits[1:], target[1:])
    left.merge_state(right)
    assert left.compute().item() == pytest.approx(fl.perplexity(logits, target), rel=1e-12)


def test_metric_survives_an_all_padding_batch():
    logits, target = random_batch(12, (2, 5))
    metric = fl.Perplexity(ignore_index=-100)
    metric.update(logits, torch.full((2, 5), -100))
    metric.update(logits, target)
    assert metric.compute().item() == pytest.approx(fl.perplexity(logits, target), rel=1e-12)


def test_metric_compute_with_zero_tokens_raises():
    metric = fl.Perplexity(ignore_index=-100)
    metric.update(torch.zeros(1, 3, 4), torch.full((1, 3), -100))
    with pytest.raises(ValueError, match="no tokens to score"):
        metric.compute()


# --- bad input: each rejected with a message that says what was expected ----------------------

def test_perplexity_of_zero_tokens_raises():
    with pytest.raises(ValueError, match="no tokens to score"):
        fl.perplexity(torch.zeros(2, 3, 4), torch.full((2, 3), -100), ignore_index=-100)


@pytest.mark.parametrize("logits, target, error, match", [
    (torch.zeros(4, 5, dtype=torch.long), torch.zeros(4, dtype=torch.long), TypeError,
     "floating-point"),
    ([[0.0, 1.0]], torch.zeros(1, dtype=torch.long), TypeError, "torch.Tensor"),
    (torch.zeros(4, 5), torch.zeros(4), TypeError, "integer tensor"),
    (torch.zeros(4, 5), torch.zeros(3, dtype=torch.long), ValueError, "shift_for_causal_lm"),
    (torch.zeros(2, 4, 5), torch.zeros(2, 3, dtype=torch.long), ValueError, "expected shape"),
    (torch.zeros(5), torch.zeros((), dtype=torch.long), ValueError, r"\(B, T, V\) or \(N, V\)"),
    (torch.zeros(1, 2, 3, 5), torch.zeros(1, 2, 3, dtype=torch.long), ValueError, r"\(B, T, V\)"),
    (torch.zeros(4, 0), torch.zeros(4, dtype=torch.long), ValueError, "V = 0"),
])
def test_bad_logits_or_target_raise(logits, target, error, match):
    with pytest.raises(error, match=match):
        fl.nll_sum_and_count(logits, target)
    with pytest.raises(error, match=match):
        fl.perplexity(logits, target)


@pytest.mark.parametrize("ids, ignore_index", [([0, 5, 1], None), ([0, -1, 1], None),
                                               ([0, -1, 1], -100), ([-100, 7, 1], -100)])
def test_target_ids_out_of_range_raise(ids, ignore_index):
    with pytest.raises(ValueError, match=r"expected ids in \[0, 5\)") as info:
        fl.nll_sum_and_count(torch.zeros(3, 5), torch.tensor(ids), ignore_index=ignore_index)
    bad = [i for i in ids if not 0 <= i < 5 and i != ignore_index]
    assert f"pass ignore_index={bad[0]}" in str(info.value)  # suggests the fix


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_logits_raise(value):
    logits = torch.zeros(3, 4)
    logits[1, 2] = value
    with pytest.raises(ValueError, match="expected only finite values"):
        fl.nll_sum_and_count(logits, torch.tensor([0, 1, 2]))


def test_minus_inf_logit_is_a_masked_token_unless_it_is_the_target():
    logits = torch.zeros(3, 4)
    logits[1, 2] = -math.inf  # token 2 ruled out at position 1: the other three share it
    nll, n = fl.nll_sum_and_count(logits, torch.tensor([0, 1, 2]))
    assert n == 3 and nll.item() == pytest.approx(2 * math.log(4) + math.log(3), rel=1e-6)  # float32
    with pytest.raises(ValueError, match=r"target's logit is -inf \(probability 0\) at 1 position"):
        fl.nll_sum_and_count(logits, torch.tensor([0, 2, 2]))


def test_non_finite_logits_at_ignored_positions_are_not_looked_at():
    logits = torch.zeros(3, 4)
    logits[1] = float("nan")
    target = torch.tensor([0, -100, 2])
    assert fl.perplexity(logits, target, ignore_index=-100) == pytest.approx(4.0, rel=1e-6)


@pytest.mark.parametrize("ignore_index", ["pad", 1.0, True, [-100]])
def test_wrong_ignore_index_type_raises(ignore_index):
    with pytest.raises(TypeError, match="ignore_index: expected an int"):
        fl.nll_sum_and_count(torch.zeros(3, 4), torch.tensor([0, 1, 2]), ignore_index=ignore_index)
    with pytest.raises(TypeError, match="ignore_index: expected an int"):
        fl.Perplexity(ignore_index=ignore_index)


# --- properties (hypothesis) -----------------------------------------------------------------

@st.composite
def token_batches(draw):
    n = draw(st.integers(1, 40))
    vocab = draw(st.integers(2, 12))
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, vocab, generator=gen) * draw(st.sampled_from([0.1, 1.0, 10.0]))
    target = torch.randint(0, vocab, (n,), generator=gen)
    ignored = torch.tensor(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    if ignored.all():
        ignored[0] = False  # keep at least one token
    target[ignored] = -100
    return logits, target


@settings(max_examples=40, deadline=None)
@given(batch=token_batches(), data=st.data())
def test_perplexity_is_invariant_to_how_tokens_are_split_into_batches(batch, data):
    logits, target = batch
    n = len(target)
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=6)))
    metric = fl.Perplexity(ignore_index=-100)
    for lo, hi in zip([0, *cuts], [*cuts, n], strict=True):
        metric.update(logits[lo:hi], target[lo:hi])  # empty and all-padding batches included
    expected = fl.perplexity(logits, target, ignore_index=-100)
    assert metric.compute().item() == pytest.approx(expected, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(batch=token_batches(), filler=st.sampled_from([0.0, -1e30, 1e30, float("nan"), "random"]))
def test_ignored_positions_never_change_the_result(batch, filler):
    logits, target = batch
    ignored = target == -100
    scribbled = logits.clone()
    if filler == "random":
        scribbled[ignored] = torch.randn(int(ignored.sum()), logits.shape[1]) * 100
    else:
        scribbled[ignored] = filler
    nll, count = fl.nll_sum_and_count(scribbled, target, ignore_index=-100)
    kept_nll, kept_count = fl.nll_sum_and_count(logits[~ignored], target[~ignored])
    assert count == kept_count == int((~ignored).sum())
    assert nll.item() == pytest.approx(kept_nll.item(), rel=1e-12, abs=1e-12)


# --- losses past float32, and metric states that survive what a training loop does ---------------

def test_a_loss_past_float32s_range_from_finite_logits_is_computed_in_float64():
    # logsumexp - logit = 3e38 - (-3e38) = 6e38: finite, but past float32's 3.4e38. Before the
    # fix it was refused as "the target's logit is -inf at 0 position(s)".
    nll, n = fl.nll_sum_and_count(torch.tensor([[3e38, -3e38]]), torch.tensor([1]))
    assert n == 1 and nll.item() == pytest.approx(6e38, rel=1e-6)
    assert fl.perplexity(torch.tensor([[3e38, -3e38]]), torch.tensor([1])) == math.inf  # policy


@pytest.mark.parametrize("bad_target, bad_value", [("padding", 0.0), ("ok", float("nan"))])
def test_a_refused_call_leaves_the_metric_states_and_grad_mode_as_they_were(bad_target, bad_value):
    logits, target = random_batch(21, (2, 5))
    metric = fl.Perplexity(ignore_index=-100)
    metric(logits, target)  # forward: the batch's perplexity, and accumulated
    bad_logits = torch.full_like(logits, bad_value)
    bad = torch.full_like(target, -100) if bad_target == "padding" else target
    with pytest.raises(ValueError):
        metric(bad_logits, bad)
    # Before the fix: the states were reset (count 0) and grad stayed enabled for later updates.
    assert int(metric.count) == 10
    assert metric.compute().item() == pytest.approx(fl.perplexity(logits, target), rel=1e-12)
    metric.update(logits.clone().requires_grad_(True), target)
    assert not metric.nll_sum.requires_grad


def test_update_with_logits_that_require_grad_keeps_no_graph_in_the_states():
    logits, target = random_batch(22, (2, 5))
    metric = fl.Perplexity()
    metric._enable_grad = True  # as torchmetrics' forward sets it around its update
    metric.update(logits.requires_grad_(True), target)
    assert not metric.nll_sum.requires_grad and metric.nll_sum.grad_fn is None


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_the_states_stay_float64_when_the_model_holding_the_metric_is_cast(dtype):
    model = torch.nn.Linear(2, 2)
    model.metric = fl.Perplexity()
    model.to(dtype)
    uniform = torch.zeros(100, 7, dtype=dtype)  # ppl exactly 7: ln 7 = 1.946 nats a token
    for _ in range(400):  # 40,000 tokens, 77,836 nats: past float16's 65,504
        model.metric.update(uniform, torch.ones(100, dtype=torch.long))
    # Before the fix: bfloat16 gave 1.5 (the sum stopped growing), float16 inf.
    assert model.metric.nll_sum.dtype == torch.float64 and model.metric.count.dtype == torch.long
    assert model.metric.compute().item() == pytest.approx(7.0, rel=1e-6)
    model.metric.reset()
    assert model.metric.nll_sum.dtype == torch.float64  # the defaults kept their dtype too


def test_a_result_computed_before_a_cast_is_not_returned_rounded_after_it():
    logits, target = random_batch(24, (4, 10), vocab=40)
    metric = fl.Perplexity()
    metric.update(logits, target)
    before = metric.compute()  # cached by torchmetrics until the next update
    metric.to(torch.bfloat16)
    after = metric.compute()
    # Before the fix: the cached float64 result was cast to bfloat16 and returned rounded.
    assert after.dtype == torch.float64 and after.item() == before.item()
    assert before.item() != before.to(torch.bfloat16).item()  # so the rounding would show


def test_merging_states_built_with_another_ignore_index_is_refused():
    logits, target = random_batch(23, (2, 5))
    left, right = fl.Perplexity(ignore_index=-100), fl.Perplexity(ignore_index=0)
    right.update(logits, target)
    with pytest.raises(ValueError, match="ignore_index=-100 like this one, got ignore_index=0"):
        left.merge_state(right)
    assert int(left.count) == 0
