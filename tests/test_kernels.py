"""The compiled kernels (the fast extra) against their numpy twins, which stay the reference."""

import math

import numpy as np
import pytest
from scipy.special import expit

from swarmreg import L1, L2, MLP, ElasticNet, RegularizedError, WeightElimination, backend
from swarmreg import decay as D
from swarmreg.backprop import BackpropTrainer
from swarmreg.swarm import Diversity, SwarmTrainer, compiled_tell, init_swarm, tell

pytestmark = pytest.mark.skipif(not backend.numba_available(), reason="numba (the fast extra) not installed")

if backend.numba_available():
    import numba

    from swarmreg.kernels import mathfn
    from swarmreg.kernels.epoch import EpochRunner
    from swarmreg.kernels.update import diversity as kernel_diversity

PAIRS = [("identity", "mse"), ("softmax", "cross_entropy"), ("softmax", "mse"), ("sigmoid", "binary_cross_entropy"),
         ("sigmoid", "mse")]
PENALTIES = [None, L2(0.3), L1(0.05), ElasticNet(0.02, 0.2), WeightElimination(0.2, 0.5)]


def problem(sizes, hidden, output, loss, penalty=None, n=300, seed=0, dtype=np.float64, regularize_bias=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, sizes[0]))
    k = sizes[-1]
    if loss == "cross_entropy":
        y = rng.integers(0, k, n)
    elif output in ("softmax", "sigmoid"):
        y = rng.random((n, k))
    else:
        y = rng.standard_normal((n, k))
    return RegularizedError(MLP(sizes, hidden=hidden, output=output), X, y, loss=loss, penalty=penalty,
                            dtype=dtype, regularize_bias=regularize_bias)


# ------------------------------------------------------------------ elementary functions
def _looped(fn):
    @numba.njit(**{**mathfn.JIT, "cache": False})
    def loop(x, out):
        for i in range(x.size):
            out[i] = fn(x[i])
    return loop


MATH = {
    "exp": ("exp_", np.exp, (-708.0, 709.0), (-87.0, 88.0)),   # the normal results
    "expm1": ("expm1_", np.expm1, (-50.0, 50.0), (-50.0, 50.0)),
    "tanh": ("tanh_", np.tanh, (-20.0, 20.0), (-20.0, 20.0)),
    "sigmoid": ("sigmoid_", expit, (-700.0, 700.0), (-80.0, 80.0)),
    "log1p_exp_neg": ("log1p_exp_neg_", lambda a: np.log1p(np.exp(-a)), (0.0, 700.0), (0.0, 80.0)),
}


@pytest.mark.parametrize("name", list(MATH) + ["log"])
@pytest.mark.parametrize("dtype, ulps", [(np.float64, 4), (np.float32, 4)])
def test_elementary_functions_are_within_a_few_ulp_of_numpy(name, dtype, ulps):
    rng = np.random.default_rng(1)
    if name == "log":
        fn, ref = mathfn.log_, np.log
        hi = 300 if dtype == np.float64 else 37
        x = np.r_[10.0 ** rng.uniform(-hi, hi, 200_000), rng.uniform(0.5, 2.0, 10_000)]
        if dtype == np.float64:
            x = np.r_[x, 5e-324, 1e-310]  # subnormals
    else:
        attr, ref, r64, r32 = MATH[name]
        fn = getattr(mathfn, attr)
        lo, hi = r64 if dtype == np.float64 else r32
        x = np.r_[rng.uniform(lo, hi, 200_000), rng.uniform(-1e-6, 1e-6, 1000) * (lo < 0), 0.0]
    x = x.astype(dtype)
    out = np.empty_like(x)
    _looped(fn)(x, out)
    want = ref(x.astype(np.float64)).astype(dtype)
    ok = np.isfinite(want) & (np.abs(want) >= np.finfo(dtype).tiny)  # normal results: ulps are meaningful
    err = np.abs(out[ok].astype(np.float64) - want[ok]) / np.spacing(np.abs(want[ok]))
    assert err.max() <= ulps


def test_exp_keeps_results_normal_below_its_range():
    x = np.array([-708.3, -720.0, -1e4])
    out = np.empty_like(x)
    _looped(mathfn.exp_)(x, out)
    assert np.all(out >= np.finfo(float).tiny) and np.all(out < 2.5e-308)


# ------------------------------------------------------------------ the swarm's evaluation
@pytest.mark.parametrize("output, loss", PAIRS)
@pytest.mark.parametrize("penalty", PENALTIES, ids=lambda p: repr(p))
@pytest.mark.parametrize("hidden", ["tanh", "sigmoid", "relu", "identity"])
def test_batch_equals_the_numpy_batch(output, loss, penalty, hidden):
    obj = problem((3, 6, 4, 2), hidden, output, loss, penalty, n=333, regularize_bias=hidden == "relu")
    thetas = np.random.default_rng(2).normal(size=(9, obj.n_params))
    with backend.use("numpy"):
        want, want_d = obj.batch(thetas), obj.batch_data_loss(thetas)
        want_one = obj.data_loss(thetas[0])
    with backend.use("numba"):
        got, got_d = obj.batch(thetas), obj.batch_data_loss(thetas)
        got_one = obj.data_loss(thetas[0])
        again = obj.batch(thetas)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    np.testing.assert_allclose(got_d, want_d, rtol=1e-12, atol=0)
    assert got_one == pytest.approx(want_one, rel=1e-12)
    np.testing.assert_array_equal(again, got)  # bit for bit on a repeat


@pytest.mark.parametrize("output, loss", PAIRS)
def test_float32_batch_agrees_to_float32_precision(output, loss):
    obj = problem((5, 12, 3), "tanh", output, loss, L2(0.1), n=500, dtype=np.float32)
    thetas = np.random.default_rng(3).normal(size=(7, obj.n_params))
    with backend.use("numpy"):
        want = obj.batch(thetas)
    with backend.use("numba"):
        got = obj.batch(thetas)
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=0)


@pytest.mark.parametrize("sizes", [(4, 3), (2, 40, 1), (7, 5, 5, 5, 3), (30, 16, 2)])
def test_batch_on_other_shapes_long_data_and_many_threads(sizes):
    output, loss = ("softmax", "cross_entropy") if sizes[-1] > 1 else ("identity", "mse")
    obj = problem(sizes, "tanh", output, loss, ElasticNet(0.01, 0.1), n=1000)  # several sample chunks
    thetas = np.random.default_rng(4).normal(size=(11, obj.n_params))
    with backend.use("numpy"):
        want = obj.batch(thetas)
    with backend.use("numba"):
        one = obj.batch(thetas)
    with backend.use("numba", threads=3):
        three = obj.batch(thetas)
    np.testing.assert_allclose(one, want, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(three, one)  # blocks of particles: the same numbers


def test_a_row_with_a_non_finite_or_huge_parameter():
    obj = problem((3, 4, 2), "tanh", "softmax", "cross_entropy", L2(0.1))
    thetas = np.random.default_rng(5).normal(size=(4, obj.n_params))
    thetas[1, 2] = np.inf
    thetas[2, 0] = np.nan
    thetas[3, 5] = 1e200   # beyond the kernel: the numpy code computes this row
    with backend.use("numpy"), np.errstate(all="ignore"):
        want = obj.batch(thetas)
    with backend.use("numba"), np.errstate(all="ignore"):
        E = obj.batch(thetas)
    assert E[0] == pytest.approx(want[0], rel=1e-12) and math.isnan(E[2])
    np.testing.assert_array_equal(E[[1, 3]], want[[1, 3]])  # the numpy code's own values, overflow and all
    assert not np.isfinite(want[1:]).any()


# ------------------------------------------------------------------ the swarm's bookkeeping
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_bests_and_diversity_equal_the_numpy_ones(dtype):
    P, D = 9, 7
    rng = np.random.default_rng(6)
    twin, compiled = (init_swarm(np.random.default_rng(1), P, D, (-1.0, 1.0), None, dtype=dtype) for _ in range(2))
    for step in range(4):
        values = rng.normal(size=P)
        values[step] = np.nan if step % 2 else np.inf   # never a best
        for state in (twin, compiled):
            state.positions[:] = rng.uniform(-1, 1, (P, D)) if state is twin else twin.positions
        tell(twin, values)
        compiled_tell(compiled, values)
        np.testing.assert_array_equal(compiled.personal_best, twin.personal_best)
        np.testing.assert_array_equal(compiled.personal_best_value, twin.personal_best_value)
        np.testing.assert_array_equal(compiled.values, twin.values)
    assert Diversity(P, D, dtype, compiled=True)(twin) == pytest.approx(Diversity(P, D, dtype)(twin), rel=1e-6)
    centroid = np.empty(D)
    by_hand = np.mean(np.linalg.norm(twin.positions - twin.positions.mean(axis=0), axis=1))
    assert kernel_diversity(twin.positions, centroid) == pytest.approx(by_hand, rel=1e-6)


@pytest.mark.parametrize("settings", [dict(), dict(topology="ring", boundary="reflect"), dict(gcpso=False),
                                      dict(split=3, boundary="random", bounds=(-2.0, 2.0))])
def test_a_seed_gives_the_same_swarm_on_both_backends(settings):
    """The move and its random numbers are numpy's on both backends: only the evaluation's last
    bits differ, which changes no comparison on this problem."""
    obj = problem((4, 6, 3), "tanh", "softmax", "cross_entropy", L2(0.01), n=120)
    trainer = SwarmTrainer(particles=20, iterations=300, **settings)
    with backend.use("numba"):
        a, b = trainer.fit(obj, seed=3), trainer.fit(obj, seed=3)
    with backend.use("numpy"):
        ref = trainer.fit(obj, seed=3)
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_allclose(a.theta, ref.theta, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.history["value"], ref.history["value"], rtol=1e-12)


# ------------------------------------------------------------------ backprop's epoch
CHAINS = [dict(optimizer="sgd", decay="coupled", l1="subgradient"),
          dict(optimizer="sgd", decay="decoupled", l1="proximal", momentum=0.9, decay_fraction=0.01),
          dict(optimizer="adam", decay="coupled", l1="subgradient"),
          dict(optimizer="adam", decay="decoupled", l1="proximal", decay_fraction=0.02)]


@pytest.mark.parametrize("output, loss", PAIRS)
@pytest.mark.parametrize("penalty", PENALTIES, ids=lambda p: repr(p))
@pytest.mark.parametrize("chain", CHAINS, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_the_compiled_epoch_equals_the_numpy_trainer(output, loss, penalty, chain):
    obj = problem((4, 7, 3), "tanh", output, loss, penalty, n=53)
    kw = dict(lr=0.05, epochs=4, batch_size=8, lr_schedule="cosine", **chain)
    with backend.use("numpy"):
        want = BackpropTrainer(**kw).fit(obj, seed=1)
    with backend.use("numba"):
        got = BackpropTrainer(**kw).fit(obj, seed=1)
    assert np.abs(want.theta - obj.model.init(np.random.default_rng(1).spawn(2)[0])).max() > 1e-3
    np.testing.assert_allclose(got.theta, want.theta, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got.history["value"], want.history["value"], rtol=1e-12)
    assert (got.forward_samples, got.backward_samples, got.status) == \
        (want.forward_samples, want.backward_samples, want.status)


@pytest.mark.parametrize("hidden", ["sigmoid", "relu", "identity"])
def test_the_compiled_epoch_on_deeper_networks_and_full_batch(hidden):
    obj = problem((3, 5, 4, 2), hidden, "identity", "mse", WeightElimination(0.1, 0.5), n=40)
    for batch in (None, 1, 7):
        kw = dict(lr=0.02, epochs=3, batch_size=batch, momentum=0.5, decay="decoupled")
        with backend.use("numpy"):
            want = BackpropTrainer(**kw).fit(obj, seed=2)
        with backend.use("numba"):
            got = BackpropTrainer(**kw).fit(obj, seed=2)
        np.testing.assert_allclose(got.theta, want.theta, rtol=1e-12, atol=1e-14)


def test_a_diverging_run_ends_the_same_way_on_both_backends():
    obj = problem((2, 8, 1), "tanh", "identity", "mse", None, n=30)
    with backend.use("numpy"):
        want = BackpropTrainer(lr=1e6, epochs=5, batch_size=4).fit(obj, seed=0)
    with backend.use("numba"):
        got = BackpropTrainer(lr=1e6, epochs=5, batch_size=4).fit(obj, seed=0)
    assert got.status == want.status == "diverged"
    assert got.iterations == want.iterations
    np.testing.assert_allclose(got.theta, want.theta, rtol=1e-12)


def test_an_objective_that_overrides_its_gradient_is_trained_by_the_numpy_loop():
    class Scaled(RegularizedError):
        def data_value_and_grad(self, theta, rows=None):
            d, g = super().data_value_and_grad(theta, rows)
            return d, 2.0 * g

    base = problem((3, 4, 1), "tanh", "identity", "mse", None, n=20)
    obj = Scaled(base.model, base.X, base.target)
    with backend.use("numba"):
        got = BackpropTrainer(lr=0.01, epochs=2).fit(obj, seed=0)
    with backend.use("numpy"):
        want = BackpropTrainer(lr=0.02, epochs=2).fit(base, seed=0)
    np.testing.assert_allclose(got.theta, want.theta, rtol=1e-12)


def test_rule_settings_refuse_a_rule_they_do_not_know():
    class Odd:
        stage = "parameter"

        def __call__(self, *args):
            pass

    obj = problem((3, 2), "tanh", "identity", "mse")
    rules = D.chain(D.SGD(0.0, np.zeros(obj.n_params)), Odd())
    with pytest.raises(ValueError, match="no compiled form"):
        EpochRunner(obj, rules, 4)
