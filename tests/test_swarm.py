"""SwarmTrainer: the update against hand-computed steps, the topologies against
brute force, and the whole optimizer against published acceptable-error goals."""

import ast
import copy
import math
from pathlib import Path

import numpy as np
import pytest

from swarmreg import MLP, RegularizedError, L2
from swarmreg.swarm import GlobalBest, RingBest, SwarmTrainer, init_swarm, move, tell


class Function:
    """A plain test function: only n_params and batch, nothing else."""

    def __init__(self, f, n_params):
        self.f = f
        self.n_params = n_params

    def batch(self, X):
        return self.f(X)


# Standard benchmark functions, minimum 0 at the origin (Rosenbrock: at 1).
def sphere(X):
    return np.sum(X**2, axis=1)


def rosenbrock(X):
    return np.sum(100.0 * (X[:, 1:] - X[:, :-1] ** 2) ** 2 + (1.0 - X[:, :-1]) ** 2, axis=1)


def rastrigin(X):
    return 10.0 * X.shape[1] + np.sum(X**2 - 10.0 * np.cos(2 * np.pi * X), axis=1)


def griewank(X):
    i = np.arange(1, X.shape[1] + 1)
    return 1.0 + np.sum(X**2, axis=1) / 4000.0 - np.prod(np.cos(X / np.sqrt(i)), axis=1)


def ackley(X):
    D = X.shape[1]
    return (-20.0 * np.exp(-0.2 * np.sqrt(np.sum(X**2, axis=1) / D))
            - np.exp(np.sum(np.cos(2 * np.pi * X), axis=1) / D) + 20.0 + np.e)


# ----------------------------------------------------------- one step by hand
def hand_velocity(v, x, p, g, r1, r2, w, c1, c2):
    """v ← w·v + c1·r1·(p − x) + c2·r2·(g − x), element by element."""
    out = np.empty_like(v)
    for i in range(v.shape[0]):
        for j in range(v.shape[1]):
            out[i, j] = w * v[i, j] + c1 * r1[i, j] * (p[i, j] - x[i, j]) + c2 * r2[i, j] * (g[j] - x[i, j])
    return out


@pytest.mark.parametrize("v_max, bounds", [(None, None), (0.3, None), (0.3, (-0.5, 0.5))])
def test_move_matches_hand_computed_step(v_max, bounds):
    P, D, w, c1, c2 = 6, 4, 0.7, 1.4, 1.6
    rng = np.random.default_rng(3)
    state = init_swarm(rng, P, D, (-0.5, 0.5), bounds)
    state.velocities *= 3.0  # large enough that some coordinates leave the box / get clamped
    tell(state, sphere(state.positions))
    state.personal_best += rng.normal(0, 0.2, (P, D))  # personal bests away from the positions
    x0, v0, p0 = state.positions.copy(), state.velocities.copy(), state.personal_best.copy()
    g = p0[1]
    r1, r2 = copy.deepcopy(rng).random((2, P, D))  # the draws move() will make

    move(state, rng, g, w, c1, c2, v_max, bounds)

    v = hand_velocity(v0, x0, p0, g, r1, r2, w, c1, c2)
    if v_max is not None:
        v = np.array([[min(max(e, -v_max), v_max) for e in row] for row in v])
    x = x0 + v
    if bounds is not None:
        low, high = bounds
        for i in range(P):
            for j in range(D):
                if x[i, j] < low or x[i, j] > high:
                    x[i, j] = low if x[i, j] < low else high
                    v[i, j] = 0.0
        assert np.any(state.velocities == 0.0), "the case must exercise the bound handling"
    if v_max is not None:
        assert np.any(np.abs(v0) > v_max)
    np.testing.assert_allclose(state.velocities, v, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(state.positions, x, rtol=1e-13, atol=1e-15)


def test_tell_keeps_non_finite_values_out_of_the_personal_bests():
    rng = np.random.default_rng(0)
    state = init_swarm(rng, 5, 2, (-1, 1), None)
    tell(state, np.array([3.0, 2.0, np.nan, np.inf, 1.0]))
    np.testing.assert_array_equal(state.personal_best_value, [3.0, 2.0, np.inf, np.inf, 1.0])
    before = state.personal_best.copy()
    state.positions += 1.0
    tell(state, np.array([4.0, 1.5, 7.0, -np.inf, np.nan]))
    np.testing.assert_array_equal(state.personal_best_value, [3.0, 1.5, 7.0, np.inf, 1.0])
    for i, moved in enumerate([False, True, True, False, False]):
        expected = state.positions[i] if moved else before[i]
        np.testing.assert_array_equal(state.personal_best[i], expected)


@pytest.mark.parametrize("P, k", [(5, 1), (7, 2), (9, 4), (12, 3)])
def test_ring_best_is_the_best_within_k_index_steps(P, k):
    rng = np.random.default_rng(P + k)
    state = init_swarm(rng, P, 3, (-1, 1), None)
    tell(state, rng.permutation(P).astype(float))  # distinct values: no ties
    got = RingBest(P, 3, k)(state)
    for i in range(P):
        window = [(i + off) % P for off in range(-k, k + 1)]
        j = min(window, key=lambda m: state.personal_best_value[m])
        np.testing.assert_array_equal(got[i], state.personal_best[j])
    g = GlobalBest()(state)
    np.testing.assert_array_equal(g, state.personal_best[np.argmin(state.personal_best_value)])


# ------------------------------------------------------------- whole optimizer
GOALS = [  # (function, half width of the domain, acceptable error)
    (sphere, 100.0, 0.01),
    (rosenbrock, 30.0, 100.0),
    (rastrigin, 5.12, 100.0),
    (griewank, 600.0, 0.05),
    (ackley, 32.768, 0.01),
]


@pytest.mark.slow
@pytest.mark.parametrize("f, half, goal", GOALS, ids=[g[0].__name__ for g in GOALS])
def test_ring_swarm_meets_acceptable_error_goals_in_30_dimensions(f, half, goal):
    trainer = SwarmTrainer(particles=40, iterations=5000, topology="ring", neighbors=1,
                           bounds=(-half, half), init_range=(-half, half))
    finals = [trainer.fit(Function(f, 30), seed=seed).value for seed in range(5)]
    assert sum(v < goal for v in finals) >= 4, finals


def test_global_swarm_reproduces_pyswarms_step_for_step(tmp_path, monkeypatch, numpy_backend):
    """Fed PySwarms' random numbers (numpy's generator: the numpy backend), the global swarm retraces GlobalBestPSO's
    best-value curve: the same algorithm, evaluated with one batch call."""
    monkeypatch.chdir(tmp_path)  # pyswarms writes report.log into the working directory
    ps = pytest.importorskip("pyswarms")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 3)), rng.integers(0, 2, 30)
    objective = RegularizedError(MLP((3, 4, 2), output="softmax"), X, y, penalty=L2(0.01))
    P, T, seed = 15, 150, 3
    np.random.seed(seed)
    opt = ps.single.GlobalBestPSO(n_particles=P, dimensions=objective.n_params,
                                  options={"w": 0.8, "c1": 1.2, "c2": 0.9}, velocity_clamp=(-0.5, 0.5))
    _, best_pos = opt.optimize(objective.batch, iters=T, verbose=False)
    # The same legacy MT19937 stream as a Generator; PySwarms builds its swarm
    # twice on construction, so the first positions and velocities are skipped.
    stream = np.random.MT19937()
    stream.state = np.random.RandomState(seed).get_state(legacy=False)
    stream = np.random.Generator(stream)
    stream.random(2 * P * objective.n_params)
    # U[0, 1) positions, velocities −0.5 + U[0, 1) and the clamp ±0.5, as PySwarms has them
    r = SwarmTrainer(particles=P, iterations=T, inertia=0.8, c1=1.2, c2=0.9, gcpso=False, bounds=None,
                     init_range=(0.0, 1.0), v_max=0.5).fit(objective, seed=stream)
    np.testing.assert_allclose(r.history["value"], opt.cost_history, rtol=1e-10)
    np.testing.assert_allclose(r.theta, best_pos, rtol=1e-10, atol=1e-12)


def test_plain_function_needs_only_n_params_and_batch():
    r = SwarmTrainer(particles=20, iterations=300).fit(Function(sphere, 5), seed=1)
    assert r.value < 1e-6
    assert r.value == pytest.approx(float(np.sum(r.theta**2)), rel=1e-14)
    assert r.data_loss == r.value and r.penalty == 0.0
    # no model: weight statistics over every coordinate
    assert r.history["weight_sq_norm"][-1] == pytest.approx(np.sum(r.theta**2))
    assert r.forward_samples == 20 * 300  # one sample per particle and evaluation: P · iterations


def test_history_columns_follow_the_swarm():
    P, D = 40, 30
    r = SwarmTrainer(particles=P, iterations=401).fit(Function(sphere, D), seed=2)  # 401 evaluations, 400 moves
    h = r.history
    np.testing.assert_array_equal(h["iteration"], np.arange(401))
    np.testing.assert_array_equal(h["forward_samples"], P * np.arange(1, 402))
    assert np.all(np.diff(h["value"]) <= 0)
    assert np.all(h["mean_personal_best"] >= h["value"])
    # uniform init in [-1, 1]^D: E‖x − centroid‖ ≈ sqrt(D/3·(1 − 1/P)) (concentration in 30-D)
    assert h["diversity"][0] == pytest.approx(math.sqrt(D / 3 * (1 - 1 / P)), rel=0.05)
    assert h["diversity"][-1] < 1e-2 * h["diversity"][0]  # the swarm has collapsed on the optimum


def test_theta0_is_particle_zero():
    theta0 = np.zeros(6)
    r = SwarmTrainer(particles=10, iterations=1).fit(Function(sphere, 6), theta0=theta0, seed=0)
    assert r.history["value"][0] == 0.0
    np.testing.assert_array_equal(r.theta, theta0)
    with pytest.raises(ValueError, match="theta0"):
        SwarmTrainer(bounds=(-1, 1)).fit(Function(sphere, 2), theta0=np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match="theta0"):
        SwarmTrainer().fit(Function(sphere, 2), theta0=np.zeros(3))


def test_non_finite_values_are_never_best():
    def half_nan(X):
        v = np.sum(X**2, axis=1)
        v[X[:, 0] > 0] = np.nan  # the unconstrained optimum x[0] = 0 is approached only from below
        v[X[:, 1] > 0.5] = np.inf
        return v

    r = SwarmTrainer(particles=20, iterations=200).fit(Function(half_nan, 3), seed=0)
    assert math.isfinite(r.value) and r.theta[0] <= 0 and r.theta[1] <= 0.5
    assert np.all(np.isfinite(r.history["value"]))

    r = SwarmTrainer(particles=5, iterations=10).fit(Function(lambda X: np.full(len(X), np.nan), 3), seed=0)
    assert r.status == "diverged" and r.value == math.inf


def test_stalled_after_patience_iterations_without_improvement():
    flat = Function(lambda X: np.ones(len(X)), 3)
    r = SwarmTrainer(particles=5, iterations=100, patience=7).fit(flat, seed=0)
    assert r.status == "stalled" and r.iterations == 7
    # a relative tolerance of 1 counts every improvement of a positive best as stalled
    r = SwarmTrainer(particles=5, iterations=100, tol=1.0, patience=4).fit(Function(sphere, 3), seed=0)
    assert r.status == "stalled" and r.iterations == 4
    r = SwarmTrainer(particles=5, iterations=30, patience=None).fit(flat, seed=0)
    assert r.status == "max_iter" and r.iterations == 29  # 30 evaluations, 29 moves


def test_float32_objective_agrees_with_float64():
    rng = np.random.default_rng(4)
    n, lam = 80, 0.05
    X = rng.normal(size=(n, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.1 * rng.normal(size=n)
    model = MLP((3, 1))
    e64 = RegularizedError(model, X, y, penalty=L2(lam))
    e32 = RegularizedError(model, X, y, penalty=L2(lam), dtype=np.float32)
    # ridge optimum in closed form (intercept unpenalized)
    Xc, yc = X - X.mean(0), y - y.mean()
    w = np.linalg.solve(Xc.T @ Xc * (2 / n) + lam * np.eye(3), Xc.T @ yc * (2 / n))
    best = e64(np.r_[w, y.mean() - X.mean(0) @ w])
    trainer = SwarmTrainer(particles=30, iterations=400)
    r32, r64 = trainer.fit(e32, seed=5), trainer.fit(e64, seed=5)
    assert r32.theta.dtype == np.float64
    # the float32 result is an ordinary point of E: float64 agrees to float32 precision
    assert e64(r32.theta) == pytest.approx(r32.value, rel=1e-6)
    # both precisions reach the optimum to the swarm's accuracy
    assert r32.value == pytest.approx(best, rel=1e-3)
    assert r64.value == pytest.approx(best, rel=1e-3)


@pytest.mark.parametrize("seed", [0, 7])
def test_float32_search_of_a_float64_objective(seed, each_backend):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] - X[:, 2] > 0).astype(int)
    e64 = RegularizedError(MLP((4, 5, 2), output="softmax"), X, y, penalty=L2(0.01))
    e32 = e64.astype(np.float32)
    assert e64.astype("float64") is e64 and e32.dtype == np.float32
    theta = rng.normal(size=e64.n_params)
    assert e32(theta) == pytest.approx(e64(theta), rel=1e-5)
    trainer = SwarmTrainer(particles=12, iterations=60)
    searched = trainer.fit(e32, seed=3)
    r = SwarmTrainer(particles=12, iterations=60, dtype="float32").fit(e64, seed=3)
    # the same search as on the float32 copy itself, bit for bit ...
    np.testing.assert_array_equal(r.theta, searched.theta)
    np.testing.assert_array_equal(r.history["value"], searched.history["value"])
    # ... and the reported E, D, R are the float64 objective's own at that point
    parts = e64.parts(r.theta)
    assert (r.value, r.data_loss, r.penalty) == (parts["total"], parts["data"], parts["penalty"])
    assert r.config["dtype"] == "float32"
    # "float64" on a float64 objective is the default search
    np.testing.assert_array_equal(SwarmTrainer(particles=12, iterations=60, dtype="float64").fit(e64, seed=3).theta,
                                  trainer.fit(e64, seed=3).theta)


def test_float32_search_needs_an_objective_that_converts():
    class Sphere:
        n_params = 3

        def batch(self, thetas):
            return (np.asarray(thetas) ** 2).sum(axis=1)

    with pytest.raises(ValueError, match="astype"):
        SwarmTrainer(particles=4, iterations=3, dtype="float32").fit(Sphere(), seed=0)


def test_swarm_module_does_not_import_backprop():
    tree = ast.parse(Path(__file__).parents[1].joinpath("swarmreg", "swarm.py").read_text())
    imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    imported += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not any("backprop" in m for m in imported)


@pytest.mark.parametrize("kwargs, name", [
    ({"particles": 1}, "particles"),
    ({"particles": 2.5}, "particles"),
    ({"iterations": 0}, "iterations"),
    ({"inertia": -0.1}, "inertia"),
    ({"c1": -1.0}, "c1"),
    ({"c2": float("nan")}, "c2"),
    ({"bounds": (1.0, 1.0)}, "bounds"),
    ({"bounds": (2.0, -2.0)}, "bounds"),
    ({"init_range": (-20.0, 1.0)}, "init_range"),
    ({"init_range": (0.5, 0.5)}, "init_range"),
    ({"topology": "star"}, "topology"),
    ({"neighbors": 0}, "neighbors"),
    ({"topology": "ring", "particles": 4, "neighbors": 2}, "neighbors"),
    ({"v_max": 0.0}, "v_max"),
    ({"tol": -1e-3}, "tol"),
    ({"patience": 0}, "patience"),
    ({"dtype": "float16"}, "dtype"),
])
def test_bad_settings_name_the_setting(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SwarmTrainer(**kwargs)


def test_ring_neighbourhood_may_span_the_whole_swarm():
    SwarmTrainer(particles=5, topology="ring", neighbors=2)  # 2·2 + 1 = 5 particles: allowed
    SwarmTrainer(particles=2, topology="global", neighbors=1)  # neighbors unused by the global topology
