"""One step of back-propagation as an ordered chain of rules.

Every form of weight decay, and the optimizer step itself, is one small rule;
a step applies the rules of a chain in order, and the position of a rule is
its meaning (optax's ``chain(..., add_decayed_weights(wd, mask), ...)`` is the
model).  Each rule is called as ``rule(theta, g, w_old, lr)`` and works in
place on the step's arrays:

* ``theta`` (n_params,): the parameters, updated in place;
* ``g`` (n_params,): the data gradient g_D on entry; gradient rules add to it,
  the step consumes it (its buffer is then scratch);
* ``w_old`` (n_params,): a copy of theta from before the step;
* ``lr``: the step's learning rate η, passed per call so that a schedule may
  vary it.

Only the penalized parameters w (the weights; biases too when the objective
has ``regularize_bias=True``) are touched by the decay rules.  The order,
which is the semantics::

    1. gradient terms: before the step, so the momentum carries them
       CoupledL2(λ₂)       g ← g + λ₂·w_old
       L1Subgradient(λ₁)   g ← g + λ₁·sign(w_old)          (sign(0) = 0)
       PenaltyGradient(R)  g ← g + ∇R(w_old)                (a smooth penalty, coupled)
    2. the step, exactly one, holding the optimizer's state
       SGD(μ)              v ← μ·v + g;  θ ← θ − η·v        (v starts at 0)
       Adam(β₁, β₂, ε)     m ← β₁·m + (1 − β₁)·g;  v ← β₂·v + (1 − β₂)·g²;  t ← t + 1
                           θ ← θ − (η/(1 − β₁ᵗ))·m / (√v/√(1 − β₂ᵗ) + ε)
    3. parameter terms: after the step, past the momentum (or Adam's rescaling)
       DecoupledL2(λ₂)     w ← w − η·λ₂·w_old
       DecoupledPenalty(R) w ← w − η·∇R(w_old)              (a smooth penalty, decoupled)
       DecayFraction(d)    w ← w − d·(η/η₀)·w_old           (η₀ the base rate: d per step without a schedule)
       ProximalL1(λ₁)      w ← sign(w)·max(|w| − η·λ₁, 0)

With Adam, CoupledL2 is ``torch.optim.Adam(weight_decay=λ₂)`` (the L2 term is
rescaled with the data gradient) and DecoupledL2 is ``torch.optim.AdamW(
weight_decay=λ₂)`` (it is not).  Under a learning-rate schedule
(:mod:`swarmreg.schedules`) every rule sees the scheduled η of its step, so the
decoupled decay and the decay fraction follow the schedule as AdamW's lr·wd does.

:func:`build_chain` makes the chain of a :class:`~swarmreg.backprop.BackpropTrainer`
(only the rules that act, so the common case does no more work than it must);
:func:`pure_decay` runs that same chain with a zero data gradient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import numpy as np

from . import checks
from .penalties import soft_threshold
from .schedules import learning_rates

__all__ = ["Rule", "CoupledL2", "L1Subgradient", "PenaltyGradient", "SGD", "Adam", "DecoupledL2", "DecoupledPenalty",
           "DecayFraction", "ProximalL1", "STAGES", "OPTIMIZERS", "chain", "build_chain", "apply_chain", "pure_decay"]

STAGES = ("gradient", "step", "parameter")


class Rule(Protocol):
    """A rule of a step: ``stage`` says where in the chain it may stand."""

    stage: ClassVar[str]

    def __call__(self, theta: np.ndarray, g: np.ndarray, w_old: np.ndarray, lr: float) -> None: ...


# ------------------------------------------------------------ gradient terms
@dataclass(frozen=True)
class CoupledL2:
    """g ← g + λ₂·w_old: the gradient of (λ₂/2)·Σw², carried by the momentum
    (``torch.optim.SGD``'s weight_decay)."""

    l2: float
    slices: tuple = field(repr=False)
    stage: ClassVar[str] = "gradient"

    def __call__(self, theta, g, w_old, lr):
        for s in self.slices:
            g[s] += self.l2 * w_old[s]


@dataclass(frozen=True)
class L1Subgradient:
    """g ← g + λ₁·sign(w_old): a subgradient of λ₁·Σ|w| (sign(0) = 0)."""

    l1: float
    slices: tuple = field(repr=False)
    stage: ClassVar[str] = "gradient"

    def __call__(self, theta, g, w_old, lr):
        for s in self.slices:
            g[s] += self.l1 * np.sign(w_old[s])


@dataclass(frozen=True)
class PenaltyGradient:
    """g ← g + ∇R(w_old) for a smooth penalty without an L1/L2 form (weight
    elimination): its gradient, carried by the momentum."""

    penalty: object
    slices: tuple = field(repr=False)
    stage: ClassVar[str] = "gradient"

    def __call__(self, theta, g, w_old, lr):
        for s in self.slices:
            g[s] += self.penalty.grad(w_old[s])


# ------------------------------------------------------------------ the step
@dataclass(eq=False)
class SGD:
    """The SGD step with heavy-ball momentum: v ← μ·v + g; θ ← θ − η·v.

    ``velocity`` (n_params,) is the optimizer's state, zero at the start of a
    fit; with μ = 0 it is never touched and the step is θ ← θ − η·g.
    """

    momentum: float
    velocity: np.ndarray = field(repr=False)
    stage: ClassVar[str] = "step"

    def __call__(self, theta, g, w_old, lr):
        if self.momentum:
            v = self.velocity
            v *= self.momentum
            v += g
            np.multiply(v, lr, out=g)
        else:
            g *= lr
        theta -= g


@dataclass(eq=False)
class Adam:
    """The Adam step (Kingma & Ba 2015, Algorithm 1, as ``torch.optim.Adam``
    computes it): with t the number of steps taken, this one included,

        m ← β₁·m + (1 − β₁)·g;  v ← β₂·v + (1 − β₂)·g²
        θ ← θ − (η / (1 − β₁ᵗ))·m / (√v / √(1 − β₂ᵗ) + ε)

    ``m``, ``v`` (n_params,) are the optimizer's state, zero at the start of a
    fit; ``scratch`` (n_params,) holds the denominator.
    """

    beta1: float
    beta2: float
    eps: float
    m: np.ndarray = field(repr=False)
    v: np.ndarray = field(repr=False)
    scratch: np.ndarray = field(repr=False)
    t: int = 0
    stage: ClassVar[str] = "step"

    @classmethod
    def zeros(cls, beta1: float, beta2: float, eps: float, n_params: int) -> "Adam":
        """A fresh Adam step for n_params parameters."""
        return cls(beta1, beta2, eps, np.zeros(n_params), np.zeros(n_params), np.empty(n_params))

    def __call__(self, theta, g, w_old, lr):
        self.t += 1
        m, v, denom = self.m, self.v, self.scratch
        m *= self.beta1
        m += (1.0 - self.beta1) * g
        v *= self.beta2
        np.multiply(g, g, out=g)
        g *= 1.0 - self.beta2
        v += g
        np.sqrt(v, out=denom)
        denom /= math.sqrt(1.0 - self.beta2 ** self.t)
        denom += self.eps
        np.divide(m, denom, out=g)
        g *= lr / (1.0 - self.beta1 ** self.t)
        theta -= g


# ----------------------------------------------------------- parameter terms
@dataclass(frozen=True)
class DecoupledL2:
    """w ← w − η·λ₂·w_old: L2 decay applied past the momentum."""

    l2: float
    slices: tuple = field(repr=False)
    stage: ClassVar[str] = "parameter"

    def __call__(self, theta, g, w_old, lr):
        for s in self.slices:
            theta[s] -= (lr * self.l2) * w_old[s]


@dataclass(frozen=True)
class DecoupledPenalty:
    """w ← w − η·∇R(w_old) for a smooth penalty without an L1/L2 form, past the momentum."""

    penalty: object
    slices: tuple = field(repr=False)
    stage: ClassVar[str] = "parameter"

    def __call__(self, theta, g, w_old, lr):
        for s in self.slices:
            theta[s] -= lr * self.penalty.grad(w_old[s])


@dataclass(frozen=True)
class DecayFraction:
    """w ← w − d·(η/η₀)·w_old: a fraction d of every weight per step at the
    base rate η₀, following a schedule's multiplier η/η₀ as AdamW's decay
    lr·wd does (without a schedule η/η₀ = 1: d per step, whatever η₀ is).
    ``base_lr=None``: d per step whatever η is."""

    fraction: float
    slices: tuple = field(repr=False)
    base_lr: float | None = None
    stage: ClassVar[str] = "parameter"

    def __call__(self, theta, g, w_old, lr):
        d = self.fraction if self.base_lr is None or lr == self.base_lr else self.fraction * (lr / self.base_lr)
        for s in self.slices:
            theta[s] -= d * w_old[s]


@dataclass(frozen=True)
class ProximalL1:
    """w ← sign(w)·max(|w| − η·λ₁, 0): the proximal step of η·λ₁·Σ|w| (ISTA),
    which gives exact zeros."""

    l1: float
    slices: tuple = field(repr=False)
    stage: ClassVar[str] = "parameter"

    def __call__(self, theta, g, w_old, lr):
        t = lr * self.l1
        for s in self.slices:
            w = theta[s]
            soft_threshold(w, t, out=w)


# ----------------------------------------------------------------- chains
def chain(*rules) -> tuple:
    """The rules as a chain, checked: gradient terms, then one step, then
    parameter terms.

    Raises
    ------
    ValueError
        When a rule has no known ``stage``, the stages are out of order, or
        there is not exactly one step.
    """
    stages = []
    for rule in rules:
        stage = getattr(rule, "stage", None)
        if stage not in STAGES:
            raise ValueError(f"{rule!r} is not a rule: its stage must be one of {', '.join(STAGES)}")
        stages.append(STAGES.index(stage))
    if stages != sorted(stages):
        raise ValueError("rules must come in the order gradient terms, step, parameter terms; got "
                         + ", ".join(type(r).__name__ for r in rules))
    if stages.count(STAGES.index("step")) != 1:
        raise ValueError(f"a chain needs exactly one step rule, got {stages.count(STAGES.index('step'))}")
    return tuple(rules)


def build_chain(*, momentum: float, decay: str, decay_fraction: float, l1_mode: str,
                l1: float, l2: float, slices, n_params: int, smooth=None, optimizer: str = "sgd",
                betas: tuple = (0.9, 0.999), eps: float = 1e-8, lr: float | None = None) -> tuple:
    """The chain of one BackpropTrainer step: only the rules that act.

    Parameters
    ----------
    momentum, decay, decay_fraction : the trainer's settings
        μ; "coupled" or "decoupled" (where λ₂ acts); d.
    optimizer : {"sgd", "adam"}
        The step rule: :class:`SGD` with momentum μ, or :class:`Adam` with
        ``betas`` = (β₁, β₂) and ``eps`` (μ must then be 0).
    lr : float, optional
        The base learning rate η₀ the decay fraction is stated at (a
        schedule's rate η scales it by η/η₀); None: d per step whatever η is.
    l1_mode : {"subgradient", "proximal"}
        The trainer's ``l1`` setting (where λ₁ acts).
    l1, l2 : float
        λ₁ and λ₂ of the objective's penalty (0 without one).
    slices : tuple of slice
        The penalized parameters (the objective's ``penalty_slices``).
    n_params : int
        Length of theta (the velocity's).
    smooth : penalty with ``grad``, optional
        A penalty that is no elastic net (weight elimination): its gradient
        acts where ``decay`` says λ₂ acts.
    """
    rules = []
    if l2 and decay == "coupled":
        rules.append(CoupledL2(l2, slices))
    if smooth is not None and decay == "coupled":
        rules.append(PenaltyGradient(smooth, slices))
    if l1 and l1_mode == "subgradient":
        rules.append(L1Subgradient(l1, slices))
    if optimizer == "adam":
        rules.append(Adam.zeros(betas[0], betas[1], eps, n_params))
    else:
        rules.append(SGD(momentum, np.zeros(n_params)))
    if l2 and decay == "decoupled":
        rules.append(DecoupledL2(l2, slices))
    if smooth is not None and decay == "decoupled":
        rules.append(DecoupledPenalty(smooth, slices))
    if decay_fraction:
        rules.append(DecayFraction(decay_fraction, slices, lr))
    if l1 and l1_mode == "proximal":
        rules.append(ProximalL1(l1, slices))
    return chain(*rules)


def apply_chain(rules: tuple, theta: np.ndarray, g: np.ndarray, w_old: np.ndarray, lr: float) -> None:
    """One step: every rule of ``rules`` in order (see the module docstring)."""
    for rule in rules:
        rule(theta, g, w_old, lr)


#: The backprop settings a step and its decay depend on (every config has them).
STEP_SETTINGS = ("lr", "momentum", "decay", "decay_fraction", "l1")
#: Settings added later, with the value a config that predates them means.
LATER_STEP_SETTINGS = {"optimizer": "sgd", "betas": (0.9, 0.999), "eps": 1e-8, "lr_schedule": "constant",
                       "lr_min": 0.0, "lr_step_size": None, "lr_gamma": 0.1, "epochs": 1}
#: Where the L2 part acts (before or after the step), and how the L1 part does.
DECAYS = ("coupled", "decoupled")
L1_MODES = ("subgradient", "proximal")
OPTIMIZERS = ("sgd", "adam")


def pure_decay(config: dict, l2: float, steps, steps_per_epoch: int = 1) -> np.ndarray:
    """Σw²(k) / Σw²(0) after k steps when the data gradient is zero.

    Runs the chain :func:`build_chain` makes for a trainer with these settings
    and an L2 penalty λ₂ = ``l2`` (every L2 form: coupled or decoupled per
    ``decay``, plus the decay fraction), on a one-weight vector, at the
    learning rates of the trainer's schedule.  With g_D = 0 every rule of SGD
    is linear in w, so the ratio is that of any weight vector: what the decay
    alone does to a network's weights.  So is Adam's with decoupled decay or a
    decay fraction (its step is then 0); Adam with coupled L2 is refused: its
    step normalizes λ₂·w and is not linear in w.

    Parameters
    ----------
    config : dict
        Backprop trainer settings as ``BackpropTrainer(...).config`` gives
        them: at least the settings of the step and its decay (:data:`STEP_SETTINGS`);
        the others (batch size, …) do not change a step and are ignored.
    l2 : float
        λ₂ >= 0 of the objective's penalty.
    steps : array_like of int
        Cumulative step counts k >= 0 (steps, not epochs: an epoch of
        minibatches is several).
    steps_per_epoch : int
        Steps in one epoch: where the schedule's rate changes (irrelevant for
        the constant schedule).

    Returns
    -------
    ndarray of float, shape of ``steps``
    """
    missing = [k for k in STEP_SETTINGS if k not in config]
    if missing:
        raise ValueError(f"config lacks {', '.join(map(repr, missing))}: give the trainer's whole config "
                         "(BackpropTrainer(...).config)")
    config = {**LATER_STEP_SETTINGS, **config}
    lr = checks.real("lr", config["lr"], positive=True)
    l2 = checks.real("l2", l2)
    if config["decay"] not in DECAYS or config["l1"] not in L1_MODES or config["optimizer"] not in OPTIMIZERS:
        raise ValueError(f"config: decay must be one of {DECAYS}, l1 one of {L1_MODES} and optimizer one of "
                         f"{OPTIMIZERS}, got {config['decay']!r}, {config['l1']!r} and {config['optimizer']!r}")
    if config["optimizer"] == "adam" and config["decay"] == "coupled" and l2 > 0:
        raise ValueError("pure_decay: Adam with coupled L2 normalizes λ₂·w, which is not linear in w; "
                         "the decay alone has no ratio that holds for every weight vector")
    steps_per_epoch = checks.integer("steps_per_epoch", steps_per_epoch)
    steps = np.asarray(steps)
    if steps.size == 0:
        return np.zeros(steps.shape)
    if steps.dtype.kind not in "iu" or steps.min() < 0:
        raise ValueError(f"steps must be integer step counts >= 0, got {steps!r}")
    epochs = max(checks.integer("epochs", config["epochs"]), -(-int(steps.max()) // steps_per_epoch))
    if config["lr_schedule"] != "constant" and int(steps.max()) > config["epochs"] * steps_per_epoch:
        raise ValueError(f"steps: {int(steps.max())} steps run past the schedule's {config['epochs']} epochs "
                         f"of {steps_per_epoch} steps")
    rates = learning_rates(config["lr_schedule"], lr, epochs, config["lr_min"], config["lr_step_size"],
                           config["lr_gamma"])
    rules = build_chain(momentum=checks.unit_interval("momentum", config["momentum"]), decay=config["decay"],
                        decay_fraction=checks.real("decay_fraction", config["decay_fraction"]),
                        l1_mode=config["l1"], l1=0.0, l2=l2, slices=(slice(0, 1),), n_params=1,
                        optimizer=config["optimizer"], betas=tuple(config["betas"]), eps=config["eps"], lr=lr)
    wanted, where = np.unique(steps.ravel(), return_inverse=True)
    theta, g, w_old = np.ones(1), np.empty(1), np.empty(1)
    sq = np.empty(wanted.size)
    done = 0
    for i, k in enumerate(wanted):
        for step in range(done, int(k)):
            np.copyto(w_old, theta)
            g[:] = 0.0
            apply_chain(rules, theta, g, w_old, rates[step // steps_per_epoch])
        done = int(k)
        sq[i] = theta[0] * theta[0]
    return sq[where].reshape(steps.shape)
