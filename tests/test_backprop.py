"""BackpropTrainer: every decay form against hand-computed steps and closed forms."""

import math
import warnings

import numpy as np
import pytest

from swarmreg import L1, L2, MLP, ElasticNet, RegularizedError
from swarmreg.backprop import DIVERGENCE_FLOOR, DIVERGENCE_RATIO, BackpropTrainer
from swarmreg.data import load_dataset
from swarmreg.result import HISTORY_COLUMNS, TrainResult


# ---------------------------------------------------------------- oracles
def linear_problem(n=40, d=3, k=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    Y = X @ rng.standard_normal((d, k)) + 0.5 + 0.3 * rng.standard_normal((n, k))
    return X, Y


def mse_grad(theta, X, Y):
    """∇D for the linear model (d, k), D = mean over n·k of (XW + b − Y)²."""
    n, d = X.shape
    k = Y.shape[1]
    W, b = theta[:d * k].reshape(d, k), theta[d * k:]
    R = X @ W + b - Y
    return np.concatenate([(2.0 / (n * k) * X.T @ R).ravel(), 2.0 / (n * k) * R.sum(axis=0)])


def ridge(X, y, lam):
    """argmin mean((Xw + b − y)²) + (λ/2)·‖w‖², b unpenalized: (w..., b)."""
    n, d = X.shape
    A = np.hstack([X, np.ones((n, 1))])
    P = np.diag(np.r_[np.ones(d), 0.0])
    return np.linalg.solve(2.0 / n * A.T @ A + lam * P, 2.0 / n * A.T @ y)


def soft(w, t):
    return np.sign(w) * np.maximum(np.abs(w) - t, 0.0)


def hidden_problem(n=60, seed=1, penalty=None, **kw):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    y = (X[:, 0] * X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    model = MLP((4, 6, 3), hidden="tanh", output="softmax")
    return RegularizedError(model, X, y, penalty=penalty, **kw)


class RecordingError(RegularizedError):
    """Remembers the rows of every gradient call."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.calls = []

    def data_value_and_grad(self, theta, rows=None):
        self.calls.append(None if rows is None else np.array(rows))
        return super().data_value_and_grad(theta, rows)


def one_epoch_full_batch(objective, theta0, epochs=1, **kw):
    return BackpropTrainer(epochs=epochs, batch_size=None, **kw).fit(objective, theta0=theta0)


# ------------------------------------------------------ hand-computed steps
X, Y = linear_problem()
MODEL = MLP((3, 1))
WMASK = MODEL.weight_mask
THETA0 = np.array([0.4, -0.7, 1.3, 0.2])


def test_plain_step_is_gradient_descent():
    obj = RegularizedError(MODEL, X, Y)
    res = one_epoch_full_batch(obj, THETA0, lr=0.05)
    np.testing.assert_allclose(res.theta, THETA0 - 0.05 * mse_grad(THETA0, X, Y), rtol=1e-13)


def test_coupled_l2_step_shrinks_weights_by_one_minus_eta_lambda():
    eta, lam = 0.05, 0.3
    obj = RegularizedError(MODEL, X, Y, penalty=L2(lam))
    res = one_epoch_full_batch(obj, THETA0, lr=eta)
    g = mse_grad(THETA0, X, Y)
    expected = np.where(WMASK, (1 - eta * lam) * THETA0, THETA0) - eta * g
    np.testing.assert_allclose(res.theta, expected, rtol=1e-13)


def test_coupled_l2_with_momentum_two_steps():
    eta, lam, mu = 0.05, 0.3, 0.9
    obj = RegularizedError(MODEL, X, Y, penalty=L2(lam))
    res = one_epoch_full_batch(obj, THETA0, epochs=2, lr=eta, momentum=mu)
    g = lambda t: mse_grad(t, X, Y) + lam * WMASK * t  # noqa: E731
    v1 = g(THETA0)
    t1 = THETA0 - eta * v1
    v2 = mu * v1 + g(t1)
    np.testing.assert_allclose(res.theta, t1 - eta * v2, rtol=1e-13)


def test_decoupled_l2_with_momentum_two_steps():
    eta, lam, mu = 0.05, 0.3, 0.9
    obj = RegularizedError(MODEL, X, Y, penalty=L2(lam))
    res = one_epoch_full_batch(obj, THETA0, epochs=2, lr=eta, momentum=mu, decay="decoupled")
    v1 = mse_grad(THETA0, X, Y)
    t1 = THETA0 - eta * v1 - eta * lam * WMASK * THETA0
    v2 = mu * v1 + mse_grad(t1, X, Y)
    t2 = t1 - eta * v2 - eta * lam * WMASK * t1
    np.testing.assert_allclose(res.theta, t2, rtol=1e-13)


def test_fixed_fraction_acts_on_top_of_the_penalty():
    eta, lam, d = 0.05, 0.3, 0.01
    obj = RegularizedError(MODEL, X, Y, penalty=L2(lam))
    res = one_epoch_full_batch(obj, THETA0, lr=eta, decay_fraction=d)
    g = mse_grad(THETA0, X, Y) + lam * WMASK * THETA0
    np.testing.assert_allclose(res.theta, THETA0 - eta * g - d * WMASK * THETA0, rtol=1e-13)


def test_fixed_fraction_alone_with_momentum_two_steps():
    eta, d, mu = 0.05, 0.02, 0.5
    obj = RegularizedError(MODEL, X, Y)
    res = one_epoch_full_batch(obj, THETA0, epochs=2, lr=eta, decay_fraction=d, momentum=mu)
    v1 = mse_grad(THETA0, X, Y)
    t1 = THETA0 - eta * v1 - d * WMASK * THETA0
    v2 = mu * v1 + mse_grad(t1, X, Y)
    np.testing.assert_allclose(res.theta, t1 - eta * v2 - d * WMASK * t1, rtol=1e-13)


def test_l1_subgradient_step_pushes_every_weight_by_the_same_amount():
    eta, lam = 0.05, 0.3
    obj = RegularizedError(MODEL, X, Y, penalty=L1(lam))
    res = one_epoch_full_batch(obj, THETA0, lr=eta)
    g = mse_grad(THETA0, X, Y) + lam * WMASK * np.sign(THETA0)
    np.testing.assert_allclose(res.theta, THETA0 - eta * g, rtol=1e-13)


def test_l1_proximal_step_soft_thresholds_weights_only():
    eta, lam = 0.05, 10.0
    obj = RegularizedError(MODEL, X, Y, penalty=L1(lam))
    res = one_epoch_full_batch(obj, THETA0, lr=eta, l1="proximal")
    plain = THETA0 - eta * mse_grad(THETA0, X, Y)
    expected = np.where(WMASK, soft(plain, eta * lam), plain)
    np.testing.assert_allclose(res.theta, expected, rtol=1e-13)
    assert np.count_nonzero(expected[WMASK] == 0) == 1  # the threshold zeroes one weight


def test_elastic_net_decoupled_and_proximal_compose_in_order():
    eta, l1, l2, mu, d = 0.05, 0.4, 0.3, 0.8, 0.01
    obj = RegularizedError(MODEL, X, Y, penalty=ElasticNet(l1=l1, l2=l2))
    res = one_epoch_full_batch(obj, THETA0, epochs=2, lr=eta, momentum=mu, decay="decoupled",
                               l1="proximal", decay_fraction=d)

    def step(t, v):
        v = mu * v + mse_grad(t, X, Y)
        u = t - eta * v - (eta * l2 + d) * WMASK * t
        return np.where(WMASK, soft(u, eta * l1), u), v

    t1, v1 = step(THETA0, np.zeros(4))
    t2, _ = step(t1, v1)
    np.testing.assert_allclose(res.theta, t2, rtol=1e-13)


def test_l1_subgradient_stays_in_the_momentum_under_decoupled_decay():
    eta, l1, l2, mu = 0.05, 0.4, 0.3, 0.8
    obj = RegularizedError(MODEL, X, Y, penalty=ElasticNet(l1=l1, l2=l2))
    res = one_epoch_full_batch(obj, THETA0, epochs=2, lr=eta, momentum=mu, decay="decoupled")

    def step(t, v):
        v = mu * v + mse_grad(t, X, Y) + l1 * WMASK * np.sign(t)
        return t - eta * v - eta * l2 * WMASK * t, v

    t1, v1 = step(THETA0, np.zeros(4))
    t2, _ = step(t1, v1)
    np.testing.assert_allclose(res.theta, t2, rtol=1e-13)


def test_online_learning_steps_sample_by_sample_in_order():
    eta, lam = 0.02, 0.5
    Xs, Ys = X[:7], Y[:7]
    obj = RegularizedError(MODEL, Xs, Ys, penalty=L2(lam))
    res = BackpropTrainer(lr=eta, epochs=2, batch_size=1, shuffle=False).fit(obj, theta0=THETA0)
    t = THETA0.copy()
    for _ in range(2):
        for i in range(7):
            t = np.where(WMASK, (1 - eta * lam) * t, t) - eta * mse_grad(t, Xs[i:i + 1], Ys[i:i + 1])
    np.testing.assert_allclose(res.theta, t, rtol=1e-12)


def test_regularize_bias_decays_biases_too():
    eta, lam = 0.05, 0.3
    obj = RegularizedError(MODEL, X, Y, penalty=L2(lam), regularize_bias=True)
    res = one_epoch_full_batch(obj, THETA0, lr=eta, decay="decoupled")
    np.testing.assert_allclose(res.theta, (1 - eta * lam) * THETA0 - eta * mse_grad(THETA0, X, Y), rtol=1e-13)


@pytest.mark.parametrize("settings", [
    dict(penalty=L2(5.0)),
    dict(penalty=L2(5.0), decay="decoupled"),
    dict(penalty=L1(5.0), l1="proximal"),
    dict(penalty=L1(5.0)),
    dict(penalty=None, decay_fraction=0.3),
])
def test_biases_untouched_by_every_decay(settings):
    penalty = settings.pop("penalty")
    plain = hidden_problem()
    penalized = hidden_problem(penalty=penalty)
    theta0 = plain.model.init(0)
    bias = ~plain.model.weight_mask
    kw = dict(lr=0.5, epochs=1, momentum=0.9)
    a = BackpropTrainer(**kw).fit(plain, theta0=theta0)
    b = BackpropTrainer(**kw, **settings).fit(penalized, theta0=theta0)
    assert np.array_equal(a.theta[bias], b.theta[bias])
    assert np.all(a.theta[~bias] != b.theta[~bias])


# ----------------------------------------------------- forms against forms
def test_coupled_equals_decoupled_without_momentum_and_differs_with_it():
    obj = hidden_problem(penalty=L2(0.05))
    kw = dict(lr=0.3, epochs=15, batch_size=7)
    same = [BackpropTrainer(**kw, decay=d).fit(obj, seed=3).theta for d in ("coupled", "decoupled")]
    np.testing.assert_allclose(same[0], same[1], rtol=0, atol=1e-12)
    diff = [BackpropTrainer(**kw, momentum=0.9, decay=d).fit(obj, seed=3).theta for d in ("coupled", "decoupled")]
    assert np.abs(diff[0] - diff[1]).max() > 1e-3


@pytest.mark.parametrize("mu", [0.0, 0.6])
def test_fixed_fraction_reaches_the_ridge_optimum_of_d_one_minus_mu_over_eta(mu):
    eta, d = 0.1, 0.004
    lam = d * (1 - mu) / eta
    y = Y[:, 0]
    obj = RegularizedError(MODEL, X, y)
    res = BackpropTrainer(lr=eta, epochs=600, momentum=mu, decay_fraction=d).fit(obj, theta0=THETA0)
    np.testing.assert_allclose(res.theta, ridge(X, y, lam), rtol=1e-9, atol=1e-11)
    # ... and the coupled L2 trainer with that λ lands on the same point
    l2 = BackpropTrainer(lr=eta, epochs=600, momentum=mu).fit(
        RegularizedError(MODEL, X, y, penalty=L2(lam)), theta0=THETA0)
    np.testing.assert_allclose(res.theta, l2.theta, rtol=1e-9, atol=1e-11)


def test_proximal_l1_gives_exact_zeros_and_the_lasso_optimum_subgradient_does_not():
    rng = np.random.default_rng(5)
    Xl = rng.standard_normal((80, 8))
    yl = 2.0 * Xl[:, 0] - 1.5 * Xl[:, 1] + 0.1 * rng.standard_normal(80)
    model = MLP((8, 1))
    lam = 0.3
    obj = RegularizedError(model, Xl, yl, penalty=L1(lam))
    theta0 = model.init(0)
    prox = BackpropTrainer(lr=0.05, epochs=400, l1="proximal").fit(obj, theta0=theta0)
    sub = BackpropTrainer(lr=0.05, epochs=400, l1="subgradient").fit(obj, theta0=theta0)
    w = prox.theta[:8]
    assert prox.history["zero_fraction"][-1] == np.mean(w == 0) >= 0.5
    assert np.all(w[:2] != 0)
    # lasso optimality: ∂D/∂w_j = −λ·sign(w_j) where w_j ≠ 0, |∂D/∂w_j| <= λ where w_j = 0
    g = mse_grad(prox.theta, Xl, yl[:, None])
    np.testing.assert_allclose(g[:8][w != 0], -lam * np.sign(w[w != 0]), atol=1e-9)
    assert np.all(np.abs(g[:8][w == 0]) <= lam + 1e-12)
    assert abs(g[8]) < 1e-9
    assert sub.history["zero_fraction"].max() == 0.0
    assert np.all(sub.theta[:8] != 0)


# ------------------------------------------------------ batches and epochs
@pytest.mark.parametrize("batch_size, sizes", [
    (None, [23]), (1, [1] * 23), (5, [5, 5, 5, 5, 3]), (23, [23]), (100, [23]),
])
def test_each_epoch_visits_every_sample_once(batch_size, sizes):
    base = hidden_problem(n=23)
    obj = RecordingError(base.model, base.X, base.target, penalty=L2(0.01))
    res = BackpropTrainer(lr=0.1, epochs=3, batch_size=batch_size).fit(obj, seed=0)
    calls = obj.calls
    assert len(calls) == 3 * len(sizes)
    for e in range(3):
        epoch = calls[e * len(sizes):(e + 1) * len(sizes)]
        if batch_size is None or batch_size >= 23:
            assert epoch == [None]
            continue
        assert [len(r) for r in epoch] == sizes
        assert np.array_equal(np.sort(np.concatenate(epoch)), np.arange(23))
    assert res.backward_samples == 3 * 23
    assert np.array_equal(res.history["backward_samples"], [0, 23, 46, 69])
    # training passes plus one full evaluation at the start and after each epoch
    assert res.forward_samples == 3 * 23 + 4 * 23
    assert np.array_equal(res.history["forward_samples"], [23, 69, 115, 161])


def test_shuffle_order_is_reshuffled_each_epoch_and_in_order_without_shuffle():
    base = hidden_problem(n=23)
    obj = RecordingError(base.model, base.X, base.target)
    BackpropTrainer(lr=0.1, epochs=2, batch_size=5, shuffle=False).fit(obj, seed=0)
    assert np.array_equal(np.concatenate(obj.calls), np.tile(np.arange(23), 2))
    obj.calls.clear()
    BackpropTrainer(lr=0.1, epochs=2, batch_size=5).fit(obj, seed=0)
    first, second = np.concatenate(obj.calls[:5]), np.concatenate(obj.calls[5:])
    assert not np.array_equal(first, np.arange(23))
    assert not np.array_equal(first, second)
    again = list(obj.calls)
    obj.calls.clear()
    BackpropTrainer(lr=0.1, epochs=2, batch_size=5).fit(obj, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(again, obj.calls))


# ----------------------------------------------------- result and history
def test_history_and_result_are_evaluated_on_all_training_data():
    obj = hidden_problem(penalty=L2(0.02))
    res = BackpropTrainer(lr=0.3, epochs=4, batch_size=8, momentum=0.5).fit(obj, seed=2)
    h = res.history
    assert set(HISTORY_COLUMNS) <= set(h)
    assert all(len(col) == 5 for col in h.values())
    assert np.array_equal(h["iteration"], np.arange(5))
    parts = obj.parts(res.theta)
    assert res.value == pytest.approx(parts["total"], rel=1e-14)
    assert res.data_loss == pytest.approx(parts["data"], rel=1e-14)
    assert res.penalty == pytest.approx(parts["penalty"], rel=1e-14)
    assert h["value"][-1] == res.value
    w = res.theta[obj.model.weight_mask]
    assert h["weight_sq_norm"][-1] == pytest.approx(w @ w)
    np.testing.assert_allclose(h["value"], h["data_loss"] + h["penalty"], rtol=1e-14)
    assert np.all(np.diff(h["seconds"]) >= 0)
    assert (res.trainer, res.status, res.iterations) == ("backprop", "max_iter", 4)
    assert res.config == dict(lr=0.3, epochs=4, batch_size=8, momentum=0.5, decay="coupled",
                              decay_fraction=0.0, l1="subgradient", shuffle=True, optimizer="sgd",
                              betas=[0.9, 0.999], eps=1e-8, lr_schedule="constant", lr_min=0.0,
                              lr_step_size=None, lr_gamma=0.1)
    assert TrainResult.from_dict(res.to_dict()).config == res.config


def test_same_seed_same_result_bit_for_bit():
    obj = hidden_problem(penalty=ElasticNet(l1=0.01, l2=0.02))
    tr = BackpropTrainer(lr=0.3, epochs=5, batch_size=8, momentum=0.9, l1="proximal")
    a, b, c = tr.fit(obj, seed=7), tr.fit(obj, seed=7), tr.fit(obj, seed=8)
    assert np.array_equal(a.theta, b.theta)
    for k in a.history:
        if k != "seconds":
            assert np.array_equal(a.history[k], b.history[k])
    assert not np.array_equal(a.theta, c.theta)


def test_theta0_is_used_and_not_modified():
    obj = hidden_problem()
    theta0 = obj.model.init(11)
    keep = theta0.copy()
    res = BackpropTrainer(lr=0.1, epochs=2).fit(obj, theta0=theta0, seed=0)
    assert np.array_equal(theta0, keep)
    assert res.history["value"][0] == pytest.approx(obj(theta0), rel=1e-14)


# -------------------------------------------------- divergence and callback
@pytest.mark.parametrize("batch_size, momentum", [(None, 0.0), (7, 0.9), (1, 0.0)])
def test_huge_learning_rate_diverges_and_keeps_a_finite_theta(batch_size, momentum):
    obj = RegularizedError(MODEL, X, Y, penalty=L2(0.1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = BackpropTrainer(lr=1e4, epochs=500, batch_size=batch_size, momentum=momentum).fit(obj, seed=0)
    assert res.status == "diverged"
    assert res.iterations < 500
    assert np.all(np.isfinite(res.theta))
    assert len(res.history["iteration"]) == res.iterations + 1
    assert res.history["value"][-1] == res.value
    # the kept theta is the last one known sound: the one before the step that overflowed,
    # much larger than the start, or (E still finite but past the divergence ratio) the
    # last epoch end within the ratio
    E0 = res.history["value"][0]
    assert np.abs(res.theta).max() > 1e20 or res.value <= DIVERGENCE_RATIO * max(E0, DIVERGENCE_FLOOR)


def test_diverged_full_batch_keeps_the_last_theta_with_finite_loss():
    obj = RegularizedError(MODEL, X, Y)
    res = BackpropTrainer(lr=1e4, epochs=500).fit(obj, theta0=THETA0)
    assert math.isfinite(res.value)
    t = THETA0.copy()
    for _ in range(res.iterations - 1):
        t = t - 1e4 * mse_grad(t, X, Y)
    np.testing.assert_allclose(res.theta, t, rtol=1e-9)


def shipped_problem(name, hidden=12):
    """A shipped data set under a one-hidden-layer tanh network, its default loss, no penalty."""
    ds = load_dataset(name, seed=0)
    classification = ds.task == "classification"
    model = MLP((ds.n_features, hidden, ds.n_classes if classification else 1),
                output="softmax" if classification else "identity")
    return RegularizedError(model, ds.X_train, ds.y_train)


# runs whose E explodes but stays finite: E after 20 epochs was 9e289 (sine), 4e5 (iris), 9e44 and 1e128
EXPLODING = {
    "sine, lr 1e6": ("sine", dict(lr=1e6)),
    "iris, lr 1e6": ("iris", dict(lr=1e6)),
    "sine, momentum 0.99": ("sine", dict(lr=1.0, momentum=0.99)),
    "sine, momentum 0.99, minibatches": ("sine", dict(lr=10.0, momentum=0.99, batch_size=8)),
}


@pytest.mark.parametrize("case", list(EXPLODING))
def test_a_finite_explosion_is_diverged(case):
    name, settings = EXPLODING[case]
    obj = shipped_problem(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = BackpropTrainer(epochs=20, **settings).fit(obj, seed=0)
    E0 = res.history["value"][0]
    assert res.status == "diverged"
    assert res.iterations < 20
    # theta is the last epoch-end theta whose E passed the check: that of a run stopped one epoch earlier
    assert np.all(np.isfinite(res.theta)) and res.value == pytest.approx(obj(res.theta), rel=1e-12)
    assert res.value <= DIVERGENCE_RATIO * max(E0, DIVERGENCE_FLOOR)
    if res.iterations > 1:
        before = BackpropTrainer(epochs=res.iterations - 1, **settings).fit(obj, seed=0)
        assert before.status == "max_iter"
        np.testing.assert_array_equal(res.theta, before.theta)
    else:
        np.testing.assert_array_equal(res.theta, obj.model.init(np.random.default_rng(0).spawn(2)[0]))
    # the history ends with a row for that theta, numbered by the epoch in which the run stopped
    assert len(res.history["iteration"]) == res.iterations + 1
    assert res.history["value"][-1] == res.value
    assert np.all(np.isfinite(res.history["value"]))


def test_divergence_is_measured_against_the_start_with_a_floor():
    """An exact fit starts at E0 = 0; a fixed decay fraction then raises E a little,
    which is no divergence: the threshold is the ratio times max(E0, floor)."""
    rng = np.random.default_rng(3)
    Xe = rng.standard_normal((30, 3))
    theta_star = np.array([1.0, -2.0, 0.5, 0.3])
    obj = RegularizedError(MODEL, Xe, Xe @ theta_star[:3] + theta_star[3])
    res = BackpropTrainer(lr=0.05, epochs=50, decay_fraction=0.01).fit(obj, theta0=theta_star)
    h = res.history["value"]
    assert h[0] <= 1e-30 and h[-1] > 1e6 * np.finfo(float).tiny  # an exact fit up to the order of sums
    assert res.status == "max_iter"


def test_a_large_but_bounded_rise_is_not_divergence():
    """iris with a large step: E rises a few hundredfold and comes back down; the run is
    bad, not divergent, and ends as an ordinary one."""
    obj = shipped_problem("iris")
    res = BackpropTrainer(lr=100.0, epochs=100, batch_size=8).fit(obj, seed=0)
    h = res.history["value"]
    assert 100 * h[0] < h.max() < DIVERGENCE_RATIO * h[0]
    assert res.status == "max_iter" and res.iterations == 100


def test_callback_sees_every_epoch_and_can_stop():
    obj = hidden_problem(penalty=L2(0.01))
    seen = []

    def callback(info):
        seen.append(info)
        if info["iteration"] == 3:
            raise StopIteration

    res = BackpropTrainer(lr=0.2, epochs=10, batch_size=10).fit(obj, seed=0, callback=callback)
    assert res.status == "stopped"
    assert res.iterations == 3
    assert [s["iteration"] for s in seen] == [1, 2, 3]
    assert set(HISTORY_COLUMNS) <= set(seen[0])
    assert np.array_equal(seen[-1]["theta"], res.theta)
    assert seen[-1]["value"] == res.value == pytest.approx(obj(res.theta), rel=1e-14)
    assert len(res.history["iteration"]) == 4


# ------------------------------------------------------------ bad settings
@pytest.mark.parametrize("kw, name", [
    (dict(lr=0.0), "lr"), (dict(lr=-1.0), "lr"), (dict(lr=float("nan")), "lr"), (dict(lr=float("inf")), "lr"),
    (dict(lr="0.1"), "lr"),
    (dict(epochs=0), "epochs"), (dict(epochs=2.5), "epochs"), (dict(epochs=True), "epochs"),
    (dict(batch_size=0), "batch_size"), (dict(batch_size=-3), "batch_size"), (dict(batch_size=4.0), "batch_size"),
    (dict(momentum=1.0), "momentum"), (dict(momentum=-0.1), "momentum"), (dict(momentum=float("nan")), "momentum"),
    (dict(decay="adamw"), "decay"), (dict(l1="ista"), "l1"),
    (dict(decay_fraction=-0.01), "decay_fraction"), (dict(decay_fraction=float("inf")), "decay_fraction"),
    (dict(shuffle="yes"), "shuffle"),
])
def test_bad_settings_raise_naming_the_setting(kw, name):
    with pytest.raises(ValueError, match=name):
        BackpropTrainer(**kw)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="coupled, decoupled"):
        BackpropTrainer(decay="adamw")
    with pytest.raises(ValueError, match="subgradient, proximal"):
        BackpropTrainer(l1="ista")


def test_bad_fit_arguments():
    obj = RegularizedError(MODEL, X, Y)
    tr = BackpropTrainer(epochs=1)
    with pytest.raises(ValueError, match="objective"):
        tr.fit(lambda t: 0.0)
    with pytest.raises(ValueError, match="theta0"):
        tr.fit(obj, theta0=np.zeros(3))
    with pytest.raises(ValueError, match="theta0"):
        tr.fit(obj, theta0=np.array([0.0, np.nan, 0.0, 0.0]))
    with pytest.raises(ValueError, match="callback"):
        tr.fit(obj, callback=3)
