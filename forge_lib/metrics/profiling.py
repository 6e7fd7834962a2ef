"""Measuring memory and time honestly: MemoryTracker, Timer, and repeated measurements.

    with fl.MemoryTracker("eval") as mem, fl.Timer("eval") as clock:
        result = fl.evaluate_lm(model, sentences)
    mem.peak_mb, mem.process_peak_mb, clock.elapsed_s      # MB above the level at entry; seconds
    fl.measure(lambda: model(ids), repeats=7, warmup=2)    # median and spread of several runs

What each memory figure sees (MB here is 10**6 bytes throughout):
- `process_peak_mb`: the peak resident memory (RSS) of the whole process above its level at entry.
  On Linux the kernel keeps the process's lifetime peak (VmHWM in /proc/self/status). By default
  (rss_method="auto") the tracker only reads it: when the block sets a new lifetime peak, that
  peak is the block's, exactly, whatever its duration; when the block stays under a peak the
  process reached earlier, the kernel's figure says nothing about the block, and a thread that
  samples RSS every 5 ms (running alongside) gives the figure, which can miss a shorter spike.
  rss_method="kernel" is the explicit opt-in to exact peaks of any block: it resets VmHWM at
  entry (writing "5" to /proc/self/clear_refs). That reset is not harmless: the kernel's peak is
  also the process's ru_maxrss (getrusage, /usr/bin/time -v, a parent's wait4), so every later
  report of the process's maximum RSS is lowered to what came after the reset.
  Elsewhere (macOS, Windows) only the sampler exists. FORGE_NO_PROC_PEAK=1 in the environment
  hides the kernel's peak, as on macOS or Windows, so the sampling fallback can be tested on
  Linux (`python -m forge_lib.tools.nbtools kernels portable` runs every notebook that way).
  RSS counts pages the process has touched: it sees tensors, NumPy arrays and Python objects
  alike, but not memory allocated and never written (torch.empty). Freed memory that the C
  allocator keeps for reuse would hide a later allocation, so the tracker hands it back to the
  OS at entry (glibc's malloc_trim); the next allocations pay a few page faults for that.
  RSS is itself an approximation: proc(5) calls VmRSS and VmHWM inaccurate, because of a
  kernel-internal scalability optimisation (counters kept per thread and folded in batches), so
  a kernel peak and a fast sampler can differ by a fraction of a MB either way.
- `python_peak_mb` (only with trace_python=True): tracemalloc's peak. It sees only allocations made
  through Python's allocator (and NumPy, which reports to it); a torch tensor is invisible to it.
  Tracing every Python allocation slows allocation-heavy Python code by an order of magnitude
  (benchmarks/bench_tracker.py measures it), hence opt-in.
- `cuda_peak_mb` and `cuda_reserved_peak_mb`: torch.cuda.max_memory_allocated and
  max_memory_reserved above their levels at entry, after resetting the peak statistics; None
  without CUDA. Allocated counts the memory occupied by tensors only; reserved is all the memory
  the caching allocator holds (freed blocks kept for reuse, rounding and fragmentation included),
  which is nearer to what nvidia-smi shows. Neither includes the CUDA context that the driver
  creates on the GPU, so nvidia-smi shows more than both (PyTorch's documentation of
  memory_allocated says so). torch.cuda.reset_peak_memory_stats resets the device's statistics
  for every reader in the process, not only for this tracker: code that reads
  max_memory_allocated itself (a training loop's logger) sees the peak since the tracker's entry.
  Nested trackers on one device hand each other their peaks, so they stay correct.
  PyTorch has no public statistics of its CPU allocator.
- `peak_mb`: the figure of the tracker's device: `cuda_peak_mb` on a CUDA device, else RSS.

Timing: `Timer` uses time.perf_counter (monotonic: it never goes back, unlike time.time, which
can be set; on Linux it is CLOCK_MONOTONIC, which NTP may slew, that is run slightly faster or
slower, but never steps) and, when the work is on a CUDA device, synchronises before starting and
before stopping, because kernels run asynchronously. `measure` repeats a function after warm-up
runs and reports median and spread.
"""

from __future__ import annotations

import ctypes
import gc
import math
import os
import statistics
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import torch

from forge_lib.metrics import validation

__all__ = ["MemoryTracker", "Timer", "Measurement", "measure", "summarize_times", "rss_mb",
           "peak_rss_mb", "reset_peak_rss", "kernel_peak_supported", "release_free_memory",
           "fix_mmap_threshold", "cuda_available", "MB"]

MB = 1_000_000  # bytes in a megabyte, as the figures here are reported

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_kernel_peak: bool | None = None     # can VmHWM be reset here? None until first asked
_active: list[MemoryTracker] = []    # trackers inside their `with` block, outermost first
_tracemalloc_owner: MemoryTracker | None = None  # the tracker that started tracemalloc, if any


# ---------------------------------------------------------------------------------------------
# Functional core: read and reset the meters.

def rss_mb() -> float:
    """The process's resident memory now, in MB (psutil; any OS).

    >>> rss_mb() > 0
    True
    """
    return psutil.Process().memory_info().rss / MB


def cuda_available() -> bool:
    """True when torch can use a CUDA device here (False on CPU-only builds and machines).

    >>> isinstance(cuda_available(), bool)
    True
    """
    return torch.cuda.is_available()


def _proc_peak_hidden() -> bool:
    """FORGE_NO_PROC_PEAK=1: behave as a system without the kernel's peak (read at each call)."""
    return os.environ.get("FORGE_NO_PROC_PEAK") == "1"


def peak_rss_mb() -> float | None:
    """The kernel's peak resident memory of this process since its last reset, in MB.

    Reads VmHWM from /proc/self/status (Linux); None where that file does not exist, or when
    FORGE_NO_PROC_PEAK=1 asks to behave as if it did not.

    >>> value = peak_rss_mb()
    >>> value is None or value >= rss_mb() * 0.5
    True
    """
    if _proc_peak_hidden():
        return None
    try:
        text = _STATUS.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / MB  # the kernel's "kB" is 1024 bytes
    return None


def kernel_peak_supported() -> bool:
    """Whether the kernel's peak RSS can be read and reset here (Linux 4.0+ with /proc).

    Asks without resetting anything: VmHWM must be readable and /proc/self/clear_refs writable
    (a kernel older than 4.0 refuses "5" there; reset_peak_rss then returns False).

    >>> isinstance(kernel_peak_supported(), bool)
    True
    """
    global _kernel_peak
    if _proc_peak_hidden():
        return False  # (hidden on purpose: not cached, the setting may change back)
    if _kernel_peak is None:
        _kernel_peak = peak_rss_mb() is not None and os.access(_CLEAR_REFS, os.W_OK)
    return _kernel_peak


def reset_peak_rss() -> bool:
    """Reset the kernel's peak RSS to the current RSS; return False where that is unsupported.

    A side effect beyond this process's own readings: the kernel's peak is also the ru_maxrss
    that getrusage, /usr/bin/time -v and a parent process's wait4 report, so they under-report
    the process's maximum afterwards. MemoryTracker does this only with rss_method="kernel".
    Every active MemoryTracker first takes note of the peak so far, so resetting inside a
    tracker's block never loses the outer tracker's peak.

    >>> if reset_peak_rss():
    ...     assert abs(peak_rss_mb() - rss_mb()) < 5.0
    """
    global _kernel_peak
    if not kernel_peak_supported():
        return False
    before = peak_rss_mb()
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:  # no permission, or a kernel without the feature
        _kernel_peak = False
        return False
    for tracker in _active:
        tracker._note_rss_reset(before)
    return True


def _load_glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim, libc.mallopt  # noqa: B018 (glibc has both; musl and macOS do not)
        return libc
    except (OSError, AttributeError):
        return None


_glibc = _load_glibc()
_malloc_trim = _glibc.malloc_trim if _glibc is not None else None
_M_MMAP_THRESHOLD = -3  # mallopt parameter number, from glibc's malloc.h


def fix_mmap_threshold(nbytes: int = 1 << 20) -> bool:
    """Make glibc give every allocation of at least `nbytes` its own mapping, unmapped on free.

    By default glibc raises this threshold as large blocks are freed (up to 32 MB); blocks under
    it are then carved from the heap and, once freed, often stay there, resident, fragmented
    between live ones. RSS then counts memory no tensor uses, and a loop of same-sized
    temporaries can grow RSS chunk after chunk. A fixed threshold (this call; it lasts for the
    rest of the process) makes RSS follow the live allocations of that size and above, at the
    cost of a system call and fresh zeroed pages for each of them. Same effect as starting
    Python with MALLOC_MMAP_THRESHOLD_=nbytes. False where glibc is absent.

    >>> isinstance(fix_mmap_threshold(1 << 20), bool)
    True
    """
    if isinstance(nbytes, bool) or not isinstance(nbytes, int) or not 0 < nbytes <= 1 << 25:
        raise ValueError(f"nbytes: expected an int in (0, 32 MB], got {nbytes!r}.")
    if _glibc is None:
        return False
    return bool(_glibc.mallopt(_M_MMAP_THRESHOLD, nbytes))


def release_free_memory() -> bool:
    """Hand memory that Python and the C allocator hold but no longer use back to the OS.

    glibc keeps freed blocks below its mmap threshold (up to 32 MB) for reuse; an allocation
    served from them does not raise RSS, so a block measured after a similar one would look
    cheaper than it is. MemoryTracker trims the C heap at entry; this also runs the garbage
    collector first, which frees objects kept alive only by reference cycles. False (after
    collecting) where glibc is absent.

    >>> isinstance(release_free_memory(), bool)
    True
    """
    gc.collect()
    if _malloc_trim is None:
        return False
    _malloc_trim(0)
    return True


class _RssSampler(threading.Thread):
    """Fallback: poll RSS every `interval_s` and keep the maximum. Can miss shorter spikes.

    Why 5 ms and not less: each poll needs the GIL, and on a busy machine a thread that wakes
    every millisecond stalls Python-heavy work noticeably while it waits to be scheduled.
    """

    def __init__(self, interval_s: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.interval_s = interval_s
        self.peak = rss_mb()
        self._done = threading.Event()
        self._process = psutil.Process()

    def run(self) -> None:
        while not self._done.wait(self.interval_s):
            self.peak = max(self.peak, self._process.memory_info().rss / MB)

    def stop(self) -> float:
        self._done.set()
        self.join()
        return max(self.peak, rss_mb())


def _canonical_device(device: torch.device, current_cuda_index: int = 0) -> torch.device:
    """The device with its index made explicit: "cuda" is the current CUDA device, "cuda:0".

    torch.device("cuda") == torch.device("cuda:0") is False, yet both name one GPU (when 0 is
    the current one), whose memory statistics are shared: trackers compare canonical devices.
    current_cuda_index: torch.cuda.current_device() (an argument, so this needs no GPU).

    >>> _canonical_device(torch.device("cuda")) == _canonical_device(torch.device("cuda:0"))
    True
    >>> _canonical_device(torch.device("cuda"), current_cuda_index=1)
    device(type='cuda', index=1)
    """
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", current_cuda_index)
    return device


def _to_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if cuda_available() else "cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device: expected None, a string such as 'cpu' or 'cuda', or a "
                        f"torch.device, got {type(device).__name__} {device!r}.")
    try:
        device = torch.device(device)
    except RuntimeError as exc:  # torch's message lists every backend it was built to know
        raise ValueError(f"device: {device!r} is not a device name; expected 'cpu', 'cuda' or "
                         f"'cuda:0' (or None).") from exc
    if device.type == "cuda" and not cuda_available():
        raise ValueError("device: 'cuda' was requested but torch sees no CUDA device here. "
                         "Pass device='cpu' (or None to pick CUDA only when it exists).")
    if device.type == "cuda":
        return _canonical_device(device, torch.cuda.current_device())
    return device


# ---------------------------------------------------------------------------------------------
# MemoryTracker: a context manager over the meters above.

class MemoryTracker:
    """Peak memory of a block of code above the level at entry, as each meter sees it.

    label: a name for reports. device: where the work runs (None: CUDA if available, else CPU);
    it decides `peak_mb`. trace_python: also run tracemalloc (slow on Python-heavy code).
    rss_method: "auto" (read the kernel's peak without resetting it, with a 5 ms sampler for a
    block that stays under the process's earlier peak), "kernel" (reset the kernel's peak at
    entry: exact for any block, but lowers the process's ru_maxrss; see reset_peak_rss) or
    "sampling" (the sampler only). `method` says afterwards which meter gave the figure.
    release_memory: hand the C heap's free memory back to the OS at entry, so an allocation
    cannot hide in memory freed before the block; the block then pays page faults to regrow
    the heap (negligible on tensor work, a few percent on allocation-heavy Python code).

    Nesting trackers is correct (each reports its own block's peak); entering the same tracker
    twice at once raises RuntimeError; using it again after its block measures the new block.
    An exception inside the block still stops tracing, keeps the figures, and propagates.

    >>> with MemoryTracker("a 100 MB tensor", device="cpu") as mem:
    ...     x = torch.ones(25_000_000)  # 25 M float32 = 100 MB, touched by the fill
    >>> 90 < mem.peak_mb < 110
    True
    """

    def __init__(self, label: str = "block", *, device: str | torch.device | None = None,
                 trace_python: bool = False, rss_method: str = "auto",
                 release_memory: bool = True) -> None:
        if not isinstance(label, str):
            raise TypeError(f"label: expected a string naming the block, got "
                            f"{type(label).__name__}.")
        for flag, name in ((trace_python, "trace_python"), (release_memory, "release_memory")):
            if not isinstance(flag, bool):
                raise TypeError(f"{name}: expected True or False, got {flag!r}.")
        if rss_method not in ("auto", "kernel", "sampling"):
            raise ValueError(f"rss_method: expected 'auto', 'kernel' or 'sampling', got "
                             f"{rss_method!r}.")
        self.label = label
        self.device = _to_device(device)
        self.trace_python = trace_python
        self.rss_method = rss_method
        self.release_memory = release_memory
        self.python_peak_mb: float | None = None
        self.process_peak_mb: float | None = None
        self.cuda_peak_mb: float | None = None
        self.cuda_reserved_peak_mb: float | None = None
        self.method: str | None = None  # how process_peak_mb was measured: "kernel"/"sampling"
        self._running = False

    # --- the figures ----------------------------------------------------------------------
    @property
    def peak_mb(self) -> float:
        """CUDA peak on a CUDA device, process (RSS) peak otherwise; MB above entry."""
        if self._running or self.process_peak_mb is None:
            raise RuntimeError(f"MemoryTracker({self.label!r}): the figures exist once the "
                               f"`with` block has finished; read peak_mb after it.")
        if self.device.type == "cuda":
            return self.cuda_peak_mb
        return self.process_peak_mb

    def report(self) -> str:
        """One line with every figure, e.g. for a log."""
        parts = [f"peak {self.peak_mb:.1f} MB", f"process {self.process_peak_mb:.1f} MB"]
        if self.python_peak_mb is not None:
            parts.append(f"python {self.python_peak_mb:.1f} MB")
        if self.cuda_peak_mb is not None:
            parts.append(f"cuda allocated {self.cuda_peak_mb:.1f} MB, "
                         f"reserved {self.cuda_reserved_peak_mb:.1f} MB")
        return f"{self.label}: " + ", ".join(parts) + f" (RSS by {self.method})"

    def __repr__(self) -> str:
        state = "running" if self._running else ("done" if self.process_peak_mb is not None
                                                 else "not started")
        return f"MemoryTracker({self.label!r}, device={str(self.device)!r}, {state})"

    # --- the protocol ---------------------------------------------------------------------
    def _note_rss_reset(self, peak_before_mb: float) -> None:
        # The kernel's peak is about to restart from the current RSS. Up to now it was this
        # block's only if it rose above the floor; from now on it is this block's in any case.
        if self.rss_method == "sampling":
            return  # asked for the sampler alone
        if peak_before_mb > self._hwm_floor:
            self._rss_seen = max(self._rss_seen, peak_before_mb)
        self._hwm_floor = -math.inf

    def _note_cuda_peak(self, allocated: int, reserved: int) -> None:
        self._cuda_seen = max(self._cuda_seen, allocated)
        self._cuda_reserved_seen = max(self._cuda_reserved_seen, reserved)

    def _note_python_peak(self, value_bytes: int) -> None:
        self._python_seen = max(self._python_seen, value_bytes)

    def __enter__(self) -> MemoryTracker:
        global _tracemalloc_owner
        if self._running:
            raise RuntimeError(f"MemoryTracker({self.label!r}) is already measuring a block; "
                               f"nest a second MemoryTracker instead of re-entering this one.")
        if self.rss_method == "kernel" and not kernel_peak_supported():
            raise RuntimeError("MemoryTracker(rss_method='kernel'): this system cannot reset "
                               "and read the kernel's peak RSS (Linux /proc/self/clear_refs); "
                               "use rss_method='auto' to fall back to sampling.")
        self.python_peak_mb = self.process_peak_mb = None
        self.cuda_peak_mb = self.cuda_reserved_peak_mb = None
        # Memory freed before the block must not be reused silently inside it. Only the C
        # heap is trimmed: a full gc.collect() can take a second on a large Python heap, and
        # tensors are freed by reference counting anyway; call release_free_memory() for both.
        if self.release_memory and _malloc_trim is not None:
            _malloc_trim(0)
        self._enter_cuda()
        # Python heap: tracemalloc, started here unless someone already traces.
        self._python_seen = 0
        if self.trace_python:
            if not tracemalloc.is_tracing():
                tracemalloc.start()
                _tracemalloc_owner = self
            current, peak = tracemalloc.get_traced_memory()
            for tracker in _active:
                if tracker.trace_python:
                    tracker._note_python_peak(peak)
            tracemalloc.reset_peak()
            self._python_entry = current
        self._enter_rss()
        self._running = True
        _active.append(self)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        global _tracemalloc_owner
        if not self._running:
            raise RuntimeError(f"MemoryTracker({self.label!r}): __exit__ without __enter__; "
                               f"use it as `with MemoryTracker(...) as mem:`.")
        self._running = False
        _active.remove(self)
        self._exit_rss()
        if self.trace_python:
            peak = max(tracemalloc.get_traced_memory()[1], self._python_seen)
            self.python_peak_mb = max(0, peak - self._python_entry) / MB
            still_wanted = any(t.trace_python for t in _active)
            if _tracemalloc_owner is self and not still_wanted:
                tracemalloc.stop()
                _tracemalloc_owner = None
            elif _tracemalloc_owner is self:
                _tracemalloc_owner = next(t for t in _active if t.trace_python)
        self._exit_cuda()
        return False  # never swallow the block's exception

    # --- process RSS ----------------------------------------------------------------------
    def _enter_rss(self) -> None:
        self._rss_seen = 0.0
        self._sampler = None
        # The kernel's peak counts for this block only where it ends above this floor: the
        # process's peak before the block (auto), or anything once reset at entry (kernel).
        self._hwm_floor = math.inf
        if self.rss_method == "kernel":
            if not reset_peak_rss():  # supported a moment ago: a kernel that refuses "5"
                raise RuntimeError("MemoryTracker(rss_method='kernel'): the kernel refused to "
                                   "reset its peak RSS; use rss_method='auto'.")
            self._hwm_floor = -math.inf
        elif self.rss_method == "auto" and kernel_peak_supported():
            self._hwm_floor = peak_rss_mb()
        self._rss_entry = rss_mb()
        # No sampler when the kernel's figure will do: after a reset, or when the process's
        # earlier peak is within 1 MB of the entry level (any rise then sets a new peak).
        if self._hwm_floor - self._rss_entry > 1.0:
            self._sampler = _RssSampler()
            self._sampler.start()

    def _exit_rss(self) -> None:
        sampled = self._sampler.stop() if self._sampler is not None else rss_mb()
        kernel = peak_rss_mb() if self._hwm_floor < math.inf else None
        counts = kernel is not None and (kernel > self._hwm_floor or self._sampler is None)
        self.method = "kernel" if counts else "sampling"
        rss_peak = max(sampled, self._rss_seen, kernel if counts else 0.0)
        self.process_peak_mb = max(0.0, rss_peak - self._rss_entry)

    # --- CUDA -----------------------------------------------------------------------------
    def _enter_cuda(self) -> None:
        # The allocator's own peaks, reset after telling outer trackers on the same device
        # (canonical: "cuda" is "cuda:0") what they were. The reset is device-wide.
        self._cuda_seen = self._cuda_reserved_seen = 0
        if self.device.type != "cuda":
            return
        torch.cuda.synchronize(self.device)
        for tracker in _active:
            if tracker.device == self.device:
                tracker._note_cuda_peak(torch.cuda.max_memory_allocated(self.device),
                                        torch.cuda.max_memory_reserved(self.device))
        torch.cuda.reset_peak_memory_stats(self.device)
        self._cuda_entry = torch.cuda.memory_allocated(self.device)
        self._cuda_reserved_entry = torch.cuda.memory_reserved(self.device)

    def _exit_cuda(self) -> None:
        if self.device.type != "cuda":
            return
        torch.cuda.synchronize(self.device)
        allocated = max(torch.cuda.max_memory_allocated(self.device), self._cuda_seen)
        reserved = max(torch.cuda.max_memory_reserved(self.device), self._cuda_reserved_seen)
        self.cuda_peak_mb = max(0, allocated - self._cuda_entry) / MB
        self.cuda_reserved_peak_mb = max(0, reserved - self._cuda_reserved_entry) / MB


# ---------------------------------------------------------------------------------------------
# Timing.

def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Timer:
    """Wall time of a block by time.perf_counter, synchronising CUDA when the work is there.

    device: where the work runs (None: CUDA if available, else CPU). On a CUDA device the timer
    waits for queued kernels before starting (so earlier work is not billed to this block) and
    before stopping (so this block's kernels are). `elapsed_s` exists once the block is done.

    >>> with Timer("sleep", device="cpu") as clock:
    ...     time.sleep(0.01)
    >>> 0.009 < clock.elapsed_s < 1.0
    True
    """

    def __init__(self, label: str = "block", *, device: str | torch.device | None = None) -> None:
        if not isinstance(label, str):
            raise TypeError(f"label: expected a string naming the block, got "
                            f"{type(label).__name__}.")
        self.label = label
        self.device = _to_device(device)
        self._start: float | None = None
        self._elapsed: float | None = None

    @property
    def elapsed_s(self) -> float:
        """Seconds the last finished block took."""
        if self._start is not None:
            raise RuntimeError(f"Timer({self.label!r}) is still running; read elapsed_s after "
                               f"the `with` block.")
        if self._elapsed is None:
            raise RuntimeError(f"Timer({self.label!r}) has not timed anything yet; use it as "
                               f"`with fl.Timer(...) as clock:` and read clock.elapsed_s after.")
        return self._elapsed

    def __repr__(self) -> str:
        shown = "running" if self._start is not None else (
            "not started" if self._elapsed is None else f"{self._elapsed:.4g} s")
        return f"Timer({self.label!r}, {shown})"

    def __enter__(self) -> Timer:
        if self._start is not None:
            raise RuntimeError(f"Timer({self.label!r}) is already running; nest a second Timer "
                               f"instead of re-entering this one.")
        _sync(self.device)
        self._start = time.perf_counter()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._start is None:
            raise RuntimeError(f"Timer({self.label!r}): __exit__ without __enter__; use it as "
                               f"`with fl.Timer(...) as clock:`.")
        _sync(self.device)
        self._elapsed = time.perf_counter() - self._start
        self._start = None
        return False


@dataclass(frozen=True)
class Measurement:
    """Times of repeated runs (warm-up excluded) and their summary, in seconds."""

    label: str
    times_s: tuple[float, ...]
    median_s: float
    min_s: float
    max_s: float
    iqr_s: float  # interquartile range: the spread of the middle half, robust to outliers

    @property
    def spread(self) -> float:
        """Interquartile range relative to the median (0.05: the middle half of the runs spans 5%)."""
        return self.iqr_s / self.median_s if self.median_s > 0 else math.inf

    def __str__(self) -> str:
        return (f"{self.label}: median {self.median_s:.4g} s, IQR {self.iqr_s:.3g} s "
                f"({100 * self.spread:.1f}%), min {self.min_s:.4g} s, n = {len(self.times_s)}")


def summarize_times(times_s: list[float] | tuple[float, ...], label: str = "") -> Measurement:
    """Median, min, max and interquartile range of measured times (seconds).

    The median, not the mean: on a shared machine a few runs are slowed by other work, and
    the median ignores them where the mean does not.

    >>> m = summarize_times([1.0, 1.1, 0.9, 5.0])
    >>> m.median_s, m.min_s, m.max_s
    (1.05, 0.9, 5.0)
    """
    if not isinstance(times_s, (list, tuple)) or len(times_s) == 0:
        raise ValueError(f"times_s: expected a non-empty list of seconds, got {times_s!r}.")
    if not isinstance(label, str):
        raise TypeError(f"label: expected a string naming what was timed, got "
                        f"{type(label).__name__}.")
    values = validation.float_sequence(times_s, "times_s")
    if any(not math.isfinite(t) or t < 0 for t in values):
        raise ValueError(f"times_s: expected finite, non-negative seconds, got {values}.")
    if len(values) >= 2:
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    else:
        q1 = q3 = values[0]
    return Measurement(label, tuple(values), statistics.median(values), min(values), max(values),
                       q3 - q1)


def measure(fn: Callable[[], object], *, repeats: int = 5, warmup: int = 1,
            device: str | torch.device | None = None, label: str = "") -> Measurement:
    """Run `fn` `warmup` times untimed, then `repeats` times each under a Timer; summarise.

    Warm-up runs absorb one-off costs (first-call initialisation, caches, lazy imports) that
    a steady-state figure should not include. For micro-benchmarks of single kernels,
    torch.utils.benchmark.Timer does the same with more care (threads, adaptive repeats).

    >>> m = measure(lambda: sum(range(1000)), repeats=3, warmup=1, device="cpu")
    >>> len(m.times_s), m.min_s <= m.median_s <= m.max_s
    (3, True)
    """
    if not callable(fn):
        raise TypeError(f"fn: expected a function of no arguments, got {type(fn).__name__}. "
                        f"Wrap a call in a lambda: measure(lambda: model(x)).")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats: expected a positive int, got {repeats!r}.")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup: expected an int >= 0, got {warmup!r}.")
    device = _to_device(device)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        with Timer(label or "measure", device=device) as clock:
            fn()
        times.append(clock.elapsed_s)
    return summarize_times(times, label)
