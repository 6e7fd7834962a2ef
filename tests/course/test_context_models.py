"""The two context checkpoints, data/topic_lm.pt and data/char_lm.pt, and their model cards."""

import math

import pytest

import forge_lib as fl


@pytest.fixture(scope="module")
def topic_model_and_card():
    return fl.load_topic_model()


@pytest.fixture(scope="module")
def char_model_and_card():
    return fl.load_char_model()


def _stream_nll(model, documents, stride):
    nll, count = fl.sliding_window_nll(model, fl.token_stream(documents), context=128, stride=stride,
                                       ignore_index=fl.BOS_ID)
    return float(nll), count


def test_topic_checkpoint_reproduces_its_chunked_figures(topic_model_and_card):
    model, card = topic_model_and_card
    docs = fl.topic_split("val")
    nll, count = _stream_nll(model, docs, stride=128)
    assert count == card["val_targets"]
    assert f"{nll / count:.4f}" == f"{card['val_nll_stride_128']:.4f}"
    exact = fl.topic_language().window_nll(docs, context=128, stride=128)
    assert float(exact.mean()) == pytest.approx(card["exact_nll_stride_128"], rel=1e-12)


def test_topic_model_is_above_the_exact_best_and_close_to_it(topic_model_and_card):
    _, card = topic_model_and_card
    for stride in (1, 128):
        model, exact = card[f"val_nll_stride_{stride}"], card[f"exact_nll_stride_{stride}"]
        assert exact < model < exact + math.log(1.05)  # within 5% in perplexity
    # with the whole document in view the best predictor can only gain
    assert card["exact_full_history_nll"] <= card["exact_nll_stride_1"] < card["exact_nll_stride_128"]


def test_topic_card_matches_checkpoint(topic_model_and_card):
    _, card = topic_model_and_card
    text = (fl.DATA_DIR / "TOPIC_LM_CARD.md").read_text()
    assert f"**{math.exp(card['val_nll_stride_1']):.4g}**" in text
    assert f"{math.exp(card['exact_nll_stride_128']):.4g}" in text
    assert "python scripts/train_tiny_lm.py --model topic" in text


def test_char_checkpoint_reproduces_its_bits_per_byte(char_model_and_card):
    model, card = char_model_and_card
    lang, val = fl.english_like_language(), fl.course_split("val")
    nll, count = _stream_nll(model, fl.char_documents(lang.tokenizer, val)[1], stride=64)
    assert count == card["val_targets"]
    assert fl.count_bytes(lang.tokenizer, val) == card["val_bytes"]
    assert f"{fl.bits_per_byte(nll, card['val_bytes']):.4f}" == f"{card['bits_per_byte']:.4f}"


def test_char_model_sits_between_the_truth_and_twice_it(char_model_and_card):
    _, card = char_model_and_card
    # the true model's bits per byte do not depend on the tokenizer; the word model's card agrees
    assert card["true_bits_per_byte"] < card["bits_per_byte"] < 1.1 * card["true_bits_per_byte"]
    assert card["true_bits_per_byte"] < card["word_model_bits_per_byte"]
    assert card["word_model_perplexity"] == fl.load_tiny_model()[1]["val_perplexity"]


def test_char_card_matches_checkpoint(char_model_and_card):
    _, card = char_model_and_card
    text = (fl.DATA_DIR / "CHAR_LM_CARD.md").read_text()
    assert f"**{card['bits_per_byte']:.4g}**" in text
    assert f"{card['word_model_bits_per_byte']:.4g} bits per byte" in text
    assert "python scripts/train_tiny_lm.py --model char" in text


@pytest.mark.parametrize("loader, name", [(fl.load_topic_model, "topic_lm.pt"),
                                          (fl.load_char_model, "char_lm.pt")])
def test_missing_checkpoint_says_where_and_how_to_rebuild(loader, name, tmp_path, monkeypatch):
    import forge_lib.course.model as model_module

    attr = "TOPIC_CHECKPOINT_PATH" if name == "topic_lm.pt" else "CHAR_CHECKPOINT_PATH"
    monkeypatch.setattr(model_module, attr, tmp_path / name)
    with pytest.raises(FileNotFoundError, match=f"data/{name}.*train_tiny_lm.py --model"):
        loader()
