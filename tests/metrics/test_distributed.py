"""fl.Perplexity across 2 gloo processes (torchrun on 127.0.0.1) against one process; the shard
helpers; the checkers of notebook 16 on right and typically wrong answers."""

import importlib.util
import math
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import DistributedSampler

import forge_lib as fl
from forge_lib import check as checks
from forge_lib.course.distributed import DIST_SCRIPT


def _load_script(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


dist_perplexity = _load_script(DIST_SCRIPT)  # scripts/ is not a package: load the file itself

# --- uneven_shares ----------------------------------------------------------------------------


@given(st.integers(1, 8).flatmap(lambda w: st.tuples(st.integers(w, 500), st.just(w))))
def test_uneven_shares_cover_every_item_once_in_order(args):
    n, world = args
    shares = fl.uneven_shares(n, world)
    assert len(shares) == world
    assert [i for share in shares for i in share] == list(range(n))
    assert all(len(share) >= 1 for share in shares)


def test_uneven_shares_are_uneven_and_weighted_by_rank():
    sizes = [len(s) for s in fl.uneven_shares(63, 2)]
    assert sizes == [21, 42]  # weights 1 : 2
    assert [len(s) for s in fl.uneven_shares(60, 3)] == [10, 20, 30]  # weights 1 : 2 : 3


@pytest.mark.parametrize("n, world, error, name", [
    (1, 2, ValueError, "n_items"), (5, 0, ValueError, "world_size"), (5.0, 2, TypeError, "n_items"),
    (True, 1, TypeError, "n_items"), (5, "2", TypeError, "world_size")])
def test_uneven_shares_rejects_bad_input(n, world, error, name):
    with pytest.raises(error, match=name):
        fl.uneven_shares(n, world)


def test_torchrun_command_runs_this_module_on_loopback():
    cmd = fl.torchrun_command(3, "--json", "x.json")
    assert cmd[1:3] == ["-m", "torch.distributed.run"]
    assert cmd[cmd.index("--local-addr") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--nproc-per-node") + 1] == "3"
    assert cmd[-3:] == [str(DIST_SCRIPT), "--json", "x.json"] and DIST_SCRIPT.is_file()
    with pytest.raises(ValueError, match="nproc"):
        fl.torchrun_command(0)


def test_val_batches_split_on_batch_boundaries_match_evaluate_lm():
    batches = fl.val_batches()
    sentences = fl.course_split("val")
    assert sum(len(b["input_ids"]) for b in batches) == len(sentences)
    assert len(batches) == math.ceil(len(sentences) / 64)


def test_sharded_states_sum_to_the_one_process_states_in_one_process():
    """The arithmetic that sync does, without processes: 3 uneven shards, states added."""
    model, _ = fl.load_tiny_model()
    batches = fl.val_batches()[:6]
    whole = fl.perplexity_states(fl.score_batches(model, batches, fl.Perplexity(ignore_index=-100)))
    parts = [fl.perplexity_states(fl.score_batches(model, [batches[i] for i in share],
                                                   fl.Perplexity(ignore_index=-100)))
             for share in fl.uneven_shares(len(batches), 3)]
    assert sum(p["count"] for p in parts) == whole["count"]
    assert math.fsum(p["nll_sum"] for p in parts) == pytest.approx(whole["nll_sum"], rel=1e-12)
    # Independent reference: fl.evaluate_lm over the same sentences (Python float accumulation).
    reference = fl.evaluate_lm(model, fl.course_split("val")[:6 * 64])
    assert whole["count"] == reference["tokens"]
    assert whole["nll_sum"] == pytest.approx(reference["nll_sum"], rel=1e-12)


# --- the real thing: torchrun, 2 processes, gloo, 127.0.0.1 ----------------------------------


@pytest.fixture(scope="module")
def two_process_result():
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("this torch build has no torch.distributed gloo backend")
    try:
        return fl.launch_dist_perplexity(2, timeout=400)
    except subprocess.SubprocessError as exc:  # pragma: no cover - reported, not hidden
        pytest.fail(f"torchrun could not be started: {exc}")


def test_two_gloo_processes_equal_one_process_exactly(two_process_result):
    result = two_process_result
    assert result["world_size"] == 2 and result["backend"] == "gloo"
    assert result["master_addr"] == "127.0.0.1"
    synced, single = result["distributed"], result["single"]
    assert synced["count"] == single["count"]
    assert synced["nll_sum_hex"] == single["nll_sum_hex"]  # every bit of the float64 sum
    assert synced["perplexity"] == single["perplexity"]
    assert result["exactly_equal"] is True


def test_two_process_result_matches_an_independent_reference(two_process_result):
    """Against fl.evaluate_lm in this process: other code path, other thread count."""
    model, card = fl.load_tiny_model()
    reference = fl.evaluate_lm(model, fl.course_split("val"))
    synced = two_process_result["distributed"]
    assert synced["count"] == reference["tokens"] == sum(len(s) - 1 for s in fl.course_split("val"))
    assert float.fromhex(synced["nll_sum_hex"]) == pytest.approx(reference["nll_sum"], rel=1e-12)
    assert synced["perplexity"] == pytest.approx(reference["perplexity"], rel=1e-12)
    assert fl.fmt(synced["perplexity"]) == fl.fmt(card["val_perplexity"])


def test_the_split_was_uneven_and_the_shortcuts_are_wrong(two_process_result):
    ranks = two_process_result["ranks"]
    assert [r["batches"] for r in ranks] == [21, 42]
    assert ranks[0]["count"] != ranks[1]["count"]
    assert sum(r["count"] for r in ranks) == two_process_result["single"]["count"]
    right = two_process_result["single"]["perplexity"]
    mean_of_ppl = sum(r["perplexity"] for r in ranks) / 2
    assert mean_of_ppl != right  # weighting ranks equally is not the same number
    assert "exactly equal (perplexity, sum bits, count): True" in two_process_result["stdout"]


def test_torchmetrics_float32_states_also_sync(two_process_result):
    """The source's claim that torchmetrics' Perplexity syncs: it does (same value to 1e-6)."""
    tm = two_process_result["torchmetrics"]
    assert tm["distributed"] == pytest.approx(two_process_result["single"]["perplexity"], rel=1e-5)
    assert tm["single"] == pytest.approx(two_process_result["single"]["perplexity"], rel=1e-5)


def test_launch_reports_a_failed_run(monkeypatch):
    monkeypatch.setattr(fl.course.distributed, "torchrun_command",
                        lambda nproc, *args: [sys.executable, "-c", "import sys; sys.exit(3)"])
    with pytest.raises(RuntimeError, match="exited with code 3"):
        fl.launch_dist_perplexity(2, timeout=60)


def test_launch_kills_everything_on_timeout(monkeypatch):
    monkeypatch.setattr(fl.course.distributed, "torchrun_command",
                        lambda nproc, *args: [sys.executable, "-c", "import time; time.sleep(60)"])
    with pytest.raises(TimeoutError, match="were killed"):
        fl.launch_dist_perplexity(2, timeout=1)


def test_report_lines_show_the_wrong_and_right_combinations():
    result = {"world_size": 2, "backend": "gloo", "master_addr": "127.0.0.1", "batch_size": 64,
              "ranks": [{"rank": 0, "first_batch": 0, "batches": 1, "count": 3,
                         "nll_sum": 6.0, "perplexity": math.exp(2.0)},
                        {"rank": 1, "first_batch": 1, "batches": 2, "count": 9,
                         "nll_sum": 36.0, "perplexity": math.exp(4.0)}],
              "distributed": {"nll_sum_hex": (42.0).hex(), "count": 12,
                              "perplexity": math.exp(3.5)},
              "single": {"nll_sum_hex": (42.0).hex(), "count": 12, "perplexity": math.exp(3.5)},
              "exactly_equal": True, "torchmetrics": {"distributed": 1.0, "single": 1.0}}
    text = dist_perplexity.report(result)
    assert f"mean of the ranks' perplexities (wrong)     = {fl.fmt((math.exp(2) + math.exp(4)) / 2)}" in text
    assert f"exp of the mean of the ranks' losses (wrong) = {fl.fmt(math.exp(3.0))}" in text
    assert f"fl.Perplexity synced across ranks           = {fl.fmt(math.exp(3.5))}" in text


# --- checkers of notebook 16 -------------------------------------------------------------------


def _right_combine(states):
    return math.exp(sum(s for s, _ in states) / sum(n for _, n in states))


def test_combine_ranks_accepts_right_and_hints_wrong(capsys):
    assert checks.combine_ranks(_right_combine)
    assert not checks.combine_ranks(lambda st: sum(math.exp(s / n) for s, n in st) / len(st))
    assert "mean of the ranks' perplexities" in capsys.readouterr().out
    assert not checks.combine_ranks(lambda st: math.exp(sum(s / n for s, n in st) / len(st)))
    assert "mean of the ranks' mean losses" in capsys.readouterr().out
    assert not checks.combine_ranks(lambda st: sum(s for s, _ in st) / sum(n for _, n in st))
    assert "perplexity is its exponential" in capsys.readouterr().out
    assert not checks.combine_ranks(lambda st: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out


def _right_shards(n, world):
    bounds = [n * r // world for r in range(world + 1)]
    return [range(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def test_even_shards_accepts_right_and_hints_wrong(capsys):
    assert checks.even_shards(_right_shards)
    assert not checks.even_shards(lambda n, w: [range(r * (n // w), (r + 1) * (n // w)) for r in range(w)])
    assert "drops the remainder" in capsys.readouterr().out
    def sampler(n, w):  # DistributedSampler pads 10 items over 3 ranks to 12 by repeating two
        return [list(DistributedSampler(range(n), num_replicas=w, rank=r, shuffle=False))
                for r in range(w)]

    assert not checks.even_shards(sampler)
    assert "DistributedSampler" in capsys.readouterr().out
    assert not checks.even_shards(lambda n, w: fl.uneven_shares(n, w))  # weighted, not even
    assert "differ by at most one" in capsys.readouterr().out


def test_order_free_sum_accepts_fsum_and_hints_wrong(capsys):
    assert checks.order_free_sum(math.fsum)
    assert not checks.order_free_sum(sum)
    assert "not associative" in capsys.readouterr().out
    assert not checks.order_free_sum(lambda v: sum(sorted(v)))
    assert "sorting makes the order fixed" in capsys.readouterr().out
    assert not checks.order_free_sum(lambda v: torch.tensor(v, dtype=torch.float32).sum().item())
    assert "Not yet" in capsys.readouterr().out
