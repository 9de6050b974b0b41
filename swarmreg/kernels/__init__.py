"""Compiled kernels (the ``fast`` extra, numba): the same computations as the numpy code, fused.

numpy stays the reference: every kernel here has a numpy twin elsewhere in
swarmreg that it must agree with (to 1e-12 relative in float64; float32 to
its precision), and the numpy code runs whenever numba is not installed or
the backend is set to "numpy".  :mod:`swarmreg.backend` chooses.
"""


def warm() -> None:
    """Compile every kernel a fit uses, in this process, for float64 and float32 (numba then
    caches them on disk, so other processes — a sweep's workers — load them instead of
    compiling them at the same time).  A few seconds the first time on a machine, well
    under one afterwards."""
    import numpy as np

    from .. import backend
    from ..backprop import BackpropTrainer
    from ..model import MLP
    from ..objective import RegularizedError
    from ..penalties import L2
    from ..swarm import SwarmTrainer

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 2, 20)
    with backend.use("numba"):
        for dtype in (np.float64, np.float32):
            objective = RegularizedError(MLP((3, 4, 2), output="softmax"), X, y, penalty=L2(0.01), dtype=dtype)
            SwarmTrainer(particles=4, iterations=2).fit(objective, seed=0)
            BackpropTrainer(epochs=1, batch_size=8).fit(objective, seed=0)
