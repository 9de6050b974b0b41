"""The compiled kernels (the fast extra) against their numpy twins, which stay the reference."""

import math

import numpy as np
import pytest
from scipy.special import expit

from swarmreg import L1, L2, MLP, ElasticNet, RegularizedError, WeightElimination, backend
from swarmreg import decay as D
from swarmreg.backprop import BackpropTrainer
import swarmreg.swarm as swarm_module
from swarmreg.swarm import Diversity, SwarmState, SwarmTrainer, compiled_tell, init_swarm, move, tell

pytestmark = pytest.mark.skipif(not backend.numba_available(), reason="numba (the fast extra) not installed")

if backend.numba_available():
    import numba

    from swarmreg.kernels import mathfn
    from swarmreg.kernels.epoch import EpochRunner
    from swarmreg.kernels.update import BOUNDARY_CODES, diversity as kernel_diversity, move as kernel_move, uniforms

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
    "exp": ("exp_", np.exp, (-708.0, 709.43), (-87.0, 88.37)),   # the normal results, to the top of the range
    "expm1": ("expm1_", np.expm1, (-50.0, 709.43), (-50.0, 88.37)),
    "tanh": ("tanh_", np.tanh, (-20.0, 20.0), (-20.0, 20.0)),
    "sigmoid": ("sigmoid_", expit, (-700.0, 700.0), (-80.0, 80.0)),
    "log1p_exp_neg": ("log1p_exp_neg_", lambda a: np.log1p(np.exp(-a)), (0.0, 700.0), (0.0, 80.0)),
}


@pytest.mark.parametrize("name", list(MATH) + ["log"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_elementary_functions_are_within_a_few_ulp_of_numpy(name, dtype):
    # tanh: a Padé form (float64) and a rational fit (float32), 5 ulp at most (mathfn's docstring)
    ulps = 5 if name == "tanh" else 4
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


def test_float32_tanh_is_odd_and_never_leaves_minus_one_to_one():
    # its rational fit, rounded to float32, would exceed 1 from 8.14 on without the cap: every float32 from 7 to 10
    near = np.arange(np.float32(7.0).view(np.int32), np.float32(10.0).view(np.int32), dtype=np.int32).view(np.float32)
    x = np.r_[near, np.float32([0.0, 1e-30, 0.5, 3.0, 20.0, 1e30, 3e38])]
    out, mirrored = np.empty_like(x), np.empty_like(x)
    _looped(mathfn.tanh_)(x, out)
    _looped(mathfn.tanh_)(-x, mirrored)
    assert np.abs(out).max() <= 1.0 and np.abs(mirrored).max() <= 1.0
    assert np.array_equal(mirrored, -out)
    assert np.all(np.abs(out[x >= 9.0] - 1.0) <= 2 * np.spacing(np.float32(1.0)))  # tanh rounds to 1 there


@pytest.mark.parametrize("dtype, top", [(np.float64, 709.43), (np.float32, 88.37)])
def test_exp_and_expm1_saturate_above_their_range_instead_of_overflowing_to_nan(dtype, top):
    # from (bias + ½)·ln 2 on, k would reach the exponent field's all-ones (2ᵏ = inf, then inf·q + inf = NaN)
    x = np.array([top, np.nextafter(dtype(top), dtype(np.inf)), top + 0.2, top + 0.3, 1e4], dtype)
    for name in ("exp_", "expm1_"):
        out = np.empty_like(x)
        _looped(getattr(mathfn, name))(x, out)
        assert np.all(np.isfinite(out)) and np.all(out == out[0]), (name, out)


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


@pytest.mark.parametrize("n, chunk", [(1, 256), (15, 256), (150, 256), (300, 64), (341, 100)])
def test_padded_inputs_leave_the_values_unchanged(n, chunk):
    from swarmreg.kernels.forward import HIDDEN_CODES, LANE, LOSS_CODES, OUTPUT_CODES, batch_values, pad_columns

    obj = problem((5, 7, 3), "tanh", "softmax", "cross_entropy", L2(0.1), n=n, seed=n)
    thetas = np.random.default_rng(n).normal(size=(6, obj.n_params))
    XT = obj.model.inputs_with_ones(obj.X, obj.dtype)
    padded = pad_columns(XT)
    assert padded.shape[1] % LANE == 0 and padded.shape[1] - n < LANE
    np.testing.assert_array_equal(padded[:, :n], XT)
    assert not padded[:, n:].any()
    layout = np.array([[l.w_start, l.w_stop, l.b_stop, l.fan_in, l.fan_out] for l in obj.model.layers], np.int64)
    slices = np.array([[s.start, s.stop] for s in obj.penalty_slices], np.int64)
    args = (obj._targetT, layout, HIDDEN_CODES["tanh"], OUTPUT_CODES["softmax"], LOSS_CODES["cross_entropy"],
            float(n), slices, 1, 0.0, 0.1)
    plain, flags = batch_values(thetas, thetas, XT, *args, chunk=chunk)
    whole, _ = batch_values(thetas, thetas, padded, *args, chunk=chunk)
    assert not flags.any()
    np.testing.assert_allclose(whole, plain, rtol=1e-13, atol=0)  # the padded samples never count
    with backend.use("numpy"):
        np.testing.assert_allclose(whole, obj.batch(thetas), rtol=1e-12, atol=0)


@pytest.mark.parametrize("budget", [1, 7 * 16 * 3, 10**9])
def test_the_first_layer_as_a_matrix_product_in_blocks_of_any_size(budget):
    from swarmreg.kernels.forward import GEMM_FAN_IN, HIDDEN_CODES, LOSS_CODES, OUTPUT_CODES, batch_values, \
        pad_columns

    obj = problem((max(GEMM_FAN_IN, 9), 7, 4, 3), "tanh", "softmax", "cross_entropy", L1(0.01), n=40, seed=2)
    thetas = np.random.default_rng(9).normal(size=(10, obj.n_params))
    thetas[4, 3] = np.nan  # a flagged particle inside a block
    layout = np.array([[l.w_start, l.w_stop, l.b_stop, l.fan_in, l.fan_out] for l in obj.model.layers], np.int64)
    slices = np.array([[s.start, s.stop] for s in obj.penalty_slices], np.int64)
    got, flags = batch_values(thetas, thetas, pad_columns(obj.model.inputs_with_ones(obj.X)), obj._targetT, layout,
                              HIDDEN_CODES["tanh"], OUTPUT_CODES["softmax"], LOSS_CODES["cross_entropy"], 40.0, slices,
                              1, 0.01, 0.0, chunk=16, budget=budget)
    assert flags.tolist() == [0] * 4 + [1] + [0] * 5 and np.isnan(got[4])
    with backend.use("numpy"):
        want = obj.batch(np.delete(thetas, 4, axis=0))
    np.testing.assert_allclose(np.delete(got, 4), want, rtol=1e-12, atol=0)


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


def _copy(state):
    return SwarmState(**{f: getattr(state, f).copy() for f in SwarmState.__dataclass_fields__})


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bounds, boundary", [(None, "clip"), ((-0.6, 0.5), "clip"), ((-0.6, 0.5), "reflect"),
                                              ((-0.6, 0.5), "random")])
@pytest.mark.parametrize("clamp, global_best", [(None, True), (0.05, False), ("array", True)])
def test_the_compiled_move_is_the_numpy_move_given_the_same_random_numbers(dtype, bounds, boundary, clamp,
                                                                          global_best):
    P, D = 7, 13
    rng = np.random.default_rng(6)
    state = init_swarm(rng, P, D, (-1.0, 1.0), None, dtype=dtype)
    state.personal_best[:] = rng.uniform(-1, 1, (P, D))
    best = state.personal_best[2] if global_best else rng.uniform(-1, 1, (P, D)).astype(dtype)
    v_max = np.linspace(0.01, 0.3, D).astype(dtype) if clamp == "array" else clamp
    key, counter = np.uint64(12345), np.uint64(77)
    r12 = np.empty((P, D, 2), dtype)           # r1, r2 of (p, d) at counters c + 2(pD + d), + 1
    uniforms(key, counter, r12)
    redraw = np.empty(P * D)                   # a redrawn (p, d) uses counter c + 2PD + pD + d
    uniforms(key, counter + np.uint64(2 * P * D), redraw)
    outside = None

    class Numbers:  # a numpy Generator stand-in that hands the numpy move the kernel's numbers
        def random(self, out, dtype):
            out[...] = r12.transpose(2, 0, 1)
            return out

        def uniform(self, low, high, size):
            return (low + (high - low) * redraw[outside])[:size]

    probe = _copy(state)  # which coordinates leave the box, in C order (the order the numpy code redraws them)
    move(probe, Numbers(), best, 0.7, 1.4, 1.6, v_max, None)
    if bounds is not None:
        outside = ((probe.positions < bounds[0]) | (probe.positions > bounds[1])).ravel()
    twin, compiled = _copy(state), _copy(state)
    move(twin, Numbers(), best, 0.7, 1.4, 1.6, v_max, bounds, boundary)
    vmax = np.broadcast_to(np.asarray(0.0 if v_max is None else v_max, dtype), (D,)).copy()
    low, high = bounds if bounds is not None else (0.0, 0.0)
    after = kernel_move(compiled.positions, compiled.velocities, compiled.personal_best, best.reshape(1, -1)
                        if global_best else best, 0.7, 1.4, 1.6, vmax, v_max is not None, low, high,
                        BOUNDARY_CODES["none" if bounds is None else boundary], key, counter)
    assert after == counter + np.uint64(3 * P * D)
    np.testing.assert_array_equal(compiled.positions, twin.positions)
    np.testing.assert_array_equal(compiled.velocities, twin.velocities)


@pytest.mark.parametrize("settings", [dict(gcpso=False), dict(topology="ring", v_max=0.3)])
def test_a_compiled_fit_is_the_numpy_fit_fed_the_kernels_numbers(monkeypatch, settings):
    """Move after move, not only one: the counter runs on as it should across a whole fit."""
    obj = problem((4, 6, 3), "tanh", "softmax", "cross_entropy", L2(0.01), n=80)
    trainer = SwarmTrainer(particles=12, iterations=40, **settings)
    with backend.use("numba"):
        want = trainer.fit(obj, seed=4)
    P, D = 12, obj.n_params

    def numpy_move(self, state, best, inertia, c1, c2):  # the numpy move, fed this move's kernel numbers
        r12 = np.empty((P, D, 2))
        uniforms(self.key, self.counter, r12)

        class Numbers:
            def random(self, out, dtype):
                out[...] = r12.transpose(2, 0, 1)
                return out

        move(state, Numbers(), best, inertia, c1, c2, self.v_max if self.clamp else None,
             (self.low, self.high), "clip")
        self.counter = self.counter + np.uint64(3 * P * D)

    monkeypatch.setattr(swarm_module.CompiledMove, "__call__", numpy_move)
    with backend.use("numba"):
        got = trainer.fit(obj, seed=4)
    np.testing.assert_array_equal(got.history["value"], want.history["value"])
    np.testing.assert_array_equal(got.theta, want.theta)


def test_kernel_random_numbers_are_uniform_and_independent_of_the_key():
    out = np.empty(200_000)
    uniforms(np.uint64(1), np.uint64(0), out)
    other = np.empty_like(out)
    uniforms(np.uint64(2), np.uint64(0), other)
    assert 0.0 <= out.min() and out.max() < 1.0
    assert abs(out.mean() - 0.5) < 0.003 and abs(out.var() - 1 / 12) < 0.002   # 5σ bounds
    assert abs(np.corrcoef(out[:-1], out[1:])[0, 1]) < 0.01
    assert abs(np.corrcoef(out[::2], out[1::2])[0, 1]) < 0.01                  # r1 and r2 of one coordinate
    assert abs(np.corrcoef(out, other)[0, 1]) < 0.01
    hist = np.histogram(out, bins=20, range=(0, 1))[0]
    assert hist.min() > 9500 and hist.max() < 10500


@pytest.mark.parametrize("settings", [dict(), dict(topology="ring", boundary="reflect"), dict(gcpso=False),
                                      dict(split=3, boundary="random", bounds=(-2.0, 2.0))])
def test_the_compiled_swarm_is_deterministic_and_optimizes_as_the_numpy_one(settings):
    obj = problem((4, 6, 3), "tanh", "softmax", "cross_entropy", L2(0.01), n=120)
    trainer = SwarmTrainer(particles=20, iterations=300, **settings)
    with backend.use("numba"):
        a, b = trainer.fit(obj, seed=3), trainer.fit(obj, seed=3)
        ours = [trainer.fit(obj, seed=s).value for s in range(5)]
    with backend.use("numpy"):
        ref = [trainer.fit(obj, seed=s).value for s in range(5)]
    np.testing.assert_array_equal(a.theta, b.theta)
    assert a.value == b.value and a.iterations == 299
    assert obj(a.theta) == pytest.approx(a.value, rel=1e-12)
    # another random stream, the same algorithm: the medians over seeds are alike
    assert np.median(ours) <= 1.2 * np.median(ref) + 1e-3


def test_the_compiled_swarm_collapses_on_a_sphere_as_the_numpy_one():
    """A 30-D sphere, 40 particles, 400 moves: the swarm's diversity falls by about 10⁴ on both backends."""
    def sphere(X):
        return np.sum(X**2, axis=1)

    class Sphere:
        n_params = 30

        def batch(self, X):
            return sphere(X)

    ratios = {}
    for name in ("numpy", "numba"):
        with backend.use(name):
            ratios[name] = [np.divide(*SwarmTrainer(particles=40, iterations=401).fit(Sphere(), seed=s)
                                      .history["diversity"][[-1, 0]]) for s in range(6)]
    assert max(ratios["numba"]) < 1e-2 and np.median(ratios["numba"]) < 10 * np.median(ratios["numpy"])


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


@pytest.mark.parametrize("sizes, output, loss", [((5, 3), "softmax", "cross_entropy"), ((5, 2), "identity", "mse"),
                                                 ((5, 6, 4, 3), "softmax", "cross_entropy")])
@pytest.mark.parametrize("batch", [1, 6, None])
def test_the_compiled_epoch_on_linear_models_and_any_minibatch(sizes, output, loss, batch):
    # 37 samples: the last minibatch is short; a linear model has no backward product into a layer below
    obj = problem(sizes, "relu", output, loss, L2(0.01), n=37)
    kw = dict(lr=0.02, epochs=3, batch_size=batch, momentum=0.5)
    with backend.use("numpy"):
        want = BackpropTrainer(**kw).fit(obj, seed=0)
    with backend.use("numba"):
        got = BackpropTrainer(**kw).fit(obj, seed=0)
    np.testing.assert_allclose(got.theta, want.theta, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_the_compiled_epoch_of_a_float32_objective_agrees_to_float32_precision(optimizer):
    obj = problem((4, 7, 3), "tanh", "softmax", "cross_entropy", L2(0.01), n=60, dtype=np.float32)
    kw = dict(lr=0.05, epochs=5, batch_size=8, optimizer=optimizer)
    with backend.use("numpy"):
        want = BackpropTrainer(**kw).fit(obj, seed=0)
    with backend.use("numba"):
        got = BackpropTrainer(**kw).fit(obj, seed=0)
    np.testing.assert_allclose(got.theta, want.theta, rtol=1e-4, atol=1e-6)
    # and in float32, not float64: on the very same (float32-rounded) data a float64 objective's run
    # differs by float32 rounding, not by float64's
    same = RegularizedError(obj.model, obj.X.astype(np.float64), obj.target, loss=obj.loss, penalty=obj.penalty)
    with backend.use("numba"):
        wide = BackpropTrainer(**kw).fit(same, seed=0)
    assert np.max(np.abs(got.theta - wide.theta) / np.abs(wide.theta)) > 1e-7


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
