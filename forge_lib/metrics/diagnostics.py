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
  level = running median over 10% of the run (robust to single spikes).
- diverged: a non-finite train loss, or the level climbs after its minimum by more than
  `explode_rise` (30%) of the start. Nothing else is judged on a diverged curve.
- not_learning: the loss fell by less than `min_drop` (5%) of its start.
- oscillating: in the second half, the step-to-step scatter around the level (1.4826 x median
  absolute deviation, a robust standard deviation) exceeds `oscillation` (5%) of the start.
  Scatter is scaled by the start, not by the current level, so a memorised loss near zero does
  not look noisy.
- overfitting (needs val_loss): validation rose above its best by a margin, and stayed there,
  while the train level kept falling (by at least `overfit_rise`, 3%) after that evaluation.
  The margin is the larger of `overfit_rise` (3%) of the best and `overfit_noise` (3) times the
  validation curve's own noise: 1.4826 x the median absolute difference between consecutive
  evaluations, divided by sqrt(2) (for Gaussian noise of std s that is s: a difference carries
  the noise of two evaluations; the median ignores single spikes). "Stayed there": the last
  `overfit_patience` (3) evaluations are all above best + margin. So jitter on a flat
  validation curve, or a single bad evaluation, is not overfitting; a validation loss that
  turns up and keeps rising is. (A best evaluation that is itself a deep low outlier can still
  fool the rule now and then: on flat curves with 2% noise it fires on 5% of seeds, against
  61% for a bare "3% above the best".)
- plateau: over the second half, a least-squares line through the loss falls by less than
  `plateau_share` (2%) of the run's total progress (start - end) plus one standard error of
  that fall (so noise alone does not pass for progress). Not reported when oscillating or
  overfitting is (those explain the flat stretch better). On a noisy curve a very slow
  improvement and a plateau cannot be told apart; the line fit is the least noisy way to try.
  A plateau is also what convergence looks like: pass `floor=` (the best achievable loss, when
  known) and a plateau ending within `floor_tol` (5%) of it is reported as healthy.
- gradient_spikes (needs grad_norm): a gradient norm above `spike_factor` (10x) the run's median
  norm, or a non-finite norm.
- eval_not_finite: validation NaN/Inf while the train loss is finite: the evaluation is broken.
- insufficient_data: fewer than `min_points` (10) train losses; nothing else is judged.
- healthy: none of the warnings above.

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
         "oscillating", "plateau", "gradient_spikes", "healthy")

# The source's table, kept where measurement agrees with it and amended where it does not
# (notebook 09 shows the runs behind each amendment).
REMEDIES = {
    "healthy": "Nothing to fix. Keep training while the validation loss improves.",
    "diverged": "Lower the learning rate (10x is a good first try) and add warm-up. Gradient "
                "clipping caps single spikes, but with Adam it does not rescue a learning rate "
                "that is too high: Adam's step size is set by the learning rate, not by the "
                "gradient's size.",
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


def _running_median(values: list[float], window: int) -> torch.Tensor:
    """Centred running median (odd window), edges padded with the end values: (n,)."""
    half = window // 2
    x = torch.tensor(values, dtype=torch.float64)
    padded = torch.cat([x[:1].repeat(half), x, x[-1:].repeat(half)])
    return padded.unfold(0, 2 * half + 1, 1).median(dim=1).values




def _val_steps(n_train: int, n_val: int, val_steps: object) -> list[int]:
    if val_steps is None:  # evenly spaced evaluations, the last one at the last step
        return [round((k + 1) * n_train / n_val) for k in range(n_val)]
    steps = _as_floats(val_steps, "val_steps")
    if len(steps) != n_val:
        raise ValueError(f"val_steps: expected one step per validation loss ({n_val}), got "
                         f"{len(steps)}.")
    if any(s != int(s) or s < 1 or s > n_train for s in steps) or steps != sorted(set(steps)):
        raise ValueError(f"val_steps: expected increasing integer steps in [1, {n_train}] (the "
                         f"train loss has {n_train} steps), got {val_steps!r}.")
    return [int(s) for s in steps]


def curve_summary(train_loss: Sequence[float]) -> dict:
    """The measurements diagnose() reads off a train-loss curve (finite, at least 3 values).

    start, end: medians of the first 5% and last 10% of steps (at least 3 each); best_level,
    best_step: the lowest point of the running median (window 10% of the run) and its 1-based
    step; peak_level, peak_step: its highest point after that; scatter: the robust standard
    deviation (1.4826 x median absolute deviation) of the second half around the running
    median; late_gain, late_gain_se: how much a least-squares line through the second half
    falls, and that amount's standard error.

    >>> s = curve_summary([4.0, 3.0, 2.5, 2.2, 2.1, 2.05, 2.0, 2.0, 2.0, 2.0])
    >>> s["start"], s["end"], s["scatter"]
    (3.0, 2.0, 0.0)
    """
    train = _as_floats(train_loss, "train_loss")
    n = len(train)
    if n < 3 or not all(math.isfinite(v) for v in train):
        raise ValueError(f"train_loss: expected at least 3 finite values, got {n} values "
                         f"({sum(not math.isfinite(v) for v in train)} not finite). Use "
                         f"diagnose(), which reports short or diverged curves as findings.")
    level = _running_median(train, max(3, n // 10) | 1)  # (n,)
    low = int(level.argmin())
    peak = low + int(level[low:].argmax())
    half = n // 2
    resid = torch.tensor(train[half:], dtype=torch.float64) - level[half:]
    late_gain, late_gain_se = _fitted_gain(train[half:])
    return {"steps": n, "start": _median(train[:max(3, n // 20)]),
            "end": _median(train[-max(3, n // 10):]),
            "best_step": low + 1, "best_level": float(level[low]),
            "peak_step": peak + 1, "peak_level": float(level[peak]),
            "scatter": MAD_TO_STD * float((resid - resid.median()).abs().median()),
            "late_gain": late_gain, "late_gain_se": late_gain_se}


def diagnose(
    train_loss: Sequence[float],
    *,
    val_loss: Sequence[float] | None = None,
    grad_norm: Sequence[float] | None = None,
    val_steps: Sequence[int] | None = None,
    floor: float | None = None,
    thresholds: Thresholds | None = None,
) -> list[Finding]:
    """Diagnose a training history; returns findings, most severe first (see the module doc).

    >>> curve = [5.0 * 0.99 ** t + 1.0 for t in range(200)]           # smooth, still falling
    >>> [f.code for f in diagnose(curve)]
    ['healthy']
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
    if floor is not None and not math.isfinite(validation.number(floor, "floor")):
        raise ValueError(f"floor: expected a finite number (the best achievable loss), got "
                         f"{floor!r}.")
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

    c = curve_summary(train)
    start, end = c["start"], c["end"]
    if c["peak_level"] - c["best_level"] > th.explode_rise * abs(start):
        return [Finding("diverged", f"the loss exploded: its level rose from "
                        f"{fmt(c['best_level'])} at step {c['best_step']} to "
                        f"{fmt(c['peak_level'])} at step {c['peak_step']} (started at "
                        f"{fmt(start)})", {k: c[k] for k in ("best_step", "best_level",
                                                             "peak_step", "peak_level")},
                        REMEDIES["diverged"]), *findings]

    level = _running_median(train, max(3, n // 10) | 1)  # (n,)
    findings = _validation_findings(level, val, steps_of_val, th) + findings
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
    near_floor = floor is not None and end - floor <= th.floor_tol * abs(floor)
    if flat and not near_floor and not codes & {"oscillating", "overfitting"}:
        findings.append(Finding("plateau", f"after falling from {fmt(start)} to about {fmt(end)}, "
                                f"the loss gained only {fmt(late_gain, 2)} over the second half "
                                f"({fmt(100 * late_gain / total_gain, 2)}% of the total progress)"
                                + (f"; the best achievable is {fmt(floor)}" if floor is not None
                                   else ""),
                                {"start": start, "end": end, "late_gain": late_gain,
                                 "late_gain_se": c["late_gain_se"], "from_step": half + 1},
                                REMEDIES["plateau"]))
    if not findings:
        how = (f"within {fmt(100 * (end - floor) / abs(floor), 2)}% of the floor {fmt(floor)}"
               if near_floor and flat else f"still improving by {fmt(late_gain, 2)} over the "
               f"second half")
        val_note = f"; validation ended at {fmt(val[-1])}" if val else ""
        findings.append(Finding("healthy", f"the loss fell from {fmt(start)} to {fmt(end)}, "
                                f"{how}{val_note}", {"start": start, "end": end},
                                REMEDIES["healthy"]))
    return sorted(findings, key=lambda f: CODES.index(f.code))


def _fitted_gain(values: list[float]) -> tuple[float, float]:
    """How much a least-squares line through `values` falls from their first to last point,
    and the standard error of that amount (from the scatter around the line)."""
    y = torch.tensor(values, dtype=torch.float64)
    x = torch.arange(len(y), dtype=torch.float64)
    x -= x.mean()
    sxx = float((x * x).sum())
    slope = float((x * (y - y.mean())).sum()) / sxx
    resid = y - y.mean() - slope * x
    slope_se = math.sqrt(float((resid * resid).sum()) / max(len(y) - 2, 1) / sxx)
    return -slope * (len(y) - 1), slope_se * (len(y) - 1)


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
    noise = _step_noise([v for _, v in finite])
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


def _step_noise(values: list[float]) -> float:
    """The noise of one evaluation: 1.4826 x the median absolute difference of consecutive
    values / sqrt(2), which is s for independent Gaussian noise of std s (a difference carries
    two values' noise; the median ignores single spikes). A steady trend adds its step to the
    estimate, which only makes the overfitting rule more cautious. 0.0 for < 3 values.

    >>> round(_step_noise([1.0, 1.2, 1.0, 1.2, 1.0, 1.2]), 4)  # jumps of 0.2
    0.2097
    """
    if len(values) < 3:
        return 0.0
    diffs = torch.tensor(values, dtype=torch.float64).diff()  # (n - 1,)
    return MAD_TO_STD * float(diffs.abs().median()) / math.sqrt(2)


def _gradient_findings(grads: list[float], th: Thresholds) -> list[Finding]:
    if not grads:
        return []
    finite = [g for g in grads if math.isfinite(g)]
    median = _median(finite) if finite else math.nan
    spikes = [i for i, g in enumerate(grads)
              if not math.isfinite(g) or (median > 0 and g > th.spike_factor * median)]
    if not spikes:
        return []
    worst = max(spikes, key=lambda i: grads[i] if math.isfinite(grads[i]) else math.inf)
    return [Finding("gradient_spikes", f"{len(spikes)} step(s) with a gradient norm above "
                    f"{fmt(th.spike_factor, 2)}x the median {fmt(median)}; the largest is "
                    f"{fmt(grads[worst])} at step {worst + 1}",
                    {"median": median, "worst_step": worst + 1, "worst_norm": grads[worst],
                     "count": len(spikes)}, REMEDIES["gradient_spikes"])]
