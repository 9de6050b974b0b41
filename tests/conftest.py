"""Shared test oracles: a network written from scratch in plain numpy.

The ``hand`` fixture builds parameters as explicit per-layer (W, b) arrays,
lays them out in the documented flat order by hand, and runs a forward pass
that shares no code with :mod:`swarmreg`.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from swarmreg import backend


def hand_layers(sizes, rng, low=0.05, high=1.0):
    """Random (W, b) per layer with every entry's magnitude in [low, high]
    and a random sign (so no entry sits near an L1 kink)."""
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        W = rng.uniform(low, high, (fan_in, fan_out)) * rng.choice([-1.0, 1.0], (fan_in, fan_out))
        b = rng.uniform(low, high, fan_out) * rng.choice([-1.0, 1.0], fan_out)
        layers.append((W, b))
    return layers


def hand_theta(layers):
    """The documented layout: per layer W flattened row by row, then b."""
    parts = []
    for W, b in layers:
        for row in W:  # C order, written out as an explicit row loop
            parts.extend(row.tolist())
        parts.extend(np.asarray(b).tolist())
    return np.array(parts, dtype=float)


def hand_hidden(name, z):
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # logistic, written without exp
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "identity":
        return z
    raise AssertionError(name)


def hand_forward(layers, X, hidden):
    """Return (hidden pre-activations, logits) for one parameter set."""
    pre = []
    a = np.asarray(X, dtype=float)
    for i, (W, b) in enumerate(layers):
        z = np.zeros((a.shape[0], W.shape[1]))
        for j in range(W.shape[1]):
            z[:, j] = (a * W[:, j]).sum(axis=1) + b[j]
        if i == len(layers) - 1:
            return pre, z
        pre.append(z)
        a = hand_hidden(hidden, z)


def hand_output(name, z):
    """Output activation for moderate logits, by the textbook formulas."""
    if name == "softmax":
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    return z


def hand_data_loss(loss, out, z, y):
    """D as a mean: mse over n·k entries, CE over n samples, BCE over n·k."""
    n = z.shape[0]
    if loss == "mse":
        Y = y.reshape(n, -1)
        return np.mean((out - Y) ** 2)
    if loss == "cross_entropy":
        p = hand_output("softmax", z)
        return -np.mean(np.log(p[np.arange(n), y.astype(int)]))
    if loss == "binary_cross_entropy":
        Y = y.reshape(n, -1)
        p = hand_output("sigmoid", z)
        return -np.mean(Y * np.log(p) + (1 - Y) * np.log(1 - p))
    raise AssertionError(loss)


def hand_penalty(layers, l1, l2, regularize_bias):
    """l1·Σ|w| + (l2/2)·Σw² over weights (and biases when asked)."""
    total = 0.0
    for W, b in layers:
        blocks = [W.ravel()] + ([b] if regularize_bias else [])
        for v in blocks:
            total += l1 * np.abs(v).sum() + 0.5 * l2 * (v * v).sum()
    return total


@pytest.fixture(scope="session")
def hand():
    return SimpleNamespace(layers=hand_layers, theta=hand_theta, hidden=hand_hidden, forward=hand_forward,
                           output=hand_output, data_loss=hand_data_loss, penalty=hand_penalty)


class FakeExecutor:
    """An executor for tests: runs serially in this process, calling ``before(item)``
    first (to count runs, hold one, or fail), and remembers what it was given."""

    workers = 1
    local = True

    def __init__(self, before=None):
        self.before = before
        self.items = []

    def map_unordered(self, fn, items, label=str):
        for item in items:
            self.items.append(item)
            if self.before is not None:
                self.before(item)
            yield fn(item)

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture
def fake_executor():
    return FakeExecutor


# ------------------------------------------------------------------ backends
BACKENDS = ["numpy", pytest.param("numba", marks=pytest.mark.skipif(not backend.numba_available(),
                                                                    reason="numba (the fast extra) not installed"))]


@pytest.fixture(scope="session", autouse=True)
def compiled_kernels():
    """Compile the kernels once, here, before any test starts another process: the pool and Dask
    workers and the commands the tests run then load them from numba's cache instead of spending
    their first seconds compiling (with the interpreter's lock held)."""
    if backend.numba_available():
        from swarmreg.kernels import warm

        warm()


@pytest.fixture(params=BACKENDS)
def each_backend(request):
    """Run the test once with the numpy code and once with the compiled kernels."""
    with backend.use(request.param):
        yield request.param


@pytest.fixture
def numpy_backend():
    """The numpy code only: for tests of its own chunking and buffers."""
    with backend.use("numpy"):
        yield
