"""The compiled backprop epoch: every minibatch step of an epoch in one call.

:class:`EpochRunner` is :class:`swarmreg.backprop.BackpropTrainer`'s inner loop
with the numba backend: for each minibatch of the epoch's order it runs the
forward pass (each layer one matrix product of the minibatch's rows, BLAS
through numba, then its bias and activation), the loss and dD/dz, the
backward pass into the gradient (two products per layer), then the step's
rules in the order of :mod:`swarmreg.decay` (gradient terms, SGD or Adam,
parameter terms), with the same arithmetic.  Python is back only at the end
of the epoch, where the trainer evaluates E and checks for divergence.

A step is described by a float64 array of settings and a small int array of
codes (:class:`RuleSettings` builds them from a trainer's chain), so one compiled
function serves every decay form.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .forward import HIDDEN_CODES, LOSS_CODES, OUTPUT_CODES
from .mathfn import JIT, exp_, log1p_exp_neg_, log_, sigmoid_, tanh_

__all__ = ["EpochRunner", "RuleSettings"]

# Indices of the float settings of a step.
L2_COUPLED, L1_SUB, WE_LAM, WE_W0, WE_COUPLED, L2_DECOUPLED, FRACTION, BASE_LR, L1_PROX, MOMENTUM, BETA1, BETA2, \
    EPS = range(13)
N_SETTINGS = 13


class RuleSettings:
    """The float settings (N_SETTINGS,) and codes (optimizer: 0 SGD, 1 Adam) of a
    :mod:`swarmreg.decay` chain, and its optimizer state, for :class:`EpochRunner`."""

    def __init__(self, rules, n_params: int):
        from .. import decay  # the rules' own module: read, never changed

        f = np.zeros(N_SETTINGS)
        f[BASE_LR] = np.nan  # a fraction d per step whatever η is (DecayFraction.base_lr None)
        f[WE_W0] = 1.0
        self.optimizer = 0
        self.slices = np.zeros((0, 2), np.int64)
        self.velocity = np.zeros(n_params)
        self.m, self.v = np.zeros(n_params), np.zeros(n_params)
        self.adam = None
        for r in rules:
            if hasattr(r, "slices"):
                self.slices = np.array([[s.start, s.stop] for s in r.slices], np.int64).reshape(-1, 2)
            if isinstance(r, decay.CoupledL2):
                f[L2_COUPLED] = r.l2
            elif isinstance(r, decay.L1Subgradient):
                f[L1_SUB] = r.l1
            elif isinstance(r, (decay.PenaltyGradient, decay.DecoupledPenalty)):
                f[WE_LAM], f[WE_W0] = r.penalty.lam, r.penalty.w0
                f[WE_COUPLED] = 1.0 if isinstance(r, decay.PenaltyGradient) else 0.0
            elif isinstance(r, decay.SGD):
                f[MOMENTUM] = r.momentum
                self.velocity = r.velocity
            elif isinstance(r, decay.Adam):
                self.optimizer = 1
                f[BETA1], f[BETA2], f[EPS] = r.beta1, r.beta2, r.eps
                self.m, self.v, self.adam = r.m, r.v, r
            elif isinstance(r, decay.DecoupledL2):
                f[L2_DECOUPLED] = r.l2
            elif isinstance(r, decay.DecayFraction):
                f[FRACTION] = r.fraction
                f[BASE_LR] = np.nan if r.base_lr is None else r.base_lr
            elif isinstance(r, decay.ProximalL1):
                f[L1_PROX] = r.l1
            else:
                raise ValueError(f"no compiled form of the rule {r!r}")
        self.floats = f


@njit(**JIT)
def _we_grad(w, lam, w0):
    """Weight elimination's gradient λ·(2/w0)·t/(1 + t²)², through 1/t where |t| > 1."""
    t = w / w0
    if abs(t) > 1.0:
        s = 1.0 / t
        q = 1.0 + s * s
        f = s * s * s / (q * q)
    else:
        q = 1.0 + t * t
        f = t / (q * q)
    return lam * (2.0 * f) / w0


@njit(**JIT)
def _act_in_place(out, bias, hidden, last):
    """out[s, j] = act(out[s, j] + bias[j]) (no activation on the last layer)."""
    m, n = out.shape
    for s in range(m):
        row = out[s]
        if last or hidden == 3:
            for j in range(n):
                row[j] += bias[j]
        elif hidden == 0:
            for j in range(n):
                row[j] = tanh_(row[j] + bias[j])
        elif hidden == 1:
            for j in range(n):
                row[j] = sigmoid_(row[j] + bias[j])
        else:
            for j in range(n):
                v = row[j] + bias[j]
                row[j] = v if v > 0 else v * 0


@njit(**JIT)
def _forward(theta, X, rows, lo, m, layout, hidden, acts, offsets, z):
    """The layers' outputs of the minibatch rows[lo:lo + m]: layer l's input at
    acts[offsets[l]:][:m·fan_in] as an (m, fan_in) matrix, the logits in z[:m]."""
    L = layout.shape[0]
    d = X.shape[1]
    a0 = acts[offsets[0]:offsets[0] + m * d].reshape((m, d))
    for s in range(m):
        src = X[rows[lo + s]]
        dst = a0[s]
        for i in range(d):
            dst[i] = src[i]
    for l in range(L):
        w0, fan_in, fan_out = layout[l, 0], layout[l, 3], layout[l, 4]
        b0 = w0 + fan_in * fan_out
        a_in = acts[offsets[l]:offsets[l] + m * fan_in].reshape((m, fan_in))
        out = z[:m] if l == L - 1 else acts[offsets[l + 1]:offsets[l + 1] + m * fan_out].reshape((m, fan_out))
        np.dot(a_in, theta[w0:b0].reshape((fan_in, fan_out)), out)
        _act_in_place(out, theta[b0:b0 + fan_out], hidden, l == L - 1)


@njit(**JIT)
def _loss_and_delta(z, m, k, target, rows, lo, output, loss, delta):
    """The mean data loss over the minibatch and its gradient delta[:m, :k] = dD/dz."""
    total = 0.0
    zmax = 0.0
    acc = 1.0
    per = 1 if loss == 1 else k
    scale = 1.0 / (m * per)
    for s in range(m):
        zs, ds, ts = z[s], delta[s], target[rows[lo + s]]
        if loss == 1 or output == 1:  # softmax through log-sum-exp
            zmax = np.float64(zs[0])
            for j in range(1, k):
                zmax = zmax if zmax >= zs[j] else zs[j]
            acc = 0.0
            for j in range(k):
                e = exp_(zs[j] - zmax)
                ds[j] = e
                acc += e
            for j in range(k):
                ds[j] = ds[j] / acc
            if loss == 1:
                lse = log_(acc) + zmax
                for j in range(k):
                    total += (lse - zs[j]) * ts[j]
                    ds[j] = (ds[j] - ts[j]) * scale
                continue
        if loss == 0:  # mse with any output: ds holds the softmax already for output 1
            gs = 0.0
            for j in range(k):
                o = ds[j] if output == 1 else (sigmoid_(zs[j]) if output == 2 else zs[j])
                r = o - ts[j]
                total += r * r
                g = 2.0 * r
                if output == 2:
                    g = g * (o * (1.0 - o))
                ds[j] = g
                if output == 1:
                    gs += g * o
            if output == 1:
                for j in range(k):
                    o = exp_(zs[j] - zmax) / acc
                    ds[j] = o * (ds[j] - gs)
            for j in range(k):
                ds[j] = ds[j] * scale
        elif loss == 2:  # binary cross-entropy from the logit
            for j in range(k):
                x = zs[j]
                a = x if x >= 0 else -x
                total += (x if x > 0 else x * 0) - ts[j] * x + log1p_exp_neg_(a)
                ds[j] = (sigmoid_(x) - ts[j]) * scale
    return total / (m * per)


@njit(**JIT)
def _backward(theta, acts, offsets, m, layout, hidden, dbuf, bbuf, grad):
    """grad = dD/dθ from dD/dz, held in dbuf[:m·k] as an (m, k) matrix: per layer
    GW = a_inᵀ·δ, gb = Σ_s δ, and δ ← (δ·Wᵀ) ⊙ act'(a_in) for the layer below."""
    L = layout.shape[0]
    for l in range(L - 1, -1, -1):
        w0, fan_in, fan_out = layout[l, 0], layout[l, 3], layout[l, 4]
        b0 = w0 + fan_in * fan_out
        a_in = acts[offsets[l]:offsets[l] + m * fan_in].reshape((m, fan_in))
        delta = dbuf[:m * fan_out].reshape((m, fan_out))
        np.dot(a_in.T, delta, grad[w0:b0].reshape((fan_in, fan_out)))
        gb = grad[b0:b0 + fan_out]
        for j in range(fan_out):
            gb[j] = 0.0
        for s in range(m):
            ds = delta[s]
            for j in range(fan_out):
                gb[j] += ds[j]
        if l:
            back = bbuf[:m * fan_in].reshape((m, fan_in))
            np.dot(delta, theta[w0:b0].reshape((fan_in, fan_out)).T, back)
            for s in range(m):
                bs, x = back[s], a_in[s]
                if hidden == 0:
                    for i in range(fan_in):
                        bs[i] *= 1.0 - x[i] * x[i]
                elif hidden == 1:
                    for i in range(fan_in):
                        bs[i] *= x[i] * (1.0 - x[i])
                elif hidden == 2:
                    for i in range(fan_in):
                        bs[i] = bs[i] if x[i] > 0 else 0.0
            dbuf, bbuf = bbuf, dbuf


@njit(**JIT)
def _step(theta, g, w_old, lr, f, optimizer, slices, velocity, mom1, mom2, t):
    """The rules of :mod:`swarmreg.decay`, in their order; returns Adam's step count t."""
    # 1. gradient terms, rule by rule as the chain applies them
    S = slices.shape[0]
    if f[L2_COUPLED] != 0.0:
        l2 = f[L2_COUPLED]
        for q in range(S):
            for i in range(slices[q, 0], slices[q, 1]):
                g[i] += l2 * w_old[i]
    if f[WE_LAM] != 0.0 and f[WE_COUPLED] != 0.0:
        for q in range(S):
            for i in range(slices[q, 0], slices[q, 1]):
                g[i] += _we_grad(w_old[i], f[WE_LAM], f[WE_W0])
    if f[L1_SUB] != 0.0:
        l1 = f[L1_SUB]
        for q in range(S):
            for i in range(slices[q, 0], slices[q, 1]):
                w = w_old[i]
                g[i] += l1 * (1.0 if w > 0.0 else (-1.0 if w < 0.0 else 0.0 * w))
    # 2. the step
    n = theta.shape[0]
    if optimizer == 1:
        t += 1
        b1, b2, eps = f[BETA1], f[BETA2], f[EPS]
        c2 = math.sqrt(1.0 - b2 ** t)
        size = lr / (1.0 - b1 ** t)
        for i in range(n):
            mom1[i] = mom1[i] * b1 + (1.0 - b1) * g[i]
            mom2[i] = mom2[i] * b2 + (g[i] * g[i]) * (1.0 - b2)
            theta[i] -= mom1[i] / (math.sqrt(mom2[i]) / c2 + eps) * size
    elif f[MOMENTUM] != 0.0:
        mu = f[MOMENTUM]
        for i in range(n):
            velocity[i] = velocity[i] * mu + g[i]
            theta[i] -= velocity[i] * lr
    else:
        for i in range(n):
            theta[i] -= g[i] * lr
    # 3. parameter terms
    d = f[FRACTION]
    if d != 0.0 and f[BASE_LR] == f[BASE_LR] and lr != f[BASE_LR]:  # a base rate: the schedule's multiplier
        d = d * (lr / f[BASE_LR])
    if f[L2_DECOUPLED] != 0.0:
        shrink = lr * f[L2_DECOUPLED]
        for q in range(S):
            for i in range(slices[q, 0], slices[q, 1]):
                theta[i] -= shrink * w_old[i]
    if f[WE_LAM] != 0.0 and f[WE_COUPLED] == 0.0:
        for q in range(S):
            for i in range(slices[q, 0], slices[q, 1]):
                theta[i] -= lr * _we_grad(w_old[i], f[WE_LAM], f[WE_W0])
    if d != 0.0:
        for q in range(S):
            for i in range(slices[q, 0], slices[q, 1]):
                theta[i] -= d * w_old[i]
    if f[L1_PROX] != 0.0:
        thr = lr * f[L1_PROX]
        for q in range(S):
            for i in range(slices[q, 0], slices[q, 1]):
                w = theta[i]
                a = abs(w) - thr
                theta[i] = math.copysign(a if a > 0.0 else 0.0, w) if w == w else w
    return t


@njit(**JIT)
def _epoch(theta, w_old, X, target, order, batch, layout, hidden, output, loss, lr, f, optimizer, slices,
           velocity, mom1, mom2, t, acts, offsets, z, dbuf, bbuf, grad, weights, cast):
    n = order.shape[0]
    k = layout[layout.shape[0] - 1, 4]
    done = 0
    for lo in range(0, n, batch):
        m = min(batch, n - lo)
        if cast:  # the passes run in the objective's dtype, θ rounded to it as the numpy trainer does
            for i in range(theta.shape[0]):
                weights[i] = theta[i]
        _forward(weights, X, order, lo, m, layout, hidden, acts, offsets, z)
        d = _loss_and_delta(z, m, k, target, order, lo, output, loss, dbuf[:m * k].reshape((m, k)))
        if not math.isfinite(d):
            return False, done, t
        done += m
        _backward(weights, acts, offsets, m, layout, hidden, dbuf, bbuf, grad)
        for i in range(theta.shape[0]):
            w_old[i] = theta[i]
        t = _step(theta, grad, w_old, lr, f, optimizer, slices, velocity, mom1, mom2, t)
        for i in range(theta.shape[0]):
            if not math.isfinite(theta[i]):
                return False, done, t
    return True, done, t


class EpochRunner:
    """Runs epochs of one fit: its buffers, allocated once, and its chain's state.

    Parameters
    ----------
    objective : RegularizedError
    rules : tuple
        The fit's chain (:func:`swarmreg.decay.build_chain`); its optimizer state is the one
        this runner updates.
    batch : int
        Minibatch size (n for full batch).
    """

    def __init__(self, objective, rules, batch: int):
        model = objective.model
        self.settings = RuleSettings(rules, objective.n_params)
        # the forward and backward passes run in the objective's dtype, as the numpy trainer's do
        dt = objective.X.dtype
        self.X = np.ascontiguousarray(objective.X)
        if objective.loss == "cross_entropy":  # one-hot rows from the labels
            self.target = np.eye(model.n_outputs, dtype=dt)[objective.target]
        else:
            self.target = np.ascontiguousarray(objective.target, dtype=dt)
        self.layout = np.array([[l.w_start, l.w_stop, l.b_stop, l.fan_in, l.fan_out] for l in model.layers],
                               np.int64)
        self.codes = (HIDDEN_CODES[model.hidden], OUTPUT_CODES[model.output], LOSS_CODES[objective.loss])
        self.batch = batch
        width = max(model.sizes[1:])  # the widest δ: a hidden layer or the output
        sizes = model.sizes[:-1]  # the input and every hidden layer, each a (batch, size) block
        self.offsets = np.concatenate([[0], np.cumsum([batch * n for n in sizes])]).astype(np.int64)
        self.acts = np.empty(int(self.offsets[-1]), dt)
        self.z = np.empty((batch, model.n_outputs), dt)
        self.dbuf = np.empty(batch * width, dt)
        self.bbuf = np.empty(batch * width, dt)
        self.grad = np.empty(model.n_params, dt)
        self.cast = dt != np.float64
        self.weights = np.empty(model.n_params if self.cast else 0, dt)  # θ in that dtype, when it is not float64

    def __call__(self, theta, w_old, order, lr: float):
        """One epoch over ``order`` at rate ``lr``; (finite, samples stepped on).

        As the numpy loop: a minibatch whose loss is not finite ends the epoch before its
        step, and a step that makes θ non-finite ends it after; ``w_old`` is then θ before
        that step."""
        s = self.settings
        t = s.adam.t if s.adam is not None else 0
        ok, done, t = _epoch(theta, w_old, self.X, self.target, order, self.batch, self.layout, *self.codes,
                             float(lr), s.floats, s.optimizer, s.slices, s.velocity, s.m, s.v, t,
                             self.acts, self.offsets, self.z, self.dbuf, self.bbuf, self.grad,
                             self.weights if self.cast else theta, self.cast)
        if s.adam is not None:
            s.adam.t = t
        return ok, done
