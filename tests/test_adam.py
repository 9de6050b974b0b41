"""Adam, AdamW and learning-rate schedules: hand-computed steps, PyTorch's documented algorithms
written out in plain numpy, closed forms and fixed points."""

import math

import numpy as np
import pytest

from swarmreg import L1, L2, MLP, ElasticNet, RegularizedError
from swarmreg.backprop import BackpropTrainer
from swarmreg.decay import SGD, Adam, CoupledL2, DecayFraction, DecoupledL2, L1Subgradient, ProximalL1, \
    build_chain, pure_decay
from swarmreg.schedules import learning_rates

RNG = np.random.default_rng(3)
X = RNG.standard_normal((24, 3))
Y = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3 + 0.2 * RNG.standard_normal((24, 1))
MODEL = MLP((3, 1))
WMASK = MODEL.weight_mask
THETA0 = np.array([0.4, -0.7, 1.3, 0.2])


def mse_grad(theta, X=X, Y=Y):
    """∇D of the linear model, D = mean((Xw + b − y)²)."""
    R = X @ theta[:3, None] + theta[3] - Y
    return np.r_[(2.0 / len(X)) * (X.T @ R)[:, 0], (2.0 / len(X)) * R.sum()]


def ridge(lam, X=X, y=Y[:, 0]):
    """argmin mean((Xw + b − y)²) + (λ/2)·‖w‖², b unpenalized."""
    n, d = X.shape
    A = np.hstack([X, np.ones((n, 1))])
    P = np.diag(np.r_[np.ones(d), 0.0])
    return np.linalg.solve(2.0 / n * A.T @ A + lam * P, 2.0 / n * A.T @ y)


def soft(w, t):
    return np.sign(w) * np.maximum(np.abs(w) - t, 0.0)


# ------------------------------------------------------ hand-computed steps
def test_first_adam_step_moves_every_parameter_by_eta_times_the_sign():
    """Step 1: m̂ = g and v̂ = g², so θ ← θ − η·g/(|g| + ε)."""
    eta, eps = 0.01, 1e-8
    res = BackpropTrainer(optimizer="adam", lr=eta, epochs=1, eps=eps).fit(RegularizedError(MODEL, X, Y),
                                                                          theta0=THETA0)
    g = mse_grad(THETA0)
    np.testing.assert_allclose(res.theta, THETA0 - eta * g / (np.abs(g) + eps), rtol=1e-14)
    assert np.abs(np.abs(res.theta - THETA0) - eta).max() < 1e-7


def test_two_adam_steps_by_hand_with_coupled_l2():
    eta, lam, b1, b2, eps = 0.05, 0.3, 0.8, 0.9, 1e-3
    obj = RegularizedError(MODEL, X, Y, penalty=L2(lam))
    res = BackpropTrainer(optimizer="adam", lr=eta, epochs=2, betas=(b1, b2), eps=eps).fit(obj, theta0=THETA0)
    g1 = mse_grad(THETA0) + lam * WMASK * THETA0
    m1, v1 = (1 - b1) * g1, (1 - b2) * g1**2
    t1 = THETA0 - eta * (m1 / (1 - b1)) / (np.sqrt(v1 / (1 - b2)) + eps)
    g2 = mse_grad(t1) + lam * WMASK * t1
    m2, v2 = b1 * m1 + (1 - b1) * g2, b2 * v1 + (1 - b2) * g2**2
    t2 = t1 - eta * (m2 / (1 - b1**2)) / (np.sqrt(v2 / (1 - b2**2)) + eps)
    np.testing.assert_allclose(res.theta, t2, rtol=1e-13)


def test_two_adamw_steps_by_hand_decay_the_weights_outside_the_moments():
    eta, lam, b1, b2, eps = 0.05, 0.3, 0.8, 0.9, 1e-3
    obj = RegularizedError(MODEL, X, Y, penalty=L2(lam))
    res = BackpropTrainer(optimizer="adam", decay="decoupled", lr=eta, epochs=2, betas=(b1, b2),
                          eps=eps).fit(obj, theta0=THETA0)
    g1 = mse_grad(THETA0)
    m1, v1 = (1 - b1) * g1, (1 - b2) * g1**2
    t1 = THETA0 * np.where(WMASK, 1 - eta * lam, 1.0) - eta * (m1 / (1 - b1)) / (np.sqrt(v1 / (1 - b2)) + eps)
    g2 = mse_grad(t1)
    m2, v2 = b1 * m1 + (1 - b1) * g2, b2 * v1 + (1 - b2) * g2**2
    t2 = t1 * np.where(WMASK, 1 - eta * lam, 1.0) - eta * (m2 / (1 - b1**2)) / (np.sqrt(v2 / (1 - b2**2)) + eps)
    np.testing.assert_allclose(res.theta, t2, rtol=1e-13)


@pytest.mark.parametrize("l1_mode", ["subgradient", "proximal"])
def test_l1_modes_and_the_decay_fraction_act_with_adam_as_with_sgd(l1_mode):
    eta, l1, l2, d, eps = 0.05, 0.2, 0.3, 0.01, 1e-8
    obj = RegularizedError(MODEL, X, Y, penalty=ElasticNet(l1=l1, l2=l2))
    res = BackpropTrainer(optimizer="adam", lr=eta, epochs=1, l1=l1_mode, decay_fraction=d,
                          decay="decoupled").fit(obj, theta0=THETA0)
    g = mse_grad(THETA0) + (l1 * np.sign(THETA0) * WMASK if l1_mode == "subgradient" else 0.0)
    u = THETA0 - eta * g / (np.abs(g) + eps) - (eta * l2 + d) * WMASK * THETA0
    expected = np.where(WMASK, soft(u, eta * l1), u) if l1_mode == "proximal" else u
    np.testing.assert_allclose(res.theta, expected, rtol=1e-13)


def test_the_chain_of_an_adam_trainer_is_the_rules_in_order():
    rules = build_chain(momentum=0.0, decay="coupled", decay_fraction=0.1, l1_mode="proximal", l1=0.1, l2=0.2,
                        slices=(slice(0, 3),), n_params=4, optimizer="adam")
    assert [type(r) for r in rules] == [CoupledL2, Adam, DecayFraction, ProximalL1]
    rules = build_chain(momentum=0.0, decay="decoupled", decay_fraction=0.0, l1_mode="subgradient", l1=0.1,
                        l2=0.2, slices=(slice(0, 3),), n_params=4, optimizer="adam")
    assert [type(r) for r in rules] == [L1Subgradient, Adam, DecoupledL2]
    assert type(build_chain(momentum=0.5, decay="coupled", decay_fraction=0.0, l1_mode="subgradient", l1=0.0,
                            l2=0.0, slices=(), n_params=4)[0]) is SGD


# ------------------------------------------- PyTorch's documented algorithms
def torch_adam(theta0, mask, grad, batches, epochs, lr, lam, decoupled, betas=(0.9, 0.999), eps=1e-8, rates=None):
    """torch.optim.Adam / AdamW as documented (amsgrad=False, maximize=False): weights in a group with
    weight_decay=λ, biases in one with 0; ``rates`` the scheduler's lr of each epoch."""
    b1, b2 = betas
    wd = np.where(mask, lam, 0.0)
    p, m, v, t = theta0.copy(), np.zeros_like(theta0), np.zeros_like(theta0), 0
    for e in range(epochs):
        eta = lr if rates is None else rates[e]
        for rows in batches:
            t += 1
            g = grad(p, rows)
            if decoupled:
                p = p * (1 - eta * wd)
            else:
                g = g + wd * p
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            denom = np.sqrt(v) / math.sqrt(1 - b2**t) + eps
            p = p - (eta / (1 - b1**t)) * m / denom
    return p


def hidden_setup(n=30):
    rng = np.random.default_rng(7)
    Xh = rng.standard_normal((n, 4))
    yh = (Xh[:, 0] * Xh[:, 1] > 0).astype(int) + (Xh[:, 2] > 1)
    model = MLP((4, 5, 3), hidden="tanh", output="softmax")
    return model, Xh, yh


@pytest.mark.parametrize("decoupled", [False, True])
@pytest.mark.parametrize("batch", [None, 7])
@pytest.mark.parametrize("schedule", ["constant", "cosine", "step"])
def test_adam_and_adamw_equal_torch_step_for_step(decoupled, batch, schedule):
    model, Xh, yh = hidden_setup()
    lam, lr, epochs = 0.05, 0.02, 12
    obj = RegularizedError(model, Xh, yh, penalty=L2(lam))
    theta0 = model.init(1)
    n = len(yh)
    batches = [None] if batch is None else [np.arange(lo, min(lo + batch, n)) for lo in range(0, n, batch)]

    def grad(p, rows):
        return obj.data_value_and_grad(p, rows)[1]

    rates = {"constant": None,
             "cosine": [0.5 * lr * (1 + math.cos(math.pi * e / epochs)) for e in range(epochs)],  # eta_min = 0
             "step": [lr * 0.1 ** (e // 4) for e in range(epochs)]}[schedule]               # ⌈12/3⌉ = 4
    expected = torch_adam(theta0, model.weight_mask, grad, batches, epochs, lr, lam, decoupled, rates=rates)
    res = BackpropTrainer(optimizer="adam", decay="decoupled" if decoupled else "coupled", lr=lr, epochs=epochs,
                          batch_size=batch, shuffle=False, lr_schedule=schedule).fit(obj, theta0=theta0)
    assert np.abs(expected - theta0).max() > 0.05
    np.testing.assert_allclose(res.theta, expected, rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------ fixed points
def test_full_batch_adam_with_coupled_l2_ends_at_the_optimum_of_the_same_lambda():
    lam = 0.4
    obj = RegularizedError(MODEL, X, Y, penalty=L2(lam))
    res = BackpropTrainer(optimizer="adam", lr=0.05, epochs=4000, lr_schedule="cosine").fit(obj, theta0=THETA0)
    np.testing.assert_allclose(res.theta, ridge(lam), rtol=1e-7, atol=1e-9)


def test_decoupled_decay_with_momentum_reaches_the_optimum_of_lambda_times_one_minus_mu():
    lam, mu = 0.1, 0.9
    obj = RegularizedError(MODEL, X, Y, penalty=L2(lam))
    res = BackpropTrainer(lr=0.05, epochs=3000, momentum=mu, decay="decoupled").fit(obj, theta0=THETA0)
    np.testing.assert_allclose(res.theta, ridge(lam * (1 - mu)), rtol=1e-9, atol=1e-11)
    assert np.abs(res.theta - ridge(lam)).max() > 0.05


def test_adamw_solution_is_not_the_optimum_of_its_lambda():
    lam = 0.4
    obj = RegularizedError(MODEL, X, Y, penalty=L2(lam))
    res = BackpropTrainer(optimizer="adam", decay="decoupled", lr=0.05, epochs=4000,
                          lr_schedule="cosine").fit(obj, theta0=THETA0)
    # a fixed point all the same: the data gradient balances λ·(√v̂ + ε)·w coordinate by coordinate
    assert np.abs(res.theta - ridge(lam)).max() > 1e-2


# ---------------------------------------------------------------- schedules
def test_learning_rates_closed_forms():
    np.testing.assert_array_equal(learning_rates("constant", 0.3, 4), [0.3] * 4)
    e = np.arange(10)
    np.testing.assert_allclose(learning_rates("cosine", 0.3, 10, lr_min=0.01),
                               0.01 + 0.29 * (1 + np.cos(np.pi * e / 10)) / 2, rtol=1e-15)
    np.testing.assert_allclose(learning_rates("step", 0.3, 10, lr_step_size=3, lr_gamma=0.5),
                               0.3 * 0.5 ** np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 3]), rtol=1e-15)
    # default period: a third of the epochs, rounded up → two drops
    np.testing.assert_allclose(learning_rates("step", 1.0, 7), [1, 1, 1, 0.1, 0.1, 0.1, 0.01], rtol=1e-15)


def test_cosine_schedule_matches_pytorchs_recursive_update():
    """CosineAnnealingLR's chainable form (its get_lr), run for the epochs a training visits."""
    lr, lr_min, T = 0.2, 0.005, 17
    rates, cur = [lr], lr
    for last in range(1, T):
        cur = (1 + math.cos(math.pi * last / T)) / (1 + math.cos(math.pi * (last - 1) / T)) * (cur - lr_min) + lr_min
        rates.append(cur)
    np.testing.assert_allclose(learning_rates("cosine", lr, T, lr_min=lr_min), rates, rtol=1e-12)


@pytest.mark.parametrize("schedule", ["cosine", "step"])
def test_each_epoch_steps_at_its_scheduled_rate(schedule):
    """With decoupled decay and all-zero inputs the weights move by the decay alone:
    Π (1 − η_e·λ) over the epochs."""
    n, lam, epochs = 12, 0.5, 9
    obj = RegularizedError(MLP((3, 2)), np.zeros((n, 3)), np.random.default_rng(1).normal(size=(n, 2)),
                           penalty=L2(lam))
    res = BackpropTrainer(lr=0.3, epochs=epochs, decay="decoupled", lr_schedule=schedule, batch_size=4,
                          momentum=0.5).fit(obj, seed=0)
    rates = learning_rates(schedule, 0.3, epochs)
    sq = res.history["weight_sq_norm"]
    expected = np.r_[1.0, np.cumprod((1 - rates * lam) ** (2 * 3))]
    np.testing.assert_allclose(sq / sq[0], expected, rtol=1e-12)
    np.testing.assert_allclose(pure_decay(res.config, lam, 3 * np.arange(epochs + 1), steps_per_epoch=3),
                               expected, rtol=1e-12)


def test_decay_fraction_follows_the_schedule_multiplier():
    rates = learning_rates("cosine", 0.2, 6)
    config = BackpropTrainer(lr=0.2, epochs=6, decay_fraction=0.05, lr_schedule="cosine").config
    np.testing.assert_allclose(pure_decay(config, 0.0, np.arange(7)),
                               np.r_[1.0, np.cumprod((1 - 0.05 * rates / 0.2) ** 2)], rtol=1e-13)


def test_pure_decay_of_adamw_is_the_decoupled_shrink_and_adam_with_coupled_l2_is_refused():
    config = BackpropTrainer(optimizer="adam", decay="decoupled", lr=0.1).config
    np.testing.assert_allclose(pure_decay(config, 0.3, [0, 1, 5]), (1 - 0.03) ** (2 * np.array([0, 1, 5])),
                               rtol=1e-14)
    with pytest.raises(ValueError, match="not linear"):
        pure_decay(BackpropTrainer(optimizer="adam").config, 0.3, [1])
    with pytest.raises(ValueError, match="past the schedule"):
        pure_decay(BackpropTrainer(epochs=2, lr_schedule="cosine").config, 0.3, [5])


def test_constant_schedule_is_bit_for_bit_the_plain_trainer():
    obj = RegularizedError(MODEL, X, Y, penalty=L1(0.01))
    a = BackpropTrainer(lr=0.05, epochs=5, batch_size=5, decay_fraction=0.01).fit(obj, seed=2)
    b = BackpropTrainer(lr=0.05, epochs=5, batch_size=5, decay_fraction=0.01, lr_schedule="constant",
                        lr_step_size=2, lr_gamma=0.5).fit(obj, seed=2)
    np.testing.assert_array_equal(a.theta, b.theta)


# -------------------------------------------------------------- bad input
@pytest.mark.parametrize("kw, name", [
    (dict(optimizer="adam", momentum=0.9), "momentum"),
    (dict(optimizer="rmsprop"), "optimizer"),
    (dict(optimizer="adam", betas=(0.9,)), "betas"),
    (dict(optimizer="adam", betas=(0.9, 1.0)), r"betas\[1\]"),
    (dict(optimizer="adam", betas="ab"), "betas"),
    (dict(eps=0.0), "eps"),
    (dict(lr_schedule="linear"), "lr_schedule"),
    (dict(lr_schedule="cosine", lr_min=0.5, lr=0.1), "lr_min"),
    (dict(lr_schedule="step", lr_step_size=0), "lr_step_size"),
    (dict(lr_schedule="step", lr_gamma=-1.0), "lr_gamma"),
])
def test_bad_settings_raise_naming_the_setting(kw, name):
    with pytest.raises(ValueError, match=name):
        BackpropTrainer(**kw)
