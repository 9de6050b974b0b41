"""The contract every trainer keeps: one suite parametrized over backprop,
the swarm and the L-BFGS reference."""

import ast
import inspect
import json
import os
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from swarmreg import MLP, RegularizedError, L1, L2, backend, checks
from swarmreg.backprop import BackpropTrainer
from swarmreg.cmaes import CMAESTrainer
from swarmreg.reference import LBFGSTrainer
from swarmreg.result import HISTORY_COLUMNS, STATUSES, TrainResult
from swarmreg.swarm import SwarmTrainer
from swarmreg.training import (FIT_OVERHEAD, BatchObjective, GradientObjective, call_callback_maybe_halt,
                               require)

# Small, quick settings per trainer for the contract checks.
QUICK = {
    "backprop": lambda: BackpropTrainer(lr=0.1, epochs=20, batch_size=16),
    "swarm": lambda: SwarmTrainer(particles=12, iterations=25),
    "lbfgs": lambda: LBFGSTrainer(max_iter=25),
    "cmaes": lambda: CMAESTrainer(evaluations=300),
}
# Bad settings per trainer: (kwargs, the name the error must mention).
BAD = {
    "backprop": [({"lr": 0.0}, "lr"), ({"epochs": 0}, "epochs"), ({"momentum": 1.0}, "momentum"),
                 ({"decay": "late"}, "decay"), ({"batch_size": 0}, "batch_size")],
    "swarm": [({"particles": 1}, "particles"), ({"iterations": 0}, "iterations"), ({"c1": -0.5}, "c1"),
              ({"topology": "star"}, "topology"), ({"bounds": (1, -1)}, "bounds")],
    "lbfgs": [({"max_iter": 0}, "max_iter"), ({"tol": 0.0}, "tol")],
    "cmaes": [({"evaluations": 1}, "evaluations"), ({"population": 1}, "population"),
              ({"init_scale": 0.0}, "init_scale"), ({"diagonal": "yes"}, "diagonal"),
              ({"evaluations": 10, "population": 6}, "evaluations")],
}
CLASSES = {"backprop": BackpropTrainer, "swarm": SwarmTrainer, "lbfgs": LBFGSTrainer, "cmaes": CMAESTrainer}
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
    # the result holds the settings as data: tuples as JSON lists
    assert r.trainer == name and r.status in STATUSES and r.config == json.loads(json.dumps(trainer.config))
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
    "cmaes": lambda: CMAESTrainer(evaluations=3000),
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
    "cmaes": (lambda: CMAESTrainer(evaluations=6000), 1e-6),
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


# ------------------------------------------------------------ the shared skeleton
@pytest.mark.parametrize("name", NAMES)
def test_config_and_repr_are_the_signature(name):
    cls = CLASSES[name]
    trainer = QUICK[name]()
    params = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    assert list(trainer.config) == params
    assert cls(**trainer.config).config == trainer.config
    assert eval(repr(trainer), {cls.__name__: cls}).config == trainer.config


def test_the_callback_protocol():
    def stop(info):
        raise StopIteration

    seen = []
    assert call_callback_maybe_halt(stop, {}) is True
    assert call_callback_maybe_halt(seen.append, {"a": 1}) is False and seen == [{"a": 1}]
    assert call_callback_maybe_halt(None, {}) is False
    with pytest.raises(KeyError):  # anything but StopIteration is the caller's error
        call_callback_maybe_halt(lambda info: info["missing"], {})


def test_objectives_meet_the_protocols(objective):
    assert isinstance(objective, BatchObjective) and isinstance(objective, GradientObjective)
    require(objective, BatchObjective)
    require(objective, GradientObjective)
    with pytest.raises(ValueError, match=r"n_params and batch\(thetas\); object lacks n_params, batch\(\)"):
        require(object(), BatchObjective)


def _without(objective, name):
    """An object with every public attribute of ``objective`` but ``name``."""
    return SimpleNamespace(**{k: getattr(objective, k) for k in dir(objective)
                              if not k.startswith("_") and k != name})


@pytest.mark.parametrize("name, lacking", [("swarm", "batch"), ("backprop", "data_value_and_grad"),
                                           ("backprop", "penalty_slices"), ("lbfgs", "parts"),
                                           ("lbfgs", "model")])
def test_fit_names_what_the_objective_lacks(name, lacking, objective):
    with pytest.raises(ValueError, match=rf"objective must be .*lacks {lacking}"):
        QUICK[name]().fit(_without(objective, lacking), seed=0)


def test_trainers_never_import_each_other_and_the_core_never_imports_the_sweep():
    root = Path(__file__).parents[1] / "swarmreg"
    trainers = {"backprop", "swarm", "reference"}
    core = trainers | {"model", "objective", "penalties", "decay", "training", "result", "checks"}
    for module in core:
        tree = ast.parse((root / f"{module}.py").read_text())
        imported = {a.name.split(".")[-1] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {(n.module or "").split(".")[-1] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.module
                     for a in n.names}
        assert not imported & {"experiment", "sweep", "plots", "report", "cli"}, module
        if module in trainers:
            assert not imported & (trainers - {module}), module


# ------------------------------------------------------------------ memory
MEMORY_CASES = {
    "tiny": ((3, 4, 1), 64, L2(0.01), np.float64),
    "wide softmax, L1": ((10, 200, 3), 2000, L1(0.01), np.float64),
    "deep, float32": ((5, 50, 50, 2), 500, None, np.float32),
    "many inputs": ((300, 40, 1), 400, L2(0.1), np.float64),
}
MEMORY_TRAINERS = {
    "backprop": lambda: BackpropTrainer(lr=0.01, epochs=4, batch_size=32),
    "backprop full batch": lambda: BackpropTrainer(lr=0.01, epochs=3),
    "swarm": lambda: SwarmTrainer(particles=20, iterations=10),
    "swarm ring": lambda: SwarmTrainer(particles=9, iterations=5, topology="ring", neighbors=2),
    "lbfgs": lambda: LBFGSTrainer(max_iter=15),
}


def peak_and_estimate(trainer, case):
    """The peak bytes a fit of a MEMORY_TRAINERS entry allocates on a MEMORY_CASES problem (measured after a
    first fit, so that compiling and imports do not count), and the trainer's estimate of it."""
    sizes, n, penalty, dtype = MEMORY_CASES[case]
    rng = np.random.default_rng(0)
    output = "softmax" if sizes[-1] > 1 else "identity"
    y = rng.integers(0, sizes[-1], n) if output == "softmax" else rng.normal(size=n)
    obj = RegularizedError(MLP(sizes, output=output), rng.normal(size=(n, sizes[0])), y, penalty=penalty,
                           dtype=dtype)
    tr = MEMORY_TRAINERS[trainer]()
    tr.fit(obj, seed=0)
    tracemalloc.start()
    try:
        tr.fit(obj, seed=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, tr.memory_bytes(obj.model, n, dtype, l1=penalty is not None and penalty.l1 > 0)


@pytest.mark.parametrize("trainer", list(MEMORY_TRAINERS))
@pytest.mark.parametrize("case", list(MEMORY_CASES))
def test_memory_estimate_bounds_the_measured_peak(numpy_backend, trainer, case):
    peak, estimate = peak_and_estimate(trainer, case)
    assert peak <= estimate <= 3 * peak + FIT_OVERHEAD, (peak, estimate)


@pytest.mark.skipif(not backend.numba_available(), reason="the compiled epoch needs numba")
@pytest.mark.parametrize("trainer", ["backprop", "backprop full batch"])
@pytest.mark.parametrize("case", list(MEMORY_CASES))
def test_memory_estimate_bounds_the_compiled_epochs_peak(trainer, case):
    with backend.use("numba"):
        peak, estimate = peak_and_estimate(trainer, case)
    # an upper estimate on this path too (it is tight for the numpy loop, whose temporaries are larger)
    assert peak <= estimate, (peak, estimate)


def test_a_swarm_too_large_for_the_machine_is_refused_before_allocating(monkeypatch):
    monkeypatch.setattr(checks, "available_memory", lambda: 23 * 10**9)
    rng = np.random.default_rng(0)
    model = MLP((4, 100000, 3), output="softmax")  # 800 003 parameters
    obj = RegularizedError(model, rng.normal(size=(150, 4)), rng.integers(0, 3, 150))
    trainer = SwarmTrainer(particles=1000, iterations=5)
    # 1000 × 800 003 × (6 float64 planes + a bool mask) ≈ 39.2e9 bytes, one evaluation of the
    # best theta on 150 samples (two layers of 150 × 100 000 float64, 0.24e9), and the vectors of
    # D floats (the best point, the start's widths, the clamp, GCPSO's: 11 × 6.4e6 = 0.07e9)
    assert 39.2e9 < trainer.memory_bytes(model, 150, l1=False) < 39.6e9
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"^SwarmTrainer\.fit of MLP\(sizes=\(4, 100000, 3\).* on 150 samples "
                                             r"needs about 40 GB of memory; this machine has 23 GB available$"):
            trainer.fit(obj, seed=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


@pytest.mark.parametrize("name", ["backprop", "lbfgs"])
def test_gradient_trainers_refuse_a_fit_too_large_for_the_machine(name, monkeypatch, objective):
    monkeypatch.setattr(checks, "available_memory", lambda: 10**4)
    with pytest.raises(ValueError, match=r"needs about .* kB of memory; this machine has 10 kB available"):
        QUICK[name]().fit(objective, seed=0)


def test_available_memory_is_the_smallest_limit(monkeypatch, tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  8000 kB\nMemFree:  3000 kB\nMemAvailable:  2048 kB\n")
    limit, usage = tmp_path / "memory.max", tmp_path / "memory.current"
    limit.write_text("1000000\n")
    usage.write_text("400000\n")
    monkeypatch.setattr(checks, "MEMINFO", str(meminfo))
    monkeypatch.setattr(checks, "CGROUP_LIMITS", ((str(limit), str(usage)),))
    assert checks.available_memory() == 600000           # the cgroup's room
    limit.write_text("max\n")                             # no cgroup limit: MemAvailable
    assert checks.available_memory() == 2048 * 1024
    monkeypatch.setattr(checks, "MEMINFO", str(tmp_path / "absent"))
    assert checks.available_memory() == os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    checks.enough_memory(10**5, "a small fit")
    with pytest.raises(ValueError, match="a big fit needs about"):
        checks.enough_memory(10**18, "a big fit")
