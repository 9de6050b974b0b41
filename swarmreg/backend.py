"""Where the hot loops run: numpy or compiled kernels, and on how many threads.

Two settings, each read from the environment unless set in code (a fit reads the
environment once, when it starts):

``SWARMREG_BACKEND`` — "auto" (the default), "numpy" or "numba".
    "auto" runs the compiled kernels of :mod:`swarmreg.kernels` when numba is
    installed (``pip install "swarmreg[fast]"``), else numpy.  numpy is the
    reference: both compute the same numbers (to 1e-12 relative in float64),
    but the swarm's random numbers come from different generators, so a seed
    gives one result per backend.  Records say which backend made them.

``SWARMREG_THREADS`` — threads a computation may use (default 1).
    BLAS gets this many threads inside every fit, ``swarmreg`` command and
    script (OpenBLAS's default of one per core makes the small products of a
    network several times slower when another job shares the machine), and the
    compiled swarm evaluation splits the particles into this many blocks.  A
    sweep runs one worker process per core instead, each with one thread.

:func:`use` sets either for a block of code; :func:`blas_threads` is the
context every fit runs in.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib.util
import os

from . import checks

__all__ = ["BACKENDS", "ENV_BACKEND", "ENV_THREADS", "numba_available", "resolve", "threads", "use",
           "blas_threads", "limit_process", "load_blas"]

BACKENDS = ("auto", "numpy", "numba")
ENV_BACKEND = "SWARMREG_BACKEND"
ENV_THREADS = "SWARMREG_THREADS"
_chosen = {"backend": None, "threads": None}   # set by use(); None: the environment decides
# The environment's two settings as a fit read them when it started (blas_threads), so that its
# iterations do not read the environment again; per thread (a context variable), None outside fits.
# What use() sets and the BLAS limit itself are process-wide: fits in several threads share them.
_fit_env = contextvars.ContextVar("swarmreg_fit_env", default=None)


@functools.lru_cache(maxsize=1)
def numba_available() -> bool:
    """Whether numba can be imported (the ``fast`` extra)."""
    return importlib.util.find_spec("numba") is not None


def _check_backend(name, where: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"{where} must be one of {', '.join(BACKENDS)}, got {checks.short(name)}")
    return name


def resolve(name: str | None = None) -> str:
    """The backend that runs: "numpy" or "numba".

    Parameters
    ----------
    name : {"auto", "numpy", "numba"}, optional
        Default: what :func:`use` set, else ``SWARMREG_BACKEND``, else "auto".

    Raises
    ------
    ValueError
        For an unknown name, or "numba" when numba is not installed.
    """
    if name is None:
        name = _chosen["backend"] or _from_env(0, _read_backend)
    else:
        _check_backend(name, "backend")
    if name == "auto":
        return "numba" if numba_available() else "numpy"
    if name == "numba" and not numba_available():
        raise ValueError('backend "numba" needs numba: pip install "swarmreg[fast]"')
    return name


def _from_env(i: int, read):
    """Setting ``i`` (0 backend, 1 threads) as the running fit read it, else ``read()`` now."""
    held = _fit_env.get()
    return held[i] if held is not None and held[i] is not None else read()


def _read_backend() -> str:
    return _check_backend(os.environ.get(ENV_BACKEND, "auto"), ENV_BACKEND)


def threads() -> int:
    """Threads a computation may use: what :func:`use` set, else ``SWARMREG_THREADS``, else 1."""
    if _chosen["threads"] is not None:
        return _chosen["threads"]
    return _from_env(1, _read_threads)


def _read_threads() -> int:
    raw = os.environ.get(ENV_THREADS)
    if raw is None or raw == "":
        return 1
    try:
        return checks.integer(ENV_THREADS, int(raw))
    except ValueError:
        raise ValueError(f"{ENV_THREADS} must be a whole number >= 1, got {checks.short(raw)}") from None


@contextlib.contextmanager
def use(backend: str | None = None, threads: int | None = None):
    """Run a block with another backend and/or thread count (None keeps the current one)."""
    if backend is not None:
        _check_backend(backend, "backend")
        resolve(backend)  # refuse "numba" without numba before the block starts
    if threads is not None:
        threads = checks.integer("threads", threads)
    before = dict(_chosen)
    try:
        if backend is not None:
            _chosen["backend"] = backend
        if threads is not None:
            _chosen["threads"] = threads
        yield
    finally:
        _chosen.update(before)


def load_blas() -> None:
    """Load every BLAS a fit may call, so that a thread limit set now reaches all of them:
    numpy's, and scipy's (L-BFGS and the compiled kernels' matrix products call it), which
    scipy loads with ``scipy.linalg``.  scipy is otherwise imported only where it is used."""
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401


@functools.lru_cache(maxsize=1)
def _controller():
    """threadpoolctl's view of the BLAS libraries (every one a fit may call, :func:`load_blas`),
    read once (reading it scans every loaded library: a millisecond and a few hundred kB each time)."""
    from threadpoolctl import ThreadpoolController

    load_blas()
    return ThreadpoolController()


@contextlib.contextmanager
def blas_threads():
    """BLAS limited to :func:`threads` for the block (threadpoolctl), then restored.

    The libraries are numpy's and scipy's BLAS (:func:`load_blas`) and any other loaded when
    the first fit of the process started; one loaded later is left as it is.  The environment's
    settings are read once, here: within the block (a fit), :func:`resolve` and :func:`threads`
    return what they were when it began, unless :func:`use` sets another."""
    # (a setting that use() holds is not read: its environment variable may be unset or wrong; a fit
    # started within another fit reads the environment as it is then, both settings alike)
    env = (_read_backend() if _chosen["backend"] is None else None,
           _read_threads() if _chosen["threads"] is None else None)
    token = _fit_env.set(env)
    try:
        with _controller().limit(limits=threads(), user_api="blas"):
            yield
    finally:
        _fit_env.reset(token)


def limit_process() -> None:
    """Limit BLAS to :func:`threads` for the rest of this process (commands and scripts)."""
    from threadpoolctl import threadpool_limits

    load_blas()
    threadpool_limits(limits=threads(), user_api="blas")
