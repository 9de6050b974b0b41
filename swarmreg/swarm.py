"""Particle swarm optimization of the regularized error E = D + R.

The swarm never sees a gradient: it evaluates E itself, so λ enters only
through the values it compares.  Each particle i keeps a position x_i, a
velocity v_i and its personal best p_i; every iteration moves all particles
at once::

    v ← w·v + c1·r1·(p − x) + c2·r2·(g − x)      r1, r2 ~ U[0, 1) per particle and dimension
    v ← clip(v, −v_max, v_max)
    x ← x + v                                     a coordinate leaving bounds is put on the
                                                  bound and its velocity set to 0

and then evaluates the whole swarm with one ``objective.batch(x)`` call.  g is
the best personal best in the particle's neighbourhood; the topology is only
how g is computed ("global": the whole swarm, "ring": the particles within
``neighbors`` index steps).  Hyperparameters live on :class:`SwarmTrainer`,
the moving parts in :class:`SwarmState`, which is updated in place; the
best-so-far bookkeeping is a :class:`BestTracker`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import checks
from .model import MLP
from .objective import batch_memory, evaluation_memory
from .result import HISTORY_COLUMNS, TrainResult
from .training import BatchObjective, FitLog, Trainer, history_bytes, point_row, require

__all__ = ["SwarmTrainer", "SwarmState", "BestTracker", "TOPOLOGIES", "SWARM_COLUMNS"]

TOPOLOGIES = ("global", "ring")
SWARM_COLUMNS = HISTORY_COLUMNS + ("mean_personal_best", "diversity")


# ------------------------------------------------------------------- settings
def _interval(name: str, value) -> tuple[float, float]:
    try:
        low, high = value
        low, high = float(low), float(high)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high) of numbers, got {value!r}") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if low >= high:
        raise ValueError(f"{name} needs low < high, got {value!r}")
    if not math.isfinite(high - low):
        raise ValueError(f"{name} is too wide: high − low overflows a float, got {value!r}")
    return low, high


# ---------------------------------------------------------------------- state
@dataclass
class SwarmState:
    """The moving parts of a swarm of P particles in D dimensions.

    Every array is allocated once by :func:`init_swarm` and updated in place.

    Attributes
    ----------
    positions, velocities, personal_best : ndarray, shape (P, D)
    personal_best_value : ndarray, shape (P,)
        E at ``personal_best``; +inf where no finite value has been seen.
    values : ndarray, shape (P,)
        E at ``positions`` (the last evaluation; non-finite values as +inf).
    random : ndarray, shape (2, P, D)
        r1 and r2 of the move, drawn in one call.
    scratch : ndarray, shape (P, D)
    mask : ndarray of bool, shape (P, D)
    improved : ndarray of bool, shape (P,)

    Positions, velocities and personal bests share one float dtype: float64,
    or float32 when the objective evaluates in float32 (it sees nothing more
    precise then).
    """

    positions: np.ndarray
    velocities: np.ndarray
    personal_best: np.ndarray
    personal_best_value: np.ndarray
    values: np.ndarray
    random: np.ndarray
    scratch: np.ndarray
    mask: np.ndarray
    improved: np.ndarray


def init_swarm(rng: np.random.Generator, particles: int, n_params: int, init_range, bounds,
               theta0=None, dtype=np.float64) -> SwarmState:
    """Positions uniform in ``init_range`` (or theta0 and theta0 + U(init_range)),
    velocities uniform in ± half the width of ``init_range``.

    Parameters
    ----------
    rng : numpy.random.Generator
    particles, n_params : int
        P and D.
    init_range : (float, float)
    bounds : (float, float) or None
        Initial positions are clipped into the bounds.
    theta0 : ndarray, shape (n_params,), optional
        Becomes particle 0 exactly.
    dtype : float32 or float64
        Dtype of the positions, velocities and personal bests.
    """
    P, D = particles, n_params
    low, high = init_range
    positions = rng.uniform(low, high, (P, D))
    if theta0 is not None:
        positions += theta0
        positions[0] = theta0
    if bounds is not None:
        np.clip(positions, bounds[0], bounds[1], out=positions)
    half = 0.5 * (high - low)
    velocities = rng.uniform(-half, half, (P, D))
    positions = positions.astype(dtype, copy=False)
    return SwarmState(
        positions=positions,
        velocities=velocities.astype(dtype, copy=False),
        personal_best=positions.copy(),
        personal_best_value=np.full(P, np.inf),
        values=np.full(P, np.inf),
        random=np.empty((2, P, D), dtype),
        scratch=np.empty((P, D), dtype),
        mask=np.empty((P, D), dtype=bool),
        improved=np.empty(P, dtype=bool),
    )


def move(state: SwarmState, rng: np.random.Generator, neighbourhood_best: np.ndarray,
         inertia: float, c1: float, c2: float, v_max: float | None, bounds) -> None:
    """One velocity and position update of every particle, in place ("ask").

    Parameters
    ----------
    neighbourhood_best : ndarray, shape (P, D) or (D,)
        g of every particle (one row broadcast for the global topology).
    """
    x, v, tmp = state.positions, state.velocities, state.scratch
    r1, r2 = rng.random(out=state.random, dtype=state.random.dtype)
    v *= inertia
    np.subtract(state.personal_best, x, out=tmp)
    tmp *= r1
    tmp *= c1
    v += tmp
    np.subtract(neighbourhood_best, x, out=tmp)
    tmp *= r2
    tmp *= c2
    v += tmp
    if v_max is not None:
        np.clip(v, -v_max, v_max, out=v)
    x += v
    if bounds is not None:
        # clip into the scratch buffer, zero the velocity where that moved a
        # coordinate, and let the clipped buffer become the positions
        np.clip(x, bounds[0], bounds[1], out=tmp)
        np.not_equal(tmp, x, out=state.mask)
        np.copyto(v, 0.0, where=state.mask)
        state.positions, state.scratch = tmp, x


def tell(state: SwarmState, values: np.ndarray) -> None:
    """Record E at the current positions and update the personal bests ("tell").

    Parameters
    ----------
    values : array_like, shape (P,)
        Non-finite entries count as +inf: never a best.
    """
    np.copyto(state.values, values)
    np.isfinite(state.values, out=state.improved)
    np.logical_not(state.improved, out=state.improved)
    np.copyto(state.values, np.inf, where=state.improved)
    np.less(state.values, state.personal_best_value, out=state.improved)
    np.copyto(state.personal_best_value, state.values, where=state.improved)
    np.copyto(state.mask, state.improved[:, None])
    np.copyto(state.personal_best, state.positions, where=state.mask)


def evaluate(objective, state: SwarmState) -> np.ndarray:
    """E at every position: one ``objective.batch`` call, shape-checked → (P,)."""
    values = np.asarray(objective.batch(state.positions))
    if values.shape != state.values.shape:
        raise ValueError(f"objective.batch returned shape {values.shape}, expected {state.values.shape}")
    return values


# ------------------------------------------------------------------ topologies
class GlobalBest:
    """g = the best personal best of the whole swarm (one row, broadcast)."""

    def __call__(self, state: SwarmState) -> np.ndarray:
        return state.personal_best[state.personal_best_value.argmin()]


class RingBest:
    """g_i = the best personal best among particles i−k … i+k (indices mod P).

    The window minimum is an argmin over a sliding-window view of the
    personal-best values padded cyclically; buffers are allocated once.
    """

    def __init__(self, particles: int, n_params: int, neighbors: int, dtype=np.float64):
        self.k = neighbors
        self._padded = np.empty(particles + 2 * neighbors)
        self._windows = sliding_window_view(self._padded, 2 * neighbors + 1)
        self._start = np.arange(particles) - neighbors  # index of each window's first particle
        self._index = np.empty(particles, dtype=np.intp)
        self._best = np.empty((particles, n_params), dtype)

    def __call__(self, state: SwarmState) -> np.ndarray:
        f, k, P = state.personal_best_value, self.k, state.personal_best_value.shape[0]
        self._padded[k:k + P] = f
        self._padded[:k] = f[P - k:]
        self._padded[k + P:] = f[:k]
        np.argmin(self._windows, axis=1, out=self._index)
        self._index += self._start
        np.mod(self._index, P, out=self._index)
        np.take(state.personal_best, self._index, axis=0, out=self._best)
        return self._best


# ----------------------------------------------------------------- bookkeeping
class BestTracker:
    """Which personal best is the best so far, and how long it has stalled.

    An iteration is stalled when the best value does not improve by more than
    ``tol`` relatively: best_old − best_new <= tol·|best_old|.
    """

    def __init__(self, tol: float):
        self.tol = tol
        self.index = -1       # the particle whose personal best is the best; -1 before the first update
        self.value = math.inf
        self.stalled = 0      # stalled iterations in a row

    def update(self, state: SwarmState) -> bool:
        """Look at the personal bests after a ``tell``; True when the best changed."""
        new = int(state.personal_best_value.argmin())
        new_value = float(state.personal_best_value[new])
        if self.index < 0:
            self.index, self.value = new, new_value
            return True
        if new_value < self.value:
            if math.isfinite(self.value) and self.value - new_value <= self.tol * abs(self.value):
                self.stalled += 1
            else:
                self.stalled = 0
            self.index, self.value = new, new_value
            return True
        self.stalled += 1
        return False


class Diversity:
    """The mean Euclidean distance of the particles to their centroid, with
    buffers allocated once (the swarm's scratch array is overwritten)."""

    def __init__(self, particles: int, n_params: int, dtype=np.float64):
        self._weights = np.full(particles, 1.0 / particles, dtype)
        self._centroid = np.empty(n_params, dtype)
        self._distance = np.empty(particles, dtype)

    def __call__(self, state: SwarmState) -> float:
        np.dot(self._weights, state.positions, out=self._centroid)
        np.subtract(state.positions, self._centroid, out=state.scratch)
        np.einsum("ij,ij->i", state.scratch, state.scratch, out=self._distance)
        np.sqrt(self._distance, out=self._distance)
        return float(self._distance.sum()) / self._distance.shape[0]


def _objective_memory(objective, P: int, dtype) -> int:
    """What the objective allocates in a fit, when it says (a RegularizedError
    does): one ``batch`` of P particles, or the final evaluation of one theta."""
    batch = getattr(objective, "batch_memory", None)
    needed = batch(P) if callable(batch) else 0
    model = getattr(objective, "model", None)
    if isinstance(model, MLP) and hasattr(objective, "n_samples"):
        needed = max(needed, evaluation_memory(model, objective.n_samples, dtype))
    return needed


# --------------------------------------------------------------------- trainer
class SwarmTrainer(Trainer):
    """Particle swarm optimization of any objective with ``n_params`` and ``batch``.

    Parameters
    ----------
    particles : int
        Swarm size P (>= 2).
    iterations : int
        Moves of the swarm, each followed by one evaluation of the whole swarm;
        the initial swarm is evaluated once before the first move.
    inertia, c1, c2 : float
        w, the cognitive and the social coefficient (>= 0).  The defaults are
        the Clerc–Kennedy constriction values (χ = 0.7298, χ·2.05 = 1.49618).
    topology : {"global", "ring"}
    neighbors : int
        Ring topology: particles within this many index steps on either side
        are neighbours (2·neighbors + 1 <= particles).
    bounds : (float, float) or None
        Box every coordinate is kept in; None = unbounded.
    init_range : (float, float)
        Initial positions are uniform in it (or theta0 plus such noise); it must
        lie within ``bounds``.
    v_max : float or None
        Velocity clamp per coordinate; None = half the width of ``bounds``
        (no clamp when unbounded).
    tol : float
        Relative improvement of the best value below which an iteration counts
        as stalled: best_old − best_new <= tol·|best_old|.
    patience : int or None
        Stop with status "stalled" after this many stalled iterations in a row;
        None = never.

    Notes
    -----
    One iteration is one ``objective.batch`` call on all positions plus an
    in-place update of preallocated arrays (:func:`move`, :func:`tell`), so
    the objective's temporaries are the only per-iteration allocations.
    """

    name = "swarm"

    def __init__(self, particles: int = 40, iterations: int = 1000, inertia: float = 0.7298,
                 c1: float = 1.49618, c2: float = 1.49618, topology: str = "global", neighbors: int = 1,
                 bounds=(-10.0, 10.0), init_range=(-1.0, 1.0), v_max: float | None = None,
                 tol: float = 0.0, patience: int | None = None):
        self.particles = checks.integer("particles", particles, 2)
        self.iterations = checks.integer("iterations", iterations, 1)
        self.inertia = checks.real("inertia", inertia)
        self.c1 = checks.real("c1", c1)
        self.c2 = checks.real("c2", c2)
        if topology not in TOPOLOGIES:
            raise ValueError(f"topology={topology!r} is not a topology; valid: {', '.join(TOPOLOGIES)}")
        self.topology = topology
        self.neighbors = checks.integer("neighbors", neighbors, 1)
        if topology == "ring" and 2 * self.neighbors + 1 > self.particles:
            raise ValueError(
                f"neighbors={neighbors} is too large for {self.particles} particles: "
                f"a ring neighbourhood holds 2·neighbors + 1 = {2 * self.neighbors + 1} particles"
            )
        self.bounds = None if bounds is None else _interval("bounds", bounds)
        self.init_range = _interval("init_range", init_range)
        if self.bounds is not None and not (self.bounds[0] <= self.init_range[0]
                                            and self.init_range[1] <= self.bounds[1]):
            raise ValueError(f"init_range={init_range!r} must lie within bounds={bounds!r}")
        self.v_max = None if v_max is None else checks.real("v_max", v_max, positive=True)
        self.tol = checks.real("tol", tol)
        self.patience = None if patience is None else checks.integer("patience", patience, 1)

    def memory_bytes(self, model, n_samples: int, dtype=np.float64, l1: bool = True) -> int:
        """An upper estimate of the peak bytes :meth:`fit` allocates on a
        :class:`~swarmreg.objective.RegularizedError` of ``model``.

        The swarm's P × D arrays (positions, velocities, personal bests,
        scratch, the two random draws, the mask, the ring's neighbourhood
        bests, and float64 draws when the swarm is float32), its P- and
        D-sized vectors, one ``batch`` call of the objective (or the final
        evaluation of one theta on all samples, whichever is larger) and the
        history.

        Parameters
        ----------
        model : MLP
        n_samples : int
        dtype : float64 or float32
            The objective's precision.
        l1 : bool
            Whether the penalty has an L1 part (its terms take P × D floats
            in every ``batch``); the default is the larger estimate.
        """
        n = checks.integer("n_samples", n_samples)
        batch = batch_memory(model, n, self.particles, dtype, l1=l1)
        return self._memory_bytes(model.n_params, max(batch, evaluation_memory(model, n, dtype)), dtype)

    def _memory_bytes(self, D: int, objective_bytes: int, dtype) -> int:
        """:meth:`memory_bytes` for D dimensions, given what the objective allocates."""
        P, item = self.particles, np.dtype(dtype).itemsize
        planes = 6 + (self.topology == "ring")  # P × D arrays of the swarm's dtype
        draws = 2 * 8 if item != 8 else 0        # float64 initial positions and velocities, before the cast
        arrays = P * D * (planes * item + 1 + draws)
        vectors = 8 * (8 * P + 6 * D)
        return arrays + vectors + objective_bytes + history_bytes(self.iterations + 2, len(SWARM_COLUMNS))

    def _clamp(self) -> float | None:
        if self.v_max is not None:
            return self.v_max
        return None if self.bounds is None else 0.5 * (self.bounds[1] - self.bounds[0])

    def fit(self, objective, theta0=None, seed=None, callback=None) -> TrainResult:
        """Minimize ``objective`` with the swarm.

        Parameters
        ----------
        objective : RegularizedError or any object with ``n_params`` and ``batch``
            ``batch(thetas)`` maps positions (P, n_params) to values (P,).
            Optional extras used when present: ``parts(theta)`` (D and R of the
            result), ``penalty_value(theta)`` (R of the history rows),
            ``model.weight_mask`` (which coordinates are weights; else all),
            ``n_samples`` (work accounting; else 1) and ``dtype`` (float32
            objectives get a float32 swarm).
        theta0 : ndarray, shape (n_params,), optional
            Becomes particle 0; the others start at theta0 plus U(init_range) noise.
        seed : None, int or numpy.random.Generator
            The same seed gives the same result bit for bit.
        callback : callable, optional
            ``callback(info)`` after every iteration with the history row and
            "theta" (a copy of the best position); raising StopIteration stops
            the fit with status "stopped".

        Returns
        -------
        TrainResult
            ``theta`` is the best position found.  ``history`` has one row per
            iteration (row 0 = the initial swarm) with the columns of
            ``SWARM_COLUMNS``: "value" is the best value so far, "penalty" R
            there and "data_loss" value − R; "mean_personal_best" is the mean
            of the personal-best values and "diversity" the mean Euclidean
            distance of the particles to their centroid.  ``forward_samples``
            counts P·n_samples per swarm evaluation.  Status "stalled" after
            ``patience`` stalled iterations, "diverged" when no finite value
            was ever seen.

        Raises
        ------
        ValueError
            For a bad argument, or before anything is allocated when the
            swarm's arrays and one ``batch`` call (:meth:`memory_bytes`) need
            more memory than this machine has available.
        """
        log = FitLog(SWARM_COLUMNS, callback)
        require(objective, BatchObjective)
        D = checks.integer("objective.n_params", objective.n_params, 1)
        P = self.particles
        if theta0 is not None:
            theta0 = checks.start_vector(theta0, D)
            if self.bounds is not None and not np.all((theta0 >= self.bounds[0]) & (theta0 <= self.bounds[1])):
                raise ValueError(f"theta0 lies outside bounds={self.bounds}")
        samples = int(getattr(objective, "n_samples", 1))
        model = getattr(objective, "model", None)
        weight_mask = getattr(model, "weight_mask", None)
        weight_mask = np.ones(D, bool) if weight_mask is None else np.asarray(weight_mask, bool)
        penalty_value = getattr(objective, "penalty_value", None)
        dtype = np.float32 if getattr(objective, "dtype", None) == np.float32 else np.float64
        self._check_memory(self._memory_bytes(D, _objective_memory(objective, P, dtype), dtype), model, samples)

        rng = checks.make_rng(seed)
        state = init_swarm(rng, P, D, self.init_range, self.bounds, theta0, dtype)
        if self.topology == "ring":
            neighbourhood_best = RingBest(P, D, self.neighbors, dtype)
        else:
            neighbourhood_best = GlobalBest()
        v_max = self._clamp()
        diversity = Diversity(P, D, dtype)
        best = BestTracker(self.tol)

        def describe(index: int) -> dict:
            # the best position's numbers; R without a forward pass
            theta = state.personal_best[index].astype(float)
            value = float(state.personal_best_value[index])
            penalty = float(penalty_value(theta)) if penalty_value is not None else 0.0
            return point_row(theta, weight_mask, value, value - penalty if math.isfinite(value) else value, penalty)

        status, forward = "max_iter", 0
        # An unbounded swarm may overflow; non-finite values then count as
        # worst (see ``tell``), so numpy's warnings are silenced.
        with np.errstate(over="ignore", invalid="ignore"):
            for iteration in range(self.iterations + 1):
                if iteration:
                    move(state, rng, neighbourhood_best(state), self.inertia, self.c1, self.c2, v_max, self.bounds)
                tell(state, evaluate(objective, state))
                forward += P * samples
                if best.update(state):
                    point = describe(best.index)
                row = log.append(log.row(iteration, point, forward_samples=forward,
                                         mean_personal_best=float(state.personal_best_value.sum()) / P,
                                         diversity=diversity(state)))
                if iteration and log.halt(row, state.personal_best[best.index]):
                    status = "stopped"
                    break
                if self.patience is not None and best.stalled >= self.patience:
                    status = "stalled"
                    break

        best_value = best.value
        theta = state.personal_best[best.index].astype(float)
        value, data, penalty = best_value, best_value, 0.0
        parts = getattr(objective, "parts", None)
        if parts is not None and math.isfinite(best_value):
            p = parts(theta)
            value, data, penalty = float(p["total"]), float(p["data"]), float(p["penalty"])
        if not math.isfinite(best_value):
            status = "diverged"
        return log.result(self, theta, value, data, penalty, iteration, forward, 0, status)
