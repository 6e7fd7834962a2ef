"""fl.BestCheckpoint: saves only on improvement, survives a crash mid-write, resumes exactly,
never adopts a file it was not told to resume, and keeps the last state beside the best."""

import math
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

import forge_lib as fl
from forge_lib.course.faults import SimulatedCrash, simulated_crash
from forge_lib.metrics.checkpoint import (
    BestCheckpoint,
    atomic_save,
    capture_rng_state,
    is_improvement,
    load_best_checkpoint,
    restore_rng_state,
    save_verified,
)

SMALL = fl.ModelConfig(vocab_size=258, block_size=128, n_layer=1, n_head=2, d_model=16, d_ff=32)


def tiny_config(**overrides):
    base = dict(steps=40, batch_size=8, n_train=400, n_val=40, eval_every=10, lr=3e-3,
                warmup=5, schedule="cosine", grad_clip=1.0, model=SMALL)
    return fl.TrainConfig(**{**base, **overrides})


pytestmark = pytest.mark.usefixtures("deterministic")


# ---- saving on improvement --------------------------------------------------------------------

@pytest.mark.parametrize("metric, best, mode, min_delta, expected", [
    (2.0, 3.0, "min", 0.0, True), (3.0, 3.0, "min", 0.0, False), (2.95, 3.0, "min", 0.1, False),
    (0.9, 0.8, "max", 0.0, True), (0.8, 0.8, "max", 0.0, False), (0.7, 0.8, "max", 0.0, False),
    (5.0, None, "min", 0.0, True), (float("nan"), None, "min", 0.0, False),
    (float("nan"), 3.0, "max", 0.0, False), (torch.tensor(1.0), 2.0, "min", 0.0, True),
])
def test_is_improvement(metric, best, mode, min_delta, expected):
    assert is_improvement(metric, best, mode=mode, min_delta=min_delta) is expected


def test_saves_only_on_improvement_min(tmp_path):
    model = torch.nn.Linear(3, 2)
    best = BestCheckpoint(tmp_path / "best.pt", mode="min")
    saved = []
    for step, metric in enumerate([4.0, 3.0, 3.5, 3.0, 2.0, float("nan"), 2.5], start=1):
        with torch.no_grad():
            model.weight.fill_(step)  # each step's weights are distinguishable
        saved.append(best.update(metric, step=step, model=model))
    assert saved == [True, True, False, False, True, False, False]
    blob = load_best_checkpoint(tmp_path / "best.pt")
    assert (blob["metric"], blob["step"]) == (2.0, 5) == (best.best, best.best_step)
    assert torch.all(blob["model"]["weight"] == 5)


def test_saves_only_on_improvement_max(tmp_path):
    best = BestCheckpoint(tmp_path / "acc.pt", mode="max")
    model = torch.nn.Linear(2, 2)
    assert [best.update(m, step=s, model=model) for s, m in enumerate([0.1, 0.3, 0.2, 0.4])] == \
        [True, True, False, True]
    assert best.best == 0.4


def test_resume_sets_the_best_so_far(tmp_path):
    model = torch.nn.Linear(2, 2)
    BestCheckpoint(tmp_path / "b.pt", run_id="run-a").update(1.5, step=7, model=model)
    again = BestCheckpoint(tmp_path / "b.pt", resume=True, run_id="run-a")  # a restarted process
    assert (again.best, again.best_step) == (1.5, 7)
    assert again.update(2.0, step=8, model=model) is False  # worse: the file is kept
    assert load_best_checkpoint(tmp_path / "b.pt")["step"] == 7


# ---- never adopt a stranger's file ------------------------------------------------------------

def test_a_new_run_refuses_an_existing_file_and_says_what_is_there(tmp_path):
    """The reported case: an old experiment's 2.0 at the path made a new run's 3.0, 2.5, 2.1 all
    'no improvement', and restore() loaded the old experiment's weights."""
    old = torch.nn.Linear(2, 2)
    BestCheckpoint(tmp_path / "b.pt", run_id="exp-1").update(2.0, step=40, model=old)
    before = (tmp_path / "b.pt").read_bytes()
    with pytest.raises(FileExistsError, match=r"'b.pt' already holds the best checkpoint of run "
                                              r"'exp-1' \(mode='min'\): metric 2.000 at step 40.*"
                                              r"resume=True, run_id='exp-1'"):
        BestCheckpoint(tmp_path / "b.pt")
    assert (tmp_path / "b.pt").read_bytes() == before  # refused before touching anything


def test_a_new_run_refuses_an_unreadable_file_too(tmp_path):
    (tmp_path / "b.pt").write_text("notes")
    with pytest.raises(FileExistsError, match="'b.pt' already exists and is not a readable "
                                              "fl.BestCheckpoint file.*not a complete checkpoint"):
        BestCheckpoint(tmp_path / "b.pt")


def test_resume_checks_the_run_id(tmp_path):
    model = torch.nn.Linear(2, 2)
    BestCheckpoint(tmp_path / "b.pt", run_id="exp-1").update(2.0, step=40, model=model)
    with pytest.raises(ValueError, match="'b.pt' belongs to run 'exp-1', not 'exp-2'"):
        BestCheckpoint(tmp_path / "b.pt", resume=True, run_id="exp-2")
    with pytest.raises(ValueError, match="belongs to run 'exp-1', not None"):
        BestCheckpoint(tmp_path / "b.pt", resume=True)
    fresh = BestCheckpoint(tmp_path / "new.pt", resume=True, run_id="exp-2")  # nothing to resume
    assert fresh.best is None and not (tmp_path / "new.pt").exists()
    for bad in (3, ""):
        with pytest.raises(TypeError, match="run_id: expected a non-empty str"):
            BestCheckpoint(tmp_path / "c.pt", run_id=bad)
    with pytest.raises(TypeError, match="resume: expected True or False"):
        BestCheckpoint(tmp_path / "c.pt", resume="yes")


def test_restore_checks_the_run_id_of_a_file_replaced_since(tmp_path):
    model = torch.nn.Linear(2, 2)
    mine = BestCheckpoint(tmp_path / "b.pt", run_id="exp-1")
    mine.update(2.0, step=1, model=model)
    (tmp_path / "b.pt").unlink()
    BestCheckpoint(tmp_path / "b.pt", run_id="exp-2").update(9.0, step=5, model=model)
    with pytest.raises(ValueError, match="belongs to run 'exp-2', not 'exp-1'"):
        mine.restore(model=model, rng=False)


# ---- best and last ----------------------------------------------------------------------------

def test_last_follows_every_update_best_only_improvements(tmp_path):
    model = torch.nn.Linear(2, 2)
    ckpt = BestCheckpoint(tmp_path / "best.pt", last=tmp_path / "last.pt")
    for step, metric in enumerate([3.0, 2.0, 2.5, float("nan")], start=1):
        with torch.no_grad():
            model.weight.fill_(step)
        ckpt.update(metric, step=step, model=model)
    assert (ckpt.best_step, ckpt.last_step) == (2, 4)
    best, last = load_best_checkpoint(tmp_path / "best.pt"), load_best_checkpoint(tmp_path / "last.pt")
    assert (best["step"], best["metric"], best["role"]) == (2, 2.0, "best")
    assert last["step"] == 4 and math.isnan(last["metric"]) and last["role"] == "last"
    fresh = torch.nn.Linear(2, 2)
    assert ckpt.restore(model=fresh, which="last", rng=False)["step"] == 4
    assert torch.all(fresh.weight == 4)
    assert ckpt.restore(model=fresh, which="best", rng=False)["step"] == 2
    assert torch.all(fresh.weight == 2)
    assert (ckpt.best, ckpt.best_step, ckpt.last_step) == (2.0, 2, 4)


def test_last_is_atomic_and_verified(tmp_path):
    model = torch.nn.Linear(64, 64)
    ckpt = BestCheckpoint(tmp_path / "best.pt", last=tmp_path / "last.pt")
    ckpt.update(3.0, step=1, model=model)
    before = (tmp_path / "last.pt").read_bytes()
    with simulated_crash(0.5), pytest.raises(SimulatedCrash):
        ckpt.update(4.0, step=2, model=model)  # no improvement: only "last" is written
    assert (tmp_path / "last.pt").read_bytes() == before and ckpt.last_step == 1
    fl.simulated_bit_flip(tmp_path / "last.pt", model.weight)
    with pytest.raises(ValueError, match="'last.pt' is corrupted"):
        ckpt.restore(model=model, which="last")


def test_resume_with_last_checks_both_files(tmp_path):
    model = torch.nn.Linear(2, 2)
    BestCheckpoint(tmp_path / "best.pt", last=tmp_path / "last.pt", run_id="a").update(
        1.0, step=3, model=model)
    (tmp_path / "best.pt").unlink()  # only the last file is there now
    with pytest.raises(FileExistsError, match="'last.pt' already holds the last checkpoint of "
                                              "run 'a'.*resume=True, run_id='a'"):
        BestCheckpoint(tmp_path / "best.pt", last=tmp_path / "last.pt", run_id="a")
    again = BestCheckpoint(tmp_path / "best.pt", last=tmp_path / "last.pt", run_id="a", resume=True)
    assert (again.best, again.last_step) == (None, 3)


def test_last_argument_errors(tmp_path):
    model = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="last: .* the same file as path"):
        BestCheckpoint(tmp_path / "b.pt", last=tmp_path / "b.pt")
    with pytest.raises(FileNotFoundError, match="last: the folder 'no'"):
        BestCheckpoint(tmp_path / "b.pt", last=tmp_path / "no" / "last.pt")
    only_best = BestCheckpoint(tmp_path / "b.pt")
    only_best.update(1.0, step=1, model=model)
    with pytest.raises(ValueError, match="no last checkpoint.*last="):
        only_best.restore(model=model, which="last")
    with pytest.raises(ValueError, match="which: expected 'best' .* or 'last'"):
        only_best.restore(model=model, which="newest")


# ---- atomic writes ----------------------------------------------------------------------------

def test_crash_during_save_keeps_previous_best(tmp_path):
    model = torch.nn.Linear(100, 100)
    best = BestCheckpoint(tmp_path / "best.pt")
    best.update(3.0, step=1, model=model)
    before = (tmp_path / "best.pt").read_bytes()
    with simulated_crash(0.5), pytest.raises(SimulatedCrash):
        best.update(2.0, step=2, model=model)
    assert (tmp_path / "best.pt").read_bytes() == before
    assert load_best_checkpoint(tmp_path / "best.pt")["metric"] == 3.0
    assert best.best == 3.0  # the in-memory best follows the file, not the attempt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt"]  # no temp file left


def test_naive_save_under_the_same_crash_loses_the_file(tmp_path):
    """The reference behaviour the atomic write avoids: torch.save straight onto the path."""
    path = tmp_path / "best_model.pt"
    torch.save({"format": "x", "weights": torch.ones(10_000)}, path)
    with simulated_crash(0.5), pytest.raises(SimulatedCrash):
        torch.save({"format": "x", "weights": torch.zeros(10_000)}, path)
    with pytest.raises(Exception):  # noqa: B017 - any error: the file is simply broken
        torch.load(path, weights_only=True)
    with pytest.raises(ValueError, match="truncated"):
        load_best_checkpoint(path)


def test_atomic_save_never_touches_the_umask(tmp_path, monkeypatch):
    """os.umask is process-wide: setting it, even for an instant, races with every other thread
    that creates a file (which then gets mode 0o666 or 0o777)."""
    def forbidden(mask):
        raise AssertionError(f"os.umask({mask:#o}) called")

    monkeypatch.setattr(os, "umask", forbidden)
    atomic_save({"a": 1}, tmp_path / "x.pt")
    assert torch.load(tmp_path / "x.pt", weights_only=True) == {"a": 1}


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_atomic_save_honours_the_current_umask(tmp_path, umask):
    old = os.umask(umask)  # the test itself sets it; atomic_save must only honour it
    try:
        atomic_save({"a": 1}, tmp_path / "atomic.pt")
        torch.save({"a": 1}, tmp_path / "plain.pt")
    finally:
        os.umask(old)
    assert (tmp_path / "atomic.pt").stat().st_mode & 0o777 == 0o666 & ~umask
    assert (tmp_path / "atomic.pt").stat().st_mode == (tmp_path / "plain.pt").stat().st_mode


def test_keyboard_interrupt_mid_write_cleans_up(tmp_path, monkeypatch):
    atomic_save({"a": 1}, tmp_path / "x.pt")

    def interrupted(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({"a": 2}, tmp_path / "x.pt")
    monkeypatch.undo()
    assert torch.load(tmp_path / "x.pt", weights_only=True) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.pt"]


def test_killed_process_leaves_a_loadable_checkpoint(tmp_path):
    """A real crash: SIGKILL a process that keeps saving 4 MB checkpoints; the file must load."""
    script = textwrap.dedent(f"""
        import torch, forge_lib as fl
        model = torch.nn.Linear(1000, 1000)
        best = fl.BestCheckpoint({str(tmp_path / "best.pt")!r})
        step = 0
        while True:
            step += 1
            best.update(1e6 - step, step=step, model=model)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "best.pt").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # let it be in the middle of some later write
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    blob = load_best_checkpoint(tmp_path / "best.pt")
    assert blob["step"] >= 1 and blob["metric"] == 1e6 - blob["step"]


# ---- bad and foreign files --------------------------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_best_checkpoint(tmp_path / "nope.pt")


def test_a_folder_is_called_a_folder(tmp_path):
    (tmp_path / "runs").mkdir()
    with pytest.raises(IsADirectoryError, match="path: 'runs' is a folder"):
        BestCheckpoint(tmp_path / "runs")
    with pytest.raises(IsADirectoryError, match="last: 'runs' is a folder"):
        BestCheckpoint(tmp_path / "b.pt", last=tmp_path / "runs")
    with pytest.raises(IsADirectoryError, match="load_best_checkpoint: 'runs' is a folder"):
        load_best_checkpoint(tmp_path / "runs")


def test_a_verified_file_without_the_metric_is_a_clear_error(tmp_path):
    model = torch.nn.Linear(2, 2)
    BestCheckpoint(tmp_path / "b.pt").update(1.0, step=1, model=model)
    blob = load_best_checkpoint(tmp_path / "b.pt")
    del blob["metric"]
    save_verified(blob, tmp_path / "b.pt")  # right format tag, valid hash, no metric
    with pytest.raises(ValueError, match=r"'b.pt' lacks the key\(s\) \['metric'\]"):
        load_best_checkpoint(tmp_path / "b.pt")
    with pytest.raises(ValueError, match=r"lacks the key\(s\) \['metric'\]"):
        BestCheckpoint(tmp_path / "b.pt", resume=True)


def test_save_verified_refuses_a_payload_with_its_own_sha256(tmp_path):
    with pytest.raises(ValueError, match="payload: the key 'sha256' is reserved"):
        save_verified({"sha256": "my own", "w": torch.ones(1)}, tmp_path / "a.pt")
    assert not (tmp_path / "a.pt").exists()


@pytest.mark.parametrize("payload", [[1, 2], (("a", 1),), "weights", torch.ones(2), None])
def test_save_verified_refuses_a_payload_that_is_not_a_dict(tmp_path, payload):
    with pytest.raises(TypeError, match="payload: expected a dict"):
        save_verified(payload, tmp_path / "a.pt")


def test_truncated_file(tmp_path):
    BestCheckpoint(tmp_path / "b.pt").update(1.0, step=1, model=torch.nn.Linear(50, 50))
    data = (tmp_path / "b.pt").read_bytes()
    (tmp_path / "b.pt").write_bytes(data[:len(data) // 3])
    with pytest.raises(ValueError, match="not a complete checkpoint"):
        BestCheckpoint(tmp_path / "b.pt", resume=True)


def test_text_file(tmp_path):
    (tmp_path / "b.pt").write_text("hello")
    with pytest.raises(ValueError, match="not a complete checkpoint"):
        load_best_checkpoint(tmp_path / "b.pt")


def test_bare_state_dict_is_foreign(tmp_path):
    torch.save(torch.nn.Linear(2, 2).state_dict(), tmp_path / "sd.pt")
    with pytest.raises(ValueError, match="bare state_dict"):
        load_best_checkpoint(tmp_path / "sd.pt")


def test_the_tiny_model_checkpoint_is_foreign():
    with pytest.raises(ValueError, match="forge_lib.tiny_lm/2"):
        load_best_checkpoint(fl.CHECKPOINT_PATH)


class Custom:
    pass


def test_custom_objects_are_refused_by_weights_only(tmp_path):
    torch.save({"format": "forge_lib.best_checkpoint/2", "thing": Custom()}, tmp_path / "c.pt")
    with pytest.raises(ValueError, match="weights_only"):
        load_best_checkpoint(tmp_path / "c.pt")


def test_mode_mismatch_and_bad_arguments(tmp_path):
    model = torch.nn.Linear(2, 2)
    BestCheckpoint(tmp_path / "b.pt", mode="min").update(1.0, step=1, model=model)
    with pytest.raises(ValueError, match="mode='min', not 'max'"):
        BestCheckpoint(tmp_path / "b.pt", mode="max", resume=True)
    with pytest.raises(ValueError, match="'min'.*'max'"):
        BestCheckpoint(tmp_path / "c.pt", mode="lowest")
    with pytest.raises(FileNotFoundError, match="folder"):
        BestCheckpoint(tmp_path / "no" / "such" / "b.pt")
    best = BestCheckpoint(tmp_path / "d.pt")
    with pytest.raises(TypeError, match="number"):
        best.update("1.0", step=1, model=model)
    with pytest.raises(TypeError, match="step"):
        best.update(1.0, step=-1, model=model)
    with pytest.raises(TypeError, match="nn.Module"):
        best.update(1.0, step=1, model={"w": torch.ones(1)})
    with pytest.raises(ValueError, match="single number"):
        best.update(torch.ones(2), step=1, model=model)


def test_restore_into_a_different_architecture(tmp_path):
    BestCheckpoint(tmp_path / "b.pt").update(1.0, step=1, model=torch.nn.Linear(3, 2))
    with pytest.raises(ValueError, match="do not fit"):
        BestCheckpoint(tmp_path / "b.pt", resume=True).restore(model=torch.nn.Linear(4, 2))


def test_restore_asks_for_what_was_not_saved(tmp_path):
    model = torch.nn.Linear(2, 2)
    BestCheckpoint(tmp_path / "b.pt").update(1.0, step=1, model=model)
    with pytest.raises(ValueError, match="without one"):
        BestCheckpoint(tmp_path / "b.pt", resume=True).restore(
            model=model, optimizer=torch.optim.SGD(model.parameters(), 0.1))


# ---- random states and exact resume -----------------------------------------------------------

def test_rng_round_trip():
    gen = torch.Generator().manual_seed(5)
    state = capture_rng_state(gen)
    first = (torch.rand(3), random.random(), np.random.rand(2), torch.rand(2, generator=gen))
    restore_rng_state(state, gen)
    second = (torch.rand(3), random.random(), np.random.rand(2), torch.rand(2, generator=gen))
    assert torch.equal(first[0], second[0]) and first[1] == second[1]
    assert np.array_equal(first[2], second[2]) and torch.equal(first[3], second[3])


def test_rng_state_survives_weights_only(tmp_path):
    atomic_save(capture_rng_state(torch.Generator()), tmp_path / "rng.pt")
    restored = torch.load(tmp_path / "rng.pt", weights_only=True)
    restore_rng_state(restored)  # no exception: every piece is a tensor or a plain value


def run_with_crash(cfg, path, crash_at, last=None):
    best = BestCheckpoint(path, last=last)

    def on_step(state, record):
        if "val_loss" in record:
            best.update(record["val_loss"], step=state.step, **state.objects(),
                        extra={"history": state.history})
        return state.step >= crash_at

    fl.run_training(fl.make_state(cfg), callback=on_step)
    return best


def test_resume_is_bit_identical(tmp_path):
    cfg = tiny_config()
    reference = fl.train_tiny(cfg)
    best = run_with_crash(cfg, tmp_path / "best.pt", crash_at=27)
    assert best.best_step in (10, 20)  # the crash came after the last improvement
    resumed = fl.make_state(cfg)  # a fresh process: new objects, then the saved state
    info = BestCheckpoint(tmp_path / "best.pt", resume=True).restore(**resumed.objects())
    resumed.step, resumed.history = info["step"], info["extra"]["history"]
    fl.run_training(resumed)
    assert resumed.history == reference.history  # every loss, norm and lr, bit for bit
    for a, b in zip(reference.model.state_dict().values(), resumed.model.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)


def test_resume_without_scheduler_and_rng_is_not_identical(tmp_path):
    """What the source's snippet (model + optimizer + metric only) gives: a different run."""
    cfg = tiny_config()
    reference = fl.train_tiny(cfg)
    run_with_crash(cfg, tmp_path / "best.pt", crash_at=27)
    resumed = fl.make_state(cfg)
    info = BestCheckpoint(tmp_path / "best.pt", resume=True).restore(
        model=resumed.model, optimizer=resumed.optimizer, rng=False)
    resumed.step, resumed.history = info["step"], info["extra"]["history"]
    fl.run_training(resumed)
    assert resumed.history["train_loss"] != reference.history["train_loss"]


def test_resume_from_last_of_an_overfitting_run_is_bit_identical(tmp_path):
    """The reported case: a crash late in an overfitting run resumed from *best* goes back to
    the best step; from *last* it goes back only to the last evaluation before the crash."""
    cfg = tiny_config(n_train=8, schedule="constant", grad_clip=None, lr=1e-2)
    reference = fl.train_tiny(cfg)
    ckpt = run_with_crash(cfg, tmp_path / "best.pt", crash_at=37, last=tmp_path / "last.pt")
    assert ckpt.best_step < 30 == ckpt.last_step  # it overfits: the best is early
    resumed = fl.make_state(cfg)
    again = BestCheckpoint(tmp_path / "best.pt", last=tmp_path / "last.pt", resume=True)
    info = again.restore(**resumed.objects(), which="last")
    assert info["step"] == 30
    resumed.step, resumed.history = info["step"], info["extra"]["history"]
    fl.run_training(resumed)
    assert resumed.history == reference.history
    for a, b in zip(reference.model.state_dict().values(), resumed.model.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
