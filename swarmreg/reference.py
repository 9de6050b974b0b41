"""The reference optimum: full-batch L-BFGS-B on the same E = D + R.

Both trainers are judged against what :class:`LBFGSTrainer` reaches.  With an
L2 penalty E is smooth and L-BFGS-B minimizes it directly.  With an L1 part
(L1 or elastic net) E has kinks at w = 0, so each penalized parameter is split
into a positive and a negative part, w = p − q with p, q >= 0, and L-BFGS-B
minimizes the smooth problem

    D(θ) + l1·Σ(p + q) + (l2/2)·Σ(p − q)²      subject to p >= 0, q >= 0.

It has the same minimum as E (at the optimum min(p, q) = 0, so p + q = |w|),
and a weight whose optimum is 0 ends with both parts on their bound 0: an
exact zero, as the lasso solution has it.
"""

from __future__ import annotations

import math

import numpy as np

from . import checks
from .result import GRADIENT_COLUMNS, TrainResult
from .training import FitLog, GradientObjective, Trainer, held_threads, history_bytes, point_row, require

__all__ = ["LBFGSTrainer"]

HISTORY_PAIRS = 10  # the (s, y) pairs L-BFGS-B keeps (maxcor, scipy's default)


class _Problem:
    """The smooth function L-BFGS-B sees, its bounds, and the map back to θ.

    Variables z: θ itself when the penalty has no L1 part; else the
    unpenalized parameters followed by p and q of the penalized ones.
    """

    def __init__(self, objective, theta0: np.ndarray):
        pen = objective.penalty
        self.objective = objective
        self.l1 = float(pen.l1) if pen is not None else 0.0
        self.l2 = float(pen.l2) if pen is not None else 0.0
        self.split = self.l1 > 0
        self.mask = np.asarray(objective.penalty_mask, dtype=bool)
        self.free = ~self.mask
        self.n_free = int(self.free.sum())
        self.n_pen = int(self.mask.sum())
        self.evaluations = 0
        self.last = None  # (z, D) of the last evaluation
        if self.split:
            w0 = theta0[self.mask]
            self.z0 = np.concatenate([theta0[self.free], np.maximum(w0, 0.0), np.maximum(-w0, 0.0)])
            self.bounds = [(None, None)] * self.n_free + [(0.0, None)] * (2 * self.n_pen)
        else:
            self.z0 = theta0.copy()
            self.bounds = None

    def theta(self, z: np.ndarray) -> np.ndarray:
        """θ (n_params,) from the variables z."""
        if not self.split:
            return np.array(z, dtype=float)
        theta = np.empty(self.mask.size)
        theta[self.free] = z[:self.n_free]
        theta[self.mask] = z[self.n_free:self.n_free + self.n_pen] - z[self.n_free + self.n_pen:]
        return theta

    def __call__(self, z: np.ndarray):
        """(E, ∇E) with respect to z."""
        self.evaluations += 1
        theta = self.theta(z)
        if not self.split:
            value, grad = self.objective.value_and_grad(theta)
            self.last = (z.copy(), value - self.objective.penalty_value(theta))
            return value, grad
        data, g = self.objective.data_value_and_grad(theta)
        p = z[self.n_free:self.n_free + self.n_pen]
        q = z[self.n_free + self.n_pen:]
        w = theta[self.mask]
        penalty = self.l1 * float(p.sum() + q.sum()) + 0.5 * self.l2 * float(w @ w)
        gw = g[self.mask] + self.l2 * w
        grad = np.concatenate([g[self.free], gw + self.l1, -gw + self.l1])
        self.last = (z.copy(), data)
        return data + penalty, grad

    def parts(self, z: np.ndarray) -> tuple[float, float]:
        """(D, R) at θ(z); D from the last evaluation when it was at z.
        R is the penalty of θ itself (for split variables l1·Σ(p + q) may
        exceed it until min(p, q) = 0)."""
        theta = self.theta(z)
        if self.last is not None and np.array_equal(self.last[0], z):
            data = self.last[1]
        else:
            data = self.objective.data_loss(theta)
        return float(data), float(self.objective.penalty_value(theta))


class LBFGSTrainer(Trainer):
    """Full-batch L-BFGS-B (scipy) on E = D + R: the best achievable optimum.

    Parameters
    ----------
    max_iter : int
        L-BFGS-B iterations (>= 1); function evaluations are capped at
        max(15000, 10·max_iter).
    tol : float
        Convergence tolerance, used for both of scipy's tests: the relative
        decrease (E_k − E_{k+1}) / max(|E_k|, |E_{k+1}|, 1) <= tol (``ftol``)
        and the largest projected gradient entry <= tol (``gtol``).  The
        default 1e-10 sits a few hundred machine epsilons above rounding, so
        E agrees with the optimum to about that relative precision.

    Notes
    -----
    Status: scipy's "converged" (both tests) → "converged"; iteration or
    evaluation limit → "max_iter"; the line search could not decrease E any
    further (rounding) → "stalled"; a non-finite E → "diverged"; the
    callback raised StopIteration → "stopped".  Every function evaluation is
    one forward and one backward pass over all n samples, so
    ``forward_samples = backward_samples = n · evaluations``.
    """

    name = "lbfgs"

    def __init__(self, max_iter: int = 1000, tol: float = 1e-10):
        self.max_iter = checks.integer("max_iter", max_iter)
        self.tol = checks.real("tol", tol, positive=True)

    def memory_bytes(self, model, n_samples: int, dtype=np.float64, l1: bool = True) -> int:
        """An upper estimate of the peak bytes :meth:`fit` allocates.

        A full-batch forward and backward pass (every layer's output on all
        samples, the backward pass's temporaries), L-BFGS-B's history of
        ``HISTORY_PAIRS`` (s, y) pairs and workspace, the problem's copies of
        its variables, and the history rows.

        Parameters
        ----------
        model : MLP
        n_samples : int
        dtype : float64 or float32
            The objective's precision.
        l1 : bool
            Whether the penalty has an L1 part: L-BFGS-B then works on up to
            2·n_params variables, under bounds that scipy expands into Python
            lists.  The default is the larger estimate.
        """
        item = np.dtype(dtype).itemsize
        n = checks.integer("n_samples", n_samples)
        k, d = model.n_outputs, model.n_inputs
        hidden = max(model.sizes[1:-1], default=0)  # the widths the backward pass multiplies through
        passes = n * (sum(model.sizes[1:]) + 3 * hidden + 6 * k) * item + 2 * n * d
        if item != 8:  # float32 layers meet the float64 gradient: matmul casts its operands
            passes += 2 * n * max(model.sizes) * 8
        split = bool(l1)
        z = 2 * model.n_params if split else model.n_params  # the variables L-BFGS-B sees
        m = HISTORY_PAIRS
        lbfgsb = 8 * ((2 * m + 5) * z + 11 * m * m + 8 * m) + 4 * 3 * z  # scipy's wa and iwa
        copies = (44 if split else 24) * 8 * z  # gradients, copies of z and theta; the bounds' lists
        return passes + lbfgsb + copies + history_bytes(self.max_iter + 2, len(GRADIENT_COLUMNS))

    @held_threads
    def fit(self, objective, theta0=None, seed=None, callback=None) -> TrainResult:
        """Minimize ``objective`` from ``theta0``.

        Parameters
        ----------
        objective : RegularizedError
            Needs ``value_and_grad``, ``data_value_and_grad``, ``parts``,
            ``penalty``, ``penalty_mask``, ``penalty_value``, ``n_samples``
            and ``model``.
        theta0 : ndarray, shape (n_params,), optional
            Start; default ``objective.model.init(seed)``.
        seed : None, int or numpy.random.Generator
            Only used for the default start; L-BFGS-B itself is deterministic.
        callback : callable, optional
            ``callback(info)`` after every iteration with the history row and
            "theta" (a copy); raising StopIteration stops with status "stopped".

        Returns
        -------
        TrainResult
            trainer "lbfgs"; ``history`` has row 0 (the start, before any
            evaluation is counted) and one row per L-BFGS-B iteration, with the
            columns of ``HISTORY_COLUMNS`` and "backward_samples".

        Raises
        ------
        ValueError
            For a bad argument, or before anything is allocated when
            :meth:`memory_bytes` exceeds the memory this machine has available.
        """
        log = FitLog(GRADIENT_COLUMNS, callback)
        require(objective, GradientObjective)
        model = objective.model
        D = objective.n_params
        n = objective.n_samples
        split = objective.penalty is not None and objective.penalty.l1 > 0
        self._check_memory(self.memory_bytes(model, n, getattr(objective, "dtype", np.float64), split), model, n)
        theta0 = model.init(seed) if theta0 is None else checks.start_vector(theta0, D)
        problem = _Problem(objective, theta0)

        def record(iteration: int, theta: np.ndarray, data: float, penalty: float) -> dict:
            work = n * problem.evaluations
            return log.append(log.row(iteration, point_row(theta, model.weight_mask, data + penalty, data, penalty),
                                      forward_samples=work, backward_samples=work))

        p0 = objective.parts(theta0)
        record(0, theta0, p0["data"], p0["penalty"])
        stopped = []

        def on_iteration(intermediate_result):
            z = intermediate_result.x
            theta = problem.theta(z)
            data, penalty = problem.parts(z)
            row = record(len(log.history), theta, data, penalty)
            if log.halt(row, theta):
                stopped.append(True)
                raise StopIteration

        # Overflow at a wild trial point shows as a non-finite E, which the
        # line search backs off from; numpy's warnings are silenced.
        from scipy.optimize import minimize   # here: a process that never runs L-BFGS starts without it

        with np.errstate(over="ignore", invalid="ignore"):
            res = minimize(problem, problem.z0, jac=True, method="L-BFGS-B", bounds=problem.bounds,
                           callback=on_iteration,
                           options={"maxiter": self.max_iter, "maxfun": max(15000, 10 * self.max_iter),
                                    "ftol": self.tol, "gtol": self.tol, "maxcor": HISTORY_PAIRS})
        theta = problem.theta(res.x)
        p = objective.parts(theta)
        value = float(p["total"])
        if stopped:
            status = "stopped"
        elif not math.isfinite(value):
            status = "diverged"
        elif res.status == 0:
            status = "converged"
        elif res.status == 1:
            status = "max_iter"
        else:
            status = "stalled"
        work = n * problem.evaluations
        return log.result(self, theta, value, p["data"], p["penalty"], res.nit, work, work, status)
