"""λ conventions: each translation checked by evaluating or training both sides."""

import inspect
import math
import warnings

import numpy as np
import pytest

from swarmreg import L2, MLP, RegularizedError
from swarmreg import conventions as cv
from swarmreg.backprop import BackpropTrainer


# ---------------------------------------------------------------- helpers
def softmax_problem(n=24, d=3, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (X @ rng.standard_normal((d, k)) + 0.5 * rng.standard_normal((n, k))).argmax(axis=1)
    return X, y


def softmax_linear_grad(theta, X, y, k):
    """∇ of mean −log p(y) for the linear softmax model (d, k), closed form."""
    n, d = X.shape
    W, b = theta[:d * k].reshape(d, k), theta[d * k:]
    Z = X @ W + b
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    P[np.arange(n), y] -= 1.0
    return np.concatenate([(X.T @ P / n).ravel(), P.sum(axis=0) / n])


def ridge(X, y, lam):
    """argmin mean((Xw + b − y)²) + (λ/2)·‖w‖², b unpenalized: (w..., b)."""
    n, d = X.shape
    A = np.hstack([X, np.ones((n, 1))])
    P = np.diag(np.r_[np.ones(d), 0.0])
    return np.linalg.solve(2.0 / n * A.T @ A + lam * P, 2.0 / n * A.T @ y)


# ---------------------------------------------------------------- Nielsen
def test_nielsen_cost_equals_canonical_error():
    X, y = softmax_problem(n=30)
    model = MLP((3, 5, 3), output="softmax")
    theta = model.init(1)
    lam_n = 4.0
    p = model.forward(theta, X)
    w = theta[model.weight_mask]
    nielsen = -np.mean(np.log(p[np.arange(30), y])) + lam_n / (2 * 30) * (w @ w)
    obj = RegularizedError(model, X, y, penalty=L2(cv.from_nielsen(lam_n, 30)))
    assert obj(theta) == pytest.approx(nielsen, rel=1e-13)


def test_nielsen_minibatch_update_equals_backprop_trainer():
    X, y = softmax_problem(n=24)
    model = MLP((3, 3), output="softmax")
    theta0 = model.init(2)
    eta, lam_n, m, n = 0.3, 5.0, 6, 24
    wmask = model.weight_mask
    t = theta0.copy()
    for _ in range(3):
        for lo in range(0, n, m):
            # w ← (1 − ηλ/n)·w − (η/m)·Σ_x ∂C_x/∂w; b ← b − (η/m)·Σ_x ∂C_x/∂b
            g = softmax_linear_grad(t, X[lo:lo + m], y[lo:lo + m], 3)
            t = np.where(wmask, (1 - eta * lam_n / n) * t, t) - eta * g
    obj = RegularizedError(model, X, y, penalty=L2(cv.from_nielsen(lam_n, n)))
    res = BackpropTrainer(lr=eta, epochs=3, batch_size=m, shuffle=False).fit(obj, theta0=theta0)
    np.testing.assert_allclose(res.theta, t, rtol=1e-12)


def test_items_in_the_update_reading_equals_backprop_trainer():
    X, y = softmax_problem(n=12)
    model = MLP((3, 3), output="softmax")
    theta0 = model.init(3)
    eta, lam_m = 0.2, 0.5
    wmask = model.weight_mask
    for m in (1, 4):
        t = theta0.copy()
        for _ in range(2):
            for lo in range(0, 12, m):
                g = softmax_linear_grad(t, X[lo:lo + m], y[lo:lo + m], 3)
                t = np.where(wmask, (1 - eta * lam_m / m) * t, t) - eta * g
        obj = RegularizedError(model, X, y, penalty=L2(cv.from_minibatch_items(lam_m, m)))
        res = BackpropTrainer(lr=eta, epochs=2, batch_size=m, shuffle=False).fit(obj, theta0=theta0)
        np.testing.assert_allclose(res.theta, t, rtol=1e-12)


# ----------------------------------------------------------- scikit-learn
def _sk_backprop(est, model, theta, X, Ytarget):
    """scikit-learn's own loss and gradient at theta (packed like swarmreg)."""
    layers = model.unpack(theta)
    est.coefs_ = [W.copy() for W, _ in layers]
    est.intercepts_ = [b.copy() for _, b in layers]
    L = len(layers)
    acts = [X] + [None] * L
    args = [X, Ytarget]
    if "sample_weight" in inspect.signature(est._backprop).parameters:
        args.append(None)
    loss, cg, ig = est._backprop(*args, acts, [None] * L, [None] * L, [None] * L)
    return loss, model.pack(list(zip(cg, ig)))


def _quiet_fit(est, X, y):
    from sklearn.exceptions import ConvergenceWarning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def test_sklearn_classifier_objective_equals_canonical_error():
    sk = pytest.importorskip("sklearn.neural_network")
    X, y = softmax_problem(n=30)
    alpha, n = 0.8, 30
    clf = _quiet_fit(sk.MLPClassifier(hidden_layer_sizes=(4,), activation="tanh", alpha=alpha,
                                      solver="sgd", max_iter=1), X, y)
    model = MLP((3, 4, 3), hidden="tanh", output="softmax")
    theta = model.init(4)
    loss, grad = _sk_backprop(clf, model, theta, X, clf._label_binarizer.transform(y).astype(float))
    obj = RegularizedError(model, X, y, penalty=L2(cv.from_sklearn_mlp(alpha, n, "cross_entropy")))
    E, g = obj.value_and_grad(theta)
    assert loss == pytest.approx(E, rel=1e-12)
    np.testing.assert_allclose(grad, g, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("k", [1, 3])
def test_sklearn_regressor_gradient_is_k_over_2_times_canonical(k):
    sk = pytest.importorskip("sklearn.neural_network")
    rng = np.random.default_rng(k)
    n, alpha = 25, 0.6
    X = rng.standard_normal((n, 3))
    Y = rng.standard_normal((n, k))
    reg = _quiet_fit(sk.MLPRegressor(hidden_layer_sizes=(4,), activation="tanh", alpha=alpha,
                                     solver="sgd", max_iter=1), X, Y[:, 0] if k == 1 else Y)
    model = MLP((3, 4, k), hidden="tanh")
    theta = model.init(5)
    loss, grad = _sk_backprop(reg, model, theta, X, Y)
    lam = cv.from_sklearn_mlp(alpha, n, "mse", n_outputs=k)
    assert lam == pytest.approx(2 * alpha / (k * n))
    obj = RegularizedError(model, X, Y, penalty=L2(lam))
    # the gradient scikit-learn trains with is that of (k/2)·(D + (λ/2)·Σw²)
    np.testing.assert_allclose(grad, k / 2 * obj.value_and_grad(theta)[1], rtol=1e-10, atol=1e-14)
    # its reported loss is ½·D + alpha/(2n)·Σw² (= (k/2)·E only for k = 1)
    w = theta[model.weight_mask]
    assert loss == pytest.approx(0.5 * obj.data_loss(theta) + alpha / (2 * n) * (w @ w), rel=1e-12)
    if k == 1:
        assert loss == pytest.approx(0.5 * obj(theta), rel=1e-12)


def test_sklearn_multilabel_classifier_sums_binary_losses():
    sk = pytest.importorskip("sklearn.neural_network")
    rng = np.random.default_rng(6)
    n, k, alpha = 30, 2, 0.9
    X = rng.standard_normal((n, 3))
    Y = (X[:, :2] + 0.5 * rng.standard_normal((n, 2)) > 0).astype(int)
    clf = _quiet_fit(sk.MLPClassifier(hidden_layer_sizes=(4,), activation="tanh", alpha=alpha,
                                      solver="sgd", max_iter=1), X, Y)
    model = MLP((3, 4, k), hidden="tanh", output="sigmoid")
    theta = model.init(7)
    loss, grad = _sk_backprop(clf, model, theta, X, Y.astype(float))
    obj = RegularizedError(model, X, Y, penalty=L2(cv.from_sklearn_mlp(alpha, n, "binary_cross_entropy", k)))
    E, g = obj.value_and_grad(theta)
    assert loss == pytest.approx(k * E, rel=1e-12)
    np.testing.assert_allclose(grad, k * g, rtol=1e-10, atol=1e-14)


def _sk_train_from(est, model, theta0, X, y, epochs):
    """Continue scikit-learn's SGD from theta0 (warm start: fresh velocities)."""
    layers = model.unpack(theta0)
    est.coefs_ = [W.copy() for W, _ in layers]
    est.intercepts_ = [b.copy() for _, b in layers]
    est.set_params(max_iter=epochs)
    _quiet_fit(est, X, y)
    return model.pack(list(zip(est.coefs_, est.intercepts_)))


def test_sklearn_sgd_classifier_trains_like_backprop_trainer():
    sk = pytest.importorskip("sklearn.neural_network")
    X, y = softmax_problem(n=40)
    alpha, eta, mu, b, epochs = 0.5, 0.1, 0.9, 8, 4
    kw = dict(hidden_layer_sizes=(5,), activation="tanh", solver="sgd", alpha=alpha, batch_size=b,
              learning_rate="constant", learning_rate_init=eta, momentum=mu, nesterovs_momentum=False,
              shuffle=False, tol=0.0, n_iter_no_change=10**6, early_stopping=False, warm_start=True)
    clf = _quiet_fit(sk.MLPClassifier(max_iter=1, **kw), X, y)
    model = MLP((3, 5, 3), hidden="tanh", output="softmax")
    theta0 = model.init(8)
    theta_sk = _sk_train_from(clf, model, theta0, X, y, epochs)
    obj = RegularizedError(model, X, y, penalty=L2(cv.from_sklearn_mlp(alpha, b, "cross_entropy")))
    res = BackpropTrainer(lr=eta, epochs=epochs, batch_size=b, momentum=mu, shuffle=False).fit(obj, theta0=theta0)
    assert np.abs(theta_sk - theta0).max() > 0.05
    np.testing.assert_allclose(res.theta, theta_sk, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2])
def test_sklearn_sgd_regressor_trains_like_backprop_trainer_with_lr_times_k_over_2(k):
    sk = pytest.importorskip("sklearn.neural_network")
    rng = np.random.default_rng(9)
    X = rng.standard_normal((32, 3))
    Y = np.tanh(X @ rng.standard_normal((3, k)))
    alpha, eta, mu, b, epochs = 0.4, 0.05, 0.5, 8, 3
    kw = dict(hidden_layer_sizes=(4,), activation="tanh", solver="sgd", alpha=alpha, batch_size=b,
              learning_rate="constant", learning_rate_init=eta, momentum=mu, nesterovs_momentum=False,
              shuffle=False, tol=0.0, n_iter_no_change=10**6, early_stopping=False, warm_start=True)
    y = Y[:, 0] if k == 1 else Y
    reg = _quiet_fit(sk.MLPRegressor(max_iter=1, **kw), X, y)
    model = MLP((3, 4, k), hidden="tanh")
    theta0 = model.init(10)
    theta_sk = _sk_train_from(reg, model, theta0, X, y, epochs)
    obj = RegularizedError(model, X, Y, penalty=L2(cv.from_sklearn_mlp(alpha, b, "mse", n_outputs=k)))
    res = BackpropTrainer(lr=eta * k / 2, epochs=epochs, batch_size=b, momentum=mu,
                          shuffle=False).fit(obj, theta0=theta0)
    assert np.abs(theta_sk - theta0).max() > 0.01
    np.testing.assert_allclose(res.theta, theta_sk, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------- PyTorch
def test_torch_sgd_algorithm_equals_coupled_decay():
    """Oracle: torch.optim.SGD's documented algorithm (dampening 0, no Nesterov),
    weights in a group with weight_decay=wd, biases in a group with 0."""
    X, y = softmax_problem(n=20)
    model = MLP((3, 3), output="softmax")
    theta0 = model.init(11)
    lr, mu, wd, m = 0.2, 0.9, 0.05, 5
    group_wd = np.where(model.weight_mask, wd, 0.0)
    p, buf = theta0.copy(), None
    for _ in range(3):
        for lo in range(0, 20, m):
            d_p = softmax_linear_grad(p, X[lo:lo + m], y[lo:lo + m], 3) + group_wd * p
            buf = d_p.copy() if buf is None else mu * buf + d_p
            p = p - lr * buf
    obj = RegularizedError(model, X, y, penalty=L2(cv.from_torch_sgd(wd)))
    res = BackpropTrainer(lr=lr, epochs=3, batch_size=m, momentum=mu, shuffle=False).fit(obj, theta0=theta0)
    np.testing.assert_allclose(res.theta, p, rtol=1e-12)


# ------------------------------------------------------------------ Keras
def test_keras_l2_loss_and_gradient_equal_canonical_error():
    """Oracle: Keras' documented L2(l2) = l2·Σ kernel², added to the mean loss."""
    rng = np.random.default_rng(12)
    X, Y = rng.standard_normal((15, 3)), rng.standard_normal((15, 2))
    model = MLP((3, 4, 2), hidden="tanh")
    theta = model.init(13)
    l2 = 0.07
    kernels = [W for W, _ in model.unpack(theta)]
    keras_loss = np.mean(np.mean((model.forward(theta, X) - Y) ** 2, axis=-1)) + sum(l2 * np.sum(W**2) for W in kernels)
    obj = RegularizedError(model, X, Y, penalty=L2(cv.from_keras_l2(l2)))
    E, g = obj.value_and_grad(theta)
    assert E == pytest.approx(keras_loss, rel=1e-13)
    _, g_data = obj.data_value_and_grad(theta)
    np.testing.assert_allclose(g - g_data, np.where(model.weight_mask, 2 * l2 * theta, 0.0), rtol=1e-13)


# ------------------------------------------------------- fixed fraction d
@pytest.mark.parametrize("mu", [0.0, 0.8])
def test_decoupled_fraction_fixed_point_is_ridge(mu):
    rng = np.random.default_rng(14)
    X = rng.standard_normal((30, 2))
    y = X @ [1.5, -0.5] + 0.2 + 0.2 * rng.standard_normal(30)
    eta, d = 0.1, 0.01
    model = MLP((2, 1))
    res = BackpropTrainer(lr=eta, epochs=800, momentum=mu, decay_fraction=d).fit(
        RegularizedError(model, X, y), theta0=np.zeros(3))
    lam = cv.from_decoupled_fraction(d, eta, mu)
    assert lam == pytest.approx(d * (1 - mu) / eta)
    np.testing.assert_allclose(res.theta, ridge(X, y, lam), rtol=1e-9, atol=1e-12)
    # reading d as λ itself misses the optimum
    assert np.abs(res.theta - ridge(X, y, d)).max() > 1e-3


# ---------------------------------------------------------- inverses, args
PAIRS = [
    (cv.from_nielsen, cv.to_nielsen, (50,)),
    (cv.from_minibatch_items, cv.to_minibatch_items, (8,)),
    (cv.from_sklearn_mlp, cv.to_sklearn_mlp, (32, "cross_entropy")),
    (cv.from_sklearn_mlp, cv.to_sklearn_mlp, (32, "mse", 3)),
    (cv.from_sklearn_mlp, cv.to_sklearn_mlp, (32, "binary_cross_entropy", 2)),
    (cv.from_torch_sgd, cv.to_torch_sgd, ()),
    (cv.from_keras_l2, cv.to_keras_l2, ()),
    (cv.from_decoupled_fraction, cv.to_decoupled_fraction, (0.05, 0.9)),
]


@pytest.mark.parametrize("frm, to, args", PAIRS)
@pytest.mark.parametrize("value", [0.0, 1e-4, 0.37, 12.0])
def test_to_inverts_from(frm, to, args, value):
    assert to(frm(value, *args), *args) == pytest.approx(value, rel=1e-14, abs=0)
    assert frm(to(value, *args), *args) == pytest.approx(value, rel=1e-14, abs=0)


def test_formulas():
    assert cv.from_nielsen(5.0, 1000) == 5.0 / 1000
    assert cv.from_minibatch_items(0.5, 1) == 0.5
    assert cv.from_sklearn_mlp(1e-4, 200, "cross_entropy") == pytest.approx(1e-4 / 200)
    assert cv.from_sklearn_mlp(1e-4, 200, "mse") == pytest.approx(2e-4 / 200)
    assert cv.from_torch_sgd(5e-4) == 5e-4
    assert cv.from_keras_l2(0.01) == 0.02
    assert cv.from_decoupled_fraction(1e-3, 0.1, 0.9) == pytest.approx(1e-3)


def test_module_says_where_no_exact_lambda_exists():
    doc = cv.__doc__
    assert "no exact λ" in doc.lower() or "no exact" in doc.lower()
    assert "AdamW" in doc


NAN, INF = math.nan, math.inf


@pytest.mark.parametrize("call, name", [
    (lambda: cv.from_nielsen(-1.0, 10), "lam"),
    (lambda: cv.from_nielsen(NAN, 10), "lam"),
    (lambda: cv.to_nielsen(INF, 10), "lam"),
    (lambda: cv.from_nielsen(1.0, 0), "n"),
    (lambda: cv.from_nielsen(1.0, 2.5), "n"),
    (lambda: cv.to_nielsen(1.0, -3), "n"),
    (lambda: cv.from_minibatch_items(1.0, 0), "batch_size"),
    (lambda: cv.to_minibatch_items(-0.1, 4), "lam"),
    (lambda: cv.from_sklearn_mlp(-1e-4, 10, "mse"), "alpha"),
    (lambda: cv.from_sklearn_mlp(1e-4, 0, "mse"), "n"),
    (lambda: cv.from_sklearn_mlp(1e-4, 10, "hinge"), "loss"),
    (lambda: cv.from_sklearn_mlp(1e-4, 10, "mse", n_outputs=0), "n_outputs"),
    (lambda: cv.to_sklearn_mlp(NAN, 10, "cross_entropy"), "lam"),
    (lambda: cv.to_sklearn_mlp(1.0, 10, "log_loss"), "loss"),
    (lambda: cv.from_torch_sgd(-5e-4), "weight_decay"),
    (lambda: cv.to_torch_sgd(INF), "lam"),
    (lambda: cv.from_keras_l2(-0.01), "l2"),
    (lambda: cv.from_keras_l2("0.01"), "l2"),
    (lambda: cv.to_keras_l2(NAN), "lam"),
    (lambda: cv.from_decoupled_fraction(-1e-3, 0.1), "d"),
    (lambda: cv.from_decoupled_fraction(1e-3, 0.0), "lr"),
    (lambda: cv.from_decoupled_fraction(1e-3, -0.1), "lr"),
    (lambda: cv.from_decoupled_fraction(1e-3, INF), "lr"),
    (lambda: cv.from_decoupled_fraction(1e-3, 0.1, 1.0), "momentum"),
    (lambda: cv.to_decoupled_fraction(1e-3, 0.1, -0.2), "momentum"),
    (lambda: cv.to_decoupled_fraction(1e-3, 0.0), "lr"),
])
def test_bad_arguments_raise_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        call()
