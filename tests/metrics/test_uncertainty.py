"""Bootstrap intervals of a perplexity, against a plain bootstrap written out here."""

import math
import random

import pytest
import torch

import forge_lib as fl


def _data(seed=0, n=60):
    g = torch.Generator().manual_seed(seed)
    counts = torch.randint(3, 20, (n,), generator=g)
    nll = counts.double() * (3.0 + 0.5 * torch.rand(n, generator=g, dtype=torch.float64))
    return nll, counts


def _plain_bootstrap(nll, counts, resamples, level, seed):
    """Resample sequences with Python's random module; percentile interval of exp(sum/count)."""
    rng, values = random.Random(seed), []
    pairs = list(zip(nll.tolist(), counts.tolist(), strict=True))
    for _ in range(resamples):
        draw = [pairs[rng.randrange(len(pairs))] for _ in pairs]
        values.append(math.exp(sum(s for s, _ in draw) / sum(c for _, c in draw)))
    values.sort()
    tail = (1 - level) / 2
    return values[int(tail * resamples)], values[int((1 - tail) * resamples) - 1]


def test_point_is_the_token_weighted_perplexity_and_the_interval_matches_a_plain_bootstrap():
    nll, counts = _data()
    ci = fl.perplexity_interval(nll, counts, n_resamples=4000, seed=1)
    assert ci.point == pytest.approx(math.exp(nll.sum().item() / counts.sum().item()), rel=1e-12)
    low, high = _plain_bootstrap(nll, counts, 4000, 0.95, seed=2)  # other draws, same law
    width = high - low
    assert ci.low == pytest.approx(low, abs=0.1 * width)
    assert ci.high == pytest.approx(high, abs=0.1 * width)
    assert ci.low < ci.point < ci.high and ci.level == 0.95


def test_more_sequences_narrow_the_interval_and_the_seed_fixes_it():
    small = fl.perplexity_interval(*_data(n=30))
    large = fl.perplexity_interval(*_data(n=480))
    assert (large.high - large.low) < 0.5 * (small.high - small.low)  # ~1/sqrt(16) = 0.25
    assert fl.perplexity_interval(*_data()) == fl.perplexity_interval(*_data())


def test_a_paired_comparison_is_narrower_than_the_two_intervals():
    nll_b, counts = _data(n=200)
    noise = torch.randn(200, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    nll_a = nll_b + 0.02 * counts + 0.05 * noise.abs()  # A: uniformly a little worse
    ratio = fl.compare_perplexities(nll_a, nll_b, counts)
    a, b = fl.perplexity_interval(nll_a, counts), fl.perplexity_interval(nll_b, counts)
    assert ratio.point == pytest.approx(a.point / b.point, rel=1e-12)
    assert ratio.low > 1  # the paired interval excludes "no difference"...
    assert a.low < b.high  # ...although the two unpaired intervals overlap


def test_sequence_nll_adds_up_to_evaluate_lm():
    model, _ = fl.load_tiny_model()
    sentences = fl.course_split("val")[:40]
    nll, counts = fl.sequence_nll(model, sentences)
    whole = fl.evaluate_lm(model, sentences)
    assert nll.shape == counts.shape == (40,)
    assert counts.sum().item() == whole["tokens"]
    assert nll.sum().item() == pytest.approx(whole["nll_sum"], rel=1e-12)
    assert counts.tolist() == [len(s) - 1 for s in sentences]


@pytest.mark.parametrize(("args", "kwargs", "error", "match"), [
    ((torch.ones(3), torch.ones(2, dtype=torch.long)), {}, ValueError, "one value per sequence"),
    ((torch.ones(1), torch.ones(1, dtype=torch.long)), {}, ValueError, "at least 2 sequences"),
    ((torch.tensor([1.0, math.nan]), torch.ones(2, dtype=torch.long)), {}, ValueError, "nll_sums"),
    ((torch.tensor([1.0, -1.0]), torch.ones(2, dtype=torch.long)), {}, ValueError, ">= 0"),
    ((torch.ones(2), torch.ones(2)), {}, TypeError, "counts"),
    ((torch.ones(2), torch.ones(2, dtype=torch.long)), {"level": 1.5}, ValueError, "level"),
    ((torch.ones(2), torch.ones(2, dtype=torch.long)), {"n_resamples": 0}, ValueError, "n_resamples"),
    ((torch.ones(2), torch.ones(2, dtype=torch.long)), {"seed": 0.5}, TypeError, "seed"),
])
def test_bad_inputs_are_refused(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        fl.perplexity_interval(*args, **kwargs)


def test_resamples_that_overflow_give_an_infinite_bound_not_nan():
    # One sequence of 2,000 nats in 1 token: every resample that draws it has a mean NLL above
    # 709.78, so exp overflows to inf (fl's policy). torch.quantile interpolated inf - inf = NaN.
    nll = torch.tensor([1.0, 2000.0, 1.0, 2.0], dtype=torch.float64)
    ci = fl.perplexity_interval(nll, torch.ones(4, dtype=torch.long))
    assert ci.high == math.inf and math.isfinite(ci.low) and ci.low >= math.e


def test_finite_draws_keep_torch_quantiles_interpolation():
    nll, counts = _data(seed=4, n=30)
    ci = fl.perplexity_interval(nll, counts, n_resamples=500, seed=5)
    index = torch.randint(30, (500, 30), generator=torch.Generator().manual_seed(5))
    draws = (nll[index].sum(dim=1) / counts.double()[index].sum(dim=1)).exp()
    low, high = torch.quantile(draws, torch.tensor([0.025, 0.975], dtype=torch.float64))
    assert (ci.low, ci.high) == (low.item(), high.item())


@pytest.mark.parametrize("function", ["perplexity_interval", "compare_perplexities"])
@pytest.mark.parametrize(("counts", "match"), [
    ([0, 3, 4], "found 1 with none"),        # a resample of only the first: 0 / 0 = NaN bounds
    ([0, 0, 0], "no tokens to score"),       # compare_perplexities returned NaN
])
def test_sequences_without_targets_are_refused(function, counts, match):
    nll = torch.tensor([0.0, 6.0, 9.0])
    args = (nll, nll) if function == "compare_perplexities" else (nll,)
    with pytest.raises(ValueError, match=match):
        getattr(fl, function)(*args, torch.tensor(counts))


def test_a_seed_beyond_what_a_generator_holds_is_refused_by_name():
    nll, counts = _data(n=10)
    with pytest.raises(ValueError, match=r"seed: expected an int in \[-2\*\*63, 2\*\*64\)"):
        fl.perplexity_interval(nll, counts, seed=2**70)  # was torch's "Overflow when unpacking"


@pytest.mark.parametrize(("model", "sequences", "error", "match"), [
    (42, [[1, 2, 3]], TypeError, "model: expected a model"),
    (lambda ids: torch.zeros(*ids.shape, 5), [], ValueError, "sequences: expected at least one"),
    (lambda ids: torch.zeros(*ids.shape, 5), "1 2 3", TypeError, "sequences: expected a list"),
])
def test_sequence_nll_refuses_a_bad_model_or_no_sequences(model, sequences, error, match):
    with pytest.raises(error, match=match):
        fl.sequence_nll(model, sequences)
