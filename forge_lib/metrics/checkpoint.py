"""Keep the best model of a run, safely: `fl.BestCheckpoint`.

    best = fl.BestCheckpoint("best.pt", mode="min")       # lower is better (loss, perplexity)
    ...after each evaluation:
    best.update(val_loss, step=step, model=model, optimizer=opt, scheduler=sched,
                generator=batch_generator, extra={"history": history})
    ...after a crash, in a fresh process:
    info = best.restore(model=model, optimizer=opt, scheduler=sched, generator=batch_generator)
    info["step"], info["metric"], info["extra"]

What it does beyond `torch.save(model.state_dict(), "best.pt")`:
- saves only on improvement, and keeps everything needed to continue the run exactly: model,
  optimizer, scheduler, the metric, the step, and every random number generator's state (torch,
  Python, NumPy, the batch generator), so resuming on CPU gives bit-identical training;
- writes atomically: to a temporary file in the same folder, flushed to disk, then moved over
  the old file with os.replace, which is atomic on POSIX and Windows. A crash mid-write leaves
  the previous best intact (and, at worst, a stray `.best.pt.tmp-*` file);
- loads with torch.load(weights_only=True), which refuses anything but tensors and plain Python
  values, and turns a truncated, foreign or mismatched file into a ValueError that says so;
- records a SHA-256 of everything it saved (`payload_digest`) and checks it on loading, so a
  flipped bit on disk or an interrupted copy is reported instead of loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import random
import tempfile
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import torch

from forge_lib.metrics import validation

__all__ = ["BestCheckpoint", "atomic_save", "load_best_checkpoint", "is_improvement",
           "payload_digest", "save_verified", "load_verified",
           "capture_rng_state", "restore_rng_state", "simulated_crash", "SimulatedCrash",
           "simulated_bit_flip"]

_FORMAT = "forge_lib.best_checkpoint/2"  # /2: with a SHA-256 of the contents


def is_improvement(metric: float, best: float | None, *, mode: str = "min",
                   min_delta: float = 0.0) -> bool:
    """True when `metric` beats `best` by more than `min_delta` (None: nothing saved yet).

    A NaN or infinite metric is never an improvement: a broken evaluation must not overwrite a
    good model, and a -inf "loss" saved as the best could never be beaten again. A NaN `best`
    is refused (ValueError): nothing would ever beat it.

    >>> is_improvement(2.5, 3.0), is_improvement(2.5, 3.0, mode="max"), is_improvement(1.0, None)
    (True, False, True)
    """
    if mode not in ("min", "max"):
        raise ValueError(f"mode: expected 'min' (lower is better: loss, perplexity) or 'max' "
                         f"(higher is better: accuracy), got {mode!r}.")
    metric = validation.number(metric, "metric")
    min_delta = validation.non_negative_number(min_delta, "min_delta")  # how much better counts
    best = None if best is None else validation.number(best, "best")
    if best is not None and math.isnan(best):
        raise ValueError("best: expected None (nothing saved yet) or a number, got NaN; nothing "
                         "would ever count as better than a NaN best.")
    if not math.isfinite(metric):
        return False
    if best is None:
        return True
    return metric < best - min_delta if mode == "min" else metric > best + min_delta


def _generator(generator: object) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator or None, got "
                        f"{type(generator).__name__}.")


def capture_rng_state(generator: torch.Generator | None = None) -> dict:
    """Every random state a CPU training loop may draw from, as tensors and plain values.

    >>> state = capture_rng_state()
    >>> a = torch.rand(2); restore_rng_state(state); torch.equal(a, torch.rand(2))
    True
    """
    _generator(generator)
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": None,
             "generator": generator.get_state() if generator is not None else None,
             "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}
    try:
        import numpy as np
        kind, keys, pos, has_gauss, cached = np.random.get_state()
        # An ndarray would need allow-listing under weights_only=True; a tensor does not.
        state["numpy"] = (kind, torch.from_numpy(keys.astype("int64")), pos, has_gauss, cached)
    except ImportError:  # NumPy is optional here
        pass
    return state


def restore_rng_state(state: dict, generator: torch.Generator | None = None) -> None:
    """Put back the random states saved by capture_rng_state (and the batch generator's)."""
    if not isinstance(state, dict):
        raise TypeError(f"state: expected the dict fl.capture_rng_state() returned, got "
                        f"{type(state).__name__}.")
    if not {"torch", "python"} <= state.keys():
        raise ValueError(f"state: expected the dict fl.capture_rng_state() returned, with 'torch' "
                         f"and 'python' entries; got the keys {sorted(state)}.")
    _generator(generator)
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if state.get("numpy") is not None:
        import numpy as np
        kind, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((kind, keys.numpy().astype("uint32"), pos, has_gauss, cached))
    if generator is not None:
        if state.get("generator") is None:
            raise ValueError("restore_rng_state: a generator was passed, but the checkpoint "
                             "holds no generator state (it was saved without one).")
        generator.set_state(state["generator"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def atomic_save(obj: object, path: str | Path) -> None:
    """torch.save `obj` to `path` so that a crash leaves either the old file or the new one.

    Writes a temporary file in the same folder (os.replace is atomic only within one file
    system), flushes and fsyncs it, then renames it over `path`.

    >>> folder = tempfile.mkdtemp()
    >>> atomic_save({"x": torch.ones(2)}, Path(folder) / "a.pt")
    >>> torch.load(Path(folder) / "a.pt", weights_only=True)["x"].tolist()
    [1.0, 1.0]
    """
    path = validation.path(path, "path")
    if path.is_dir():
        raise IsADirectoryError(f"path: {path.name!r} is a folder; pass a file name inside it, "
                                f"e.g. {path.name}/best.pt.")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"path: the folder {path.parent.name!r} for {path.name!r} does not "
                                f"exist; create it first (Path.mkdir(parents=True)).")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file what open() would
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)
    except BaseException:  # including KeyboardInterrupt: never leave a half file behind
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX only)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def payload_digest(obj: object) -> str:
    """SHA-256 of a checkpoint's contents: each tensor's dtype, shape and bytes, each other value's
    type and repr, dict keys in sorted order. The same after a torch.save/torch.load round trip.

    >>> payload_digest({"w": torch.zeros(2)}) == payload_digest({"w": torch.zeros(2)})
    True
    >>> payload_digest({"w": torch.zeros(2)}) == payload_digest({"w": torch.tensor([0.0, 1e-30])})
    False
    """
    digest = hashlib.sha256()
    _feed(digest, obj)
    return digest.hexdigest()


def _feed(digest: hashlib._Hash, obj: object) -> None:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        digest.update(f"T{t.dtype}{tuple(t.shape)}:".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, dict):
        digest.update(b"{")
        for key in sorted(obj, key=repr):
            _feed(digest, key)
            _feed(digest, obj[key])
        digest.update(b"}")
    elif isinstance(obj, (list, tuple)):
        digest.update(b"[" if isinstance(obj, list) else b"(")
        for item in obj:
            _feed(digest, item)
        digest.update(b"]")
    else:
        digest.update(f"{type(obj).__name__}:{obj!r};".encode())


# What torch.load(weights_only=True) reads back. Anything else (a NumPy scalar, a Path, a set,
# a custom class) would be saved without complaint and refused at loading, too late.
_PLAIN = (type(None), bool, int, float, complex, str, bytes, torch.dtype, torch.device)
_SEQUENCES = (list, tuple, torch.Size)


def _check_loadable(obj: object, where: str) -> None:
    if isinstance(obj, torch.Tensor) or type(obj) in _PLAIN:
        return
    if type(obj) in (dict, OrderedDict):
        for key, value in obj.items():
            _check_loadable(key, f"{where} key {key!r}")
            _check_loadable(value, f"{where}[{key!r}]")
    elif type(obj) in _SEQUENCES:
        for i, item in enumerate(obj):
            _check_loadable(item, f"{where}[{i}]")
    else:
        raise TypeError(f"{where}: {type(obj).__name__} values cannot be read back by "
                        f"torch.load(weights_only=True). Store tensors and plain Python values "
                        f"only: float(x) for a NumPy number, x.tolist() for an array, str(path), "
                        f"a sorted list for a set, a plain dict for a defaultdict.")


def save_verified(payload: dict, path: str | Path) -> None:
    """atomic_save of `payload` with its SHA-256 added under "sha256" (load_verified checks it).

    The payload is checked first: only tensors and plain Python values, which is what
    torch.load(weights_only=True) will read back.
    """
    _check_loadable(payload, "payload")
    atomic_save({**payload, "sha256": payload_digest(payload)}, path)


_BARE_STATE_DICT_HINT = (" It looks like a bare state_dict: load it with "
                         "model.load_state_dict(torch.load(path, weights_only=True)).")


def load_verified(path: str | Path, expected_format: str, caller: str, kind: str) -> dict:
    """torch.load(weights_only=True) a file written by save_verified, and check it: readable,
    of `expected_format`, and with contents whose SHA-256 is the one recorded at saving."""
    path = validation.path(path, "path")
    if not path.is_file():
        raise FileNotFoundError(f"{caller}: no checkpoint at {path.name!r}.")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, empty file, text file, custom classes, ...
        raise ValueError(
            f"{caller}: {path.name!r} ({path.stat().st_size:,} bytes) is not a "
            f"complete checkpoint. It may be truncated (a crash during a non-atomic save), not "
            f"written by torch.save, or hold objects that weights_only=True refuses. "
            f"torch.load said: {(str(exc).splitlines() or [''])[0][:200]}") from exc
    if not isinstance(blob, dict) or blob.get("format") != expected_format:
        found = blob.get("format", "no 'format' key") if isinstance(blob, dict) else \
            type(blob).__name__
        bare = isinstance(blob, dict) and "format" not in blob
        raise ValueError(f"{caller}: {path.name!r} is not a {kind} file "
                         f"(expected format {expected_format!r}, found {found!r})."
                         + (_BARE_STATE_DICT_HINT if bare else ""))
    recorded = blob.pop("sha256", None)
    if recorded != payload_digest(blob):
        raise ValueError(f"{caller}: {path.name!r} is corrupted: its contents do not match the "
                         f"SHA-256 recorded when it was saved (a flipped bit on disk, an "
                         f"interrupted copy, or an edit). Restore it from a backup or rebuild it.")
    return blob


def load_best_checkpoint(path: str | Path) -> dict:
    """Read and check a file written by BestCheckpoint; raises a ValueError that says what is wrong.

    Returns the saved dict: format, mode, metric, step, model, optimizer, optimizer_class,
    scheduler, rng, extra.
    """
    return load_verified(path, _FORMAT, "load_best_checkpoint", "fl.BestCheckpoint")


def _stateful(*, model: object, optimizer: object, scheduler: object, generator: object) -> None:
    """The objects BestCheckpoint saves and restores, checked before any file is touched."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}.")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer: expected a torch.optim.Optimizer or None, got "
                        f"{type(optimizer).__name__}.")
    if scheduler is not None and not hasattr(scheduler, "state_dict"):
        raise TypeError(f"scheduler: expected a learning-rate scheduler (with .state_dict()) or "
                        f"None, got {type(scheduler).__name__}.")
    _generator(generator)


class BestCheckpoint:
    """Save the training state whenever the metric improves; restore it to resume.

    path: the file (its folder must exist). mode: "min" or "max". min_delta: how much better a
    metric must be to count. An existing valid file at `path` is taken as the best so far, so a
    restarted run does not overwrite a better model with a worse one.

    >>> folder = tempfile.mkdtemp()
    >>> best = BestCheckpoint(Path(folder) / "best.pt", mode="min")
    >>> model = torch.nn.Linear(2, 1)
    >>> [best.update(m, step=s, model=model) for s, m in [(1, 3.0), (2, 2.0), (3, 2.5)]]
    [True, True, False]
    >>> best.best, best.best_step
    (2.0, 2)
    """

    def __init__(self, path: str | Path, mode: str = "min", *, min_delta: float = 0.0) -> None:
        is_improvement(0.0, None, mode=mode, min_delta=min_delta)  # validates both, early
        self.path = validation.path(path, "path")
        self.mode = mode
        self.min_delta = validation.number(min_delta, "min_delta")
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"BestCheckpoint: the folder for {self.path.name!r} does not "
                                    f"exist; create it first (Path.mkdir(parents=True)).")
        self.best: float | None = None
        self.best_step: int | None = None
        if self.path.exists():
            blob = load_best_checkpoint(self.path)
            if blob["mode"] != mode:
                raise ValueError(f"BestCheckpoint: {self.path.name!r} was saved with "
                                 f"mode={blob['mode']!r}, not {mode!r}; use another path.")
            self.best, self.best_step = blob["metric"], blob["step"]

    def update(self, metric: float, *, step: int, model: torch.nn.Module,
               optimizer: torch.optim.Optimizer | None = None,
               scheduler: object | None = None, generator: torch.Generator | None = None,
               extra: dict | None = None) -> bool:
        """Offer the latest metric; saves (atomically) and returns True only if it improved."""
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise TypeError(f"step: expected an int >= 0, got {step!r}.")
        _stateful(model=model, optimizer=optimizer, scheduler=scheduler, generator=generator)
        if extra is not None:
            _check_loadable(extra, "extra")
        metric = validation.number(metric, "metric")
        if not is_improvement(metric, self.best, mode=self.mode, min_delta=self.min_delta):
            return False
        save_verified({
            "format": _FORMAT, "mode": self.mode, "metric": metric, "step": step,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict() if optimizer is not None else None,
            "optimizer_class": type(optimizer).__name__ if optimizer is not None else None,
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "rng": capture_rng_state(generator),
            "extra": extra,
        }, self.path)
        self.best, self.best_step = metric, step  # only after the file is safely in place
        return True

    def restore(self, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None,
                scheduler: object | None = None, generator: torch.Generator | None = None,
                rng: bool = True) -> dict:
        """Load the best state into the given objects; returns {"step", "metric", "extra"}.

        rng=True also restores the global torch, Python and NumPy random states, which a
        bit-identical resume needs (dropout, shuffling).
        """
        _stateful(model=model, optimizer=optimizer, scheduler=scheduler, generator=generator)
        validation.flag(rng, "rng")
        blob = load_best_checkpoint(self.path)
        try:
            model.load_state_dict(blob["model"])
        except RuntimeError as exc:
            raise ValueError(f"BestCheckpoint.restore: the saved weights do not fit this model "
                             f"(different architecture?): {str(exc).splitlines()[0]}") from exc
        for name, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
            if obj is None:
                continue
            if blob[name] is None:
                raise ValueError(f"BestCheckpoint.restore: a {name} was passed, but the "
                                 f"checkpoint was saved without one.")
            if name == "optimizer" and type(obj).__name__ != blob["optimizer_class"]:
                # load_state_dict would silently give this optimizer the saved one's settings
                raise ValueError(f"BestCheckpoint.restore: the checkpoint holds a "
                                 f"{blob['optimizer_class']} state, not a {type(obj).__name__} one; "
                                 f"pass the optimizer the run was saved with.")
            obj.load_state_dict(blob[name])
        if rng:
            restore_rng_state(blob["rng"], generator)
        self.best, self.best_step = blob["metric"], blob["step"]
        return {"step": blob["step"], "metric": blob["metric"], "extra": blob["extra"]}


def simulated_bit_flip(path: str | Path, saved: torch.Tensor, *, byte: int = 3) -> None:
    """Flip the lowest bit of byte `byte` of the first element of `saved` where the file at
    `path` stores it (torch's zip format keeps tensors as raw bytes): what a bad disk sector or
    a broken copy does. For demonstrations and tests that corruption is caught on loading.

    >>> folder = tempfile.mkdtemp()
    >>> weight = torch.arange(8.0)
    >>> torch.save({"w": weight}, Path(folder) / "w.pt")
    >>> simulated_bit_flip(Path(folder) / "w.pt", weight)
    >>> torch.load(Path(folder) / "w.pt", weights_only=True)["w"][:2].tolist()  # 0.0 -> 2**-125
    [2.350988701644575e-38, 1.0]
    """
    path = Path(path)
    data = bytearray(path.read_bytes())
    needle = saved.detach().reshape(-1)[:8].contiguous().view(torch.uint8).numpy().tobytes()
    at = data.find(needle)
    if at < 0 or not 0 <= byte < saved.element_size():
        raise ValueError(f"simulated_bit_flip: the bytes of `saved` are not in {path.name!r} "
                         f"(or byte={byte} is outside one element).")
    data[at + byte] ^= 0x01
    path.write_bytes(bytes(data))


class SimulatedCrash(RuntimeError):
    """Raised by simulated_crash() in place of the power cut it stands for."""


@contextlib.contextmanager
def simulated_crash(fraction: float = 0.5) -> Iterator[None]:
    """Make every torch.save inside the block write only `fraction` of its bytes, then raise
    SimulatedCrash: what a killed process or a full disk leaves behind. For demonstrations
    and tests of what survives a crash during a save.

    >>> folder = tempfile.mkdtemp()
    >>> with simulated_crash(0.5):
    ...     try:
    ...         torch.save({"x": torch.ones(1000)}, Path(folder) / "naive.pt")
    ...     except SimulatedCrash:
    ...         pass
    >>> 0 < (Path(folder) / "naive.pt").stat().st_size < 4000
    True
    """
    if not 0 <= validation.number(fraction, "fraction") < 1:
        raise ValueError(f"fraction: expected a number in [0, 1), got {fraction!r}.")
    real_save = torch.save

    def crashing_save(obj, f, *args, **kwargs):
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        data = buffer.getvalue()[:int(len(buffer.getvalue()) * fraction)]
        if isinstance(f, (str, os.PathLike)):
            with open(f, "wb") as out:
                out.write(data)
        else:
            f.write(data)
            f.flush()
        raise SimulatedCrash(f"simulated crash after writing {len(data):,} bytes")

    with mock.patch.object(torch, "save", crashing_save):
        yield
