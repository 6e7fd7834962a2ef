"""The course language, tokenizer and collate function."""

import math

import pytest
import torch

import forge_lib as fl


@pytest.fixture(scope="module")
def lang():
    return fl.english_like_language()


def test_transition_rows_are_distributions(lang):
    rows = lang.transition.sum(dim=1)
    live = [fl.BOS_ID] + list(range(len(fl.SPECIAL_TOKENS), len(lang.tokenizer)))
    assert torch.allclose(rows[live], torch.ones(len(live), dtype=torch.float64))
    assert torch.all(rows[[fl.PAD_ID, fl.EOS_ID, fl.UNK_ID]] == 0)
    assert lang.transition[:, [fl.PAD_ID, fl.BOS_ID, fl.UNK_ID]].sum() == 0


def test_language_has_a_few_hundred_words(lang):
    assert 200 <= len(lang.tokenizer) - len(fl.SPECIAL_TOKENS) <= 400


def test_entropy_rate_matches_a_monte_carlo_estimate(lang):
    # Independent check of the linear-algebra result: the true chain's NLL on a large sample.
    nll, count = lang.true_nll_sum_and_count(lang.sample(20_000, seed=123))
    assert abs(nll / count - lang.entropy_rate()) < 0.01  # ~ 4 standard errors at this size


def test_expected_length_matches_sample(lang):
    sample = lang.sample(20_000, seed=7)
    mean_predicted = sum(len(s) - 1 for s in sample) / len(sample)
    assert abs(mean_predicted - lang.expected_tokens_per_sentence()) < 0.1


def test_entropy_rate_of_a_uniform_chain_is_log_k():
    # Hand-built chain: BOS -> one of k words uniformly -> EOS. Entropy per predicted token is
    # (log k + 0) / 2 because EOS is certain after the word.
    k = 5
    tok = fl.WordTokenizer([f"w{i}" for i in range(k)])
    p = torch.zeros(len(tok), len(tok), dtype=torch.float64)
    p[fl.BOS_ID, 4:] = 1 / k
    p[4:, fl.EOS_ID] = 1.0
    lang = fl.MarkovLanguage(tok, p)
    assert math.isclose(lang.entropy_rate(), math.log(k) / 2, rel_tol=1e-12)
    assert math.isclose(lang.expected_tokens_per_sentence(), 2.0, rel_tol=1e-12)


def test_sampling_is_seeded_and_well_formed(lang):
    a, b = lang.sample(50, seed=3), lang.sample(50, seed=3)
    assert a == b and a != lang.sample(50, seed=4)
    for ids in a:
        assert ids[0] == fl.BOS_ID and ids[-1] == fl.EOS_ID
        assert fl.EOS_ID not in ids[1:-1] and fl.PAD_ID not in ids


def test_tokenizer_round_trip_and_unknown_words():
    tok = fl.WordTokenizer(["the", "cat"])
    assert tok.decode(tok.encode("the cat")) == "the cat"
    assert tok.encode("the dog", add_special=False) == [4, fl.UNK_ID]
    with pytest.raises(ValueError, match="unique"):
        fl.WordTokenizer(["a", "a"])
    with pytest.raises(ValueError, match="special"):
        fl.WordTokenizer(["<pad>"])


def test_collate_both_label_conventions():
    seqs = [[1, 5, 6, 2], [1, 7, 2]]
    hf = fl.collate(seqs)
    assert hf["input_ids"].tolist() == [[1, 5, 6, 2], [1, 7, 2, 0]]
    assert hf["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    assert hf["labels"].tolist() == [[1, 5, 6, 2], [1, 7, 2, -100]]
    padded = fl.collate(seqs, label_pad=fl.PAD_ID)
    assert padded["labels"].tolist() == [[1, 5, 6, 2], [1, 7, 2, 0]]
    assert fl.collate(seqs, max_len=2)["input_ids"].tolist() == [[1, 5], [1, 7]]


def test_collate_rejects_empty_input():
    with pytest.raises(ValueError, match="at least one sequence"):
        fl.collate([])
    with pytest.raises(ValueError, match="empty sequence"):
        fl.collate([[1, 2], []])
    with pytest.raises(ValueError, match="positive"):
        fl.collate([[1, 2]], max_len=0)


def test_iterate_batches_covers_everything_once():
    seqs = [[1, i, 2] for i in range(4, 14)]
    batches = list(fl.iterate_batches(seqs, 4))
    assert [b["input_ids"].shape[0] for b in batches] == [4, 4, 2]


def test_course_splits_are_fixed():
    val = fl.course_split("val")
    assert len(val) == fl.SPLITS["val"][0]
    assert val == fl.course_split("val")
    with pytest.raises(ValueError, match="expected one of"):
        fl.course_split("test")


def test_load_text_file(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("the cat sat\n\nthe dog sat\n", encoding="utf-8")
    tok, seqs = fl.load_text_file(path)
    assert len(seqs) == 2 and tok.vocab[4:6] == ["sat", "the"]
    assert fl.count_bytes(tok, seqs) == len("the cat sat\nthe dog sat\n")
    with pytest.raises(FileNotFoundError, match="no file"):
        fl.load_text_file(tmp_path / "missing.txt")
    (tmp_path / "blank.txt").write_text("\n \n")
    with pytest.raises(ValueError, match="no non-empty lines"):
        fl.load_text_file(tmp_path / "blank.txt")
