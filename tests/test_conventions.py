"""λ conventions: each translation checked by evaluating or training both sides."""

import inspect
import math
import warnings

import numpy as np
import pytest

from swarmreg import L1, L2, MLP, RegularizedError
from swarmreg import conventions as cv
from swarmreg.backprop import BackpropTrainer
from swarmreg.reference import LBFGSTrainer


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


def optimum(model, X, y, penalty, **kw):
    """E's minimum by L-BFGS-B, run to rounding."""
    obj = RegularizedError(model, X, y, penalty=penalty, **kw)
    res = LBFGSTrainer(max_iter=20000, tol=1e-14).fit(obj, theta0=np.zeros(model.n_params))
    assert res.status == "converged"
    return res.theta


def central_differences(f, theta, h=1e-6):
    """∇f by central differences, (n_params,)."""
    g = np.empty_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        g[i] = (f(theta + e) - f(theta - e)) / (2 * h)
    return g


def l1_optimality_gap(obj, theta, lam1):
    """How far θ is from satisfying the L1 optimality conditions of D + λ₁·Σ|w|:
    g_D + λ₁·sign(w) = 0 on nonzero weights, |g_D| <= λ₁ on zero ones, g_D = 0 on biases."""
    g = obj.data_value_and_grad(theta)[1]
    wm = obj.penalty_mask
    w = theta[wm]
    gw = g[wm]
    gap = np.where(w != 0, np.abs(gw + lam1 * np.sign(w)), np.maximum(np.abs(gw) - lam1, 0.0))
    return max(gap.max(), np.abs(g[~wm]).max())


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


def nielsen_network2_cost(cost, model, theta, X, Y, lam_n):
    """network2.py's total_cost, written out: his feedforward a ← σ(w·a + b) with w of
    shape (out, in), his per-sample cost summed over the k outputs and averaged over
    the n samples, plus 0.5·(λ_N/n)·Σ‖w‖² over the weight matrices only."""
    n = X.shape[0]
    ws = [W.T for W, _ in model.unpack(theta)]  # his layout: (out, in)
    bs = [b[:, None] for _, b in model.unpack(theta)]
    total = 0.0
    for x, y in zip(X, Y):
        a = x[:, None]
        for w, b in zip(ws, bs):
            a = 1.0 / (1.0 + np.exp(-(w @ a + b)))
        a = a[:, 0]
        if cost == "cross_entropy":
            total += np.sum(-y * np.log(a) - (1 - y) * np.log(1 - a)) / n
        else:
            total += 0.5 * np.linalg.norm(a - y) ** 2 / n
    return total + 0.5 * (lam_n / n) * sum(np.linalg.norm(w) ** 2 for w in ws)


@pytest.mark.parametrize("cost, loss, factor", [("cross_entropy", "binary_cross_entropy", lambda k: k),
                                                ("quadratic", "mse", lambda k: k / 2)])
def test_nielsen_network2_costs_are_multiples_of_canonical_error(cost, loss, factor):
    """Oracle: Nielsen's cross-entropy and quadratic costs (sigmoid network) by hand;
    C = k·E and C = (k/2)·E, value and gradient, for the translated λ."""
    rng = np.random.default_rng(20)
    n, k, lam_n = 25, 3, 4.0
    X = rng.standard_normal((n, 3))
    Y = (X @ rng.standard_normal((3, k)) + rng.standard_normal((n, k)) > 0).astype(float)
    model = MLP((3, 4, k), hidden="sigmoid", output="sigmoid")
    theta = model.init(21) + 0.1 * rng.standard_normal(model.n_params)
    lam = cv.from_nielsen(lam_n, n, cost=cost, n_outputs=k)
    obj = RegularizedError(model, X, Y, loss=loss, penalty=L2(lam))
    E, g = obj.value_and_grad(theta)
    C = nielsen_network2_cost(cost, model, theta, X, Y, lam_n)
    assert C == pytest.approx(factor(k) * E, rel=1e-12)
    grad_C = central_differences(lambda t: nielsen_network2_cost(cost, model, t, X, Y, lam_n), theta)
    np.testing.assert_allclose(grad_C, factor(k) * g, rtol=1e-6, atol=1e-9)
    # his λ_N/n read as swarmreg's λ (the log-likelihood rule) misses for k = 3
    obj_n = RegularizedError(model, X, Y, loss=loss, penalty=L2(lam_n / n))
    assert abs(C - factor(k) * obj_n(theta)) > 1e-3 * C


def test_nielsen_default_cost_keeps_its_value():
    assert cv.from_nielsen(5.0, 1000) == cv.from_nielsen(5.0, 1000, cost="log_likelihood", n_outputs=7) == 5.0 / 1000
    assert cv.from_nielsen(5.0, 1000, cost="cross_entropy", n_outputs=10) == pytest.approx(5.0 / 10000)
    assert cv.from_nielsen(5.0, 1000, cost="quadratic", n_outputs=10) == pytest.approx(10.0 / 10000)


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


def test_sklearn_lbfgs_regressor_reaches_the_translated_optimum_reliably_only_for_one_output():
    """scikit-learn issue #8349, as the module docstring states it.  Its lbfgs, from ten
    starts, on a linear model: with k = 1 every run ends at the optimum for
    λ = 2·alpha/n (within scipy's default ftol, measured <= 3e-6); with k = 3 it is fed
    the value of ½·D + … with the gradient of (k/2)·D + …, and some runs stop far short
    of the translated optimum (measured: up to 2e-3)."""
    sk = pytest.importorskip("sklearn.neural_network")
    rng = np.random.default_rng(3)
    n, d, alpha = 40, 3, 0.5
    X = rng.standard_normal((n, d))
    worst = {}
    for k in (1, 3):
        Y = np.tanh(X @ rng.standard_normal((d, k))) + 0.1 * rng.standard_normal((n, k))
        best = optimum(MLP((d, k)), X, Y, L2(cv.from_sklearn_mlp(alpha, n, "mse", k)))
        gaps = []
        for start in range(10):
            reg = sk.MLPRegressor(hidden_layer_sizes=(), solver="lbfgs", alpha=alpha, tol=1e-15, max_iter=10**5,
                                  max_fun=10**6, random_state=start)
            _quiet_fit(reg, X, Y[:, 0] if k == 1 else Y)
            gaps.append(np.abs(np.r_[reg.coefs_[0].ravel(), reg.intercepts_[0]] - best).max())
        worst[k] = max(gaps)
    assert worst[1] < 1e-5
    assert worst[3] > 1e-4


# ------------------------------------------- scikit-learn linear models
def linear_data(n, d, k, seed, informative=None):
    """X (n, d) and Y (n, k) = X·B + 0.3 + noise, only the first ``informative`` features used."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    B = rng.standard_normal((d, k))
    if informative is not None:
        B[informative:] = 0.0
    return X, X @ B + 0.3 + 0.5 * rng.standard_normal((n, k))


def sk_theta(model, coef, intercept):
    """swarmreg's θ from a linear scikit-learn model's coef_ (k, d) or (d,) and intercept_."""
    k, d = model.n_outputs, model.n_inputs
    return model.pack([(np.reshape(coef, (k, d)).T, np.reshape(intercept, (k,)))])


@pytest.mark.parametrize("k", [1, 3])
def test_sklearn_ridge_solution_is_stationary_for_translated_lambda(k):
    lm = pytest.importorskip("sklearn.linear_model")
    n, d, alpha = 40, 4, 2.5
    X, Y = linear_data(n, d, k, seed=30 + k)
    ridge_sk = lm.Ridge(alpha=alpha).fit(X, Y[:, 0] if k == 1 else Y)
    model = MLP((d, k))
    theta = sk_theta(model, ridge_sk.coef_, ridge_sk.intercept_)
    lam = cv.from_sklearn_ridge(alpha, n, n_outputs=k)
    assert lam == pytest.approx(2 * alpha / (n * k))
    obj = RegularizedError(model, X, Y, penalty=L2(lam))
    g_data = np.linalg.norm(obj.data_value_and_grad(theta)[1])
    assert np.linalg.norm(obj.value_and_grad(theta)[1]) <= 1e-8 * g_data
    # alpha read without the 1/(n·k) (or without the 1/k) leaves a gradient
    for wrong in (alpha, 2 * alpha / n if k > 1 else alpha / n):
        g_wrong = RegularizedError(model, X, Y, penalty=L2(wrong)).value_and_grad(theta)[1]
        assert np.linalg.norm(g_wrong) > 0.1 * g_data


@pytest.mark.parametrize("k", [1, 2])
def test_sklearn_lasso_equals_lbfgs_optimum(k):
    lm = pytest.importorskip("sklearn.linear_model")
    n, d, alpha = 40, 5, 0.15
    X, Y = linear_data(n, d, k, seed=40 + k, informative=2)
    lasso = lm.Lasso(alpha=alpha, tol=1e-14, max_iter=10**5).fit(X, Y[:, 0] if k == 1 else Y)
    model = MLP((d, k))
    theta_sk = sk_theta(model, lasso.coef_, lasso.intercept_)
    lam1 = cv.from_sklearn_lasso(alpha, n_outputs=k)
    assert lam1 == pytest.approx(2 * alpha / k)
    best = optimum(model, X, Y, L1(lam1))
    wm = model.weight_mask
    assert (best[wm] == 0).sum() >= 2  # the irrelevant features are cut
    np.testing.assert_array_equal(theta_sk[wm] == 0, best[wm] == 0)
    np.testing.assert_allclose(theta_sk, best, rtol=0, atol=1e-6)
    assert l1_optimality_gap(RegularizedError(model, X, Y, penalty=L1(lam1)), theta_sk, lam1) < 1e-8


@pytest.mark.parametrize("k", [1, 3])
def test_sklearn_logistic_l2_solution_is_stationary_for_translated_lambda(k):
    """Binary (one sigmoid output) and multinomial (k softmax outputs), C·Σ log-loss + ½‖w‖²."""
    lm = pytest.importorskip("sklearn.linear_model")
    n, d, C = 60, 3, 0.7
    rng = np.random.default_rng(50 + k)
    X = rng.standard_normal((n, d))
    y = (X @ rng.standard_normal((d, max(k, 2))) + rng.standard_normal((n, max(k, 2)))).argmax(axis=1)
    clf = lm.LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y)
    model = MLP((d, k), output="sigmoid" if k == 1 else "softmax")
    theta = sk_theta(model, clf.coef_, clf.intercept_)
    lam = cv.from_sklearn_logistic(C, n)
    assert lam == pytest.approx(1 / (C * n))
    obj = RegularizedError(model, X, y, penalty=L2(lam))
    g_data = np.linalg.norm(obj.data_value_and_grad(theta)[1])
    assert np.linalg.norm(obj.value_and_grad(theta)[1]) <= 1e-9 * g_data
    # lbfgs (scikit-learn's default) ends at the same optimum as LBFGSTrainer
    clf = lm.LogisticRegression(C=C, tol=1e-10, max_iter=10**4).fit(X, y)
    np.testing.assert_allclose(sk_theta(model, clf.coef_, clf.intercept_), optimum(model, X, y, L2(lam)), atol=1e-7)
    # 1/C read as λ misses
    g_wrong = RegularizedError(model, X, y, penalty=L2(1 / C)).value_and_grad(theta)[1]
    assert np.linalg.norm(g_wrong) > 0.1 * g_data


@pytest.mark.parametrize("k", [1, 3])
def test_sklearn_logistic_l1_equals_lbfgs_optimum(k):
    """saga with l1_ratio=1: C·Σ log-loss + ‖w‖₁, intercept unpenalized."""
    lm = pytest.importorskip("sklearn.linear_model")
    n, d, C = 90, 4, 0.15
    rng = np.random.default_rng(60 + k)
    X = rng.standard_normal((n, d))
    B = rng.standard_normal((d, max(k, 2)))
    B[2:] = 0.0
    y = (X @ B + rng.standard_normal((n, max(k, 2)))).argmax(axis=1)
    clf = lm.LogisticRegression(C=C, l1_ratio=1.0, solver="saga", tol=1e-12, max_iter=10**5).fit(X, y)
    model = MLP((d, k), output="sigmoid" if k == 1 else "softmax")
    theta_sk = sk_theta(model, clf.coef_, clf.intercept_)
    lam1 = cv.from_sklearn_logistic(C, n)
    best = optimum(model, X, y, L1(lam1))
    wm = model.weight_mask
    assert (best[wm] == 0).sum() >= 2
    np.testing.assert_array_equal(theta_sk[wm] == 0, best[wm] == 0)
    np.testing.assert_allclose(theta_sk, best, rtol=0, atol=1e-6)
    assert l1_optimality_gap(RegularizedError(model, X, y, penalty=L1(lam1)), theta_sk, lam1) < 1e-6


def test_sklearn_logistic_c_inf_is_no_penalty():
    assert cv.from_sklearn_logistic(math.inf, 50) == 0.0
    assert cv.to_sklearn_logistic(0.0, 50) == math.inf
    assert cv.from_sklearn_logistic(np.float64(np.inf), 50) == 0.0


# SGD from scikit-learn converges only in the mean: with averaging (average=True,
# Polyak-Ruppert) and 2000 epochs on 100 samples its distance to the optimum
# measured 2e-4 to 5e-4 (max |Δθ|, seeds 0-3), the distance to the optimum of the
# misread λ 3e-2 to 7e-1.  The tolerances below sit 4x above the first.
SGD_TOL = 2e-3


def sgd_problem(seed, classify, d=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((100, d))
    f = X @ np.r_[1.0, -2.0, 0.5, np.zeros(d - 3)] + 0.3
    y = (f + rng.standard_normal(100) > 0).astype(int) if classify else f + 0.5 * rng.standard_normal(100)
    return X, y


@pytest.mark.parametrize("penalty", ["l2", "l1"])
def test_sklearn_sgd_regressor_converges_to_translated_optimum(penalty):
    lm = pytest.importorskip("sklearn.linear_model")
    alpha = 0.05
    X, y = sgd_problem(70, classify=False, d=4)
    # averaging with an L1 part drifts in scikit-learn 1.9.1 (see the docstring): plain SGD there
    reg = lm.SGDRegressor(loss="squared_error", penalty=penalty, alpha=alpha, tol=None, max_iter=2000,
                          random_state=0, **(dict(average=True, learning_rate="invscaling", eta0=0.05)
                                             if penalty == "l2" else dict(average=False))).fit(X, y)
    model = MLP((4, 1))
    theta_sk = sk_theta(model, reg.coef_, reg.intercept_)
    lam = cv.from_sklearn_sgd_regressor(alpha)
    assert lam == 2 * alpha
    P = L2 if penalty == "l2" else L1
    assert np.abs(theta_sk - optimum(model, X, y, P(lam))).max() < SGD_TOL
    assert np.abs(theta_sk - optimum(model, X, y, P(alpha))).max() > 10 * SGD_TOL
    if penalty == "l1":  # the truncated gradient cuts the irrelevant feature exactly
        assert theta_sk[3] == 0.0


@pytest.mark.parametrize("penalty", ["l2", "l1"])
def test_sklearn_sgd_classifier_converges_to_translated_optimum(penalty):
    lm = pytest.importorskip("sklearn.linear_model")
    alpha = 0.05
    X, y = sgd_problem(71, classify=True)
    clf = lm.SGDClassifier(loss="log_loss", penalty=penalty, alpha=alpha, tol=None, max_iter=2000,
                           average=penalty == "l2", random_state=0).fit(X, y)
    model = MLP((3, 1), output="sigmoid")
    theta_sk = sk_theta(model, clf.coef_, clf.intercept_)
    lam = cv.from_sklearn_sgd_classifier(alpha)
    assert lam == alpha
    P = L2 if penalty == "l2" else L1
    assert np.abs(theta_sk - optimum(model, X, y, P(lam))).max() < SGD_TOL
    assert np.abs(theta_sk - optimum(model, X, y, P(2 * alpha))).max() > 10 * SGD_TOL


def test_sklearn_sgd_classifier_one_versus_rest_is_k_sigmoid_outputs():
    """3 classes: one binary problem per class, each with alpha: λ = alpha/3 for 3
    sigmoid outputs on one-hot targets (measured distance 3e-4, misread λ = alpha 0.6)."""
    lm = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(72)
    n, d, k, alpha = 90, 3, 3, 0.05
    X = rng.standard_normal((n, d))
    y = (X @ rng.standard_normal((d, k)) + rng.standard_normal((n, k))).argmax(axis=1)
    clf = lm.SGDClassifier(loss="log_loss", alpha=alpha, tol=None, max_iter=2000, average=True,
                           random_state=0).fit(X, y)
    model = MLP((d, k), output="sigmoid")
    theta_sk = sk_theta(model, clf.coef_, clf.intercept_)
    lam = cv.from_sklearn_sgd_classifier(alpha, n_outputs=k)
    onehot = np.eye(k)[y]
    assert np.abs(theta_sk - optimum(model, X, onehot, L2(lam))).max() < SGD_TOL
    assert np.abs(theta_sk - optimum(model, X, onehot, L2(alpha))).max() > 10 * SGD_TOL


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


def sum_loss(loss, z, Y):
    """PyTorch's MSELoss / CrossEntropyLoss / BCEWithLogitsLoss with reduction="sum",
    by their documented formulas, from logits z (n, k)."""
    if loss == "mse":
        return np.sum((z - Y) ** 2)
    if loss == "cross_entropy":
        return np.sum(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(Y)), Y])
    return np.sum(np.log1p(np.exp(z)) - Y * z)  # −[y·log σ(z) + (1 − y)·log(1 − σ(z))]


@pytest.mark.parametrize("loss, output, k", [("mse", "identity", 3), ("cross_entropy", "softmax", 3),
                                             ("binary_cross_entropy", "sigmoid", 2)])
def test_torch_sum_objective_is_n_c_times_canonical_error(loss, output, k):
    rng = np.random.default_rng(80)
    n, d, wd = 12, 3, 0.3
    X = rng.standard_normal((n, d))
    if loss == "mse":
        Y = rng.standard_normal((n, k))
    elif loss == "cross_entropy":
        Y = rng.integers(0, k, n)
    else:
        Y = (rng.random((n, k)) < 0.5).astype(float)
    model = MLP((d, k), output=output)
    theta = model.init(81) + 0.1 * rng.standard_normal(model.n_params)
    wm = model.weight_mask

    def torch_objective(t):
        W, b = t[:d * k].reshape(d, k), t[d * k:]
        return sum_loss(loss, X @ W + b, Y) + wd / 2 * np.sum(t[wm] ** 2)

    lam = cv.from_torch_sum(wd, n, loss, n_outputs=k)
    c = 1 if loss == "cross_entropy" else k
    assert lam == pytest.approx(wd / (n * c))
    E, g = RegularizedError(model, X, Y, penalty=L2(lam)).value_and_grad(theta)
    assert torch_objective(theta) == pytest.approx(n * c * E, rel=1e-12)
    np.testing.assert_allclose(central_differences(torch_objective, theta), n * c * g, rtol=1e-7, atol=1e-8)


def adam_steps(obj, wd, steps, decoupled, lr=0.01, betas=(0.9, 0.999), eps=1e-8):
    """Full-batch Adam from θ = 0, as PyTorch documents it: weight_decay wd added to the
    gradient before the moments (Adam), or w ← w − lr·wd·w before the Adam step (AdamW),
    biases in a group without decay.  Returns θ, m̂ and v̂ of the last step."""
    b1, b2 = betas
    decay = np.where(obj.model.weight_mask, wd, 0.0)
    theta = np.zeros(obj.n_params)
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    for t in range(1, steps + 1):
        g = obj.data_value_and_grad(theta)[1]
        if decoupled:
            theta = theta - lr * decay * theta
        else:
            g = g + decay * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta, m_hat, v_hat


def ridge_problem():
    rng = np.random.default_rng(14)
    X = rng.standard_normal((30, 3))
    return X, X @ [1.5, -0.5, 0.8] + 0.2 + 0.2 * rng.standard_normal(30)


def test_full_batch_adam_with_weight_decay_ends_at_the_same_lambdas_optimum():
    """Coupled: the step vanishes only where g_D + wd·w = 0 (on the optimum to rounding
    after 1000 steps, measured; it stays there up to about 4000)."""
    X, y = ridge_problem()
    wd = 0.3
    obj = RegularizedError(MLP((3, 1)), X, y)
    theta, _, _ = adam_steps(obj, wd, 1500, decoupled=False)
    lam = cv.from_torch_adam(wd)
    assert lam == wd
    np.testing.assert_allclose(theta, ridge(X, y, lam), rtol=0, atol=1e-10)
    lam_eff, residual = cv.effective_l2(obj, theta)
    assert lam_eff == pytest.approx(wd, rel=1e-8) and residual < 1e-8


def test_adamw_has_a_strength_per_coordinate():
    """Decoupled (AdamW): at its (quasi-)fixed point g_i = −λ_W·(√v̂_i + ε)·w_i, a
    different strength per weight (measured spread 6x, relation to 0.6%), so no single
    λ fits: effective_l2's residual is large (measured 0.44)."""
    X, y = ridge_problem()
    wd, eps = 0.3, 1e-8
    obj = RegularizedError(MLP((3, 1)), X, y)
    theta, m_hat, v_hat = adam_steps(obj, wd, 2000, decoupled=True, eps=eps)
    wm = obj.model.weight_mask
    g = obj.data_value_and_grad(theta)[1][wm]
    strengths = wd * (np.sqrt(v_hat[wm]) + eps)
    np.testing.assert_allclose(-g / theta[wm], strengths, rtol=0.02)
    assert strengths.max() > 3 * strengths.min()
    lam_eff, residual = cv.effective_l2(obj, theta)
    assert strengths.min() < lam_eff < strengths.max()
    assert residual > 0.3


@pytest.mark.parametrize("mu", [0.0, 0.9])
def test_decoupled_decay_with_momentum_is_lambda_times_one_minus_mu(mu):
    """SGD, heavy ball: v ← μv + g_D; θ ← θ − ηv; w ← w − ηλ·w_old: optimum for λ(1 − μ)."""
    X, y = ridge_problem()
    eta, lam = 0.05, 0.4
    obj = RegularizedError(MLP((3, 1)), X, y)
    decay = np.where(obj.model.weight_mask, eta * lam, 0.0)
    theta, v = np.zeros(obj.n_params), np.zeros(obj.n_params)
    for _ in range(5000):
        old = theta.copy()
        v = mu * v + obj.data_value_and_grad(theta)[1]
        theta = theta - eta * v - decay * old
    np.testing.assert_allclose(theta, ridge(X, y, lam * (1 - mu)), rtol=0, atol=1e-10)
    assert cv.from_decoupled_fraction(eta * lam, eta, mu) == pytest.approx(lam * (1 - mu))
    if mu:
        assert np.abs(theta - ridge(X, y, lam)).max() > 1e-2


# ------------------------------------------------------------------ Keras
@pytest.mark.parametrize("which", ["L2", "L1"])
def test_keras_loss_and_gradient_equal_canonical_error(which):
    """Oracle: Keras' documented L2(l2) = l2·Σ kernel² and L1(l1) = l1·Σ|kernel|, added to the mean loss."""
    rng = np.random.default_rng(12)
    X, Y = rng.standard_normal((15, 3)), rng.standard_normal((15, 2))
    model = MLP((3, 4, 2), hidden="tanh")
    theta = model.init(13)
    c = 0.07
    term, grad, penalty = {"L2": (np.square, 2 * c * theta, L2(cv.from_keras_l2(c))),
                           "L1": (np.abs, c * np.sign(theta), L1(cv.from_keras_l1(c)))}[which]
    kernels = [W for W, _ in model.unpack(theta)]
    keras_loss = np.mean(np.mean((model.forward(theta, X) - Y) ** 2, axis=-1)) + sum(c * np.sum(term(W))
                                                                                      for W in kernels)
    obj = RegularizedError(model, X, Y, penalty=penalty)
    E, g = obj.value_and_grad(theta)
    assert E == pytest.approx(keras_loss, rel=1e-13)
    _, g_data = obj.data_value_and_grad(theta)
    np.testing.assert_allclose(g - g_data, np.where(model.weight_mask, grad, 0.0), rtol=1e-13)


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


# ------------------------------------------------------------ effective_l2
def test_effective_l2_recovers_lambda_at_the_ridge_optimum():
    X, y = ridge_problem()
    theta = ridge(X, y, 0.3)  # closed form: argmin mean((Xw + b − y)²) + 0.15·‖w‖²
    for penalty in (None, L2(5.0)):  # the objective's own penalty plays no part
        lam, residual = cv.effective_l2(RegularizedError(MLP((3, 1)), X, y, penalty=penalty), theta)
        assert type(lam) is float and type(residual) is float
        assert lam == pytest.approx(0.3, rel=1e-10)
        assert residual < 1e-9


def test_effective_l2_with_biases_penalized():
    """regularize_bias=True: the closed form with the bias in the penalty too."""
    X, y = ridge_problem()
    A = np.hstack([X, np.ones((30, 1))])
    theta = np.linalg.solve(2.0 / 30 * A.T @ A + 0.3 * np.eye(4), 2.0 / 30 * A.T @ y)
    lam, residual = cv.effective_l2(RegularizedError(MLP((3, 1)), X, y, regularize_bias=True), theta)
    assert lam == pytest.approx(0.3, rel=1e-10) and residual < 1e-9
    # the weights-only optimum is none when the bias counts: there g_b = 0 but b ≠ 0
    assert cv.effective_l2(RegularizedError(MLP((3, 1)), X, y, regularize_bias=True), ridge(X, y, 0.3))[1] > 1e-3


def test_effective_l2_is_the_least_squares_lambda_at_a_random_theta():
    """Oracle: the data gradient by central differences, λ by minimizing ‖g + λw‖ numerically."""
    from scipy.optimize import minimize_scalar
    X, y = softmax_problem(n=30)
    model = MLP((3, 4, 3), output="softmax")
    obj = RegularizedError(model, X, y, penalty=L2(1.0))
    theta = model.init(90)
    wm = model.weight_mask
    g = central_differences(obj.data_loss, theta)[wm]
    w = theta[wm]
    best = minimize_scalar(lambda lam: np.linalg.norm(g + lam * w), bracket=(-1.0, 1.0), tol=1e-12)
    lam, residual = cv.effective_l2(obj, theta)
    assert lam == pytest.approx(best.x, rel=1e-6)
    assert residual == pytest.approx(np.linalg.norm(g + best.x * w) / np.linalg.norm(g), rel=1e-6)
    assert 0.0 < residual < 1.0


def test_effective_l2_of_a_decay_fraction_fixed_point():
    X, y = ridge_problem()
    eta, d, mu = 0.1, 0.01, 0.8
    obj = RegularizedError(MLP((3, 1)), X, y)
    res = BackpropTrainer(lr=eta, epochs=800, momentum=mu, decay_fraction=d).fit(obj, theta0=np.zeros(4))
    lam, residual = cv.effective_l2(obj, res.theta)
    assert lam == pytest.approx(cv.from_decoupled_fraction(d, eta, mu), rel=1e-8)
    assert residual < 1e-7


def test_effective_l2_edge_cases():
    rng = np.random.default_rng(91)
    X = rng.standard_normal((10, 2))
    model = MLP((2, 1))
    theta = np.array([0.5, -1.25, 0.25])
    # g = 0 exactly (targets the model reproduces), w ≠ 0: stationary, λ = 0
    exact = RegularizedError(model, X, model.forward(theta, X))
    assert not exact.data_value_and_grad(theta)[1].any()
    assert cv.effective_l2(exact, theta) == (0.0, 0.0)
    # w = 0, g ≠ 0: no weight to measure λ by
    lam, residual = cv.effective_l2(RegularizedError(model, X, rng.standard_normal(10)), np.array([0.0, 0.0, 0.3]))
    assert math.isnan(lam) and residual == 1.0
    # w = 0 and g = 0
    lam, residual = cv.effective_l2(RegularizedError(model, X, np.zeros(10)), np.zeros(3))
    assert math.isnan(lam) and residual == 0.0
    # weights so small that w·w underflows: λ* still scales as 1/|w| (g barely moves)
    obj = RegularizedError(model, X, rng.standard_normal(10))
    u = np.array([0.5, -1.25])
    lam_a, res_a = cv.effective_l2(obj, np.r_[u * 1e-150, 0.3])
    lam_b, res_b = cv.effective_l2(obj, np.r_[u * 1e-170, 0.3])
    assert math.isfinite(lam_b) and lam_b == pytest.approx(lam_a * 1e20, rel=1e-12)
    assert res_b == pytest.approx(res_a, rel=1e-12)


@pytest.mark.parametrize("theta, name", [(np.zeros(3), "theta"), (np.zeros(5), "theta"),
                                         (np.array([0.0, np.nan, 0.0, 0.0]), "theta")])
def test_effective_l2_refuses_a_wrong_theta(theta, name):
    X, y = ridge_problem()
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        cv.effective_l2(RegularizedError(MLP((3, 1)), X, y), theta)


def test_effective_l2_refuses_what_is_not_an_objective():
    with pytest.raises(ValueError, match=r"\bobjective\b"):
        cv.effective_l2(MLP((3, 1)), np.zeros(4))


# ---------------------------------------------------------- inverses, args
PAIRS = [
    (cv.from_nielsen, cv.to_nielsen, (50,)),
    (cv.from_nielsen, cv.to_nielsen, (50, "log_likelihood", 4)),
    (cv.from_nielsen, cv.to_nielsen, (50, "cross_entropy", 3)),
    (cv.from_nielsen, cv.to_nielsen, (50, "quadratic", 3)),
    (cv.from_minibatch_items, cv.to_minibatch_items, (8,)),
    (cv.from_sklearn_mlp, cv.to_sklearn_mlp, (32, "cross_entropy")),
    (cv.from_sklearn_mlp, cv.to_sklearn_mlp, (32, "mse", 3)),
    (cv.from_sklearn_mlp, cv.to_sklearn_mlp, (32, "binary_cross_entropy", 2)),
    (cv.from_sklearn_ridge, cv.to_sklearn_ridge, (40,)),
    (cv.from_sklearn_ridge, cv.to_sklearn_ridge, (40, 3)),
    (cv.from_sklearn_lasso, cv.to_sklearn_lasso, ()),
    (cv.from_sklearn_lasso, cv.to_sklearn_lasso, (3,)),
    (cv.from_sklearn_sgd_regressor, cv.to_sklearn_sgd_regressor, ()),
    (cv.from_sklearn_sgd_classifier, cv.to_sklearn_sgd_classifier, ()),
    (cv.from_sklearn_sgd_classifier, cv.to_sklearn_sgd_classifier, (3,)),
    (cv.from_torch_sgd, cv.to_torch_sgd, ()),
    (cv.from_torch_adam, cv.to_torch_adam, ()),
    (cv.from_torch_sum, cv.to_torch_sum, (20, "mse", 3)),
    (cv.from_torch_sum, cv.to_torch_sum, (20, "cross_entropy", 3)),
    (cv.from_torch_sum, cv.to_torch_sum, (20, "binary_cross_entropy", 2)),
    (cv.from_keras_l2, cv.to_keras_l2, ()),
    (cv.from_keras_l1, cv.to_keras_l1, ()),
    (cv.from_decoupled_fraction, cv.to_decoupled_fraction, (0.05, 0.9)),
]
# C of LogisticRegression is an inverse strength: C = 0 is no value, C = inf is λ = 0
# (test_sklearn_logistic_c_inf_is_no_penalty), so its round trip runs over positive values.
INVERSE_PAIRS = [(cv.from_sklearn_logistic, cv.to_sklearn_logistic, (60,))]


@pytest.mark.parametrize("frm, to, args", PAIRS)
@pytest.mark.parametrize("value", [0.0, 1e-4, 0.37, 12.0])
def test_to_inverts_from(frm, to, args, value):
    assert to(frm(value, *args), *args) == pytest.approx(value, rel=1e-14, abs=0)
    assert frm(to(value, *args), *args) == pytest.approx(value, rel=1e-14, abs=0)


@pytest.mark.parametrize("frm, to, args", INVERSE_PAIRS)
@pytest.mark.parametrize("value", [1e-4, 0.37, 12.0])
def test_to_inverts_from_for_inverse_strengths(frm, to, args, value):
    test_to_inverts_from(frm, to, args, value)


def test_every_public_translator_has_its_inverse_tested():
    tested = {f.__name__ for pair in PAIRS + INVERSE_PAIRS for f in pair[:2]}
    public = {name for name in cv.__all__ if name.startswith(("from_", "to_"))}
    assert tested == public
    assert all(("to_" + name[5:]) in public for name in public if name.startswith("from_"))


def test_formulas():
    assert cv.from_nielsen(5.0, 1000) == 5.0 / 1000
    assert cv.from_minibatch_items(0.5, 1) == 0.5
    assert cv.from_sklearn_mlp(1e-4, 200, "cross_entropy") == pytest.approx(1e-4 / 200)
    assert cv.from_sklearn_mlp(1e-4, 200, "mse") == pytest.approx(2e-4 / 200)
    assert cv.from_torch_sgd(5e-4) == 5e-4
    assert cv.from_keras_l2(0.01) == 0.02
    assert cv.from_decoupled_fraction(1e-3, 0.1, 0.9) == pytest.approx(1e-3)
    assert cv.from_sklearn_ridge(1.0, 100) == pytest.approx(0.02)
    assert cv.from_sklearn_ridge(1.0, 100, 4) == pytest.approx(0.005)
    assert cv.from_sklearn_lasso(0.1) == pytest.approx(0.2)
    assert cv.from_sklearn_lasso(0.1, 4) == pytest.approx(0.05)
    assert cv.from_sklearn_logistic(1.0, 200) == pytest.approx(1 / 200)
    assert cv.from_sklearn_sgd_regressor(1e-4) == 2e-4
    assert cv.from_sklearn_sgd_classifier(1e-4) == 1e-4
    assert cv.from_sklearn_sgd_classifier(3e-4, 3) == pytest.approx(1e-4)
    assert cv.from_torch_adam(1e-2) == 1e-2
    assert cv.from_torch_sum(0.5, 10, "mse", 5) == pytest.approx(0.01)
    assert cv.from_torch_sum(0.5, 10, "cross_entropy", 5) == pytest.approx(0.05)
    assert cv.from_torch_sum(0.5, 10, "binary_cross_entropy", 5) == pytest.approx(0.01)
    assert cv.from_keras_l1(0.01) == 0.01


def test_module_says_where_no_exact_lambda_exists():
    """The statements the tests above check, as the module docstring makes them."""
    doc = " ".join(cv.__doc__.split())
    assert "Where no exact λ exists" in doc
    # coupled Adam: the same λ, exactly, at a fixed point (test_full_batch_adam_…)
    assert "Adam(weight_decay=λ)`` run to a fixed point ends exactly at the optimum" in doc
    # AdamW: a strength per coordinate, measured by effective_l2 (test_adamw_has_a_strength_per_coordinate)
    assert "gᵢ = −λ_W·(√v̂ᵢ + ε)·wᵢ" in doc and "no ``from_adamw``" in doc and ":func:`effective_l2`" in doc
    # decoupled decay with momentum (test_decoupled_decay_with_momentum_is_lambda_times_one_minus_mu)
    assert "the optimum for λ·(1 − μ), not λ" in doc
    # schedules
    assert "Coupled L2 keeps the same λ at every step" in doc
    assert "λ_t = d·(1 − μ)/η_t drifts" in doc
    # scikit-learn's lbfgs regressor with k > 1 (test_sklearn_lbfgs_regressor_…)
    assert "#8349" in doc and "does not reliably reach the mse optimum of the translated λ" in doc
    assert "no exact λ for adam" not in doc.lower()
    # every translator has its row in the table
    table = cv.__doc__.split("Optimizers, momentum and schedules")[0]
    for row in ("Ridge", "Lasso", "LogisticRegression", "SGDRegressor", "SGDClassifier", "Adam weight_decay",
                'reduction="sum"', "AdamW", "regularizers.L1", "cross-entropy cost", "quadratic cost"):
        assert row in table


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
    (lambda: cv.from_nielsen(1.0, 10, cost="quadratic_cost"), "cost"),
    (lambda: cv.from_nielsen(1.0, 10, cost=None), "cost"),
    (lambda: cv.to_nielsen(1.0, 10, cost="cross_entropy", n_outputs=0), "n_outputs"),
    (lambda: cv.from_nielsen(1.0, 10, cost="quadratic", n_outputs=1.5), "n_outputs"),
    (lambda: cv.from_sklearn_ridge(-1.0, 10), "alpha"),
    (lambda: cv.from_sklearn_ridge(1.0, 0), "n"),
    (lambda: cv.from_sklearn_ridge(1.0, 10, 0), "n_outputs"),
    (lambda: cv.to_sklearn_ridge(NAN, 10), "lam"),
    (lambda: cv.from_sklearn_lasso(INF), "alpha"),
    (lambda: cv.from_sklearn_lasso(0.1, n_outputs=-1), "n_outputs"),
    (lambda: cv.to_sklearn_lasso(-0.1), "lam"),
    (lambda: cv.from_sklearn_logistic(0.0, 10), "C"),
    (lambda: cv.from_sklearn_logistic(-1.0, 10), "C"),
    (lambda: cv.from_sklearn_logistic(NAN, 10), "C"),
    (lambda: cv.from_sklearn_logistic(-INF, 10), "C"),
    (lambda: cv.from_sklearn_logistic("1.0", 10), "C"),
    (lambda: cv.from_sklearn_logistic(1.0, 0), "n"),
    (lambda: cv.to_sklearn_logistic(-1.0, 10), "lam"),
    (lambda: cv.to_sklearn_logistic(1.0, 2.0), "n"),
    (lambda: cv.from_sklearn_sgd_regressor(-1e-4), "alpha"),
    (lambda: cv.to_sklearn_sgd_regressor(INF), "lam"),
    (lambda: cv.from_sklearn_sgd_classifier(True), "alpha"),
    (lambda: cv.from_sklearn_sgd_classifier(1e-4, 0), "n_outputs"),
    (lambda: cv.to_sklearn_sgd_classifier(NAN), "lam"),
    (lambda: cv.from_torch_adam(-1e-2), "weight_decay"),
    (lambda: cv.to_torch_adam(NAN), "lam"),
    (lambda: cv.from_torch_sum(-0.1, 10, "mse"), "weight_decay"),
    (lambda: cv.from_torch_sum(0.1, 0, "mse"), "n"),
    (lambda: cv.from_torch_sum(0.1, 10, "MSELoss"), "loss"),
    (lambda: cv.from_torch_sum(0.1, 10, "mse", n_outputs=0), "n_outputs"),
    (lambda: cv.to_torch_sum(INF, 10, "mse"), "lam"),
    (lambda: cv.to_torch_sum(0.1, 10, ["mse"]), "loss"),
    (lambda: cv.from_keras_l1(-0.01), "l1"),
    (lambda: cv.from_keras_l1(None), "l1"),
    (lambda: cv.to_keras_l1(INF), "lam"),
])
def test_bad_arguments_raise_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        call()
