"""Particle swarm optimization of the regularized error E = D + R.

The swarm never sees a gradient: it evaluates E itself, so λ enters only
through the values it compares.  Each particle i keeps a position x_i, a
velocity v_i and its personal best p_i; every iteration moves all particles
at once::

    v ← w·v + c1·r1·(p − x) + c2·r2·(g − x)      r1, r2 ~ U[0, 1) per particle and dimension
    v ← clip(v, −v_max, v_max)                    v_max per coordinate
    x ← x + v                                     then the boundary rule for coordinates out of bounds

and then evaluates the whole swarm with one ``objective.batch(x)`` call.  g is
the best personal best in the particle's neighbourhood (:mod:`swarmreg.topologies`).
The variants are settings of this one loop, never copies of it:

- the inertia w may decrease linearly over the run (Shi & Eberhart, "A
  modified particle swarm optimizer", IEEE ICEC 1998);
- guaranteed convergence, GCPSO (van den Bergh & Engelbrecht, "A new locally
  convergent particle swarm optimiser", IEEE SMC 2002): the particle holding
  the global best searches a box of adaptive side ρ around it
  (:class:`GuaranteedConvergence`);
- the cooperative split, CPSO-S_K (van den Bergh & Engelbrecht, "A
  cooperative approach to particle swarm optimization", IEEE TEC 8(3), 2004):
  θ is cut into K parts, each optimized by its own subswarm inside the best
  context vector (:class:`Cooperation`);
- boundary rules: clip (and stop), reflect, or redraw at random in the box.

Hyperparameters live on :class:`SwarmTrainer`, the moving parts in
:class:`SwarmState`, which is updated in place; the best-so-far bookkeeping is
a :class:`BestTracker`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from . import backend, checks
from .model import MLP
from .objective import batch_memory, evaluation_memory
from .result import HISTORY_COLUMNS, TrainResult
from .topologies import TOPOLOGIES, GlobalBest, RingBest, TableBest, make_topology, subswarm_table
from .training import BatchObjective, FitLog, Trainer, held_threads, history_bytes, point_row, require

__all__ = ["SwarmTrainer", "SwarmState", "BestTracker", "GuaranteedConvergence", "Cooperation",
           "TOPOLOGIES", "BOUNDARIES", "SWARM_COLUMNS", "GlobalBest", "RingBest", "init_box"]

BOUNDARIES = ("clip", "reflect", "random")
#: Precisions the swarm can search in (``SwarmTrainer(dtype=...)``).
DTYPES = ("float32", "float64")
SWARM_COLUMNS = HISTORY_COLUMNS + ("mean_personal_best", "diversity")

# GCPSO's thresholds: ρ doubles after more than GC_SUCCESSES successes in a
# row and halves after more than GC_FAILURES failures in a row (van den Bergh
# & Engelbrecht 2002 recommend 15 and 5).
GC_SUCCESSES = 15
GC_FAILURES = 5


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


def init_box(objective, init_range, init_scale: float):
    """Where the swarm starts: (low, high) of a uniform box, or None and the
    per-coordinate half widths of a start scaled to the network.

    Parameters
    ----------
    objective : object with ``n_params``; ``model`` (an MLP) when it has one
    init_range : (float, float) or None
        An explicit box wins.  None: an objective with an MLP starts each
        layer's weights in ± init_scale · √(6 / (fan_in + fan_out)) (a fraction
        of the layer's Glorot range) and its biases in ± init_scale; any other
        objective starts in (−1, 1).
    init_scale : float

    Returns
    -------
    box : (float, float) or None
    half : ndarray, shape (n_params,) or float
        Half the width of the start in every coordinate.
    """
    model = getattr(objective, "model", None)
    if init_range is not None or not isinstance(model, MLP):
        low, high = (-1.0, 1.0) if init_range is None else init_range
        return (low, high), 0.5 * (high - low)
    return None, model.start_widths(init_scale)


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
               theta0=None, dtype=np.float64, half=None) -> SwarmState:
    """Positions uniform in ``init_range`` (or in ± ``half`` around 0), velocities
    uniform in ± half the width of the start; theta0, when given, is particle 0
    and the centre of the others.

    Parameters
    ----------
    rng : numpy.random.Generator
    particles, n_params : int
        P and D.
    init_range : (float, float) or None
        The box of the start; None: the start is ± ``half`` (see :func:`init_box`).
    bounds : (float, float) or None
        Initial positions are clipped into the bounds.
    theta0 : ndarray, shape (n_params,), optional
        Becomes particle 0 exactly.
    dtype : float32 or float64
        Dtype of the positions, velocities and personal bests.
    half : ndarray, shape (n_params,), optional
        Half widths of a start scaled to the network; used when init_range is None.
    """
    P, D = particles, n_params
    if init_range is not None:
        low, high = init_range
        positions = rng.uniform(low, high, (P, D))
        half = 0.5 * (high - low)
    else:
        positions = rng.uniform(-1.0, 1.0, (P, D))
        positions *= half
    if theta0 is not None:
        positions += theta0
        positions[0] = theta0
    if bounds is not None:
        np.clip(positions, bounds[0], bounds[1], out=positions)
    velocities = rng.uniform(-1.0, 1.0, (P, D)) * half if init_range is None else rng.uniform(-half, half, (P, D))
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
         inertia: float, c1: float, c2: float, v_max, bounds, boundary: str = "clip") -> None:
    """One velocity and position update of every particle, in place ("ask").

    Parameters
    ----------
    neighbourhood_best : ndarray, shape (P, D) or (D,)
        g of every particle (one row broadcast for the global topology).
    v_max : float, ndarray of shape (D,), or None
        The velocity clamp per coordinate.
    bounds : (float, float) or None
    boundary : {"clip", "reflect", "random"}
        What happens to a coordinate that leaves the bounds: "clip" puts it on
        the bound and sets its velocity to 0; "reflect" mirrors it back into
        the box at the bound it crossed and reverses its velocity (a
        coordinate still outside after the mirror is clipped); "random"
        redraws it uniformly in the box and keeps its velocity.
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
        keep_in_bounds(state, rng, bounds, boundary)


class CompiledMove:
    """:func:`move` by the compiled kernel (:mod:`swarmreg.kernels.update`): the same
    arithmetic in one pass, with r1 and r2 drawn inside the kernel from a counter-based
    stream whose key is drawn once from the fit's generator.

    Parameters
    ----------
    rng : numpy.random.Generator
        Gives the key.
    n_params : int
    dtype : float64 or float32
    v_max, bounds, boundary : the fit's clamp, bounds and boundary rule (see :func:`move`)
    """

    def __init__(self, rng: np.random.Generator, n_params: int, dtype, v_max, bounds, boundary: str):
        from .kernels.update import BOUNDARY_CODES, move as kernel

        self.kernel = kernel
        self.key = rng.integers(0, 2**64, dtype=np.uint64)
        self.counter = np.uint64(0)
        self.clamp = v_max is not None
        self.v_max = np.broadcast_to(np.asarray(0.0 if v_max is None else v_max, dtype=dtype), (n_params,)).copy()
        self.low, self.high = (0.0, 0.0) if bounds is None else (float(bounds[0]), float(bounds[1]))
        self.boundary = BOUNDARY_CODES["none" if bounds is None else boundary]

    def __call__(self, state: SwarmState, neighbourhood_best: np.ndarray, inertia: float, c1: float,
                 c2: float) -> None:
        best = neighbourhood_best if neighbourhood_best.ndim == 2 else neighbourhood_best.reshape(1, -1)
        # uint64 kept as such (numba hands it back as a Python int)
        self.counter = np.uint64(self.kernel(state.positions, state.velocities, state.personal_best, best, inertia,
                                             c1, c2, self.v_max, self.clamp, self.low, self.high, self.boundary,
                                             self.key, self.counter))


@functools.cache
def _update_kernels():
    """:mod:`swarmreg.kernels.update`, imported once (numba is optional: not at module load)."""
    from .kernels import update

    return update


def compiled_tell(state: SwarmState, values: np.ndarray) -> None:
    """:func:`tell` by the compiled kernel (the same bests, in one pass)."""
    _update_kernels().tell(np.asarray(values, dtype=float), state.positions, state.personal_best, state.personal_best_value,
           state.values)


def keep_in_bounds(state: SwarmState, rng: np.random.Generator, bounds, boundary: str) -> None:
    """Apply the boundary rule (see :func:`move`) to every coordinate outside ``bounds``."""
    low, high = bounds
    x, v, tmp, out = state.positions, state.velocities, state.scratch, state.mask
    if boundary == "clip":
        # clip into the scratch buffer, zero the velocity where that moved a
        # coordinate, and let the clipped buffer become the positions
        np.clip(x, low, high, out=tmp)
        np.not_equal(tmp, x, out=out)
        np.copyto(v, 0.0, where=out)
        state.positions, state.scratch = tmp, x
        return
    if boundary == "reflect":
        # in place, one bound at a time; a coordinate mirrored past the other bound stops there
        for bound, beyond, within in ((low, np.less, np.minimum), (high, np.greater, np.maximum)):
            beyond(x, bound, out=out)
            np.subtract(2.0 * bound, x, out=tmp)
            np.copyto(x, tmp, where=out)
            np.negative(v, out=v, where=out)
            within(x, high if bound == low else low, out=x, where=out)
        return
    # "random": the coordinates a clip would move are redrawn
    np.clip(x, low, high, out=tmp)
    np.not_equal(tmp, x, out=out)
    n_out = int(np.count_nonzero(out))
    if n_out:
        x[out] = rng.uniform(low, high, n_out)


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


# -------------------------------------------------------------------- variants
class GuaranteedConvergence:
    """GCPSO's move of the particle τ that holds the global best (van den Bergh
    & Engelbrecht, IEEE SMC 2002).

    Instead of the swarm's update, τ goes to a random point of a box of side
    2ρ·scale around the global best g::

        x_τ ← g + w·v_τ + ρ·scale·(1 − 2r),   r ~ U[0, 1) per dimension
        v_τ ← the step it made

    so the swarm keeps searching around g even when every particle has
    collapsed onto it.  ρ adapts: it doubles after more than
    :data:`GC_SUCCESSES` iterations in a row in which τ improved the global
    best, halves after more than :data:`GC_FAILURES` in a row in which it did
    not, and the counts restart when another particle takes the global best.

    Parameters
    ----------
    scale : float or ndarray, shape (D,)
        The box per coordinate at ρ = 1: the half widths of the swarm's start.
    """

    def __init__(self, scale, n_params: int, dtype=np.float64):
        self.scale = np.broadcast_to(np.asarray(scale, dtype=dtype), (n_params,))
        self.rho = 1.0
        self.successes = self.failures = 0
        self.index = -1          # τ
        self._best_value = math.inf
        self._velocity = np.empty(n_params, dtype)
        self._position = np.empty(n_params, dtype)

    def before_move(self, state: SwarmState) -> None:
        """Note τ, its position and its velocity before the swarm's move."""
        index = int(state.personal_best_value.argmin())
        if index != self.index:
            self.index, self.successes, self.failures = index, 0, 0
        self._best_value = float(state.personal_best_value[index])
        self._position[:] = state.positions[index]
        self._velocity[:] = state.velocities[index]

    def after_move(self, state: SwarmState, rng: np.random.Generator, inertia: float, bounds) -> None:
        """Put τ at g + w·v_τ + ρ·scale·(1 − 2r), inside the bounds."""
        i = self.index
        step = 1.0 - 2.0 * rng.random(self.scale.shape[0])
        x = state.personal_best[i] + inertia * self._velocity + self.rho * self.scale * step
        if bounds is not None:
            np.clip(x, bounds[0], bounds[1], out=x)
        state.positions[i] = x
        state.velocities[i] = x - self._position

    def adapt(self, state: SwarmState) -> None:
        """Count τ's success or failure after the evaluation and adapt ρ."""
        if state.values[self.index] < self._best_value:
            self.successes, self.failures = self.successes + 1, 0
        else:
            self.successes, self.failures = 0, self.failures + 1
        if self.successes > GC_SUCCESSES:
            self.rho *= 2.0
        elif self.failures > GC_FAILURES:
            self.rho *= 0.5


class Cooperation:
    """The cooperative split CPSO-S_K (van den Bergh & Engelbrecht, IEEE TEC 2004).

    θ is cut into K contiguous parts and the P particles into K subswarms;
    subswarm j moves only part j and is evaluated inside the context vector b,
    the best known θ, with part j replaced by the particle's.  Every particle
    holds a whole θ whose other parts are b, so the swarm's one ``batch`` call
    evaluates every subswarm at once and the swarm's own update moves only
    the parts (velocities outside a particle's part are 0).  After each
    evaluation the one part whose best candidate improves b the most is
    written into b: b's value is then exactly a value the objective returned
    (the paper updates b after each subswarm in turn; with one ``batch`` per
    iteration the subswarms are evaluated side by side, so only one of their
    gains is known to hold).  When b changes, the personal bests are moved
    into the new context but keep the values they were measured at (the
    paper compares a particle and its personal best in the current context,
    which takes a second evaluation per particle).  Each subswarm informs its
    members by its own global best (``table``).

    Parameters
    ----------
    particles, n_params, parts : int
        P, D and K (2·K <= P, K <= D).
    """

    def __init__(self, particles: int, n_params: int, parts: int, dtype=np.float64):
        self.groups = np.array_split(np.arange(particles), parts)
        self.parts = np.array_split(np.arange(n_params), parts)
        self.own = np.zeros((particles, n_params), dtype=bool)
        for g, p in zip(self.groups, self.parts):
            self.own[g[0]:g[-1] + 1, p[0]:p[-1] + 1] = True
        self.others = ~self.own
        self.table = subswarm_table(self.groups)
        self.context = np.empty(n_params, dtype)
        self.value = math.inf

    def start(self, state: SwarmState) -> None:
        """After the first evaluation: b = the best initial particle; every
        particle keeps only its part, personal bests start afresh."""
        i = int(state.values.argmin())
        self.context[:] = state.positions[i]
        self.value = float(state.values[i])
        np.copyto(state.velocities, 0.0, where=self.others)
        self._fill(state)
        state.personal_best_value.fill(np.inf)

    def update(self, state: SwarmState) -> None:
        """After an evaluation: write the best improving part into b."""
        best_gain, best = 0.0, None
        for g, p in zip(self.groups, self.parts):
            i = g[0] + int(state.values[g].argmin())
            gain = self.value - float(state.values[i])
            if gain > best_gain:
                best_gain, best = gain, (i, p)
        if best is None:
            return
        i, p = best
        self.context[p[0]:p[-1] + 1] = state.positions[i, p[0]:p[-1] + 1]
        self.value = float(state.values[i])
        self._fill(state)

    def _fill(self, state: SwarmState) -> None:
        np.copyto(state.positions, self.context, where=self.others)
        np.copyto(state.personal_best, self.context, where=self.others)


# ----------------------------------------------------------------- bookkeeping
class BestTracker:
    """The best point so far (a copy), and how long it has stalled.

    An iteration is stalled when the best value does not improve by more than
    ``tol`` relatively: best_old − best_new <= tol·|best_old|.
    """

    def __init__(self, tol: float, n_params: int, dtype=np.float64):
        self.tol = tol
        self.value = math.inf
        self.position = np.zeros(n_params, dtype)
        self.started = False
        self.stalled = 0      # stalled iterations in a row

    def update(self, value: float, position: np.ndarray) -> bool:
        """Offer the best point of this iteration; True when the best changed."""
        if not self.started:
            self.started = True
            self.value = value
            self.position[:] = position
            return True
        if value < self.value:
            if math.isfinite(self.value) and self.value - value <= self.tol * abs(self.value):
                self.stalled += 1
            else:
                self.stalled = 0
            self.value = value
            self.position[:] = position
            return True
        self.stalled += 1
        return False


class Diversity:
    """The mean Euclidean distance of the particles to their centroid, with
    buffers allocated once (the swarm's scratch array is overwritten)."""

    def __init__(self, particles: int, n_params: int, dtype=np.float64, compiled: bool = False):
        self.compiled = compiled   # the compiled kernel: one pass, float64 sums
        self._sums = np.empty(n_params)
        self._weights = np.full(particles, 1.0 / particles, dtype)
        self._centroid = np.empty(n_params, dtype)
        self._distance = np.empty(particles, dtype)

    def __call__(self, state: SwarmState) -> float:
        if self.compiled:
            return float(_update_kernels().diversity(state.positions, self._sums))
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
        Evaluations of the whole swarm, the first at the initial positions, so
        the fit moves the swarm iterations − 1 times and evaluates E at most
        P · iterations times, whatever the variant.
    inertia, c1, c2 : float
        w, the cognitive and the social coefficient (>= 0).  The defaults are
        the Clerc–Kennedy constriction values (χ = 0.7298, χ·2.05 = 1.49618).
    inertia_end : float or None
        With a value, w decreases linearly from ``inertia`` at the first move
        to ``inertia_end`` at the last (Shi & Eberhart 1998 use 0.9 → 0.4);
        None keeps w constant.
    topology : {"global", "ring", "von_neumann"}
        See :mod:`swarmreg.topologies`.
    neighbors : int
        Ring topology: particles within this many index steps on either side
        are neighbours (2·neighbors + 1 <= particles).
    gcpso : bool or None
        Guaranteed convergence: the particle holding the global best keeps
        searching a box around it, so that a swarm collapsed on a point that is
        not a local minimum moves on (:class:`GuaranteedConvergence`; ρ halves
        on long runs of failures, so a swarm at a minimum still converges).
        None (default): on for one
        swarm, off for a cooperative one (``split`` > 1), which it does not
        combine with.
    split : int
        K of the cooperative swarm CPSO-S_K (:class:`Cooperation`): θ in K parts,
        the particles in K subswarms (2·K <= particles); 1 = one swarm over θ.
    boundary : {"clip", "reflect", "random"}
        What a coordinate leaving ``bounds`` does (see :func:`move`).
    bounds : (float, float) or None
        Box every coordinate is kept in; None = unbounded.
    init_range : (float, float) or None
        An explicit box for the initial positions (or theta0 plus such noise);
        it must lie within ``bounds``.  None (default): a start scaled to the
        network when the objective has an MLP, (−1, 1) otherwise (:func:`init_box`).
    init_scale : float
        The start scaled to the network: each layer's weights uniform in
        ± init_scale × its Glorot range √(6 / (fan_in + fan_out)), biases in
        ± init_scale, and particle 0 (without theta0) exactly at θ = 0, the
        all-zero network, so that the swarm never ends worse than it.
    v_max : float or None
        Velocity clamp per coordinate.  None: ``v_scale`` × the start's half
        width in every coordinate when the start is scaled to the network,
        else half the width of ``bounds`` (no clamp when unbounded).
    v_scale : float
        See ``v_max``.
    tol : float
        Relative improvement of the best value below which an iteration counts
        as stalled: best_old − best_new <= tol·|best_old|.
    patience : int or None
        Stop with status "stalled" after this many stalled iterations in a row;
        None = never.
    dtype : {None, "float32", "float64"}
        The precision the swarm searches in.  None (default): the objective's.
        "float32" on a float64 objective evaluates a float32 copy of it
        (``objective.astype``), about twice as fast with the compiled kernels;
        the result's E, D and R are then the given objective's own at the best
        position found.

    Notes
    -----
    Why these defaults: ``scripts/swarm_defaults.py`` runs every variant at
    40 particles × 1,500 iterations on 12-unit tanh/softmax networks for iris,
    wine and breast_cancer at the 10 λ of the report's grid (3 seeds) against
    the best of three L-BFGS runs, and counts the cases whose median E is
    within max(5 %, 0.01) of it.  The uniform ±1 start puts Σw² ≈ D/3 into E
    (128 on breast_cancer) and the swarm spends its budget shrinking it: 14
    of 30 cases.  Starting at a tenth of each layer's Glorot range with steps
    clamped to a quarter of that start's half width: 30 of 30 for the global
    best, the ring, von Neumann and the inertia schedule alike (26 with a
    clamp 160 times wider),
    and GCPSO on top of it keeps the largest gap at 10 % of what is allowed
    where the plain global best reaches 64 % (the ring 52 %, von Neumann
    63 %, the schedule 26 %).  The cooperative split as implemented reaches
    4 of 30.  With particle 0 at θ = 0 no seed ends worse than the
    all-zero network.

    One iteration is one ``objective.batch`` call on all positions plus an
    in-place update of preallocated arrays (:func:`move`, :func:`tell`):
    besides the objective's temporaries an iteration allocates only vectors
    of D floats (GCPSO's step, the clamp's negation) and, with the random
    boundary, the redrawn coordinates.
    """

    name = "swarm"

    def __init__(self, particles: int = 40, iterations: int = 1000, inertia: float = 0.7298,
                 c1: float = 1.49618, c2: float = 1.49618, inertia_end: float | None = None,
                 topology: str = "global", neighbors: int = 1, gcpso: bool | None = None, split: int = 1,
                 boundary: str = "clip", bounds=(-10.0, 10.0), init_range=None, init_scale: float = 0.1,
                 v_max: float | None = None, v_scale: float = 0.25, tol: float = 0.0,
                 patience: int | None = None, dtype: str | None = None):
        self.particles = checks.integer("particles", particles, 2)
        self.iterations = checks.integer("iterations", iterations, 1)
        self.inertia = checks.real("inertia", inertia)
        self.c1 = checks.real("c1", c1)
        self.c2 = checks.real("c2", c2)
        self.inertia_end = None if inertia_end is None else checks.real("inertia_end", inertia_end)
        if topology not in TOPOLOGIES:
            raise ValueError(f"topology={topology!r} is not a topology; valid: {', '.join(TOPOLOGIES)}")
        self.topology = topology
        self.neighbors = checks.integer("neighbors", neighbors, 1)
        if topology == "ring" and 2 * self.neighbors + 1 > self.particles:
            raise ValueError(
                f"neighbors={neighbors} is too large for {self.particles} particles: "
                f"a ring neighbourhood holds 2·neighbors + 1 = {2 * self.neighbors + 1} particles"
            )
        if gcpso is not None and not isinstance(gcpso, (bool, np.bool_)):
            raise ValueError(f"gcpso must be True, False or None, got {gcpso!r}")
        self.gcpso = None if gcpso is None else bool(gcpso)
        self.split = checks.integer("split", split, 1)
        if 2 * self.split > self.particles:
            raise ValueError(f"split={split} needs at least 2·split = {2 * self.split} particles "
                             f"(two per subswarm), got particles={self.particles}")
        if self.split > 1 and topology != "global":
            raise ValueError(f"split={split} informs each subswarm by its own best: it needs "
                             f"topology='global', got {topology!r}")
        if self.split > 1 and self.gcpso:
            raise ValueError(f"split={split} and gcpso=True cannot be combined: choose one")

        if boundary not in BOUNDARIES:
            raise ValueError(f"boundary={boundary!r} is not a boundary rule; valid: {', '.join(BOUNDARIES)}")
        self.boundary = boundary
        self.bounds = None if bounds is None else _interval("bounds", bounds)
        self.init_range = None if init_range is None else _interval("init_range", init_range)
        if self.bounds is not None and self.init_range is not None and not (
                self.bounds[0] <= self.init_range[0] and self.init_range[1] <= self.bounds[1]):
            raise ValueError(f"init_range={init_range!r} must lie within bounds={bounds!r}")
        self.init_scale = checks.real("init_scale", init_scale, positive=True)
        self.v_max = None if v_max is None else checks.real("v_max", v_max, positive=True)
        self.v_scale = checks.real("v_scale", v_scale, positive=True)
        self.tol = checks.real("tol", tol)
        self.patience = None if patience is None else checks.integer("patience", patience, 1)
        if dtype is not None and dtype not in DTYPES:
            raise ValueError(f"dtype={dtype!r} is not a precision; valid: None, {', '.join(map(repr, DTYPES))}")
        self.dtype = dtype

    @property
    def guaranteed(self) -> bool:
        """Whether the fit uses GCPSO (``gcpso``, or its default)."""
        return self.split == 1 if self.gcpso is None else self.gcpso

    def memory_bytes(self, model, n_samples: int, dtype=np.float64, l1: bool = True) -> int:
        """An upper estimate of the peak bytes :meth:`fit` allocates on a
        :class:`~swarmreg.objective.RegularizedError` of ``model``.

        The swarm's P × D arrays (positions, velocities, personal bests,
        scratch, the two random draws, the mask, the neighbourhood bests of a
        table topology or of the subswarms and the subswarms' part masks, and
        float64 draws when the swarm is float32), its P- and D-sized vectors,
        one ``batch`` call of the objective (or the final evaluation of one
        theta on all samples, whichever is larger) and the history.

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
        table = self.topology != "global" or self.split > 1
        planes = 6 + table                        # P × D arrays of the swarm's dtype
        masks = 1 + 2 * (self.split > 1)          # bool P × D arrays
        draws = 2 * 8 if item != 8 else 0         # float64 initial positions and velocities, before the cast
        arrays = P * D * (planes * item + masks + draws)
        # D-vectors: the best point, its float64 copy and weight statistics, the
        # centroid, the start's half widths, the clamp and its negation (8 in
        # all), GCPSO's three and the cooperative context
        vectors = 8 * (8 * P + (8 + 3 * self.guaranteed + (self.split > 1)) * D)
        return arrays + vectors + objective_bytes + history_bytes(self.iterations + 1, len(SWARM_COLUMNS))

    def _searched(self, objective):
        """The objective the swarm evaluates: ``objective`` itself, or its copy in ``dtype``."""
        if self.dtype is None or np.dtype(getattr(objective, "dtype", np.float64)) == np.dtype(self.dtype):
            return objective
        astype = getattr(objective, "astype", None)
        if astype is None:
            raise ValueError(f"dtype={self.dtype!r} needs an objective with an astype method (a RegularizedError); "
                             f"{type(objective).__name__} has none")
        return astype(self.dtype)

    def _clamp(self, scaled: bool, half):
        """v_max of the fit: a number, a (D,) array or None (see ``v_max``)."""
        if self.v_max is not None:
            return self.v_max
        if scaled:
            return self.v_scale * half
        return None if self.bounds is None else 0.5 * (self.bounds[1] - self.bounds[0])

    def _inertia(self, move: int) -> float:
        """w at move 1 … iterations − 1."""
        if self.inertia_end is None or self.iterations <= 2:
            return self.inertia
        return self.inertia + (self.inertia_end - self.inertia) * (move - 1) / (self.iterations - 2)

    @held_threads
    def fit(self, objective, theta0=None, seed=None, callback=None) -> TrainResult:
        """Minimize ``objective`` with the swarm.

        Parameters
        ----------
        objective : RegularizedError or any object with ``n_params`` and ``batch``
            ``batch(thetas)`` maps positions (P, n_params) to values (P,).
            Optional extras used when present: ``model`` (an MLP: the start
            scaled to the network, ``model.weight_mask`` for the weight
            statistics, else all coordinates count), ``parts(theta)`` (D and R
            of the result), ``penalty_value(theta)`` (R of the history rows),
            ``n_samples`` (work accounting; else 1) and ``dtype`` (float32
            objectives get a float32 swarm).
        theta0 : ndarray, shape (n_params,), optional
            Becomes particle 0; the others start at theta0 plus the start's noise.
        seed : None, int or numpy.random.Generator
            The same seed gives the same result bit for bit.
        callback : callable, optional
            ``callback(info)`` after every iteration with the history row and
            "theta" (a copy of the best position); raising StopIteration stops
            the fit with status "stopped".

        Returns
        -------
        TrainResult
            ``theta`` is the best position found (the context vector of a
            cooperative swarm).  ``history`` has one row per evaluation of the
            swarm (row 0 = the initial swarm) with the columns of
            ``SWARM_COLUMNS``: "value" is the best value so far, "penalty" R
            there and "data_loss" value − R; "mean_personal_best" is the mean
            of the personal-best values and "diversity" the mean Euclidean
            distance of the particles to their centroid.  ``iterations`` counts
            the moves; ``forward_samples`` counts P·n_samples per swarm
            evaluation.  Status "stalled" after ``patience`` stalled
            iterations, "diverged" when no finite value was ever seen.

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
        searched = self._searched(objective)
        if self.split > D:
            raise ValueError(f"split={self.split} cuts θ into more parts than its {D} parameters")
        if theta0 is not None:
            theta0 = checks.start_vector(theta0, D)
            if self.bounds is not None and not np.all((theta0 >= self.bounds[0]) & (theta0 <= self.bounds[1])):
                raise ValueError(f"theta0 lies outside bounds={self.bounds}")
        samples = int(getattr(objective, "n_samples", 1))
        model = getattr(objective, "model", None)
        weight_mask = getattr(model, "weight_mask", None)
        weight_mask = np.ones(D, bool) if weight_mask is None else np.asarray(weight_mask, bool)
        penalty_value = getattr(objective, "penalty_value", None)
        dtype = np.float32 if getattr(searched, "dtype", None) == np.float32 else np.float64
        self._check_memory(self._memory_bytes(D, _objective_memory(searched, P, dtype), dtype), model, samples)

        rng = checks.make_rng(seed)
        box, half = init_box(objective, self.init_range, self.init_scale)
        if box is None and self.bounds is not None and not self.bounds[0] < 0.0 < self.bounds[1]:
            raise ValueError(f"the start scaled to the network is centred on θ = 0, outside bounds={self.bounds}; "
                             "give init_range (a box within the bounds)")
        if box is None and self.bounds is not None:
            half = np.minimum(half, 0.5 * (self.bounds[1] - self.bounds[0]))
        start = theta0
        if start is None and box is None:
            start = np.zeros(D)  # the all-zero network: the swarm never ends worse than predicting nothing
        state = init_swarm(rng, P, D, box, self.bounds, start, dtype, half)
        v_max = self._clamp(box is None, half)
        if isinstance(v_max, np.ndarray):
            v_max = v_max.astype(dtype)
        cooperation = Cooperation(P, D, self.split, dtype) if self.split > 1 else None
        if cooperation is not None:
            neighbourhood_best = TableBest(cooperation.table, D, dtype)
        else:
            neighbourhood_best = make_topology(self.topology, P, D, self.neighbors, dtype)
        guaranteed = GuaranteedConvergence(half, D, dtype) if self.guaranteed else None
        compiled = CompiledMove(rng, D, dtype, v_max, self.bounds, self.boundary) \
            if backend.resolve() == "numba" else None
        diversity = Diversity(P, D, dtype, compiled=compiled is not None)
        best = BestTracker(self.tol, D, dtype)
        record = tell if compiled is None else compiled_tell

        def describe() -> dict:
            # the best position's numbers; R without a forward pass
            theta = best.position.astype(float)
            value = best.value
            penalty = float(penalty_value(theta)) if penalty_value is not None else 0.0
            return point_row(theta, weight_mask, value, value - penalty if math.isfinite(value) else value, penalty)

        status, forward, moves = "max_iter", 0, 0
        # An unbounded swarm may overflow; non-finite values then count as
        # worst (see ``tell``), so numpy's warnings are silenced.
        with np.errstate(over="ignore", invalid="ignore"):
            for iteration in range(self.iterations):
                if iteration:
                    inertia = self._inertia(iteration)
                    if guaranteed is not None:
                        guaranteed.before_move(state)
                    if compiled is not None:
                        compiled(state, neighbourhood_best(state), inertia, self.c1, self.c2)
                    else:
                        move(state, rng, neighbourhood_best(state), inertia, self.c1, self.c2, v_max,
                             self.bounds, self.boundary)
                    if guaranteed is not None:
                        guaranteed.after_move(state, rng, inertia, self.bounds)
                    moves = iteration
                record(state, evaluate(searched, state))
                forward += P * samples
                if cooperation is not None:
                    if iteration:
                        cooperation.update(state)
                    else:
                        cooperation.start(state)
                    value, position = cooperation.value, cooperation.context
                else:
                    index = int(state.personal_best_value.argmin())
                    value, position = float(state.personal_best_value[index]), state.personal_best[index]
                if guaranteed is not None and iteration:
                    guaranteed.adapt(state)
                if best.update(value, position):
                    point = describe()
                row = log.append(log.row(iteration, point, forward_samples=forward,
                                         mean_personal_best=float(state.personal_best_value.sum()) / P,
                                         diversity=diversity(state)))
                if iteration and log.halt(row, best.position):
                    status = "stopped"
                    break
                if self.patience is not None and best.stalled >= self.patience:
                    status = "stalled"
                    break

        best_value = best.value
        theta = best.position.astype(float)
        value, data, penalty = best_value, best_value, 0.0
        parts = getattr(objective, "parts", None)
        if parts is not None and math.isfinite(best_value):
            p = parts(theta)
            value, data, penalty = float(p["total"]), float(p["data"]), float(p["penalty"])
        if not math.isfinite(best_value):
            status = "diverged"
        return log.result(self, theta, value, data, penalty, moves, forward, 0, status)
