"""MLP: flat layout, pack/unpack, weight mask, Glorot init, forward/predict.

Oracles: a network written from scratch (``hand`` fixture in conftest.py),
parameters laid out by hand, and the Glorot-uniform law.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from swarmreg import MLP
from swarmreg.model import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS

sizes_st = st.lists(st.integers(1, 6), min_size=2, max_size=4)
FAST = settings(max_examples=25, deadline=None)


def random_X(rng, n, d):
    return rng.uniform(-1.5, 1.5, (n, d))


# ------------------------------------------------------------------- layout
@FAST
@given(sizes=sizes_st, seed=st.integers(0, 2**32 - 1))
def test_layout_is_w_c_order_then_b_per_layer(hand, sizes, seed):
    rng = np.random.default_rng(seed)
    layers = hand.layers(sizes, rng)
    model = MLP(sizes)
    theta = hand.theta(layers)
    assert model.n_params == sum((i + 1) * o for i, o in zip(sizes[:-1], sizes[1:])) == theta.size
    np.testing.assert_array_equal(model.pack(layers), theta)
    got = model.unpack(theta)
    assert len(got) == len(layers)
    for (W, b), (W0, b0) in zip(got, layers):
        np.testing.assert_array_equal(W, W0)
        np.testing.assert_array_equal(b, b0)


def test_layout_by_position():
    # sizes (2, 3, 1): W1 = [[0,1,2],[3,4,5]] at 0..5, b1 at 6..8, W2 (3,1) at 9..11, b2 at 12.
    model = MLP((2, 3, 1))
    theta = np.arange(13.0)
    (W1, b1), (W2, b2) = model.unpack(theta)
    np.testing.assert_array_equal(W1, [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(b1, [6, 7, 8])
    np.testing.assert_array_equal(W2, [[9], [10], [11]])
    np.testing.assert_array_equal(b2, [12])


@FAST
@given(sizes=sizes_st, seed=st.integers(0, 2**32 - 1), P=st.integers(1, 4))
def test_pack_unpack_round_trip(sizes, seed, P):
    model = MLP(sizes)
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=model.n_params)
    np.testing.assert_array_equal(model.pack(model.unpack(theta)), theta)
    layers = [(rng.normal(size=W.shape), rng.normal(size=b.shape)) for W, b in model.unpack(theta)]
    for (W, b), (W0, b0) in zip(model.unpack(model.pack(layers)), layers):
        np.testing.assert_array_equal(W, W0)
        np.testing.assert_array_equal(b, b0)
    # A stack unpacks to a leading P axis, row by row the same as one vector.
    thetas = rng.normal(size=(P, model.n_params))
    stacked = model.unpack(thetas)
    for p in range(P):
        for (Ws, bs), (W, b) in zip(stacked, model.unpack(thetas[p])):
            assert Ws.shape == (P,) + W.shape and bs.shape == (P,) + b.shape
            np.testing.assert_array_equal(Ws[p], W)
            np.testing.assert_array_equal(bs[p], b)


def test_unpack_returns_views():
    model = MLP((3, 4, 2))
    theta = np.zeros(model.n_params)
    (W1, b1), (W2, b2) = model.unpack(theta)
    W1[1, 2] = 7.0   # index 1*4 + 2 = 6
    b1[3] = 8.0      # 12 + 3 = 15
    W2[3, 1] = 9.0   # 16 + 3*2 + 1 = 23
    b2[0] = 10.0     # 24
    expected = np.zeros(model.n_params)
    expected[[6, 15, 23, 24]] = [7, 8, 9, 10]
    np.testing.assert_array_equal(theta, expected)
    thetas = np.zeros((3, model.n_params))
    (W1s, _), _ = model.unpack(thetas)
    W1s[2, 0, 1] = 5.0
    assert thetas[2, 1] == 5.0 and np.count_nonzero(thetas) == 1


@FAST
@given(sizes=sizes_st)
def test_weight_mask(hand, sizes):
    model = MLP(sizes)
    mask = model.weight_mask
    assert mask.dtype == bool and mask.shape == (model.n_params,)
    assert mask.sum() == sum(i * o for i, o in zip(sizes[:-1], sizes[1:]))
    ones_on_weights = [(np.ones((i, o)), np.zeros(o)) for i, o in zip(sizes[:-1], sizes[1:])]
    np.testing.assert_array_equal(mask, hand.theta(ones_on_weights).astype(bool))


def test_layers_and_weight_slices_are_the_layout():
    # sizes (2, 3, 1): W1 at 0..5, b1 at 6..8, W2 at 9..11, b2 at 12
    model = MLP((2, 3, 1))
    assert [(l.w_start, l.w_stop, l.b_stop, l.fan_in, l.fan_out) for l in model.layers] == \
        [(0, 6, 9, 2, 3), (9, 12, 13, 3, 1)]
    assert model.weight_slices == (slice(0, 6), slice(9, 12))
    mask = np.zeros(model.n_params, bool)
    for s in model.weight_slices:
        mask[s] = True
    np.testing.assert_array_equal(mask, model.weight_mask)


def test_inputs_with_ones_is_X_transposed_over_a_row_of_ones():
    model = MLP((2, 3, 1))
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    XT1 = model.inputs_with_ones(X)
    np.testing.assert_array_equal(XT1, [[1, 3, 5], [2, 4, 6], [1, 1, 1]])
    assert XT1.dtype == np.float64 and model.inputs_with_ones(X, np.float32).dtype == np.float32


# --------------------------------------------------------------------- init
def test_init_glorot_zero_bias_and_reproducible():
    sizes = (5, 7, 3)
    model = MLP(sizes)
    theta = model.init(seed=3)
    np.testing.assert_array_equal(theta, model.init(seed=3))  # bit for bit
    np.testing.assert_array_equal(theta, model.init(np.random.default_rng(3)))
    assert not np.array_equal(theta, model.init(seed=4))
    for (W, b), (fan_in, fan_out) in zip(model.unpack(theta), zip(sizes[:-1], sizes[1:])):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        assert np.all(b == 0.0)
        assert np.all(np.abs(W) <= limit)
        assert np.all(W != 0.0)


def test_init_is_uniform_on_the_glorot_interval():
    model = MLP((300, 200))
    (W, b), = model.unpack(model.init(seed=0))
    limit = np.sqrt(6.0 / 500)
    w = W.ravel()  # 60 000 draws of U(-limit, limit)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.999 * limit
    assert abs(w.mean()) < 4 * limit / np.sqrt(3 * w.size)
    np.testing.assert_allclose(w.var(), limit**2 / 3, rtol=0.02)
    # a quarter of the mass in each quarter of the interval
    counts = np.histogram(w, bins=4, range=(-limit, limit))[0] / w.size
    np.testing.assert_allclose(counts, 0.25, atol=0.01)


# ------------------------------------------------------------------ forward
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("output", OUTPUT_ACTIVATIONS)
def test_forward_matches_hand_network(hand, hidden, output):
    rng = np.random.default_rng(11)
    sizes = (3, 5, 4, 2)
    layers = hand.layers(sizes, rng)
    X = random_X(rng, 9, 3)
    model = MLP(sizes, hidden=hidden, output=output)
    theta = hand.theta(layers)
    _, z = hand.forward(layers, X, hidden)
    np.testing.assert_allclose(model.logits(theta, X), z, rtol=1e-12, atol=1e-13)
    out = model.forward(theta, X)
    assert out.shape == (9, 2)
    np.testing.assert_allclose(out, hand.output(output, z), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("output", OUTPUT_ACTIVATIONS)
@pytest.mark.parametrize("sizes,P", [((3, 1), 4), ((2, 2), 1), ((4, 6, 3), 5), ((3, 4, 5, 2), 1), ((2, 3, 4, 3), 6)])
def test_forward_on_a_stack_equals_per_row(hidden, output, sizes, P):
    model = MLP(sizes, hidden=hidden, output="identity" if sizes[-1] == 1 and output == "softmax" else output)
    rng = np.random.default_rng(P)
    X = random_X(rng, 13, sizes[0])
    thetas = rng.normal(size=(P, model.n_params))
    out = model.forward(thetas, X)
    assert out.shape == (P, 13, sizes[-1])
    for p in range(P):
        np.testing.assert_allclose(out[p], model.forward(thetas[p], X), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.logits(thetas, X)[P - 1], model.logits(thetas[P - 1], X), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
def test_forward_pass_keeps_every_activation(hand, hidden):
    rng = np.random.default_rng(2)
    sizes = (3, 5, 4, 2)
    layers = hand.layers(sizes, rng)
    X = random_X(rng, 9, 3)
    model = MLP(sizes, hidden=hidden)
    acts = model.forward_pass(hand.theta(layers), X)
    pre, z = hand.forward(layers, X, hidden)
    assert len(acts) == len(sizes) and acts[0] is X
    for a, zh in zip(acts[1:-1], pre):
        np.testing.assert_allclose(a, hand.hidden(hidden, zh), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(acts[-1], z, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("hidden", ["tanh", "sigmoid", "identity", "relu"])
def test_backward_is_the_gradient_of_a_linear_function_of_the_logits(hand, hidden):
    """backward(theta, acts, C) is d/dθ Σ C ∘ z(θ): central differences of that sum."""
    rng = np.random.default_rng(3)
    sizes = (3, 4, 5, 2)
    layers = hand.layers(sizes, rng)
    X = random_X(rng, 6, 3)
    C = rng.normal(size=(6, 2))
    model = MLP(sizes, hidden=hidden)
    theta = hand.theta(layers)
    if hidden == "relu":  # away from the kinks, where the derivative is defined
        assert all(np.abs(zh).min() > 1e-3 for zh in hand.forward(layers, X, hidden)[0])
    keep = C.copy()
    grad = model.backward(theta, model.forward_pass(theta, X), C)
    np.testing.assert_array_equal(C, keep)
    h = 1e-6
    fd = np.empty_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        fd[i] = (np.sum(C * model.logits(theta + e, X)) - np.sum(C * model.logits(theta - e, X))) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


def test_stack_logits_T_is_the_logits_with_samples_last():
    rng = np.random.default_rng(4)
    model = MLP((3, 4, 2), hidden="tanh")
    X = random_X(rng, 7, 3)
    thetas = rng.normal(size=(5, model.n_params))
    out = np.empty((2, 5, 7))
    got = model.stack_logits_T(thetas, model.inputs_with_ones(X), out)
    assert got is out
    for p in range(5):
        np.testing.assert_allclose(out[:, p, :].T, model.logits(thetas[p], X), rtol=1e-12, atol=1e-14)


def test_output_activations_are_distributions():
    rng = np.random.default_rng(0)
    X = random_X(rng, 20, 3)
    soft = MLP((3, 4, 5), output="softmax")
    p = soft.forward(3 * rng.normal(size=soft.n_params), X)
    assert np.all(p > 0) and np.all(p < 1)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-14)
    sig = MLP((3, 4, 2), output="sigmoid")
    q = sig.forward(rng.normal(size=sig.n_params), X)
    assert np.all(q > 0) and np.all(q < 1)


# ------------------------------------------------------------------ predict
def test_predict_semantics(hand):
    rng = np.random.default_rng(5)
    X = random_X(rng, 30, 3)
    # softmax: integer argmax of the class probabilities, (n,) and (P, n)
    layers = hand.layers((3, 4, 3), rng)
    soft = MLP((3, 4, 3), output="softmax")
    labels = soft.predict(hand.theta(layers), X)
    probs = hand.output("softmax", hand.forward(layers, X, "tanh")[1])
    assert labels.shape == (30,) and labels.dtype.kind == "i"
    np.testing.assert_array_equal(labels, probs.argmax(axis=1))
    assert len(set(labels.tolist())) > 1
    thetas = np.stack([hand.theta(layers), -hand.theta(layers)])
    stacked = soft.predict(thetas, X)
    assert stacked.shape == (2, 30)
    np.testing.assert_array_equal(stacked[1], soft.predict(thetas[1], X))
    # sigmoid, one output: labels (n,) = [p > 0.5]
    layers = hand.layers((3, 4, 1), rng)
    sig = MLP((3, 4, 1), output="sigmoid")
    p = hand.output("sigmoid", hand.forward(layers, X, "tanh")[1])[:, 0]
    got = sig.predict(hand.theta(layers), X)
    assert got.shape == (30,) and got.dtype.kind == "i"
    np.testing.assert_array_equal(got, (p > 0.5).astype(int))
    # sigmoid, several outputs: one 0/1 label per output, (n, k)
    layers = hand.layers((3, 4, 2), rng)
    sig2 = MLP((3, 4, 2), output="sigmoid")
    p2 = hand.output("sigmoid", hand.forward(layers, X, "tanh")[1])
    np.testing.assert_array_equal(sig2.predict(hand.theta(layers), X), (p2 > 0.5).astype(int))
    # identity: the values themselves
    lin = MLP((3, 4, 2))
    theta = rng.normal(size=lin.n_params)
    np.testing.assert_array_equal(lin.predict(theta, X), lin.forward(theta, X))


# -------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("kwargs,match", [
    (dict(sizes=(3, 2), hidden="softplus"), r"hidden='softplus'.*valid: tanh, sigmoid, relu, identity"),
    (dict(sizes=(3, 2), output="tanh"), r"output='tanh'.*valid: identity, softmax, sigmoid"),
    (dict(sizes=(3,)), r"sizes"),
    (dict(sizes=(3, 0, 2)), r"sizes"),
    (dict(sizes="abc"), r"sizes"),
    (dict(sizes=(3, 1), output="softmax"), r"softmax"),
])
def test_mlp_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLP(**kwargs)


def test_forward_rejects_bad_X_and_theta():
    model = MLP((3, 4, 2))
    theta = np.zeros(model.n_params)
    with pytest.raises(ValueError, match=r"X must be 2-D"):
        model.forward(theta, np.zeros(3))
    with pytest.raises(ValueError, match=r"X has 2 columns"):
        model.forward(theta, np.zeros((5, 2)))
    X = np.zeros((5, 3))
    X[2, 1] = np.nan
    X[4, 0] = np.inf
    with pytest.raises(ValueError, match=r"X holds 2 NaN/inf.*\(2, 1\)"):
        model.forward(theta, X)
    with pytest.raises(ValueError, match=r"theta must have shape \(26,\)"):
        model.forward(theta[:-1], np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"theta"):
        model.unpack(np.zeros(model.n_params + 1))
    with pytest.raises(ValueError, match=r"layer 1"):
        model.pack([(np.zeros((3, 4)), np.zeros(4)), (np.zeros((4, 3)), np.zeros(3))])
    with pytest.raises(ValueError, match=r"layers must hold 2"):
        model.pack([(np.zeros((3, 4)), np.zeros(4))])


def test_a_network_too_large_to_hold_one_theta_is_refused_before_allocating():
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"MLP\(sizes=\(4, 1000000000000, 3\)\) with 8,000,000,000,003 "
                                             r"parameters needs about .* of memory; this machine has"):
            MLP((4, 10**12, 3))
        assert tracemalloc.get_traced_memory()[1] < 2**20
    finally:
        tracemalloc.stop()
