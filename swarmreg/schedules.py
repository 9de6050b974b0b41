"""Learning-rate schedules: the learning rate η_e of every epoch e = 0 … E − 1.

A schedule is stepped once per epoch, as PyTorch's ``lr_scheduler`` is when
``scheduler.step()`` follows each epoch: every step of epoch e uses η_e.

==============  ===================================================  ======================================
name            η_e                                                  PyTorch
==============  ===================================================  ======================================
"constant"      η                                                    no scheduler
"cosine"        η_min + (η − η_min)·(1 + cos(π·e/E))/2               ``CosineAnnealingLR(T_max=E,
                                                                     eta_min=η_min)``
"step"          η·γ^⌊e/s⌋                                            ``StepLR(step_size=s, gamma=γ)``
==============  ===================================================  ======================================

What a schedule does to λ (see :mod:`swarmreg.conventions`): coupled L2 keeps
its λ at every η_e; decoupled decay (η_e·λ₂ per step) and the decay fraction
(d·η_e/η per step) follow the schedule as PyTorch's AdamW decay lr_e·wd does.
"""

from __future__ import annotations

import math

import numpy as np

from . import checks

__all__ = ["SCHEDULES", "learning_rates", "check_schedule"]

SCHEDULES = ("constant", "cosine", "step")


def check_schedule(name: str, lr_min: float, lr_step_size, lr_gamma: float, lr: float):
    """Check a schedule's settings; returns (lr_min, lr_step_size, lr_gamma) as numbers.

    Raises
    ------
    ValueError
        Naming the setting at fault.
    """
    if name not in SCHEDULES:
        raise ValueError(f"lr_schedule={name!r} is not a schedule; valid: {', '.join(SCHEDULES)}")
    lr_min = checks.real("lr_min", lr_min)
    if lr_min > lr:
        raise ValueError(f"lr_min must be at most lr ({lr!r}), got {lr_min!r}")
    if lr_step_size is not None:
        lr_step_size = checks.integer("lr_step_size", lr_step_size)
    lr_gamma = checks.real("lr_gamma", lr_gamma, positive=True)
    return lr_min, lr_step_size, lr_gamma


def learning_rates(name: str, lr: float, epochs: int, lr_min: float = 0.0, lr_step_size: int | None = None,
                   lr_gamma: float = 0.1) -> np.ndarray:
    """η_e for e = 0 … epochs − 1.

    Parameters
    ----------
    name : {"constant", "cosine", "step"}
    lr : float
        η > 0, the rate of epoch 0.
    epochs : int
        E >= 1: "cosine" anneals over all of them (η_min is reached at e = E,
        one past the last epoch, as ``CosineAnnealingLR(T_max=E)``).
    lr_min : float
        η_min of "cosine", in [0, η].
    lr_step_size : int or None
        s of "step": the rate drops every s epochs; None = ⌈E/3⌉ (two drops
        over a run of at least three epochs).
    lr_gamma : float
        γ > 0 of "step".

    Returns
    -------
    ndarray of float64, shape (epochs,)
        With "constant", every entry is ``lr`` itself.
    """
    lr = checks.real("lr", lr, positive=True)
    epochs = checks.integer("epochs", epochs)
    lr_min, lr_step_size, lr_gamma = check_schedule(name, lr_min, lr_step_size, lr_gamma, lr)
    e = np.arange(epochs, dtype=float)
    if name == "constant":
        return np.full(epochs, lr)
    if name == "cosine":
        return lr_min + (lr - lr_min) * (1.0 + np.cos(math.pi * e / epochs)) / 2.0
    step = lr_step_size if lr_step_size is not None else -(-epochs // 3)
    return lr * lr_gamma ** np.floor(e / step)
