"""What a spec's λ means for a run, as data.

A sweep varies one number λ over a grid; what that number *is* depends on the
trainer configuration's ``lam_as``.  Each meaning is a small object that
answers, once per run: which penalty the objective carries, which trainer
settings λ sets, and which λ that is in swarmreg's canonical convention
(E = D + (λ/2)·Σw², through :mod:`swarmreg.conventions`).

=================  =========================================  ===================================
``lam_as``         the objective and the trainer              canonical λ
=================  =========================================  ===================================
"penalty"          the spec's penalty with strength λ          λ
"decay_fraction"   no penalty; backprop subtracts the          d·(1 − μ)/η (the fixed point of the
                   fraction d = λ of each weight per step      update, ``from_decoupled_fraction``)
=================  =========================================  ===================================

A new convention (scikit-learn's alpha, Nielsen's λ, Keras' l2, …) is one more
class with the same three answers and one more entry in :data:`MEANINGS`.
"""

from __future__ import annotations

from ..conventions import from_decoupled_fraction
from ..penalties import make_penalty

__all__ = ["Penalty", "DecayFraction", "MEANINGS", "RENAMED", "meaning"]


class Penalty:
    """λ is the strength of the spec's penalty (canonical as it stands)."""

    name = "penalty"
    kinds = None          # every trainer kind
    sets = ()             # trainer settings λ takes over

    def penalty(self, lam: float, kind: str, l1_ratio: float, w0: float = 1.0):
        """The objective's penalty for this λ."""
        return make_penalty(kind, lam, l1_ratio, w0)

    def settings(self, lam: float) -> dict:
        """Trainer settings this λ sets."""
        return {}

    def canonical(self, lam: float, config: dict) -> float:
        """λ in the canonical convention, given the trainer's full settings ``config``."""
        return lam

    def canonical_penalty(self, kind: str) -> str:
        """The penalty the canonical λ is a strength of, given the spec's ``kind``."""
        return kind


class DecayFraction:
    """λ is the fraction d backprop subtracts from each weight after every
    step (w ← w − d·w_old), with no penalty in the objective; its fixed point
    is L2 with λ = d·(1 − μ)/η."""

    name = "decay_fraction"
    kinds = ("backprop",)
    sets = ("decay_fraction",)

    def penalty(self, lam: float, kind: str, l1_ratio: float, w0: float = 1.0):
        return None

    def settings(self, lam: float) -> dict:
        return {"decay_fraction": lam}

    def canonical(self, lam: float, config: dict) -> float:
        return from_decoupled_fraction(lam, config["lr"], config["momentum"])

    def canonical_penalty(self, kind: str) -> str:
        return "l2"  # whatever the spec's penalty: the objective has none, and the fixed point is L2's


MEANINGS = {m.name: m for m in (Penalty(), DecayFraction())}
#: Former names of a meaning, refused with the new name.
RENAMED = {"weight_decay": "decay_fraction"}


def meaning(name: str):
    """The meaning called ``name`` (KeyError for an unknown one)."""
    return MEANINGS[name]
