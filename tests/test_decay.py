"""The decay rules and their order: hand-computed steps, closed forms, and real trainer runs."""

import numpy as np
import pytest

from swarmreg import L1, L2, MLP, ElasticNet, RegularizedError
from swarmreg.backprop import BackpropTrainer
from swarmreg.decay import (SGD, CoupledL2, DecayFraction, DecoupledL2, L1Subgradient, ProximalL1, apply_chain,
                            build_chain, chain, pure_decay)

RNG = np.random.default_rng(0)
X = RNG.standard_normal((30, 3))
Y = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3 + 0.1 * RNG.standard_normal((30, 1))
MODEL = MLP((3, 1))
WMASK = MODEL.weight_mask
THETA0 = np.array([0.4, -0.7, 1.3, 0.2])


def mse_grad(theta):
    """∇D of the linear model, D = mean((Xw + b − y)²)."""
    R = X @ theta[:3, None] + theta[3] - Y
    return np.r_[(2.0 / len(X)) * (X.T @ R)[:, 0], (2.0 / len(X)) * R.sum()]


def soft(w, t):
    return np.sign(w) * np.maximum(np.abs(w) - t, 0.0)


# ------------------------------------------------------------ pure decay
def full(**settings) -> dict:
    """A whole backprop config, as a record carries it."""
    return BackpropTrainer(**settings).config


def test_pure_decay_is_the_geometric_shrink_for_plain_sgd():
    # the case of tests/test_plots.py: 10 samples per epoch, batch 4 → 3 steps per epoch
    steps = 3 * np.array([0, 1, 2, 5])
    got = pure_decay(full(lr=0.1, batch_size=4), 0.2, steps)
    np.testing.assert_allclose(got, (1 - 0.1 * 0.2) ** (2 * steps), rtol=1e-13)


def test_pure_decay_with_momentum_follows_the_heavy_ball_recurrence():
    # by hand: v1 = 0.5, w1 = 0.95; v2 = 0.9·0.5 + 0.5·0.95 = 0.925, w2 = 0.95 − 0.0925 = 0.8575
    got = pure_decay(full(lr=0.1, momentum=0.9), 0.5, [0, 1, 2])
    np.testing.assert_allclose(got, [1.0, 0.95**2, 0.8575**2], rtol=1e-14)


@pytest.mark.parametrize("config, l2, factor", [
    ({"lr": 0.05}, 0.3, 1 - 0.05 * 0.3),                                          # coupled
    ({"lr": 0.05, "decay": "decoupled", "momentum": 0.9}, 0.3, 1 - 0.05 * 0.3),  # the momentum never sees it
    ({"lr": 0.05, "decay_fraction": 0.01}, 0.0, 1 - 0.01),                        # the fraction alone
    ({"lr": 0.05, "decay": "decoupled", "decay_fraction": 0.01}, 0.3, 1 - 0.05 * 0.3 - 0.01),
])
def test_pure_decay_closed_forms(config, l2, factor):
    k = np.array([0, 1, 7, 40])
    np.testing.assert_allclose(pure_decay(full(**config), l2, k), factor ** (2 * k), rtol=1e-12)


def test_pure_decay_needs_the_step_settings_and_checks_its_arguments():
    # a whole config as the trainer reports it, steps in any order
    config = full(lr=0.2, momentum=0.5)
    a = pure_decay(config, 0.1, [5, 0, 2])
    np.testing.assert_array_equal(a, pure_decay(config, 0.1, [0, 2, 5])[[2, 0, 1]])
    with pytest.raises(ValueError, match="'momentum', 'decay', 'decay_fraction', 'l1'"):
        pure_decay({"lr": 0.1}, 0.1, [1])
    with pytest.raises(ValueError, match="decay must be one of"):
        pure_decay({**config, "decay": "banana"}, 0.1, [1])
    with pytest.raises(ValueError, match="l2"):
        pure_decay(config, -0.1, [1])
    with pytest.raises(ValueError, match="steps"):
        pure_decay(config, 0.1, [1.5])


@pytest.mark.parametrize("settings", [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.05, momentum=0.6, decay="decoupled"),
    dict(lr=0.05, momentum=0.6, decay="decoupled", decay_fraction=0.02),
    dict(lr=0.05, batch_size=7, momentum=0.3, decay_fraction=0.01),
])
def test_pure_decay_is_what_a_real_fit_does_to_weights_without_data_gradient(settings):
    """All-zero inputs: the weights' data gradient Xᵀδ is exactly 0, so the weights
    move by the decay alone (the biases still learn)."""
    n, lam = 20, 0.4
    Xz = np.zeros((n, 3))
    y = np.random.default_rng(1).normal(size=n)
    obj = RegularizedError(MLP((3, 2)), Xz, np.c_[y, -y], penalty=L2(lam))
    res = BackpropTrainer(epochs=6, **settings).fit(obj, seed=0)
    steps_per_epoch = -(-n // settings.get("batch_size", n))
    sq = res.history["weight_sq_norm"]
    np.testing.assert_allclose(sq / sq[0], pure_decay(res.config, lam, steps_per_epoch * res.history["iteration"]),
                               rtol=1e-12)


# --------------------------------------------------------------- the chain
def test_the_chain_is_one_real_trainer_step():
    eta, l1, l2, mu, d = 0.05, 0.4, 0.3, 0.8, 0.01
    obj = RegularizedError(MODEL, X, Y, penalty=ElasticNet(l1=l1, l2=l2))
    settings = dict(lr=eta, momentum=mu, decay="decoupled", l1="proximal", decay_fraction=d)
    res = BackpropTrainer(epochs=1, **settings).fit(obj, theta0=THETA0)
    # the chain on a vector, from the gradient computed by hand
    rules = build_chain(momentum=mu, decay="decoupled", decay_fraction=d, l1_mode="proximal", l1=l1, l2=l2,
                        slices=obj.penalty_slices, n_params=4)
    assert [type(r) for r in rules] == [SGD, DecoupledL2, DecayFraction, ProximalL1]
    theta, g = THETA0.copy(), mse_grad(THETA0)
    apply_chain(rules, theta, g, THETA0.copy(), eta)
    u = THETA0 - eta * mse_grad(THETA0) - (eta * l2 + d) * WMASK * THETA0
    expected = np.where(WMASK, soft(u, eta * l1), u)
    np.testing.assert_allclose(theta, expected, rtol=1e-13)
    np.testing.assert_array_equal(res.theta, theta)


@pytest.mark.parametrize("decay, l1_mode, penalty, fraction, kinds", [
    ("coupled", "subgradient", None, 0.0, [SGD]),
    ("coupled", "subgradient", L2(0.1), 0.0, [CoupledL2, SGD]),
    ("decoupled", "subgradient", L2(0.1), 0.0, [SGD, DecoupledL2]),
    ("coupled", "subgradient", L1(0.1), 0.0, [L1Subgradient, SGD]),
    ("coupled", "proximal", ElasticNet(0.1, 0.2), 0.3, [CoupledL2, SGD, DecayFraction, ProximalL1]),
    ("decoupled", "subgradient", ElasticNet(0.1, 0.2), 0.0, [L1Subgradient, SGD, DecoupledL2]),
])
def test_only_the_rules_that_act_are_in_the_chain(decay, l1_mode, penalty, fraction, kinds):
    rules = build_chain(momentum=0.5, decay=decay, decay_fraction=fraction, l1_mode=l1_mode,
                        l1=penalty.l1 if penalty else 0.0, l2=penalty.l2 if penalty else 0.0,
                        slices=(slice(0, 3),), n_params=4)
    assert [type(r) for r in rules] == kinds


def test_the_step_takes_its_learning_rate_per_call_and_keeps_the_velocity():
    step = SGD(0.5, np.zeros(2))
    theta = np.array([1.0, -1.0])
    g1, g2 = np.array([0.2, 0.4]), np.array([-0.1, 0.3])
    step(theta, g1.copy(), theta.copy(), 0.1)
    step(theta, g2.copy(), theta.copy(), 0.01)  # a schedule lowered η
    v1 = g1
    v2 = 0.5 * v1 + g2
    np.testing.assert_allclose(theta, np.array([1.0, -1.0]) - 0.1 * v1 - 0.01 * v2, rtol=1e-15)
    np.testing.assert_allclose(step.velocity, v2, rtol=1e-15)


def test_rules_act_on_their_slices_only():
    w_old = np.array([2.0, -3.0, 5.0, 0.5])
    s = (slice(0, 2),)
    g = np.zeros(4)
    CoupledL2(0.5, s)(None, g, w_old, 0.1)
    L1Subgradient(0.25, s)(None, g, w_old, 0.1)
    np.testing.assert_array_equal(g, [1.25, -1.75, 0.0, 0.0])
    theta = w_old.copy()
    DecoupledL2(0.5, s)(theta, None, w_old, 0.1)   # w −= 0.05·w_old
    DecayFraction(0.1, s)(theta, None, w_old, 0.1)  # w −= 0.1·w_old
    np.testing.assert_allclose(theta, [1.7, -2.55, 5.0, 0.5], rtol=1e-15)
    ProximalL1(20.0, s)(theta, None, w_old, 0.1)    # threshold 2
    np.testing.assert_allclose(theta, [0.0, -0.55, 5.0, 0.5], rtol=1e-14)


def test_chain_refuses_rules_out_of_order():
    step, s = SGD(0.0, np.zeros(3)), (slice(0, 3),)
    chain(CoupledL2(0.1, s), step, DecoupledL2(0.1, s))
    with pytest.raises(ValueError, match="order"):
        chain(step, CoupledL2(0.1, s))  # a gradient term after the step would change nothing
    with pytest.raises(ValueError, match="exactly one step"):
        chain(CoupledL2(0.1, s))
    with pytest.raises(ValueError, match="exactly one step"):
        chain(step, SGD(0.5, np.zeros(3)))
    with pytest.raises(ValueError, match="not a rule"):
        chain(step, lambda theta, g, w_old, lr: None)


# -------------------------------------------------- the renamed setting
def test_decay_fraction_is_the_setting_and_weight_decay_is_refused_naming_it():
    assert BackpropTrainer(decay_fraction=0.01).config["decay_fraction"] == 0.01
    assert "weight_decay" not in BackpropTrainer().config
    with pytest.raises(ValueError, match="decay_fraction") as err:
        BackpropTrainer(weight_decay=0.01)
    assert "coupled" in str(err.value) and "torch" in str(err.value)
