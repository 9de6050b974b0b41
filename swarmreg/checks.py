"""Argument checks shared by every module: each raises ValueError naming the argument."""

from __future__ import annotations

import math
import numbers
import os

import numpy as np

__all__ = ["real", "integer", "unit_interval", "start_vector", "make_rng", "available_memory", "enough_memory",
           "format_bytes", "short", "printable"]

# Where the memory this process may use is written (Linux): the kernel's
# estimate of allocatable memory, and the cgroup v2 / v1 limit and usage.
MEMINFO = "/proc/meminfo"
CGROUP_LIMITS = (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                 ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"))


def real(name: str, value, *, positive: bool = False) -> float:
    """A finite real number >= 0 (> 0 when ``positive``), as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be finite and {'> 0' if positive else '>= 0'}, got {value!r}")
    return value


def integer(name: str, value, minimum: int = 1) -> int:
    """An integer >= ``minimum`` (bools refused), as an int."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def unit_interval(name: str, value) -> float:
    """A number in [0, 1), such as a momentum."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def start_vector(theta0, n_params: int, name: str = "theta0") -> np.ndarray:
    """A finite float64 copy of a starting point of shape (n_params,)."""
    theta0 = np.array(theta0, dtype=float)
    if theta0.shape != (n_params,):
        raise ValueError(f"{name} must have shape ({n_params},), got {theta0.shape}")
    if not np.all(np.isfinite(theta0)):
        raise ValueError(f"{name} holds NaN/inf values")
    return theta0


def make_rng(seed) -> np.random.Generator:
    """``np.random.default_rng(seed)``, with a ValueError naming ``seed`` when it is unusable."""
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError):
        raise ValueError(f"seed must be None, an integer >= 0, a SeedSequence or a numpy Generator, "
                         f"got {seed!r}") from None


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max" (no limit) or unreadable: None


def available_memory() -> int | None:
    """Bytes this process can still allocate, as far as the machine says.

    The smallest of: MemAvailable from /proc/meminfo; the container's cgroup
    limit (``/sys/fs/cgroup/memory.max``, or cgroup v1's limit) minus its
    current usage, when a limit is set; else the physical memory
    (``os.sysconf``).  None when none of them can be read.
    """
    found = []
    try:
        with open(MEMINFO) as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        pass
    for limit_path, usage_path in CGROUP_LIMITS:
        limit = _read_int(limit_path)
        if limit is not None:
            found.append(max(0, limit - (_read_int(usage_path) or 0)))
            break
    if not found:
        try:
            found.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
        except (ValueError, OSError, AttributeError):
            return None
    return min(found)


def format_bytes(n: float) -> str:
    """A byte count for people, two significant digits: 39 GB, 2.3 GB, 300 MB, 10 kB."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale or unit == "kB":
            v = n / scale
            return f"{v:.0f} {unit}" if v >= 10 else f"{v:.2g} {unit}"
    raise AssertionError  # pragma: no cover


def enough_memory(needed: int, what: str) -> None:
    """Raise ValueError in one line when ``needed`` bytes exceed :func:`available_memory`.

    Parameters
    ----------
    needed : int
        An upper estimate of the bytes ``what`` allocates.
    what : str
        What needs them, e.g. "SwarmTrainer(particles=1000).fit of MLP(...) on 150 samples".
    """
    available = available_memory()
    if available is not None and needed > available:
        raise ValueError(f"{what} needs about {format_bytes(needed)} of memory; "
                         f"this machine has {format_bytes(available)} available")


def short(value, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages about values of any size."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def printable(text) -> str:
    """``text`` with every character that is not printable (control characters, line breaks) as a space."""
    return "".join(c if c.isprintable() else " " for c in str(text))
