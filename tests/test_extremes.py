"""Extreme numbers: weights and inputs up to ±1e3 on every architecture, output/loss pair and
penalty keep every value and gradient finite without a numpy warning, and a run that diverges
is recorded as "diverged" — never as a silent NaN in a result, a record, a table or a figure.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from swarmreg import report, sweep
from swarmreg import records as R
from swarmreg.backprop import BackpropTrainer
from swarmreg.model import HIDDEN_ACTIVATIONS, MLP
from swarmreg.objective import L1, L2, ElasticNet, RegularizedError
from swarmreg.swarm import SwarmTrainer

BIG = 1e3
PAIRS = [("identity", "mse"), ("softmax", "cross_entropy"), ("softmax", "mse"),
         ("sigmoid", "binary_cross_entropy"), ("sigmoid", "mse")]
EPS = np.finfo(float).eps

# Values up to ±BIG, with the edges and zero drawn often.
big = st.one_of(st.sampled_from([-BIG, BIG, 0.0]), st.floats(-BIG, BIG))
strength = st.one_of(st.sampled_from([0.0, BIG]), st.floats(0.0, BIG))


class strict:
    """Every warning is an error, under numpy's default floating-point error settings."""

    def __enter__(self):
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("error")
        self._e = np.errstate(divide="warn", over="warn", invalid="warn", under="ignore")
        self._e.__enter__()

    def __exit__(self, *exc):
        self._e.__exit__(*exc)
        return self._w.__exit__(*exc)


@st.composite
def problems(draw):
    output, loss = draw(st.sampled_from(PAIRS))
    sizes = draw(st.lists(st.integers(1, 6), min_size=2, max_size=5))  # 1 to 4 weight layers
    if output == "softmax":
        sizes[-1] = max(2, sizes[-1])
    model = MLP(sizes, hidden=draw(st.sampled_from(HIDDEN_ACTIVATIONS)), output=output)
    n, k = draw(st.integers(1, 8)), sizes[-1]
    X = draw(arrays(np.float64, (n, sizes[0]), elements=big))
    if loss == "cross_entropy":
        y = draw(arrays(np.int64, n, elements=st.integers(0, k - 1)))
    elif loss == "binary_cross_entropy":
        y = draw(arrays(np.float64, (n, k), elements=st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0))))
    else:
        y = draw(arrays(np.float64, (n, k), elements=big))
    penalty = draw(st.one_of(st.none(), st.builds(L2, strength), st.builds(L1, strength),
                             st.builds(ElasticNet, strength, strength)))
    P = draw(st.integers(1, 4))
    thetas = draw(arrays(np.float64, (P, model.n_params), elements=big))
    rows = np.array(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n + 2)))
    return SimpleNamespace(model=model, X=X, y=y, loss=loss, penalty=penalty, thetas=thetas, rows=rows,
                           regularize_bias=draw(st.booleans()))


def magnitude(model, theta, X) -> float:
    """A bound on every |term| summed into a logit: |x| pushed through |W|, |b| and the
    activations' bounds (|tanh|, |sigmoid| <= 1); rounding errors of the logits are a
    small multiple of eps times it, whatever the order of the sums."""
    m = np.abs(X)
    layers = model.unpack(theta)
    for i, (W, b) in enumerate(layers):
        m = m @ np.abs(W) + np.abs(b)
        if i < len(layers) - 1 and model.hidden in ("tanh", "sigmoid"):
            m = np.minimum(m, 1.0)
    return float(m.max())


def close(a, b, scale) -> bool:
    """a and b agree up to rounding in numbers of size ``scale``."""
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b)) + 1e-10 * scale


def data_loss_oracle(p, theta, X, y):
    """D from the network's outputs and logits, by the loss definitions (an interval
    [low, high] for the log-sum-exp losses, exact for mse)."""
    z = p.model.logits(theta, X)
    if p.loss == "mse":
        Y = y.reshape(z.shape)
        d = float(np.mean((p.model.forward(theta, X) - Y) ** 2))
        return d, d
    if p.loss == "cross_entropy":
        # max z − z_y <= log Σ exp z − z_y <= max z − z_y + log k
        low = float(np.mean(z.max(axis=1) - z[np.arange(len(y)), y]))
        return low, low + math.log(z.shape[1])
    # softplus(z) − y·z lies in [max(z, 0) − y·z, max(z, 0) − y·z + log 2]
    low = float(np.mean(np.maximum(z, 0.0) - y * z))
    return low, low + math.log(2.0)


@settings(max_examples=100, deadline=None)
@given(p=problems())
def test_values_and_gradients_stay_finite_without_warnings(p):
    with strict():
        obj = RegularizedError(p.model, p.X, p.y, loss=p.loss, penalty=p.penalty, regularize_bias=p.regularize_bias)
        n, k = p.X.shape[0], p.model.n_outputs
        batch = obj.batch(p.thetas)
        assert batch.shape == (len(p.thetas),) and np.isfinite(batch).all()
        stack = p.model.forward(p.thetas, p.X)
        assert stack.shape == (len(p.thetas), n, k) and np.isfinite(stack).all()
        ymax = float(np.abs(p.y).max())
        for i, theta in enumerate(p.thetas):
            S = (1.0 + magnitude(p.model, theta, p.X) + ymax) ** 2  # size of the largest loss term
            E = obj(theta)
            parts = obj.parts(theta)
            assert all(math.isfinite(v) for v in parts.values()) and math.isfinite(E)
            assert parts["data"] >= 0 and parts["penalty"] >= 0 and E == parts["total"]
            assert close(batch[i], E, S)

            # D against the loss definitions, R against its closed form
            low, high = data_loss_oracle(p, theta, p.X, p.y)
            assert low - 1e-9 * abs(low) - 1e-10 * S <= parts["data"] <= high + 1e-9 * abs(high) + 1e-10 * S
            w = theta[obj.penalty_mask]
            R = 0.0 if p.penalty is None else p.penalty.l1 * np.abs(w).sum() + 0.5 * p.penalty.l2 * (w @ w)
            assert parts["penalty"] == pytest.approx(R, rel=1e-12, abs=1e-300)

            # the gradient of E is that of D plus the penalty's (sub)gradient, in closed form
            E2, g = obj.value_and_grad(theta)
            D, gD = obj.data_value_and_grad(theta)
            assert math.isfinite(E2) and g.shape == theta.shape and np.isfinite(g).all() and np.isfinite(gD).all()
            assert close(E2, E, S) and close(D, parts["data"], S)
            gR = np.zeros_like(theta)
            if p.penalty is not None:
                gR[obj.penalty_mask] = p.penalty.l1 * np.sign(w) + p.penalty.l2 * w
            assert np.all(np.abs((g - gD) - gR) <= 4 * EPS * (np.abs(gD) + np.abs(gR)) + 1e-300)

            # a minibatch: D over the chosen rows, as an objective built on those rows only
            Dm, gm = obj.data_value_and_grad(theta, rows=p.rows)
            assert math.isfinite(Dm) and np.isfinite(gm).all()
            sub = RegularizedError(p.model, p.X[p.rows], p.y[p.rows], loss=p.loss)
            assert close(Dm, sub.data_loss(theta), S)
            Em, _ = obj.value_and_grad(theta, rows=p.rows)
            assert close(Em, Dm + parts["penalty"], S)

            # outputs and predictions
            out = p.model.forward(theta, p.X)
            z = p.model.logits(theta, p.X)
            assert np.isfinite(out).all() and np.isfinite(z).all()
            assert np.allclose(stack[i], out, rtol=1e-9, atol=1e-10 * math.sqrt(S))
            pred = p.model.predict(theta, p.X)
            if p.model.output == "softmax":
                assert np.all((out >= 0) & (out <= 1)) and np.allclose(out.sum(axis=1), 1.0, atol=1e-12)
                assert np.array_equal(z[np.arange(n), pred], z.max(axis=1))
            elif p.model.output == "sigmoid":
                assert np.all((out >= 0) & (out <= 1))
                assert np.array_equal(pred.reshape(n, k), (z > 0).astype(int))
            else:
                assert np.array_equal(pred, z)


# ------------------------------------------------------------------ runs that blow up
def extreme_data(seed=0, n=20, d=3):
    rng = np.random.default_rng(seed)
    return rng.uniform(-BIG, BIG, (n, d)), rng.uniform(-BIG, BIG, n)


@pytest.mark.parametrize("hidden", ["identity", "relu", "tanh"])
@pytest.mark.parametrize("width", [1e3, 1e100, 1e300])
def test_unbounded_swarm_never_reports_a_silent_nan(hidden, width):
    X, y = extreme_data()
    obj = RegularizedError(MLP((3, 6, 6, 1), hidden=hidden), X, y, penalty=L2(BIG))
    with strict():
        res = SwarmTrainer(particles=10, iterations=30, bounds=None, init_range=(-width, width)).fit(obj, seed=1)
    assert res.status in ("max_iter", "diverged")
    assert np.isfinite(res.theta).all()
    for name in ("value", "data_loss", "penalty"):
        assert not math.isnan(getattr(res, name)), name
    if res.status != "diverged":
        assert math.isfinite(res.value)
        with strict():
            assert res.value == pytest.approx(obj(res.theta), rel=1e-12)
    for column, values in res.history.items():
        assert not np.isnan(values).any(), f"NaN in history[{column!r}]"


@pytest.mark.parametrize("sizes, settings_", [
    ((3, 1), {}),
    ((3, 4, 1), {"momentum": 0.9, "decay": "decoupled", "l1": "proximal"}),
    ((3, 4, 4, 1), {"batch_size": 4, "momentum": 0.5}),
])
def test_backprop_with_a_huge_step_ends_diverged_with_finite_numbers(sizes, settings_):
    X, y = extreme_data()
    obj = RegularizedError(MLP(sizes, hidden="identity"), X, y, penalty=ElasticNet(l1=1.0, l2=1.0))
    with strict():
        res = BackpropTrainer(lr=1e8, epochs=500, **settings_).fit(obj, seed=0)
    assert res.status == "diverged"
    assert res.iterations < 500
    assert np.isfinite(res.theta).all()
    # the reported value is E at the returned theta (the last one with a finite loss)
    assert math.isfinite(res.value)
    with strict():
        assert res.value == pytest.approx(obj(res.theta), rel=1e-12)
    for column, values in res.history.items():
        assert np.isfinite(values).all(), column


# ------------------------------------------------------------------ a diverged run in a sweep
DIVERGING = {
    "name": "diverging", "datasets": ["sine"], "seeds": [0], "lambdas": [0.0, 1e-2],
    "model": {"hidden": [4], "activation": "identity"},
    "trainers": [{"name": "bp-ok", "kind": "backprop", "lr": 0.05, "epochs": 20},
                 {"name": "bp-huge", "kind": "backprop", "lr": 1e9, "epochs": 300}],
}


def _numbers(obj, path=""):
    """Every float in a nested record, with where it is."""
    if isinstance(obj, float):
        yield path, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _numbers(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _numbers(v, f"{path}[{i}]")


def _refuse(token):
    raise AssertionError(f"{token} in results.jsonl")


@pytest.fixture(scope="module")
def diverging_records(tmp_path_factory):
    out = tmp_path_factory.mktemp("diverging")
    with strict():
        sweep.run_sweep(DIVERGING, out, progress=False)
    lines = (out / sweep.RESULTS_FILE).read_text().splitlines()
    return [json.loads(line, parse_constant=_refuse) for line in lines]  # no NaN/Infinity tokens


def test_a_diverged_run_is_recorded_as_diverged_with_none_for_non_finite(diverging_records):
    huge = [r for r in diverging_records if r["trainer"] == "bp-huge"]
    ok = [r for r in diverging_records if r["trainer"] == "bp-ok"]
    assert len(huge) == 2 and len(ok) == 2
    assert all(r["status"] == "diverged" for r in huge)
    assert all(r["status"] == "max_iter" for r in ok)
    for r in diverging_records:
        for where, x in _numbers(r):
            assert math.isfinite(x), (r["trainer"], where, x)


def test_plots_and_the_report_leave_a_diverged_run_out(diverging_records):
    ok = [r for r in diverging_records if r["trainer"] == "bp-ok"]
    huge = [r for r in diverging_records if r["trainer"] == "bp-huge"]
    for key in ("value", "train_loss", "val_loss", "test_loss", "weight_sq_norm"):
        xs, med, q1, q3 = R.summarize(huge, key)
        assert len(xs) == 0, key
        both = R.summarize(diverging_records, key)
        alone = R.summarize(ok, key)
        for a, b in zip(both, alone):
            assert np.array_equal(a, b), key
    assert R.best_lambda(diverging_records, "bp-huge", "sine") is None
    assert R.best_lambda(diverging_records, "bp-ok", "sine") == R.best_lambda(ok, "bp-ok", "sine")
    with strict():
        for entry in report.FIGURES:
            name, fig = entry.file, entry.draw(diverging_records)
            for ax in fig.axes:
                for line in ax.get_lines():
                    assert "bp-huge" not in str(line.get_label()), name
                    y = np.asarray(line.get_ydata(), dtype=float)
                    assert np.isfinite(y).all(), name
        text = report.write_report_md(diverging_records, ["diverging"])
    assert not re.search(r"\b(nan|inf|infinity)\b", text, re.IGNORECASE), "a non-finite number in REPORT.md"
    assert "2 diverged and left out of the curves" in text
    rows = {r["trainer"]: r for r in R.best_lambda_rows(diverging_records)}
    assert "bp-huge" not in rows and "bp-ok" in rows
