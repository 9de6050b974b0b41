"""Translate a regularization strength between the conventions in use.

swarmreg's canonical convention: E(θ) = D(θ) + (λ/2)·Σw² (L2) or D(θ) + λ·Σ|w|
(L1), with D the MEAN data loss (mse = mean over all n·k entries of (ŷ − y)², no
½; cross_entropy = mean over samples of −log p(true class), softmax outputs;
binary_cross_entropy = mean over all n·k entries, sigmoid outputs) and the sums
over weights only (not biases).  Its gradient step with learning rate η is
w ← (1 − ηλ)·w − η·∇D.  Every ``from_…`` function returns this canonical λ; its
``to_…`` twin is the inverse.  :func:`effective_l2` goes the other way: given a
trained θ, the L2 strength it is (closest to being) optimal for.

A constant factor c in front of the other side's objective, c·(D + (λ/2)·Σw²),
leaves the optimum where it is and only acts like a c times larger learning
rate; the docstrings name c where it is not 1.

================================  =========================================  ==============================
convention                        penalty / update as written there          canonical λ
================================  =========================================  ==============================
Nielsen, log-likelihood cost      C₀ + (λ_N/2n)·Σw²; w ← (1 − ηλ_N/n)·w − …  λ_N / n
Nielsen, cross-entropy cost       (sigmoid, summed over k outputs)           λ_N / (k·n)
Nielsen, quadratic cost           ½‖a − y‖² averaged over n                  2·λ_N / (k·n)
"n = items in the update"         w ← (1 − ηλ_M/m)·w − η·(mean gradient)     λ_M / m
scikit-learn MLP (alpha)          loss + alpha/(2·n_batch)·ΣW²               alpha / n_batch (log-loss),
                                                                             2·alpha / (k·n_batch) (squared)
scikit-learn Ridge(alpha)         ‖y − Xw − b‖² + alpha·‖w‖² (sums)          2·alpha / (k·n)
scikit-learn Lasso(alpha)         (1/2n)·‖y − Xw − b‖² + alpha·‖w‖₁          λ₁ = 2·alpha / k
scikit-learn LogisticRegression   C·Σ log-loss + ½‖w‖² (or ‖w‖₁)             1 / (C·n), L2 and L1
scikit-learn SGDRegressor         mean ½(y − f)² + alpha·R(w)                2·alpha, L2 and L1
scikit-learn SGDClassifier        mean log-loss + alpha·R(w), per class      alpha / k, L2 and L1
PyTorch SGD weight_decay          grad += wd·w (coupled)                     wd
PyTorch Adam weight_decay         grad += wd·w before the moments            wd (at a fixed point)
PyTorch reduction="sum" + wd      Σ loss + (wd/2)·Σw²                        wd / (n·c), c = k or 1
PyTorch AdamW, decoupled decay    w ← w − η·λ_W·w after the Adam step        none (:func:`effective_l2`)
Keras regularizers.L2(l2)         loss + l2·Σw²                              2·l2
Keras regularizers.L1(l1)         loss + l1·Σ|w|                             λ₁ = l1
fixed fraction d per step         w ← w − d·w_old after the SGD step         d·(1 − μ)/η
================================  =========================================  ==============================

Optimizers, momentum and schedules
----------------------------------
* Coupled L2 (λ·w added to the data gradient g_D before the optimizer sees it:
  PyTorch's SGD and Adam ``weight_decay``, swarmreg's decay="coupled", a penalty
  in the loss).  Whatever the optimizer then does with the gradient (momentum,
  Adam's per-coordinate division by √v̂ + ε), its step is zero only where the
  gradient it was given is, g_D + λ·w = 0.  So full-batch ``Adam(weight_decay=λ)``
  run to a fixed point ends exactly at the optimum of D + (λ/2)·Σw², the same λ
  as SGD's; minibatch noise and the path differ, the optimum does not.  (Staying
  there is another matter: once √v̂ has decayed to the size of what is left of
  the gradient, Adam's step η/(√v̂ + ε) grows and a constant η can throw the
  iterate off again — measured on a small ridge problem: on the optimum to
  rounding after 10³ steps, 10⁻³ away after 2·10⁴.  A decaying η keeps it.)
* AdamW (decoupled: w ← w − η·λ_W·w after the Adam step).  At a fixed point
  m̂ᵢ/(√v̂ᵢ + ε) = −λ_W·wᵢ with m̂ = g_D, i.e. gᵢ = −λ_W·(√v̂ᵢ + ε)·wᵢ: a strength
  λ_W·(√v̂ᵢ + ε) per coordinate, set by the data through v̂ and drifting with it
  (at an exact full-batch fixed point v̂ᵢ = gᵢ², which leaves the strength
  λ_W·ε/(1 − λ_W·|wᵢ|), next to no penalty; before that v̂ remembers earlier,
  larger gradients).  That is not the gradient of (λ/2)·Σw² for any one λ, so there is no
  ``from_adamw``; :func:`effective_l2` measures the λ that comes closest and how
  far it misses (its relative residual).  The same holds for decoupled decay
  with any per-coordinate rescaling (RMSprop, Adagrad, …).
* Decoupled decay with heavy-ball momentum μ (SGD: v ← μ·v + g_D; θ ← θ − η·v;
  w ← w − η·λ·w_old).  At a fixed point v = g_D/(1 − μ), so
  η·g_D/(1 − μ) + η·λ·w = 0, i.e. g_D + λ·(1 − μ)·w = 0: the optimum for
  λ·(1 − μ), not λ (:func:`from_decoupled_fraction` with d = η·λ).
* A learning-rate schedule η_t.  Coupled L2 keeps the same λ at every step.
  Decoupled decay (η_t·λ per step) keeps λ·(1 − μ) with SGD, η_t cancelling.
  swarmreg's ``decay_fraction`` d follows the schedule's multiplier
  (d_t = d·η_t/η, as PyTorch's AdamW decay lr_t·wd does), so with SGD its λ
  stays d·(1 − μ)/η.  A fraction held truly fixed while η_t changes (codes that
  write w ← (1 − d)·w every step) has no single λ: λ_t = d·(1 − μ)/η_t drifts
  along the schedule, to infinity as cosine annealing takes η_t to 0.

Where no exact λ exists
-----------------------
* AdamW and decoupled decay under any adaptive optimizer (above).
* A fraction held fixed under a changing learning rate (above).
* Per-batch conventions (scikit-learn MLP, "items in the update", PyTorch sum
  losses) when the last minibatch is smaller: that step uses a larger λ.
* scikit-learn's own ``MLPRegressor`` with ``solver="lbfgs"`` and k > 1 outputs
  (scikit-learn issue #8349).  It reports the loss ½·D + alpha/(2n)·ΣW² but
  computes the gradient of (k/2)·D + alpha/(2n)·ΣW².  That gradient matches the
  translation (it is (k/2)·∇E for λ = 2·alpha/(k·n), :func:`from_sklearn_mlp`),
  so its SGD and Adam steps head for that λ's optimum.  But L-BFGS-B is handed
  the value of one function with the gradient of another, and its line search
  and stopping rule judge the steps by the wrong value: the run does not
  reliably reach the mse optimum of the translated λ, ending anywhere from on
  it to well short of it depending on the start (measured with 1.9.1, linear
  model, k = 2 and 3, ten starts: 5·10⁻¹⁰ to 2·10⁻³ away, some with an
  "ABNORMAL" line-search stop), where k = 1 ends within 3·10⁻⁶ from every start.
* scikit-learn's ``LogisticRegression(solver="liblinear")`` penalizes the
  intercept (a synthetic feature), averaged ``SGD…(average=True)`` with an L1
  part returns drifting coefficients, ``MultiTaskLasso`` penalizes row norms:
  see the scikit-learn functions.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import checks

__all__ = [
    "from_nielsen", "to_nielsen", "from_minibatch_items", "to_minibatch_items",
    "from_sklearn_mlp", "to_sklearn_mlp", "from_sklearn_ridge", "to_sklearn_ridge",
    "from_sklearn_lasso", "to_sklearn_lasso", "from_sklearn_logistic", "to_sklearn_logistic",
    "from_sklearn_sgd_regressor", "to_sklearn_sgd_regressor",
    "from_sklearn_sgd_classifier", "to_sklearn_sgd_classifier",
    "from_torch_sgd", "to_torch_sgd", "from_torch_adam", "to_torch_adam", "from_torch_sum", "to_torch_sum",
    "from_keras_l2", "to_keras_l2", "from_keras_l1", "to_keras_l1",
    "from_decoupled_fraction", "to_decoupled_fraction", "effective_l2",
]

LOSSES = ("mse", "cross_entropy", "binary_cross_entropy")  # swarmreg's names, used by every loss argument
SKLEARN_LOSSES = LOSSES
NIELSEN_COSTS = ("log_likelihood", "cross_entropy", "quadratic")


def _check_loss(loss) -> str:
    """One of swarmreg's loss names, or a ValueError naming ``loss``."""
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"loss={loss!r} is not a loss; valid: {', '.join(LOSSES)}")
    return loss


def _entries_per_sample(loss, n_outputs) -> int:
    """c: the entries a sum loss adds up per sample, k for mse and
    binary_cross_entropy, 1 for cross_entropy (one −log p per sample)."""
    loss = _check_loss(loss)
    n_outputs = checks.integer("n_outputs", n_outputs)
    return 1 if loss == "cross_entropy" else n_outputs


# --------------------------------------------------------------- Nielsen
def _nielsen_factor(n, cost, n_outputs) -> float:
    """canonical λ / λ_N."""
    n = checks.integer("n", n)
    k = checks.integer("n_outputs", n_outputs)
    if not isinstance(cost, str) or cost not in NIELSEN_COSTS:
        raise ValueError(f"cost={cost!r} is not one of Nielsen's costs; valid: {', '.join(NIELSEN_COSTS)}")
    return {"log_likelihood": 1.0 / n, "cross_entropy": 1.0 / (k * n), "quadratic": 2.0 / (k * n)}[cost]


def from_nielsen(lam: float, n: int, cost: str = "log_likelihood", n_outputs: int = 1) -> float:
    """λ for Nielsen's λ_N: λ_N/n, λ_N/(k·n) or 2·λ_N/(k·n) by his cost.

    Nielsen's regularized cost is C = C₀ + (λ_N/2n)·Σw² over the n training
    samples, biases left out (M. Nielsen, "Neural Networks and Deep Learning",
    ch. 3, and ``network2.py``), with the SGD update
    w ← (1 − ηλ_N/n)·w − η·∂C₀/∂w.  His data term C₀ against swarmreg's D:

    * cost="log_likelihood" (softmax outputs, C₀ = −(1/n)·Σ_x ln a_y):
      C₀ = cross_entropy, so λ = λ_N/n (whatever k).
    * cost="cross_entropy" (``network2.CrossEntropyCost``, sigmoid outputs:
      C₀ = −(1/n)·Σ_x Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)], summed over the
      k outputs): C₀ = k·D for binary_cross_entropy, so
      C = k·(D + (λ_N/(2kn))·Σw²) and λ = λ_N/(k·n).
    * cost="quadratic" (``network2.QuadraticCost``, C₀ = (1/n)·Σ_x ½‖a − y‖²):
      C₀ = (k/2)·mse, so C = (k/2)·(mse + (λ_N/(kn))·Σw²) and λ = 2·λ_N/(k·n).

    In the last two C is a multiple of E: the optimum is the same, and his η
    acts like a k (or k/2) times larger learning rate.

    Parameters
    ----------
    lam : float
        λ_N >= 0.
    n : int
        Number of training samples (>= 1).
    cost : {"log_likelihood", "cross_entropy", "quadratic"}
        His cost function; the default keeps the meaning of calls without it.
    n_outputs : int
        k, the number of output units (>= 1; irrelevant for log_likelihood).
    """
    return checks.real("lam", lam) * _nielsen_factor(n, cost, n_outputs)


def to_nielsen(lam: float, n: int, cost: str = "log_likelihood", n_outputs: int = 1) -> float:
    """λ_N = λ / factor, the inverse of :func:`from_nielsen` (λ·n,
    λ·k·n or λ·k·n/2 by cost)."""
    return checks.real("lam", lam) / _nielsen_factor(n, cost, n_outputs)


def from_minibatch_items(lam: float, batch_size: int) -> float:
    """λ = λ_M / batch_size.

    The reading of the decay factor (1 − ηλ/n) in which n is "the number of
    training items involved" in the update: w ← (1 − ηλ_M/m)·w − η·g_D with g_D the
    mean gradient over the m = batch_size items (m = 1 for online learning).
    A smaller last minibatch decays by ηλ_M/m' with its own m', i.e. a larger
    λ for that step.

    Parameters
    ----------
    lam : float
        λ_M >= 0.
    batch_size : int
        Items per update (>= 1).
    """
    return checks.real("lam", lam) / checks.integer("batch_size", batch_size)


def to_minibatch_items(lam: float, batch_size: int) -> float:
    """λ_M = λ·batch_size, the inverse of :func:`from_minibatch_items`."""
    return checks.real("lam", lam) * checks.integer("batch_size", batch_size)


# ---------------------------------------------------------- scikit-learn
# What each formula rests on was read in scikit-learn 1.9.1's source (files
# named in the docstrings); the tests check it against the installed version.
def _sklearn_factor(n: int, loss: str, n_outputs: int) -> float:
    """canonical λ / alpha."""
    n = checks.integer("n", n)
    n_outputs = checks.integer("n_outputs", n_outputs)
    loss = _check_loss(loss)
    if loss == "cross_entropy":
        return 1.0 / n
    if loss == "mse":
        return 2.0 / (n * n_outputs)
    return 1.0 / (n * n_outputs)


def from_sklearn_mlp(alpha: float, n: int, loss: str, n_outputs: int = 1) -> float:
    """λ for scikit-learn's ``MLPClassifier``/``MLPRegressor(alpha=…)``.

    scikit-learn (``_backprop``) minimizes, per batch of n samples,
    L + alpha/(2n)·ΣW² over the weights (not the intercepts), with gradient
    ∂L/∂W + (alpha/n)·W.  n is the size of the batch the penalty is divided by:
    the training set for lbfgs, ``batch_size`` for sgd/adam (the last, smaller
    minibatch of an epoch uses its own size).

    * loss="cross_entropy" (softmax, log-loss = mean −log p): L = D, so
      λ = alpha / n.
    * loss="mse" (``squared_error``): the reported loss is ½·mean over the
      n·k entries = ½·D, but the gradient scikit-learn trains with is that of
      ½·Σ over outputs, mean over samples = (k/2)·D (the two differ by the
      factor k = n_outputs when k > 1, scikit-learn issue #8349).  The training
      gradient is that of (k/2)·D + alpha/(2n)·ΣW² = (k/2)·(D + (λ/2)·ΣW²) with
      λ = 2·alpha / (k·n), i.e. 2·alpha/n for one output: its SGD and Adam
      steps head for that λ's optimum, acting like a k/2 times larger learning
      rate.  Its lbfgs solver, fed the value of the reported loss with the
      gradient of the other, does not reliably reach it for k > 1 (see the
      module docstring); for k = 1 value and gradient agree.
    * loss="binary_cross_entropy" (logistic outputs): L sums the k binary
      log-losses, L = k·D, so λ = alpha / (k·n).

    Parameters
    ----------
    alpha : float
        scikit-learn's ``alpha`` >= 0.
    n : int
        Samples in the batch the penalty is divided by (>= 1).
    loss : {"mse", "cross_entropy", "binary_cross_entropy"}
        swarmreg's name of the loss.
    n_outputs : int
        k, the number of output units (irrelevant for cross_entropy).
    """
    alpha = checks.real("alpha", alpha)
    return alpha * _sklearn_factor(n, loss, n_outputs)


def to_sklearn_mlp(lam: float, n: int, loss: str, n_outputs: int = 1) -> float:
    """alpha = λ / factor, the inverse of :func:`from_sklearn_mlp`
    (alpha = λ·n for cross_entropy, λ·k·n/2 for mse, λ·k·n for
    binary_cross_entropy)."""
    lam = checks.real("lam", lam)
    return lam / _sklearn_factor(n, loss, n_outputs)


def from_sklearn_ridge(alpha: float, n: int, n_outputs: int = 1) -> float:
    """λ = 2·alpha / (k·n) for ``sklearn.linear_model.Ridge(alpha)``.

    Ridge minimizes ‖y − Xw − b‖² + alpha·‖w‖² (class docstring of ``Ridge``,
    sklearn/linear_model/_ridge.py): the squared error SUMMED over the n samples
    and, for k targets with one alpha, over all n·k entries (each target is its
    own ridge problem with the same alpha); the intercept is not penalized.
    Divided by n·k: mse + (alpha/(k·n))·‖W‖² = mse + (λ/2)·‖W‖².  The optimum is
    the same; the objectives differ by the factor n·k.

    Parameters
    ----------
    alpha : float
        Ridge's ``alpha`` >= 0 (one value for all targets).
    n : int
        Training samples (>= 1).
    n_outputs : int
        k, the number of targets (>= 1).
    """
    return 2.0 * checks.real("alpha", alpha) / (checks.integer("n", n) * checks.integer("n_outputs", n_outputs))


def to_sklearn_ridge(lam: float, n: int, n_outputs: int = 1) -> float:
    """alpha = λ·k·n / 2, the inverse of :func:`from_sklearn_ridge`."""
    return checks.real("lam", lam) * checks.integer("n", n) * checks.integer("n_outputs", n_outputs) / 2.0


def from_sklearn_lasso(alpha: float, n_outputs: int = 1) -> float:
    """λ₁ = 2·alpha / k for ``sklearn.linear_model.Lasso(alpha)``, against mse + λ₁·Σ|w|.

    Lasso minimizes (1/(2n))·‖y − Xw − b‖² + alpha·‖w‖₁ (class docstring of
    ``Lasso``, sklearn/linear_model/_coordinate_descent.py), intercept not
    penalized.  Times 2: mse + 2·alpha·‖w‖₁, so λ₁ = 2·alpha.  With k targets
    ``ElasticNet.fit`` solves one such problem per target with the same alpha
    (its loop over ``n_targets``); their sum (1/(2n))·‖Y − XW − b‖² + alpha·Σ|W|
    is (k/2)·(mse + (2·alpha/k)·Σ|W|), so λ₁ = 2·alpha/k.  (``MultiTaskLasso``
    penalizes the norms of W's rows instead: no translation.)

    Parameters
    ----------
    alpha : float
        Lasso's ``alpha`` >= 0.
    n_outputs : int
        k, the number of targets (>= 1).
    """
    return 2.0 * checks.real("alpha", alpha) / checks.integer("n_outputs", n_outputs)


def to_sklearn_lasso(lam: float, n_outputs: int = 1) -> float:
    """alpha = λ₁·k / 2, the inverse of :func:`from_sklearn_lasso`."""
    return checks.real("lam", lam) * checks.integer("n_outputs", n_outputs) / 2.0


def _inverse_strength(name: str, value) -> float:
    """An inverse strength: > 0, or math.inf for "no penalty"."""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and float(value) == math.inf:
        return math.inf
    return checks.real(name, value, positive=True)


def from_sklearn_logistic(C: float, n: int) -> float:
    """λ = 1 / (C·n) for ``sklearn.linear_model.LogisticRegression(C)``, L2 and L1.

    scikit-learn's objective is C·Σᵢ ℓᵢ + R(w) with ℓ the log-loss of sample i
    (−log p of its class: ``HalfBinomialLoss``/``HalfMultinomialLoss`` in
    sklearn/_loss/loss.py, whose "half" is of the deviance, not a ½ in front of
    the log-loss) and R = ½‖w‖² (``l1_ratio=0``, the default) or ‖w‖₁
    (``l1_ratio=1``), the intercept not penalized.  Its solvers minimize it
    divided by C·n (sklearn/linear_model/_logistic.py: lbfgs, newton-cg and
    newton-cholesky pass ``l2_reg_strength = 1/(C·n)`` to ``LinearModelLoss``,
    mean loss + ½·l2_reg_strength·‖w‖²; sag and saga pass alpha = 1/C or
    beta = 1/C, which sklearn/linear_model/_sag.py divides by n):
    mean ℓ + (1/(C·n))·R(w).  So λ = 1/(C·n) for L2 ((λ/2)·Σw²) and λ₁ = 1/(C·n)
    for L1 (λ₁·Σ|w|):

    * binary: one sigmoid output, binary_cross_entropy;
    * multinomial (3 or more classes, every solver but liblinear): k softmax
      outputs, cross_entropy; scikit-learn's ``coef_`` (k, d) penalizes all k·d
      weights, as swarmreg does.

    C = inf (no penalty) gives λ = 0.  ``solver="liblinear"`` does not follow
    this convention: its intercept is the weight of a synthetic feature and is
    penalized with the others (the ``intercept_scaling`` parameter).

    Parameters
    ----------
    C : float
        The inverse strength, > 0 or math.inf.
    n : int
        Training samples (>= 1; with sample weights, their sum).
    """
    C = _inverse_strength("C", C)
    return 1.0 / (C * checks.integer("n", n))


def to_sklearn_logistic(lam: float, n: int) -> float:
    """C = 1 / (λ·n), the inverse of :func:`from_sklearn_logistic` (math.inf for λ = 0)."""
    lam = checks.real("lam", lam)
    n = checks.integer("n", n)
    return math.inf if lam == 0.0 else 1.0 / (lam * n)


def from_sklearn_sgd_regressor(alpha: float) -> float:
    """λ = 2·alpha for ``SGDRegressor(loss="squared_error", alpha=…)``, L2 and L1.

    SGD minimizes (1/n)·Σᵢ L(yᵢ, f(xᵢ)) + alpha·R(w) with R = ½‖w‖² (penalty="l2";
    "for the L2 term SGD optimizes 0.5 * L2**2", sklearn/linear_model/_sgd_fast.pyx.tp)
    or ‖w‖₁ ("l1"), the intercept not penalized.  squared_error is
    ``CyHalfSquaredError`` (sklearn/linear_model/_stochastic_gradient.py),
    L = ½·(y − f)² (sklearn/_loss/_loss.pyx.tp), so the objective is
    ½·mse + alpha·R(w) = ½·(mse + 2·alpha·R(w)): λ = 2·alpha for L2 (λ/2·Σw²)
    and λ₁ = 2·alpha for L1; an elastic net splits them by ``l1_ratio``.  Its
    step is SGD on ½·E, i.e. like η/2 on E.  One output (SGDRegressor fits one
    target).  ``average=True`` with an L1 part returns averaged coefficients
    that drift away from any optimum (seen with 1.9.1: the L1 truncation
    rewrites w without updating the running average); use ``average=False``
    there.
    """
    return 2.0 * checks.real("alpha", alpha)


def to_sklearn_sgd_regressor(lam: float) -> float:
    """alpha = λ / 2, the inverse of :func:`from_sklearn_sgd_regressor`."""
    return 0.5 * checks.real("lam", lam)


def from_sklearn_sgd_classifier(alpha: float, n_outputs: int = 1) -> float:
    """λ = alpha / k for ``SGDClassifier(loss="log_loss", alpha=…)``, L2 and L1.

    The objective is that of :func:`from_sklearn_sgd_regressor` with L the full
    log-loss (``CyHalfBinomialLoss``, −y·log p − (1 − y)·log(1 − p) with labels
    in {0, 1}): (1/n)·Σᵢ ℓᵢ + alpha·R(w) = D + alpha·R(w) for one sigmoid output
    and binary_cross_entropy, so λ = alpha (L2) and λ₁ = alpha (L1).  With 3 or
    more classes SGDClassifier fits one such binary problem per class,
    one-versus-rest, each with the same alpha; their sum is
    k·D + alpha·R(W) for k sigmoid outputs on one-hot targets, so
    λ = alpha / k.  ``average=True`` with an L1 part: see
    :func:`from_sklearn_sgd_regressor`.

    Parameters
    ----------
    alpha : float
        ``alpha`` >= 0.
    n_outputs : int
        k: 1 for two classes, the number of classes for 3 or more.
    """
    return checks.real("alpha", alpha) / checks.integer("n_outputs", n_outputs)


def to_sklearn_sgd_classifier(lam: float, n_outputs: int = 1) -> float:
    """alpha = λ·k, the inverse of :func:`from_sklearn_sgd_classifier`."""
    return checks.real("lam", lam) * checks.integer("n_outputs", n_outputs)


# ---------------------------------------------------------- PyTorch, Keras
def from_torch_sgd(weight_decay: float) -> float:
    """λ = weight_decay.

    ``torch.optim.SGD(lr=η, momentum=μ, weight_decay=wd)`` adds wd·w to the
    gradient before the momentum (d_p = g + wd·w; buf ← μ·buf + d_p, buf = d_p
    at the first step; w ← w − η·buf): the gradient of (wd/2)·Σw², swarmreg's
    decay="coupled" with an L2(wd) penalty.  Put biases in a parameter group
    with weight_decay=0.  (BackpropTrainer's ``decay_fraction`` is another
    knob: the fraction of :func:`from_decoupled_fraction`.)  Assumes a mean
    loss (PyTorch's default reduction); for reduction="sum" see
    :func:`from_torch_sum`.
    """
    return checks.real("weight_decay", weight_decay)


def to_torch_sgd(lam: float) -> float:
    """weight_decay = λ, the inverse of :func:`from_torch_sgd`."""
    return checks.real("lam", lam)


def from_torch_adam(weight_decay: float) -> float:
    """λ = weight_decay, exactly, at a fixed point of ``torch.optim.Adam(weight_decay=wd)``.

    PyTorch's Adam (its documented algorithm) adds wd·θ to the gradient before
    the moments, g ← g_D + wd·θ (coupled), then m ← β₁m + (1 − β₁)g,
    v ← β₂v + (1 − β₂)g², θ ← θ − η·m̂/(√v̂ + ε).  Full batch, a fixed point has
    m̂ = g = g_D + wd·θ and a zero step only where m̂ = 0: g_D + wd·w = 0, the
    stationarity condition of D + (wd/2)·Σw².  Minibatch noise and the path
    differ from SGD's, the optimum does not.  Biases in a group with
    weight_decay=0, mean loss as in :func:`from_torch_sgd`.  ``AdamW``'s
    decoupled decay has no such λ (module docstring, :func:`effective_l2`).
    """
    return checks.real("weight_decay", weight_decay)


def to_torch_adam(lam: float) -> float:
    """weight_decay = λ, the inverse of :func:`from_torch_adam`."""
    return checks.real("lam", lam)


def from_torch_sum(weight_decay: float, n: int, loss: str, n_outputs: int = 1) -> float:
    """λ = weight_decay / (n·c) for a PyTorch loss with ``reduction="sum"`` and a coupled weight_decay.

    With reduction="sum" the loss adds up, without dividing, the n samples of
    the batch it sees: ``MSELoss`` and ``BCEWithLogitsLoss`` (or ``BCELoss``)
    every one of the n·k entries, ``CrossEntropyLoss`` one −log p per sample.
    That is n·c·D with c = k (loss="mse", "binary_cross_entropy") or c = 1
    (loss="cross_entropy").  A coupled ``weight_decay=wd`` (SGD or Adam) adds
    wd·w to its gradient, the gradient of (wd/2)·Σw², so the objective is
    n·c·D + (wd/2)·Σw² = n·c·(D + (λ/2)·Σw²) with λ = wd/(n·c); with SGD the
    step acts like an n·c times larger learning rate.  For minibatches n is the
    batch size (a smaller last batch has a larger λ).

    Parameters
    ----------
    weight_decay : float
        The optimizer's ``weight_decay`` >= 0.
    n : int
        Samples summed over per step (>= 1).
    loss : {"mse", "cross_entropy", "binary_cross_entropy"}
        swarmreg's name of the loss: MSELoss, CrossEntropyLoss, BCEWithLogitsLoss.
    n_outputs : int
        k, output units (irrelevant for cross_entropy).
    """
    wd = checks.real("weight_decay", weight_decay)
    return wd / (checks.integer("n", n) * _entries_per_sample(loss, n_outputs))


def to_torch_sum(lam: float, n: int, loss: str, n_outputs: int = 1) -> float:
    """weight_decay = λ·n·c, the inverse of :func:`from_torch_sum`."""
    lam = checks.real("lam", lam)
    return lam * checks.integer("n", n) * _entries_per_sample(loss, n_outputs)


def from_keras_l2(l2: float) -> float:
    """λ = 2·l2.

    ``keras.regularizers.L2(l2)`` on a layer's kernel adds l2·Σw² (no ½) to
    the loss of every batch, whose data term is a mean like D (Keras' "mse"
    averages over all n·k entries, categorical cross-entropy over samples):
    l2·Σw² = (λ/2)·Σw² with λ = 2·l2.
    """
    return 2.0 * checks.real("l2", l2)


def to_keras_l2(lam: float) -> float:
    """l2 = λ / 2, the inverse of :func:`from_keras_l2`."""
    return 0.5 * checks.real("lam", lam)


def from_keras_l1(l1: float) -> float:
    """λ₁ = l1.

    ``keras.regularizers.L1(l1)`` on a layer's kernel adds l1·Σ|w| to the mean
    loss of every batch (as for :func:`from_keras_l2`): exactly λ₁·Σ|w|.
    """
    return checks.real("l1", l1)


def to_keras_l1(lam: float) -> float:
    """l1 = λ₁, the inverse of :func:`from_keras_l1`."""
    return checks.real("lam", lam)


# ----------------------------------------------------- fixed decay fraction
def from_decoupled_fraction(d: float, lr: float, momentum: float = 0.0) -> float:
    """λ = d·(1 − μ) / η.

    The "simplified" decay, ``BackpropTrainer(decay_fraction=d)``: after the
    SGD step (v ← μ·v + g_D; θ ← θ − η·v) subtract a fixed fraction of the
    weight, w ← w − d·w_old.  At a fixed point
    v = g_D/(1 − μ) and η·g_D/(1 − μ) + d·w = 0, i.e. g_D + λ·w = 0: the
    stationarity condition of D + (λ/2)·Σw².  Only the fixed point agrees; the
    path differs, and λ changes whenever η or μ does.  Decoupled decay
    w ← w − η·λ_dec·w_old is the case d = η·λ_dec: λ = λ_dec·(1 − μ).

    Parameters
    ----------
    d : float
        Fraction per step >= 0.
    lr : float
        η > 0.
    momentum : float
        μ in [0, 1).
    """
    return checks.real("d", d) * (1.0 - checks.unit_interval("momentum", momentum)) / checks.real("lr", lr, positive=True)


def to_decoupled_fraction(lam: float, lr: float, momentum: float = 0.0) -> float:
    """d = λ·η / (1 − μ), the inverse of :func:`from_decoupled_fraction`."""
    return checks.real("lam", lam) * checks.real("lr", lr, positive=True) / (1.0 - checks.unit_interval("momentum", momentum))


# ------------------------------------------------------ measured strength
def effective_l2(objective, theta) -> tuple[float, float]:
    """The L2 strength θ comes closest to being optimal for, and how far it misses.

    θ is a stationary point of D + (λ/2)·Σw² exactly when g + λ·w = 0, with
    g = ∇D(θ) restricted to the penalized parameters (``objective.penalty_mask``:
    the weights, and the biases too with ``regularize_bias=True``) and w = θ
    there.  For a θ that came from elsewhere — AdamW, a fixed decay fraction,
    early stopping — that is one unknown against many equations; its
    least-squares solution and the relative size of what is left are

        λ* = −(g·w) / (w·w),        residual = ‖g + λ*·w‖ / ‖g‖  ∈ [0, 1].

    Residual 0 means θ is the optimum's stationary point for λ* exactly (the
    fixed point of a decay fraction is, with λ* = d·(1 − μ)/η); a residual
    near 1 means no L2 strength explains θ (g nearly orthogonal to w).  At an
    AdamW fixed point gᵢ = −λ_W·(√v̂ᵢ + ε)·wᵢ: λ* is a weighted mean of the
    per-coordinate strengths λ_W·(√v̂ᵢ + ε), and the residual measures their
    spread.  λ* < 0 where shrinking the weights would lower D (g·w > 0).  Only
    the data loss enters: the objective's own penalty is ignored.

    Parameters
    ----------
    objective : RegularizedError
        Needs ``data_value_and_grad``, ``penalty_mask`` and ``n_params``.
    theta : array_like, shape (n_params,)
        A finite parameter vector.

    Returns
    -------
    (float, float)
        (λ*, residual).  ‖g‖ = 0 (exactly stationary for D): residual 0.0 and
        λ* = 0.0.  w = 0 (no weight to measure a strength by): λ* is nan and
        the residual 1.0, or 0.0 if g = 0 as well.
    """
    if not all(hasattr(objective, a) for a in ("data_value_and_grad", "penalty_mask", "n_params")):
        raise ValueError(f"objective must be a RegularizedError (with data_value_and_grad, penalty_mask and "
                         f"n_params), got {checks.short(objective)}")
    theta = checks.start_vector(theta, objective.n_params, "theta")
    mask = np.asarray(objective.penalty_mask, dtype=bool)
    g = np.asarray(objective.data_value_and_grad(theta)[1], dtype=float)[mask]
    w = theta[mask]
    if not w.any():
        return math.nan, (0.0 if not g.any() else 1.0)
    if not g.any():
        return 0.0, 0.0
    # Scaled by their largest entries, so that tiny or huge vectors neither
    # underflow nor overflow in the dot products.
    sw, sg = float(np.abs(w).max()), float(np.abs(g).max())
    u, h = w / sw, g / sg
    lam_scaled = -float(h @ u) / float(u @ u)  # λ*·sw/sg
    r = h + lam_scaled * u
    residual = math.sqrt(float(r @ r)) / math.sqrt(float(h @ h))
    return lam_scaled * sg / sw, min(1.0, residual)
