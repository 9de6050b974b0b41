"""Compiled kernels (the ``fast`` extra, numba): the same computations as the numpy code, fused.

numpy stays the reference: every kernel here has a numpy twin elsewhere in
swarmreg that it must agree with (to 1e-12 relative in float64; float32 to
its precision), and the numpy code runs whenever numba is not installed or
the backend is set to "numpy".  :mod:`swarmreg.backend` chooses.
"""
