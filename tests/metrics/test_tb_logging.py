"""TensorBoard logging: the names written, the round trip through event files, smoothing."""

import math

import pytest
import torch

import forge_lib as fl


def test_record_scalars_names_and_values():
    scalars = fl.record_scalars({"step": 3, "train_loss": 2.0, "grad_norm": 0.5, "lr": 1e-3,
                                 "val_loss": 1.5})
    assert scalars == {"train/loss": 2.0, "train/perplexity": pytest.approx(math.exp(2.0)),
                       "train/learning_rate": 1e-3, "train/gradient_norm": 0.5,
                       "val/loss": 1.5, "val/perplexity": pytest.approx(math.exp(1.5))}


def test_overflow_and_nan_are_logged_not_raised():
    with pytest.raises(OverflowError):
        math.exp(800.0)  # what a logging line with math.exp would do to the run
    assert fl.record_scalars({"train_loss": 800.0})["train/perplexity"] == math.inf
    assert math.isnan(fl.record_scalars({"train_loss": math.nan})["train/perplexity"])


def test_record_scalars_rejects_non_records():
    with pytest.raises(TypeError, match="train_loss"):
        fl.record_scalars({"loss": 1.0})


def test_round_trip_through_event_files(tmp_path):
    records = [{"step": s, "train_loss": 5.0 / s, "grad_norm": 1.0 + s / 7, "lr": 1e-3 * s}
               for s in range(1, 21)]
    records[9]["val_loss"] = 0.123456789
    with fl.TensorBoardLogger(tmp_path) as log:
        for r in records:
            log(None, r)  # the callback signature of fl.run_training
    scalars = fl.read_scalars(tmp_path)
    assert set(scalars) == {"train/loss", "train/perplexity", "train/learning_rate",
                            "train/gradient_norm", "val/loss", "val/perplexity"}
    steps, values = scalars["train/loss"]
    assert steps == list(range(1, 21))
    # TensorBoard stores float32: the values come back rounded to float32, exactly.
    f32 = torch.tensor([r["train_loss"] for r in records], dtype=torch.float32).tolist()
    assert values == f32
    assert scalars["val/loss"] == ([10], [torch.tensor(0.123456789, dtype=torch.float32).item()])


def test_read_scalars_bad_folders(tmp_path):
    with pytest.raises(FileNotFoundError):
        fl.read_scalars(tmp_path / "missing")
    with pytest.raises(ValueError, match="no TensorBoard event files"):
        fl.read_scalars(tmp_path)


def test_logger_needs_a_step(tmp_path):
    with fl.TensorBoardLogger(tmp_path) as log, pytest.raises(TypeError, match="step"):
        log.log({"train_loss": 1.0})


def test_training_run_logs_every_step(tmp_path):
    cfg = fl.TrainConfig(steps=12, batch_size=4, n_train=100, n_val=20, eval_every=6,
                         model=fl.ModelConfig(258, n_layer=1, n_head=2, d_model=16, d_ff=32))
    with fl.TensorBoardLogger(tmp_path) as log:
        run = fl.train_tiny(cfg, callback=log)
    scalars = fl.read_scalars(tmp_path)
    assert scalars["train/loss"][0] == run.history["step"]
    assert scalars["val/perplexity"][0] == [6, 12]
    assert scalars["train/learning_rate"][1] == pytest.approx(run.history["lr"], rel=1e-6)


def test_smoothing_matches_the_debiased_ema():
    values = [4.0, 3.0, 3.5, 2.0, 2.5]
    w = 0.6
    expected, ema = [], 0.0
    for n, v in enumerate(values, start=1):
        ema = w * ema + (1 - w) * v
        expected.append(ema / (1 - w ** n))
    assert fl.smooth_like_tensorboard(values, w) == pytest.approx(expected, rel=1e-12)
    assert fl.smooth_like_tensorboard([2.0] * 5, 0.9) == pytest.approx([2.0] * 5)
    assert fl.smooth_like_tensorboard(values, 0.0) == values
    smoothed = fl.smooth_like_tensorboard([1.0, math.nan, 3.0], 0.5)
    assert math.isnan(smoothed[1]) and smoothed[2] == pytest.approx((0.25 + 1.5) / 0.75)
    with pytest.raises(ValueError):
        fl.smooth_like_tensorboard(values, 1.0)


@pytest.mark.parametrize("call", [lambda d: fl.TensorBoardLogger(d), lambda d: fl.read_scalars(d)])
def test_missing_tensorboard_says_how_to_install_it(tmp_path, monkeypatch, call):
    # None in sys.modules makes the import fail, as in an install without the course extra
    import sys
    for name in ("tensorboard", "tensorboard.backend.event_processing.event_accumulator",
                 "torch.utils.tensorboard"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"optional extra of forge_lib: `pip install '\.\[course\]'`"):
        call(tmp_path)
