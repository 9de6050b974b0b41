"""Translate a regularization strength between the conventions in use.

swarmreg's canonical convention: E(θ) = D(θ) + (λ/2)·Σw², with D the MEAN data
loss (mse = mean over all n·k entries of (ŷ − y)², cross_entropy = mean of
−log p(true class), binary_cross_entropy = mean over all n·k entries) and the
sum over weights only (not biases).  Its gradient step with learning rate η is
w ← (1 − ηλ)·w − η·∇D.  Every ``from_…`` function returns this canonical λ;
its ``to_…`` twin is the inverse.

==========================  ==========================================  ===============================
convention                  penalty / update as written there           canonical λ
==========================  ==========================================  ===============================
Nielsen (λ_N, n samples)    C₀ + (λ_N/2n)·Σw²; w ← (1 − ηλ_N/n)·w − …   λ_N / n
"n = items in the update"   w ← (1 − ηλ_M/m)·w − η·(mean gradient)      λ_M / m
scikit-learn MLP (alpha)    loss + alpha/(2·n_batch)·ΣW²                alpha / n_batch (log-loss),
                                                                        2·alpha / (k·n_batch) (squared,
                                                                        k outputs)
PyTorch SGD weight_decay    grad += wd·w (coupled)                      wd
Keras regularizers.L2(l2)   loss + l2·Σw²                               2·l2
fixed fraction d per step   w ← w − d·w_old after the SGD step          d·(1 − μ)/η
==========================  ==========================================  ===============================

Where no exact λ exists
-----------------------
* Adaptive optimizers (Adam, AdamW, RMSprop, Adagrad, …).  They divide the
  gradient by a running per-coordinate scale √v̂ᵢ.  With L2 added to the loss
  ("Adam with weight decay") the penalty gradient λ·wᵢ is rescaled with it;
  with decoupled decay (AdamW, w ← w − η·λ_W·w) the data gradient is rescaled
  but the decay is not, so a fixed point satisfies ∂D/∂wᵢ ≈ −λ_W·(√v̂ᵢ + ε)·wᵢ:
  a different, data-dependent strength per coordinate.  Neither is the
  gradient of (λ/2)·Σw² with one fixed λ, so no λ reproduces them.
* A fixed fraction d (or a decoupled λ) under a changing learning rate or
  momentum: d·(1 − μ)/η changes with η, so λ drifts along a schedule.
* Per-batch conventions (scikit-learn, "items in the update") when the last
  minibatch is smaller: that step uses a larger λ than the others.
* Losses scaled differently from D: the ``from_…`` formulas assume the other
  side's data term equals swarmreg's D (the exceptions are spelled out in each
  docstring, e.g. scikit-learn's ½·squared error, Nielsen's quadratic cost).
"""

from __future__ import annotations

from . import checks

__all__ = [
    "from_nielsen", "to_nielsen", "from_minibatch_items", "to_minibatch_items",
    "from_sklearn_mlp", "to_sklearn_mlp", "from_torch_sgd", "to_torch_sgd",
    "from_keras_l2", "to_keras_l2", "from_decoupled_fraction", "to_decoupled_fraction",
]

SKLEARN_LOSSES = ("mse", "cross_entropy", "binary_cross_entropy")


# --------------------------------------------------------------- Nielsen
def from_nielsen(lam: float, n: int) -> float:
    """λ = λ_N / n.

    Nielsen's regularized cost C = C₀ + (λ_N / 2n)·Σw² over the n training
    samples (M. Nielsen, "Neural Networks and Deep Learning", ch. 3), whose
    SGD update is w ← (1 − ηλ_N/n)·w − η·∂C₀/∂w.  Exact when C₀ is swarmreg's D,
    as for his softmax log-likelihood cost (= cross_entropy).  His quadratic
    cost C₀ = (1/2n)·Σ‖y − a‖² is (k/2)·mse for k outputs, so there
    C = (k/2)·(mse + (λ/2)·Σw²) with λ = 2λ_N/(k·n), and η acts k/2 times larger.

    Parameters
    ----------
    lam : float
        λ_N >= 0.
    n : int
        Number of training samples (>= 1).
    """
    return checks.real("lam", lam) / checks.integer("n", n)


def to_nielsen(lam: float, n: int) -> float:
    """λ_N = λ·n, the inverse of :func:`from_nielsen`."""
    return checks.real("lam", lam) * checks.integer("n", n)


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
def _sklearn_factor(n: int, loss: str, n_outputs: int) -> float:
    """canonical λ / alpha."""
    n = checks.integer("n", n)
    n_outputs = checks.integer("n_outputs", n_outputs)
    if loss == "cross_entropy":
        return 1.0 / n
    if loss == "mse":
        return 2.0 / (n * n_outputs)
    if loss == "binary_cross_entropy":
        return 1.0 / (n * n_outputs)
    raise ValueError(f"loss={loss!r} is not a loss; valid: {', '.join(SKLEARN_LOSSES)}")


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
      objective (k/2)·D + alpha/(2n)·ΣW² = (k/2)·(D + (λ/2)·ΣW²) gives
      λ = 2·alpha / (k·n), i.e. 2·alpha/n for one output; the optimum is the
      same, and scikit-learn's step acts like a k/2 times larger learning rate.
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


# ---------------------------------------------------------- PyTorch, Keras
def from_torch_sgd(weight_decay: float) -> float:
    """λ = weight_decay.

    ``torch.optim.SGD(lr=η, momentum=μ, weight_decay=wd)`` adds wd·w to the
    gradient before the momentum (d_p = g + wd·w; buf ← μ·buf + d_p, buf = d_p
    at the first step; w ← w − η·buf): the gradient of (wd/2)·Σw², swarmreg's
    decay="coupled" with an L2(wd) penalty.  Put biases in a parameter group
    with weight_decay=0.  (BackpropTrainer's ``decay_fraction`` is another
    knob: the fraction of :func:`from_decoupled_fraction`.)
    """
    return checks.real("weight_decay", weight_decay)


def to_torch_sgd(lam: float) -> float:
    """weight_decay = λ, the inverse of :func:`from_torch_sgd`."""
    return checks.real("lam", lam)


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


# ----------------------------------------------------- fixed decay fraction
def from_decoupled_fraction(d: float, lr: float, momentum: float = 0.0) -> float:
    """λ = d·(1 − μ) / η.

    The "simplified" decay, ``BackpropTrainer(decay_fraction=d)``: after the
    SGD step (v ← μ·v + g_D; θ ← θ − η·v) subtract a fixed fraction of the
    weight, w ← w − d·w_old.  At a fixed point
    v = g_D/(1 − μ) and η·g_D/(1 − μ) + d·w = 0, i.e. g_D + λ·w = 0: the
    stationarity condition of D + (λ/2)·Σw².  Only the fixed point agrees; the
    path differs, and λ changes whenever η or μ does.

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
