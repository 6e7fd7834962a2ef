"""The failures notebook 11 stages on purpose: a crash in the middle of a save, a flipped bit.

    with fl.simulated_crash(0.5):                    # torch.save writes half, then raises
        torch.save(state, "naive.pt")                # -> fl.SimulatedCrash
    fl.simulated_bit_flip("best.pt", saved_weight)   # what a bad disk sector does

They demonstrate what fl.atomic_save and fl.BestCheckpoint (forge_lib/metrics/checkpoint.py)
survive; a training loop never calls them, so they live in the course, not in metrics/.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile  # noqa: F401 - the docstring examples make their folders with it
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import torch

from forge_lib.metrics import validation

__all__ = ["simulated_crash", "SimulatedCrash", "simulated_bit_flip"]


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
    path = validation.path(path, "path")
    saved = validation.tensor(saved, "saved")
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
