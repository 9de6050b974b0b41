"""scikit-learn estimators over swarmreg's network and trainers: :class:`MLPClassifier` and :class:`MLPRegressor`.

Each estimator builds an :class:`~swarmreg.model.MLP`, the regularized error
E(θ) = D(θ) + R(w) of :class:`~swarmreg.objective.RegularizedError` on the
training data, and minimizes it with one of swarmreg's trainers::

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from swarmreg.sklearn import MLPClassifier

    clf = make_pipeline(StandardScaler(), MLPClassifier(trainer="swarm", lam=1e-3, random_state=0))
    clf.fit(X, y).predict(X)

λ (``lam``) is swarmreg's canonical strength: D is a MEAN over the samples,
and R = (λ/2)·Σw² for L2, λ·Σ|w| for L1, over the weights only (never the
biases).  scikit-learn's own ``MLPClassifier(alpha=…)`` means something else;
:func:`swarmreg.conventions.from_sklearn_mlp` translates its alpha into this λ.

The inputs are used as they are: nothing is standardized behind the user's
back (that is a :class:`~sklearn.pipeline.Pipeline` step, e.g.
:class:`~sklearn.preprocessing.StandardScaler`), so λ keeps its meaning on
the data the network sees.  scikit-learn (>= 1.6) is an optional dependency:
``import swarmreg`` never imports it, this module does.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as error:  # no scikit-learn, or one older than 1.6 (no validate_data, no tags API)
    raise ImportError('swarmreg.sklearn needs scikit-learn >= 1.6: pip install "swarmreg[sklearn]"') from error

from . import checks
from .backprop import BackpropTrainer
from .model import HIDDEN_ACTIVATIONS, MLP
from .objective import RegularizedError
from .penalties import make_penalty
from .reference import LBFGSTrainer
from .swarm import SwarmTrainer

__all__ = ["MLPClassifier", "MLPRegressor", "TRAINERS", "PENALTIES", "trainer_settings"]

#: The trainers an estimator can use, by the name its ``trainer`` parameter takes.
TRAINERS = {"backprop": BackpropTrainer, "swarm": SwarmTrainer, "lbfgs": LBFGSTrainer}
#: The penalties an estimator can use (None: no penalty).
PENALTIES = ("l2", "l1", "elastic", None)

# Backprop's defaults for a first fit (see trainer_settings): the trainer's own
# 100 full-batch epochs are 100 steps, too few to fit a network; minibatches of
# 32 take n/32 steps per epoch.  Measured on the standardized iris, wine,
# breast_cancer and diabetes data (12 tanh units, seed 0): after 500 epochs E is
# within 9 % of the L-BFGS optimum at λ = 1e-2 (0.2 s at most), after 200 it is
# up to 100 % above it at λ = 1e-3; small λ needs more (λ = 1e-4: up to 3× the
# optimum's E on iris, whose optimum nearly separates the classes).
BACKPROP_EPOCHS = 500
BACKPROP_BATCH = 32


def trainer_settings(trainer: str, options: Mapping | None = None) -> dict:
    """The keyword arguments an estimator hands the trainer class.

    The estimators' defaults, each overridden by the same key in ``options``:

    * "backprop": ``epochs=500``, ``batch_size=32`` (a full batch when there
      are fewer samples); the rest are
      :class:`~swarmreg.backprop.BackpropTrainer`'s: SGD at lr 0.1, no
      momentum, coupled decay, the samples reshuffled every epoch;
    * "swarm": :class:`~swarmreg.swarm.SwarmTrainer`'s own (40 particles ×
      1,000 iterations, global best with GCPSO, a start scaled to the network);
    * "lbfgs": :class:`~swarmreg.reference.LBFGSTrainer`'s own (1,000
      iterations, tol 1e-10).

    Parameters
    ----------
    trainer : {"backprop", "swarm", "lbfgs"}
    options : mapping of str to object, or None
        The estimator's ``trainer_options``; not modified.

    Returns
    -------
    dict
        A new dict.
    """
    settings = {}
    if trainer == "backprop":
        settings = {"epochs": BACKPROP_EPOCHS, "batch_size": BACKPROP_BATCH}
    settings.update(options or {})
    return settings


# ---------------------------------------------------------------- the checks of fit
def _hidden_sizes(value) -> tuple:
    """``hidden_layer_sizes`` as a tuple of ints >= 1 (an int is one layer; () none)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        value = (value,)
    try:
        sizes = tuple(value)
    except TypeError:
        sizes = None
    if sizes is None or isinstance(value, (str, bytes)) or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, (bool, np.bool_)) and s >= 1 for s in sizes):
        raise ValueError(f"hidden_layer_sizes must be an integer >= 1 or a sequence of them, "
                         f"got {checks.short(value)}")
    return tuple(int(s) for s in sizes)


def _seed(random_state) -> int:
    """The fit's seed: an int random_state itself (so a fit equals the trainer's
    ``fit(seed=random_state)``); a draw from a RandomState or a Generator; from
    numpy's global RandomState for None, as scikit-learn's estimators do."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, (bool, np.bool_)) \
            and random_state >= 0:
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31))
    if random_state is None or isinstance(random_state, np.random.RandomState):
        return int(check_random_state(random_state).randint(2**31))
    raise ValueError(f"random_state must be None, an integer >= 0, a numpy RandomState or Generator, "
                     f"got {checks.short(random_state)}")


class _SwarmregMLP(BaseEstimator):
    """What both estimators share: the parameters, their checks, the fit and the forward pass.

    Subclasses set ``_output`` (the model's output activation) and ``_loss``,
    check y and turn it into the objective's targets in their ``fit``.
    """

    _output = "identity"
    _loss = "mse"

    def __init__(self, hidden_layer_sizes=(12,), activation="tanh", *, trainer="backprop", penalty="l2", lam=1e-3,
                 l1_ratio=0.5, trainer_options=None, random_state=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.trainer = trainer
        self.penalty = penalty
        self.lam = lam
        self.l1_ratio = l1_ratio
        self.trainer_options = trainer_options
        self.random_state = random_state

    def _check_params(self):
        """(hidden sizes, penalty, trainer instance, seed) from the parameters,
        each bad value a ValueError that names its parameter."""
        hidden = _hidden_sizes(self.hidden_layer_sizes)
        if not isinstance(self.activation, str) or self.activation not in HIDDEN_ACTIVATIONS:
            raise ValueError(f"activation={checks.short(self.activation)} is not an activation; "
                             f"valid: {', '.join(HIDDEN_ACTIVATIONS)}")
        if not isinstance(self.trainer, str) or self.trainer not in TRAINERS:
            raise ValueError(f"trainer={checks.short(self.trainer)} is not a trainer; valid: {', '.join(TRAINERS)}")
        if self.penalty is not None and (not isinstance(self.penalty, str) or self.penalty not in PENALTIES):
            raise ValueError(f"penalty={checks.short(self.penalty)} is not a penalty; "
                             f"valid: 'l2', 'l1', 'elastic', None")
        lam = checks.real("lam", self.lam)
        if isinstance(self.l1_ratio, (bool, np.bool_)) or not isinstance(self.l1_ratio, numbers.Real) \
                or not 0.0 <= self.l1_ratio <= 1.0:
            raise ValueError(f"l1_ratio must lie in [0, 1], got {checks.short(self.l1_ratio)}")
        options = self.trainer_options
        if options is not None and not isinstance(options, Mapping):
            raise ValueError(f"trainer_options must be a dict of the trainer's settings or None, "
                             f"got {checks.short(options)}")
        cls = TRAINERS[self.trainer]
        valid = cls.param_names()
        unknown = [k for k in (options or {}) if k not in valid]
        if unknown:
            raise ValueError(f"trainer_options has {', '.join(map(repr, unknown))}, not a setting of "
                             f"{cls.__name__} (trainer={self.trainer!r}); valid: {', '.join(valid)}")
        # the trainer's own ValueError names a bad value of a setting
        trainer = cls(**trainer_settings(self.trainer, options))
        penalty = make_penalty(self.penalty, lam, float(self.l1_ratio))
        return hidden, penalty, trainer, _seed(self.random_state)

    def _fit(self, settings, X, targets, n_outputs: int):
        """Train on checked X (n, d) and targets with the checked ``settings``
        (:meth:`_check_params`); sets every fitted attribute but those of y."""
        hidden, penalty, trainer, seed = settings
        model = MLP((X.shape[1], *hidden, n_outputs), hidden=self.activation, output=self._output)
        objective = RegularizedError(model, X, targets, loss=self._loss, penalty=penalty)
        result = trainer.fit(objective, seed=seed)
        if result.status == "diverged":
            warnings.warn(f"{type(trainer).__name__} diverged (E went non-finite or exploded); the fit keeps the "
                          f"last sound parameters, E = {result.value:.6g}.  Standardized inputs (a Pipeline with "
                          f"a StandardScaler) or, for backprop, a smaller lr may help.", ConvergenceWarning,
                          stacklevel=3)
        self.model_ = model
        self.theta_ = np.array(result.theta, dtype=float)
        self.train_result_ = result
        self.loss_ = float(result.value)
        self.n_iter_ = int(result.iterations)
        self.seed_ = seed
        self.n_outputs_ = n_outputs
        layers = model.unpack(self.theta_)
        self.coefs_ = [W.copy() for W, _ in layers]
        self.intercepts_ = [b.copy() for _, b in layers]
        return self

    def _outputs(self, X) -> np.ndarray:
        """The network's outputs (n, n_outputs) on X, after the output activation."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self.model_.forward(self.theta_, X)


_PARAMETERS = """
    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(12,)
        Widths of the hidden layers, input side first; an int is one layer,
        ``()`` none (a {linear}).
    activation : {{"tanh", "sigmoid", "relu", "identity"}}, default="tanh"
        Activation of every hidden layer ("sigmoid" is scikit-learn's
        "logistic").
    trainer : {{"backprop", "swarm", "lbfgs"}}, default="backprop"
        What minimizes E: :class:`~swarmreg.backprop.BackpropTrainer`
        (minibatch SGD by back-propagation), :class:`~swarmreg.swarm.SwarmTrainer`
        (particle swarm, values of E only) or
        :class:`~swarmreg.reference.LBFGSTrainer` (full-batch L-BFGS-B, the
        reference optimum).  Their defaults here: :func:`trainer_settings`.
    penalty : {{"l2", "l1", "elastic"}} or None, default="l2"
        R(w) on the weights (never the biases): (λ/2)·Σw², λ·Σ|w|, or the
        elastic net λ·l1_ratio·Σ|w| + (λ·(1 − l1_ratio)/2)·Σw²; None: no penalty.
    lam : float, default=1e-3
        λ >= 0 in swarmreg's convention: E = D + R with D the MEAN {loss}
        over the samples.  scikit-learn's ``alpha`` of its own MLP is
        another scale: ``swarmreg.conventions.from_sklearn_mlp(alpha, n, "{loss_name}"{k})``
        gives the λ that means the same.
    l1_ratio : float in [0, 1], default=0.5
        The L1 share of λ for ``penalty="elastic"`` (ignored otherwise).
    trainer_options : dict or None, default=None
        Settings of the trainer class, passed as keyword arguments over the
        defaults of :func:`trainer_settings`, e.g. ``{{"iterations": 500}}``
        (swarm), ``{{"epochs": 50, "lr": 0.05}}`` (backprop), ``{{"max_iter": 200}}``
        (lbfgs).  A key that is not a setting of the chosen trainer is a
        ValueError, and so is a bad value (the trainer's message names it).
        Copied at fit, never modified.
    random_state : int, numpy RandomState or Generator, or None, default=None
        The seed of the fit (the start, the swarm's or the shuffling's
        random numbers).  An int is the trainer's ``seed`` itself, so the fit
        equals ``Trainer(**settings).fit(objective, seed=random_state)``; a
        RandomState or Generator gives one draw; None draws from numpy's
        global RandomState.  Same int, same data → the same fit, bit for bit.
"""

_ATTRIBUTES = """
    n_features_in_ : int
        Columns of X at fit.
    feature_names_in_ : ndarray of str, shape (n_features_in_,)
        Column names of X, when it was a data frame with string column names.
    n_outputs_ : int
        Output units of the network.
    model_ : swarmreg.model.MLP
        The network, ``MLP((n_features_in_, *hidden_layer_sizes, n_outputs_), activation, "{output}")``.
    theta_ : ndarray, shape (model_.n_params,)
        Its trained parameters, in the model's flat layout.
    coefs_, intercepts_ : list of ndarray
        ``theta_`` per layer: weights (fan_in, fan_out) and biases (fan_out,)
        (copies; ``theta_`` is what predicts).
    train_result_ : swarmreg.result.TrainResult
        The trainer's result: E, D, R, status, work counts, and the history
        (``train_result_.history["value"]``: E per epoch or iteration).
    loss_ : float
        E = D + R at ``theta_`` on the training data.
    n_iter_ : int
        Epochs (backprop), moves of the swarm (its ``iterations`` − 1) or
        L-BFGS iterations run.
    seed_ : int
        The seed the trainer's fit got (``random_state=seed_`` repeats the fit).
"""

_NOTES = """
    Notes
    -----
    X is used as given, without standardization: put a
    :class:`~sklearn.preprocessing.StandardScaler` before the estimator in a
    :class:`~sklearn.pipeline.Pipeline`, as the network, the trainers' step
    sizes and the meaning of λ all depend on the scale of the inputs.  X is
    converted to float64; sample weights are not supported (D is the plain
    mean).  A trainer that diverges leaves the last sound parameters and
    raises a :class:`~sklearn.exceptions.ConvergenceWarning`; any other end
    (``train_result_.status``: "max_iter", "converged", "stalled") is silent,
    since backprop and the swarm always run their whole budget.
"""


class MLPClassifier(ClassifierMixin, _SwarmregMLP):
    __doc__ = ("""A multilayer perceptron classifier trained by back-propagation, a particle swarm or L-BFGS.

    The network has one softmax output per class, also for two classes, and
    minimizes the mean cross-entropy −log p(true class) plus the penalty.
    ``predict_proba``'s columns follow ``classes_``, its rows sum to 1, and
    ``predict`` is the class of the largest probability.  Any labels
    scikit-learn accepts (strings, non-contiguous integers, ...) map through
    ``classes_``; y needs at least two classes.
""" + _PARAMETERS.format(linear="multinomial logistic regression", loss="cross-entropy",
                         loss_name="cross_entropy", k="") + """
    Attributes
    ----------
    classes_ : ndarray, shape (n_classes,)
        The class labels, sorted; output j of the network is ``classes_[j]``.""" +
               _ATTRIBUTES.format(output="softmax") + _NOTES)

    _output = "softmax"
    _loss = "cross_entropy"

    def fit(self, X, y):
        """Train the network on X and the labels y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels of any type scikit-learn accepts, at least two classes.

        Returns
        -------
        self
        """
        settings = self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        classes, index = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"y has 1 class ({checks.short(classes[0])}); a classifier needs at least 2 classes")
        self._fit(settings, X, index.reshape(-1), len(classes))
        self.classes_ = classes
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities: the softmax outputs of the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Rows sum to 1; column j is the probability of ``classes_[j]``.
        """
        return self._outputs(X)

    def predict_log_proba(self, X) -> np.ndarray:
        """The log of :meth:`predict_proba`, −inf where a probability underflows to 0.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """The class of the largest probability.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)  # first: it checks that the classifier is fitted
        return self.classes_[np.argmax(proba, axis=1)]


class MLPRegressor(RegressorMixin, _SwarmregMLP):
    __doc__ = ("""A multilayer perceptron regressor trained by back-propagation, a particle swarm or L-BFGS.

    The network has identity outputs, one per target, and minimizes the mean
    squared error over all n·k entries (no ½) plus the penalty.  y of shape
    (n_samples,) gives one output and 1-D predictions; y of shape
    (n_samples, k) gives k outputs and predictions of that shape.  The
    targets are used as given (not standardized either).
""" + _PARAMETERS.format(linear="linear model", loss="squared error", loss_name="mse", k=", n_outputs")
               + "\n    Attributes\n    ----------" + _ATTRIBUTES.format(output="identity") + _NOTES)

    _output = "identity"
    _loss = "mse"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # y (n, k) trains k outputs at once
        return tags

    def fit(self, X, y):
        """Train the network on X and the targets y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Numeric targets, used as floats: one output per column.

        Returns
        -------
        self
        """
        settings = self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64, multi_output=True, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        self._fit(settings, X, y, 1 if y.ndim == 1 else y.shape[1])
        self._target_ndim = y.ndim
        return self

    def predict(self, X) -> np.ndarray:
        """The network's outputs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) when y was 1-D at fit, else (n_samples, n_outputs_)
        """
        out = self._outputs(X)
        return out[:, 0] if self._target_ndim == 1 else out
