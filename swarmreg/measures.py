"""What a trained network looks like: its effective size, how saturated its
hidden units are, the trivial predictor it has to beat, and how rough the
function it fits is.

Rakitianskaia & Engelbrecht ("Weight regularisation in particle swarm
optimisation neural network training", IEEE SIS 2014) compare swarms under a
penalty by the effective size of the network they find; their 2015 study
("Saturation in PSO neural network training: good or evil?", IEEE CEC) by the
share of saturated hidden activations.  The thresholds are
:data:`swarmreg.records.EFFECTIVE_WEIGHT`, :data:`~swarmreg.records.SATURATED_TANH`
and :data:`~swarmreg.records.SATURATED_SIGMOID`.
"""

from __future__ import annotations

import numpy as np

from .model import MLP
from .records import EFFECTIVE_WEIGHT, SATURATED_SIGMOID, SATURATED_TANH

__all__ = ["effective_weights", "saturation", "trivial_theta", "roughness"]


def effective_weights(theta: np.ndarray, weight_mask: np.ndarray, threshold: float = EFFECTIVE_WEIGHT) -> int:
    """The number of weights (biases excluded) with |w| > ``threshold``.

    Parameters
    ----------
    theta : ndarray, shape (n_params,)
    weight_mask : ndarray of bool, shape (n_params,)
    """
    return int(np.count_nonzero(np.abs(theta[weight_mask]) > threshold))


def saturation(model: MLP, theta: np.ndarray, X: np.ndarray) -> float | None:
    """The share of hidden activations on ``X`` that are saturated.

    tanh: |a| > :data:`SATURATED_TANH`; sigmoid: a within
    :data:`SATURATED_SIGMOID` of 0 or 1.  None when the network has no hidden
    layer or its hidden activation does not saturate (relu, identity).

    Parameters
    ----------
    model : MLP
    theta : ndarray, shape (n_params,)
    X : ndarray, shape (n, n_inputs)
    """
    if model.hidden not in ("tanh", "sigmoid") or len(model.sizes) < 3 or X.shape[0] == 0:
        return None
    hidden = model.forward_pass(np.asarray(theta, dtype=float), np.asarray(X, dtype=float))[1:-1]
    saturated = total = 0
    for a in hidden:
        if model.hidden == "tanh":
            saturated += int(np.count_nonzero(np.abs(a) > SATURATED_TANH))
        else:
            saturated += int(np.count_nonzero((a < SATURATED_SIGMOID) | (a > 1.0 - SATURATED_SIGMOID)))
        total += a.size
    return saturated / total


def trivial_theta(model: MLP, y: np.ndarray, loss: str) -> np.ndarray:
    """The network that ignores its input: every weight 0, hidden biases 0 and
    the output biases that minimize the training loss of a constant output.

    cross_entropy (softmax): log of the training class shares (the class
    prior), a class absent from the training part getting half a sample's
    share so that its log is finite; otherwise the training mean of each
    output through the output activation's inverse: itself (identity), its
    logit clipped into [1/(2n), 1 − 1/(2n)] (sigmoid), its log (softmax).

    Parameters
    ----------
    model : MLP
    y : ndarray
        The training targets as the objective takes them.
    loss : {"mse", "cross_entropy", "binary_cross_entropy"}

    Returns
    -------
    ndarray, shape (n_params,)
    """
    theta = np.zeros(model.n_params)
    last = model.layers[-1]
    y = np.asarray(y)
    n, k = y.shape[0], model.n_outputs
    if loss == "cross_entropy":
        counts = np.bincount(y.astype(np.intp), minlength=k).astype(float)
        share = np.maximum(counts, 0.5) / n
        bias = np.log(share)
    else:
        mean = np.asarray(y, dtype=float).reshape(n, -1).mean(axis=0)
        if model.output == "sigmoid":
            p = np.clip(mean, 0.5 / n, 1.0 - 0.5 / n)
            bias = np.log(p) - np.log1p(-p)
        elif model.output == "softmax":
            bias = np.log(np.clip(mean, 0.5 / n, None))
        else:
            bias = mean
    theta[last.w_stop:last.b_stop] = bias
    return theta


def roughness(x, y) -> float:
    """The roughness ∫ f''(x)² dx of a curve f sampled on a sorted grid.

    f'' is the three-point finite difference of the (possibly uneven) grid at
    every inner point, extended linearly to the two end points; its square is
    integrated by the trapezoidal rule over [x[0], x[-1]].  Exact for a
    quadratic (a·x² on [0, L] gives 4a²L) and 0 for a straight line; for a
    smooth f on an even grid the error shrinks with the square of the spacing.  In the units
    of y² / x³.

    Parameters
    ----------
    x : array_like, shape (n,)
        The grid, strictly increasing, n >= 3.
    y : array_like, shape (n,)
        f at the grid points.

    Returns
    -------
    float
        May be inf when the squared second differences overflow.

    Raises
    ------
    ValueError
        Naming the argument: not one-dimensional, fewer than 3 points, shapes
        that differ, a non-finite value, or an x that is not strictly increasing.
    """
    x, y = _curve_array("x", x), _curve_array("y", y)
    if y.shape != x.shape:
        raise ValueError(f"y must have the shape of x {x.shape}, got {y.shape}")
    h = np.diff(x)
    if not np.all(h > 0):
        raise ValueError("x must be strictly increasing (sorted, no repeated value)")
    slope = np.diff(y) / h
    inner = 2.0 * np.diff(slope) / (h[:-1] + h[1:])  # f'' at x[1:-1]
    # the ends have no three-point difference: the line through their two neighbours
    if inner.size == 1:
        second = np.full(x.shape, inner[0])
    else:
        first = inner[0] + (inner[1] - inner[0]) * (x[0] - x[1]) / (x[2] - x[1])
        last = inner[-1] + (inner[-1] - inner[-2]) * (x[-1] - x[-2]) / (x[-2] - x[-3])
        second = np.concatenate(([first], inner, [last]))
    sq = second * second
    return float(np.sum((sq[1:] + sq[:-1]) * h) / 2)


def _curve_array(name: str, values) -> np.ndarray:
    """``values`` as a finite 1-D float array of at least 3 points, else a ValueError naming ``name``."""
    try:
        a = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers") from None
    if a.ndim != 1 or a.size < 3:
        raise ValueError(f"{name} must be one-dimensional with at least 3 points, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} holds NaN/inf values")
    return a
