"""Text metrics: summed NLL, perplexity, label shifting, the overflow policy, bits per token/byte.

Everything is built on one primitive, `nll_sum_and_count`, because sums and counts are what
combine exactly across batches and processes; means do not. Typical use:

    logits, target = fl.shift_for_causal_lm(model(input_ids), labels)   # (B, T-1, V), (B, T-1)
    nll, n = fl.nll_sum_and_count(logits, target, ignore_index=-100)
    ppl = fl.ppl_from_loss(nll.item() / n)

`Perplexity` is the torchmetrics wrapper a training loop keeps across batches.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torchmetrics import Metric

from forge_lib.metrics import validation

__all__ = [
    "nll_sum_and_count", "perplexity", "shift_for_causal_lm", "ppl_from_loss", "ppl_from_sum",
    "exp_limit",
    "bits_per_token", "bits_per_byte", "Perplexity",
    "token_accuracy",
]

# How many logits one chunk may hold. The log-sum-exp needs a temporary as large as its input;
# bounding it keeps the extra memory of evaluation small and independent of B * T * V.
_CHUNK_ELEMENTS = 1 << 22  # 4M elements: 16 MB in float32


def nll_sum_and_count(
    logits: torch.Tensor, target: torch.Tensor, *, ignore_index: int | None = None
) -> tuple[torch.Tensor, int]:
    """Summed negative log-likelihood (nats, float64) and the number of tokens it covers.

    logits: (B, T, V) or (N, V), any float dtype; target: (B, T) or (N,) ids in [0, V).
    Positions whose target equals `ignore_index` count neither in the sum nor in the count.
    An all-ignored batch gives (0.0, 0), so it can be accumulated; dividing is the caller's job.

    NLL per token is logsumexp(logits) - logits[target], computed in float32 or wider: the
    log-softmax identity, so a target probability far below float32's smallest number still
    has a finite, exact loss (softmax-then-log would give log(0) = -inf).

    Non-finite logits: NaN or +inf raise a ValueError. -inf means probability 0 (a masked
    token) and is allowed, except at the target, whose loss would be infinite (ValueError).
    A loss beyond float32's range from finite logits is recomputed in float64 (it is finite).

    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    >>> nll, n = nll_sum_and_count(logits, torch.tensor([0, 0]))
    >>> round(nll.item(), 4), n
    (2.2539, 2)
    """
    flat_logits, flat_target = validation.logits_and_target(logits, target, ignore_index)
    if ignore_index is not None:
        keep = flat_target != ignore_index
        if not bool(keep.all()):
            flat_logits, flat_target = flat_logits[keep], flat_target[keep]
    n_tokens, vocab = flat_logits.shape
    total = torch.zeros((), dtype=torch.float64, device=flat_logits.device)
    rows = max(1, _CHUNK_ELEMENTS // vocab)
    for start in range(0, n_tokens, rows):
        chunk = flat_logits[start:start + rows]
        if chunk.dtype in (torch.float16, torch.bfloat16):
            chunk = chunk.float()  # half precision cannot hold a log-sum-exp accurately
        # cross_entropy is logsumexp(chunk) - chunk[target] in one fused log-softmax kernel;
        # torch.logsumexp on CPU materialises chunk - max and its exp, several times slower.
        rows_target = flat_target[start:start + rows]
        chunk_nll = F.cross_entropy(chunk, rows_target, reduction="none").sum(dtype=torch.float64)
        # A NaN or +inf logit anywhere in a row makes that row's loss non-finite, so checking the
        # loss replaces a separate pass over the logits; the full diagnosis runs only then.
        if not bool(torch.isfinite(chunk_nll)):
            chunk_nll = _float64_nll(chunk, rows_target)
        total += chunk_nll
    return total, n_tokens


def _float64_nll(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The summed NLL of a chunk whose float32 loss was not finite, or a ValueError saying why.

    Finite logits can still overflow float32's log-sum-exp (logits 3e38 and -3e38: a loss of
    6e38, past float32's 3.4e38); float64 holds every such loss, so the chunk is recomputed
    there. What is still infinite then has a cause: NaN or +inf logits, or a target of
    probability 0 (logit -inf).
    """
    if bool((torch.isnan(logits) | (logits == math.inf)).any()):
        validation.all_finite(logits, "logits")
    nll = F.cross_entropy(logits.double(), target, reduction="none").sum()
    if bool(torch.isfinite(nll)):
        return nll
    at_target = logits.gather(1, target[:, None]).squeeze(1)  # (rows,)
    zero = int((at_target == -math.inf).sum())
    raise ValueError(f"logits: the target's logit is -inf (probability 0) at {zero} position(s), "
                     f"so its loss is infinite. -inf elsewhere in a row (a masked token) is "
                     f"fine; a target the model rules out is a modelling or masking bug.")


def perplexity(
    logits: torch.Tensor, target: torch.Tensor, *, ignore_index: int | None = None
) -> float:
    """exp(mean NLL per counted token). Logits (B, T, V) or (N, V); targets (B, T) or (N,).

    Shift first for a causal LM (`shift_for_causal_lm`); raises ValueError when every target is
    ignored, because the perplexity of zero tokens is undefined (a mean loss would give NaN).

    >>> round(perplexity(torch.zeros(4, 10), torch.tensor([1, 2, 3, 4])), 4)  # uniform over 10
    10.0
    """
    nll, count = nll_sum_and_count(logits, target, ignore_index=ignore_index)
    return ppl_from_sum(nll, count, ignore_index=ignore_index, caller="perplexity")


def shift_for_causal_lm(
    logits: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Align a causal LM's predictions with what they predict: (logits[:, :-1], labels[:, 1:]).

    logits[:, i] is the distribution of token i + 1, so the last position has no target and the
    first label has no prediction. Inputs (B, T, V) and (B, T); outputs (B, T-1, V), (B, T-1).

    >>> lg, lb = shift_for_causal_lm(torch.zeros(2, 5, 7), torch.zeros(2, 5, dtype=torch.long))
    >>> tuple(lg.shape), tuple(lb.shape)
    ((2, 4, 7), (2, 4))
    """
    logits = validation.float_tensor(logits, "logits")
    labels = validation.integer_tensor(labels, "labels")
    if logits.ndim != 3 or labels.ndim != 2 or tuple(logits.shape[:2]) != tuple(labels.shape):
        raise ValueError(f"shift_for_causal_lm: expected logits (B, T, V) and labels (B, T) with "
                         f"the same B and T, got {tuple(logits.shape)} and {tuple(labels.shape)}.")
    if labels.shape[1] < 2:
        raise ValueError(f"shift_for_causal_lm: need at least 2 positions to predict one token, "
                         f"got T = {labels.shape[1]}.")
    return logits[:, :-1], labels[:, 1:]


def exp_limit(dtype: torch.dtype = torch.float64) -> float:
    """The largest x with exp(x) finite in `dtype`: log(finfo.max).

    About 11.09 for float16, 88.72 for bfloat16 and float32, 709.78 for float64.

    >>> round(exp_limit(torch.float32), 2), round(exp_limit(), 2)
    (88.72, 709.78)
    """
    return math.log(torch.finfo(validation.float_dtype(dtype, "dtype")).max)


def _mean_nll(mean_nll: float | torch.Tensor) -> float:
    value = validation.finite_number(mean_nll, "mean_nll")
    if value < 0:
        raise ValueError(f"mean_nll: a negative log-likelihood is impossible, got {value}. "
                         f"Did you pass a log-probability instead of its negative?")
    return value


def ppl_from_loss(mean_nll: float | torch.Tensor, *, dtype: torch.dtype = torch.float64) -> float:
    """Perplexity from a mean NLL in nats, with overflow handled by policy.

    Policy: a mean NLL above exp_limit(dtype) gives float('inf') instead of raising
    OverflowError (math.exp) or returning inf by accident (torch.exp): a model that bad is
    not worth a number, and the caller can test math.isinf. NaN or a negative loss raises,
    because it means the computation upstream is broken, not the model.

    >>> round(ppl_from_loss(math.log(227.0)), 6)
    227.0
    >>> ppl_from_loss(800.0)
    inf
    """
    value = _mean_nll(mean_nll)
    if value > exp_limit(dtype):
        return math.inf
    return math.exp(value)


def _no_tokens(caller: str, ignore_index: int | None, advice: str = "") -> ValueError:
    """The one message for a metric of zero tokens, saying why there were none."""
    expected = ("expected at least one target" if ignore_index is None else
                f"expected at least one target other than ignore_index={ignore_index}")
    got = ("got none (an empty batch, or no batch?)" if ignore_index is None
           else "got only ignored ones (an all-padding batch?) or none at all")
    return ValueError(f"{caller}: no tokens to score: {expected}, {got}.{advice}")


def ppl_from_sum(nll_sum: float | torch.Tensor, count: int, *, ignore_index: int | None = None,
                 caller: str = "ppl_from_sum") -> float:
    """exp(nll_sum / count): the perplexity of `count` tokens whose NLLs sum to `nll_sum` nats.

    The one home of the policy every fl function follows: zero tokens raise a ValueError (the
    perplexity of nothing is undefined; NaN would travel silently into averages and plots),
    NaN or a negative sum raises, and overflow gives inf (see ppl_from_loss). `caller` and
    `ignore_index` only make the message precise.

    >>> round(ppl_from_sum(3 * math.log(10.0), 3), 6)
    10.0
    """
    validation.number(nll_sum, "nll_sum")  # NaN and negative sums: ppl_from_loss's policy
    count = validation.non_negative_int(count, "count")
    if count == 0:
        raise _no_tokens(caller, ignore_index, " Skip the batch, or accumulate sums and counts "
                                               "over several batches with fl.Perplexity.")
    return ppl_from_loss(float(nll_sum) / count)


def bits_per_token(mean_nll: float) -> float:
    """Convert a mean NLL in nats per token to bits per token (divide by ln 2).

    >>> bits_per_token(math.log(8))
    3.0
    """
    return _mean_nll(mean_nll) / math.log(2)


def bits_per_byte(nll_sum: float | torch.Tensor, n_bytes: int) -> float:
    """Total NLL in nats over a text, expressed per UTF-8 byte of that text, in bits.

    Unlike perplexity, this does not depend on the tokenizer: the same text has the same number
    of bytes whatever it is split into, so models with different vocabularies compare.

    >>> bits_per_byte(math.log(2) * 80, 10)
    8.0
    """
    validation.positive_int(n_bytes, "n_bytes")
    total = validation.finite_number(nll_sum, "nll_sum")
    if total < 0:
        raise ValueError(f"nll_sum: a summed negative log-likelihood is never negative, got "
                         f"{total}. Did you pass a log-probability instead of its negative?")
    return total / math.log(2) / n_bytes


class Perplexity(Metric):
    """Perplexity accumulated over batches (and processes) as a summed NLL and a token count.

    The states are sums, so batches of different lengths and processes with different shares
    combine exactly; the mean is taken once, in compute(). The math lives in nll_sum_and_count.

    What a training loop does to it, the states survive:
    - casts: the sum stays float64 and the count int64 whatever `.to(dtype)` (or set_dtype) the
      module, or the model holding it, receives; a bfloat16 sum stops growing once the increments fall below
      its 8-bit mantissa, a float16 one overflows at 65,504. Devices still move.
    - a refused batch (all padding, NaN logits) raises in update() or in a call (forward) and
      leaves the states as they were, with gradients off again for later updates.
    - graphs: update() adds detached values, so logits that require grad leave no autograd graph
      in the states.

    >>> metric = Perplexity()
    >>> metric.update(torch.zeros(2, 3, 10), torch.ones(2, 3, dtype=torch.long))
    >>> round(metric.compute().item(), 4)
    10.0
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(self, ignore_index: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.ignore_index = validation.ignore_index_arg(ignore_index)
        self.add_state("nll_sum", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    # The states and the dtype each keeps (see _apply).
    _STATE_DTYPES = {"nll_sum": torch.float64, "count": torch.long}
    # What torchmetrics' forward changes before its update and restores after its compute: an
    # exception in between (a refused batch) would leave the states reset and grad enabled.
    _FORWARD_CONTEXT = ("_update_count", "_computed", "_forward_cache", "_to_sync",
                        "_should_unsync", "compute_on_cpu", "_enable_grad", "_is_synced")

    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        nll, count = nll_sum_and_count(logits, target, ignore_index=self.ignore_index)
        # Detached: a state that joins the graph of every batch's logits keeps them all alive.
        self.nll_sum += nll.detach().to(self.nll_sum.device)
        self.count += count

    def forward(self, *args, **kwargs):
        states = self._copy_state_dict()
        context = {name: getattr(self, name) for name in self._FORWARD_CONTEXT}
        try:
            return super().forward(*args, **kwargs)
        except Exception:
            for name, value in {**states, **context}.items():
                setattr(self, name, value)
            raise

    def _apply(self, fn, exclude_state=()):
        # torchmetrics casts the states on .to(dtype) (its own guard covers only .half(),
        # .float() and the like): move them to the new device, never to another dtype.
        this = super()._apply(fn, exclude_state=(*exclude_state, *self._STATE_DTYPES))
        for name in self._STATE_DTYPES:
            if name not in exclude_state:
                setattr(this, name, getattr(this, name).to(this.device))
                this._defaults[name] = this._defaults[name].to(this.device)
        this._computed = None  # a cached result was cast too (27.09 -> 27.0 in bfloat16): redo it
        return this

    def merge_state(self, incoming_state) -> None:
        other = getattr(incoming_state, "ignore_index", self.ignore_index)
        if isinstance(incoming_state, Perplexity) and other != self.ignore_index:
            raise ValueError(f"merge_state: expected a Perplexity with ignore_index="
                             f"{self.ignore_index} like this one, got ignore_index={other}: its "
                             f"sum and count scored other targets, so they do not add up.")
        super().merge_state(incoming_state)

    def compute(self) -> torch.Tensor:
        ppl = ppl_from_sum(self.nll_sum, int(self.count), ignore_index=self.ignore_index,
                           caller="Perplexity.compute")
        return torch.tensor(ppl, dtype=torch.float64)


def token_accuracy(
    logits: torch.Tensor, target: torch.Tensor, *, ignore_index: int | None = None,
    top_k: int = 1,
) -> float:
    """Fraction of counted targets found among the `top_k` highest logits of their row.

    logits (B, T, V) or (N, V), target (B, T) or (N,), shifted already for a causal LM; targets
    equal to `ignore_index` are not counted. Ties are broken by torch.topk's (deterministic,
    unspecified) order, so even a constant row "predicts" some token: accuracy has no notion of
    confidence. That is its limitation: a wrong guess costs the same whether the model gave the
    right token 49% or 0.001%, which cross-entropy (fl.perplexity) does see.

    >>> logits = torch.tensor([[3.0, 1.0, 0.0], [0.0, 2.0, 1.0]])
    >>> token_accuracy(logits, torch.tensor([0, 2])), token_accuracy(logits, torch.tensor([0, 2]), top_k=2)
    (0.5, 1.0)
    """
    flat_logits, flat_target = validation.logits_and_target(logits, target, ignore_index)  # (N, V), (N,)
    k = validation.positive_int(top_k, "top_k")
    if k > flat_logits.shape[1]:
        raise ValueError(f"top_k: expected at most the vocabulary size {flat_logits.shape[1]}, "
                         f"got {k}.")
    if ignore_index is not None:
        keep = flat_target != ignore_index
        flat_logits, flat_target = flat_logits[keep], flat_target[keep]
    n_tokens = flat_target.numel()
    if n_tokens == 0:
        raise _no_tokens("token_accuracy", ignore_index)
    correct = 0
    rows = max(1, _CHUNK_ELEMENTS // flat_logits.shape[1])
    for start in range(0, n_tokens, rows):
        chunk = flat_logits[start:start + rows]
        validation.all_finite(chunk, "logits")
        top = chunk.topk(k, dim=1).indices  # (rows, k)
        correct += int((top == flat_target[start:start + rows, None]).any(dim=1).sum())
    return correct / n_tokens
