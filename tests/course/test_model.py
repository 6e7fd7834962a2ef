"""The tiny model, its checkpoint and the committed model card."""

import re

import pytest
import torch

import forge_lib as fl


@pytest.fixture(scope="module")
def model_and_card():
    return fl.load_tiny_model()


def test_checkpoint_reproduces_its_recorded_perplexity(model_and_card):
    model, card = model_and_card
    val = fl.evaluate_lm(model, fl.course_split("val"))
    assert val["tokens"] == card["val_tokens"]
    assert f"{val['perplexity']:.4g}" == f"{card['val_perplexity']:.4g}"


def test_model_card_matches_checkpoint(model_and_card):
    _, card = model_and_card
    text = (fl.DATA_DIR / "MODEL_CARD.md").read_text()
    assert f"**{card['val_perplexity']:.4g}**" in text
    assert f"**{card['floor_perplexity']:.4g}**" in text
    assert "python scripts/train_tiny_lm.py" in text


def test_shipped_model_is_within_15_percent_of_the_floor(model_and_card):
    _, card = model_and_card
    floor = fl.english_like_language().floor_perplexity()
    assert card["floor_perplexity"] == pytest.approx(floor, rel=1e-12)
    assert floor < card["val_perplexity"] <= 1.15 * floor


def test_padding_does_not_change_real_logits(model_and_card):
    model, _ = model_and_card
    seq = fl.course_split("val")[0]
    alone = model(torch.tensor([seq]))
    padded = model(fl.collate([seq, [1] * (len(seq) + 5)])["input_ids"])[:1, :len(seq)]
    assert torch.allclose(alone, padded, atol=1e-5)


def test_attention_mask_changes_only_padded_positions(model_and_card):
    model, _ = model_and_card
    batch = fl.collate(fl.course_split("val")[:8])
    plain = model(batch["input_ids"])
    masked = model(batch["input_ids"], attention_mask=batch["attention_mask"])
    ones = model(batch["input_ids"], attention_mask=torch.ones_like(batch["attention_mask"]))
    real = batch["attention_mask"].bool()
    assert torch.allclose(plain, ones, atol=1e-5)
    assert torch.allclose(plain[real], masked[real], atol=1e-5)
    assert not torch.allclose(plain[~real], masked[~real], atol=1e-3)
    with pytest.raises(ValueError, match="attention_mask: expected shape"):
        model(batch["input_ids"], attention_mask=batch["attention_mask"][:, 1:])


def test_model_rejects_bad_input(model_and_card):
    model, _ = model_and_card
    with pytest.raises(TypeError, match="integer"):
        model(torch.zeros(1, 4))
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="exceeds the model's context"):
        model(torch.zeros(1, 129, dtype=torch.long))
    with pytest.raises(ValueError, match=r"expected ids in \[0, 258\)"):
        model(torch.tensor([[1, 999]]))


def test_corrupted_and_foreign_checkpoints_are_refused(tmp_path, model_and_card):
    model, card = model_and_card
    good = tmp_path / "good.pt"
    fl.save_checkpoint(model, good, card)
    reloaded, _ = fl.load_checkpoint(good)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 reloaded.state_dict().values(), strict=True))
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="is not a complete checkpoint"):
        fl.load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ValueError, match=re.escape("expected format 'forge_lib.tiny_lm/2'")):
        fl.load_checkpoint(foreign)
    with pytest.raises(FileNotFoundError, match="train_tiny_lm.py"):
        fl.load_checkpoint(tmp_path / "missing.pt")


def test_load_tiny_model_outside_the_checkout_says_where_and_how(tmp_path, monkeypatch):
    # An installed (non-editable) forge_lib has no data/ folder next to it
    import forge_lib.course.model as model_module
    missing = tmp_path / "site-packages-like" / "data" / "tiny_lm.pt"
    monkeypatch.setattr(model_module, "CHECKPOINT_PATH", missing)
    with pytest.raises(FileNotFoundError) as info:
        fl.load_tiny_model()
    message = str(info.value)
    assert str(missing) in message and "path=" in message and "pip install -e ." in message
    copy = tmp_path / "tiny_lm.pt"
    copy.write_bytes(fl.CHECKPOINT_PATH.read_bytes())
    model, card = fl.load_tiny_model(path=copy)  # a copy, named explicitly, loads as usual
    assert card["val_tokens"] > 0
    assert isinstance(model, fl.TinyCausalLM)
