"""LBFGSTrainer: the reference optimum against closed forms (orthogonal-design
lasso and elastic net) and optimality conditions (KKT) on a network."""

import math

import numpy as np
import pytest

from swarmreg import MLP, RegularizedError, L1, L2, ElasticNet
from swarmreg.reference import LBFGSTrainer


def orthogonal_design(n=40, d=5, seed=0):
    """Centered columns with XᵀX = n·I, and a target with a few small effects."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, d))
    Q, _ = np.linalg.qr(A - A.mean(axis=0))
    X = math.sqrt(n) * Q
    y = X @ np.array([1.2, -0.8, 0.05, -0.03, 0.4]) + 0.7 + 0.05 * rng.normal(size=n)
    return X, y


def elastic_net_oracle(X, y, l1, l2):
    """Minimizer of (1/n)‖Xw + b − y‖² + l1‖w‖₁ + (l2/2)‖w‖² for centered X with XᵀX = n·I.

    With b = ȳ the problem separates: per coordinate (1 + l2/2)·w² − 2·c·w + l1·|w|,
    c = X_jᵀ(y − ȳ)/n, minimized by soft-thresholding: sign(c)·max(|c| − l1/2, 0)/(1 + l2/2).
    """
    n = len(y)
    c = X.T @ (y - y.mean()) / n
    w = np.sign(c) * np.maximum(np.abs(c) - l1 / 2, 0.0) / (1 + l2 / 2)
    return np.r_[w, y.mean()]


@pytest.mark.parametrize("penalty", [L1(0.2), ElasticNet(l1=0.2, l2=0.5)], ids=["l1", "elastic"])
def test_orthogonal_design_matches_soft_thresholding_with_exact_zeros(penalty):
    X, y = orthogonal_design()
    oracle = elastic_net_oracle(X, y, penalty.l1, penalty.l2)
    zeros = oracle[:5] == 0
    assert 1 <= zeros.sum() <= 3  # the case has both zero and non-zero weights
    objective = RegularizedError(MLP((5, 1)), X, y, penalty=penalty)
    r = LBFGSTrainer().fit(objective, seed=1)
    assert r.status == "converged"
    # E within tol = 1e-10 relative puts θ within about sqrt(1e-10) of the optimum
    np.testing.assert_allclose(r.theta, oracle, rtol=0, atol=1e-5)
    assert np.all(r.theta[:5][zeros] == 0.0)  # exact zeros, not merely small
    assert np.all(r.theta[:5][~zeros] != 0.0)
    assert r.history["zero_fraction"][-1] == zeros.mean()
    assert r.value == pytest.approx(objective(oracle), rel=1e-10)


def test_kkt_conditions_hold_for_l1_on_a_network():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 3))
    y = np.tanh(X @ np.array([1.5, 0.0, -1.0])) + 0.05 * rng.normal(size=60)
    lam = 0.01
    objective = RegularizedError(MLP((3, 4, 1)), X, y, penalty=L1(lam))
    r = LBFGSTrainer(max_iter=3000).fit(objective, seed=3)
    assert r.status == "converged"
    _, g = objective.data_value_and_grad(r.theta)
    w, gw = r.theta[objective.penalty_mask], g[objective.penalty_mask]
    nonzero = w != 0
    assert 0 < (~nonzero).sum() < w.size  # the optimum has exact zeros and non-zeros
    # stationarity: ∇D + λ·sign(w) = 0 off zero; |∇D| <= λ at zero; ∇D = 0 on the biases
    np.testing.assert_allclose(gw[nonzero] + lam * np.sign(w[nonzero]), 0, atol=1e-5)
    assert np.all(np.abs(gw[~nonzero]) <= lam + 1e-5)
    np.testing.assert_allclose(g[~objective.penalty_mask], 0, atol=1e-5)


def test_smooth_penalty_ends_at_a_stationary_point():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(90, 4))
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int) + (X[:, 2] > 0.5)
    objective = RegularizedError(MLP((4, 6, 3), output="softmax"), X, y, penalty=L2(0.01))
    r = LBFGSTrainer().fit(objective, seed=0)
    assert r.status == "converged"
    value, g = objective.value_and_grad(r.theta)
    # stopped by the relative decrease 1e-10: the gradient is small, E is flat to ~|g|²/λ
    assert np.max(np.abs(g)) < 1e-5
    assert r.value == pytest.approx(value, rel=1e-12)
    assert np.all(np.diff(r.history["value"]) <= 1e-15 * r.history["value"][:-1])


def test_work_is_one_forward_and_backward_pass_per_evaluation():
    X, y = orthogonal_design()
    for penalty in (L2(0.1), L1(0.1)):
        objective = RegularizedError(MLP((5, 1)), X, y, penalty=penalty)
        calls = []
        inner = objective.data_value_and_grad
        objective.data_value_and_grad = lambda theta, rows=None: calls.append(1) or inner(theta, rows)
        r = LBFGSTrainer().fit(objective, seed=0)
        assert r.forward_samples == r.backward_samples == 40 * len(calls)
        assert r.history["forward_samples"][0] == 0
        assert r.history["forward_samples"][-1] <= r.forward_samples


def test_iteration_limit_is_status_max_iter():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 3)), rng.integers(0, 3, 50)
    objective = RegularizedError(MLP((3, 5, 3), output="softmax"), X, y, penalty=L2(1e-3))
    r = LBFGSTrainer(max_iter=3).fit(objective, seed=0)
    assert r.status == "max_iter" and r.iterations == 3
    np.testing.assert_array_equal(r.history["iteration"], [0, 1, 2, 3])


@pytest.mark.parametrize("kwargs, name", [
    ({"max_iter": 0}, "max_iter"),
    ({"max_iter": 2.5}, "max_iter"),
    ({"tol": 0.0}, "tol"),
    ({"tol": -1e-8}, "tol"),
    ({"tol": float("nan")}, "tol"),
])
def test_bad_settings_name_the_setting(kwargs, name):
    with pytest.raises(ValueError, match=name):
        LBFGSTrainer(**kwargs)
