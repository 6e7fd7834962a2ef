"""Notebook 16's distributed run: the validation batches every rank shares, and the launch.

    result = fl.launch_dist_perplexity(2)       # scripts/dist_perplexity.py under torchrun

The metric side (shares, scoring, states) is forge_lib/metrics/distributed.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from forge_lib.course.language import course_split
from forge_lib.metrics import validation
from forge_lib.metrics.batching import iterate_batches

__all__ = ["val_batches", "torchrun_command", "launch_dist_perplexity"]


BATCH_SIZE = 64


# The script every rank runs; the course runs from a checkout (data/ and notebooks/ live there too).
DIST_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "dist_perplexity.py"


def val_batches(batch_size: int = BATCH_SIZE) -> list[dict[str, torch.Tensor]]:
    """The course's validation split as collated batches, in order (the last one is short).

    Sharding whole batches, not sentences, keeps every batch tensor identical to the one-process
    run, so each batch's logits, and so its NLL, are the same bits on every rank.

    >>> batches = val_batches()
    >>> len(batches), tuple(batches[0]["input_ids"].shape[:1]), len(batches[-1]["input_ids"])
    (63, (64,), 32)
    """
    return list(iterate_batches(course_split("val"), batch_size))


def torchrun_command(nproc: int = 2, *script_args: str) -> list[str]:
    """The torchrun command line that runs scripts/dist_perplexity.py on `nproc` CPU processes.

    `python -m torch.distributed.run` is what the `torchrun` script runs; calling it through
    sys.executable uses this environment's Python even where `torchrun` is not on the PATH (a
    Jupyter kernel). `--local-addr 127.0.0.1` makes the rendezvous address 127.0.0.1 rather
    than the name "localhost", which some machines resolve to IPv6 first.

    >>> command = torchrun_command(2)
    >>> " ".join(command[3:-1]), Path(command[-1]).relative_to(DIST_SCRIPT.parents[1]).as_posix()
    ('--standalone --local-addr 127.0.0.1 --nproc-per-node 2', 'scripts/dist_perplexity.py')
    """
    validation.positive_int(nproc, "nproc")
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--local-addr",
            "127.0.0.1", "--nproc-per-node", str(nproc), str(DIST_SCRIPT),
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
    """Run scripts/dist_perplexity.py under torchrun in a subprocess, bounded by `timeout`
    seconds; return rank 0's result (as main() writes it with --json) plus "stdout", the lines
    rank 0 printed.

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
