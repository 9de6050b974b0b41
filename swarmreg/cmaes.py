"""CMA-ES on the regularized error E = D + R: the gradient-free anchor beside the swarm.

The covariance matrix adaptation evolution strategy (Hansen & Ostermeier,
"Completely derandomized self-adaptation in evolution strategies",
Evolutionary Computation 9(2), 2001) samples a population from a Gaussian and
moves and reshapes it towards the better samples.  :class:`CMAESTrainer`
runs pycma (the ``cma`` package by the method's author; the optional extra
``swarmreg[cma]``) on the same objectives as :class:`~swarmreg.swarm.SwarmTrainer`,
with the same contract: only ``n_params`` and ``batch`` values of E (one
``batch`` call per generation), the same start scaled to the network, the same
budget accounting and the same result.  It lets a report tell "gradient-free"
apart from "this swarm".
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from . import checks
from .model import MLP
from .objective import batch_memory, evaluation_memory
from .result import HISTORY_COLUMNS, TrainResult
from .training import BatchObjective, FitLog, Trainer, held_threads, history_bytes, point_row, require

__all__ = ["CMAESTrainer", "CMAES_COLUMNS"]

CMAES_COLUMNS = HISTORY_COLUMNS + ("sigma",)


def _cma():
    try:
        import cma
    except ImportError:
        raise ValueError("CMAESTrainer needs the cma package: pip install 'swarmreg[cma]'") from None
    return cma


class CMAESTrainer(Trainer):
    """CMA-ES (pycma) minimizing any objective with ``n_params`` and ``batch``.

    Parameters
    ----------
    evaluations : int
        The budget: at most this many evaluations of E (>= 2 populations).
    population : int or None
        Samples per generation λ; None: pycma's default 4 + ⌊3 ln D⌋.
    init_scale : float
        The start: the mean at θ = 0 (or theta0) and the initial standard
        deviation per coordinate ``init_scale`` × the layer's Glorot limit for
        weights and ``init_scale`` for biases, as the swarm's start (an
        objective without an MLP: ``init_scale`` in every coordinate).
    diagonal : bool
        Adapt only the diagonal of the covariance (sep-CMA-ES: Ros & Hansen,
        "A simple modification in CMA-ES achieving linear time and space
        complexity", PPSN 2008).  The default, by measurement: on the 12-unit
        breast_cancer network (398 parameters, λ = 0.01, 60,000 evaluations)
        sep-CMA ends within 3e-10 of the L-BFGS optimum in 5 s, where the full
        covariance spends most of its time in D × D eigendecompositions
        (about 23 s for the same budget).  False: the full CMA-ES.
    tol : float
        pycma's ``tolfun``: stop with status "converged" when the values of
        the recent generations differ by less than this.

    Notes
    -----
    pycma draws its normal samples from this fit's own generator (its
    ``randn`` option), never from numpy's global one, so the same seed gives
    the same result bit for bit and nothing outside the fit is disturbed.
    Non-finite values are handed to pycma as worse than every finite one.
    """

    name = "cmaes"

    def __init__(self, evaluations: int = 60000, population: int | None = None, init_scale: float = 0.1,
                 diagonal: bool = True, tol: float = 1e-11):
        _cma()
        self.evaluations = checks.integer("evaluations", evaluations, 2)
        self.population = None if population is None else checks.integer("population", population, 2)
        if self.population is not None and 2 * self.population > self.evaluations:
            raise ValueError(f"evaluations={evaluations} is less than two populations of {self.population}")
        self.init_scale = checks.real("init_scale", init_scale, positive=True)
        if not isinstance(diagonal, (bool, np.bool_)):
            raise ValueError(f"diagonal must be True or False, got {diagonal!r}")
        self.diagonal = bool(diagonal)
        self.tol = checks.real("tol", tol)

    def _population(self, D: int) -> int:
        return self.population if self.population is not None else 4 + int(3 * math.log(D))

    def memory_bytes(self, model, n_samples: int, dtype=np.float64, l1: bool = True) -> int:
        """An upper estimate of the peak bytes :meth:`fit` allocates: pycma's
        D × D covariance, its eigenvectors and a few copies (six D × D planes),
        the population and pycma's copies of it (twelve λ × D planes), one ``batch`` call
        of the objective and the history."""
        n = checks.integer("n_samples", n_samples)
        D, lam = model.n_params, self._population(model.n_params)
        objective = max(batch_memory(model, n, lam, dtype, l1=l1), evaluation_memory(model, n, dtype))
        rows = self.evaluations // lam + 1
        square = 0 if self.diagonal else 6 * D * D
        return 8 * (square + 12 * lam * D + 64 * D) + objective + history_bytes(rows, len(CMAES_COLUMNS))

    @held_threads
    def fit(self, objective, theta0=None, seed=None, callback=None) -> TrainResult:
        """Minimize ``objective`` with CMA-ES.

        Parameters
        ----------
        objective : RegularizedError or any object with ``n_params`` and ``batch``
        theta0 : ndarray, shape (n_params,), optional
            The initial mean (default θ = 0).
        seed : None, int or numpy.random.Generator
        callback : callable, optional
            ``callback(info)`` after every generation with the history row and
            "theta"; raising StopIteration stops the fit with status "stopped".

        Returns
        -------
        TrainResult
            ``theta`` is the best sample evaluated.  ``history`` has one row
            per generation (row 0 = the initial mean) with the columns of
            ``CMAES_COLUMNS`` ("sigma" is pycma's step size); ``iterations``
            counts generations; ``forward_samples`` counts n_samples per
            evaluation of E, the initial mean's included.  Status "converged"
            when pycma's own stopping rules end it (``tol``, a collapsed
            distribution), "max_iter" when the budget does, "diverged" when
            no finite value was ever seen.
        """
        cma = _cma()
        log = FitLog(CMAES_COLUMNS, callback)
        require(objective, BatchObjective)
        D = checks.integer("objective.n_params", objective.n_params, 2)
        model = getattr(objective, "model", None)
        samples = int(getattr(objective, "n_samples", 1))
        lam = self._population(D)
        if self.evaluations < 1 + 2 * lam:
            raise ValueError(f"evaluations={self.evaluations} is less than the initial mean and two generations "
                             f"of {lam} samples ({1 + 2 * lam}) for {D} parameters")
        if isinstance(model, MLP):
            self._check_memory(self.memory_bytes(model, samples, getattr(objective, "dtype", np.float64)),
                               model, samples)
            stds = model.start_widths(self.init_scale)
        else:
            stds = np.full(D, self.init_scale)
        mean = np.zeros(D) if theta0 is None else checks.start_vector(theta0, D)
        weight_mask = getattr(model, "weight_mask", None)
        weight_mask = np.ones(D, bool) if weight_mask is None else np.asarray(weight_mask, bool)
        penalty_value = getattr(objective, "penalty_value", None)
        rng = checks.make_rng(seed)

        es = cma.CMAEvolutionStrategy(mean, 1.0, {
            "popsize": lam, "CMA_stds": stds, "seed": np.nan, "randn": lambda *shape: rng.standard_normal(shape),
            "maxfevals": self.evaluations - 1, "tolfun": self.tol, "tolflatfitness": 10 ** 9,
            "CMA_diagonal": self.diagonal, "verbose": -9, "verb_disp": 0, "verb_log": 0,
        })

        best = {"value": math.inf, "theta": mean.copy()}

        def offer(values: np.ndarray, thetas: np.ndarray) -> None:
            i = int(np.argmin(values))
            if values[i] < best["value"]:
                best["value"], best["theta"] = float(values[i]), np.array(thetas[i], dtype=float)

        def row(generation: int, forward: int) -> dict:
            theta, value = best["theta"], best["value"]
            penalty = float(penalty_value(theta)) if penalty_value is not None and math.isfinite(value) else 0.0
            point = point_row(theta, weight_mask, value, value - penalty if math.isfinite(value) else value, penalty)
            return log.row(generation, point, forward_samples=forward, sigma=float(es.sigma))

        with np.errstate(over="ignore", invalid="ignore"), warnings.catch_warnings():
            # pycma's notes on its internal coordinate transformation ("elements of z2[k] are larger
            # than 55") say nothing about E; a sweep's log would fill with them
            warnings.filterwarnings("ignore", category=UserWarning, module=r"cma(\.|$)")
            values = np.asarray(objective.batch(mean[None, :]), dtype=float)
            offer(np.where(np.isfinite(values), values, np.inf), mean[None, :])
            forward, used, generation, status = samples, 1, 0, "max_iter"
            log.append(row(0, forward))
            while used + lam <= self.evaluations:
                thetas = np.asarray(es.ask())
                values = np.asarray(objective.batch(thetas), dtype=float)
                if values.shape != (lam,):
                    raise ValueError(f"objective.batch returned shape {values.shape}, expected {(lam,)}")
                finite = np.isfinite(values)
                values = np.where(finite, values, np.inf)
                offer(values, thetas)
                worst = float(values[finite].max()) if finite.any() else 0.0
                # pycma wants finite values: a non-finite one ranks below every finite one
                es.tell(list(thetas), np.where(finite, values, abs(worst) * 2.0 + 1e300).tolist())
                generation += 1
                used += lam
                forward += lam * samples
                r = log.append(row(generation, forward))
                if log.halt(r, best["theta"]):
                    status = "stopped"
                    break
                if es.stop() and not set(es.stop()) <= {"maxfevals"}:
                    status = "converged"
                    break

        theta, value = best["theta"], best["value"]
        data, penalty = value, 0.0
        parts = getattr(objective, "parts", None)
        if parts is not None and math.isfinite(value):
            p = parts(theta)
            value, data, penalty = float(p["total"]), float(p["data"]), float(p["penalty"])
        if not math.isfinite(best["value"]):
            status = "diverged"
        return log.result(self, theta, value, data, penalty, generation, forward, 0, status)
