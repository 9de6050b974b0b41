"""The multilayer perceptron that every swarmreg trainer trains.

Parameters live in one flat float vector ``theta``, layer by layer: for each
layer the weight matrix ``W`` of shape ``(fan_in, fan_out)`` flattened in C
order, then its bias ``b`` of shape ``(fan_out,)``.  A stack of parameter
vectors ``thetas`` of shape ``(P, n_params)`` (a particle swarm) is evaluated in
one vectorized computation.

The model owns both directions of the network: :meth:`MLP.forward_pass` keeps
the activations of one parameter vector, :meth:`MLP.backward` turns them and
dD/dz of the logits into the gradient, and :meth:`MLP.stack_logits_T` is the
samples-last forward pass of a whole stack.  Losses and penalties live in
:mod:`swarmreg.objective` and :mod:`swarmreg.penalties`.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from . import checks

__all__ = ["MLP", "Layer", "HIDDEN_ACTIVATIONS", "OUTPUT_ACTIVATIONS"]

HIDDEN_ACTIVATIONS = ("tanh", "sigmoid", "relu", "identity")
OUTPUT_ACTIVATIONS = ("identity", "softmax", "sigmoid")


def expit(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The logistic function, ``scipy.special.expit``; scipy is imported when first
    needed, so that a process that never evaluates a sigmoid with numpy (a sweep's
    worker on the compiled backend) starts without it."""
    from scipy.special import expit as logistic

    return logistic(z, out=out)


def activate(name: str, z: np.ndarray) -> np.ndarray:
    """Apply a hidden activation to ``z`` in place and return it."""
    if name == "tanh":
        np.tanh(z, out=z)
    elif name == "sigmoid":
        expit(z, out=z)
    elif name == "relu":
        np.maximum(z, 0.0, out=z)
    return z


def activation_derivative(name: str, a: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Multiply ``delta`` in place by the activation's derivative, written
    through its output ``a`` (tanh' = 1 - a², sigmoid' = a(1 - a), relu' = [a > 0])."""
    if name == "tanh":
        delta *= 1.0 - a * a
    elif name == "sigmoid":
        delta *= a * (1.0 - a)
    elif name == "relu":
        delta *= a > 0
    return delta


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, stable for any finite logits."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


@dataclass(frozen=True)
class Layer:
    """Where one layer's parameters sit in ``theta``.

    ``theta[w_start:w_stop]`` is its weight matrix W (fan_in, fan_out) in C
    order and ``theta[w_stop:b_stop]`` its bias b (fan_out,).
    """

    w_start: int
    w_stop: int
    b_stop: int
    fan_in: int
    fan_out: int


class MLP:
    """A fully connected feed-forward network on a flat parameter vector.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first, e.g. ``(4, 20, 3)``.  ``(d, 1)`` is a linear
        model with no hidden layer.
    hidden : {"tanh", "sigmoid", "relu", "identity"}
        Activation of every hidden layer.
    output : {"identity", "softmax", "sigmoid"}
        Activation of the output layer.

    Attributes
    ----------
    n_params : int
        Length of ``theta``.
    weight_mask : ndarray of bool, shape (n_params,)
        True on weights, False on biases.
    layers : tuple of Layer
        The per-layer layout of ``theta``, input layer first.
    weight_slices : tuple of slice
        ``theta[s]`` for s in it are the weights of each layer (the True runs
        of ``weight_mask``): contiguous slices are faster than the mask.
    """

    def __init__(self, sizes, hidden: str = "tanh", output: str = "identity"):
        try:
            sizes = tuple(sizes)
        except TypeError:
            raise ValueError(f"sizes must be a sequence of positive integers, got {sizes!r}") from None
        if not all(isinstance(s, numbers.Integral) and not isinstance(s, (bool, np.bool_)) for s in sizes):
            raise ValueError(f"sizes must be a sequence of positive integers, got {sizes!r}")
        sizes = tuple(int(s) for s in sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least an input and an output width, got {sizes!r}")
        if any(s < 1 for s in sizes):
            raise ValueError(f"sizes must all be >= 1, got {sizes!r}")
        if hidden not in HIDDEN_ACTIVATIONS:
            raise ValueError(f"hidden={hidden!r} is not an activation; valid: {', '.join(HIDDEN_ACTIVATIONS)}")
        if output not in OUTPUT_ACTIVATIONS:
            raise ValueError(f"output={output!r} is not an output activation; valid: {', '.join(OUTPUT_ACTIVATIONS)}")
        if output == "softmax" and sizes[-1] < 2:
            raise ValueError("output='softmax' needs an output width of at least 2")
        self.sizes = sizes
        self.hidden = hidden
        self.output = output
        layers, start = [], 0
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            w_stop = start + fan_in * fan_out
            layers.append(Layer(start, w_stop, w_stop + fan_out, fan_in, fan_out))
            start = w_stop + fan_out
        self.layers = tuple(layers)
        self.weight_slices = tuple(slice(l.w_start, l.w_stop) for l in layers)
        self.n_params = start
        # the weight mask and one θ: a network that cannot hold them is refused before numpy tries
        checks.enough_memory(9 * start, f"MLP(sizes={sizes}) with {start:,} parameters")
        mask = np.zeros(start, dtype=bool)
        for layer in layers:
            mask[layer.w_start:layer.w_stop] = True
        mask.setflags(write=False)
        self.weight_mask = mask

    def __repr__(self) -> str:
        return f"MLP(sizes={self.sizes}, hidden={self.hidden!r}, output={self.output!r})"

    @property
    def n_inputs(self) -> int:
        return self.sizes[0]

    @property
    def n_outputs(self) -> int:
        return self.sizes[-1]

    # ------------------------------------------------------------------ layout
    def check_theta(self, theta, name: str = "theta") -> np.ndarray:
        """Return ``theta`` as a float array of shape (n_params,) or (P, n_params)."""
        theta = np.asarray(theta)
        if theta.dtype.kind not in "fiu":
            raise ValueError(f"{name} must be numeric, got dtype {theta.dtype}")
        if theta.ndim not in (1, 2) or theta.shape[-1] != self.n_params:
            raise ValueError(
                f"{name} must have shape ({self.n_params},) or (P, {self.n_params}) for {self!r}, got {theta.shape}"
            )
        if theta.dtype.kind != "f":
            theta = theta.astype(np.float64)
        return theta

    def unpack(self, theta):
        """Split ``theta`` into per-layer views.

        Parameters
        ----------
        theta : ndarray, shape (n_params,) or (P, n_params)

        Returns
        -------
        list of (W, b)
            Views into ``theta``: ``W`` of shape (fan_in, fan_out) and ``b`` of
            shape (fan_out,), with a leading ``P`` axis for a stack.
        """
        theta = self.check_theta(theta)
        lead = theta.shape[:-1]
        return [
            (
                theta[..., l.w_start:l.w_stop].reshape(lead + (l.fan_in, l.fan_out)),
                theta[..., l.w_stop:l.b_stop],
            )
            for l in self.layers
        ]

    def pack(self, layers) -> np.ndarray:
        """Inverse of :meth:`unpack`: a list of (W, b) pairs to ``theta`` (n_params,)."""
        layers = list(layers)
        if len(layers) != len(self.layers):
            raise ValueError(f"layers must hold {len(self.layers)} (W, b) pairs, got {len(layers)}")
        theta = np.empty(self.n_params)
        for i, (l, (W, b)) in enumerate(zip(self.layers, layers)):
            W, b = np.asarray(W, dtype=float), np.asarray(b, dtype=float)
            if W.shape != (l.fan_in, l.fan_out) or b.shape != (l.fan_out,):
                raise ValueError(
                    f"layer {i}: expected W {(l.fan_in, l.fan_out)} and b {(l.fan_out,)}, got {W.shape} and {b.shape}"
                )
            theta[l.w_start:l.w_stop] = W.ravel()
            theta[l.w_stop:l.b_stop] = b
        return theta

    def init(self, seed=None) -> np.ndarray:
        """Glorot-uniform weights, U(±sqrt(6 / (fan_in + fan_out))), and zero biases.

        Parameters
        ----------
        seed : None, int or numpy.random.Generator
        """
        rng = checks.make_rng(seed)
        theta = np.zeros(self.n_params)
        for l in self.layers:
            limit = np.sqrt(6.0 / (l.fan_in + l.fan_out))
            theta[l.w_start:l.w_stop] = rng.uniform(-limit, limit, l.w_stop - l.w_start)
        return theta

    def start_widths(self, fraction: float) -> np.ndarray:
        """Half widths of a start scaled to the network: ``fraction`` × each
        layer's Glorot limit √(6 / (fan_in + fan_out)) for its weights and
        ``fraction`` for every bias → (n_params,).

        The gradient-free trainers start there (see :func:`swarmreg.swarm.init_box`).
        """
        half = np.full(self.n_params, float(fraction))
        for l in self.layers:
            half[l.w_start:l.w_stop] = fraction * np.sqrt(6.0 / (l.fan_in + l.fan_out))
        return half

    # ----------------------------------------------------------------- compute
    def check_X(self, X, name: str = "X") -> np.ndarray:
        """Return ``X`` as a finite float array of shape (n, n_inputs)."""
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_samples, {self.n_inputs}), got shape {X.shape}")
        if X.dtype.kind not in "fiub":
            raise ValueError(f"{name} must be numeric, got dtype {X.dtype}")
        if X.shape[1] != self.n_inputs:
            raise ValueError(f"{name} has {X.shape[1]} columns but the model has {self.n_inputs} inputs")
        if X.dtype.kind != "f":
            X = X.astype(np.float64)
        check_finite(X, name)
        return X

    def logits(self, theta, X) -> np.ndarray:
        """Outputs before the output activation.

        Parameters
        ----------
        theta : ndarray, shape (n_params,) or (P, n_params)
        X : ndarray, shape (n, n_inputs)

        Returns
        -------
        ndarray, shape (n, n_outputs) or (P, n, n_outputs)
        """
        theta = self.check_theta(theta)
        X = self.check_X(X)
        return self._logits(theta, X)

    def _logits(self, theta: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Unchecked forward pass to the logits (see :meth:`logits`)."""
        if theta.ndim == 1:
            for z in self._layer_outputs(theta, X):
                pass  # only the last output, the logits, is kept
            return z
        # A stack: the samples-last fast path, transposed back to (P, n, k).
        out = np.empty((self.n_outputs, theta.shape[0], X.shape[0]), theta.dtype)
        return self.stack_logits_T(theta, self.inputs_with_ones(X, theta.dtype), out).transpose(1, 2, 0)

    def _layer_outputs(self, theta: np.ndarray, X: np.ndarray):
        """Yield each layer's output for one parameter vector: the hidden
        activations, then the logits.  Each is a fresh array."""
        a = X
        last = self.layers[-1]
        for l in self.layers:
            z = a @ theta[l.w_start:l.w_stop].reshape(l.fan_in, l.fan_out)
            z += theta[l.w_stop:l.b_stop]
            a = z if l is last else activate(self.hidden, z)
            yield a

    def forward_pass(self, theta: np.ndarray, X: np.ndarray) -> list:
        """The forward pass of one parameter vector, keeping what back-propagation needs.

        Unchecked: ``theta`` and ``X`` must already be float arrays of the
        right shapes (as :meth:`check_theta` and :meth:`check_X` return them);
        this is the per-step path of the gradient trainers.

        Parameters
        ----------
        theta : ndarray, shape (n_params,)
        X : ndarray, shape (m, n_inputs)

        Returns
        -------
        list of ndarray
            ``[X, a_1, ..., a_{L-1}, z]``: the input, the activation of every
            hidden layer (m, fan_out) and the logits z (m, n_outputs), the
            latter fresh arrays the caller may overwrite.
        """
        return [X, *self._layer_outputs(theta, X)]

    def backward(self, theta: np.ndarray, activations: list, delta: np.ndarray) -> np.ndarray:
        """Back-propagate dD/dz of the logits to the gradient of D.

        Parameters
        ----------
        theta : ndarray, shape (n_params,)
            The parameters :meth:`forward_pass` ran with.
        activations : list of ndarray
            What :meth:`forward_pass` returned (its last entry, the logits, is
            not needed).
        delta : ndarray, shape (m, n_outputs)
            dD/dz for every sample and output; not modified.

        Returns
        -------
        ndarray of float64, shape (n_params,)
            dD/dθ in the layout of ``theta``.
        """
        grad = np.empty(self.n_params)
        for i in range(len(self.layers) - 1, -1, -1):
            l = self.layers[i]
            a_in = activations[i]
            np.matmul(a_in.T, delta, out=grad[l.w_start:l.w_stop].reshape(l.fan_in, l.fan_out))
            np.sum(delta, axis=0, out=grad[l.w_stop:l.b_stop])
            if i:
                W = theta[l.w_start:l.w_stop].reshape(l.fan_in, l.fan_out)
                delta = activation_derivative(self.hidden, a_in, delta @ W.T)
        return grad

    def inputs_with_ones(self, X: np.ndarray, dtype=None) -> np.ndarray:
        """The samples-last input of :meth:`stack_logits_T`: X transposed, with
        a last row of ones that carries the first layer's bias.

        Parameters
        ----------
        X : ndarray, shape (n, n_inputs)
        dtype : numpy float dtype, optional
            Default the dtype of X.

        Returns
        -------
        ndarray, shape (n_inputs + 1, n)
        """
        XT1 = np.ones((X.shape[1] + 1, X.shape[0]), X.dtype if dtype is None else dtype)
        XT1[:-1] = X.T
        return XT1

    def stack_logits_T(self, thetas: np.ndarray, XT1: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Logits of a stack with samples on the last axis: the swarm's fast path.

        Unchecked, for callers that evaluate many stacks on the same inputs
        (``RegularizedError.batch`` builds ``XT1`` once and reuses ``out``).
        The first layer of all particles is one matrix product; each later
        layer one batched product per particle.

        Parameters
        ----------
        thetas : ndarray, shape (P, n_params)
        XT1 : ndarray, shape (n_inputs + 1, n)
            The inputs transposed, with a last row of ones that carries the
            first bias (see :meth:`inputs_with_ones`).
        out : ndarray, shape (n_outputs, P, n)
            Receives the logits; returned.

        Returns
        -------
        ndarray, shape (n_outputs, P, n)
            ``out``, with ``out[j, p, i]`` the logit j of particle p on sample i.
        """
        P, n = thetas.shape[0], XT1.shape[1]
        first, last = self.layers[0], self.layers[-1]
        d, h = first.fan_in, first.fan_out
        # The first layer's W (d, h) is followed by its b (h,): per particle one
        # (d + 1, h) block of theta.  Side by side as B (d + 1, P·h), the first
        # layer of every particle is one matrix product Bᵀ @ XT1, bias included.
        B = np.empty((d + 1, P, h), thetas.dtype)
        np.copyto(B, thetas[:, :first.b_stop].reshape(P, d + 1, h).transpose(1, 0, 2))
        a = (B.reshape(d + 1, P * h).T @ XT1).reshape(P, h, n)
        if len(self.layers) == 1:
            out[...] = a.transpose(1, 0, 2)
            return out
        for l in self.layers[1:]:
            W = thetas[:, l.w_start:l.w_stop].reshape(P, l.fan_in, l.fan_out)
            b = thetas[:, l.w_stop:l.b_stop]
            activate(self.hidden, a)
            if l is last:
                # one small (fan_out, fan_in) @ (fan_in, n) product per particle
                np.matmul(W.transpose(0, 2, 1), a, out=out.transpose(1, 0, 2))
                out += b.T[:, :, None]
            else:
                a = np.matmul(W.transpose(0, 2, 1), a)
                a += b[:, :, None]
        return out

    def output_activation(self, z: np.ndarray) -> np.ndarray:
        """Map logits to outputs (probabilities for softmax/sigmoid)."""
        if self.output == "softmax":
            return softmax(z)
        if self.output == "sigmoid":
            return expit(z)
        return z

    def forward(self, theta, X) -> np.ndarray:
        """Network outputs after the output activation.

        Parameters
        ----------
        theta : ndarray, shape (n_params,) or (P, n_params)
        X : ndarray, shape (n, n_inputs)

        Returns
        -------
        ndarray, shape (n, n_outputs) or (P, n, n_outputs)
        """
        return self.output_activation(self.logits(theta, X))

    def predict(self, theta, X) -> np.ndarray:
        """Class labels for softmax (argmax) and sigmoid (p > 0.5) outputs,
        values for identity outputs.

        Returns
        -------
        ndarray
            softmax: int labels (n,) or (P, n); sigmoid: int labels (n, n_outputs),
            squeezed to (n,) for one output; identity: (n, n_outputs).
        """
        z = self.logits(theta, X)
        if self.output == "softmax":
            return z.argmax(axis=-1)
        if self.output == "sigmoid":
            labels = (z > 0).astype(np.int64)
            return labels[..., 0] if self.n_outputs == 1 else labels
        return z


def check_finite(a: np.ndarray, name: str) -> None:
    """Raise ValueError naming ``name``, the count and the first position of
    NaN/inf entries in ``a``."""
    if a.dtype.kind == "f":
        bad = ~np.isfinite(a)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            where = first[0] if len(first) == 1 else first
            raise ValueError(f"{name} holds {int(bad.sum())} NaN/inf value(s); the first at index {where}")
