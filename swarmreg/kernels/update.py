"""The swarm's bookkeeping in compiled passes: the personal bests and the diversity.

With the numba backend, :class:`swarmreg.swarm.SwarmTrainer` records each
evaluation (:func:`tell`) and measures the swarm's diversity (:func:`diversity`)
here, in one pass each over the (P, D) arrays.  The move itself, and so every
random number of a fit, stays numpy's (``Generator.random``): a seed gives the
same swarm on both backends, up to the evaluation's last bits.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .mathfn import JIT, SUMS

__all__ = ["tell", "diversity"]


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
