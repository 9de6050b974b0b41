"""The regularized error E(theta) = D(theta) + R(w).

D is the data loss, a MEAN over samples; R is the penalty on the weights
(biases are left out unless ``regularize_bias=True``), one of
:mod:`swarmreg.penalties` (re-exported here).  Both trainers, and the
reference optimizer, minimize the same :class:`RegularizedError`: backprop
through :meth:`RegularizedError.value_and_grad`, the swarm through
:meth:`RegularizedError.batch`.  The network's forward and backward passes are
the model's (:class:`swarmreg.model.MLP`); this module adds the losses, their
gradients with respect to the logits, and the penalty.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import backend, checks
from .model import MLP, check_finite, expit, softmax
from .penalties import L1, L2, ElasticNet, WeightElimination, make_penalty, soft_threshold  # re-exported

__all__ = ["L2", "L1", "ElasticNet", "WeightElimination", "RegularizedError", "LOSSES", "make_penalty", "soft_threshold",
           "MAX_MEMORY", "DEFAULT_LOSS", "chunk_lengths", "batch_memory", "evaluation_memory"]

LOSSES = ("mse", "cross_entropy", "binary_cross_entropy")
MAX_MEMORY = 64 * 2**20  # the default max_memory of RegularizedError
CHUNK_BUDGET = 16 * 2**20  # what batch uses at most per chunk, whatever max_memory allows
#: The loss a model's output takes when none is given.
DEFAULT_LOSS = {"identity": "mse", "softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}


def _pair_bytes(model: MLP, itemsize: int) -> int:
    """Temporaries of one (particle, sample) pair in ``batch``: every layer's
    output and the loss's scratch, with room for a copy of each."""
    widths = sum(model.sizes[1:]) + 2 * model.n_outputs
    return 2 * widths * itemsize


def chunk_lengths(model: MLP, n_samples: int, P: int, dtype=np.float64, max_memory: int = MAX_MEMORY):
    """Particle and sample chunk lengths that keep ``batch``'s temporaries near its budget.

    The budget is min(max_memory, 16 MiB): larger chunks gain nothing per
    sample and push the swarm's own arrays out of the caches (measured: up to
    a quarter slower per iteration at 64 MiB).

    Returns
    -------
    (int, int)
        Particles and samples per chunk.
    """
    cells = max(1, min(max_memory, CHUNK_BUDGET) // _pair_bytes(model, np.dtype(dtype).itemsize))
    n = n_samples
    if P * n <= cells:
        return P, n
    # At least 1024 samples per chunk keeps the per-chunk overhead small, but
    # never more pairs than the budget holds (a very wide layer leaves room for
    # fewer than 1024 pairs): then one particle at a time.
    sample_chunk = min(n, max(min(1024, cells), cells // P))
    particle_chunk = max(1, min(P, cells // sample_chunk))
    return particle_chunk, sample_chunk


def elementwise(penalty) -> bool:
    """Whether a penalty's value on a stack of weights needs temporaries of the
    stack's size (an L1 part or weight elimination; a pure L2 sums squares in place)."""
    return penalty is not None and (isinstance(penalty, WeightElimination) or penalty.l1 > 0)


def batch_memory(model: MLP, n_samples: int, P: int, dtype=np.float64, max_memory: int = MAX_MEMORY,
                 penalty: bool = True, l1: bool = True) -> int:
    """An upper estimate of the bytes one ``RegularizedError.batch`` call on P particles allocates.

    One chunk (its layers, pair by pair, plus its copy of the particles'
    first-layer parameters); a float64 stack handed to a float32 objective
    adds its float32 copy, and the penalty its float64 copy of a float32
    stack and, for an L1 part, |w| of every row (P × n_params float64).

    Parameters
    ----------
    model : MLP
    n_samples, P : int
        Samples of the objective, rows of the stack.
    dtype, max_memory
        As the objective's.
    penalty, l1 : bool
        Whether the objective has a penalty, and whether it has an L1 part.

    Returns
    -------
    int
    """
    P = checks.integer("P", P)
    item = np.dtype(dtype).itemsize
    pc, sc = chunk_lengths(model, n_samples, P, dtype, max_memory)
    first = model.layers[0]
    chunk = pc * sc * _pair_bytes(model, item) + pc * (first.fan_in + 1) * first.fan_out * item
    stack = model.n_params * P
    copies = stack * item if item != 8 else 0
    if penalty:
        copies += stack * 8 * ((item != 8) + bool(l1))
    return chunk + copies + 8 * P


def evaluation_memory(model: MLP, n_samples: int, dtype=np.float64) -> int:
    """An upper estimate of the bytes ``RegularizedError.data_loss`` allocates on all
    samples: two layers' outputs at a time, the loss's temporaries and the
    finiteness masks of the input check."""
    item = np.dtype(dtype).itemsize
    return n_samples * ((2 * max(model.sizes[1:]) + 6 * model.n_outputs) * item + 2 * model.n_inputs)


class RegularizedError:
    """E(theta) = D(theta) + R(weights): the error both trainers minimize.

    Parameters
    ----------
    model : MLP
    X : array_like, shape (n, n_inputs)
    y : array_like
        "mse": targets (n,) for one output or (n, n_outputs);
        "cross_entropy": integer labels 0..k-1, shape (n,);
        "binary_cross_entropy": targets in [0, 1], (n,) for one output or (n, n_outputs).
    loss : {"mse", "cross_entropy", "binary_cross_entropy"}, optional
        Default follows the model's output: identity → mse, softmax →
        cross_entropy, sigmoid → binary_cross_entropy.
        mse = mean over all n·k entries of (ŷ − y)² (no ½), on the outputs after
        the output activation; cross_entropy = mean of −log p(true class), from
        the logits by log-sum-exp; binary_cross_entropy = mean over all n·k
        entries of −[y log p + (1 − y) log(1 − p)], from the logits.
    penalty : L2, L1, ElasticNet, WeightElimination or None
    regularize_bias : bool
        Penalize biases too (off by default: decay leaves biases alone).
    dtype : numpy float dtype
        Precision of the forward evaluation (float64 or float32).
    max_memory : int
        Bytes of temporary memory :meth:`batch` may use per chunk; it uses at
        most min(max_memory, 16 MiB), since larger chunks gain nothing per sample
        and push the swarm's own arrays out of the caches.  A chunk holds at
        least one (particle, sample) pair, 2·(Σ widths + 2k)·itemsize bytes
        (the widths of every layer after the input, k outputs), which a very
        wide network may need beyond the budget; each chunk also copies its
        particles' first-layer parameters.  :meth:`batch_memory` adds it up.
    """

    def __init__(self, model: MLP, X, y, loss: str | None = None, penalty=None,
                 regularize_bias: bool = False, dtype=np.float64, max_memory: int = MAX_MEMORY):
        if not isinstance(model, MLP):
            raise ValueError(f"model must be an MLP, got {type(model).__name__}")
        if loss is None:
            loss = DEFAULT_LOSS[model.output]
        if loss not in LOSSES:
            raise ValueError(f"loss={loss!r} is not a loss; valid: {', '.join(LOSSES)}")
        if loss == "cross_entropy" and model.output != "softmax":
            raise ValueError(f"loss='cross_entropy' needs output='softmax', the model has output={model.output!r}")
        if loss == "binary_cross_entropy" and model.output != "sigmoid":
            raise ValueError(
                f"loss='binary_cross_entropy' needs output='sigmoid', the model has output={model.output!r}"
            )
        if penalty is not None and not isinstance(penalty, (ElasticNet, WeightElimination)):
            raise ValueError(f"penalty must be L2, L1, ElasticNet, WeightElimination or None, got {penalty!r}")
        try:
            ok = np.dtype(dtype) in (np.float64, np.float32)
        except TypeError:
            ok = False
        if not ok:
            raise ValueError(f"dtype must be float64 or float32, got {dtype!r}")
        dtype = np.dtype(dtype)
        if not isinstance(max_memory, numbers.Integral) or isinstance(max_memory, bool) or max_memory < 2**16:
            raise ValueError(f"max_memory must be an integer >= 65536 (bytes), got {max_memory!r}")
        if not isinstance(regularize_bias, (bool, np.bool_)):
            raise ValueError(f"regularize_bias must be True or False, got {regularize_bias!r}")
        X = model.check_X(X)
        y = np.asarray(y)
        if y.dtype.kind not in "fiub":
            raise ValueError(f"y must be numeric, got dtype {y.dtype}")
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D or 2-D, got shape {y.shape}")
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
        if X.shape[0] == 0:
            raise ValueError("X has no rows")
        if y.dtype.kind == "f":
            check_finite(y, "y")
        k = model.n_outputs
        if loss == "cross_entropy":
            if y.ndim != 1:
                raise ValueError(f"y for cross_entropy must be 1-D integer labels, got shape {y.shape}")
            if y.dtype.kind == "f" and not np.all(y == np.round(y)):
                first = int(np.flatnonzero(y != np.round(y))[0])
                raise ValueError(f"y for cross_entropy must be integer labels; y[{first}] = {y[first].item()!r}")
            bad = (y < 0) | (y > k - 1)
            if bad.any():
                first = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"y labels must lie in 0..{k - 1} for {k} outputs; {int(bad.sum())} do not, "
                    f"the first y[{first}] = {y[first].item()!r}"
                )
            target = y.astype(np.intp)
        else:
            if y.ndim == 1:
                y = y[:, None]
            if y.shape[1] != k:
                raise ValueError(f"y has width {y.shape[1]} but the model has {k} outputs")
            if loss == "binary_cross_entropy":
                bad = (y < 0) | (y > 1)
                if bad.any():
                    first = tuple(int(i) for i in np.argwhere(bad)[0])
                    raise ValueError(f"y for binary_cross_entropy must lie in [0, 1]; y{list(first)} = {y[first].item()!r}")
            target = y.astype(dtype)
        self.model = model
        self.loss = loss
        self.penalty = penalty
        self.regularize_bias = bool(regularize_bias)
        self.dtype = dtype
        self.max_memory = int(max_memory)
        self.X = np.array(X, dtype=dtype)  # a private copy: E cannot change behind the checks
        self.target = target
        self.n_samples = X.shape[0]
        self.n_params = model.n_params
        self.penalty_mask = np.ones(model.n_params, bool) if self.regularize_bias else model.weight_mask
        # Penalized parameters as contiguous slices: faster than a boolean mask.
        if self.regularize_bias:
            self.penalty_slices = (slice(0, model.n_params),)
        else:
            self.penalty_slices = model.weight_slices
        self._onehot = None
        if loss == "cross_entropy":
            self._onehot = np.zeros((self.n_samples, k), dtype)
            self._onehot[np.arange(self.n_samples), target] = 1.0
        # batch() works with samples on the last axis: X transposed with a row
        # of ones (the first bias), targets (or one-hot labels) output-major
        self._XT1 = model.inputs_with_ones(self.X, dtype)
        self._targetT = np.ascontiguousarray((self._onehot if loss == "cross_entropy" else target).T)
        self._kernel_args = None  # built by the first compiled batch

    def astype(self, dtype) -> "RegularizedError":
        """The same E computed in another precision: the same model, data, loss and penalty.

        Parameters
        ----------
        dtype : float64 or float32

        Returns
        -------
        RegularizedError
            ``self`` when it already has that dtype.  Going from float32 to float64 keeps the
            data as float32 rounded them.
        """
        if np.dtype(dtype) == self.dtype:
            return self
        return RegularizedError(self.model, self.X, self.target, loss=self.loss, penalty=self.penalty,
                                regularize_bias=self.regularize_bias, dtype=dtype, max_memory=self.max_memory)

    def __repr__(self) -> str:
        return (f"RegularizedError({self.model!r}, n_samples={self.n_samples}, loss={self.loss!r}, "
                f"penalty={self.penalty!r}, regularize_bias={self.regularize_bias})")

    # --------------------------------------------------------------- pieces
    def _per_sample_norm(self) -> int:
        """Entries D averages over per sample: k for mse/bce, 1 for cross-entropy."""
        return 1 if self.loss == "cross_entropy" else self.model.n_outputs

    def _loss_sum(self, z: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Sum of the per-entry loss over the last two axes of logits z (..., m, k)."""
        if self.loss == "mse":
            r = self.model.output_activation(z) - target
            return np.einsum("...ij,...ij->...", r, r)
        if self.loss == "cross_entropy":
            zmax = z.max(axis=-1, keepdims=True)
            lse = np.log(np.exp(z - zmax).sum(axis=-1)) + zmax[..., 0]
            picked = np.take_along_axis(z, np.broadcast_to(target[:, None], z.shape[:-1] + (1,)), axis=-1)[..., 0]
            return (lse - picked).sum(axis=-1)
        # binary cross-entropy from the logit: softplus(z) − y·z
        loss = np.maximum(z, 0.0) - target * z + np.log1p(np.exp(-np.abs(z)))
        return loss.sum(axis=(-2, -1))

    def _loss_grad(self, z: np.ndarray, target: np.ndarray, rows) -> np.ndarray:
        """dD/dz for logits z (m, k) of the samples ``rows`` (D a mean over them)."""
        m = z.shape[0]
        scale = 1.0 / (m * self._per_sample_norm())
        if self.loss == "cross_entropy":
            g = softmax(z)
            g -= self._onehot if rows is None else self._onehot[rows]
        elif self.loss == "binary_cross_entropy":
            g = expit(z)
            g -= target
        else:
            out = self.model.output_activation(z)
            g = 2.0 * (out - target)
            if self.model.output == "sigmoid":
                g *= out * (1.0 - out)
            elif self.model.output == "softmax":
                g = out * (g - np.einsum("ij,ij->i", g, out)[:, None])
        g *= scale
        return g

    def penalty_value(self, theta) -> np.ndarray | float:
        """R at theta (n_params,) → float, or at a stack (P, n_params) → (P,)."""
        if np.shape(theta)[-1:] != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},) or (P, {self.n_params}), "
                             f"got {np.shape(theta)}")
        if self.penalty is None:
            return 0.0 if np.ndim(theta) == 1 else np.zeros(np.shape(theta)[0])
        r = sum(self.penalty.value(theta[..., s]) for s in self.penalty_slices)
        return float(r) if np.ndim(theta) == 1 else np.asarray(r, dtype=float)

    def weight_sq_norm(self, theta) -> float:
        """Σw² over the weights (never the biases)."""
        theta = np.asarray(theta)
        w = theta[..., self.model.weight_mask]
        return np.einsum("...i,...i->...", w, w)

    # ------------------------------------------------------------- public API
    def data_loss(self, theta) -> float:
        """D(theta) on all samples."""
        theta = self.model.check_theta(theta)
        if theta.ndim != 1:
            raise ValueError(f"theta must have shape ({self.n_params},), got {theta.shape}; use batch() for a stack")
        if backend.resolve() == "numba":
            return float(self._compiled(theta[None, :], penalty=False)[0])
        z = self.model.logits(theta.astype(self.dtype, copy=False), self.X)
        return float(self._loss_sum(z, self.target)) / (self.n_samples * self._per_sample_norm())

    def parts(self, theta) -> dict:
        """{"data": D, "penalty": R, "total": E} at theta (n_params,)."""
        d = self.data_loss(theta)
        r = self.penalty_value(np.asarray(theta, dtype=float))
        return {"data": d, "penalty": r, "total": d + r}

    def __call__(self, theta) -> float:
        """E(theta) for one parameter vector (n_params,)."""
        return self.parts(theta)["total"]

    def _chunks(self, P: int):
        """Particle and sample chunk lengths of :meth:`batch` (see :func:`chunk_lengths`)."""
        return chunk_lengths(self.model, self.n_samples, P, self.dtype, self.max_memory)

    def batch_memory(self, P: int) -> int:
        """An upper estimate of the bytes one :meth:`batch` call on P particles
        allocates (see :func:`batch_memory`)."""
        return batch_memory(self.model, self.n_samples, P, self.dtype, self.max_memory,
                            penalty=self.penalty is not None, l1=elementwise(self.penalty))

    def _loss_sum_T(self, z: np.ndarray, s0: int, s1: int) -> np.ndarray:
        """Per-particle sum of the per-entry loss from logits z (k, P, m) of
        samples s0..s1 → (P,); z is overwritten."""
        t = self._targetT[:, s0:s1]
        k, P, m = z.shape
        if self.loss == "cross_entropy":
            # Σ_m [log Σ_j exp(z_jm) − z_true,m], the log-sum-exp shifted by the
            # per-sample max; z[j] (P, m) is contiguous, so each pass is one loop
            picked = z[0] @ t[0]
            zmax = np.maximum(z[0], z[1])
            for j in range(1, k):
                picked += z[j] @ t[j]
                if j > 1:
                    np.maximum(zmax, z[j], out=zmax)
            z -= zmax
            np.exp(z, out=z)
            lse = np.add(z[0], z[1])
            for j in range(2, k):
                lse += z[j]
            np.log(lse, out=lse)
            lse += zmax
            return lse.sum(axis=1) - picked
        if self.loss == "mse":
            if self.model.output == "softmax":
                z -= z.max(axis=0)
                np.exp(z, out=z)
                z /= z.sum(axis=0)
            elif self.model.output == "sigmoid":
                expit(z, out=z)
            z -= t[:, None, :]
            return np.einsum("kpm,kpm->p", z, z)
        # binary cross-entropy from the logit: softplus(z) − y·z
        loss = np.maximum(z, 0.0) - t[:, None, :] * z + np.log1p(np.exp(-np.abs(z)))
        return loss.sum(axis=(0, 2))

    def _check_stack(self, thetas) -> np.ndarray:
        thetas = self.model.check_theta(thetas, "thetas")
        if thetas.ndim != 2 or thetas.shape[0] == 0:
            raise ValueError(f"thetas must have shape (P, {self.n_params}) with P >= 1, got {thetas.shape}")
        return thetas

    def _compiled(self, thetas: np.ndarray, penalty: bool) -> np.ndarray:
        """E (or D) of a checked stack by the fused kernel (:mod:`swarmreg.kernels.forward`);
        a row with a non-finite parameter gets NaN, one with a huge parameter the numpy value."""
        if self._kernel_args is None:
            from .kernels.forward import GEMM_BLOCK, HIDDEN_CODES, LOSS_CODES, OUTPUT_CODES, batch_values, pad_columns

            m = self.model
            layout = np.array([[l.w_start, l.w_stop, l.b_stop, l.fan_in, l.fan_out] for l in m.layers], np.int64)
            slices = np.array([[s.start, s.stop] for s in self.penalty_slices], np.int64).reshape(-1, 2)
            self._kernel_args = (pad_columns(self._XT1), layout, HIDDEN_CODES[m.hidden], OUTPUT_CODES[m.output],
                                 LOSS_CODES[self.loss], float(self.n_samples * self._per_sample_norm()), slices,
                                 min(GEMM_BLOCK, self.max_memory // (2 * self.dtype.itemsize)), batch_values)
        XT, layout, hidden, output, loss, norm, slices, budget, batch_values = self._kernel_args
        pen = self.penalty if penalty else None
        kind, a, b = ((0, 0.0, 1.0) if pen is None else (2, pen.lam, pen.w0) if isinstance(pen, WeightElimination)
                      else (1, pen.l1, pen.l2))
        stack = np.ascontiguousarray(thetas, dtype=self.dtype)
        originals = np.ascontiguousarray(thetas) if thetas.dtype.kind == "f" else stack
        out, flags = batch_values(stack, originals, XT, self._targetT, layout, hidden, output, loss, norm,
                                  slices, kind, a, b, backend.threads(), budget=budget)
        if flags.any():  # a row the kernel did not evaluate (nearly never: one pass over the flags otherwise)
            huge = flags == 2
            if huge.any():  # beyond what the kernel's functions take: the numpy code, which overflows as it should
                with backend.use("numpy"):
                    out[huge] = self.batch(thetas[huge]) if penalty else self.batch_data_loss(thetas[huge])
        return out

    def batch_data_loss(self, thetas) -> np.ndarray:
        """D for every row of thetas (P, n_params) → (P,), chunked in memory."""
        thetas = self._check_stack(thetas)
        if backend.resolve() == "numba":
            return self._compiled(thetas, penalty=False)
        thetas = thetas.astype(self.dtype, copy=False)
        P, n, k = thetas.shape[0], self.n_samples, self.model.n_outputs
        pc, sc = self._chunks(P)
        out = np.zeros(P)
        logits = np.empty(k * pc * sc, self.dtype)  # one chunk's logits (k, p, m), contiguous
        for p0 in range(0, P, pc):
            block = thetas[p0:p0 + pc]
            p = block.shape[0]
            for s0 in range(0, n, sc):
                s1 = min(n, s0 + sc)
                z = logits[:k * p * (s1 - s0)].reshape(k, p, s1 - s0)
                z = self.model.stack_logits_T(block, self._XT1[:, s0:s1], z)
                out[p0:p0 + p] += self._loss_sum_T(z, s0, s1)
        out /= n * self._per_sample_norm()
        return out

    def batch(self, thetas) -> np.ndarray:
        """E for every row of a stack.

        Parameters
        ----------
        thetas : ndarray, shape (P, n_params)

        Returns
        -------
        ndarray, shape (P,)
        """
        if backend.resolve() == "numba":
            return self._compiled(self._check_stack(thetas), penalty=True)
        d = self.batch_data_loss(thetas)
        if self.penalty is None:
            return d
        return d + self.penalty_value(np.asarray(thetas, dtype=float))

    def data_value_and_grad(self, theta, rows=None):
        """D and its gradient by back-propagation.

        Parameters
        ----------
        theta : ndarray, shape (n_params,)
        rows : None or index array
            Sample indices of a minibatch; D is then the mean over those rows.

        Returns
        -------
        (float, ndarray of shape (n_params,))
        """
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},), got {theta.shape}")
        if rows is None:
            X = self.X
        else:
            rows = np.asarray(rows)
            if rows.ndim != 1:
                raise ValueError(f"rows must be a 1-D array of sample indices, got shape {rows.shape}")
            if rows.dtype.kind not in "iu" or (rows.size and (rows.min() < -self.n_samples
                                                              or rows.max() >= self.n_samples)):
                raise ValueError(f"rows must be sample indices in 0..{self.n_samples - 1}")
            X = self.X[rows]
        m = X.shape[0]
        if m == 0:
            raise ValueError("rows selects no samples")
        theta = theta.astype(self.dtype, copy=False)
        activations = self.model.forward_pass(theta, X)
        z = activations[-1]
        target = self.target if rows is None else self.target[rows]
        if self.loss == "cross_entropy":
            # one log-softmax serves both D and dD/dz (z is a fresh array)
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            s = p.sum(axis=1)
            idx = np.arange(m)
            d = float(np.log(s).sum() - z[idx, target].sum()) / m
            p /= s[:, None]
            p[idx, target] -= 1.0
            p *= 1.0 / m
            delta = p
        else:
            d = float(self._loss_sum(z, target)) / (m * self._per_sample_norm())
            delta = self._loss_grad(z, target, rows)
        return d, self.model.backward(theta, activations, delta)

    def value_and_grad(self, theta, rows=None):
        """E and ∇E by back-propagation, on all samples or on the minibatch ``rows``.

        Parameters
        ----------
        theta : ndarray, shape (n_params,)
        rows : None or index array
            D is the mean over those rows; R is unchanged.

        Returns
        -------
        (float, ndarray of shape (n_params,))
        """
        d, grad = self.data_value_and_grad(theta, rows)
        theta = np.asarray(theta, dtype=float)
        r = 0.0
        if self.penalty is not None:
            for s in self.penalty_slices:
                r += float(self.penalty.value(theta[s]))
                grad[s] += self.penalty.grad(theta[s])
        return d + r, grad
