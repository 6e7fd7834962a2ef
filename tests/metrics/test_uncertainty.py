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
