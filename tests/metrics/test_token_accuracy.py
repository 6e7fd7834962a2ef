"""fl.token_accuracy against torchmetrics and a plain float64 reference; what it cannot see."""

import pytest
import torch
from torchmetrics.classification import MulticlassAccuracy

import forge_lib as fl
import forge_lib.metrics.text as text


def batch(seed=0, b=4, t=9, v=17, n_pad=3):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, t, v, generator=gen)
    labels = torch.randint(0, v, (b, t), generator=gen)
    hits = torch.rand(b, t, generator=gen) < 0.3  # make ~30% of targets the argmax
    labels = torch.where(hits, logits.argmax(-1), labels)
    labels[0, -n_pad:] = -100
    return logits, labels


@pytest.mark.parametrize("k", [1, 2, 5, 17])
def test_matches_torchmetrics_micro(k):
    logits, labels = batch()
    metric = MulticlassAccuracy(num_classes=17, top_k=k, average="micro", ignore_index=-100)
    expected = metric(logits.reshape(-1, 17), labels.reshape(-1)).item()
    assert fl.token_accuracy(logits, labels, ignore_index=-100, top_k=k) == \
        pytest.approx(expected, abs=1e-7)


def test_matches_a_plain_reference():
    logits, labels = batch(seed=1)
    keep = labels != -100
    ref = (logits.double().argmax(-1)[keep] == labels[keep]).double().mean().item()
    assert fl.token_accuracy(logits, labels, ignore_index=-100) == pytest.approx(ref, abs=1e-12)


def test_torchmetrics_default_average_is_not_token_accuracy():
    """MulticlassAccuracy's default average is "macro" (mean per-class recall)."""
    logits, labels = batch(seed=2, b=8, t=20)
    macro = MulticlassAccuracy(num_classes=17, ignore_index=-100)(
        logits.reshape(-1, 17), labels.reshape(-1)).item()
    assert fl.token_accuracy(logits, labels, ignore_index=-100) != pytest.approx(macro, abs=1e-3)


def test_top_k_equal_to_vocab_is_one_and_accuracy_is_monotone_in_k():
    logits, labels = batch(seed=3)
    accs = [fl.token_accuracy(logits, labels, ignore_index=-100, top_k=k) for k in range(1, 18)]
    assert accs == sorted(accs) and accs[-1] == 1.0


def test_chunking_does_not_change_the_answer(monkeypatch):
    logits, labels = batch(seed=4, b=6, t=30)
    whole = fl.token_accuracy(logits, labels, ignore_index=-100, top_k=3)
    monkeypatch.setattr(text, "_CHUNK_ELEMENTS", 17 * 7)  # 7 rows a chunk
    assert fl.token_accuracy(logits, labels, ignore_index=-100, top_k=3) == whole


def test_same_accuracy_very_different_cross_entropy():
    """Sharpening logits keeps every argmax (so accuracy) and changes perplexity a lot."""
    logits, labels = batch(seed=5, b=8, t=30)
    sharp = logits * 20
    assert fl.token_accuracy(sharp, labels, ignore_index=-100) == \
        fl.token_accuracy(logits, labels, ignore_index=-100)
    assert fl.perplexity(sharp, labels, ignore_index=-100) > \
        50 * fl.perplexity(logits, labels, ignore_index=-100)


def test_2d_input_and_no_ignore():
    logits = torch.tensor([[0.0, 5.0, 1.0], [2.0, 0.0, 1.0], [0.0, 1.0, 3.0]])
    assert fl.token_accuracy(logits, torch.tensor([1, 2, 2])) == pytest.approx(2 / 3)
    assert fl.token_accuracy(logits, torch.tensor([1, 2, 2]), top_k=2) == 1.0


@pytest.mark.parametrize("kwargs, error, match", [
    ({"top_k": 0}, ValueError, "positive"),
    ({"top_k": 18}, ValueError, "at most the vocabulary"),
    ({"top_k": True}, TypeError, "positive int"),
])
def test_bad_top_k(kwargs, error, match):
    logits, labels = batch()
    with pytest.raises(error, match=match):
        fl.token_accuracy(logits, labels, ignore_index=-100, **kwargs)


def test_bad_inputs():
    logits, labels = batch()
    with pytest.raises(ValueError, match="no tokens"):
        fl.token_accuracy(logits, torch.full_like(labels, -100), ignore_index=-100)
    with pytest.raises(ValueError, match="out of range"):
        fl.token_accuracy(logits, labels)  # -100 without ignore_index
    with pytest.raises(ValueError, match="shape"):
        fl.token_accuracy(logits, labels[:, 1:], ignore_index=-100)
    with pytest.raises(TypeError, match="floating-point"):
        fl.token_accuracy(logits.long(), labels, ignore_index=-100)
    bad = logits.clone()
    bad[1, 2, 3] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        fl.token_accuracy(bad, labels, ignore_index=-100)
