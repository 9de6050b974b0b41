"""Penalties and RegularizedError E = D + R.

Oracles: central finite differences, a network and losses written from
scratch (``hand`` fixture in conftest.py), closed forms for the penalties and
their proximal operators, scipy's scalar minimizer, and a loop over rows.
"""

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from scipy.optimize import minimize_scalar

from swarmreg import MLP, L1, L2, ElasticNet, RegularizedError
from swarmreg.model import HIDDEN_ACTIVATIONS
from swarmreg.objective import make_penalty

PAIRS = [("identity", "mse"), ("softmax", "cross_entropy"), ("softmax", "mse"),
         ("sigmoid", "binary_cross_entropy"), ("sigmoid", "mse")]
PENALTIES = {"none": None, "l2": L2(0.3), "l1": L1(0.2), "elastic": ElasticNet(0.15, 0.4)}
DEFAULT_LOSS = {"identity": "mse", "softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}


def l1_l2(penalty):
    return (0.0, 0.0) if penalty is None else (penalty.l1, penalty.l2)


def make_y(rng, loss, output, n, k):
    if loss == "cross_entropy":
        return rng.integers(0, k, n)
    if output == "identity":
        y = rng.normal(size=(n, k))
    else:
        y = rng.uniform(0, 1, (n, k))
        y[: n // 2] = np.round(y[: n // 2])  # hard and soft targets
    return y[:, 0] if k == 1 and n % 2 else y  # (n,) for one output sometimes


@st.composite
def problems(draw, output):
    """(sizes, hidden, seed) for a random 2–4 layer network of widths 1–6."""
    sizes = draw(st.lists(st.integers(1, 6), min_size=2, max_size=4))
    if output == "softmax" and sizes[-1] < 2:
        sizes[-1] = draw(st.integers(2, 6))
    hidden = draw(st.sampled_from(HIDDEN_ACTIVATIONS))
    seed = draw(st.integers(0, 2**32 - 1))
    return tuple(sizes), hidden, seed


def build(hand, sizes, hidden, output, loss, seed, n=7, penalty=None, regularize_bias=False, **kw):
    rng = np.random.default_rng(seed)
    model = MLP(sizes, hidden=hidden, output=output)
    layers = hand.layers(sizes, rng)  # every |entry| >= 0.05: away from the L1 kink
    X = rng.uniform(-1.5, 1.5, (n, sizes[0]))
    y = make_y(rng, loss, output, n, sizes[-1])
    obj = RegularizedError(model, X, y, loss=loss, penalty=penalty, regularize_bias=regularize_bias, **kw)
    return obj, layers, X, y


def away_from_relu_kinks(hand, layers, X, hidden, margin=1e-3):
    if hidden != "relu":
        return True
    pre, _ = hand.forward(layers, X, hidden)
    return all(np.abs(z).min() > margin for z in pre)


def central_differences(f, theta, h=1e-6):
    g = np.empty_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        g[i] = (f(theta + e) - f(theta - e)) / (2 * h)
    return g


def hand_E(hand, layers, X, y, hidden, output, loss, penalty, regularize_bias):
    _, z = hand.forward(layers, X, hidden)
    d = hand.data_loss(loss, hand.output(output, z), z, np.asarray(y))
    return d + hand.penalty(layers, *l1_l2(penalty), regularize_bias)


# ------------------------------------------------------- gradient (backprop)
@pytest.mark.parametrize("regularize_bias", [False, True])
@pytest.mark.parametrize("pen", list(PENALTIES))
@pytest.mark.parametrize("output,loss", PAIRS)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_gradient_matches_finite_differences(hand, output, loss, pen, regularize_bias, data):
    sizes, hidden, seed = data.draw(problems(output))
    obj, layers, X, y = build(hand, sizes, hidden, output, loss, seed, penalty=PENALTIES[pen],
                              regularize_bias=regularize_bias)
    assume(away_from_relu_kinks(hand, layers, X, hidden))
    theta = hand.theta(layers)
    E, g = obj.value_and_grad(theta)
    assert g.shape == (obj.n_params,)
    np.testing.assert_array_equal(theta, hand.theta(layers))  # theta left alone
    np.testing.assert_allclose(E, obj(theta), rtol=1e-12)
    np.testing.assert_allclose(E, hand_E(hand, layers, X, y, hidden, output, loss, PENALTIES[pen], regularize_bias),
                               rtol=1e-10)
    fd = central_differences(obj, theta)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("regularize_bias", [False, True])
@pytest.mark.parametrize("pen", list(PENALTIES))
@pytest.mark.parametrize("output,loss", PAIRS)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_minibatch_gradient_is_the_gradient_on_those_rows(hand, output, loss, pen, regularize_bias, data):
    sizes, hidden, seed = data.draw(problems(output))
    n = 9
    rows = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=6)))  # repeats allowed
    penalty = PENALTIES[pen]
    obj, layers, X, y = build(hand, sizes, hidden, output, loss, seed, n=n, penalty=penalty,
                              regularize_bias=regularize_bias)
    assume(away_from_relu_kinks(hand, layers, X, hidden))
    sub = RegularizedError(obj.model, X[rows], np.asarray(y)[rows], loss=loss, penalty=penalty,
                           regularize_bias=regularize_bias)
    theta = hand.theta(layers)
    E, g = obj.value_and_grad(theta, rows=rows)
    E_sub, g_sub = sub.value_and_grad(theta)
    np.testing.assert_allclose(E, E_sub, rtol=1e-12)
    np.testing.assert_allclose(g, g_sub, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g, central_differences(sub, theta), rtol=1e-6, atol=1e-8)
    # D is the mean over the rows, R is the full penalty
    D, gD = obj.data_value_and_grad(theta, rows=list(rows))
    np.testing.assert_allclose(D, sub.data_loss(theta), rtol=1e-12)
    np.testing.assert_allclose(E - D, hand.penalty(layers, *l1_l2(penalty), regularize_bias), rtol=1e-12, atol=0)
    np.testing.assert_allclose(gD, sub.data_value_and_grad(theta)[1], rtol=1e-12, atol=1e-15)


# -------------------------------------------------------- values by formula
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("output,loss", PAIRS)
def test_loss_values_match_hand_formulas(hand, hidden, output, loss):
    sizes = (3, 5, 3)
    obj, layers, X, y = build(hand, sizes, hidden, output, loss, seed=2, n=11, penalty=PENALTIES["elastic"])
    theta = hand.theta(layers)
    _, z = hand.forward(layers, X, hidden)
    out = hand.output(output, z)
    n, k = out.shape
    if loss == "mse":
        D = ((out - y.reshape(n, k)) ** 2).sum() / (n * k)  # no ½
    elif loss == "cross_entropy":
        D = -sum(np.log(np.exp(z[i, y[i]]) / np.exp(z[i]).sum()) for i in range(n)) / n
    else:
        p = 1 / (1 + np.exp(-z))
        D = -(y * np.log(p) + (1 - y) * np.log(1 - p)).sum() / (n * k)
    W_all = np.concatenate([W.ravel() for W, _ in layers])
    R = 0.15 * np.abs(W_all).sum() + 0.2 * (W_all**2).sum()
    parts = obj.parts(theta)
    assert set(parts) == {"data", "penalty", "total"}
    np.testing.assert_allclose(parts["data"], D, rtol=1e-12)
    np.testing.assert_allclose(obj.data_loss(theta), D, rtol=1e-12)
    np.testing.assert_allclose(parts["penalty"], R, rtol=1e-12)
    np.testing.assert_allclose(obj.penalty_value(theta), R, rtol=1e-12)
    np.testing.assert_allclose(parts["total"], D + R, rtol=1e-12)
    np.testing.assert_allclose(obj(theta), D + R, rtol=1e-12)


@pytest.mark.parametrize("output", ["identity", "softmax", "sigmoid"])
def test_default_loss_follows_output(hand, output):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 2))
    default = DEFAULT_LOSS[output]
    y = make_y(rng, default, output, 8, 3)
    obj = RegularizedError(MLP((2, 3), output=output), X, y)
    assert obj.loss == default
    assert obj.n_samples == 8 and obj.n_params == 9
    explicit = RegularizedError(MLP((2, 3), output=output), X, y, loss=default)
    theta = rng.normal(size=9)
    assert obj(theta) == explicit(theta)
    layers = [(theta[:6].reshape(2, 3), theta[6:])]
    _, z = hand.forward(layers, X, "tanh")
    np.testing.assert_allclose(obj(theta), hand.data_loss(default, hand.output(output, z), z, y), rtol=1e-12)


def test_cross_entropy_accepts_integer_valued_float_labels():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6, 2))
    labels = np.array([0, 2, 1, 1, 0, 2])
    model = MLP((2, 3), output="softmax")
    theta = rng.normal(size=model.n_params)
    a = RegularizedError(model, X, labels)
    b = RegularizedError(model, X, labels.astype(float))
    assert a(theta) == b(theta)


def test_biases_are_not_penalized_unless_asked():
    rng = np.random.default_rng(4)
    model = MLP((3, 4, 2))
    X, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    lam = 0.7
    plain = RegularizedError(model, X, y, penalty=L2(lam))
    with_b = RegularizedError(model, X, y, penalty=L2(lam), regularize_bias=True)
    no_pen = RegularizedError(model, X, y)
    np.testing.assert_array_equal(plain.penalty_mask, model.weight_mask)
    assert with_b.penalty_mask.all() and with_b.penalty_mask.shape == (model.n_params,)
    theta = rng.normal(size=model.n_params)
    theta[~model.weight_mask] = 50.0  # huge biases
    w, b = theta[model.weight_mask], theta[~model.weight_mask]
    np.testing.assert_allclose(plain.parts(theta)["penalty"], lam / 2 * (w**2).sum(), rtol=1e-13)
    np.testing.assert_allclose(with_b.parts(theta)["penalty"], lam / 2 * ((w**2).sum() + (b**2).sum()), rtol=1e-13)
    np.testing.assert_allclose(plain.weight_sq_norm(theta), (w**2).sum(), rtol=1e-13)
    _, g0 = no_pen.value_and_grad(theta)
    _, g1 = plain.value_and_grad(theta)
    _, g2 = with_b.value_and_grad(theta)
    mask = model.weight_mask
    np.testing.assert_allclose(g1[~mask], g0[~mask], rtol=0, atol=0)  # bias gradient untouched
    np.testing.assert_allclose(g1[mask], g0[mask] + lam * w, rtol=1e-13)
    np.testing.assert_allclose(g2, g0 + lam * theta, rtol=1e-13)


# -------------------------------------------------------------------- batch
def loop(obj, thetas):
    return np.array([obj(t) for t in thetas])


@pytest.mark.parametrize("pen", list(PENALTIES))
@pytest.mark.parametrize("output,loss", PAIRS)
@pytest.mark.parametrize("P", [1, 6])
def test_batch_equals_loop(hand, each_backend, output, loss, pen, P):
    obj, _, _, _ = build(hand, (4, 5, 3, 2), "tanh", output, loss, seed=P, n=40, penalty=PENALTIES[pen],
                         regularize_bias=pen == "elastic")
    thetas = np.random.default_rng(9).normal(size=(P, obj.n_params))
    before = thetas.copy()
    E = obj.batch(thetas)
    assert E.shape == (P,)
    np.testing.assert_array_equal(thetas, before)
    np.testing.assert_array_equal(obj.batch(thetas), E)  # bit for bit on a repeat
    np.testing.assert_allclose(E, loop(obj, thetas), rtol=1e-12, atol=0)
    np.testing.assert_allclose(obj.batch_data_loss(thetas), [obj.data_loss(t) for t in thetas], rtol=1e-12)


@pytest.mark.parametrize("output,loss", PAIRS)
@pytest.mark.parametrize("P", [1, 7])
def test_batch_chunks_particles_and_samples_and_still_equals_loop(hand, monkeypatch, numpy_backend, output, loss, P):
    n = 2500
    obj, _, _, _ = build(hand, (3, 5, 2), "sigmoid", output, loss, seed=3, n=n, penalty=L1(0.05),
                         max_memory=65536)
    thetas = np.random.default_rng(1).normal(size=(P, obj.n_params))
    expected = loop(obj, thetas)
    calls = []
    real = obj.model.stack_logits_T

    def spy(thetas, XT1, out):
        calls.append((thetas.shape[0], XT1.shape[1]))
        return real(thetas, XT1, out)

    monkeypatch.setattr(obj.model, "stack_logits_T", spy)
    E = obj.batch(thetas)
    np.testing.assert_allclose(E, expected, rtol=1e-12, atol=0)
    # the work was split into sample chunks (and particle chunks when P > 1), every pair covered once
    assert len(calls) >= 3
    assert sum(p * m for p, m in calls) == P * n
    assert all(m < n for _, m in calls)
    if P > 1:
        assert all(p < P for p, _ in calls)


def test_batch_temporary_memory_is_bounded():
    import tracemalloc
    rng = np.random.default_rng(0)
    n, P, budget = 6000, 40, 2**18
    model = MLP((3, 8, 2), output="softmax")
    obj = RegularizedError(model, rng.normal(size=(n, 3)), rng.integers(0, 2, n), max_memory=budget)
    thetas = rng.normal(size=(P, model.n_params))
    tracemalloc.start()
    try:
        E = obj.batch(thetas)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    unchunked = P * n * 8 * 8  # the (P, n, 8) hidden layer alone, float64
    assert unchunked > 30 * budget
    assert peak < 8 * budget, f"peak {peak} bytes for max_memory={budget}"
    np.testing.assert_allclose(E, loop(obj, thetas), rtol=1e-12, atol=0)


def test_batch_on_a_very_wide_layer_keeps_to_the_budget(numpy_backend):
    """A chunk of the numpy code holds at least one (particle, sample) pair, never the 1024 samples that
    would take 1024 · 320 kB here; the bound is the one max_memory documents."""
    import tracemalloc
    rng = np.random.default_rng(0)
    d, h, k, n, P, budget = 3, 20000, 2, 48, 2, 2**17
    model = MLP((d, h, k), output="softmax")
    obj = RegularizedError(model, rng.normal(size=(n, d)), rng.integers(0, k, n), max_memory=budget)
    thetas = rng.normal(scale=0.01, size=(P, model.n_params))
    pair = 2 * (h + k + 2 * k) * 8           # one (particle, sample) pair, float64
    first_layer = (d + 1) * h * 8            # the chunk's copy of one particle's first layer
    bound = max(budget, pair) + first_layer  # one pair: the budget holds less than that
    assert 1024 * pair > 300 * bound
    tracemalloc.start()
    try:
        E = obj.batch(thetas)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= bound, f"peak {peak} bytes, documented bound {bound}"
    assert obj.batch_memory(P) >= peak
    np.testing.assert_allclose(E, [obj.data_loss(t) for t in thetas], rtol=1e-12)


@pytest.mark.parametrize("sizes, n, P, budget, dtype, penalty", [
    ((3, 8, 2), 6000, 40, 2**18, np.float64, None),
    ((5, 30, 10, 3), 900, 12, 2**16, np.float64, L1(0.1)),
    ((4, 500, 3), 400, 7, 2**20, np.float32, L2(0.1)),
    ((2, 4, 3), 50, 3, 2**24, np.float64, ElasticNet(0.1, 0.1)),
])
def test_batch_memory_is_an_upper_estimate_of_the_measured_peak(numpy_backend, sizes, n, P, budget, dtype, penalty):
    import tracemalloc
    rng = np.random.default_rng(1)
    model = MLP(sizes, output="softmax")
    obj = RegularizedError(model, rng.normal(size=(n, sizes[0])), rng.integers(0, sizes[-1], n),
                           penalty=penalty, dtype=dtype, max_memory=budget)
    thetas = rng.normal(size=(P, model.n_params))
    obj.batch(thetas)  # warm up: first calls may cache things outside the estimate
    tracemalloc.start()
    try:
        obj.batch(thetas)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = obj.batch_memory(P)
    assert peak <= estimate <= 3 * peak + 2**16, (peak, estimate)


@pytest.mark.parametrize("output,loss", PAIRS)
def test_float32_batch_agrees_with_float64(hand, output, loss):
    obj64, _, X, y = build(hand, (4, 6, 3), "tanh", output, loss, seed=8, n=300, penalty=L2(0.1))
    obj32 = RegularizedError(obj64.model, X, y, loss=loss, penalty=L2(0.1), dtype=np.float32)
    thetas = np.random.default_rng(2).normal(size=(5, obj64.n_params))
    np.testing.assert_allclose(obj32.batch(thetas), obj64.batch(thetas), rtol=1e-5)
    np.testing.assert_allclose(obj32(thetas[0]), obj64(thetas[0]), rtol=1e-5)
    g32, g64 = obj32.value_and_grad(thetas[0])[1], obj64.value_and_grad(thetas[0])[1]
    np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-5 * np.abs(g64).max())


# ------------------------------------------------------ huge logits, stable
@pytest.mark.parametrize("scale", [1e4, 1e50, 1e150, 1e300])
@pytest.mark.parametrize("sizes", [(3, 4), (3, 5, 4)])
@pytest.mark.parametrize("output,loss", PAIRS[1:])
def test_huge_logits_give_finite_values_and_gradients(hand, output, loss, sizes, scale):
    rng = np.random.default_rng(6)
    n = 20
    X = rng.uniform(-1, 1, (n, sizes[0]))
    y = make_y(rng, loss, output, n, sizes[-1])
    if loss == "binary_cross_entropy":
        y = np.round(y)
    model = MLP(sizes, output=output)
    obj = RegularizedError(model, X, y, loss=loss)
    layers = [(scale * W, scale * b) for W, b in hand.layers(sizes, rng)]
    theta = hand.theta(layers)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        E = obj(theta)
        Eb = obj.batch(np.stack([theta, theta / scale]))
        E2, g = obj.value_and_grad(theta)
        out = model.forward(theta, X)
    assert np.isfinite(E) and np.isfinite(Eb).all() and np.isfinite(g).all() and np.isfinite(out).all()
    np.testing.assert_allclose([Eb[0], E2], E, rtol=1e-12)
    _, z = hand.forward(layers, X, "tanh")
    Y = y.reshape(n, -1)
    if loss == "cross_entropy":
        # p(true) underflows; −log p = max_j z_j − z_y exactly up to log(1 + tiny)
        np.testing.assert_allclose(E, np.mean(z.max(axis=1) - z[np.arange(n), y]), rtol=1e-9)
        assert E > 0.1 * scale
    elif loss == "binary_cross_entropy":
        np.testing.assert_allclose(E, np.mean(np.maximum(z, 0) - Y * z), rtol=1e-9)
    else:  # mse on saturated outputs: one-hot argmax / step(z)
        sat = np.eye(z.shape[1])[z.argmax(axis=1)] if output == "softmax" else (z > 0).astype(float)
        np.testing.assert_allclose(E, np.mean((sat - Y) ** 2), rtol=1e-9, atol=1e-12)
    if len(sizes) == 2 and loss != "mse":
        # linear model: dD/dW = Xᵀ(p − Y)/(n·norm) with p saturated to 0/1
        if loss == "cross_entropy":
            P_, T, norm = np.eye(sizes[1])[z.argmax(axis=1)], np.eye(sizes[1])[y], n
        else:
            P_, T, norm = (z > 0).astype(float), Y, n * sizes[1]
        gW, gb = model.unpack(g)[0]
        np.testing.assert_allclose(gW, X.T @ (P_ - T) / norm, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(gb, (P_ - T).sum(axis=0) / norm, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------- penalties
def test_penalties_live_in_their_own_module_and_are_re_exported():
    from swarmreg import objective, penalties
    for name in ("L1", "L2", "ElasticNet", "make_penalty", "soft_threshold"):
        assert getattr(objective, name) is getattr(penalties, name)


def test_soft_threshold_by_hand_and_in_place():
    from swarmreg.penalties import soft_threshold
    w = np.array([-2.0, -0.5, 0.0, 0.3, 1.25])
    expected = np.array([-1.0, 0.0, 0.0, 0.0, 0.25])
    np.testing.assert_array_equal(soft_threshold(w, 1.0), expected)
    np.testing.assert_array_equal(w, [-2.0, -0.5, 0.0, 0.3, 1.25])  # no out: w untouched
    theta = np.array([9.0, -2.0, -0.5, 0.0, 0.3, 1.25, 9.0])
    view = theta[1:6]
    assert soft_threshold(view, 1.0, out=view) is view
    np.testing.assert_array_equal(theta, np.r_[9.0, expected, 9.0])


def test_penalty_values_and_gradients_by_hand():
    w = np.array([1.5, -2.0, 0.0, 0.25, -0.0])
    lam = 0.4
    assert L2(lam).value(w) == pytest.approx(lam / 2 * (1.5**2 + 2.0**2 + 0.25**2), rel=1e-15)
    assert L1(lam).value(w) == pytest.approx(lam * (1.5 + 2.0 + 0.25), rel=1e-15)
    en = ElasticNet(0.3, 0.8)
    assert en.value(w) == pytest.approx(0.3 * 3.75 + 0.4 * 6.3125, rel=1e-15)
    np.testing.assert_allclose(L2(lam).grad(w), lam * w, rtol=1e-15)
    np.testing.assert_array_equal(L1(lam).grad(w), [lam, -lam, 0.0, lam, 0.0])  # sign(0) = 0
    np.testing.assert_allclose(en.grad(w), [0.3 + 1.2, -0.3 - 1.6, 0.0, 0.3 + 0.2, 0.0], rtol=1e-15)
    stack = np.stack([w, 2 * w, np.zeros(5)])
    v = en.value(stack)
    assert v.shape == (3,)
    np.testing.assert_allclose(v, [en.value(r) for r in stack], rtol=1e-15)
    assert (L1(lam).kind, L2(lam).kind, en.kind) == ("l1", "l2", "elastic")
    assert (L1(lam).l1, L1(lam).l2, L1(lam).lam) == (lam, 0.0, lam)
    assert (L2(lam).l1, L2(lam).l2, L2(lam).lam) == (0.0, lam, lam)
    assert (en.l1, en.l2) == (0.3, 0.8)


def test_prox_closed_forms():
    w = np.array([3.0, -3.0, 0.5, -0.5, 1.0, 0.0, -1.2])
    t = 0.5
    before = w.copy()
    np.testing.assert_allclose(L2(2.0).prox(w, t), w / (1 + t * 2.0), rtol=1e-15)
    # L1: soft-thresholding by t·lam = 1.0; |w| <= 1 lands exactly on 0
    got = L1(2.0).prox(w, t)
    np.testing.assert_allclose(got, [2.0, -2.0, 0.0, 0.0, 0.0, 0.0, -0.2], rtol=1e-14, atol=0)
    assert np.all(got[2:6] == 0.0)
    # elastic: soft-threshold by t·l1 = 0.4, then divide by 1 + t·l2 = 1.5
    got = ElasticNet(0.8, 1.0).prox(w, t)
    np.testing.assert_allclose(got, np.array([2.6, -2.6, 0.1, -0.1, 0.6, 0.0, -0.8]) / 1.5, rtol=1e-14)
    assert got[5] == 0.0
    np.testing.assert_array_equal(w, before)  # input left alone
    assert L1(0.0).prox(w, t) is not w and np.array_equal(L1(0.0).prox(w, t), w)


@settings(max_examples=40, deadline=None)
@given(w=st.floats(-5, 5), step=st.floats(0.01, 3), l1=st.floats(0, 2), l2=st.floats(0, 2))
def test_prox_is_the_argmin(w, step, l1, l2):
    pen = ElasticNet(l1, l2)

    def phi(u):
        return 0.5 * (u - w) ** 2 + step * (l1 * abs(u) + 0.5 * l2 * u * u)

    u = float(pen.prox(np.array([w]), step)[0])
    best = minimize_scalar(phi, bounds=(-abs(w) - 1, abs(w) + 1), method="bounded",
                           options={"xatol": 1e-10}).x
    assert u == pytest.approx(best, abs=1e-6)
    assert phi(u) <= phi(best) + 1e-12
    assert phi(u) <= min(phi(u + 1e-4), phi(u - 1e-4))


def test_make_penalty():
    assert make_penalty(None) is None and make_penalty("none", 1.0) is None
    assert make_penalty("l2", 0.3) == L2(0.3) and make_penalty("l2", 0.3).kind == "l2"
    assert make_penalty("l1", 0.3) == L1(0.3) and make_penalty("l1", 0.3).kind == "l1"
    en = make_penalty("elastic", 0.4, l1_ratio=0.25)
    assert en.kind == "elastic" and en.l1 == pytest.approx(0.1) and en.l2 == pytest.approx(0.3)
    assert make_penalty("elastic", 1.0).l1 == 0.5
    with pytest.raises(ValueError, match=r"penalty='l3'.*valid: l2, l1, elastic"):
        make_penalty("l3", 1.0)
    with pytest.raises(ValueError, match=r"l1_ratio"):
        make_penalty("elastic", 1.0, l1_ratio=1.5)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("make", [L2, L1, lambda lam: make_penalty("l2", lam), lambda lam: make_penalty("l1", lam),
                                  lambda lam: make_penalty("elastic", lam)],
                         ids=["L2", "L1", "make_l2", "make_l1", "make_elastic"])
@pytest.mark.parametrize("lam", [-0.1, np.nan, np.inf])
def test_bad_lam_is_rejected_naming_lam(make, lam):
    # L1(lam) / L2(lam) take one argument, lam: the message must name it (not "l1"/"l2").
    with pytest.raises(ValueError, match=r"\blam\b"):
        make(lam)


@pytest.mark.parametrize("l1,l2,name", [(-1.0, 0.0, "l1"), (0.0, -1.0, "l2"), (np.nan, 0.0, "l1"),
                                        (0.0, np.inf, "l2")])
def test_bad_elastic_strength_is_rejected(l1, l2, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        ElasticNet(l1, l2)


def small(output="identity", k=2):
    return MLP((3, 4, k), output=output)


def test_bad_X_and_y():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    m = small()
    with pytest.raises(ValueError, match=r"X must be 2-D"):
        RegularizedError(m, X[:, 0], y)
    with pytest.raises(ValueError, match=r"X must be 2-D"):
        RegularizedError(m, X[None], y)
    Xb = X.copy()
    Xb[3, 2], Xb[4, 0], Xb[5, 1] = np.nan, np.inf, -np.inf
    with pytest.raises(ValueError, match=r"X holds 3 NaN/inf.*\(3, 2\)"):
        RegularizedError(m, Xb, y)
    yb = y.copy()
    yb[2, 1], yb[4, 0] = np.inf, np.nan
    with pytest.raises(ValueError, match=r"y holds 2 NaN/inf.*\(2, 1\)"):
        RegularizedError(m, X, yb)
    y1 = rng.normal(size=6)
    y1[5] = np.nan
    with pytest.raises(ValueError, match=r"y holds 1 NaN/inf.*5"):
        RegularizedError(MLP((3, 1)), X, y1)
    with pytest.raises(ValueError, match=r"X has 6 rows but y has 5"):
        RegularizedError(m, X, y[:5])
    with pytest.raises(ValueError, match=r"y has width 3 but the model has 2 outputs"):
        RegularizedError(m, X, rng.normal(size=(6, 3)))
    with pytest.raises(ValueError, match=r"y has width 1 but the model has 2 outputs"):
        RegularizedError(m, X, rng.normal(size=6))
    with pytest.raises(ValueError, match=r"binary_cross_entropy.*\[0, 1\]"):
        RegularizedError(small("sigmoid"), X, np.full((6, 2), 1.5))


def test_bad_cross_entropy_labels():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 3))
    m = small("softmax", k=3)
    with pytest.raises(ValueError, match=r"y labels must lie in 0\.\.2.*2 do not.*y\[1\] = (np\.int64\()?-1"):
        RegularizedError(m, X, np.array([0, -1, 2, 3, 1, 0]))
    with pytest.raises(ValueError, match=r"y.*integer labels.*y\[2\] = (np\.float64\()?0\.5"):
        RegularizedError(m, X, np.array([0.0, 1.0, 0.5, 2.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match=r"y for cross_entropy must be 1-D"):
        RegularizedError(m, X, np.eye(3)[[0, 1, 2, 0, 1, 2]])


def test_bad_names():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    with pytest.raises(ValueError, match=r"loss='hinge'.*valid: mse, cross_entropy, binary_cross_entropy"):
        RegularizedError(small(), X, y, loss="hinge")
    with pytest.raises(ValueError, match=r"hidden='elu'.*valid: tanh, sigmoid, relu, identity"):
        MLP((3, 2), hidden="elu")
    with pytest.raises(ValueError, match=r"output='relu'.*valid: identity, softmax, sigmoid"):
        MLP((3, 2), output="relu")
    with pytest.raises(ValueError, match=r"cross_entropy.*output='softmax'"):
        RegularizedError(small(), X, y, loss="cross_entropy")
    with pytest.raises(ValueError, match=r"binary_cross_entropy.*output='sigmoid'"):
        RegularizedError(small(), X, y, loss="binary_cross_entropy")
    with pytest.raises(ValueError, match=r"penalty"):
        RegularizedError(small(), X, y, penalty="l2")
    with pytest.raises(ValueError, match=r"dtype"):
        RegularizedError(small(), X, y, dtype=np.int32)
    with pytest.raises(ValueError, match=r"max_memory"):
        RegularizedError(small(), X, y, max_memory=100)


def test_theta_of_wrong_length():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    obj = RegularizedError(small(), X, y, penalty=L2(0.1))
    n = obj.n_params
    for bad in (np.zeros(n - 1), np.zeros(n + 1)):
        with pytest.raises(ValueError, match=rf"theta must have shape \({n},\)"):
            obj(bad)
        with pytest.raises(ValueError, match=rf"theta must have shape \({n},\)"):
            obj.value_and_grad(bad)
        with pytest.raises(ValueError, match=r"theta must have shape"):
            obj.parts(bad)
    with pytest.raises(ValueError, match=rf"thetas must have shape.*\(P, {n}\)"):
        obj.batch(np.zeros((4, n - 1)))
    with pytest.raises(ValueError, match=rf"thetas must have shape \(P, {n}\)"):
        obj.batch(np.zeros(n))
    with pytest.raises(ValueError, match=r"use batch\(\)"):
        obj(np.zeros((2, n)))
    with pytest.raises(ValueError, match=r"rows"):
        obj.value_and_grad(np.zeros(n), rows=np.array([], dtype=int))


def test_empty_and_misshapen_inputs_name_the_argument():
    model = MLP((2, 3, 1))
    obj = RegularizedError(model, np.ones((4, 2)), np.ones(4), penalty=L2(0.1))
    theta = model.init(0)
    with pytest.raises(ValueError, match="rows"):
        obj.value_and_grad(theta, rows=[])
    with pytest.raises(ValueError, match="thetas"):
        obj.batch(np.zeros((0, model.n_params)))
    with pytest.raises(ValueError, match="theta must have shape"):
        obj.penalty_value(np.zeros(3))
