"""Argument checks shared by every module: each raises ValueError naming the argument."""

from __future__ import annotations

import math
import os
import numbers

import numpy as np

__all__ = ["real", "integer", "unit_interval", "start_vector", "make_rng"]


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


def available_memory() -> int:
    """Bytes of memory this process can still get: MemAvailable, capped by a cgroup limit."""
    avail = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
    except OSError:
        pass
    return avail


def format_bytes(n: float) -> str:
    """A byte count for people: 1.5 GB, 300 MB."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n / 1e3:.3g} kB"
