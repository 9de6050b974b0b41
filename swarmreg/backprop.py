"""Back-propagation: (minibatch) SGD with momentum, or Adam, on a :class:`RegularizedError`.

Every way the regularization literature applies L2/L1 inside gradient descent
is one setting of :class:`BackpropTrainer`, because the forms give λ different
meanings.  One step on a minibatch B, with g_D the gradient of the MEAN data
loss over B, w the penalized parameters (the weights; biases too only when
the objective has ``regularize_bias=True``) and η the step's learning rate
(the schedule's rate of the epoch)::

    g  = g_D  [+ λ₂·w        if decay="coupled"]
              [+ λ₁·sign(w)  if l1="subgradient"]
    SGD:  v ← μ·v + g;  θ ← θ − η·v
    Adam: m ← β₁·m + (1 − β₁)·g;  v ← β₂·v + (1 − β₂)·g²;  θ ← θ − η·m̂/(√v̂ + ε)
    w ← w − η·λ₂·w_old       if decay="decoupled"
    w ← w − d·(η/η₀)·w_old   if decay_fraction=d > 0
    w ← sign(w)·max(|w| − η·λ₁, 0)   if l1="proximal"

λ₁ and λ₂ are the L1 and L2 parts of the objective's penalty
(R = λ₁·Σ|w| + (λ₂/2)·Σw²), ``w_old`` the penalized parameters before the
step, η₀ the base rate ``lr`` and m̂, v̂ Adam's bias-corrected moments.  With
SGD, μ = 0 and L2 the coupled step is w ← (1 − ηλ)·w − η·g_D, the textbook
"weight decay" update; with Adam, coupled is ``torch.optim.Adam(weight_decay=λ₂)``
and decoupled ``torch.optim.AdamW(weight_decay=λ₂)``.  Each line is one rule
of :mod:`swarmreg.decay`, applied in this order.
"""

from __future__ import annotations

import math

import numpy as np

from . import backend, checks, decay as decay_rules
from .objective import RegularizedError, evaluation_memory
from .penalties import WeightElimination
from .result import GRADIENT_COLUMNS, TrainResult
from .schedules import SCHEDULES, check_schedule, learning_rates
from .training import (FitLog, GradientObjective, Trainer, held_threads, history_bytes, point_row, require,
                       retired_keywords)

__all__ = ["BackpropTrainer", "DECAYS", "L1_MODES", "OPTIMIZERS", "SCHEDULES", "DIVERGENCE_RATIO", "DIVERGENCE_FLOOR"]

# A run has diverged when its epoch-end E exceeds DIVERGENCE_RATIO·max(E0,
# DIVERGENCE_FLOOR), E0 the value at the start.  Measured: the ordinary runs of
# the test suite and of the report's specs end no epoch above 6·E0, and a bad
# but bounded one (iris, lr = 100, minibatches of 8) peaks near 730·E0, while
# runs that explode pass 1e4·E0 within one to four epochs (sine, lr = 1e6:
# 3e9·E0 after one; iris, lr = 1e6: 7e5·E0 after one, cross-entropy growing
# only linearly with the weights; sine, momentum 0.99, lr = 1: 5e4·E0 after
# four).  1e4 leaves an order of magnitude above the worst bounded rise and
# stops an explosion early.  The floor keeps a start at an exact fit (E0 = 0)
# from calling a small rise a divergence: there E must pass 100, a mean loss
# no standardized problem reaches by training.
DIVERGENCE_RATIO = 1e4
DIVERGENCE_FLOOR = 1e-2
DECAYS = decay_rules.DECAYS
L1_MODES = decay_rules.L1_MODES
OPTIMIZERS = decay_rules.OPTIMIZERS


class BackpropTrainer(Trainer):
    """Minibatch SGD with momentum, or Adam, by back-propagation, with every weight-decay form.

    Parameters
    ----------
    lr : float
        Learning rate η > 0 (the base rate η₀ of a schedule).
    epochs : int
        Passes over the training data (>= 1).
    batch_size : int or None
        None = full batch (one step per epoch on all samples); 1 = online
        learning; else minibatches of that size, the last one smaller when it
        does not divide n.  Sizes above n act as full batch.
    momentum : float
        μ in [0, 1) (heavy ball, v ← μ·v + g; θ ← θ − η·v; v starts at 0).
        SGD only: with optimizer="adam" it must stay 0 (β₁ is Adam's momentum).
    decay : {"coupled", "decoupled"}
        Where the L2 part λ₂ of the objective's penalty acts (and the gradient
        of weight elimination, which has no L2 part: added to g, or applied
        after the step as w ← w − η·∇R(w_old)).
        "coupled": λ₂·w is added to the gradient and so enters the momentum;
        this equals ``torch.optim.SGD(lr=η, momentum=μ, weight_decay=λ₂)`` on
        the weights (biases in a group with weight_decay=0), step for step.
        "decoupled": the momentum sees g_D only and, after the step, the weights
        shrink by η·λ₂ times their value before the step: w ← w − η·λ₂·w_old.
        Both have the fixed point of E = D + R when μ = 0 (they are then the
        same update); with μ > 0 they differ: decoupled decay with momentum
        converges to the optimum for λ₂·(1 − μ), not λ₂ (at a fixed point
        v = g_D/(1 − μ), so g_D + λ₂·(1 − μ)·w = 0).  With optimizer="adam",
        "coupled" is ``torch.optim.Adam(weight_decay=λ₂)``, whose full-batch
        fixed point is the optimum of E for the same λ₂, and "decoupled" is
        ``torch.optim.AdamW(weight_decay=λ₂)`` (biases in a group without
        decay), whose fixed point has no single λ
        (:func:`swarmreg.conventions.effective_l2` measures the nearest).  ``decay`` never touches the L1
        part: with l1="subgradient" its term λ₁·sign(w) stays in g (and so in
        the momentum) under both decays; with l1="proximal" it is applied
        after the step under both.
    decay_fraction : float
        d >= 0.  After every step, w ← w − d·w_old: the "simplified" decay that
        subtracts a fixed fraction of each weight, on top of whatever penalty
        the objective carries (use it with penalty None to study it alone).
        For SGD its fixed point is that of L2 with λ = d·(1 − μ)/η, see
        :func:`swarmreg.conventions.from_decoupled_fraction`.  Under a
        schedule the fraction of a step is d·η/η₀ (it follows the schedule's
        multiplier, as AdamW's lr·wd does), so with SGD that λ holds at every
        step.  (Not PyTorch's
        ``weight_decay``, which is the coupled λ₂: decay="coupled" with an L2
        penalty.)
    l1 : {"subgradient", "proximal"}
        How the L1 part λ₁ acts.  "subgradient": λ₁·sign(w) (sign(0) = 0) is
        added to g, so every weight is pushed by the same amount and weights
        rarely land exactly on 0.  "proximal": after the step (and after the
        decays above), soft-thresholding w ← sign(w)·max(|w| − η·λ₁, 0), the
        proximal gradient (ISTA) step, which gives exact zeros.
    shuffle : bool
        Reshuffle the samples every epoch (from ``seed``); else visit them in
        order 0..n−1.  Irrelevant for full batch.
    optimizer : {"sgd", "adam"}
        The step: heavy-ball SGD, or Adam (Kingma & Ba 2015) as
        ``torch.optim.Adam`` computes it, step for step.
    betas : (float, float)
        Adam's (β₁, β₂), each in [0, 1).
    eps : float
        Adam's ε > 0, added to √v̂.
    lr_schedule : {"constant", "cosine", "step"}
        The learning rate of each epoch (:mod:`swarmreg.schedules`): constant
        η₀; cosine annealing from η₀ towards ``lr_min`` over the epochs
        (``CosineAnnealingLR(T_max=epochs, eta_min=lr_min)``); or η₀ times
        ``lr_gamma`` every ``lr_step_size`` epochs (``StepLR``), stepped once
        per epoch.  Every rule sees the scheduled η of its step.
    lr_min : float
        The cosine schedule's floor, in [0, η₀].
    lr_step_size : int or None
        The step schedule's period in epochs (None: a third of the epochs,
        rounded up).
    lr_gamma : float
        The step schedule's factor > 0.

    Notes
    -----
    Work accounting: each step on a minibatch of m samples counts m forward
    and m backward samples.  At the start and after every epoch the trainer
    evaluates E, D and R on all n training samples for the history; each such
    evaluation counts n forward samples (the history and the result include
    this monitoring cost, so ``forward_samples`` = epochs·n (training) +
    (epochs + 1)·n (evaluations) for a full run).
    """

    name = "backprop"

    @retired_keywords(weight_decay=(
        "the fraction d subtracted from every weight after each step is decay_fraction=d; "
        "weight_decay elsewhere (torch.optim.SGD, swarmreg.conventions.from_torch_sgd) is the coupled "
        "L2 strength λ, which here is an L2(λ) penalty on the objective with decay='coupled'"))
    def __init__(self, lr: float = 0.1, epochs: int = 100, batch_size: int | None = None,
                 momentum: float = 0.0, decay: str = "coupled", decay_fraction: float = 0.0,
                 l1: str = "subgradient", shuffle: bool = True, optimizer: str = "sgd",
                 betas: tuple = (0.9, 0.999), eps: float = 1e-8, lr_schedule: str = "constant",
                 lr_min: float = 0.0, lr_step_size: int | None = None, lr_gamma: float = 0.1):
        self.lr = checks.real("lr", lr, positive=True)
        self.epochs = checks.integer("epochs", epochs)
        self.batch_size = None if batch_size is None else checks.integer("batch_size", batch_size)
        self.momentum = checks.unit_interval("momentum", momentum)
        if decay not in DECAYS:
            raise ValueError(f"decay={decay!r} is not a decay form; valid: {', '.join(DECAYS)}")
        self.decay = decay
        self.decay_fraction = checks.real("decay_fraction", decay_fraction)
        if l1 not in L1_MODES:
            raise ValueError(f"l1={l1!r} is not an L1 mode; valid: {', '.join(L1_MODES)}")
        self.l1 = l1
        if not isinstance(shuffle, (bool, np.bool_)):
            raise ValueError(f"shuffle must be True or False, got {shuffle!r}")
        self.shuffle = bool(shuffle)
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={optimizer!r} is not an optimizer; valid: {', '.join(OPTIMIZERS)}")
        self.optimizer = optimizer
        if optimizer == "adam" and self.momentum:
            raise ValueError(f"momentum must be 0 with optimizer='adam' (its momentum is betas[0]), got {momentum!r}")
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (checks.unit_interval("betas[0]", betas[0]), checks.unit_interval("betas[1]", betas[1]))
        self.eps = checks.real("eps", eps, positive=True)
        self.lr_schedule = lr_schedule
        self.lr_min, self.lr_step_size, self.lr_gamma = check_schedule(lr_schedule, lr_min, lr_step_size,
                                                                       lr_gamma, self.lr)

    def memory_bytes(self, model, n_samples: int, dtype=np.float64, l1: bool = True) -> int:
        """An upper estimate of the peak bytes :meth:`fit` allocates.

        The larger of one step (a minibatch's inputs, every layer's output,
        the backward pass's deltas and derivative temporaries, the loss's) and
        the epoch-end evaluation on all samples (two layers at a time), plus
        the compiled epoch's buffers (one minibatch's layers, the targets as
        rows), the parameter-sized vectors (theta, its copies, the velocity, the
        gradient, the penalty terms), the shuffled order and the history
        (:func:`~swarmreg.training.history_bytes`).

        Parameters
        ----------
        model : MLP
        n_samples : int
        dtype : float64 or float32
            The objective's precision.
        l1 : bool
            Whether the penalty has an L1 part (as for the other trainers;
            its terms here are parameter-sized, and counted either way).
        """
        item = np.dtype(dtype).itemsize
        n = checks.integer("n_samples", n_samples)
        m = n if self.batch_size is None else min(self.batch_size, n)
        k, d = model.n_outputs, model.n_inputs
        hidden = max(model.sizes[1:-1], default=0)  # the widths the backward pass multiplies through
        inputs = d if m < n else 0                    # a minibatch copies its rows of X
        step = m * (inputs + sum(model.sizes[1:]) + 3 * hidden + 6 * k) * item + 8 * m
        if item != 8:  # float32 layers meet the float64 gradient: matmul casts its operands
            step += 2 * m * max(model.sizes) * 8
        evaluation = evaluation_memory(model, n, dtype)
        # the compiled epoch's buffers (numba backend), alive through the epoch-end evaluation: every layer's
        # input and the logits of one minibatch, two deltas, the gradient and θ in the dtype, the targets as rows
        runner = (m * (sum(model.sizes[:-1]) + k + 2 * max(model.sizes[1:])) + 2 * model.n_params + n * k) * item
        vectors = (11 if self.optimizer == "adam" else 8) * model.n_params * 8
        rates = 8 * self.epochs  # the schedule's rate of every epoch
        return (max(step, evaluation) + runner + vectors + 2 * 8 * n + rates
                + history_bytes(self.epochs + 2, len(GRADIENT_COLUMNS)))

    @held_threads
    def fit(self, objective, theta0=None, seed=None, callback=None) -> TrainResult:
        """Train on ``objective`` for ``epochs`` epochs.

        Parameters
        ----------
        objective : RegularizedError
            Or any :class:`~swarmreg.training.GradientObjective`: gives g_D
            (``data_value_and_grad``), the penalty (its ``l1``/``l2`` parts)
            and which parameters it applies to (``penalty_slices``).
        theta0 : ndarray, shape (n_params,), optional
            Start; default ``objective.model.init`` from a generator spawned
            from ``seed``.
        seed : None, int or numpy.random.Generator
            Seeds the initialization and the shuffling (independent streams).
        callback : callable, optional
            ``callback(info)`` after every epoch; ``info`` holds the history row
            (see ``TrainResult.history``) and "theta" (a copy).  Raising
            StopIteration stops training with status "stopped".

        Returns
        -------
        TrainResult
            trainer "backprop"; status "max_iter", "stopped", or "diverged".
            A run diverges when a minibatch loss, the epoch-end loss or the
            parameters become non-finite, and then ``theta`` is the parameter
            vector before that step (the last one with a finite loss); or when
            the epoch-end E exceeds ``DIVERGENCE_RATIO``·max(E0,
            ``DIVERGENCE_FLOOR``), E0 the value at the start, and then
            ``theta`` is the last epoch-end vector (or the start) whose E
            passed that check.  Either way ``theta`` is the last one known to
            be sound, and ``value`` is E there.  ``history`` has one
            row per epoch plus row 0 (the start), evaluated on all training
            data, with the columns of ``HISTORY_COLUMNS`` and
            "backward_samples"; a diverged run ends with a row for the
            restored ``theta``, numbered (like ``iterations``) by the epoch
            in which it stopped.

        Raises
        ------
        ValueError
            For a bad argument, or before anything is allocated when
            :meth:`memory_bytes` exceeds the memory this machine has available.
        """
        log = FitLog(GRADIENT_COLUMNS, callback)
        require(objective, GradientObjective)
        model = objective.model
        n = objective.n_samples
        self._check_memory(self.memory_bytes(model, n, getattr(objective, "dtype", np.float64)), model, n)
        init_rng, shuffle_rng = checks.make_rng(seed).spawn(2)
        theta = model.init(init_rng) if theta0 is None else checks.start_vector(theta0, model.n_params)

        batch = n if self.batch_size is None else min(self.batch_size, n)
        pen = objective.penalty
        rules = decay_rules.build_chain(
            momentum=self.momentum, decay=self.decay, decay_fraction=self.decay_fraction, l1_mode=self.l1,
            l1=pen.l1 if pen is not None else 0.0, l2=pen.l2 if pen is not None else 0.0,
            slices=objective.penalty_slices, n_params=objective.n_params,
            smooth=pen if isinstance(pen, WeightElimination) else None, optimizer=self.optimizer,
            betas=self.betas, eps=self.eps, lr=self.lr)
        rates = learning_rates(self.lr_schedule, self.lr, self.epochs, self.lr_min, self.lr_step_size, self.lr_gamma)
        runner = None
        if backend.resolve() == "numba" and isinstance(objective, RegularizedError) \
                and type(objective).data_value_and_grad is RegularizedError.data_value_and_grad:
            from .kernels.epoch import EpochRunner

            runner = EpochRunner(objective, rules, batch)
        w_old = theta.copy()
        sound = theta.copy()  # the last epoch-end theta whose E passed the divergence check
        work = {"forward_samples": 0, "backward_samples": 0}

        def evaluate(epoch: int) -> dict:
            """The history row at theta: E, D, R on all n samples (n forward samples)."""
            d = objective.data_loss(theta)
            r = objective.penalty_value(theta)
            work["forward_samples"] += n
            return log.row(epoch, point_row(theta, model.weight_mask, d + r, d, r), **work)

        status, epoch = "max_iter", 0
        # Overflow is how divergence shows itself; it is caught below from
        # non-finite numbers, so numpy's warnings are silenced.
        with np.errstate(over="ignore", invalid="ignore"):
            row = log.append(evaluate(0))
            limit = DIVERGENCE_RATIO * max(row["value"], DIVERGENCE_FLOOR)
            order = np.arange(n)
            for epoch in range(1, self.epochs + 1):
                lr = rates[epoch - 1]
                if self.shuffle and batch < n:
                    order = shuffle_rng.permutation(n)
                finite = True
                if runner is not None:  # the whole epoch in one compiled call
                    finite, done = runner(theta, w_old, order, lr)
                    work["forward_samples"] += done
                    work["backward_samples"] += done
                for lo in range(0, n, batch) if runner is None else ():
                    rows = None if batch == n else order[lo:lo + batch]
                    d, g = objective.data_value_and_grad(theta, rows)
                    if not math.isfinite(d):
                        finite = False
                        break
                    m = n if rows is None else len(rows)
                    work["forward_samples"] += m
                    work["backward_samples"] += m
                    np.copyto(w_old, theta)
                    decay_rules.apply_chain(rules, theta, g, w_old, lr)
                    if not np.isfinite(theta).all():
                        finite = False
                        break
                if finite:
                    row = evaluate(epoch)
                    finite = math.isfinite(row["value"])
                if not finite:
                    # w_old is the theta of the last step whose loss was finite
                    np.copyto(theta, w_old)
                    row = evaluate(epoch)
                    status = "diverged"
                elif row["value"] > limit:
                    # finite but exploding: back to the last epoch end that was sound
                    np.copyto(theta, sound)
                    row = evaluate(epoch)
                    status = "diverged"
                else:
                    np.copyto(sound, theta)
                log.append(row)
                if status == "diverged":
                    break
                if log.halt(row, theta):
                    status = "stopped"
                    break

        return log.result(self, theta, row["value"], row["data_loss"], row["penalty"], epoch,
                          work["forward_samples"], work["backward_samples"], status)

