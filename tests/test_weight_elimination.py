"""Weight elimination R(w) = λ·Σ u/(1 + u), u = (w/w0)²: value by hand, gradient
by finite differences, extreme weights, and every trainer and the spec using it."""

import math

import numpy as np
import pytest

from swarmreg import MLP, RegularizedError
from swarmreg.backprop import BackpropTrainer
from swarmreg.penalties import WeightElimination, make_penalty
from swarmreg.reference import LBFGSTrainer
from swarmreg.swarm import SwarmTrainer
from swarmreg.sweep import build_problem, expand_runs, parse_spec


def by_hand(w, lam, w0):
    total = 0.0
    for x in w:
        u = (x / w0) ** 2
        total += u / (1.0 + u)
    return lam * total


@pytest.mark.parametrize("lam, w0", [(0.3, 1.0), (1.0, 0.2), (0.05, 4.0)])
def test_value_matches_the_formula_term_by_term(lam, w0):
    w = np.random.default_rng(1).normal(0, 2, 25)
    pen = WeightElimination(lam, w0)
    assert pen.value(w) == pytest.approx(by_hand(w, lam, w0), rel=1e-14)
    stack = np.stack([w, 2 * w, -w])
    np.testing.assert_allclose(pen.value(stack), [by_hand(r, lam, w0) for r in stack], rtol=1e-14)


@pytest.mark.parametrize("w0", [0.1, 1.0, 7.0])
def test_gradient_matches_central_differences(w0):
    rng = np.random.default_rng(2)
    pen = WeightElimination(0.7, w0)
    for w in (rng.normal(0, w0, 30), rng.normal(0, 5 * w0, 30)):
        h = 1e-6 * w0
        fd = np.array([(pen.value(w + h * e) - pen.value(w - h * e)) / (2 * h) for e in np.eye(w.size)])
        np.testing.assert_allclose(pen.grad(w), fd, rtol=1e-6, atol=1e-9 * 0.7 / w0)


def test_small_weights_cost_like_l2_and_large_ones_cost_lam():
    pen = WeightElimination(0.5, 2.0)
    w = np.array([1e-4, -3e-5])
    # u/(1 + u) ≈ u: L2 with λ₂ = 2λ/w0²
    assert pen.value(w) == pytest.approx(0.5 * np.sum((w / 2.0) ** 2), rel=1e-7)
    np.testing.assert_allclose(pen.grad(w), (2 * 0.5 / 4.0) * w, rtol=1e-7)
    assert pen.value(np.array([1e6])) == pytest.approx(0.5 * (1 - 1 / (1 + 2.5e11)), rel=1e-14)


def test_extreme_weights_give_finite_values_and_gradients():
    w = np.array([0.0, 5e-324, -1e-300, 1e150, -1e300, 1.7e308, -1.7e308])
    for pen in (WeightElimination(1.0, 1.0), WeightElimination(2.0, 1e-300), WeightElimination(1e-3, 1e300)):
        v, g = pen.value(w), pen.grad(w)
        assert math.isfinite(v) and np.all(np.isfinite(g)), (pen, v, g)
        assert 0.0 <= v <= pen.lam * w.size
    # a weight whose (w/w0)² overflows costs λ and is not pulled
    pen = WeightElimination(1.0, 1.0)
    assert pen.value(np.array([1e300])) == 1.0 and pen.grad(np.array([1e300]))[0] == 0.0
    # exactly at w = w0: u = 1, R = λ/2, R' = λ·2/w0·(1/4)
    assert WeightElimination(0.8, 3.0).value(np.array([3.0])) == pytest.approx(0.4)
    assert WeightElimination(0.8, 3.0).grad(np.array([3.0]))[0] == pytest.approx(0.8 * 2 / 3 / 4)


@pytest.mark.parametrize("kwargs, name", [({"lam": -1.0}, "lam"), ({"lam": 1.0, "w0": 0.0}, "w0"),
                                          ({"lam": 1.0, "w0": math.inf}, "w0")])
def test_bad_settings_name_themselves(kwargs, name):
    with pytest.raises(ValueError, match=name):
        WeightElimination(**kwargs)


def test_there_is_no_proximal_step():
    with pytest.raises(ValueError, match="no proximal step"):
        WeightElimination(1.0).prox(np.ones(3), 0.1)


def problem(w0=0.5, lam=0.05, seed=0):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 3, 40)
    model = MLP((3, 5, 3), output="softmax")
    return model, RegularizedError(model, X, y, penalty=WeightElimination(lam, w0))


def test_objective_gradient_and_batch_include_it():
    model, obj = problem()
    theta = model.init(3) * 2
    value, grad = obj.value_and_grad(theta)
    h = 1e-6
    fd = np.array([(obj(theta + h * e) - obj(theta - h * e)) / (2 * h) for e in np.eye(model.n_params)])
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)
    assert value == pytest.approx(obj.data_loss(theta) + by_hand(theta[model.weight_mask], 0.05, 0.5), rel=1e-13)
    np.testing.assert_allclose(obj.batch(np.stack([theta, -theta])), [obj(theta), obj(-theta)], rtol=1e-13)


@pytest.mark.parametrize("decay", ["coupled", "decoupled"])
def test_one_backprop_step_by_hand(decay):
    model, obj = problem()
    theta0 = model.init(1)
    lr = 0.3
    r = BackpropTrainer(lr=lr, epochs=1, decay=decay).fit(obj, theta0=theta0, seed=0)
    _, g_data = obj.data_value_and_grad(theta0)
    pen_grad = np.zeros_like(theta0)
    pen_grad[model.weight_mask] = obj.penalty.grad(theta0[model.weight_mask])
    # full batch, no momentum: coupled and decoupled are the same step
    np.testing.assert_allclose(r.theta, theta0 - lr * (g_data + pen_grad), rtol=1e-13, atol=1e-15)


def test_every_trainer_minimizes_it():
    model, obj = problem()
    ref = LBFGSTrainer(max_iter=2000).fit(obj, theta0=model.init(0))
    assert ref.status == "converged"
    np.testing.assert_allclose(ref.value, obj(ref.theta), rtol=1e-13)
    bp = BackpropTrainer(lr=0.2, epochs=3000).fit(obj, theta0=model.init(0), seed=0)
    sw = SwarmTrainer(particles=30, iterations=1500).fit(obj, seed=0)
    for r in (bp, sw):
        assert r.value <= ref.value + max(0.05 * ref.value, 0.01), (r.trainer, r.value, ref.value)


def test_a_spec_can_ask_for_it():
    raw = {"datasets": ["iris"], "seeds": 1, "penalty": "weight_elimination", "w0": 0.25, "lambdas": [0.1],
           "trainers": [{"kind": "lbfgs"}]}
    spec = parse_spec(raw)
    run = next(expand_runs(spec))
    _, _, obj = build_problem(run)
    assert obj.penalty == WeightElimination(0.1, 0.25) == make_penalty("weight_elimination", 0.1, w0=0.25)
    # w0 is part of the identity of a weight-elimination sweep, and of no other
    assert parse_spec({**raw, "w0": 0.5}).hash != spec.hash
    l2 = {**{k: v for k, v in raw.items() if k != "w0"}, "penalty": "l2"}
    assert "w0" not in parse_spec(l2).to_toml() and "w0" not in next(expand_runs(parse_spec(l2)))
    with pytest.raises(ValueError, match="w0 must be a finite number > 0"):
        parse_spec({**raw, "w0": 0})
    with pytest.raises(ValueError, match=r'w0 is the scale of penalty = "weight_elimination"; this spec has '
                                         r"penalty = 'l2'"):
        parse_spec({**l2, "w0": 0.5})
