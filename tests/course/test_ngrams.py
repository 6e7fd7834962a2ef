"""n-gram baselines: interpolated Kneser-Ney checked by hand, as distributions, and against the
exact floors of the course's languages."""

import math

import pytest
import torch

import forge_lib as fl

TRAIN = [[1, 4, 5, 2], [1, 4, 4, 5, 2]]


def test_bigram_by_hand():
    # Continuation counts of the unigram level: 4 follows <bos> and 4, 5 follows 4, 2 follows 5;
    # total 4, 3 types, d = 0.75, p_0 = 1/4 over the ids 2..5.
    p1 = {4: (2 - 0.75) / 4 + 0.75 * 3 / 4 / 4, 5: 0.25 / 4 + 0.75 * 3 / 4 / 4}
    p1[2] = p1[5]
    want = [(2 - 0.75) / 2 + 0.75 * 1 / 2 * p1[4],  # 4 after <bos>: seen twice, one type
            (2 - 0.75) / 3 + 0.75 * 2 / 3 * p1[5],  # 5 after 4: twice in 3, two types
            (2 - 0.75) / 2 + 0.75 * 1 / 2 * p1[2]]  # <eos> after 5
    model = fl.NGramModel.fit(TRAIN, order=2, vocab_size=6)
    got = model.token_nll([[1, 4, 5, 2]])
    assert torch.allclose(got, -torch.tensor(want, dtype=torch.float64).log(), rtol=1e-14)


def test_unigram_uses_raw_counts_when_it_is_the_highest_order():
    model = fl.NGramModel.fit(TRAIN, order=1, vocab_size=6)
    p4 = (3 - 0.75) / 7 + 0.75 * 3 / 7 / 4  # 4 is 3 of the 7 targets
    assert math.isclose(float(model.token_nll([[1, 4]])[0]), -math.log(p4), rel_tol=1e-14)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_every_history_gives_a_distribution(order):
    lang = fl.topic_language()
    vocab = len(lang.tokenizer)
    model = fl.NGramModel.fit(lang.sample(300, seed=0), order=order, vocab_size=vocab)
    targets = [i for i in range(vocab) if i not in (fl.PAD_ID, fl.BOS_ID)]
    for history in ([1], [1, 7], [1, 40, 41], [1, 41, 40], [1, 250, 3]):  # seen and unseen
        nll = model.token_nll([history + [w] for w in targets])
        last = nll.view(len(targets), len(history))[:, -1]
        assert math.isclose(float((-last).exp().sum()), 1.0, rel_tol=1e-12)


def test_baselines_on_the_topic_language_sit_above_the_exact_curve():
    # A unigram table is a 0-context predictor, a bigram table a 1-context one: neither can beat
    # F(0), F(1); on 2,000 documents they come close. A trigram needs far more data.
    lang = fl.topic_language()
    train, val = lang.sample(2000, seed=1), lang.sample(200, seed=2)
    nll = fl.ngram_baselines(train, val, len(lang.tokenizer))
    f = lang.context_curve(val, [0, 1, 2]).tolist()
    assert f[0] < nll[1] < f[0] + 0.02
    assert f[1] < nll[2] < f[1] + 0.15
    assert f[2] < nll[3]
    assert set(nll) == {1, 2, 3}


def test_bigram_approaches_the_course_language_floor():
    lang = fl.english_like_language()
    # On the course language a bigram table is the exact model: only estimation error is left
    # (0.18 nats with 8,000 training sentences).
    nll = fl.ngram_baselines(lang.sample(8000, seed=1), lang.sample(500, seed=2),
                             len(lang.tokenizer), orders=(2,))
    total, count = lang.true_nll_sum_and_count(lang.sample(500, seed=2))
    assert total / count < nll[2] < total / count + 0.25


def test_nll_sum_and_count_agree_with_token_nll():
    model = fl.NGramModel.fit(TRAIN, order=3, vocab_size=6)
    total, count = model.nll_sum_and_count(TRAIN)
    assert count == 7 and math.isclose(total, float(model.token_nll(TRAIN).sum()))


def test_tensors_and_lists_count_alike():
    # Lists of ints take a one-pass check; anything else is checked sequence by sequence.
    as_tensors = fl.ngram_baselines([torch.tensor(s) for s in TRAIN], TRAIN, 6)
    assert as_tensors == fl.ngram_baselines(TRAIN, TRAIN, 6)
    with pytest.raises(TypeError, match=r"sequences\[1\]: expected a flat list of int"):
        fl.NGramModel.fit([[1, 4, 2], [1, 4.0, 2]], order=2, vocab_size=6)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="discount: expected a number in"):
        fl.NGramModel.fit(TRAIN, order=2, vocab_size=6, discount=1.0)
    with pytest.raises(ValueError, match="order: expected a positive int"):
        fl.NGramModel.fit(TRAIN, order=0, vocab_size=6)
    with pytest.raises(ValueError, match="overflows"):
        fl.NGramModel.fit(TRAIN, order=8, vocab_size=300)
    with pytest.raises(ValueError, match=r"sequences\[0\]: expected \[BOS"):
        fl.NGramModel.fit([[4, 5, 2]], order=2, vocab_size=6)
    with pytest.raises(ValueError, match=r"sequences\[0\]: expected ids in \[0, 6\)"):
        fl.NGramModel.fit([[1, 9, 2]], order=2, vocab_size=6)
    with pytest.raises(ValueError, match="at least one sequence"):
        fl.NGramModel.fit([], order=2, vocab_size=6)
    with pytest.raises(TypeError, match="train: expected a list"):
        fl.ngram_baselines("text", TRAIN, 6)
    with pytest.raises(ValueError, match="keys, counts"):
        fl.NGramModel(2, 6, 0.5, (), (), (), (), ())
