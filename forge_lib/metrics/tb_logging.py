"""Log a training run to TensorBoard event files, offline, and read them back for plotting.

    with fl.TensorBoardLogger(logdir) as log:          # a torch.utils.tensorboard SummaryWriter
        fl.train_tiny(config, callback=log)            # one call per step: train/*, val/*
    scalars = fl.read_scalars(logdir)                  # {"train/loss": (steps, values), ...}

Metric names follow the usual "split/metric" convention, which TensorBoard, Weights & Biases and
MLflow all group into sections by the prefix:

    train/loss, train/perplexity, train/learning_rate, train/gradient_norm   (every step)
    val/loss, val/perplexity                                                 (every evaluation)

Two facts worth knowing, both measured in notebook 11: TensorBoard stores scalars as float32
(about 7 significant digits), and the perplexity of a diverged step is inf rather than an
OverflowError that would kill the run from a logging line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from forge_lib.metrics import validation
from forge_lib.metrics.text import ppl_from_loss

__all__ = ["record_scalars", "TensorBoardLogger", "read_scalars", "smooth_like_tensorboard"]


def _tensorboard_missing(what: str, exc: ImportError) -> ImportError:
    """TensorBoard is an optional extra (forge_lib[course]): say so, and how to get it."""
    return ImportError(f"{what} needs TensorBoard, which is not installed ({exc}). It is an optional "
                       f"extra of forge_lib: `pip install '.[course]'` in the course checkout, or "
                       f"`pip install tensorboard` (requirements.txt pins the version).")


def _logged_perplexity(loss: float) -> float:
    """fl.ppl_from_loss (overflow gives inf), except that a NaN or infinite loss is logged as
    is: a logger records a run that diverged instead of stopping it, and exp(NaN) is NaN."""
    return ppl_from_loss(loss) if math.isfinite(loss) else loss


def record_scalars(record: dict) -> dict[str, float]:
    """The TensorBoard scalars for one training-loop record (as fl.run_training passes it).

    record: {"step", "train_loss", "grad_norm", "lr"} and, on evaluation steps, "val_loss".

    >>> record_scalars({"step": 7, "train_loss": 0.0, "grad_norm": 1.5, "lr": 0.001})
    {'train/loss': 0.0, 'train/perplexity': 1.0, 'train/learning_rate': 0.001, 'train/gradient_norm': 1.5}
    """
    if not isinstance(record, dict) or "train_loss" not in record:
        raise TypeError(f"record: expected a dict with at least 'train_loss' (and 'step', 'lr', "
                        f"'grad_norm', optionally 'val_loss'), got {record!r:.80}.")
    def value(key: str) -> float:  # NaN and inf are logged as they are: a diverged step is data
        return validation.number(record[key], f"record[{key!r}]")

    loss = value("train_loss")
    scalars = {"train/loss": loss, "train/perplexity": _logged_perplexity(loss)}
    if "lr" in record:
        scalars["train/learning_rate"] = value("lr")
    if "grad_norm" in record:
        scalars["train/gradient_norm"] = value("grad_norm")
    if "val_loss" in record:
        scalars["val/loss"] = value("val_loss")
        scalars["val/perplexity"] = _logged_perplexity(value("val_loss"))
    return scalars


class TensorBoardLogger:
    """A SummaryWriter that takes fl.run_training's records; usable as its callback.

    Call it as logger(state, record) (the callback signature, returns None so training goes
    on) or logger.log(record). Close it, or use it as a context manager, to flush the file.
    """

    def __init__(self, logdir: str | Path, *, flush_secs: int = 10) -> None:
        try:  # imported here: it is slow to load, and TensorBoard is an optional extra
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise _tensorboard_missing("fl.TensorBoardLogger", exc) from exc
        self.logdir = validation.path(logdir, "logdir")
        validation.positive_number(flush_secs, "flush_secs")
        self.writer = SummaryWriter(log_dir=str(self.logdir), flush_secs=flush_secs)

    def log(self, record: dict) -> None:
        if not isinstance(record, dict) or "step" not in record:
            raise TypeError("record: expected a dict with a 'step' entry, the x-axis of every "
                            "curve.")
        step = validation.non_negative_int(record["step"], "record['step']")  # int(1.5) would be 1
        for name, value in record_scalars(record).items():
            self.writer.add_scalar(name, value, global_step=step)

    def __call__(self, state: object, record: dict) -> None:
        self.log(record)

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> TensorBoardLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_scalars(logdir: str | Path) -> dict[str, tuple[list[int], list[float]]]:
    """Every scalar series in a TensorBoard log folder: {tag: (steps, values)}, in step order.

    Uses TensorBoard's own EventAccumulator with no sampling (by default it keeps only 10,000
    points a tag, chosen at random, which would silently thin a long run).
    """
    # Why not tbparse (pip install tbparse), the usual "event files to a DataFrame" package:
    # it wraps this same EventAccumulator (with the same size_guidance=0), so it reads nothing
    # differently, and it adds pandas (about 60 MB installed) for a dict of two lists a tag.
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError as exc:
        raise _tensorboard_missing("fl.read_scalars", exc) from exc

    logdir = validation.path(logdir, "logdir")
    if not logdir.is_dir():
        raise FileNotFoundError(f"logdir: no log folder named {logdir.name!r}.")
    if not any(logdir.glob("events.out.tfevents.*")):
        raise ValueError(f"logdir: {logdir.name!r} holds no TensorBoard event files "
                         f"(events.out.tfevents.*). Was the writer closed (flushed)?")
    for events_file in sorted(logdir.glob("events.out.tfevents.*")):
        _check_event_file(events_file)
    accumulator = EventAccumulator(str(logdir), size_guidance={"scalars": 0})
    accumulator.Reload()
    out = {}
    for tag in sorted(accumulator.Tags()["scalars"]):
        events = sorted(accumulator.Scalars(tag), key=lambda e: e.step)
        out[tag] = ([e.step for e in events], [e.value for e in events])
    return out


def _check_event_file(path: Path) -> None:
    """Every record of an event file whole and with matching CRC-32Cs, or a ValueError.

    EventAccumulator logs a damaged record and stops reading that file: a truncated or
    overwritten file would come back as fewer points, or as {}, without an error.
    """
    from tensorboard.compat.tensorflow_stub import errors
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import PyRecordReader_New

    reader = PyRecordReader_New(str(path))
    records = 0
    try:
        while True:
            reader.GetNext()  # checks the length's and the data's CRC-32C
            records += 1
    except errors.OutOfRangeError:
        return  # the end of a whole file
    except errors.DataLossError as exc:
        why = str(exc).split(str(path))[-1].strip()  # "failed event crc32 check", ...
        raise ValueError(f"logdir: expected whole event files, but {path.name!r} is damaged "
                         f"after {records} whole record(s): the next one {why}. Reading on "
                         f"would silently drop every later point. A writer still running may "
                         f"be mid-record: close it first; otherwise the file was truncated or "
                         f"overwritten.") from None
    finally:
        reader.file_handle.close()


def smooth_like_tensorboard(values: Sequence[float], weight: float = 0.6) -> list[float]:
    """TensorBoard's "Smoothing" slider: an exponential moving average, debiased at the start.

    Without the debiasing the first points would be pulled toward 0 (the average starts empty).
    Non-finite values pass through unsmoothed, as in TensorBoard.

    >>> [round(v, 4) for v in smooth_like_tensorboard([1.0, 1.0, 4.0], weight=0.5)]
    [1.0, 1.0, 2.7143]
    """
    if not 0 <= validation.number(weight, "weight") < 1:
        raise ValueError(f"weight: expected a number in [0, 1), got {weight!r}.")
    out, last, n = [], 0.0, 0
    for v in validation.float_sequence(values, "values", allow_empty=True):
        if not math.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        n += 1
        out.append(last / (1 - weight ** n))
    return out
