"""Metrics across processes: the pieces of a distributed evaluation, and a launcher.

    shares = fl.uneven_shares(63, 2)            # [range(0, 21), range(21, 63)]: rank r weighted r + 1
    result = fl.launch_dist_perplexity(2)       # runs forge_lib.dist_perplexity under torchrun

A torchmetrics Metric syncs across processes by all-gathering each state and reducing it with the
state's `dist_reduce_fx`; `fl.Perplexity` keeps a float64 NLL sum and an int64 token count, both
reduced by "sum", so shares of any size combine exactly. The script that runs on every rank is
`forge_lib/dist_perplexity.py`; this module holds what it and notebook 16 share.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from itertools import pairwise
from pathlib import Path

import torch

from forge_lib import _checks
from forge_lib.data import course_split, iterate_batches
from forge_lib.evaluation import evaluating, model_logits
from forge_lib.text import Perplexity, ppl_from_sum, shift_for_causal_lm

__all__ = ["uneven_shares", "val_batches", "score_batches", "perplexity_states", "torchrun_command",
           "launch_dist_perplexity"]

BATCH_SIZE = 64


def uneven_shares(n_items: int, world_size: int) -> list[range]:
    """Split items 0..n_items-1 into `world_size` contiguous ranges, rank r weighted r + 1.

    Every rank gets at least one item (a rank with nothing to score would call compute() on
    empty states). The ranges cover every item exactly once, in order.

    >>> uneven_shares(10, 2)
    [range(0, 3), range(3, 10)]
    >>> [len(r) for r in uneven_shares(63, 3)]
    [10, 21, 32]
    """
    n_items = _checks.positive_int(n_items, "n_items")
    world_size = _checks.positive_int(world_size, "world_size")
    if n_items < world_size:
        raise ValueError(f"n_items: need at least one item per rank, got {n_items} items "
                         f"for {world_size} ranks. Use fewer processes or a larger batch count.")
    total = world_size * (world_size + 1) // 2  # sum of the weights 1..world_size
    cuts = [0]
    for rank in range(1, world_size):
        cut = (n_items * rank * (rank + 1) // 2) // total  # floor of the weighted boundary
        cuts.append(max(cut, cuts[-1] + 1))  # at least one item each
    cuts = [min(c, n_items - (world_size - i)) for i, c in enumerate(cuts)]  # room for the rest
    cuts.append(n_items)
    return [range(a, b) for a, b in pairwise(cuts)]


def val_batches(batch_size: int = BATCH_SIZE) -> list[dict[str, torch.Tensor]]:
    """The course's validation split as collated batches, in order (the last one is short).

    Sharding whole batches, not sentences, keeps every batch tensor identical to the one-process
    run, so each batch's logits, and so its NLL, are the same bits on every rank.

    >>> batches = val_batches()
    >>> len(batches), tuple(batches[0]["input_ids"].shape[:1]), len(batches[-1]["input_ids"])
    (63, (64,), 32)
    """
    return list(iterate_batches(course_split("val"), batch_size))


def score_batches(
    model: torch.nn.Module, batches: list[dict[str, torch.Tensor]], metric: Perplexity, *more
) -> Perplexity:
    """Update `metric` (and any `more` metrics) with each batch's shifted logits and labels
    (padding = -100, so each metric needs ignore_index=-100); return `metric`.

    >>> from forge_lib.model import load_tiny_model
    >>> model, _ = load_tiny_model()
    >>> metric = score_batches(model, val_batches()[:2], Perplexity(ignore_index=-100))
    >>> int(metric.count)
    1219
    """
    with evaluating(model):
        for batch in batches:
            logits, target = shift_for_causal_lm(model_logits(model, batch["input_ids"]),
                                                 batch["labels"])
            for m in (metric, *more):
                m.update(logits, target)  # (B, T-1, V), (B, T-1)
    return metric


def perplexity_states(metric: Perplexity) -> dict[str, object]:
    """The metric's local states and the perplexity they alone give, without syncing.

    `nll_sum_hex` is float.hex of the sum: two runs agree bit for bit exactly when these agree.

    >>> from forge_lib.model import load_tiny_model
    >>> states = perplexity_states(score_batches(load_tiny_model()[0], val_batches()[:1],
    ...                                          Perplexity(ignore_index=-100)))
    >>> states["count"], round(states["perplexity"], 2)
    (618, 28.27)
    """
    nll_sum, count = float(metric.nll_sum), int(metric.count)
    return {"nll_sum": nll_sum, "nll_sum_hex": nll_sum.hex(), "count": count,
            "perplexity": ppl_from_sum(nll_sum, count, ignore_index=metric.ignore_index,
                                       caller="perplexity_states")}


def torchrun_command(nproc: int = 2, *script_args: str) -> list[str]:
    """The torchrun command line that runs this module on `nproc` CPU processes of this machine.

    `python -m torch.distributed.run` is what the `torchrun` script runs; calling it through
    sys.executable uses this environment's Python even where `torchrun` is not on the PATH (a
    Jupyter kernel). `--local-addr 127.0.0.1` makes the rendezvous address 127.0.0.1 rather
    than the name "localhost", which some machines resolve to IPv6 first.

    >>> " ".join(torchrun_command(2)[3:])
    '--standalone --local-addr 127.0.0.1 --nproc-per-node 2 -m forge_lib.dist_perplexity'
    """
    _checks.positive_int(nproc, "nproc")
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--local-addr",
            "127.0.0.1", "--nproc-per-node", str(nproc), "-m", "forge_lib.dist_perplexity",
            *script_args]


def _loopback_env() -> dict[str, str]:
    env = dict(os.environ)
    # One thread per process: the ranks share the CPU cores (torchrun would set it and warn).
    env.setdefault("OMP_NUM_THREADS", "1")
    # Keep gloo's traffic on the loopback interface (Linux "lo", macOS "lo0") whatever the
    # machine's host name resolves to.
    for name in ("lo", "lo0"):
        if Path(f"/sys/class/net/{name}").exists() or (sys.platform == "darwin" and name == "lo0"):
            env.setdefault("GLOO_SOCKET_IFNAME", name)
            break
    return env


def launch_dist_perplexity(nproc: int = 2, *, timeout: float = 240.0) -> dict[str, object]:
    """Run this module under torchrun in a subprocess, bounded by `timeout` seconds; return rank
    0's result (as main() writes it with --json) plus "stdout", the lines rank 0 printed.

    On a timeout every process of the launch (torchrun and its workers) is killed and
    TimeoutError raised; a failed launch raises RuntimeError with the end of its stderr.

    >>> result = launch_dist_perplexity(2)  # doctest: +SKIP
    >>> result["exactly_equal"], result["distributed"]["count"]  # doctest: +SKIP
    (True, 34725)
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        # A session of its own, so that a timeout can kill the workers along with torchrun.
        proc = subprocess.Popen(torchrun_command(nproc, "--json", str(out)), env=_loopback_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise TimeoutError(f"launch_dist_perplexity: {nproc} processes did not finish within "
                               f"{timeout:g} s; all were killed. Is the machine very busy?") from None
        if not out.exists():
            tail = "\n".join(stderr.strip().splitlines()[-15:])
            raise RuntimeError(f"launch_dist_perplexity: torchrun exited with code "
                               f"{proc.returncode} and no result. Its last lines:\n{tail}")
        result = json.loads(out.read_text())
    result["stdout"] = stdout
    return result
