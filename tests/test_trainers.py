"""The contract every trainer keeps: one suite parametrized over backprop,
the swarm and the L-BFGS reference."""

import json

import numpy as np
import pytest

from swarmreg import MLP, RegularizedError, L2
from swarmreg.backprop import BackpropTrainer
from swarmreg.reference import LBFGSTrainer
from swarmreg.result import HISTORY_COLUMNS, STATUSES, TrainResult
from swarmreg.swarm import SwarmTrainer

# Small, quick settings per trainer for the contract checks.
QUICK = {
    "backprop": lambda: BackpropTrainer(lr=0.1, epochs=20, batch_size=16),
    "swarm": lambda: SwarmTrainer(particles=12, iterations=25),
    "lbfgs": lambda: LBFGSTrainer(max_iter=25),
}
# Bad settings per trainer: (kwargs, the name the error must mention).
BAD = {
    "backprop": [({"lr": 0.0}, "lr"), ({"epochs": 0}, "epochs"), ({"momentum": 1.0}, "momentum"),
                 ({"decay": "late"}, "decay"), ({"batch_size": 0}, "batch_size")],
    "swarm": [({"particles": 1}, "particles"), ({"iterations": 0}, "iterations"), ({"c1": -0.5}, "c1"),
              ({"topology": "star"}, "topology"), ({"bounds": (1, -1)}, "bounds")],
    "lbfgs": [({"max_iter": 0}, "max_iter"), ({"tol": 0.0}, "tol")],
}
CLASSES = {"backprop": BackpropTrainer, "swarm": SwarmTrainer, "lbfgs": LBFGSTrainer}
NAMES = list(QUICK)


def regression(n=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.tanh(X @ np.array([1.5, -1.0, 0.5])) + 0.5 * X[:, 0] + 0.05 * rng.normal(size=n)
    return X, y


@pytest.fixture(scope="module")
def objective():
    X, y = regression()
    return RegularizedError(MLP((3, 4, 1)), X, y, penalty=L2(0.01))


@pytest.mark.parametrize("name", NAMES)
def test_result_schema_and_json_round_trip(name, objective):
    trainer = QUICK[name]()
    r = trainer.fit(objective, seed=0)
    assert isinstance(r, TrainResult)
    assert r.trainer == name and r.status in STATUSES and r.config == trainer.config
    assert r.theta.shape == (objective.n_params,) and r.theta.dtype == np.float64
    assert set(HISTORY_COLUMNS) <= set(r.history)
    lengths = {len(col) for col in r.history.values()}
    assert lengths == {r.iterations + 1}
    np.testing.assert_array_equal(r.history["iteration"], np.arange(r.iterations + 1))
    assert np.all(np.diff(r.history["forward_samples"]) >= 0)
    assert r.forward_samples >= r.history["forward_samples"][-1] > 0
    assert r.seconds >= r.history["seconds"][-1] >= 0

    d = r.to_dict()
    back = TrainResult.from_dict(json.loads(json.dumps(d)))
    np.testing.assert_array_equal(back.theta, r.theta)
    for key, col in r.history.items():
        np.testing.assert_array_equal(back.history[key], col)
    assert back.to_dict() == d


@pytest.mark.parametrize("name", NAMES)
def test_result_is_finite_and_is_E_at_theta(name, objective):
    r = QUICK[name]().fit(objective, seed=1)
    assert np.all(np.isfinite(r.theta))
    parts = objective.parts(r.theta)
    assert r.value == pytest.approx(parts["total"], rel=1e-12)
    assert r.data_loss == pytest.approx(parts["data"], rel=1e-12)
    assert r.penalty == pytest.approx(parts["penalty"], rel=1e-12)
    assert r.value < r.history["value"][0]  # training improved on the start


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_numbers(name, objective):
    a = QUICK[name]().fit(objective, seed=7)
    b = QUICK[name]().fit(objective, seed=7)
    np.testing.assert_array_equal(a.theta, b.theta)
    for key in a.history:
        if key != "seconds":
            np.testing.assert_array_equal(a.history[key], b.history[key])
    assert (a.value, a.iterations, a.forward_samples, a.status) == (b.value, b.iterations, b.forward_samples, b.status)


@pytest.mark.parametrize("name", NAMES)
def test_callback_sees_rows_and_can_stop(name, objective):
    seen = []

    def stop_at_three(info):
        seen.append(info)
        if info["iteration"] == 3:
            raise StopIteration

    r = QUICK[name]().fit(objective, seed=2, callback=stop_at_three)
    assert r.status == "stopped" and r.iterations == 3
    np.testing.assert_array_equal(r.history["iteration"], [0, 1, 2, 3])
    assert [info["iteration"] for info in seen] == [1, 2, 3]
    last = seen[-1]
    assert set(HISTORY_COLUMNS) <= set(last)
    assert last["theta"].shape == (objective.n_params,)
    assert last["value"] == r.history["value"][-1]
    with pytest.raises(ValueError, match="callback"):
        QUICK[name]().fit(objective, callback="not callable")


@pytest.mark.parametrize("name", NAMES)
def test_bad_settings_raise_naming_the_setting(name):
    for kwargs, setting in BAD[name]:
        with pytest.raises(ValueError, match=setting):
            CLASSES[name](**kwargs)


LAMBDA_RUNS = {
    "backprop": lambda: BackpropTrainer(lr=0.1, epochs=300),
    "swarm": lambda: SwarmTrainer(particles=20, iterations=300),
    "lbfgs": lambda: LBFGSTrainer(),
}


@pytest.mark.parametrize("name", NAMES)
def test_larger_lambda_gives_smaller_weights(name):
    X, y = regression(seed=3)
    model = MLP((3, 4, 1))
    mask = model.weight_mask
    sq = []
    for lam in (1e-3, 1.0):
        r = LAMBDA_RUNS[name]().fit(RegularizedError(model, X, y, penalty=L2(lam)), seed=4)
        sq.append(float(np.sum(r.theta[mask] ** 2)))
        assert r.history["weight_sq_norm"][-1] == pytest.approx(sq[-1])
    assert sq[1] < 0.5 * sq[0]


# ------------------------------------------------------- ridge in closed form
def ridge_problem(n=50, d=4, lam=0.1, seed=0):
    """Data, the objective E = (1/n)Σ(Xw + b − y)² + (λ/2)Σw², and its minimum.

    With the intercept unpenalized, b = ȳ − x̄ᵀw and on centered data
    ∇E = (2/n)Xcᵀ(Xc·w − yc) + λw = 0, so w = ((2/n)XcᵀXc + λI)⁻¹(2/n)Xcᵀyc.
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) + rng.normal(size=d)  # off-centre columns: the intercept matters
    y = X @ rng.normal(size=d) + 0.5 + 0.3 * rng.normal(size=n)
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    w = np.linalg.solve((2 / n) * Xc.T @ Xc + lam * np.eye(d), (2 / n) * Xc.T @ yc)
    theta = np.r_[w, y.mean() - X.mean(axis=0) @ w]
    objective = RegularizedError(MLP((d, 1)), X, y, penalty=L2(lam))
    return objective, theta


RIDGE = {  # trainer, relative tolerance in E
    "lbfgs": (lambda: LBFGSTrainer(), 1e-8),
    "swarm": (lambda: SwarmTrainer(particles=30, iterations=400), 1e-3),
    "backprop": (lambda: BackpropTrainer(lr=0.2, epochs=600), 1e-5),
}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("d", [1, 3, 5])
def test_ridge_reaches_the_closed_form_optimum(name, d):
    objective, theta_star = ridge_problem(d=d, seed=d)
    best = objective(theta_star)
    make, rtol = RIDGE[name]
    r = make().fit(objective, seed=0)
    assert r.value >= best * (1 - 1e-12)  # nothing beats the optimum
    assert r.value == pytest.approx(best, rel=rtol)
