"""Bad inputs that used to be silently wrong: narrow id dtypes, fractional ids, ignore_index=True,
-100 inside a token stream, and non-finite checkpoint metrics (issue: every bad input a clear error)."""

import math

import pytest
import torch

import forge_lib as fl

V = 300  # larger than uint8's range, so a cast of V to uint8 (44) would show


def _reference_nll(logits, target, ignore_index):
    keep = target != ignore_index
    return torch.nn.functional.cross_entropy(logits.double()[keep], target[keep], reduction="sum")


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32])
def test_narrow_integer_ids_score_like_long(dtype):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, V, generator=g)
    high = 127 if dtype == torch.int8 else (255 if dtype == torch.uint8 else V)
    target = torch.randint(0, high, (6,), generator=g)
    target[2] = 156 % high  # with -100 cast to uint8 this id would be "ignored"
    nll, n = fl.nll_sum_and_count(logits, target.to(dtype), ignore_index=-100)
    assert n == 6
    torch.testing.assert_close(nll, _reference_nll(logits, target, -100))
    assert fl.token_accuracy(logits, target.to(dtype)) == fl.token_accuracy(logits, target)


def test_uint8_padding_label_is_not_confused_with_minus_100():
    logits = torch.randn(3, V)
    target = torch.tensor([156, 1, 2], dtype=torch.uint8)
    assert fl.nll_sum_and_count(logits, target, ignore_index=-100)[1] == 3


@pytest.mark.parametrize("call", [
    lambda: fl.token_accuracy(torch.randn(3, 5), torch.tensor([1, 2, 3]), ignore_index=True),
    lambda: fl.nll_sum_and_count(torch.randn(3, 5), torch.tensor([1, 2, 3]), ignore_index=1.0),
    lambda: fl.sliding_window_nll(lambda x: torch.zeros(*x.shape, 7), torch.arange(20) % 7,
                                  context=8, stride=4, ignore_index=True),
])
def test_ignore_index_must_be_an_int_everywhere(call):
    with pytest.raises(TypeError, match="ignore_index: expected an int"):
        call()


def test_minus_100_inside_a_stream_is_refused():
    stream = torch.arange(20) % 7
    stream[5] = -100
    with pytest.raises(ValueError, match=r"token_ids: expected real token ids .*first: -100"):
        fl.sliding_window_nll(lambda x: torch.zeros(*x.shape, 7), stream, context=8, stride=4)


@pytest.mark.parametrize("bad", [[[1.7, 2.2]], [[1, 2], [True, False]], [[[1, 2]]]])
def test_collate_refuses_ids_that_are_not_ints(bad):
    with pytest.raises(TypeError, match="flat list of int token ids"):
        fl.collate(bad)


@pytest.mark.parametrize("metric", [math.inf, -math.inf, math.nan])
def test_non_finite_metric_is_never_an_improvement(metric, tmp_path):
    assert not fl.is_improvement(metric, None) and not fl.is_improvement(metric, 3.0, mode="max")
    best = fl.BestCheckpoint(tmp_path / "best.pt")
    assert not best.update(metric, step=1, model=torch.nn.Linear(2, 1))
    assert best.best is None and not (tmp_path / "best.pt").exists()


@pytest.mark.parametrize("min_delta", [-0.1, math.nan, math.inf])
def test_min_delta_must_be_finite_and_non_negative(min_delta, tmp_path):
    with pytest.raises(ValueError, match="min_delta: expected a finite number >= 0"):
        fl.BestCheckpoint(tmp_path / "best.pt", min_delta=min_delta)
    with pytest.raises(ValueError, match="min_delta"):
        fl.is_improvement(1.0, 2.0, min_delta=min_delta)


# --- masks, image and video metrics, diagnostics -------------------------------------------------

def test_additive_attention_mask_is_refused_not_inverted():
    model = fl.TinyCausalLM(fl.ModelConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2,
                                           d_model=8, d_ff=16))
    ids = torch.tensor([[1, 5, 6, 0]])
    additive = torch.tensor([[0.0, 0.0, 0.0, -1e9]])  # Hugging Face's internal form: 0 keeps
    with pytest.raises(ValueError, match=r"attention_mask: .*pass \(mask == 0\)"):
        model(ids, attention_mask=additive)
    keep = torch.tensor([[1, 1, 1, 0]])
    torch.testing.assert_close(model(ids, attention_mask=keep),
                               model(ids, attention_mask=(additive == 0)))


def test_flow_warping_error_refuses_a_pair_with_nothing_to_score():
    video = fl.moving_shapes_video(n_frames=3, size=16, seed=0)
    with pytest.raises(ValueError, match=r"no pixel left to score in frame pair\(s\) \[0, 1\]"):
        fl.flow_warping_error(video.frames, video.flows, mask=torch.zeros_like(video.valid))
    far = torch.full_like(video.flows, 1000.0)  # every source pixel outside the frame
    with pytest.raises(ValueError, match="no pixel left to score"):
        fl.flow_warping_error(video.frames, far)
    with pytest.raises(ValueError, match="mask: expected 1 .* to keep"):
        fl.flow_warping_error(video.frames, video.flows, mask=video.valid.float() * 255)


@pytest.mark.parametrize("sigma", [0, -1.0, math.nan, math.inf])
def test_ssim_sigma_must_be_positive(sigma):
    x = torch.rand(1, 1, 16, 16)
    with pytest.raises(ValueError, match="sigma: expected a finite number > 0"):
        fl.ssim(x, x, data_range=1.0, sigma=sigma)


def test_frechet_distance_refuses_bad_eps_and_bad_statistics():
    i = torch.eye(3, dtype=torch.float64)
    mu = torch.zeros(3)
    with pytest.raises(ValueError, match="eps: expected a finite number >= 0"):
        fl.frechet_distance_from_stats(mu, i, mu, i, eps=-1.0)
    nan_cov = i.clone()
    nan_cov[0, 1] = math.nan
    with pytest.raises(ValueError, match="sigma_a: expected only finite values"):
        fl.frechet_distance_from_stats(mu, nan_cov, mu, i)
    skew = i.clone()
    skew[0, 1] = 0.5
    with pytest.raises(ValueError, match="sigma_b: expected a symmetric covariance"):
        fl.frechet_distance_from_stats(mu, i, mu, skew)


@pytest.mark.parametrize("field", ["explode_rise", "min_drop", "oscillation", "spike_factor"])
@pytest.mark.parametrize("value", [math.nan, -0.1])
def test_thresholds_must_be_positive_numbers(field, value):
    with pytest.raises(ValueError, match=f"{field}: expected a finite number > 0"):
        fl.Thresholds(**{field: value})


def test_negative_gradient_norm_is_refused():
    losses = [5.0 - 0.01 * i for i in range(40)]
    with pytest.raises(ValueError, match="grad_norm: a norm is never negative"):
        fl.diagnose(losses, grad_norm=[1.0] * 39 + [-2.0])


# --- text files and tokenizers -------------------------------------------------------------------

def test_byte_order_mark_is_not_part_of_the_first_word(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffthe cat sat\nthe dog sat\n".encode())
    tok, sentences = fl.load_text_file(path)
    assert "the" in tok.vocab and "\ufeffthe" not in tok.vocab
    assert sentences[0] == tok.encode("the cat sat")


def test_non_utf8_file_names_the_file(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\xe9 ol\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"'latin1.txt' is not UTF-8 text \(byte 3"):
        fl.load_text_file(path)


def test_tokenizer_refuses_a_string_for_a_word_list():
    with pytest.raises(TypeError, match="expected a list of words, got the string 'the cat'"):
        fl.WordTokenizer("the cat")
    with pytest.raises(TypeError, match="every word must be a non-empty str"):
        fl.WordTokenizer(["the", ""])


# --- checkpoints: corruption, mismatches, allocation ----------------------------------------------

def test_a_flipped_bit_in_the_tiny_model_is_reported(tmp_path):
    model, card = fl.load_tiny_model()
    path = tmp_path / "tiny.pt"
    fl.save_checkpoint(model, path, card)
    fl.load_checkpoint(path)  # intact: loads
    fl.simulated_bit_flip(path, model.tok_emb.weight)
    with pytest.raises(ValueError, match="'tiny.pt' is corrupted: its contents do not match the SHA-256"):
        fl.load_checkpoint(path)


def test_a_flipped_bit_in_a_best_checkpoint_is_reported(tmp_path):
    model = torch.nn.Linear(64, 64)
    best = fl.BestCheckpoint(tmp_path / "best.pt")
    best.update(1.0, step=1, model=model)
    fl.simulated_bit_flip(best.path, model.weight)
    with pytest.raises(ValueError, match="is corrupted"):
        fl.load_best_checkpoint(best.path)


def test_empty_file_is_a_clear_error(tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(ValueError, match=r"'empty.pt' \(0 bytes\) is not a complete checkpoint"):
        fl.load_checkpoint(tmp_path / "empty.pt")


def test_config_is_checked_against_the_weights_before_allocating(tmp_path, monkeypatch):
    model, card = fl.load_tiny_model()
    path = tmp_path / "huge.pt"
    fl.save_checkpoint(model, path, card)
    blob = torch.load(path, weights_only=True)
    blob.pop("sha256")
    blob["config"]["vocab_size"] = 10**9  # would allocate hundreds of GB
    fl.save_verified(blob, path)
    built = []
    monkeypatch.setattr(fl.TinyCausalLM, "__init__",
                        lambda self, cfg, _init=fl.TinyCausalLM.__init__: (
                            built.append(torch.empty(0).device.type), _init(self, cfg))[1])
    with pytest.raises(ValueError, match="do not fit its config"):
        fl.load_checkpoint(path)
    assert built == ["meta"]  # only the shape-only model on the meta device was built


def test_restoring_an_adam_state_into_sgd_is_refused(tmp_path):
    model = torch.nn.Linear(2, 1)
    adam = torch.optim.AdamW(model.parameters(), lr=1e-3)
    best = fl.BestCheckpoint(tmp_path / "best.pt")
    best.update(1.0, step=1, model=model, optimizer=adam)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="holds a AdamW state, not a SGD one"):
        best.restore(model=model, optimizer=sgd, rng=False)
    assert sgd.param_groups[0]["lr"] == 0.1  # untouched


def test_saved_files_get_the_usual_permissions(tmp_path):
    fl.atomic_save({"x": torch.ones(1)}, tmp_path / "a.pt")
    torch.save({"x": torch.ones(1)}, tmp_path / "b.pt")
    assert (tmp_path / "a.pt").stat().st_mode == (tmp_path / "b.pt").stat().st_mode
