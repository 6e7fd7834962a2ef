"""Numerics of the text metrics: where exp overflows, where softmax underflows, where sums stall.

Three small facts decide whether a perplexity is a number, inf, or silently wrong:

- exp(x) overflows a float type above log(finfo.max) (`fl.exp_limit`); `exp_overflow_edge`
  finds that edge by measurement, one representable step at a time.
- softmax-then-log turns a target probability below the smallest float into log(0) = -inf;
  `underflow_case` builds the standard example and `naive_perplexity` computes it that way.
- A running sum in a narrow float stops growing once half its spacing (`ulp`) exceeds the
  increments; `stall_point` predicts where, `running_sum` shows it.

    case = fl.underflow_case()                   # 1,000 tokens, one target logit 200 below max
    fl.naive_perplexity(case.logits, case.target)  # inf: the softmax underflowed
    fl.perplexity(case.logits, case.target)        # 1.618: log-softmax keeps the loss finite
    fl.running_sum(losses, torch.bfloat16)[-1]     # a bfloat16 accumulator, step by step
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from forge_lib.metrics import validation
from forge_lib.metrics.text import exp_limit, ppl_from_loss

__all__ = ["UnderflowCase", "underflow_case", "naive_perplexity", "exp_overflow_edge", "ulp",
           "stall_point", "running_sum"]

_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _float_dtype(dtype: object) -> torch.dtype:
    if dtype not in _DTYPES:
        raise TypeError(f"dtype: expected one of torch.float16, torch.bfloat16, torch.float32, "
                        f"torch.float64, got {dtype!r}.")
    return dtype  # type: ignore[return-value]


class UnderflowCase(NamedTuple):
    logits: torch.Tensor  # (N, V) float32
    target: torch.Tensor  # (N,) int64
    hard: int             # the row whose target logit sits `gap` below the row's other logits


def underflow_case(
    n_tokens: int = 1000, vocab: int = 50, gap: float = 200.0, *, margin: float = 3.3,
    seed: int = 0,
) -> UnderflowCase:
    """Logits where one target probability underflows float32 and the rest are easy.

    Every row starts as standard-normal logits. In all rows but one the target logit is set
    `margin` above the row's largest other logit (a confident, right model); in row `hard`
    it is set `gap` below it. With the defaults the true perplexity is 1.618: 999 tokens near
    1.32 and one with an NLL of about 202, whose probability e^-202 is far below float32's
    smallest number (about e^-103), so softmax-then-log sees log(0).

    >>> case = underflow_case()
    >>> tuple(case.logits.shape), case.logits.dtype, case.hard
    ((1000, 50), torch.float32, 626)
    """
    validation.positive_int(n_tokens, "n_tokens")
    validation.positive_int(vocab, "vocab")
    if vocab < 2:
        raise ValueError(f"vocab: expected at least 2 entries (a target and a rival), got {vocab}.")
    gap = validation.positive_number(gap, "gap")  # nats *below* the rival: > 0, or nothing underflows
    if not math.isfinite(validation.number(margin, "margin")):
        raise ValueError(f"margin: expected a finite number of nats, got {margin}.")
    gen = torch.Generator().manual_seed(validation.integer(seed, "seed"))
    logits = torch.randn(n_tokens, vocab, generator=gen)  # (N, V)
    target = torch.randint(0, vocab, (n_tokens,), generator=gen)  # (N,)
    hard = int(torch.randint(0, n_tokens, (), generator=gen))
    # The largest logit other than the target's, per row: the level the target is placed against.
    rival = logits.scatter(1, target[:, None], -math.inf).max(dim=1).values  # (N,)
    offset = torch.full((n_tokens,), float(margin))
    offset[hard] = -float(gap)
    logits.scatter_(1, target[:, None], (rival + offset)[:, None])
    return UnderflowCase(logits, target, hard)


def naive_perplexity(logits: torch.Tensor, target: torch.Tensor) -> float:
    """Perplexity by softmax, then log, in the logits' own dtype: how torchmetrics 1.9.0 does it.

    For teaching only: a target probability that underflows to 0 gives log(0) = -inf, so one
    such token makes the whole result inf. The losses are summed in float64, so underflow is the
    only difference from `fl.perplexity`. Logits (B, T, V) or (N, V); no ignore_index.

    >>> naive_perplexity(torch.tensor([[0.0, -200.0]]), torch.tensor([1]))  # e^-200 -> 0 in float32
    inf
    >>> wide = torch.tensor([[0.0, -200.0]], dtype=torch.float64)  # e^-200 fits in float64
    >>> round(math.log(naive_perplexity(wide, torch.tensor([1]))), 6)
    200.0
    """
    flat_logits, flat_target = validation.logits_and_target(logits, target, None)  # (N, V), (N,)
    if bool((torch.isnan(flat_logits) | (flat_logits == math.inf)).any()):  # -inf is p = 0: fine
        validation.all_finite(flat_logits, "logits")
    if len(flat_target) == 0:
        raise ValueError("naive_perplexity: no tokens to score (an empty batch); the perplexity "
                         "of nothing is undefined.")
    probs = torch.softmax(flat_logits, dim=1)  # (N, V), in the logits' dtype: may underflow to 0
    target_probs = probs.gather(1, flat_target.long()[:, None]).squeeze(1)  # (N,)
    nll_sum = -target_probs.log().sum(dtype=torch.float64)  # log(0) = -inf -> inf
    return ppl_from_loss(nll_sum.item() / len(flat_target))


def exp_overflow_edge(dtype: torch.dtype) -> tuple[float, float]:
    """Measure the last x whose exp is finite in `dtype`, and the next representable x (inf).

    Starts at exp_limit(dtype) rounded to `dtype` and steps with torch.nextafter, so the answer
    is what torch.exp actually does, not what the formula log(finfo.max) promises.

    >>> exp_overflow_edge(torch.float16)
    (11.0859375, 11.09375)
    """
    dtype = _float_dtype(dtype)
    up = torch.tensor(math.inf, dtype=dtype)
    down = torch.tensor(-math.inf, dtype=dtype)
    x = torch.tensor(exp_limit(dtype), dtype=dtype)
    while not torch.isfinite(torch.exp(x)):
        x = torch.nextafter(x, down)
    while torch.isfinite(torch.exp(torch.nextafter(x, up))):
        x = torch.nextafter(x, up)
    return x.item(), torch.nextafter(x, up).item()


def ulp(x: float, dtype: torch.dtype) -> float:
    """Spacing between |x| (rounded to `dtype`) and the next larger number of `dtype`.

    Between 2**k and 2**(k+1) the numbers of a float type are evenly spaced, 2**k * eps apart;
    below finfo.tiny (subnormals) the spacing is tiny * eps everywhere.

    >>> ulp(1.0, torch.float32) == torch.finfo(torch.float32).eps
    True
    >>> ulp(2048.0, torch.float16), ulp(2048.0, torch.bfloat16)
    (2.0, 16.0)
    """
    dtype = _float_dtype(dtype)
    info = torch.finfo(dtype)
    value = abs(torch.tensor(validation.number(x, "x"), dtype=dtype).item())
    if not math.isfinite(value):
        raise ValueError(f"x: expected a number within +-{info.max:.4g} for {dtype}, got {x}.")
    if value < info.tiny:
        return info.tiny * info.eps
    _, exponent = math.frexp(value)  # value = m * 2**exponent with m in [0.5, 1)
    return math.ldexp(info.eps, exponent - 1)


def stall_point(increment: float, dtype: torch.dtype) -> float:
    """The running sum at which adding `increment` (rounded to `dtype`) no longer changes it.

    Round to nearest (ties to even) drops an increment of at most half the spacing, and at a
    power of two P the spacing above is P * eps: so the sum stalls at the first power of two
    P >= 2 * increment / eps. Returns inf when that P is past finfo.max (the sum overflows to
    inf first), 0.0 when the increment itself rounds to zero in `dtype`.

    >>> stall_point(1.0, torch.bfloat16)  # bfloat16: 256 + 1 == 256
    256.0
    >>> stall_point(3.3, torch.float16), stall_point(3.3, torch.bfloat16)
    (8192.0, 1024.0)
    """
    dtype = _float_dtype(dtype)
    info = torch.finfo(dtype)
    if not (math.isfinite(validation.number(increment, "increment")) and increment > 0):
        raise ValueError(f"increment: expected a positive finite number, got {increment}.")
    step = torch.tensor(float(increment), dtype=dtype).item()
    if step == 0.0:  # the increment itself rounds to zero in `dtype`
        return 0.0
    if math.isinf(step):  # too big for `dtype`: the first addition overflows
        return math.inf
    power = 2.0 ** math.ceil(math.log2(2 * step / info.eps))
    return power if power <= info.max else math.inf


def running_sum(values: torch.Tensor | list[float], dtype: torch.dtype) -> torch.Tensor:
    """Partial sums of `values`, accumulated one by one in `dtype` (total = total + v).

    This is the plain `total += loss` loop of a training script, with the accumulator in
    `dtype`; each value is first rounded to `dtype`. Returned as float64 (which holds every
    value of the narrower types exactly), shape (n,), so it plots against an exact sum.
    torch.sum and torch.cumsum are no substitute: on CPU they accumulate half-precision inputs
    in float32 and round only the result.

    >>> running_sum([256.0, 1.0, 1.0, 1.0], torch.bfloat16).tolist()
    [256.0, 256.0, 256.0, 256.0]
    >>> running_sum([256.0, 1.0, 1.0, 1.0], torch.float32).tolist()
    [256.0, 257.0, 258.0, 259.0]
    """
    dtype = _float_dtype(dtype)
    if not isinstance(values, torch.Tensor):  # Python floats are float64
        values = torch.tensor(validation.float_sequence(values, "values", allow_empty=True),
                              dtype=torch.float64)
    steps = values.reshape(-1).to(dtype)  # (n,)
    sums = torch.empty(len(steps), dtype=torch.float64)  # (n,)
    total = torch.zeros((), dtype=dtype)
    for i, step in enumerate(steps):
        total = total + step  # rounded to `dtype` at every step, as a real accumulator is
        sums[i] = total
    return sums
