"""The swarm's move, with its random numbers drawn inside the kernel, and its bookkeeping.

:func:`move` is :func:`swarmreg.swarm.move` in one pass over the (P, D)
arrays, the same arithmetic in the same order (no FMA contraction); only
where r1 and r2 come from differs.  They are counter-based: the i-th uniform
number of a fit is a hash of (key, i) — SplitMix64's output function (Steele,
Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014)
applied to key + i·0x9E3779B97F4A7C15, which is SplitMix64's own sequence —
so any number can be computed on its own and the loop vectorizes.  The key is
drawn once from the fit's numpy Generator: the same seed gives the same swarm,
bit for bit, on this backend; the numbers differ from the numpy backend's
(``Generator.random``).

A move uses the counters c … c + 3·P·D − 1: r1 of coordinate (p, d) is number
c + 2·(p·D + d), r2 the next one, and a coordinate that the "random"
boundary redraws uses number c + 2·P·D + p·D + d.  Counters are uint64 from
end to end (a counter passed back as a Python int would make numba mix
signed and unsigned integers into floating point).

:func:`tell` and :func:`diversity` are the swarm's bookkeeping in one pass each.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from .mathfn import JIT, SUMS

__all__ = ["move", "uniforms", "tell", "diversity", "BOUNDARY_CODES", "COUNTERS_PER_COORDINATE"]

#: The move runs the numpy twin's arithmetic in its order, without FMA contraction, so that the
#: two agree bit for bit when given the same random numbers.
EXACT = dict(error_model="numpy", cache=True, nogil=True)
BOUNDARY_CODES = {"none": 0, "clip": 1, "reflect": 2, "random": 3}
COUNTERS_PER_COORDINATE = 3
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
S30, S27, S31, S11, S40 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11), np.uint64(40)
TO_UNIT64 = 1.0 / 9007199254740992.0          # 2⁻⁵³
TO_UNIT32 = np.float32(1.0 / 16777216.0)      # 2⁻²⁴


@njit(**JIT)
def _bits(key, i):
    z = key + i * GOLDEN
    z = (z ^ (z >> S30)) * MIX1
    z = (z ^ (z >> S27)) * MIX2
    return z ^ (z >> S31)


@njit(**JIT)
def _unit64(key, i):
    """A uniform float64 in [0, 1): the top 53 bits."""
    return np.float64(_bits(key, i) >> S11) * TO_UNIT64


@njit(**JIT)
def _unit32(key, i):
    """A uniform float32 in [0, 1): the top 24 bits."""
    return np.float32(_bits(key, i) >> S40) * TO_UNIT32


def _unit(key, i, like):  # pragma: no cover - replaced by the overload when compiled
    raise NotImplementedError


@overload(_unit, jit_options=JIT)
def _unit_by_dtype(key, i, like):
    """The uniform number of the dtype of the scalar ``like``."""
    if like == types.float32:
        return lambda key, i, like: _unit32(key, i)
    return lambda key, i, like: _unit64(key, i)


@njit(**JIT)
def uniforms(key, counter, out):
    """out.flat[i] = the uniform number of counter + i, in out's dtype (for the tests and for
    any code that wants the kernel's numbers)."""
    key, counter = np.uint64(key), np.uint64(counter)
    flat = out.reshape(-1)
    for i in range(flat.size):
        flat[i] = _unit(key, counter + np.uint64(i), flat[0])


@njit(**EXACT)
def move(x, v, pbest, nbest, inertia, c1, c2, vmax, clamp, low, high, boundary, key, counter):
    """One move of every particle, in place; returns the counter after it (uint64).

    Parameters
    ----------
    x, v, pbest : ndarray, shape (P, D)
        Positions, velocities and personal bests (one float dtype).
    nbest : ndarray, shape (P, D) or (1, D)
        The neighbourhood best of every particle, or one row for all (the global best).
    inertia, c1, c2 : float
    vmax : ndarray, shape (D,)
        The velocity clamp, used when ``clamp``.
    low, high : float
        The bounds, used when ``boundary`` is not 0.
    boundary : int
        0 none, 1 clip (velocity set to 0), 2 reflect (velocity reversed, clipped after the mirror),
        3 random (redrawn uniformly in the bounds, velocity kept).
    key, counter : uint64
    """
    key, base = np.uint64(key), np.uint64(counter)
    P, D = x.shape
    dt = x.dtype.type
    w, a, b = dt(inertia), dt(c1), dt(c2)
    lo, hi = dt(low), dt(high)
    two, zero = dt(2.0), dt(0.0)
    for p in range(P):
        xp, vp, bp, gp = x[p], v[p], pbest[p], nbest[p if nbest.shape[0] > 1 else 0]
        first = base + np.uint64(2 * p * D)
        # the update, one pass that vectorizes: no branch but the clamp's selects
        for d in range(D):
            r1 = _unit(key, first + np.uint64(2 * d), w)
            r2 = _unit(key, first + np.uint64(2 * d + 1), w)
            vd = vp[d] * w
            vd += (bp[d] - xp[d]) * r1 * a
            vd += (gp[d] - xp[d]) * r2 * b
            if clamp:
                m = vmax[d]
                vd = -m if vd < -m else (m if vd > m else vd)
            vp[d] = vd
            xp[d] = xp[d] + vd
        if boundary == 0:
            continue
        for d in range(D):  # the boundary rule, where a coordinate left the box
            xd, vd = xp[d], vp[d]
            if boundary == 1:
                if xd < lo:
                    xd, vd = lo, zero
                elif xd > hi:
                    xd, vd = hi, zero
                elif xd != xd:  # NaN stays NaN, its velocity stops (as np.clip and the comparison do)
                    vd = zero
            elif boundary == 2:
                if xd < lo:
                    xd = two * lo - xd
                    vd = -vd
                    xd = hi if xd > hi else xd
                if xd > hi:
                    xd = two * hi - xd
                    vd = -vd
                    xd = lo if xd < lo else xd
            elif xd < lo or xd > hi:
                u = _unit64(key, base + np.uint64(2 * P * D + p * D + d))
                xd = dt(low + (high - low) * u)
            xp[d] = xd
            vp[d] = vd
    return base + np.uint64(COUNTERS_PER_COORDINATE * P * D)


@njit(**JIT)
def tell(values, x, pbest, pbest_value, current):
    """:func:`swarmreg.swarm.tell` in one pass: ``current`` ← values (non-finite as +inf), and
    every particle whose value beats its personal best takes it and its position."""
    P, D = x.shape
    for p in range(P):
        v = values[p]
        if not np.isfinite(v):
            v = np.inf
        current[p] = v
        if v < pbest_value[p]:
            pbest_value[p] = v
            row, src = pbest[p], x[p]
            for d in range(D):
                row[d] = src[d]


@njit(**SUMS)
def diversity(x, centroid):
    """The mean Euclidean distance of the rows of x (P, D) to their centroid (float64 sums)."""
    P, D = x.shape
    for d in range(D):
        centroid[d] = 0.0
    for p in range(P):
        row = x[p]
        for d in range(D):
            centroid[d] += row[d]
    for d in range(D):
        centroid[d] /= P
    total = 0.0
    for p in range(P):
        row = x[p]
        acc = 0.0
        for d in range(D):
            e = row[d] - centroid[d]
            acc += e * e
        total += np.sqrt(acc)
    return total / P
