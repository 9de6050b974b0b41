"""What a spec's λ means for a run, as data.

A sweep varies one number λ over a grid; what that number *is* depends on the
trainer configuration's ``lam_as``.  Each meaning is a small object that
answers, once per run: which penalty the objective carries, which trainer
settings λ sets, and which λ that is in swarmreg's canonical convention
(E = D + (λ/2)·Σw² or D + λ·Σ|w|, through :mod:`swarmreg.conventions`).  The
answers may depend on the run's :class:`Problem` (training samples, loss,
outputs), as scikit-learn's alpha and Nielsen's λ do.

=================  =========================================  ===================================
``lam_as``         λ is                                       canonical λ
=================  =========================================  ===================================
"penalty"          the strength of the spec's penalty          λ
"decay_fraction"   backprop's fraction d = λ subtracted from   d·(1 − μ)/η (the fixed point of the
                   each weight per step; no penalty            SGD update, ``from_decoupled_fraction``);
                                                               none with Adam (null in a record)
"sklearn_alpha"    scikit-learn MLP's ``alpha`` (L2), the      ``from_sklearn_mlp(alpha, n, loss, k)``
                   penalty divided by the n training samples   (α/n for cross-entropy)
"nielsen"          Nielsen's λ_N (L2) with his cost for the    ``from_nielsen(λ_N, n, cost, k)``:
                   run's loss: log-likelihood (softmax),       λ_N/n, λ_N/(k·n) or 2λ_N/(k·n)
                   cross-entropy (sigmoid) or quadratic (mse)
"keras_l2"         ``keras.regularizers.L2(l2)``               2·l2
"keras_l1"         ``keras.regularizers.L1(l1)``               l1
=================  =========================================  ===================================

Every meaning but "decay_fraction" puts a penalty of the canonical λ in the
objective, so every trainer kind can use it; a record carries λ as given and
the canonical λ beside it.  A new convention is one more class with the same
answers and one more entry in :data:`MEANINGS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import conventions
from ..penalties import make_penalty

__all__ = ["Problem", "Penalty", "DecayFraction", "SklearnAlpha", "Nielsen", "KerasL2", "KerasL1", "MEANINGS",
           "RENAMED", "meaning"]


@dataclass(frozen=True)
class Problem:
    """What a convention may need to know of a run's training problem."""

    n_samples: int   # training samples
    loss: str        # swarmreg's loss name: mse, cross_entropy or binary_cross_entropy
    n_outputs: int   # k, output units


class Penalty:
    """λ is the strength of the spec's penalty (canonical as it stands)."""

    name = "penalty"
    kinds = None          # every trainer kind
    penalties = None      # every penalty of a spec
    sets = ()             # trainer settings λ takes over

    def canonical(self, lam: float, config: dict, problem: Problem) -> float:
        """λ in the canonical convention, given the trainer's full settings ``config`` and the problem."""
        return lam

    def penalty(self, lam: float, kind: str, l1_ratio: float, w0: float, problem: Problem):
        """The objective's penalty for this λ: the spec's kind at the canonical strength."""
        return make_penalty(kind, self.canonical(lam, {}, problem), l1_ratio, w0)

    def settings(self, lam: float) -> dict:
        """Trainer settings this λ sets."""
        return {}

    def canonical_penalty(self, kind: str) -> str:
        """The penalty the canonical λ is a strength of, given the spec's ``kind``."""
        return kind


class DecayFraction(Penalty):
    """λ is the fraction d backprop subtracts from each weight after every
    step (w ← w − d·w_old), with no penalty in the objective; its fixed point
    is L2 with λ = d·(1 − μ)/η."""

    name = "decay_fraction"
    kinds = ("backprop",)
    sets = ("decay_fraction",)

    def penalty(self, lam, kind, l1_ratio, w0, problem):
        return None

    def settings(self, lam: float) -> dict:
        return {"decay_fraction": lam}

    def canonical(self, lam, config, problem):
        if config.get("optimizer", "sgd") != "sgd":
            return float("nan")  # Adam rescales the data gradient per coordinate: no single λ (a record's null)
        return conventions.from_decoupled_fraction(lam, config["lr"], config["momentum"])

    def canonical_penalty(self, kind: str) -> str:
        return "l2"  # whatever the spec's penalty: the objective has none, and the fixed point is L2's


class SklearnAlpha(Penalty):
    """λ is scikit-learn's ``MLPClassifier``/``MLPRegressor(alpha=…)``, whose penalty
    alpha/(2n)·ΣW² divides by the n samples of the batch: here the whole training
    set (scikit-learn's lbfgs)."""

    name = "sklearn_alpha"
    penalties = ("l2",)

    def canonical(self, lam, config, problem):
        return conventions.from_sklearn_mlp(lam, problem.n_samples, problem.loss, problem.n_outputs)


#: Nielsen's cost that matches each of swarmreg's losses.
NIELSEN_COSTS = {"cross_entropy": "log_likelihood", "binary_cross_entropy": "cross_entropy", "mse": "quadratic"}


class Nielsen(Penalty):
    """λ is Nielsen's λ_N of C = C₀ + (λ_N/2n)·Σw², with his cost C₀ for the run's
    loss: softmax log-likelihood, sigmoid cross-entropy summed over the k outputs
    (network2.py's default) or the quadratic cost ½‖a − y‖²."""

    name = "nielsen"
    penalties = ("l2",)

    def canonical(self, lam, config, problem):
        return conventions.from_nielsen(lam, problem.n_samples, cost=NIELSEN_COSTS[problem.loss],
                                        n_outputs=problem.n_outputs)


class KerasL2(Penalty):
    """λ is ``keras.regularizers.L2(l2)``, which adds l2·Σw² to the mean loss."""

    name = "keras_l2"
    penalties = ("l2",)

    def canonical(self, lam, config, problem):
        return conventions.from_keras_l2(lam)


class KerasL1(Penalty):
    """λ is ``keras.regularizers.L1(l1)``, which adds l1·Σ|w| to the mean loss."""

    name = "keras_l1"
    penalties = ("l1",)

    def canonical(self, lam, config, problem):
        return conventions.from_keras_l1(lam)


MEANINGS = {m.name: m for m in (Penalty(), DecayFraction(), SklearnAlpha(), Nielsen(), KerasL2(), KerasL1())}
#: Former names of a meaning, refused with the new name.
RENAMED = {"weight_decay": "decay_fraction"}


def meaning(name: str):
    """The meaning called ``name`` (KeyError for an unknown one)."""
    return MEANINGS[name]
