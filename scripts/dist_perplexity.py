"""Perplexity across processes: `fl.Perplexity` synced by torchmetrics over torch.distributed.

Launch two CPU processes on this machine (gloo backend, rendezvous on 127.0.0.1):

    torchrun --standalone --nproc-per-node 2 scripts/dist_perplexity.py [--json result.json]

Every rank scores its own share of the tiny model's validation batches into an `fl.Perplexity`.
The shares are deliberately unequal (rank r gets a weight of r + 1), because real shards are:
the last batch is short, and samplers rarely divide a split evenly. `compute()` all-gathers
the two states, a float64 NLL sum and an int64 token count, sums them, and only then divides
and exponentiates, so every rank gets the perplexity of the whole split. Rank 0 then scores the
same batches again in one process and prints both results, with the sums in hex (every bit).

Run without torchrun it is a one-process run (world size 1) of the same code. The pieces it is
made of live in forge_lib/metrics/distributed.py and forge_lib/course/distributed.py; this
file is the entry point, and forge_lib never imports it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch

from forge_lib.course.distributed import BATCH_SIZE, val_batches
from forge_lib.course.model import load_tiny_model
from forge_lib.metrics.distributed import perplexity_states, score_batches, uneven_shares
from forge_lib.metrics.text import Perplexity, ppl_from_loss


def _torchmetrics_perplexity(sync: bool):
    # torchmetrics' own Perplexity keeps float32 states; run beside ours for comparison.
    from torchmetrics.text import Perplexity as TorchmetricsPerplexity

    return TorchmetricsPerplexity(ignore_index=-100, sync_on_compute=sync)


def run(batch_size: int = BATCH_SIZE) -> dict[str, object] | None:
    """Score this rank's share, sync, and (on rank 0) compare with one process over all batches;
    rank 0 returns the result, other ranks None. main() calls it in every process torchrun starts."""
    import torch.distributed as dist

    rank, world_size = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    distributed = world_size > 1
    if distributed:
        dist.init_process_group(backend="gloo")  # env:// rendezvous; torchrun set the variables
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    model, _ = load_tiny_model()
    batches = val_batches(batch_size)
    share = uneven_shares(len(batches), world_size)[rank]
    mine = [batches[i] for i in share]
    if rank == 0:
        # The one-process reference first: rank 0 has the smallest share, so this overlaps with
        # the other ranks' work instead of starting after the slowest of them.
        tm_one = _torchmetrics_perplexity(sync=False)
        single = perplexity_states(score_batches(model, batches, Perplexity(ignore_index=-100),
                                                 tm_one))
        tm_single = float(tm_one.compute())

    tm_metric = _torchmetrics_perplexity(sync=True)
    metric = score_batches(model, mine, Perplexity(ignore_index=-100), tm_metric)
    local = perplexity_states(metric) | {"rank": rank, "batches": len(mine),
                                         "first_batch": share.start}
    with metric.sync_context():  # inside: the states summed over all ranks (all_gather + sum)
        synced_states = {"nll_sum_hex": float(metric.nll_sum).hex(), "count": int(metric.count)}
    synced = float(metric.compute())  # the same sync, then exp(sum / count); states restored
    tm_synced = float(tm_metric.compute())
    everyone = [None] * world_size
    if distributed:
        dist.all_gather_object(everyone, local)
        dist.destroy_process_group()
    else:
        everyone = [local]
    if rank != 0:
        return None

    equal = (synced == single["perplexity"] and synced_states["count"] == single["count"]
             and synced_states["nll_sum_hex"] == single["nll_sum_hex"])
    return {"world_size": world_size, "backend": "gloo" if distributed else "none",
            "master_addr": os.environ.get("MASTER_ADDR"),
            "batch_size": batch_size, "ranks": everyone,
            "distributed": synced_states | {"perplexity": synced},
            "single": single, "exactly_equal": equal,
            "torchmetrics": {"distributed": tm_synced, "single": tm_single}}


def report(result: dict[str, object]) -> str:
    """The lines rank 0 prints: each rank's share, two wrong ways to combine them, the right one."""
    from forge_lib.metrics.fmt import fmt

    ranks, lines = result["ranks"], []
    lines.append(f"world size {result['world_size']}, backend {result['backend']}, rendezvous on "
                 f"{result['master_addr']}, "
                 f"{sum(r['batches'] for r in ranks)} batches of up to {result['batch_size']} "
                 f"sentences")
    for r in ranks:
        lines.append(f"rank {r['rank']}: batches {r['first_batch']}-{r['first_batch'] + r['batches'] - 1}"
                     f" ({r['batches']}), {fmt(r['count'])} tokens, local perplexity "
                     f"{fmt(r['perplexity'])}")
    mean_ppl = sum(r["perplexity"] for r in ranks) / len(ranks)
    mean_loss = sum(r["nll_sum"] / r["count"] for r in ranks) / len(ranks)
    dist_, single = result["distributed"], result["single"]
    lines += [
        f"mean of the ranks' perplexities (wrong)     = {fmt(mean_ppl)}",
        f"exp of the mean of the ranks' losses (wrong) = {fmt(ppl_from_loss(mean_loss))}",
        f"fl.Perplexity synced across ranks           = {fmt(dist_['perplexity'])}",
        f"fl.Perplexity in one process                = {fmt(single['perplexity'])}",
        f"NLL sum, synced:      {dist_['nll_sum_hex']}  count {dist_['count']}",
        f"NLL sum, one process: {single['nll_sum_hex']}  count {single['count']}",
        f"exactly equal (perplexity, sum bits, count): {result['exactly_equal']}",
        f"torchmetrics Perplexity (float32 states): synced {result['torchmetrics']['distributed']!r},"
        f" one process {result['torchmetrics']['single']!r}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--json", help="rank 0 writes the full result to this file")
    args = parser.parse_args(argv)
    result = run(args.batch_size)
    if result is None:  # not rank 0
        return 0
    print(report(result), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0 if result["exactly_equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
