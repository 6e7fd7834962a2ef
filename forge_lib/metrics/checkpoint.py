"""Keep the best model of a run and its last state, safely: `fl.BestCheckpoint`.

    ckpt = fl.BestCheckpoint("best.pt", mode="min", last="last.pt", run_id="exp-7")
    ...after each evaluation (lower is better: loss, perplexity):
    ckpt.update(val_loss, step=step, model=model, optimizer=opt, scheduler=sched,
                generator=batch_generator, extra={"history": history})
    ...after a crash, in a fresh process: resume from the *last* state, not the best one
    ckpt = fl.BestCheckpoint("best.pt", mode="min", last="last.pt", run_id="exp-7", resume=True)
    info = ckpt.restore(model=model, optimizer=opt, scheduler=sched, generator=batch_generator,
                        which="last")
    info["step"], info["metric"], info["extra"]
    ...for evaluation: ckpt.restore(model=model, which="best", rng=False)

What it does beyond `torch.save(model.state_dict(), "best.pt")`:
- saves the best state only on improvement, and (with `last=`) the latest state at every update,
  as Lightning's save_last and ignite's Checkpoint do: resuming from the best state of an
  overfitting run would throw away every step after it. Each holds everything needed to continue
  the run exactly: model, optimizer, scheduler, the metric, the step, and every random number
  generator's state (torch, Python, NumPy, the batch generator), so resuming on CPU gives
  bit-identical training;
- never adopts a file it was not told to: a new run that finds a checkpoint at its path is
  refused with a description of that file, since its metric would be the one to beat and
  restore() would load its weights. Continuing a run is explicit: `resume=True`, and the file's
  `run_id` (a name or a digest of the run's config) must be this run's;
- writes atomically: to a temporary file in the same folder, flushed to disk, then moved over
  the old file with os.replace, which is atomic on POSIX and Windows. A crash mid-write leaves
  the previous file intact (and, at worst, a stray `.best.pt.tmp-*` file);
- loads with torch.load(weights_only=True), which refuses anything but tensors and plain Python
  values, and turns a truncated, foreign or mismatched file into a ValueError that says so;
- records a SHA-256 of everything it saved (`payload_digest`) and checks it on loading, so a
  flipped bit on disk or an interrupted copy is reported instead of loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import random
import secrets
import tempfile  # noqa: F401 - the docstring examples make their folders with it
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import torch

from forge_lib.metrics import validation
from forge_lib.metrics.fmt import fmt

__all__ = ["BestCheckpoint", "atomic_save", "load_best_checkpoint", "is_improvement",
           "payload_digest", "save_verified", "load_verified",
           "capture_rng_state", "restore_rng_state"]

_FORMAT = "forge_lib.best_checkpoint/2"  # /2: with a SHA-256 of the contents
# What every BestCheckpoint file holds besides the format tag. "run_id" and "role" came later
# within /2 and are read with .get (None: a file saved before them), so older files still load.
_KEYS = ("mode", "metric", "step", "model", "optimizer", "optimizer_class", "scheduler", "rng",
         "extra")
_HASH_KEY = "sha256"  # where save_verified records the digest; reserved in every payload


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


def _not_a_folder(path: Path, who: str) -> None:
    """The one check that a checkpoint path is not a folder (for writing and for reading)."""
    if path.is_dir():
        raise IsADirectoryError(f"{who}: {path.name!r} is a folder, not a checkpoint file; pass "
                                f"a file name inside it, e.g. {path.name}/best.pt.")


def _file_path(path: object, name: str) -> Path:
    """`path` as a file that can be written: not a folder, and in a folder that exists."""
    path = validation.path(path, name)
    _not_a_folder(path, name)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{name}: the folder {path.parent.name!r} for {path.name!r} does "
                                f"not exist; create it first (Path.mkdir(parents=True)).")
    return path


_O_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def _new_temp_file(path: Path) -> tuple[int, Path]:
    """Create `.<name>.tmp-<random>` next to `path`, as open(..., "wb") would create a file.

    Mode 0o666, from which the kernel removes the process's umask itself: the file gets what
    torch.save would have given it, and the umask is never read. (Reading it means setting it,
    os.umask(0) then back, and the umask is process-wide: a thread creating a file in between
    would get a world-writable one.) O_EXCL never opens an existing file or follows a symlink.
    """
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(6)}")
        try:
            return os.open(tmp, _O_NEW_FILE, 0o666), tmp
        except FileExistsError:  # a 1-in-2**48 collision, or a leftover: draw another name
            continue
    raise FileExistsError(f"atomic_save: could not create a temporary file next to {path.name!r}.")


def atomic_save(obj: object, path: str | Path) -> None:
    """torch.save `obj` to `path` so that a crash leaves either the old file or the new one.

    Writes a temporary file in the same folder (os.replace is atomic only within one file
    system), flushes and fsyncs it, then renames it over `path`. The file gets the permissions
    that torch.save(obj, path) would give it (0o666 less the umask).

    >>> folder = tempfile.mkdtemp()
    >>> atomic_save({"x": torch.ones(2)}, Path(folder) / "a.pt")
    >>> torch.load(Path(folder) / "a.pt", weights_only=True)["x"].tolist()
    [1.0, 1.0]
    """
    path = _file_path(path, "path")
    fd, tmp = _new_temp_file(path)
    try:
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
    # Only what a checkpoint can hold: a function or an arbitrary object has no stable content,
    # and its repr (an address) would make two digests of the same thing differ.
    _check_loadable(obj, "payload_digest: obj")
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
                        f"torch.load(weights_only=True): expected tensors and plain Python values "
                        f"only, got a {type(obj).__name__}. Store float(x) for a NumPy number, "
                        f"x.tolist() for an array, str(path), a sorted list for a set, a plain "
                        f"dict for a defaultdict.")


def save_verified(payload: dict, path: str | Path) -> None:
    """atomic_save of `payload` with its SHA-256 added under "sha256" (load_verified checks it).

    The payload is checked first: a dict of only tensors and plain Python values, which is what
    torch.load(weights_only=True) will read back, and without a "sha256" key of its own (that
    key holds the digest; a value of the caller's there would be overwritten, and the file would
    then fail its check on loading).

    >>> folder = tempfile.mkdtemp()
    >>> save_verified({"format": "demo/1", "w": torch.ones(2)}, Path(folder) / "w.pt")
    >>> load_verified(Path(folder) / "w.pt", "demo/1", "demo", "demo")["w"].tolist()
    [1.0, 1.0]
    """
    if not isinstance(payload, Mapping):
        raise TypeError(f"payload: expected a dict of tensors and plain Python values (e.g. "
                        f"{{'model': model.state_dict()}}), got {type(payload).__name__}.")
    if _HASH_KEY in payload:
        raise ValueError(f"payload: the key {_HASH_KEY!r} is reserved: save_verified stores the "
                         f"payload's SHA-256 under it. Rename your key (e.g. 'data_sha256').")
    _check_loadable(payload, "payload")
    atomic_save({**payload, _HASH_KEY: payload_digest(payload)}, path)


_BARE_STATE_DICT_HINT = (" It looks like a bare state_dict: load it with "
                         "model.load_state_dict(torch.load(path, weights_only=True)).")


def load_verified(path: str | Path, expected_format: str, caller: str, kind: str) -> dict:
    """torch.load(weights_only=True) a file written by save_verified, and check it: readable,
    of `expected_format`, and with contents whose SHA-256 is the one recorded at saving."""
    path = validation.path(path, "path")
    _not_a_folder(path, caller)
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
    recorded = blob.pop(_HASH_KEY, None)
    if recorded != payload_digest(blob):
        raise ValueError(f"{caller}: {path.name!r} is corrupted: its contents do not match the "
                         f"SHA-256 recorded when it was saved (a flipped bit on disk, an "
                         f"interrupted copy, or an edit). Restore it from a backup or rebuild it.")
    return blob


def load_best_checkpoint(path: str | Path) -> dict:
    """Read and check a file written by BestCheckpoint; raises a ValueError that says what is wrong.

    Returns the saved dict: format, mode, metric, step, model, optimizer, optimizer_class,
    scheduler, rng, extra, and run_id and role ("best" or "last"; None in older files).
    """
    path = validation.path(path, "path")
    blob = load_verified(path, _FORMAT, "load_best_checkpoint", "fl.BestCheckpoint")
    missing = [key for key in _KEYS if key not in blob]
    if missing:  # the right tag and a valid hash, but written by other code (or edited, re-hashed)
        raise ValueError(f"load_best_checkpoint: {path.name!r} lacks the key(s) {missing} that "
                         f"every fl.BestCheckpoint file holds; it was written by other code under "
                         f"the same format tag. Save the run again with fl.BestCheckpoint.")
    return blob


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


def _run_id(run_id: object) -> str | None:
    if run_id is not None and not (isinstance(run_id, str) and run_id):
        raise TypeError(f"run_id: expected a non-empty str naming the run (e.g. a digest of its "
                        f"config) or None, got {type(run_id).__name__} {run_id!r:.60}.")
    return run_id


def _refusal(path: Path) -> FileExistsError:
    """The error for a new run that finds `path` taken: what is there, and the two ways on."""
    try:
        blob = load_best_checkpoint(path)
    except ValueError as exc:  # nothing to resume from: say what is wrong with it
        reason = str(exc).split(" torch.load said")[0].split(": ", 1)[-1]
        return FileExistsError(f"BestCheckpoint: {path.name!r} already exists and is not a "
                               f"readable fl.BestCheckpoint file ({reason}). Move it away or use "
                               f"another path.")
    run_id = blob.get("run_id")
    owner = f"run {run_id!r}" if run_id else "a run saved without a run_id"
    return FileExistsError(
        f"BestCheckpoint: {path.name!r} already holds the {blob.get('role') or 'best'} "
        f"checkpoint of {owner} (mode={blob['mode']!r}): metric {fmt(blob['metric'])} at step "
        f"{blob['step']}. A new run does not take it over (its metric would be the one to beat, "
        f"and restore() would load its weights). To continue that run, pass resume=True"
        f"{f', run_id={run_id!r}' if run_id else ''}; for a new run, use another path or delete "
        f"the file.")


class BestCheckpoint:
    """Save the training state whenever the metric improves (and at every update to `last`);
    restore either to resume or to evaluate.

    path: the best checkpoint's file (its folder must exist). mode: "min" or "max". min_delta: how
    much better a metric must be to count. last: a second file that update() always overwrites
    with the latest state, the one to resume from after a crash (None: no last checkpoint).
    run_id: a name for the run (e.g. a digest of its config), saved in both files.
    resume: False (default) refuses to start if either file exists, saying what is there, so
    that a new experiment never inherits another one's best metric or weights; True adopts
    them, after checking that they were saved with this mode and this run_id (a restarted run).

    >>> folder = Path(tempfile.mkdtemp())
    >>> ckpt = BestCheckpoint(folder / "best.pt", mode="min", last=folder / "last.pt")
    >>> model = torch.nn.Linear(2, 1)
    >>> [ckpt.update(m, step=s, model=model) for s, m in [(1, 3.0), (2, 2.0), (3, 2.5)]]
    [True, True, False]
    >>> ckpt.best, ckpt.best_step, ckpt.last_step
    (2.0, 2, 3)
    >>> BestCheckpoint(folder / "best.pt")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    FileExistsError: BestCheckpoint: 'best.pt' already holds the best checkpoint of a run saved ...
    >>> BestCheckpoint(folder / "best.pt", last=folder / "last.pt", resume=True).last_step
    3
    """

    def __init__(self, path: str | Path, mode: str = "min", *, min_delta: float = 0.0,
                 last: str | Path | None = None, resume: bool = False,
                 run_id: str | None = None) -> None:
        is_improvement(0.0, None, mode=mode, min_delta=min_delta)  # validates both, early
        self.path = _file_path(path, "path")
        self.last_path = None if last is None else _file_path(last, "last")
        if self.last_path is not None and self.last_path.resolve() == self.path.resolve():
            raise ValueError(f"last: {self.last_path.name!r} is the same file as path; the last "
                             f"checkpoint needs a file of its own (e.g. last.pt beside best.pt).")
        self.mode = mode
        self.min_delta = validation.number(min_delta, "min_delta")
        self.run_id = _run_id(run_id)
        validation.flag(resume, "resume")
        self.best: float | None = None
        self.best_step: int | None = None
        self.last_step: int | None = None
        for which, file in self._files():
            if not file.exists():
                continue
            if not resume:
                raise _refusal(file)
            self._adopt(which, self._load(file))

    def _files(self) -> list[tuple[str, Path]]:
        return [("best", self.path)] + ([("last", self.last_path)] if self.last_path else [])

    def _load(self, file: Path) -> dict:
        """Load one of this run's files: verified, and saved with this mode and this run_id (the
        one check, at adoption and at every restore, since a file can be replaced in between)."""
        blob = load_best_checkpoint(file)
        if blob["mode"] != self.mode:
            raise ValueError(f"BestCheckpoint: {file.name!r} was saved with "
                             f"mode={blob['mode']!r}, not {self.mode!r}; use another path.")
        if blob.get("run_id") != self.run_id:
            raise ValueError(f"BestCheckpoint: {file.name!r} belongs to run "
                             f"{blob.get('run_id')!r}, not {self.run_id!r}; pass that run_id to "
                             f"continue it, or use another path for this run.")
        return blob

    def _adopt(self, which: str, blob: dict) -> None:
        """Follow a file's contents in memory: the best so far, or the last step saved."""
        if which == "best":
            self.best, self.best_step = blob["metric"], blob["step"]
        else:
            self.last_step = blob["step"]

    def update(self, metric: float, *, step: int, model: torch.nn.Module,
               optimizer: torch.optim.Optimizer | None = None,
               scheduler: object | None = None, generator: torch.Generator | None = None,
               extra: dict | None = None) -> bool:
        """Offer the latest metric: saves the best file (atomically) and returns True only if it
        improved; with `last`, saves the last file every time, improved or not (even for a NaN
        metric: it is where the run stands)."""
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise TypeError(f"step: expected an int >= 0, got {step!r}.")
        _stateful(model=model, optimizer=optimizer, scheduler=scheduler, generator=generator)
        if extra is not None:
            _check_loadable(extra, "extra")
        metric = validation.number(metric, "metric")
        improved = is_improvement(metric, self.best, mode=self.mode, min_delta=self.min_delta)
        if not improved and self.last_path is None:
            return False
        state = {
            "format": _FORMAT, "mode": self.mode, "metric": metric, "step": step,
            "run_id": self.run_id,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict() if optimizer is not None else None,
            "optimizer_class": type(optimizer).__name__ if optimizer is not None else None,
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "rng": capture_rng_state(generator),
            "extra": extra,
        }
        for which, file in self._files():
            if which == "best" and not improved:
                continue
            save_verified({**state, "role": which}, file)
            self._adopt(which, state)  # only after the file is safely in place
        return improved

    def restore(self, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None,
                scheduler: object | None = None, generator: torch.Generator | None = None,
                rng: bool = True, which: str = "best") -> dict:
        """Load the saved state into the given objects; returns {"step", "metric", "extra"}.

        which="last" to resume after a crash (the latest state), "best" to evaluate the best
        model. rng=True also restores the global torch, Python and NumPy random states, which a
        bit-identical resume needs (dropout, shuffling).
        """
        _stateful(model=model, optimizer=optimizer, scheduler=scheduler, generator=generator)
        validation.flag(rng, "rng")
        if which not in ("best", "last"):
            raise ValueError(f"which: expected 'best' (the best metric's state, to evaluate) or "
                             f"'last' (the latest state, to resume), got {which!r}.")
        if which == "last" and self.last_path is None:
            raise ValueError("BestCheckpoint.restore: no last checkpoint is kept; pass "
                             "last=<a file> to BestCheckpoint to save one at every update.")
        blob = self._load(self.path if which == "best" else self.last_path)
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
        self._adopt(which, blob)
        return {"step": blob["step"], "metric": blob["metric"], "extra": blob["extra"]}
