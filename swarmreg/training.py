"""What every trainer shares: the parts of ``fit`` that are not the algorithm.

* :class:`Trainer`: settings stored by ``__init__`` under their own names;
  ``config`` and ``repr`` are read from the signature (no hand-written
  mirrors), and the memory check every ``fit`` starts with.
* :class:`FitLog`: the clock, the history rows, the callback and the result of
  one fit.  :func:`call_callback_maybe_halt` is the callback protocol, once:
  ``callback(info)`` may raise StopIteration to stop the fit.
* :class:`BatchObjective` and :class:`GradientObjective`: what the swarm and
  the gradient trainers need of an objective, with :func:`require` to check
  it in one line.

The trainers import this module, never each other.
"""

from __future__ import annotations

import functools
import inspect
import time
from typing import Any, Protocol, runtime_checkable

import numpy as np

from . import backend, checks
from .result import History, TrainResult, weight_stats

__all__ = ["Trainer", "FitLog", "BatchObjective", "GradientObjective", "require", "check_callback",
           "call_callback_maybe_halt", "point_row", "retired_keywords", "history_bytes", "held_threads"]


# ---------------------------------------------------------------- objectives
@runtime_checkable
class BatchObjective(Protocol):
    """What the swarm minimizes: E for every row of a stack (P, n_params) → (P,)."""

    n_params: int

    def batch(self, thetas: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class GradientObjective(Protocol):
    """What back-propagation and L-BFGS minimize: a :class:`~swarmreg.objective.RegularizedError`
    or anything with its parts."""

    model: Any
    n_params: int
    n_samples: int
    penalty: Any
    penalty_mask: np.ndarray
    penalty_slices: tuple

    def data_value_and_grad(self, theta, rows=None): ...

    def value_and_grad(self, theta, rows=None): ...

    def data_loss(self, theta) -> float: ...

    def penalty_value(self, theta): ...

    def parts(self, theta) -> dict: ...


_DESCRIPTIONS = {BatchObjective: "an object with n_params and batch(thetas)",
                 GradientObjective: "a RegularizedError or an object with its parts"}


def _members(protocol) -> tuple[list[str], list[str]]:
    """(data members, methods) a protocol declares."""
    data = list(protocol.__dict__.get("__annotations__", {}))
    methods = [n for n, v in protocol.__dict__.items() if callable(v) and not n.startswith("_")]
    return data, methods


def require(objective, protocol, name: str = "objective") -> None:
    """Raise ValueError naming what ``objective`` lacks of ``protocol``."""
    data, methods = _members(protocol)
    missing = [n for n in data if not hasattr(objective, n)]
    missing += [f"{n}()" for n in methods if not callable(getattr(objective, n, None))]
    if missing:
        raise ValueError(f"{name} must be {_DESCRIPTIONS.get(protocol, protocol.__name__)}; "
                         f"{type(objective).__name__} lacks {', '.join(missing)}")


# ------------------------------------------------------------------ callback
def check_callback(callback):
    """``callback`` itself when it is None or callable; else a ValueError."""
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable, got {callback!r}")
    return callback


def call_callback_maybe_halt(callback, info: dict) -> bool:
    """Call ``callback(info)``; True when it asks to stop by raising StopIteration."""
    if callback is None:
        return False
    try:
        callback(info)
    except StopIteration:
        return True
    return False


# ------------------------------------------------------------------- history
def point_row(theta: np.ndarray, weight_mask: np.ndarray, value: float, data_loss: float,
              penalty: float) -> dict:
    """The history columns that describe one point theta: E, D, R, Σw² and the zero fraction."""
    sq, zeros = weight_stats(theta, weight_mask)
    return {"value": value, "data_loss": data_loss, "penalty": penalty, "weight_sq_norm": sq,
            "zero_fraction": zeros}


# Bytes of Python objects a fit allocates whatever its size (generators, row
# dicts, scipy's result): a constant in every memory estimate.
FIT_OVERHEAD = 64 * 2**10


def history_bytes(rows: int, columns: int) -> int:
    """An upper estimate of the bytes of a History of that many rows: per row
    a tuple of Python floats, then the columns as arrays; plus FIT_OVERHEAD."""
    return rows * (64 + 40 * columns) + 2 * 8 * rows * columns + FIT_OVERHEAD


class FitLog:
    """The bookkeeping of one fit: its clock, its history and its callback.

    Parameters
    ----------
    columns : tuple of str
        The history's columns.
    callback : callable or None
        Checked here; see :func:`call_callback_maybe_halt`.
    """

    def __init__(self, columns, callback=None):
        self.start = time.perf_counter()
        self.callback = check_callback(callback)
        self.history = History(columns)

    def seconds(self) -> float:
        """Wall time since the fit started."""
        return time.perf_counter() - self.start

    def row(self, iteration: int, point: dict, **counts) -> dict:
        """The history row of ``iteration``: the columns of ``point``, the work
        ``counts`` and the time so far."""
        return {"iteration": iteration, **point, **counts, "seconds": self.seconds()}

    def append(self, row: dict) -> dict:
        """Add ``row`` to the history and return it."""
        self.history.add(row)
        return row

    def halt(self, row: dict, theta: np.ndarray) -> bool:
        """Show the callback ``row`` and a float64 copy of ``theta``; True when it stops the fit."""
        if self.callback is None:
            return False
        return call_callback_maybe_halt(self.callback, {**row, "theta": np.array(theta, dtype=float)})

    def result(self, trainer: "Trainer", theta: np.ndarray, value: float, data_loss: float, penalty: float,
               iterations: int, forward_samples: int, backward_samples: int, status: str) -> TrainResult:
        """The fit's :class:`TrainResult`, with the trainer's name and config and this history."""
        return TrainResult(
            trainer=trainer.name, theta=theta, value=float(value), data_loss=float(data_loss),
            penalty=float(penalty), iterations=int(iterations), forward_samples=int(forward_samples),
            backward_samples=int(backward_samples), seconds=self.seconds(), status=status,
            history=self.history.as_arrays(), config=trainer.config,
        )


# ------------------------------------------------------------------ trainers
class Trainer:
    """Base of every trainer: hyperparameters are stored by ``__init__`` as
    attributes of the same names, so ``config`` and ``repr`` are read from the
    signature.  Subclasses define ``name``, ``fit`` and ``memory_bytes``."""

    name: str = "trainer"

    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        """The keyword arguments of ``__init__``, in order."""
        params = inspect.signature(cls.__init__).parameters.values()
        names = []
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}.__init__ must name its settings, not take *{p.name}")
            if p.name != "self":
                names.append(p.name)
        return tuple(names)

    @classmethod
    def defaults(cls) -> dict:
        """{setting: its default} for every keyword argument of ``__init__``."""
        params = inspect.signature(cls.__init__).parameters
        return {name: params[name].default for name in cls.param_names()}

    @property
    def config(self) -> dict:
        """The settings, as the keyword arguments of ``__init__``."""
        return {name: getattr(self, name) for name in self.param_names()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({args})"

    def memory_bytes(self, model, n_samples: int, dtype=np.float64, l1: bool = True) -> int:
        """An upper estimate of the peak bytes ``fit`` allocates for ``model`` on
        ``n_samples`` samples of that dtype, with a penalty that has an L1 part
        (``l1=True``, the larger estimate) or not."""
        raise NotImplementedError

    def _check_memory(self, needed: int, model, n_samples: int) -> None:
        """Refuse, before allocating anything, a fit this machine cannot hold."""
        what = f"{type(self).__name__}.fit of {model!r} on {n_samples} samples" if model is not None \
            else f"{type(self).__name__}.fit"
        checks.enough_memory(needed, what)


def held_threads(fit):
    """Run ``fit`` with BLAS held to :func:`swarmreg.backend.threads` threads (one by
    default): the small products of a network lose, not gain, from more."""
    @functools.wraps(fit)
    def held(self, *args, **kwargs):
        with backend.blas_threads():
            return fit(self, *args, **kwargs)
    return held


def retired_keywords(**messages):
    """Make ``__init__`` refuse retired keyword arguments with a ValueError.

    ``@retired_keywords(old="why, and what to use instead")`` keeps the
    decorated signature as it is (``inspect.signature`` follows the wrapper to
    it), so the retired names never show up as settings.
    """
    def decorate(init):
        @functools.wraps(init)
        def checked(self, *args, **kwargs):
            for name in messages:
                if name in kwargs:
                    raise ValueError(f"{type(self).__name__}({name}=...) is not a setting: {messages[name]}")
            return init(self, *args, **kwargs)
        return checked
    return decorate
