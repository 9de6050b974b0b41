"""CMA-ES's contract beyond the shared suite (budget, one batch per generation, no global
random state), and the network measures of a record against hand computation."""

import math

import numpy as np
import pytest

from swarmreg import MLP, RegularizedError, L2
from swarmreg.measures import effective_weights, saturation, trivial_theta

cma = pytest.importorskip("cma")
from swarmreg.cmaes import CMAESTrainer  # noqa: E402


class Counting:
    def __init__(self, n_params, n_samples=1):
        self.n_params, self.n_samples, self.calls = n_params, n_samples, []

    def batch(self, X):
        self.calls.append(np.array(X))
        return np.sum((X - 0.5) ** 2, axis=1)


def test_cmaes_keeps_its_budget_one_batch_a_generation():
    f = Counting(6, n_samples=10)
    r = CMAESTrainer(evaluations=500, population=8, tol=0.0).fit(f, seed=0)
    sizes = [len(c) for c in f.calls]
    assert sizes[0] == 1 and set(sizes[1:]) == {8}  # the initial mean, then one population a call
    assert sum(sizes) <= 500 and r.forward_samples == 10 * sum(sizes)
    assert r.iterations == len(f.calls) - 1 == len(r.history["value"]) - 1
    evaluated = np.concatenate(f.calls)
    assert np.any(np.all(evaluated == r.theta, axis=1))  # the result is an evaluated point
    assert r.value == pytest.approx(float(np.sum((r.theta - 0.5) ** 2)), rel=1e-14)


def test_cmaes_is_deterministic_and_leaves_numpys_global_state_alone():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = CMAESTrainer(evaluations=400).fit(Counting(5), seed=7)
    assert np.array_equal(np.random.get_state()[1], before)
    b = CMAESTrainer(evaluations=400).fit(Counting(5), seed=7)
    c = CMAESTrainer(evaluations=400).fit(Counting(5), seed=8)
    np.testing.assert_array_equal(a.theta, b.theta)
    assert not np.array_equal(a.theta, c.theta)


def test_cmaes_converges_on_a_sphere_and_says_so():
    r = CMAESTrainer(evaluations=20000, tol=1e-14).fit(Counting(4), seed=0)
    assert r.status == "converged" and r.value < 1e-12
    assert r.forward_samples < 20000


@pytest.mark.parametrize("diagonal", [True, False])
def test_cmaes_on_a_network_reaches_the_reference(diagonal):
    from swarmreg.reference import LBFGSTrainer
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 3)), rng.integers(0, 2, 60)
    model = MLP((3, 4, 2), output="softmax")
    obj = RegularizedError(model, X, y, penalty=L2(0.05))
    ref = min(LBFGSTrainer().fit(obj, theta0=model.init(s)).value for s in range(3))
    r = CMAESTrainer(evaluations=8000, diagonal=diagonal).fit(obj, seed=0)
    assert r.value <= ref + max(0.05 * ref, 0.01)


# ------------------------------------------------------------------ measures
def test_saturation_counts_hidden_activations_by_hand():
    model = MLP((1, 2, 1), hidden="tanh")
    theta = model.pack([(np.array([[3.0, 0.1]]), np.array([0.0, 0.0])), (np.array([[1.0], [1.0]]), np.array([0.0]))])
    X = np.array([[1.0], [0.0], [-2.0]])
    # unit 1: tanh(3x) = 0.995, 0, −1.0 → 2 of 3 saturated; unit 2: tanh(0.1x) never
    assert saturation(model, theta, X) == pytest.approx(2 / 6)
    sig = MLP((1, 2, 1), hidden="sigmoid")
    # sigmoid(3) = 0.953 (within 0.05 of 1), sigmoid(0) = 0.5, sigmoid(−6) = 0.0025
    assert saturation(sig, theta, X) == pytest.approx(2 / 6)
    assert saturation(MLP((1, 2, 1), hidden="relu"), theta, X) is None
    assert saturation(MLP((1, 1)), np.zeros(2), X) is None


def test_effective_weights_count_weights_above_the_threshold_only():
    model = MLP((2, 2, 1))
    theta = np.zeros(model.n_params)
    theta[model.weight_mask] = [0.5, -0.02, 0.005, 0.0, 1.0, -0.011]
    theta[~model.weight_mask] = 9.0  # biases never count
    assert effective_weights(theta, model.weight_mask) == 4
    assert effective_weights(theta, model.weight_mask, threshold=0.1) == 2


def test_trivial_predictor_is_the_class_prior_or_the_mean():
    model = MLP((3, 4, 3), output="softmax")
    y = np.array([0, 0, 0, 1, 2, 2])
    theta = trivial_theta(model, y, "cross_entropy")
    X = np.random.default_rng(0).normal(size=(6, 3))
    loss = RegularizedError(model, X, y).data_loss(theta)
    prior = np.array([3, 1, 2]) / 6
    assert loss == pytest.approx(-np.mean(np.log(prior[y])), rel=1e-12)  # the entropy of the prior
    np.testing.assert_array_equal(theta[model.weight_mask], 0.0)
    # a class absent from the training part gets half a sample's share, a finite log
    assert np.all(np.isfinite(trivial_theta(model, np.array([0, 0, 1]), "cross_entropy")))
    reg = MLP((3, 2, 2))
    yr = np.array([[1.0, 4.0], [3.0, 0.0]])
    t = trivial_theta(reg, yr, "mse")
    np.testing.assert_allclose(reg.predict(t, X[:2]), [[2.0, 2.0], [2.0, 2.0]])
    sig = MLP((3, 2, 1), output="sigmoid")
    ts = trivial_theta(sig, np.array([1.0, 0.0, 0.0, 0.0]), "binary_cross_entropy")
    assert sig.forward(ts, X[:1])[0, 0] == pytest.approx(0.25)
    assert math.isfinite(trivial_theta(sig, np.zeros(4), "binary_cross_entropy")[-1])


def test_cmaes_refuses_a_budget_below_two_generations_of_its_population():
    # 4 + ⌊3 ln 6⌋ = 9 samples a generation: 1 + 2·9 = 19 evaluations at least
    with pytest.raises(ValueError, match=r"evaluations=18 is less than the initial mean and two generations of 9"):
        CMAESTrainer(evaluations=18).fit(Counting(6), seed=0)
    assert CMAESTrainer(evaluations=19).fit(Counting(6), seed=0).iterations == 2
