"""The one result type every trainer returns, and the history it carries."""

from __future__ import annotations

import functools
import math
import operator
from dataclasses import dataclass, field, fields

import numpy as np

__all__ = ["TrainResult", "History", "STATUSES", "STATUS_WORDS", "HISTORY_COLUMNS", "GRADIENT_COLUMNS"]

STATUSES = ("max_iter", "converged", "stalled", "diverged", "stopped")
#: What each status means, in words for people ("max_iter" is a finished fit, not a failure).
STATUS_WORDS = {"max_iter": "finished (its iteration budget used up)", "converged": "converged (its tolerance met)",
                "stalled": "stopped: no improvement for `patience` iterations", "stopped": "stopped by a callback",
                "diverged": "diverged (no finite E was ever seen)"}
HISTORY_COLUMNS = ("iteration", "value", "data_loss", "penalty", "weight_sq_norm",
                   "zero_fraction", "forward_samples", "seconds")
# the columns of trainers that also back-propagate
GRADIENT_COLUMNS = HISTORY_COLUMNS + ("backward_samples",)


def _json_number(x):
    """float/int for JSON; non-finite floats become the strings "nan", "inf", "-inf"."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    x = float(x)
    return x if math.isfinite(x) else repr(x)


def _json_safe(obj):
    """Plain JSON types for configs (tuples become lists, numpy scalars numbers)."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_json_safe(v) for v in obj.tolist()]
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, (bool, int, float, np.number, np.bool_)):
        return _json_number(obj)
    return repr(obj)


def _from_json_number(x):
    return float(x) if isinstance(x, str) else x


@dataclass(frozen=True)
class TrainResult:
    """What a trainer's ``fit`` returns: plain data, JSON-safe via :meth:`to_dict`.

    Attributes
    ----------
    trainer : str
        "backprop", "swarm" or "lbfgs".
    theta : ndarray, shape (n_params,)
        The solution (for the swarm: the best position found).
    value, data_loss, penalty : float
        E = D + R, D and R at ``theta`` on the training data.
    iterations : int
        Epochs (backprop), swarm iterations, or L-BFGS iterations.
    forward_samples, backward_samples : int
        Single-sample forward and backward passes spent: the unit of work that
        lets trainers be compared at equal cost.
    seconds : float
        Wall time of ``fit``.
    status : {"max_iter", "converged", "stalled", "diverged", "stopped"}
    history : dict of str to ndarray
        Equal-length columns, one row per epoch/iteration; at least
        ``HISTORY_COLUMNS``.
    config : dict
        The trainer's settings.
    """

    trainer: str
    theta: np.ndarray
    value: float
    data_loss: float
    penalty: float
    iterations: int
    forward_samples: int
    backward_samples: int
    seconds: float
    status: str
    history: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status={self.status!r} is not one of {', '.join(STATUSES)}")
        # the settings as JSON holds them (tuples as lists), so that a result and its round trip agree
        object.__setattr__(self, "config", _json_safe(self.config))

    def to_dict(self) -> dict:
        """A dict of JSON types only (non-finite numbers as "nan"/"inf" strings)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "theta":
                v = [_json_number(x) for x in np.asarray(v).tolist()]
            elif f.name == "history":
                v = {k: [_json_number(x) for x in np.asarray(col).tolist()] for k, col in v.items()}
            elif f.name == "config":
                v = _json_safe(v)
            elif f.name in ("value", "data_loss", "penalty", "seconds", "iterations",
                            "forward_samples", "backward_samples"):
                v = _json_number(v)
            out[f.name] = v
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "TrainResult":
        """Inverse of :meth:`to_dict`."""
        names = {f.name for f in fields(cls)}
        missing = names - set(d)
        if missing:
            raise ValueError(f"TrainResult dict lacks {', '.join(sorted(missing))}")
        kw = {k: d[k] for k in names}
        kw["theta"] = np.array([_from_json_number(x) for x in d["theta"]], dtype=float)
        kw["history"] = {k: np.array([_from_json_number(x) for x in col]) for k, col in d["history"].items()}
        for k in ("value", "data_loss", "penalty", "seconds"):
            kw[k] = float(_from_json_number(d[k]))
        for k in ("iterations", "forward_samples", "backward_samples"):
            kw[k] = int(d[k])
        kw["config"] = dict(d["config"])
        return cls(**kw)


def _pick_each(columns: tuple, row: dict) -> tuple:
    return tuple(row[c] for c in columns)


class History:
    """Rows appended per epoch/iteration, returned as equal-length columns."""

    def __init__(self, columns=HISTORY_COLUMNS):
        self.columns = tuple(columns)
        self._rows: list[tuple] = []
        # a tuple of the row's columns (itemgetter gives a bare value for one column)
        self._pick = operator.itemgetter(*self.columns) if len(self.columns) > 1 else \
            functools.partial(_pick_each, self.columns)

    def append(self, **row) -> None:
        self.add(row)

    def add(self, row: dict) -> None:
        """Append the row held in a dict (its other keys ignored)."""
        self._rows.append(self._pick(row))

    def __len__(self) -> int:
        return len(self._rows)

    def as_arrays(self) -> dict:
        data = np.array(self._rows, dtype=float).reshape(len(self._rows), len(self.columns))
        cols = {}
        for j, c in enumerate(self.columns):
            col = data[:, j]
            cols[c] = col.astype(np.int64) if c in ("iteration", "forward_samples", "backward_samples") else col
        return cols


def weight_stats(theta: np.ndarray, weight_mask: np.ndarray) -> tuple[float, float]:
    """Σw² over the weights and the fraction of weights exactly 0."""
    w = theta[weight_mask]
    if w.size == 0:
        return 0.0, 0.0
    return float(w @ w), float(np.count_nonzero(w == 0)) / w.size
