"""The scikit-learn estimators of :mod:`swarmreg.sklearn`.

scikit-learn's own estimator checks over every trainer for both estimators;
then, against oracles: E recomputed by hand from the fitted weights, the
closed-form ridge solution (which also shows that nothing is standardized
behind the user's back), scikit-learn's own multinomial LogisticRegression
under the λ of :func:`swarmreg.conventions.from_sklearn_logistic`, and the
trainers called directly with the estimator's seed.
"""

import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from swarmreg import conventions  # noqa: E402
from swarmreg.backprop import BackpropTrainer  # noqa: E402
from swarmreg.model import MLP  # noqa: E402
from swarmreg.objective import RegularizedError  # noqa: E402
from swarmreg.penalties import make_penalty  # noqa: E402
from swarmreg.reference import LBFGSTrainer  # noqa: E402
from swarmreg.sklearn import MLPClassifier, MLPRegressor, trainer_settings  # noqa: E402
from swarmreg.swarm import SwarmTrainer  # noqa: E402

# Small budgets: the checks fit a few hundred times.  Each reaches the scores the
# checks ask on their data (training accuracy > 0.83 on blobs, R² > 0.5) with room
# to spare for any seed, not only the checks' random_state=0: over seeds 0..29 the
# swarm's worst is 0.91 and R² 0.79 (at 10 particles × 50 iterations it was 0.62
# and 0.34, passing at seed 0 by luck); backprop's 0.92 and 0.80; L-BFGS's 0.94, 0.92.
FAST = {"backprop": {"epochs": 20}, "swarm": {"particles": 10, "iterations": 200}, "lbfgs": {"max_iter": 50}}
# Budgets that learn the tests' own data (iris, small regressions) well, still in a fraction of a second.
LEARN = {"backprop": {"epochs": 50}, "swarm": {"particles": 20, "iterations": 200}, "lbfgs": {"max_iter": 100}}
ESTIMATORS = [Est(trainer=name, trainer_options=options) for name, options in FAST.items()
              for Est in (MLPClassifier, MLPRegressor)]


@parametrize_with_checks(ESTIMATORS)
def test_scikit_learn_estimator_checks(estimator, check):
    # Unscaled inputs (check_fit_idempotent's X ~ N(100, 1)) make backprop at
    # lr 0.1 diverge: the warning is the estimator's answer, not the check's subject.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


# ------------------------------------------------------------------ data
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def regression(n_targets=1, n=60, seed=0):
    X, y = make_regression(n_samples=n, n_features=4, n_targets=n_targets, noise=0.5, random_state=seed)
    return X / X.std(axis=0), y / y.std(axis=0)


# ------------------------------------------------------------------ scikit-learn's tools
def test_grid_search_over_lam_picks_a_lam_of_the_grid_and_not_the_one_that_erases_the_weights():
    X, y = load_iris(return_X_y=True)
    grid = [1e-3, 1e-1, 10.0]
    pipe = make_pipeline(StandardScaler(), MLPClassifier(trainer="lbfgs", trainer_options={"max_iter": 200},
                                                         random_state=0))
    search = GridSearchCV(pipe, {"mlpclassifier__lam": grid}, cv=3).fit(X, y)
    best = search.best_params_["mlpclassifier__lam"]
    assert best in grid and best != 10.0
    scores = dict(zip(search.cv_results_["param_mlpclassifier__lam"], search.cv_results_["mean_test_score"]))
    # λ = 10 shrinks every weight to about 0: near-uniform probabilities, a third right
    assert scores[10.0] < 0.5 < scores[best]
    assert search.best_estimator_[-1].lam == best


def test_cross_val_score_with_the_swarm():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(trainer="swarm", random_state=0,
                                                         trainer_options={"particles": 20, "iterations": 200}))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.8)


# ------------------------------------------------------------------ parameters
def test_clone_round_trip_copies_trainer_options():
    options = {"iterations": 30, "particles": 8}
    est = MLPClassifier(hidden_layer_sizes=(5, 3), activation="relu", trainer="swarm", penalty="elastic",
                        lam=0.02, l1_ratio=0.25, trainer_options=options, random_state=7)
    twin = clone(est)
    assert twin.get_params() == est.get_params()
    assert twin.trainer_options == options and twin.trainer_options is not options
    X, y = iris()
    est.fit(X, y)
    assert est.trainer_options is options and options == {"iterations": 30, "particles": 8}  # never touched
    assert not hasattr(twin, "theta_")  # the clone is its own estimator
    refit = clone(est)  # a fitted estimator clones to an unfitted one with the same parameters
    assert not hasattr(refit, "theta_") and refit.get_params() == est.get_params()
    np.testing.assert_array_equal(refit.fit(X, y).theta_, est.theta_)


def test_set_params_reaches_the_trainer_and_defaults_fill_the_rest():
    X, y = iris()
    options = {"epochs": 7}
    est = MLPClassifier(random_state=0).set_params(trainer_options=options)
    assert est.get_params()["trainer_options"] is options  # stored unchanged
    est.fit(X, y)
    assert options == {"epochs": 7}
    assert est.n_iter_ == 7
    assert est.train_result_.config["epochs"] == 7 and est.train_result_.config["batch_size"] == 32
    est.set_params(trainer_options={"epochs": 3, "batch_size": None, "lr": 0.05})
    est.fit(X, y)
    assert est.n_iter_ == 3
    assert est.train_result_.config["batch_size"] is None and est.train_result_.config["lr"] == 0.05
    # through a pipeline
    pipe = make_pipeline(StandardScaler(), MLPClassifier(trainer="lbfgs", random_state=0))
    pipe.set_params(mlpclassifier__trainer_options={"max_iter": 4}, mlpclassifier__lam=0.5)
    pipe.fit(*load_iris(return_X_y=True))
    assert pipe[-1].n_iter_ <= 4 and pipe[-1].train_result_.config["max_iter"] == 4
    assert pipe[-1].lam == 0.5


def test_trainer_settings_defaults():
    assert trainer_settings("backprop") == {"epochs": 500, "batch_size": 32}
    assert trainer_settings("backprop", {"epochs": 9}) == {"epochs": 9, "batch_size": 32}
    assert trainer_settings("swarm") == {} and trainer_settings("lbfgs") == {}
    options = {"batch_size": None}
    assert trainer_settings("backprop", options) == {"epochs": 500, "batch_size": None}
    assert options == {"batch_size": None}


BAD = [
    ({"trainer": "adam"}, "trainer"),
    ({"trainer": None}, "trainer"),
    ({"lam": -1.0}, "lam"),
    ({"lam": float("nan")}, "lam"),
    ({"lam": "big"}, "lam"),
    ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": -3}, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": (12, "a")}, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": "12"}, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": (4.0,)}, "hidden_layer_sizes"),
    ({"activation": "softmax"}, "activation"),
    ({"activation": "logistic"}, "activation"),
    ({"penalty": "l3"}, "penalty"),
    ({"penalty": "weight_elimination"}, "penalty"),
    ({"l1_ratio": 1.5}, "l1_ratio"),
    ({"trainer_options": {"iterations": 5}}, "iterations"),                 # a swarm setting given to backprop
    ({"trainer_options": {"iterations": 5}}, "trainer_options"),
    ({"trainer": "swarm", "trainer_options": {"epochs": 5}}, "epochs"),
    ({"trainer_options": {"epochs": 0}}, "epochs"),                         # the trainer's own message
    ({"trainer": "swarm", "trainer_options": {"particles": 1}}, "particles"),
    ({"trainer": "lbfgs", "trainer_options": {"tol": -1.0}}, "tol"),
    ({"trainer_options": [("epochs", 5)]}, "trainer_options"),
    ({"random_state": -1}, "random_state"),
    ({"random_state": "seed"}, "random_state"),
]


@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("params, name", BAD, ids=[f"{k}={v!r}" for (p, _) in BAD for k, v in list(p.items())[-1:]])
def test_bad_parameters_raise_at_fit_naming_them(Est, params, name):
    est = Est(**params)  # __init__ stores, never checks
    assert all(est.get_params()[k] is v for k, v in params.items())
    X, y = iris()
    with pytest.raises(ValueError, match=name):
        est.fit(X, y)
    assert not hasattr(est, "n_features_in_")  # checked before the data: nothing half-fitted


# ------------------------------------------------------------------ seeds
def test_same_random_state_same_fit_and_the_trainer_called_directly_agrees():
    X, y = iris()
    for name, Trainer, options in (("swarm", SwarmTrainer, {"particles": 12, "iterations": 60}),
                                   ("backprop", BackpropTrainer, {"epochs": 15}),
                                   ("lbfgs", LBFGSTrainer, {"max_iter": 40})):
        a = MLPClassifier(trainer=name, trainer_options=options, random_state=3, lam=0.01).fit(X, y)
        b = MLPClassifier(trainer=name, trainer_options=options, random_state=3, lam=0.01).fit(X, y)
        c = MLPClassifier(trainer=name, trainer_options=options, random_state=4, lam=0.01).fit(X, y)
        np.testing.assert_array_equal(a.theta_, b.theta_)
        np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
        assert not np.array_equal(a.theta_, c.theta_)
        # an int random_state is the trainer's seed itself
        model = MLP((4, 12, 3), hidden="tanh", output="softmax")
        objective = RegularizedError(model, X, y, penalty=make_penalty("l2", 0.01))
        direct = Trainer(**trainer_settings(name, options)).fit(objective, seed=3)
        np.testing.assert_array_equal(a.theta_, direct.theta)
        assert a.seed_ == 3


def test_random_state_objects_give_a_seed_that_repeats_the_fit():
    X, y = regression()
    options = {"particles": 8, "iterations": 20}
    rs = MLPRegressor(trainer="swarm", trainer_options=options, random_state=np.random.RandomState(0)).fit(X, y)
    assert rs.seed_ == np.random.RandomState(0).randint(2**31)
    gen = MLPRegressor(trainer="swarm", trainer_options=options, random_state=np.random.default_rng(0)).fit(X, y)
    assert gen.seed_ == np.random.default_rng(0).integers(2**31)
    for fitted in (rs, gen):
        again = MLPRegressor(trainer="swarm", trainer_options=options, random_state=fitted.seed_).fit(X, y)
        np.testing.assert_array_equal(again.theta_, fitted.theta_)
    np.random.seed(5)  # None draws from numpy's global state, as scikit-learn's estimators do
    first = MLPRegressor(trainer="swarm", trainer_options=options).fit(X, y)
    np.random.seed(5)
    second = MLPRegressor(trainer="swarm", trainer_options=options).fit(X, y)
    np.testing.assert_array_equal(first.theta_, second.theta_)


# ------------------------------------------------------------------ labels and probabilities
def test_string_and_non_contiguous_labels_map_through_classes():
    X, y = iris()
    options = {"max_iter": 60}
    codes = MLPClassifier(trainer="lbfgs", trainer_options=options, random_state=0).fit(X, y)
    # an order-preserving relabelling trains the same network, output j for classes_[j]
    for labels in (np.array(["setosa", "versicolor", "virginica"]), np.array([-5, 3, 100]),
                   np.array(["a", "b", "c"], dtype=object)):
        est = MLPClassifier(trainer="lbfgs", trainer_options=options, random_state=0).fit(X, labels[y])
        np.testing.assert_array_equal(est.classes_, labels)
        np.testing.assert_array_equal(est.theta_, codes.theta_)
        np.testing.assert_array_equal(est.predict(X), labels[codes.predict(X)])
        assert est.predict(X).dtype == labels.dtype
        assert est.score(X, labels[y]) == codes.score(X, y) > 0.9


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("trainer", ["backprop", "swarm", "lbfgs"])
def test_predict_proba_sums_to_one_and_agrees_with_predict(trainer, n_classes):
    X, y = iris()
    keep = y < n_classes
    X, y = X[keep], np.array(["x", "y", "z"])[y[keep]]
    est = MLPClassifier(trainer=trainer, trainer_options=LEARN[trainer], random_state=1).fit(X, y)
    proba = est.predict_proba(X)
    assert proba.shape == (len(X), n_classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(est.classes_[proba.argmax(axis=1)], est.predict(X))
    np.testing.assert_array_equal(est.predict_log_proba(X), np.log(proba))
    # column j is the probability of classes_[j]: the true class gets the most on
    # these nearly separable data (columns in another order would get at most a third right)
    assert np.mean(est.classes_[proba.argmax(axis=1)] == y) > 0.8


def test_one_class_is_refused():
    X, y = iris()
    with pytest.raises(ValueError, match="1 class"):
        MLPClassifier().fit(X, np.zeros(len(X)))


# ------------------------------------------------------------------ the objective, against oracles
def hand_E(coefs, intercepts, X, y, activation, loss, lam, penalty, l1_ratio):
    """E = mean loss + R(weights) from the per-layer arrays, in plain numpy."""
    a = X
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        z = a @ W + b
        a = z if i == len(coefs) - 1 else {"tanh": np.tanh, "relu": lambda t: np.maximum(t, 0.0)}[activation](z)
    if loss == "cross_entropy":
        z = a - a.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        data = -np.mean(logp[np.arange(len(y)), y])
    else:
        data = np.mean((a - y.reshape(len(y), -1)) ** 2)
    w = np.concatenate([W.ravel() for W in coefs])
    l1, l2 = {"l2": (0.0, lam), "l1": (lam, 0.0), "elastic": (lam * l1_ratio, lam * (1 - l1_ratio)),
              None: (0.0, 0.0)}[penalty]
    return data + l1 * np.abs(w).sum() + 0.5 * l2 * (w @ w)


@pytest.mark.parametrize("penalty", ["l2", "l1", "elastic", None])
@pytest.mark.parametrize("trainer", ["backprop", "swarm", "lbfgs"])
def test_train_result_E_is_the_regularized_error_of_theta(trainer, penalty):
    X, y = iris()
    lam, ratio = 0.03, 0.3
    clf = MLPClassifier(hidden_layer_sizes=(6, 4), activation="relu", trainer=trainer, penalty=penalty, lam=lam,
                        l1_ratio=ratio, trainer_options=FAST[trainer], random_state=0).fit(X, y)
    objective = RegularizedError(MLP((4, 6, 4, 3), hidden="relu", output="softmax"), X, y,
                                 penalty=make_penalty(penalty, lam, ratio))
    assert clf.train_result_.value == pytest.approx(objective(clf.theta_), rel=1e-12)
    assert clf.loss_ == clf.train_result_.value
    assert clf.loss_ == pytest.approx(hand_E(clf.coefs_, clf.intercepts_, X, y, "relu", "cross_entropy", lam,
                                             penalty, ratio), rel=1e-10)
    Xr, Y = regression(n_targets=2)
    reg = MLPRegressor(hidden_layer_sizes=5, trainer=trainer, penalty=penalty, lam=lam, l1_ratio=ratio,
                       trainer_options=FAST[trainer], random_state=0).fit(Xr, Y)
    assert reg.loss_ == pytest.approx(hand_E(reg.coefs_, reg.intercepts_, Xr, Y, "tanh", "mse", lam, penalty,
                                             ratio), rel=1e-10)


def test_larger_lam_gives_smaller_weights():
    X, y = iris()
    norms = []
    for lam in (0.0, 1e-3, 1e-2, 1e-1, 1.0):
        est = MLPClassifier(trainer="lbfgs", lam=lam, trainer_options={"max_iter": 300}, random_state=0).fit(X, y)
        norms.append(sum(float(W.ravel() @ W.ravel()) for W in est.coefs_))
    assert all(a > b for a, b in zip(norms, norms[1:])), norms
    assert norms[-1] < 0.05 * norms[1]


def test_linear_regressor_is_ridge_on_the_raw_data():
    """No hidden layer, L2 and L-BFGS: the closed-form ridge solution of the
    data as given.  Columns of different scales and a target far from 0 would
    give another solution if X or y were standardized inside."""
    rng = np.random.default_rng(0)
    n, lam = 80, 0.5
    X = rng.normal(size=(n, 3)) * np.array([0.5, 2.0, 5.0]) + np.array([1.0, -3.0, 10.0])
    y = X @ np.array([1.5, -0.7, 0.2]) + 40.0 + rng.normal(scale=0.3, size=n)
    est = MLPRegressor(hidden_layer_sizes=(), trainer="lbfgs", lam=lam, trainer_options={"tol": 1e-14},
                       random_state=0).fit(X, y)
    # E = mean (Xw + b − y)² + (λ/2)‖w‖²: ∂/∂b gives b = ȳ − x̄·w, ∂/∂w (2/n)Xcᵀ(Xc w − yc) + λw = 0
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    w = np.linalg.solve(Xc.T @ Xc + 0.5 * lam * n * np.eye(3), Xc.T @ yc)
    b = y.mean() - X.mean(axis=0) @ w
    np.testing.assert_allclose(est.coefs_[0][:, 0], w, rtol=1e-7)
    np.testing.assert_allclose(est.intercepts_[0], [b], rtol=1e-7)
    np.testing.assert_allclose(est.predict(X), X @ w + b, rtol=1e-7)
    # and scikit-learn's Ridge at the alpha of the same λ
    ridge = Ridge(alpha=conventions.to_sklearn_ridge(lam, n)).fit(X, y)
    np.testing.assert_allclose(est.predict(X), ridge.predict(X), rtol=1e-7)


def test_linear_classifier_is_scikit_learns_multinomial_logistic_regression():
    """No hidden layer: softmax regression, whose λ = 1/(C·n) is scikit-learn's C
    (:func:`swarmreg.conventions.from_sklearn_logistic`)."""
    X, y = iris()
    C = 0.5
    ours = MLPClassifier(hidden_layer_sizes=(), trainer="lbfgs", lam=conventions.from_sklearn_logistic(C, len(X)),
                         trainer_options={"tol": 1e-14}, random_state=0).fit(X, y)
    theirs = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12).fit(X, y)
    # the weights are unique (the penalty picks, among softmax's equivalent ones, those summing to 0 over the
    # classes); the intercepts only up to a common shift, so compare the probabilities
    np.testing.assert_allclose(ours.coefs_[0], theirs.coef_.T, atol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-7)


# ------------------------------------------------------------------ shapes
@pytest.mark.parametrize("trainer", ["backprop", "swarm", "lbfgs"])
def test_regression_output_shapes_follow_y(trainer):
    X, Y = regression(n_targets=3)
    est = MLPRegressor(hidden_layer_sizes=(7,), trainer=trainer, trainer_options=FAST[trainer], random_state=0)
    est.fit(X, Y)
    assert est.predict(X).shape == (len(X), 3) and est.n_outputs_ == 3
    assert [W.shape for W in est.coefs_] == [(4, 7), (7, 3)]
    assert est.predict(X).dtype == np.float64
    est.fit(X, Y[:, 0])
    assert est.predict(X).shape == (len(X),) and est.n_outputs_ == 1
    column = clone(est).fit(X, Y[:, :1])
    assert column.predict(X).shape == (len(X), 1)
    np.testing.assert_array_equal(column.predict(X)[:, 0], est.predict(X))  # the same objective, the same fit


def test_multi_output_regression_learns_each_target():
    X, Y = regression(n_targets=3, n=120)
    est = MLPRegressor(trainer="lbfgs", lam=1e-4, trainer_options={"max_iter": 300}, random_state=0).fit(X, Y)
    assert est.score(X, Y) > 0.95


# ------------------------------------------------------------------ data frames, warnings, imports
def test_feature_names_from_a_data_frame():
    pd = pytest.importorskip("pandas")
    X, y = iris()
    frame = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    est = MLPClassifier(trainer="lbfgs", trainer_options={"max_iter": 30}, random_state=0).fit(frame, y)
    np.testing.assert_array_equal(est.feature_names_in_, ["sl", "sw", "pl", "pw"])
    with pytest.warns(UserWarning, match="feature names"):  # scikit-learn's warning: fitted with names, given none
        np.testing.assert_array_equal(est.predict(frame), est.predict(X))
    with pytest.raises(ValueError, match="feature names"):
        est.predict(frame[["sw", "sl", "pl", "pw"]])
    assert not hasattr(MLPClassifier(trainer="lbfgs", trainer_options={"max_iter": 30}).fit(X, y),
                       "feature_names_in_")


def test_divergence_warns_and_keeps_finite_parameters():
    X, y = load_iris(return_X_y=True)  # unscaled, and a learning rate no network survives
    est = MLPClassifier(trainer_options={"lr": 1e6, "epochs": 5}, random_state=0)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        est.fit(X, y)
    assert est.train_result_.status == "diverged"
    assert np.all(np.isfinite(est.theta_)) and np.all(np.isfinite(est.predict_proba(X)))


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_import_swarmreg_never_imports_sklearn():
    # nor does any other module of the package (one without its optional dependency is passed over)
    done = run_python("import importlib, pkgutil, sys, swarmreg\n"
                      "assert 'sklearn' not in sys.modules\n"
                      "for m in pkgutil.walk_packages(swarmreg.__path__, 'swarmreg.'):\n"
                      "    if m.name != 'swarmreg.sklearn':\n"
                      "        try:\n"
                      "            importlib.import_module(m.name)\n"
                      "        except ImportError:\n"
                      "            pass\n"
                      "assert 'sklearn' not in sys.modules, sorted(m for m in sys.modules if 'sklearn' in m)\n")
    assert done.returncode == 0, done.stderr


def test_without_sklearn_the_module_says_how_to_install_it():
    done = run_python("import sys\nsys.modules['sklearn'] = None  # as if it were not installed\n"
                      "import swarmreg.sklearn\n")
    assert done.returncode != 0
    assert "ImportError" in done.stderr and 'pip install "swarmreg[sklearn]"' in done.stderr
