"""Who informs whom in a swarm: the neighbourhood best g_i of every particle.

A topology is only how g is computed from the personal bests.  "global" is
the best personal best of the whole swarm (one row, broadcast); every other
topology is a table of neighbours, shape (P, m), and g_i is the best personal
best among the particles in row i.  Ties go to the first neighbour of the row.

- ring (Kennedy, "Small worlds and mega-minds", CEC 1999): the particles
  within k index steps, i − k … i + k (mod P);
- von Neumann (Kennedy & Mendes, "Population structure and particle swarm
  performance", CEC 2002): the particles on a rows × cols torus, each with
  itself and its four neighbours north, south, west and east;
- subswarms: the members of the particle's own subswarm (the cooperative
  swarm's neighbourhoods, see :mod:`swarmreg.swarm`).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["TOPOLOGIES", "GlobalBest", "TableBest", "RingBest", "ring_table", "von_neumann_table",
           "grid_shape", "subswarm_table", "make_topology"]

TOPOLOGIES = ("global", "ring", "von_neumann")


class GlobalBest:
    """g = the best personal best of the whole swarm (one row, broadcast)."""

    def __call__(self, state) -> np.ndarray:
        return state.personal_best[state.personal_best_value.argmin()]


class TableBest:
    """g_i = the best personal best among the particles ``table[i]``.

    Parameters
    ----------
    table : ndarray of int, shape (P, m)
        Row i lists the neighbours of particle i (itself included where it
        counts); ties go to the earliest column.
    n_params : int
    dtype : float dtype of the swarm

    Buffers are allocated once: a call is one gather of P·m values, an argmin
    per row and one gather of P rows.
    """

    def __init__(self, table: np.ndarray, n_params: int, dtype=np.float64):
        self.table = np.ascontiguousarray(table, dtype=np.intp)
        P, m = self.table.shape
        self._values = np.empty((P, m))
        self._column = np.empty(P, dtype=np.intp)
        self._index = np.empty(P, dtype=np.intp)
        self._rows = np.arange(P)
        self._best = np.empty((P, n_params), dtype)

    def __call__(self, state) -> np.ndarray:
        np.take(state.personal_best_value, self.table, out=self._values)
        np.argmin(self._values, axis=1, out=self._column)
        self._index[:] = self.table[self._rows, self._column]
        np.take(state.personal_best, self._index, axis=0, out=self._best)
        return self._best


def ring_table(particles: int, k: int) -> np.ndarray:
    """Neighbours i − k … i + k (mod P) of every particle i, in that order → (P, 2k + 1)."""
    return (np.arange(particles)[:, None] + np.arange(-k, k + 1)[None, :]) % particles


def RingBest(particles: int, n_params: int, neighbors: int, dtype=np.float64) -> TableBest:
    """The ring topology: the best personal best within ``neighbors`` index steps."""
    return TableBest(ring_table(particles, neighbors), n_params, dtype)


def grid_shape(particles: int) -> tuple[int, int]:
    """(rows, cols) of the von Neumann torus: rows the largest divisor of P not above √P.

    A prime P gives one row: the grid degenerates to a ring of radius 1.
    """
    rows = max(r for r in range(1, math.isqrt(particles) + 1) if particles % r == 0)
    return rows, particles // rows


def von_neumann_table(particles: int) -> np.ndarray:
    """Each particle, then its north, south, west and east neighbours on the torus → (P, 5).

    Particle i sits at row i // cols, column i % cols.
    """
    rows, cols = grid_shape(particles)
    i = np.arange(particles)
    r, c = i // cols, i % cols
    return np.stack([i, ((r - 1) % rows) * cols + c, ((r + 1) % rows) * cols + c,
                     r * cols + (c - 1) % cols, r * cols + (c + 1) % cols], axis=1)


def subswarm_table(groups) -> np.ndarray:
    """The members of each particle's subswarm, shape (P, largest subswarm).

    Parameters
    ----------
    groups : sequence of int arrays
        The particle indices of each subswarm (together 0 … P − 1); a short
        subswarm's rows repeat its first member to fill the table.
    """
    P = sum(len(g) for g in groups)
    width = max(len(g) for g in groups)
    table = np.empty((P, width), dtype=np.intp)
    for g in groups:
        row = np.concatenate([g, np.full(width - len(g), g[0])])
        table[g] = row
    return table


def make_topology(name: str, particles: int, n_params: int, neighbors: int, dtype=np.float64):
    """The neighbourhood-best function of topology ``name`` (one of :data:`TOPOLOGIES`)."""
    if name == "global":
        return GlobalBest()
    if name == "ring":
        return TableBest(ring_table(particles, neighbors), n_params, dtype)
    if name == "von_neumann":
        return TableBest(von_neumann_table(particles), n_params, dtype)
    raise ValueError(f"topology={name!r} is not a topology; valid: {', '.join(TOPOLOGIES)}")
