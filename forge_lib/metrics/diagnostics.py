"""Read a training history and name what is wrong with it: `fl.diagnose`.

    findings = fl.diagnose(history["train_loss"], val_loss=history["val_loss"],
                           grad_norm=history["grad_norm"])
    for f in findings:
        print(f)                  # code, what the curve shows, the remedy
    [f.code for f in findings]    # e.g. ["overfitting"]

Each input is a sequence of floats in time order: one train loss per step, one validation loss
per evaluation (so it may be shorter; pass `val_steps` if evaluations were not evenly spaced),
one gradient norm per step (measured before clipping). The result is a list of `Finding`s with a
`code` from `CODES`, the `evidence` (named steps and values) and a `remedy`.

How the curve is read (every number is a field of `Thresholds`, and each rule is tested on
synthetic curves in tests/metrics/test_diagnostics.py):

- start = median of the first 5% of steps (at least 3), end = median of the last 10%;
  level = running median over 10% of the run (robust to single spikes; exact and O(n log n),
  so a run of 10^6 steps is read in about a second: benchmarks/bench_diagnose.py).
- diverged: a non-finite train loss, or the level is, at the last step, still above its
  minimum by more than `explode_rise` (30%) of the start. Nothing else is judged on a diverged
  curve.
- loss_spike: the loss rose above the best level reached so far by more than `explode_rise`
  (30%) of the start, and the run went on (a climb that lasts to the end is diverged). The steps
  of a spike are left out of the late-progress fit below, so a spike that recovers does not
  pass for progress.
- not_learning: the loss fell by less than `min_drop` (5%) of its start.
- oscillating: in the second half, the step-to-step scatter around the level (1.4826 x median
  absolute deviation, a robust standard deviation) exceeds `oscillation` (5%) of the start.
  Scatter is scaled by the start, not by the current level, so a memorised loss near zero does
  not look noisy.
- overfitting (needs val_loss): validation rose above its best by a margin, and stayed there,
  while the train level kept falling (by at least `overfit_rise`, 3%) after that evaluation.
  The margin is the larger of `overfit_rise` (3%) of the best and `overfit_noise` (3) times the
  validation curve's own noise, measured around its trend: 1.4826 x the median absolute second
  difference (v[k+1] - 2 v[k] + v[k-1]), divided by sqrt(6). For Gaussian noise of std s that
  is s; a straight rise or fall has second differences of 0, so a steep rise does not widen
  its own margin (first differences did: 10 evaluations rising 3.9 -> 13.9 over the last five
  went unflagged), and the median ignores single spikes and the kink at the best evaluation.
  "Stayed there": the last `overfit_patience` (3) evaluations are all above best + margin. So
  jitter on a flat validation curve, or a single bad evaluation, is not overfitting; a
  validation loss that turns up and keeps rising is. (A best evaluation that is itself a deep
  low outlier can still fool the rule now and then: on flat curves with 2% noise it fires on 4%
  of seeds with 15 evaluations and 8% with 10, against 61% for a bare "3% above the best".)
- plateau: over the second half, a least-squares line through the loss (spike steps left out)
  falls by less than `plateau_share` (2%) of the run's total progress (start - end) plus one
  standard error of that fall (so noise alone does not pass for progress). Not reported when
  oscillating or overfitting is (those explain the flat stretch better). On a noisy curve a
  very slow improvement and a plateau cannot be told apart; the line fit is the least noisy
  way to try. A plateau is also what convergence looks like: pass `floor=` (the best
  achievable loss, when known) and a plateau ending within `floor_tol` (5%) of it is reported
  as healthy. (The tolerance is 5% of the floor, but never less than 5% of 5% of the way from
  the start down to the floor: a floor of 0 has no relative scale.)
- gradient_spikes (needs grad_norm): a gradient norm above `spike_factor` (10x) its running
  median (the same window as the level), or a non-finite norm. The baseline follows the run:
  norms that fall from 20 to 0.5 as training settles are not spikes.
- eval_not_finite: validation NaN/Inf while the train loss is finite: the evaluation is broken.
- behind_reference (needs reference=, a loss another run reached on the same measurement): the
  run ends (last validation loss, else the train end) more than `floor_tol` (5%) above it.
- insufficient_data: fewer than `min_points` (10) train losses; nothing else is judged.
- healthy: none of the warnings above. That is all it means: no warning sign in the curves, not
  a good run. A run at a bad learning rate can be smooth and still far behind a better one:
  pass `reference=` (another run's loss) or `floor=` to have it compared.

Precedence, when two rules fire on one run: insufficient_data and diverged stop the reading
(nothing else is judged). not_learning excludes overfitting: overfitting means the model
memorises its training data, which shows as a falling train loss; if the train loss never fell,
a rising validation loss is something else (drift of a model that learns nothing, or a broken
evaluation), and the remedy of not_learning is the one to try first. oscillating and
overfitting exclude plateau (they explain a flat stretch better).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median as _median

import torch

from forge_lib.metrics import validation
from forge_lib.metrics.fmt import fmt

__all__ = ["Finding", "Thresholds", "diagnose", "curve_summary", "CODES", "REMEDIES"]

# A normal distribution's standard deviation per median absolute deviation: robust scatters.
MAD_TO_STD = 1.4826

# Most severe first: diagnose returns its findings in this order.
CODES = ("insufficient_data", "diverged", "eval_not_finite", "not_learning", "overfitting",
         "loss_spike", "oscillating", "plateau", "gradient_spikes", "behind_reference", "healthy")

# The source's table, kept where measurement agrees with it and amended where it does not
# (notebook 09 shows the runs behind each amendment).
REMEDIES = {
    "healthy": "Nothing to fix. Keep training while the validation loss improves.",
    "diverged": "Lower the learning rate (10x is a good first try) and add warm-up. Gradient "
                "clipping caps single spikes, but with Adam it does not rescue a learning rate "
                "that is too high: Adam's step size is set by the learning rate, not by the "
                "gradient's size.",
    "loss_spike": "The run recovered this time; large runs that spike again restart from a "
                  "checkpoint taken before the spike and skip the batches around it, or lower "
                  "the learning rate. Look at the batches of the spike steps, and at the "
                  "gradient norm just before them.",
    "not_learning": "Raise the learning rate (try 10x). Check that the loss at step 0 is about "
                    "ln(vocabulary size), that labels are shifted against the logits, and that "
                    "the gradient norm is not zero (frozen or detached parameters).",
    "oscillating": "Increase the batch size (or accumulate gradients) or lower the learning "
                   "rate. A small batch's loss is a noisy estimate: judge the trend on a smoothed "
                   "curve or on the validation loss, which is measured on a fixed set.",
    "overfitting": "Keep the checkpoint of the best validation step (early stopping), add data, "
                   "or regularise (weight decay, dropout, a smaller model).",
    "plateau": "Not necessarily a local minimum. If the level is near the best achievable loss, "
               "the run has converged: stop. Otherwise decay the learning rate (a constant "
               "high rate has a noise floor), then check the model's capacity.",
    "gradient_spikes": "Clip the global gradient norm (a few times the median norm), and find the "
                       "batch that produced the spike. Under fp16 loss scaling an occasional "
                       "non-finite norm is expected and the step is skipped.",
    "behind_reference": "The curves show no warning sign of their own, but the reference run "
                        "reached a lower loss: compare the settings that differ (the learning "
                        "rate first) before training this one longer.",
    "eval_not_finite": "The training loss is finite, so the evaluation is broken, not the model: "
                       "look for an empty evaluation batch (0 tokens, 0/0), all-padding targets, "
                       "or half-precision overflow in the evaluation forward pass.",
    "insufficient_data": "Record more steps before diagnosing the curve.",
}


@dataclass(frozen=True)
class Thresholds:
    """The numbers behind each rule of `diagnose` (see the module docstring for the rules)."""

    min_points: int = 10
    explode_rise: float = 0.30
    min_drop: float = 0.05
    oscillation: float = 0.05
    overfit_rise: float = 0.03
    overfit_noise: float = 3.0
    overfit_patience: int = 3
    plateau_share: float = 0.02
    floor_tol: float = 0.05
    spike_factor: float = 10.0

    def __post_init__(self) -> None:
        # A NaN threshold makes every comparison False, which turns an exploding curve into
        # "not_learning" without a word; refuse it, and anything negative, here.
        validation.positive_int(self.min_points, "min_points")
        validation.positive_int(self.overfit_patience, "overfit_patience")
        for name in ("explode_rise", "min_drop", "oscillation", "overfit_rise", "overfit_noise",
                     "plateau_share", "floor_tol", "spike_factor"):
            validation.positive_number(getattr(self, name), name)


@dataclass(frozen=True)
class Finding:
    """One diagnosis: `code` (one of CODES), a one-line `summary` with the numbers, the
    `evidence` as named steps (1-based, as a training loop counts them) and values, and the
    `remedy`. print(finding) shows all three."""

    code: str
    summary: str
    evidence: dict = field(default_factory=dict)
    remedy: str = ""

    def __str__(self) -> str:
        return f"{self.code}: {self.summary}\n    remedy: {self.remedy}"


def _as_floats(values: object, name: str, *, allow_empty: bool = False) -> list[float]:
    out = validation.float_sequence(values, name, allow_empty=True)
    if not out and not allow_empty:
        raise ValueError(f"{name}: expected at least one value, got an empty history. Record "
                         f"the loss of every step, then diagnose.")
    return out


def _window(n: int) -> int:
    """The running median's window for a run of n steps: 10% of it, odd, at least 3."""
    return max(3, n // 10) | 1


def _running_median(values: Sequence[float] | torch.Tensor, window: int) -> torch.Tensor:
    """Centred running median (odd window), edges padded with the end values: (n,).

    The obvious unfold + median costs n x window, quadratic when the window is a share of the
    run (200k steps took a minute). Here every window asks for the k-th smallest of a range, and
    a wavelet matrix over the values' ranks answers all n questions together, one bit of the
    rank per pass: O(n log n), exact (the same values as unfold + median).
    """
    half = window // 2
    x = torch.as_tensor(values, dtype=torch.float64)
    padded = torch.cat([x[:1].expand(half), x, x[-1:].expand(half)])  # (m,) = (n + 2 half,)
    order = padded.argsort(stable=True)  # ties broken by position: ranks are unique
    ranks = torch.empty(len(padded), dtype=torch.int32)
    ranks[order] = torch.arange(len(padded), dtype=torch.int32)
    lo = torch.arange(len(x), dtype=torch.int32)  # window i covers padded[lo:lo + window]
    return padded[order[_kth_in_ranges(ranks, lo, lo + window, half)]]


def _kth_in_ranges(ranks: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor,
                   k: int) -> torch.Tensor:
    """For each range ranks[lo:hi], its k-th smallest value (0-based); ranks a permutation of
    0..m-1. A wavelet matrix: at each bit, from the highest, the values are stably split into
    those with the bit clear and those with it set, and a range maps to a range in each part;
    counting the clear ones inside tells whether the answer has the bit set."""
    m = len(ranks)
    k = torch.full_like(lo, k)
    found = torch.zeros_like(lo)
    clear_before = torch.zeros(m + 1, dtype=torch.int32)  # clear_before[i]: clear bits in [0, i)
    for bit in reversed(range(max(1, (m - 1).bit_length()))):
        clear = (ranks >> bit) & 1 == 0  # (m,)
        torch.cumsum(clear, 0, dtype=torch.int32, out=clear_before[1:])
        n_clear = int(clear_before[-1])
        c_lo, c_hi = clear_before[lo], clear_before[hi]
        inside = c_hi - c_lo
        is_set = k >= inside  # fewer than k + 1 clear ones in range: the answer has the bit
        k -= inside * is_set
        lo = torch.where(is_set, n_clear + lo - c_lo, c_lo)
        hi = torch.where(is_set, n_clear + hi - c_hi, c_hi)
        found |= is_set.int() << bit
        if bit:
            ranks = torch.cat([ranks[clear], ranks[~clear]])
    return found


def _val_steps(n_train: int, n_val: int, val_steps: object) -> list[int]:
    if val_steps is None:  # evenly spaced evaluations, the last one at the last step
        return [round((k + 1) * n_train / n_val) for k in range(n_val)]
    steps = _as_floats(val_steps, "val_steps")
    if len(steps) != n_val:
        raise ValueError(f"val_steps: expected one step per validation loss ({n_val}), got "
                         f"{len(steps)}.")
    # is_integer() is False for NaN and inf, so they get this message, not int()'s.
    if (not all(s.is_integer() and 1 <= s <= n_train for s in steps)
            or steps != sorted(set(steps))):
        raise ValueError(f"val_steps: expected increasing integer steps in [1, {n_train}] (the "
                         f"train loss has {n_train} steps), got {val_steps!r}.")
    return [int(s) for s in steps]


def curve_summary(train_loss: Sequence[float], *, thresholds: Thresholds | None = None) -> dict:
    """The measurements diagnose() reads off a train-loss curve (finite, at least 3 values).

    start, end: medians of the first 5% and last 10% of steps (at least 3 each); best_level,
    best_step: the lowest point of the running median (window 10% of the run) and its 1-based
    step; peak_level, peak_step: its highest point after that; last_level: its value at the last
    step; spikes: (first_step, last_step, height) of each stretch where the loss rose above the
    best level so far by more than `explode_rise` of the start, height above that best; scatter:
    the robust standard deviation (1.4826 x median absolute deviation) of the second half around
    the running median; late_gain, late_gain_se: how much a least-squares line through the
    second half (spike steps left out) falls, and that amount's standard error.

    >>> s = curve_summary([4.0, 3.0, 2.5, 2.2, 2.1, 2.05, 2.0, 2.0, 2.0, 2.0])
    >>> s["start"], s["end"], s["scatter"], s["spikes"]
    (3.0, 2.0, 0.0, [])
    """
    return _read_curve(_as_floats(train_loss, "train_loss"), thresholds or Thresholds())[0]


def _read_curve(train: list[float], th: Thresholds) -> tuple[dict, torch.Tensor]:
    """curve_summary's measurements, and the running median (n,) they came from."""
    n = len(train)
    if n < 3 or not all(math.isfinite(v) for v in train):
        raise ValueError(f"train_loss: expected at least 3 finite values, got {n} values "
                         f"({sum(not math.isfinite(v) for v in train)} not finite). Use "
                         f"diagnose(), which reports short or diverged curves as findings.")
    x = torch.tensor(train, dtype=torch.float64)  # (n,)
    level = _running_median(x, _window(n))  # (n,)
    start = _median(train[:max(3, n // 20)])
    low = int(level.argmin())
    peak = low + int(level[low:].argmax())
    best_so_far = level.cummin(0).values  # (n,)
    spiking = _spiking(x, level, best_so_far, th.explode_rise * abs(start), th.spike_factor)
    half = n // 2
    resid = x[half:] - level[half:]
    late_gain, late_gain_se = _fitted_gain(x[half:], ~spiking[half:])
    return {"steps": n, "start": start, "end": _median(train[-max(3, n // 10):]),
            "best_step": low + 1, "best_level": float(level[low]),
            "peak_step": peak + 1, "peak_level": float(level[peak]),
            "last_level": float(level[-1]), "spikes": _stretches(spiking, x - best_so_far),
            "scatter": MAD_TO_STD * float((resid - resid.median()).abs().median()),
            "late_gain": late_gain, "late_gain_se": late_gain_se}, level


def _spiking(x: torch.Tensor, level: torch.Tensor, best_so_far: torch.Tensor, rise: float,
             factor: float) -> torch.Tensor:
    """Steps (n,) bool where the loss is more than `rise` above the best level so far: the level
    itself (a spike longer than half the window, whose steps may dip under the line), or a raw
    step that also stands out of the batch noise by `factor` robust standard deviations (a
    short spike, which the level ignores; on a noisy curve, the noise's own tail is no spike)."""
    resid = x - level
    noise = MAD_TO_STD * float((resid - resid.median()).abs().median())
    return ((level - best_so_far > rise)
            | ((x - best_so_far > rise) & (resid > factor * noise)))


def _stretches(mask: torch.Tensor, height: torch.Tensor) -> list[tuple[int, int, float]]:
    """(first_step, last_step, max height) of each run of True in mask, steps 1-based."""
    edges = torch.diff(mask.int(), prepend=torch.zeros(1, dtype=torch.int32),
                       append=torch.zeros(1, dtype=torch.int32))
    starts = (edges == 1).nonzero().flatten().tolist()
    ends = (edges == -1).nonzero().flatten().tolist()
    return [(a + 1, b, float(height[a:b].max())) for a, b in zip(starts, ends, strict=True)]


def diagnose(
    train_loss: Sequence[float],
    *,
    val_loss: Sequence[float] | None = None,
    grad_norm: Sequence[float] | None = None,
    val_steps: Sequence[int] | None = None,
    floor: float | None = None,
    reference: float | None = None,
    thresholds: Thresholds | None = None,
) -> list[Finding]:
    """Diagnose a training history; returns findings, most severe first (see the module doc).

    floor: the best achievable loss, when known; reference: a loss another run reached on the
    same measurement (its last validation loss when you pass val_loss, else its final train
    loss), to tell "no warning sign" from "as good as that run".

    >>> curve = [5.0 * 0.99 ** t + 1.0 for t in range(200)]           # smooth, still falling
    >>> [f.code for f in diagnose(curve)]
    ['healthy']
    >>> [f.code for f in diagnose(curve, reference=1.2)]               # another run got 1.2
    ['behind_reference']
    >>> [f.code for f in diagnose(curve[:50] + [float("nan")] * 5)]
    ['diverged']
    """
    if thresholds is not None and not isinstance(thresholds, Thresholds):
        raise TypeError(f"thresholds: expected fl.Thresholds(...) or None, got "
                        f"{type(thresholds).__name__}; e.g. fl.Thresholds(oscillation=0.1).")
    th = thresholds or Thresholds()
    train = _as_floats(train_loss, "train_loss")
    val = _as_floats(val_loss, "val_loss", allow_empty=True) if val_loss is not None else []
    grads = _as_floats(grad_norm, "grad_norm", allow_empty=True) if grad_norm is not None else []
    n = len(train)
    if len(val) > n:
        raise ValueError(f"val_loss: expected at most one value per train step ({n}), got "
                         f"{len(val)}. Did you swap train_loss and val_loss?")
    if grad_norm is not None and len(grads) != n:
        raise ValueError(f"grad_norm: expected one value per train step ({n}), got {len(grads)}.")
    if any(g < 0 for g in grads):  # (NaN and inf are allowed: a broken step has them)
        raise ValueError(f"grad_norm: a norm is never negative, found {min(grads)!r}; pass the "
                         f"value clip_grad_norm_ / get_total_norm returned.")
    if val_steps is not None and not val:
        raise ValueError("val_steps: given without val_loss; pass the validation losses they "
                         "belong to (val_loss=...), or drop val_steps.")
    steps_of_val = _val_steps(n, len(val), val_steps) if val else []
    for name, target in (("floor", floor), ("reference", reference)):
        if target is not None and not math.isfinite(validation.number(target, name)):
            raise ValueError(f"{name}: expected a finite number (a loss), got {target!r}.")
    if n < th.min_points:
        return [Finding("insufficient_data", f"only {n} train losses; at least {th.min_points} "
                        f"are needed to read a trend", {"points": n},
                        REMEDIES["insufficient_data"])]

    findings = _gradient_findings(grads, th)
    bad = [i for i, v in enumerate(train) if not math.isfinite(v)]
    if bad:
        i = bad[0]
        last = next((train[j] for j in range(i - 1, -1, -1) if math.isfinite(train[j])), math.nan)
        return [Finding("diverged", f"train loss is {train[i]} at step {i + 1} (last finite value "
                        f"{fmt(last)})", {"step": i + 1, "value": train[i], "last_finite": last},
                        REMEDIES["diverged"]), *findings]

    c, level = _read_curve(train, th)
    start, end = c["start"], c["end"]
    # Still up at the end: diverged. (A climb that came back is a loss_spike, below.)
    if c["last_level"] - c["best_level"] > th.explode_rise * abs(start):
        return [Finding("diverged", f"the loss exploded: its level rose from "
                        f"{fmt(c['best_level'])} at step {c['best_step']} to "
                        f"{fmt(c['peak_level'])} at step {c['peak_step']} (started at "
                        f"{fmt(start)})", {k: c[k] for k in ("best_step", "best_level",
                                                             "peak_step", "peak_level")},
                        REMEDIES["diverged"]), *findings]

    findings = _validation_findings(level, val, steps_of_val, th) + findings
    findings += _spike_findings(c, th)
    codes = {f.code for f in findings}
    drop = (start - end) / abs(start) if start != 0 else 0.0
    if drop < th.min_drop:
        # Precedence (module doc): a train loss that never fell has memorised nothing, so a
        # rising validation loss beside it is not overfitting.
        findings = [f for f in findings if f.code != "overfitting"]
        findings.append(Finding("not_learning", f"the loss went from {fmt(start)} to "
                                f"{fmt(end)}, a {fmt(100 * drop, 2)}% drop in {n} steps",
                                {"start": start, "end": end, "steps": n},
                                REMEDIES["not_learning"]))
        return sorted(findings, key=lambda f: CODES.index(f.code))

    half = n // 2
    if c["scatter"] > th.oscillation * abs(start):
        findings.append(Finding("oscillating", f"in the second half the loss scatters by "
                                f"{fmt(c['scatter'], 2)} around its level (robust std), "
                                f"{fmt(100 * c['scatter'] / abs(start), 2)}% of the starting "
                                f"loss", {"scatter": c["scatter"], "start": start,
                                          "from_step": half + 1}, REMEDIES["oscillating"]))
        codes.add("oscillating")

    late_gain, total_gain = c["late_gain"], start - end
    flat = late_gain < th.plateau_share * total_gain + c["late_gain_se"]
    near_floor = floor is not None and _near(end, floor, start, th)
    if flat and not near_floor and not codes & {"oscillating", "overfitting"}:
        findings.append(Finding("plateau", f"after falling from {fmt(start)} to about {fmt(end)}, "
                                f"the loss gained only {fmt(late_gain, 2)} over the second half "
                                f"({fmt(100 * late_gain / total_gain, 2)}% of the total progress)"
                                + (f"; the best achievable is {fmt(floor)}" if floor is not None
                                   else ""),
                                {"start": start, "end": end, "late_gain": late_gain,
                                 "late_gain_se": c["late_gain_se"], "from_step": half + 1},
                                REMEDIES["plateau"]))
    findings += _reference_findings(c, val, reference, th)
    if not findings:
        findings.append(_healthy(c, val, floor, reference, converged=near_floor and flat))
    return sorted(findings, key=lambda f: CODES.index(f.code))


def _near(loss: float, target: float, start: float, th: Thresholds) -> bool:
    """Within floor_tol of target: relative to the target, but never tighter than floor_tol of
    floor_tol of the way from start down to it (a target of 0 has no relative scale)."""
    return loss - target <= th.floor_tol * max(abs(target), th.floor_tol * (start - target))


def _final(c: dict, val: list[float]) -> tuple[float, str]:
    """What a run ends at: its last finite validation loss, else its train end."""
    finite = [v for v in val if math.isfinite(v)]
    return (finite[-1], "validation") if finite else (c["end"], "train loss")


def _healthy(c: dict, val: list[float], floor: float | None, reference: float | None, *,
             converged: bool) -> Finding:
    start, end = c["start"], c["end"]
    how = (f"flat within {fmt(end - floor)} of the floor {fmt(floor)}" if converged
           else f"still improving by {fmt(c['late_gain'], 2)} over the second half")
    notes = [f"validation ended at {fmt(_final(c, val)[0])}"] if val else []
    if floor is not None and not converged:
        notes.append(f"{fmt(end - floor)} above the floor {fmt(floor)}")
    if reference is not None:
        notes.append(f"the reference is {fmt(reference)}")
    return Finding("healthy", "; ".join([f"no warning sign: the loss fell from {fmt(start)} to "
                                         f"{fmt(end)}, {how}", *notes]),
                   {"start": start, "end": end}, REMEDIES["healthy"])


def _reference_findings(c: dict, val: list[float], reference: float | None,
                        th: Thresholds) -> list[Finding]:
    if reference is None:
        return []
    final, what = _final(c, val)
    if _near(final, reference, c["start"], th):
        return []
    return [Finding("behind_reference", f"the run ends at {fmt(final)} ({what}), "
                    f"{fmt(final - reference)} above the reference {fmt(reference)}",
                    {"final": final, "measured_on": what, "reference": reference},
                    REMEDIES["behind_reference"])]


def _spike_findings(c: dict, th: Thresholds) -> list[Finding]:
    if not c["spikes"]:
        return []
    first, last, height = max(c["spikes"], key=lambda s: s[2])
    steps = sum(b - a + 1 for a, b, _ in c["spikes"])
    return [Finding("loss_spike", f"{len(c['spikes'])} spike(s), {steps} step(s) in all, more "
                    f"than {fmt(100 * th.explode_rise, 2)}% of the starting loss above the best "
                    f"level so far; the largest, steps {first}-{last}, reached {fmt(height)} "
                    f"above it (left out of the progress fit)",
                    {"count": len(c["spikes"]), "steps": steps, "first_step": first,
                     "last_step": last, "height": height}, REMEDIES["loss_spike"])]


def _fitted_gain(y: torch.Tensor, keep: torch.Tensor) -> tuple[float, float]:
    """How much a least-squares line through y[keep] falls from the first to the last point of
    y, and the standard error of that amount (from the scatter around the line). All points
    when fewer than 3 are kept."""
    span = len(y) - 1
    x = torch.arange(len(y), dtype=torch.float64)
    if int(keep.sum()) >= 3:
        x, y = x[keep], y[keep]
    x = x - x.mean()
    sxx = float((x * x).sum())
    slope = float((x * (y - y.mean())).sum()) / sxx
    resid = y - y.mean() - slope * x
    slope_se = math.sqrt(float((resid * resid).sum()) / max(len(y) - 2, 1) / sxx)
    return -slope * span, slope_se * span


def _validation_findings(level: torch.Tensor, val: list[float], steps: list[int],
                         th: Thresholds) -> list[Finding]:
    findings = []
    finite = [(s, v) for s, v in zip(steps, val, strict=True) if math.isfinite(v)]
    broken = [(s, v) for s, v in zip(steps, val, strict=True) if not math.isfinite(v)]
    if broken:
        findings.append(Finding("eval_not_finite", f"validation loss is {broken[0][1]} at step "
                                f"{broken[0][0]} ({len(broken)} of {len(val)} evaluations) while "
                                f"the train loss stays finite", {"step": broken[0][0],
                                                                 "count": len(broken)},
                                REMEDIES["eval_not_finite"]))
    if len(finite) < 2:
        return findings
    best_index = min(range(len(finite)), key=lambda k: finite[k][1])  # earliest on a tie
    best_step, best = finite[best_index]
    last_step, last = finite[-1]
    train_at_best = float(level[best_step - 1])
    train_at_last = float(level[last_step - 1])
    noise = _eval_noise([v for _, v in finite])
    margin = max(th.overfit_rise * abs(best), th.overfit_noise * noise)
    # How many evaluations at the end lie above best + margin, in a row.
    above = next((k for k, (_, v) in enumerate(reversed(finite)) if v <= best + margin),
                 len(finite))
    if (above >= th.overfit_patience
            and train_at_best - train_at_last > th.overfit_rise * abs(train_at_best)):
        findings.append(Finding("overfitting", f"validation loss bottomed at {fmt(best)} (step "
                                f"{best_step}) and rose to {fmt(last)} (step {last_step}), "
                                f"above {fmt(best + margin)} for the last {above} evaluations, "
                                f"while the train loss fell from {fmt(train_at_best)} to "
                                f"{fmt(train_at_last)}", {"best_step": best_step,
                                                          "best_val": best,
                                                          "last_step": last_step,
                                                          "last_val": last,
                                                          "margin": margin,
                                                          "val_noise": noise,
                                                          "evaluations_above": above,
                                                          "train_at_best": train_at_best,
                                                          "train_at_last": train_at_last},
                                REMEDIES["overfitting"]))
    return findings


def _eval_noise(values: list[float]) -> float:
    """The noise of one evaluation, measured around the trend: 1.4826 x the median absolute
    second difference / sqrt(6), which is s for independent Gaussian noise of std s (a second
    difference v[k+1] - 2 v[k] + v[k-1] carries 1 + 4 + 1 = 6 times one value's variance).
    A straight trend has second differences of 0, so a steady rise is not counted as noise
    (first differences counted it, and a steep rise widened its own margin); the median ignores
    single spikes and the kink where the curve turns. 0.0 for < 3 values.

    >>> _eval_noise([3.9, 5.9, 7.9, 9.9, 11.9, 13.9])  # a steady rise: no noise
    0.0
    """
    if len(values) < 3:
        return 0.0
    second = torch.tensor(values, dtype=torch.float64).diff(n=2)  # (n - 2,)
    return MAD_TO_STD * float(second.abs().median()) / math.sqrt(6)


def _gradient_findings(grads: list[float], th: Thresholds) -> list[Finding]:
    if not grads:
        return []
    g = torch.tensor(grads, dtype=torch.float64)  # (n,)
    # The baseline follows the run: a norm that falls from 20 to 0.5 as training settles is
    # compared with its own stretch of the run, not with the whole run's median. A broken
    # (non-finite) norm counts as large in the baseline and as a spike itself.
    baseline = _running_median(g.nan_to_num(nan=math.inf), _window(len(grads)))  # (n,)
    spiking = ~g.isfinite() | ((baseline > 0) & (g > th.spike_factor * baseline))
    spikes = spiking.nonzero().flatten().tolist()
    if not spikes:
        return []
    worst = max(spikes, key=lambda i: grads[i] if math.isfinite(grads[i]) else math.inf)
    return [Finding("gradient_spikes", f"{len(spikes)} step(s) with a gradient norm above "
                    f"{fmt(th.spike_factor, 2)}x its running median; the largest is "
                    f"{fmt(grads[worst])} at step {worst + 1}, where the median is "
                    f"{fmt(float(baseline[worst]))}",
                    {"median": float(baseline[worst]), "worst_step": worst + 1,
                     "worst_norm": grads[worst], "count": len(spikes)},
                    REMEDIES["gradient_spikes"])]
