"""The compiled swarm evaluation: E of every particle in one fused pass.

:func:`batch_values` is what :meth:`swarmreg.objective.RegularizedError.batch`
runs with the numba backend.  For each particle, sample chunk by sample
chunk, it computes every layer with samples on the last axis (each row of a
layer is a loop over samples that LLVM vectorizes), applies the activation
while the row is in cache, turns the logits into the loss, and adds the
penalty of the particle's weights: nothing of size P × n is ever stored, so
the memory is two layers of one chunk, whatever P and n.  A first layer of
:data:`GEMM_FAN_IN` or more inputs is one matrix product for a block of
particles (bounded by ``budget`` floats), their other layers the loops.

Codes (small ints, fixed when the objective is built): hidden activation
0 tanh, 1 sigmoid, 2 relu, 3 identity; output 0 identity, 1 softmax,
2 sigmoid; loss 0 mse, 1 cross_entropy, 2 binary_cross_entropy; penalty
0 none, 1 elastic net (l1, l2), 2 weight elimination (lam, w0).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .mathfn import JIT, SUMS, exp_, log1p_exp_neg_, log_, sigmoid_, tanh_

__all__ = ["batch_values", "pad_columns", "LANE", "HIDDEN_CODES", "OUTPUT_CODES", "LOSS_CODES", "CHUNK"]

HIDDEN_CODES = {"tanh": 0, "sigmoid": 1, "relu": 2, "identity": 3}
OUTPUT_CODES = {"identity": 0, "softmax": 1, "sigmoid": 2}
LOSS_CODES = {"mse": 0, "cross_entropy": 1, "binary_cross_entropy": 2}
#: Samples per chunk: two layers of a chunk of a 64-wide network stay within a core's L2 cache.
CHUNK = 256
#: The layers run over a chunk's samples rounded up to a multiple of this (16 float32 or two
#: vectors of 8 float64 in AVX-512), so that their loops leave no scalar remainder; the inputs
#: carry that many zero columns at their end (:func:`pad_columns`), and the loss reads the real
#: samples only.
LANE = 16


#: A first layer with at least this many inputs is computed for a block of particles by one matrix
#: product (BLAS, through numba's np.dot): about twice the rate of the loops of :func:`_layer`.
GEMM_FAN_IN = 4
#: Floats of one block's first-layer output (particles × units × chunk samples, at least one particle):
#: 256 KB in float64, so that the block stays in a core's L2 cache while the later layers read it.
#: Measured against 2¹⁷ floats, BLAS on one thread as in a fit: 5 to 9 % faster on a 30-16-2 network
#: (300 samples, 100 particles) and about 10 % on 20-64-3 (1,000 samples), the same on iris with 100
#: or 1,000 particles, results bit for bit the same.
GEMM_BLOCK = 1 << 15


def pad_columns(XT: np.ndarray) -> np.ndarray:
    """XT with zero columns appended up to a multiple of :data:`LANE`, C-contiguous.

    Parameters
    ----------
    XT : ndarray, shape (d, n)

    Returns
    -------
    ndarray, shape (d, LANE·⌈n / LANE⌉)
    """
    d, n = XT.shape
    out = np.zeros((d, -(-n // LANE) * LANE), XT.dtype)
    out[:, :n] = XT
    return out


@njit(inline="always", **JIT)
def _layer_length(m, s0, chunk, cols):
    """The layers' length for the m samples of the chunk at s0: m rounded up to whole vectors
    (:data:`LANE`) where XT is padded, never beyond the chunk or XT's columns."""
    return min(-(-m // LANE) * LANE, chunk, cols - s0)


@njit(**JIT)
def _activate(row, m, hidden):
    if hidden == 0:
        for s in range(m):
            row[s] = tanh_(row[s])
    elif hidden == 1:
        for s in range(m):
            row[s] = sigmoid_(row[s])
    elif hidden == 2:
        zero = row.dtype.type(0)
        for s in range(m):
            row[s] = row[s] if row[s] > zero else zero


@njit(**JIT)
def _bias_activate(row, m, hidden, bias):
    """row[:m] = act(row[:m] + bias)."""
    if hidden == 0:
        for s in range(m):
            row[s] = tanh_(row[s] + bias)
    elif hidden == 1:
        for s in range(m):
            row[s] = sigmoid_(row[s] + bias)
    elif hidden == 2:
        zero = row.dtype.type(0)
        for s in range(m):
            v = row[s] + bias
            row[s] = v if v > zero else zero
    else:
        for s in range(m):
            row[s] += bias


@njit(**JIT)
def _layer(theta, w0, fan_in, fan_out, src, off, dst, m, hidden, last):
    """dst[j, :m] = act(b[j] + Σ_i W[i, j]·src[i, off:off + m]) for every unit j
    (no activation on the last layer): four inputs per pass over the row."""
    b0 = w0 + fan_in * fan_out
    for j in range(fan_out):
        row = dst[j]
        bj = theta[b0 + j]
        i = 0
        if fan_in >= 4:
            wa, wb, wc, wd = theta[w0 + j], theta[w0 + fan_out + j], theta[w0 + 2 * fan_out + j], \
                theta[w0 + 3 * fan_out + j]
            xa, xb, xc, xd = src[0, off:off + m], src[1, off:off + m], src[2, off:off + m], src[3, off:off + m]
            for s in range(m):
                row[s] = bj + wa * xa[s] + wb * xb[s] + wc * xc[s] + wd * xd[s]
            i = 4
        else:
            for s in range(m):
                row[s] = bj
        while i + 4 <= fan_in:
            wa, wb, wc, wd = theta[w0 + i * fan_out + j], theta[w0 + (i + 1) * fan_out + j], \
                theta[w0 + (i + 2) * fan_out + j], theta[w0 + (i + 3) * fan_out + j]
            xa, xb, xc, xd = src[i, off:off + m], src[i + 1, off:off + m], src[i + 2, off:off + m], \
                src[i + 3, off:off + m]
            for s in range(m):
                row[s] += wa * xa[s] + wb * xb[s] + wc * xc[s] + wd * xd[s]
            i += 4
        while i < fan_in:
            wa = theta[w0 + i * fan_out + j]
            xa = src[i, off:off + m]
            for s in range(m):
                row[s] += wa * xa[s]
            i += 1
        if not last:
            _activate(row, m, hidden)


@njit(**JIT)
def _loss_sum(z, k, m, target, off, output, loss, zmax, acc, sq):
    """Σ over the chunk's samples of the per-entry loss of logits z[:k, :m] (float64)."""
    if loss == 1 or (loss == 0 and output == 1):  # log-sum-exp over the k logits of each sample
        for s in range(m):
            zmax[s] = z[0, s]
        for j in range(1, k):
            zj = z[j]
            for s in range(m):
                zmax[s] = zmax[s] if zmax[s] >= zj[s] else zj[s]
        for s in range(m):
            acc[s] = exp_(z[0, s] - zmax[s])
        for j in range(1, k):
            zj = z[j]
            for s in range(m):
                acc[s] += exp_(zj[s] - zmax[s])
    total = 0.0
    if loss == 1:  # −log p(true class) = log Σ exp(z − zmax) + zmax − z_true
        for s in range(m):
            acc[s] = log_(acc[s]) + zmax[s]
        for j in range(k):
            zj, tj = z[j], target[j, off:off + m]
            for s in range(m):
                acc[s] -= zj[s] * tj[s]
        total = _sum(acc, m)
    elif loss == 0:  # Σ_j (output − target)², per sample in sq, then summed
        for s in range(m):
            sq[s] = 0.0
        for j in range(k):
            zj, tj = z[j], target[j, off:off + m]
            if output == 1:
                for s in range(m):
                    e = exp_(zj[s] - zmax[s]) / acc[s] - tj[s]
                    sq[s] += e * e
            elif output == 2:
                for s in range(m):
                    e = sigmoid_(zj[s]) - tj[s]
                    sq[s] += e * e
            else:
                for s in range(m):
                    e = zj[s] - tj[s]
                    sq[s] += e * e
        total = _sum(sq, m)
    else:  # binary cross-entropy from the logit: softplus(z) − y·z
        zero = z.dtype.type(0)
        for j in range(k):
            zj, tj = z[j], target[j, off:off + m]
            for s in range(m):
                x = zj[s]
                a = x if x >= zero else -x
                zmax[s] = (x if x > zero else zero) - tj[s] * x + log1p_exp_neg_(a)
            total += _sum(zmax, m)
    return total


@njit(**SUMS)
def _penalty(theta, slices, kind, a, b):
    """R of one parameter vector, in float64: elastic net a·Σ|w| + (b/2)·Σw², or weight
    elimination a·Σ u/(1 + u), u = (w/b)²."""
    if kind == 0:
        return 0.0
    s1 = 0.0
    s2 = 0.0
    for q in range(slices.shape[0]):
        for i in range(slices[q, 0], slices[q, 1]):
            w = np.float64(theta[i])
            if kind == 1:
                s1 += abs(w)
                s2 += w * w
            else:
                t = w / b
                u = t * t
                s1 += 1.0 / (1.0 + 1.0 / u) if u > 0.0 else 0.0
    if kind == 1:
        return a * s1 + 0.5 * b * s2
    return a * s1


#: Parameters beyond this magnitude are left to the numpy code: the kernels' elementary
#: functions clamp their inputs, and such networks overflow there as they should.
HUGE = 1e100


@njit(**SUMS)
def _unusual(theta):
    """0 for a parameter vector the kernel evaluates, 1 when it holds NaN, 2 when it holds ±inf
    or Σ|θ| exceeds HUGE (then the numpy code evaluates it)."""
    total = 0.0
    for i in range(theta.shape[0]):
        total += abs(np.float64(theta[i]))
    if total != total:
        return 1
    return 2 if total > HUGE else 0


@njit(**SUMS)
def _sum(values, m):
    """Σ values[:m] in float64."""
    total = 0.0
    for s in range(m):
        total += values[s]
    return total


@njit(**JIT)
def _particles(thetas, originals, p0, p1, XT, target, layout, hidden, output, loss, norm, slices, kind, a, b,
               chunk, out, flags, budget):
    """E of particles p0..p1 − 1 into out (the serial kernel)."""
    if layout.shape[0] > 1 and layout[0, 3] >= GEMM_FAN_IN:
        _particles_gemm(thetas, originals, p0, p1, XT, target, layout, hidden, output, loss, norm, slices, kind, a,
                        b, chunk, out, flags, budget)
        return
    n = target.shape[1]
    cols = XT.shape[1]
    L = layout.shape[0]
    width = 1
    for l in range(L):
        width = max(width, layout[l, 4])
    k = layout[L - 1, 4]
    dt = thetas.dtype
    buf0 = np.empty((width, chunk), dt)
    buf1 = np.empty((width, chunk), dt)
    zmax = np.empty(chunk, dt)
    acc = np.empty(chunk, dt)
    sq = np.empty(chunk, dt)
    for p in range(p0, p1):
        theta = thetas[p]
        flags[p] = _unusual(originals[p])
        if flags[p]:
            out[p] = np.nan
            continue
        total = 0.0
        for s0 in range(0, n, chunk):
            m = min(chunk, n - s0)
            mp = _layer_length(m, s0, chunk, cols)
            _layer(theta, layout[0, 0], layout[0, 3], layout[0, 4], XT, s0, buf0, mp, hidden, L == 1)
            for l in range(1, L):  # the layers alternate between the two buffers
                if l % 2:
                    _layer(theta, layout[l, 0], layout[l, 3], layout[l, 4], buf0, 0, buf1, mp, hidden, l == L - 1)
                else:
                    _layer(theta, layout[l, 0], layout[l, 3], layout[l, 4], buf1, 0, buf0, mp, hidden, l == L - 1)
            z = buf1 if L % 2 == 0 else buf0
            total += _loss_sum(z, k, m, target, s0, output, loss, zmax, acc, sq)
        out[p] = total / norm + _penalty(originals[p], slices, kind, a, b)


@njit(**JIT)
def _particles_gemm(thetas, originals, p0, p1, XT, target, layout, hidden, output, loss, norm, slices, kind, a, b,
                    chunk, out, flags, budget):
    """:func:`_particles` with the first (hidden) layer of a block of particles as one matrix product per
    chunk: the block's weights side by side (inputs, particles·units), transposed, times the chunk's
    inputs (row copies instead of a transposition element by element).  With inputs padded to whole
    vectors, as RegularizedError passes them, OpenBLAS's kernels give the same products as with the
    rows transposed, bit for bit; BLAS does not promise it, and unpadded chunks of one to a few samples
    can differ in the last bits."""
    n = target.shape[1]
    cols = XT.shape[1]
    L = layout.shape[0]
    width = 1
    for l in range(1, L):
        width = max(width, layout[l, 4])
    k = layout[L - 1, 4]
    w0, b0, d, h = layout[0, 0], layout[0, 1], layout[0, 3], layout[0, 4]
    dt = thetas.dtype
    block = max(1, min(p1 - p0, budget // (h * chunk)))
    stacked = np.empty(d * block * h, dt)
    first = np.empty(block * h * chunk, dt)
    once = d * cols <= budget  # then every chunk's inputs are copied (contiguous) once, not once a block
    inputs = np.empty(d * cols if once else d * chunk, dt)
    if once:
        for s0 in range(0, n, chunk):
            mp = _layer_length(min(chunk, n - s0), s0, chunk, cols)
            inputs[d * s0:d * (s0 + mp)].reshape((d, mp))[:, :] = XT[:d, s0:s0 + mp]
    buf0 = np.empty((width, chunk), dt)
    buf1 = np.empty((width, chunk), dt)
    zmax = np.empty(chunk, dt)
    acc = np.empty(chunk, dt)
    sq = np.empty(chunk, dt)
    totals = np.zeros(p1 - p0)
    for p in range(p0, p1):
        flags[p] = _unusual(originals[p])
    for q0 in range(p0, p1, block):
        q1 = min(p1, q0 + block)
        rows = (q1 - q0) * h
        W = stacked[:d * rows].reshape((d, rows))  # W (inputs, units) of each particle, side by side
        for p in range(q0, q1):
            r = (p - q0) * h
            for i in range(d):
                W[i, r:r + h] = thetas[p, w0 + i * h:w0 + (i + 1) * h]
        for s0 in range(0, n, chunk):
            m = min(chunk, n - s0)
            mp = _layer_length(m, s0, chunk, cols)
            if once:
                x = inputs[d * s0:d * (s0 + mp)].reshape((d, mp))
            else:
                x = inputs[:d * mp].reshape((d, mp))
                x[:, :] = XT[:d, s0:s0 + mp]
            H = first[:rows * mp].reshape((rows, mp))
            np.dot(W.T, x, H)
            for p in range(q0, q1):
                if flags[p]:
                    continue
                theta = thetas[p]
                src = H[(p - q0) * h:(p - q0 + 1) * h]
                for u in range(h):
                    _bias_activate(src[u], mp, hidden, theta[b0 + u])
                for l in range(1, L):  # the other layers alternate between the two buffers
                    dst = buf0 if l % 2 else buf1
                    _layer(theta, layout[l, 0], layout[l, 3], layout[l, 4], src, 0, dst, mp, hidden, l == L - 1)
                    src = dst
                totals[p - p0] += _loss_sum(src, k, m, target, s0, output, loss, zmax, acc, sq)
    for p in range(p0, p1):
        out[p] = np.nan if flags[p] else totals[p - p0] / norm + _penalty(originals[p], slices, kind, a, b)


@njit(parallel=True, **JIT)
def _parallel(thetas, originals, XT, target, layout, hidden, output, loss, norm, slices, kind, a, b, chunk, out,
              flags, blocks, budget):
    P = thetas.shape[0]
    step = (P + blocks - 1) // blocks
    for q in prange(blocks):
        _particles(thetas, originals, q * step, min(P, (q + 1) * step), XT, target, layout, hidden, output, loss,
                   norm, slices, kind, a, b, chunk, out, flags, budget)


def batch_values(thetas, originals, XT, target, layout, hidden: int, output: int, loss: int, norm: float,
                 slices, kind: int, a: float, b: float, threads: int = 1, chunk: int = CHUNK,
                 budget: int = GEMM_BLOCK) -> np.ndarray:
    """E (or D, with ``kind`` 0) of every particle.

    Parameters
    ----------
    thetas : ndarray, shape (P, n_params), float64 or float32, C-contiguous
        The positions, in the objective's dtype.
    originals : ndarray, shape (P, n_params)
        The positions as given (the penalty is computed from them in float64).
    XT : ndarray, shape (≥ n_inputs, ≥ n), the dtype of thetas
        The inputs with samples on the last axis (extra rows are ignored); zero columns beyond
        the n samples (:func:`pad_columns`) let every layer loop run whole vectors.
    target : ndarray, shape (k, n), the dtype of thetas
        The targets (one-hot rows for cross-entropy) with samples last.
    layout : ndarray of int64, shape (L, 5)
        Per layer: weight start, weight stop, bias stop, fan-in, fan-out.
    hidden, output, loss : int
        The codes of the module docstring.
    norm : float
        What the summed loss is divided by: n·k (mse, bce) or n (cross-entropy).
    slices : ndarray of int64, shape (S, 2)
        [start, stop) of the penalized parameters.
    kind, a, b : int, float, float
        The penalty's code and parameters (module docstring).
    threads : int
        Blocks of particles evaluated side by side (1: this thread only).
    chunk : int
        Samples per chunk (rounded up to a multiple of :data:`LANE`).
    budget : int
        Floats of one block's first-layer output when it is a matrix product
        (:data:`GEMM_FAN_IN`): particles × units × chunk, at least one particle.
        Inputs of at most this many floats are copied into contiguous chunks once
        per call (per thread when ``threads`` > 1), larger ones chunk by chunk for
        every block.

    Returns
    -------
    values : ndarray of float64, shape (P,)
        NaN where ``flags`` is not 0.
    flags : ndarray of int8, shape (P,)
        0 evaluated; 1 the row holds NaN or ±inf; 2 a parameter exceeds :data:`HUGE` (for the
        caller to evaluate with numpy).
    """
    P = thetas.shape[0]
    out = np.empty(P)
    flags = np.empty(P, np.int8)
    chunk = -(-max(1, min(chunk, target.shape[1])) // LANE) * LANE
    if threads > 1 and P > 1:
        _parallel(thetas, originals, XT, target, layout, hidden, output, loss, norm, slices, kind, a, b, chunk, out,
                  flags, min(threads, P), budget)
    else:
        _particles(thetas, originals, 0, P, XT, target, layout, hidden, output, loss, norm, slices, kind, a, b,
                   chunk, out, flags, budget)
    return out, flags
