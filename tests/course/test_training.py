"""The small training loop: determinism, what it records, and that the records are right."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

import forge_lib as fl
from forge_lib.course.training import _lr_factor, _sample_batch, _train_data

SMALL = fl.ModelConfig(vocab_size=258, block_size=128, n_layer=1, n_head=2, d_model=16, d_ff=32)


def config(**overrides):
    base = dict(steps=30, batch_size=8, n_train=300, n_val=40, eval_every=10, model=SMALL)
    return fl.TrainConfig(**{**base, **overrides})


pytestmark = pytest.mark.usefixtures("deterministic")


def test_same_config_same_history():
    a, b = fl.train_tiny(config()), fl.train_tiny(config())
    assert a.history == b.history
    assert fl.train_tiny(config(seed=1)).history != a.history


def test_history_shape():
    run = fl.train_tiny(config(steps=25, eval_every=10))
    h = run.history
    assert h["step"] == list(range(1, 26))
    assert len(h["train_loss"]) == len(h["grad_norm"]) == len(h["lr"]) == 25
    assert h["val_step"] == [10, 20, 25]  # every eval_every steps, and the last
    assert all(math.isfinite(v) for v in h["train_loss"] + h["val_loss"])


def test_learning_rate_schedule_matches_its_formula():
    run = fl.train_tiny(config(steps=60, lr=1e-3, warmup=10, schedule="cosine", eval_every=60))
    for step, lr in zip(run.history["step"], run.history["lr"], strict=True):
        k = step - 1  # the update index the rate was used for
        expected = 1e-3 * ((k + 1) / 10 if k < 10 else
                           0.1 + 0.45 * (1 + math.cos(math.pi * (k - 10) / 50)))
        assert lr == pytest.approx(expected, rel=1e-12)
    constant = fl.train_tiny(config(steps=20, lr=2e-3, warmup=4, eval_every=20))
    assert constant.history["lr"][4:] == [2e-3] * 16


def test_loss_and_grad_norm_match_an_independent_computation():
    cfg = config(grad_clip=0.01)  # clipping active: the recorded norm must be the one before it
    state = fl.make_state(cfg)
    twin = copy.deepcopy(state.model)
    labels = _sample_batch(cfg, _train_data(cfg), torch.Generator().manual_seed(3), 128)
    loss, norm, lr = fl.train_step(state, labels)
    logits = twin(labels.clamp(min=0))[:, :-1].double()
    target = labels[:, 1:]
    expected_loss = F.cross_entropy(logits.reshape(-1, 258), target.reshape(-1), ignore_index=-100)
    twin.zero_grad()
    F.cross_entropy(twin(labels.clamp(min=0))[:, :-1].reshape(-1, 258), target.reshape(-1),
                    ignore_index=-100).backward()
    expected_norm = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in twin.parameters()))
    assert loss == pytest.approx(expected_loss.item(), rel=1e-5)
    assert norm == pytest.approx(expected_norm, rel=1e-5)
    assert norm > 0.01  # so the clip did act...
    # ...and the update is the clipped one: AdamW's first step moves every weight by ~lr anyway,
    # so check the gradient the optimizer saw instead.
    seen = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in state.model.parameters()))
    assert seen == pytest.approx(0.01, rel=1e-4)
    assert lr == pytest.approx(cfg.lr / cfg.warmup)


def test_gpt2_init_starts_near_log_vocab():
    labels = _sample_batch(config(), _train_data(config()), torch.Generator().manual_seed(0), 128)
    gpt2 = fl.make_state(config())
    default = fl.make_state(config(init_std=None))
    loss_gpt2 = fl.train_step(gpt2, labels)[0]
    loss_default = fl.train_step(default, labels)[0]
    assert abs(loss_gpt2 - math.log(258)) < 0.05
    assert loss_default > 2 * math.log(258)  # the tied N(0, 1) embedding: huge first logits


def test_callback_sees_every_step_and_can_stop():
    seen = []

    def callback(state, record):
        seen.append(record)
        return record["step"] == 12

    run = fl.train_tiny(config(), callback=callback)
    assert run.step == 12 and len(run.history["train_loss"]) == 12
    assert [r["step"] for r in seen] == list(range(1, 13))
    assert [r["step"] for r in seen if "val_loss" in r] == [10]


def test_run_training_until_then_continue_equals_one_run():
    full = fl.train_tiny(config())
    state = fl.make_state(config())
    fl.run_training(state, until=13)
    fl.run_training(state)
    assert state.history == full.history


def test_divergence_stops_at_the_first_nan():
    # float32: in float64 the same explosion stays finite (notebook 09's lr 10 run does too)
    run = fl.train_tiny(config(lr=50.0, steps=200, warmup=0, eval_every=1000, dtype=torch.float32))
    losses = run.history["train_loss"]
    assert not math.isfinite(losses[-1]) and all(math.isfinite(v) for v in losses[:-1])
    assert len(losses) < 200


def test_packed_batches_and_token_stream():
    cfg = config(packed=32, model=fl.ModelConfig(258, block_size=32, n_layer=1, n_head=2,
                                                 d_model=16, d_ff=32))
    data = _train_data(cfg)
    assert data.ndim == 1 and data[0] == fl.BOS_ID
    batch = _sample_batch(cfg, data, torch.Generator().manual_seed(0), 32)
    assert batch.shape == (8, 32) and bool((batch >= 0).all())
    run = fl.train_tiny(cfg)
    assert len(run.history["val_loss"]) == 3
    assert fl.token_stream([[1, 5, 2], [1, 2]]).tolist() == [1, 5, 2, 1, 2]
    with pytest.raises(ValueError, match="at least one"):
        fl.token_stream([])


def test_evaluate_loss_matches_evaluate_lm():
    state = fl.make_state(config(n_val=70))
    mine = fl.evaluate_loss(state.model, state.config)
    reference = fl.evaluate_lm(state.model, fl.course_split("val")[:70])
    assert mine == pytest.approx(reference["nll_sum"] / reference["tokens"], rel=1e-9)


def test_train_sentences_are_the_course_split_prefix_generator():
    """n_train sentences are drawn with the train split's seed: 60,000 gives the split itself."""
    lang = fl.english_like_language()
    assert list(map(list, _train_data(config(n_train=50)))) == lang.sample(50, seed=1)


def test_set_lr():
    state = fl.make_state(config(lr=0.1, warmup=0))
    fl.set_lr(state, 0.01)
    fl.run_training(state, until=3)
    assert state.history["lr"] == [0.01] * 3
    with pytest.raises(ValueError):
        fl.set_lr(state, -1.0)


def test_lr_factor_warmup_zero():
    assert _lr_factor(config(warmup=0))(0) == 1.0


@pytest.mark.parametrize("overrides, error", [
    ({"lr": 0.0}, ValueError), ({"lr": math.inf}, ValueError), ({"steps": 0}, ValueError),
    ({"batch_size": 1.5}, TypeError), ({"n_train": 0}, ValueError), ({"warmup": -1}, ValueError),
    ({"schedule": "linear"}, ValueError), ({"grad_clip": 0.0}, ValueError),
    ({"init_std": -0.02}, ValueError), ({"packed": 0}, ValueError),
])
def test_bad_configs(overrides, error):
    with pytest.raises(error):
        config(**overrides)


def test_bad_model_configs():
    with pytest.raises(ValueError, match="vocab_size"):
        fl.make_state(config(model=fl.ModelConfig(vocab_size=100)))
    with pytest.raises(ValueError, match="context"):
        fl.make_state(config(packed=256))
    with pytest.raises(TypeError, match="TrainConfig"):
        fl.make_state({"lr": 1e-3})


def test_float64_by_default_and_float32_on_request():
    state = fl.make_state(config())
    assert {p.dtype for p in state.model.parameters()} == {torch.float64}
    fast = fl.make_state(config(dtype=torch.float32))
    assert {p.dtype for p in fast.model.parameters()} == {torch.float32}
    embedding = state.model.tok_emb.weight
    assert embedding.std().item() == pytest.approx(0.02, rel=0.05)  # drawn in float64 itself
    loss, _, _ = fl.train_step(state, torch.tensor([[1, 5, 2], [1, 6, 2]]))
    assert isinstance(loss, float) and math.isfinite(loss)


def test_float64_run_is_independent_of_the_default_dtype():
    before = torch.get_default_dtype()
    run = fl.train_tiny(config(steps=3, eval_every=3))
    assert torch.get_default_dtype() == before  # the model was built in float64 and put back
    torch.set_default_dtype(torch.float64)
    try:
        again = fl.train_tiny(config(steps=3, eval_every=3))
    finally:
        torch.set_default_dtype(before)
    assert again.history == run.history


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.int64, "float64"])
def test_dtype_must_be_float32_or_float64(dtype):
    with pytest.raises(ValueError, match="dtype: expected torch.float32 or torch.float64"):
        config(dtype=dtype)


def test_epoch_sampling_reads_every_sentence_once_per_epoch_and_resumes_exactly():
    cfg = config(sampling="epochs", n_train=40, batch_size=8, steps=12, data_seed=5)
    data = _train_data(cfg)
    rows = [_sample_batch(cfg, data, torch.Generator(), 128, step) for step in range(10)]
    for epoch in (rows[:5], rows[5:]):  # 40 sentences, 8 a batch: 5 batches an epoch
        seen = sorted(tuple(r[r != -100].tolist()) for batch in epoch for r in batch)
        assert seen == sorted(tuple(s) for s in data)
    assert not torch.equal(rows[0], rows[5])  # a fresh shuffle each epoch
    full = fl.train_tiny(cfg)
    state = fl.make_state(cfg)
    fl.run_training(state, until=7)  # stop mid-epoch
    fl.run_training(state)
    assert state.history == full.history


def test_tiny_lm_run_is_the_shared_loop_with_the_committed_settings():
    from forge_lib.course.training import TINY_LM_RUN
    _, card = fl.load_tiny_model()
    run = TINY_LM_RUN
    assert (run.steps, run.batch_size, run.lr, run.warmup, run.weight_decay, run.grad_clip) == (
        card["steps"], card["batch_size"], card["peak_lr"], card["warmup"],
        card["weight_decay"], card["grad_clip"])
    assert (run.seed, run.n_train, run.sampling, run.dtype) == (
        card["seed"], card["train_sentences"], "epochs", torch.float32)


@pytest.mark.parametrize(("overrides", "match"), [
    ({"sampling": "shuffle"}, "sampling"),
    ({"sampling": "epochs", "packed": 32}, "sampling='epochs'"),
    ({"data_seed": 1.5}, "data_seed"),
    ({"data_seed": True}, "data_seed"),
])
def test_bad_sampling_settings_are_refused(overrides, match):
    with pytest.raises((ValueError, TypeError), match=match):
        config(**overrides)


def test_an_epoch_needs_a_full_batch():
    with pytest.raises(ValueError, match="batch_size"):
        fl.train_tiny(config(sampling="epochs", n_train=5, batch_size=8, steps=1))


def test_progress_bar_is_text_on_stderr_outside_jupyter_and_changes_nothing(capsys):
    small = dict(steps=3, batch_size=2, n_train=20, eval_every=3, n_val=4)
    quiet = fl.train_tiny(**small)
    assert capsys.readouterr().err == ""  # off by default: nothing for nbval to compare
    shown = fl.train_tiny(**small, progress=True, desc="bar test")
    err = capsys.readouterr().err
    assert "bar test" in err and "3/3" in err  # tqdm.auto falls back to tqdm's text bar
    assert shown.history == quiet.history


def test_each_corpus_trains_on_its_own_documents():
    from forge_lib.course.training import _documents, _vocab_size
    lang = fl.english_like_language()
    words = _documents("course", "val", 5)
    characters = _documents("course-chars", "val", 5)
    chars, _ = fl.char_documents(lang.tokenizer, [list(s) for s in words])
    assert [chars.decode(list(c)) for c in characters] == [lang.tokenizer.decode(list(w))
                                                           for w in words]
    assert _documents("topics", "val", 4) == tuple(tuple(d) for d in fl.topic_split("val")[:4])
    for corpus, vocab in [("course-chars", len(chars)), ("topics", 259)]:
        assert _vocab_size(corpus) == vocab
        small = fl.ModelConfig(vocab_size=vocab, block_size=32, n_layer=1, n_head=2, d_model=16,
                               d_ff=32)
        run = fl.train_tiny(config(corpus=corpus, model=small, packed=32, steps=4, eval_every=4,
                                   n_val=8))
        data = _train_data(run.config)
        assert int(data.max()) < vocab and math.isfinite(run.history["val_loss"][-1])


@pytest.mark.parametrize(("overrides", "match"), [
    ({"corpus": "wikitext"}, "corpus: expected one of"),
    ({"corpus": ["topics"]}, "corpus: expected one of"),
    ({"corpus": "topics", "n_train": 20_001}, "20,000 documents"),
    ({"corpus": "topics", "n_val": 1_001}, "1,000 documents in its val split"),
    ({"n_val": 4_001}, "4,000 documents in its val split"),  # the course's val split, not fewer
])
def test_bad_corpus_settings_are_refused(overrides, match):
    with pytest.raises(ValueError, match=match):
        config(**overrides)


def test_a_model_for_another_corpus_is_refused():
    with pytest.raises(ValueError, match="corpus 'course-chars' has 29 tokens"):
        fl.make_state(config(corpus="course-chars"))  # SMALL is the word model's 258


def test_the_committed_context_runs_are_the_shared_loop():
    from forge_lib.course.training import CHAR_LM_RUN, TOPIC_LM_RUN
    for run, path in [(TOPIC_LM_RUN, fl.TOPIC_CHECKPOINT_PATH), (CHAR_LM_RUN, fl.CHAR_CHECKPOINT_PATH)]:
        _, card = fl.load_checkpoint(path)
        assert (run.steps, run.batch_size, run.lr, run.warmup, run.weight_decay, run.grad_clip,
                run.seed, run.packed, run.corpus) == (
            card["steps"], card["batch_size"], card["peak_lr"], card["warmup"],
            card["weight_decay"], card["grad_clip"], card["seed"], card["packed"], card["corpus"])
