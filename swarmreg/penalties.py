"""Penalties R(w) on the weights, and the proximal map they share with the trainers.

The weight-decay penalties are :class:`ElasticNet`, R(w) = l1·Σ|w| + (l2/2)·Σw²;
:class:`L1` and :class:`L2` fix one part at zero.  :func:`soft_threshold` is
the proximal map of the L1 part, used by :meth:`ElasticNet.prox` and by the
proximal decay rule of :mod:`swarmreg.decay`.  :class:`WeightElimination` is
the smooth, bounded penalty the PSO-regularization literature compares weight
decay with; it has a value and a gradient, no proximal step.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from . import checks

__all__ = ["ElasticNet", "L2", "L1", "WeightElimination", "PENALTIES", "make_penalty", "soft_threshold"]

PENALTIES = ("l2", "l1", "elastic", "weight_elimination")


def soft_threshold(w, t: float, out: np.ndarray | None = None) -> np.ndarray:
    """sign(w)·max(|w| − t, 0): the proximal operator of t·Σ|w|.

    Parameters
    ----------
    w : array_like
    t : float
        The threshold, >= 0.
    out : ndarray, optional
        Receives the result (``out=w`` thresholds in place, as the proximal
        decay rule does on a slice of theta); else a new array.

    Returns
    -------
    ndarray
        ``out`` when given.
    """
    w = np.asarray(w)
    m = np.abs(w) - t
    np.maximum(m, 0.0, out=m)
    return np.copysign(m, w, out=m if out is None else out)


@dataclass(frozen=True)
class ElasticNet:
    """R(w) = l1·Σ|w| + (l2/2)·Σw².

    Every penalty is an ElasticNet in disguise; :class:`L1` and :class:`L2`
    only fix one part at zero.  ``value`` and ``grad`` work on the last axis,
    so a stack of weight vectors (P, m) gives P values.
    """

    l1: float = 0.0
    l2: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "l1", checks.real("l1", self.l1))
        object.__setattr__(self, "l2", checks.real("l2", self.l2))

    def value(self, w) -> np.ndarray | float:
        """R(w); w of shape (m,) gives a float, (P, m) gives (P,)."""
        w = np.asarray(w, dtype=float)
        r = np.zeros(w.shape[:-1])
        if self.l1:
            r = r + self.l1 * np.abs(w).sum(axis=-1)
        if self.l2:
            r = r + 0.5 * self.l2 * np.einsum("...i,...i->...", w, w)
        return float(r) if w.ndim == 1 else r

    def grad(self, w) -> np.ndarray:
        """(Sub)gradient l1·sign(w) + l2·w, with sign(0) = 0."""
        w = np.asarray(w, dtype=float)
        g = self.l2 * w
        if self.l1:
            g += self.l1 * np.sign(w)
        return g

    def prox(self, w, step: float) -> np.ndarray:
        """argmin_u ½‖u − w‖² + step·R(u): soft-threshold by step·l1, then
        shrink by 1 / (1 + step·l2)."""
        w = np.asarray(w, dtype=float)
        u = soft_threshold(w, step * self.l1) if self.l1 else w.copy()
        if self.l2:
            u /= 1.0 + step * self.l2
        return u

    @property
    def kind(self) -> str:
        return "elastic"

    @property
    def lam(self) -> float:
        """The total strength l1 + l2 (the single λ of L1 and L2)."""
        return self.l1 + self.l2


@dataclass(frozen=True, init=False)
class L2(ElasticNet):
    """R(w) = (lam/2)·Σw², gradient lam·w, prox w / (1 + step·lam)."""

    def __init__(self, lam: float):
        super().__init__(l1=0.0, l2=checks.real("lam", lam))

    def __repr__(self) -> str:
        return f"L2(lam={self.l2!r})"

    @property
    def kind(self) -> str:
        return "l2"


@dataclass(frozen=True, init=False)
class L1(ElasticNet):
    """R(w) = lam·Σ|w|, subgradient lam·sign(w), prox = soft-thresholding."""

    def __init__(self, lam: float):
        super().__init__(l1=checks.real("lam", lam), l2=0.0)

    def __repr__(self) -> str:
        return f"L1(lam={self.l1!r})"

    @property
    def kind(self) -> str:
        return "l1"


@dataclass(frozen=True)
class WeightElimination:
    """R(w) = λ·Σ u/(1 + u) with u = (w/w0)² (Weigend, Rumelhart & Huberman,
    "Generalization by weight-elimination with application to forecasting",
    NIPS 3, 1991).

    A weight much smaller than w0 costs about λ·(w/w0)², like L2 with
    λ₂ = 2λ/w0²; a weight much larger costs about λ whatever its size, so the
    penalty prunes small weights and leaves large ones alone.  The gradient is
    λ·(2w/w0²)/(1 + u)².  ``value`` and ``grad`` work on the last axis like
    the other penalties'.

    Parameters
    ----------
    lam : float, >= 0
    w0 : float, > 0
        The scale that separates "small" from "large" weights.
    """

    lam: float
    w0: float = 1.0
    l1: float = field(default=0.0, init=False, repr=False)  # no L1 or L2 part for the decay rules
    l2: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "lam", checks.real("lam", self.lam))
        object.__setattr__(self, "w0", checks.real("w0", self.w0, positive=True))

    def value(self, w) -> np.ndarray | float:
        """R(w); w of shape (m,) gives a float, (P, m) gives (P,).

        u/(1 + u) is computed as 1/(1 + 1/u), in one array the size of w: as
        accurate for tiny u as for huge ones, 0 at w = 0 and exactly 1 where
        (w/w0)² overflows, so R is finite for every finite w (below λ·m).
        """
        w = np.asarray(w, dtype=float)
        with np.errstate(over="ignore", divide="ignore"):
            share = np.divide(w, self.w0)
            np.square(share, out=share)
            np.reciprocal(share, out=share)
            share += 1.0
            np.reciprocal(share, out=share)
        r = self.lam * share.sum(axis=-1)
        return float(r) if w.ndim == 1 else r

    def grad(self, w) -> np.ndarray:
        """λ·(2/w0)·t/(1 + t²)² with t = w/w0 (computed through 1/t where |t| > 1,
        so that huge weights get a gradient of 0, not NaN)."""
        w = np.asarray(w, dtype=float)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            t = w / self.w0
            big = np.abs(t) > 1.0
            s = np.where(big, 1.0 / np.where(big, t, 1.0), 0.0)
            f = np.where(big, s**3 / np.square(1.0 + s * s), t / np.square(1.0 + t * t))
            return self.lam * (2.0 * f) / self.w0

    def prox(self, w, step: float):
        raise ValueError("weight elimination has no proximal step; use its gradient")

    @property
    def kind(self) -> str:
        return "weight_elimination"


def make_penalty(kind: str | None, lam: float = 0.0, l1_ratio: float = 0.5, w0: float = 1.0):
    """Build a penalty by name: "l2", "l1", "elastic" (λ split by ``l1_ratio``),
    "weight_elimination" (scale ``w0``) or None."""
    if kind is None or kind == "none":
        return None
    if kind == "weight_elimination":
        return WeightElimination(lam, w0)
    if kind == "l2":
        return L2(lam)
    if kind == "l1":
        return L1(lam)
    if kind == "elastic":
        lam = checks.real("lam", lam)
        if isinstance(l1_ratio, bool) or not isinstance(l1_ratio, numbers.Real) or not 0.0 <= l1_ratio <= 1.0:
            raise ValueError(f"l1_ratio must lie in [0, 1], got {l1_ratio!r}")
        return ElasticNet(l1=lam * l1_ratio, l2=lam * (1.0 - l1_ratio))
    raise ValueError(f"penalty={kind!r} is not a penalty; valid: {', '.join(PENALTIES)}, none")
