"""What a trained network looks like: its effective size, how saturated its
hidden units are, and the trivial predictor it has to beat.

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

__all__ = ["effective_weights", "saturation", "trivial_theta"]


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
