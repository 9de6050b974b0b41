"""Elementary functions that LLVM can vectorize, for the compiled kernels.

numba calls the C library for ``math.exp``, ``math.tanh`` and ``math.log``:
one value at a time, which stops a loop from being vectorized.  These are
written from arithmetic, comparisons and bit casts only, so a loop over an
array of them becomes SIMD code.  Each has a float64 and a float32 version,
chosen when a kernel is compiled for its dtype (:func:`exp_`, :func:`tanh_`,
… dispatch on the argument's type).

Accuracy, measured against numpy over 10⁶ values from −745 to 709.43 (exp),
10⁻³⁰⁰ to 10³⁰⁰ (log) and ±20 (tanh): at most 4 ulp in float64 and in
float32, but for tanh: at most 5 ulp (float32: measured over every float32)
(``tests/test_kernels.py`` checks a sample).  These figures are for the
kernels as compiled on a CPU with fused multiply-add, which numba uses where
the CPU has it; without (``NUMBA_CPU_NAME=generic``) float32 tanh reaches 6.

* exp, expm1: t = k·ln 2 + r with |r| ≤ ln 2 / 2 (Cody & Waite's two-part
  ln 2), expm1(r) = r + r²·g(r) with g a Chebyshev fit of degree 9 in
  float64, 4 in float32 (within 1.5 ulp on that interval); expm1(t) =
  2ᵏ·expm1(r) + (2ᵏ − 1) keeps small results exact.  k comes from one
  addition: y = t/ln 2 + 1.5·2⁵² + 1023 (float32: 1.5·2²³ + 127) lies where
  floats are whole numbers, so the addition rounds t/ln 2 to the nearest
  integer k, y minus the constant is k, and y's low bits, k plus the
  exponent bias, shifted into the exponent field are 2ᵏ: three operations
  where floor, a bias, a scaling and a conversion would take five (where
  t/ln 2 lies within a rounding of a half-integer, either neighbouring k
  serves: |r| exceeds ln 2 / 2 by at most that rounding).  Results are
  kept normal: below e^−708.3 (float32: e^−87.3) exp gives the smallest
  normal number instead of a subnormal or 0, an absolute error below
  10⁻³⁰⁷ (10⁻³⁷) that no loss here can see; above 709.43 (float32: 88.37),
  where 2ᵏ would overflow, exp and expm1 give their value there (the
  kernels call them on arguments ≤ 0 only).
* tanh(x) = −expm1(−2|x|) / (2 + expm1(−2|x|)), with the sign of x, in
  float64: no cancellation at any x; |x| is capped at 20, beyond which tanh
  rounds to ±1.  There e^r is exp's Padé approximant of order [6/6] (within
  1.9e−19 on the interval) instead of the degree-9 polynomial: its numerator
  and denominator fold into tanh's one division.  It is computed in
  ρ = −r/2 (u = |x|, ρ = u + k·ln 2/2), with Padé's coefficients scaled
  by powers of 4 and A = expm1(−2u)·D negated, so that for the same k
  every rounding is the plain form's, bit for bit, without its scaling by
  −2 and its negation: 21 vector operations (the plain form takes 25; the
  float64 swarm evaluation on iris runs in 0.92 of its time), at most 5 ulp
  (measured over 1.2·10⁷ values).  In float32, x·P(x²)/Q(x²) with P of
  degree 6 and Q of degree 3, fitted on |x| ≤ 9 and used with |x| capped at
  8.125 (so that it never exceeds 1, with or without fused multiply-add;
  beyond, it is within 2 ulp of ±1): 14 operations instead of 22 (the
  float32 swarm evaluation on iris ran in 0.82–0.86 of its time); its
  rounding errors, not the fit's (0.37 ulp with its float32 coefficients),
  make the 5 ulp.  Neither form is monotone at float resolution: a float's
  successor can map a few ulp lower.
* log(x) = e·ln 2 + 2·atanh(s), s = (m − 1)/(m + 1), x = m·2ᵉ with
  m ∈ [√½, √2), by the odd series of atanh (|s| ≤ 0.172).
* sigmoid(x) = 1/(1 + e^{−|x|}), or e^{−|x|}/(1 + e^{−|x|}) for x < 0.
* log1p_exp_neg(a) = log(1 + e^{−a}) for a ≥ 0 (the softplus of the binary
  cross-entropy), by Goldberg's log1p(u) = log(1 + u)·u/((1 + u) − 1).

Inputs must be finite and not huge: the clamps that keep the bit tricks in
range (and let the loops vectorize) give meaningless results for NaN and
±inf (some finite, some NaN).  The kernels never pass them such inputs (see
:mod:`swarmreg.kernels.forward`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload


__all__ = ["exp_", "expm1_", "tanh_", "log_", "sigmoid_", "log1p_exp_neg_", "JIT", "SUMS"]

#: The options of every kernel: FMA contraction allowed, no Python division checks (a division by
#: zero gives inf as in numpy instead of raising, which also lets loops vectorize), cached on disk.
JIT = dict(fastmath={"contract"}, error_model="numpy", cache=True, nogil=True)
#: For sums only (never for the functions here, whose argument reduction needs its order): the
#: terms may be added in any order, so that a sum over an array vectorizes.
SUMS = dict(JIT, fastmath={"contract", "reassoc"})


# ------------------------------------------------------------------ bit casts
def _bitcast(src, dst):
    @intrinsic
    def cast(typingctx, x):
        sig = dst(src)

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(dst))
        return sig, codegen
    return cast


i64_as_f64 = _bitcast(types.int64, types.float64)
f64_as_i64 = _bitcast(types.float64, types.int64)
i32_as_f32 = _bitcast(types.int32, types.float32)
f32_as_i32 = _bitcast(types.float32, types.int32)

# ------------------------------------------------------------------ constants
INV_LN2 = 1.4426950408889634
LN2 = 0.6931471805599453
LN2_HI = 6.93147180369123816490e-01   # ln 2 split in two (Cody & Waite): k·LN2_HI is exact for |k| < 2¹¹
LN2_LO = 1.90821492927058770002e-10
ROUND64 = 6755399441055744.0 + 1023.0   # 1.5·2⁵²: adding it rounds to an integer, and + 1023 the exponent bias
F32 = np.float32
INV_LN2_32 = F32(1.4426950408889634)
LN2_32 = F32(0.6931471805599453)
LN2_HI_32 = F32(0.693145751953125)     # 0x3f317200: k·LN2_HI_32 is exact for |k| < 2⁸
LN2_LO_32 = F32(1.428606765330187e-06)
ROUND32 = F32(12582912.0 + 127.0)      # 1.5·2²³ + the float32 exponent bias
ONE32, TWO32, HALF32, ZERO32 = F32(1.0), F32(2.0), F32(0.5), F32(0.0)
# expm1(r) = r + r²·g(r) on |r| ≤ ln 2 / 2, g(r) = (expm1(r) − r)/r² by a polynomial of degree 9
# (float64) or 4 (float32), highest power first: Chebyshev fits of g on that interval (computed
# with mpmath.chebyfit at 50 digits, then rounded), within 1.3 ulp (float64) and 1.5 ulp
# (float32) of expm1 there.
G64 = (2.510037583265786e-08, 2.7620075880109014e-07, 2.755726848030982e-06, 2.4801521322368428e-05,
       0.00019841269863040545, 0.0013888888917196719, 0.008333333333330065, 0.041666666666624164,
       0.16666666666666669, 0.5000000000000001)
G32 = tuple(F32(c) for c in (0.0013926175888627768, 0.008363173343241215, 0.041666556149721146,
                             0.16666577756404877, 0.5))
# float32 tanh(x) = x·P(x²)/Q(x²) on |x| ≤ 9, highest power first, Q(0) = 1: fitted to the relative
# error of tanh(x)/x by least squares reweighted toward the minimax (Lawson) at 40,000 points in
# float64, then rounded; before rounding, within 6.7e-9 relative (0.11 ulp).
TP32 = tuple(F32(c) for c in (-8.488606e-14, 5.2779177e-11, -2.0225169e-08, 1.1154293e-05, 0.0031039545, 0.13084008,
                              1.0))
TQ32 = tuple(F32(c) for c in (0.00025461428, 0.024495171, 0.46417335, 1.0))
# |x| is capped below where the rounded fit would exceed 1: from 8.2628 on with fused multiply-add,
# 8.1403 without; so |tanh| ≤ 1
TANH_CAP32 = F32(8.125)
# float64 tanh: e^r = P(r)/P(−r), P the numerator of exp's Padé approximant of order [6/6],
# P(r) = Σ_k (12 − k)!·6!/(12!·k!·(6 − k)!)·r^k = E(r²) + r·O(r²), within a relative
# 1.9e−19 of e^r on |r| ≤ ln 2 / 2 (checked at 50 digits).  PE64 = E's coefficients and
# PO64 = 2·O's, highest power first.
PE64 = (1.0 / 665280.0, 1.0 / 792.0, 5.0 / 44.0, 1.0)
PO64 = (2.0 / 15840.0, 2.0 / 66.0, 1.0)
PE64R = tuple(c * 4.0 ** (3 - i) for i, c in enumerate(PE64))   # E(4z) and 2·O(4z)·2: the same in ρ = −r/2
PO64R = tuple(c * 2.0 * 4.0 ** (2 - i) for i, c in enumerate(PO64))
A64 = tuple(1.0 / n for n in range(1, 22, 2))                    # atanh(s) = s·(1 + s²/3 + s⁴/5 + …)
A32 = tuple(F32(1.0 / n) for n in range(1, 10, 2))


# ------------------------------------------------------------------ float64
@njit(inline="always", **JIT)
def _expm1_parts64(t):
    """(q, s) with expm1(t) = s·q + (s − 1), s = 2ᵏ; t in [−708.3, 709.43] (normal results; above, 2ᵏ would overflow)."""
    y = t * INV_LN2 + ROUND64          # k + 1023 in its low bits (module docstring)
    k = y - ROUND64
    r = (t - k * LN2_HI) - k * LN2_LO
    g = G64[0]
    g = g * r + G64[1]
    g = g * r + G64[2]
    g = g * r + G64[3]
    g = g * r + G64[4]
    g = g * r + G64[5]
    g = g * r + G64[6]
    g = g * r + G64[7]
    g = g * r + G64[8]
    g = g * r + G64[9]
    s = i64_as_f64(f64_as_i64(y) << 52)    # 2ᵏ: k + 1023 moved into the exponent field
    return r + (r * r) * g, s


@njit(inline="always", **JIT)
def _exp64(t):
    t = min(max(t, -708.3), 709.43)   # below, the result is the smallest normal instead of 0 to 1e-308
    q, s = _expm1_parts64(t)
    return s * q + s


@njit(inline="always", **JIT)
def _expm1_64(t):
    t = min(max(t, -708.3), 709.43)
    q, s = _expm1_parts64(t)
    return s * q + (s - 1.0)


@njit(inline="always", **JIT)
def _tanh64(x):
    # t = −2u, u = |x| = k·ln 2 + r; e^r = (E + N/2)/(E − N/2) (Padé [6/6], module docstring) and
    # tanh = −expm1(t)/(2 + expm1(t)) = −A/(A + 2D), A = expm1(t)·D: Padé's division is tanh's.
    # Computed in ρ = −r/2 (the coefficients scaled by powers of 4, so every rounding is the
    # same) and with −A, which saves tanh two operations: the scaling by −2 and the negation.
    u = min(abs(x), 20.0)
    y = u * (-2.0 * INV_LN2) + ROUND64
    k = y - ROUND64
    rho = (u + k * (0.5 * LN2_HI)) + k * (0.5 * LN2_LO)
    z = rho * rho
    e = PE64R[0]
    e = e * z + PE64R[1]
    e = e * z + PE64R[2]
    e = e * z + PE64R[3]
    o = PO64R[0]
    o = o * z + PO64R[1]
    o = o * z + PO64R[2]
    n = rho * o                       # −N
    d = e + 0.5 * n
    s = i64_as_f64(f64_as_i64(y) << 52)   # 2ᵏ, as in _expm1_parts64
    a = s * n + (1.0 - s) * d         # −A
    return math.copysign(a / (2.0 * d - a), x)


@njit(inline="always", **JIT)
def _log64(x):
    """log(x) for a finite x > 0 (subnormals included)."""
    # (branch-free: selects by arithmetic on 0/1, so that numba inlines it cleanly and loops vectorize)
    scale = np.float64(x < 2.2250738585072014e-308)
    x = x * (1.0 + scale * 18014398509481983.0)              # ×2⁵⁴: a subnormal becomes normal
    bits = f64_as_i64(x)
    e = np.float64(((bits >> 52) & 0x7FF) - 1023) - 54.0 * scale
    m = i64_as_f64((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)   # in [1, 2)
    big = np.float64(m > 1.4142135623730951)
    m = m * (1.0 - 0.5 * big)
    e = e + big
    s = (m - 1.0) / (m + 1.0)
    z = s * s
    p = A64[10]
    p = p * z + A64[9]
    p = p * z + A64[8]
    p = p * z + A64[7]
    p = p * z + A64[6]
    p = p * z + A64[5]
    p = p * z + A64[4]
    p = p * z + A64[3]
    p = p * z + A64[2]
    p = p * z + A64[1]
    p = p * z + A64[0]
    return e * LN2 + 2.0 * s * p


@njit(inline="always", **JIT)
def _sigmoid64(x):
    e = _exp64(-abs(x))
    s = 1.0 / (1.0 + e)
    return s * max(e, np.float64(x >= 0.0))     # s for x ≥ 0, e·s below


@njit(inline="always", **JIT)
def _log1p_exp_neg64(a):
    u = _exp64(-a)
    w = 1.0 + u
    d = w - 1.0
    zero = np.float64(d == 0.0)                 # u below half an ulp of 1: log1p(u) = u
    return _log64(w) * (u / (d + zero)) + zero * u


# ------------------------------------------------------------------ float32
@njit(inline="always", **JIT)
def _expm1_parts32(t):
    """(q, s) with expm1(t) = s·q + (s − 1), s = 2ᵏ; t in [−87.3, 88.37] (normal results; above, 2ᵏ would overflow)."""
    y = t * INV_LN2_32 + ROUND32
    k = y - ROUND32
    r = (t - k * LN2_HI_32) - k * LN2_LO_32
    g = G32[0]
    g = g * r + G32[1]
    g = g * r + G32[2]
    g = g * r + G32[3]
    g = g * r + G32[4]
    s = i32_as_f32(f32_as_i32(y) << 23)
    return r + (r * r) * g, s


@njit(inline="always", **JIT)
def _exp32(t):
    t = min(max(t, F32(-87.3)), F32(88.37))
    q, s = _expm1_parts32(t)
    return s * q + s


@njit(inline="always", **JIT)
def _expm1_32(t):
    t = min(max(t, F32(-87.3)), F32(88.37))
    q, s = _expm1_parts32(t)
    return s * q + (s - ONE32)


@njit(inline="always", **JIT)
def _tanh32(x):
    # x·P(x²)/Q(x²) (module docstring): 14 operations, where e^x's route took 22
    x = min(max(x, -TANH_CAP32), TANH_CAP32)
    t = x * x
    p = TP32[0]
    p = p * t + TP32[1]
    p = p * t + TP32[2]
    p = p * t + TP32[3]
    p = p * t + TP32[4]
    p = p * t + TP32[5]
    p = p * t + TP32[6]
    q = TQ32[0]
    q = q * t + TQ32[1]
    q = q * t + TQ32[2]
    q = q * t + TQ32[3]
    return x * p / q


@njit(inline="always", **JIT)
def _log32(x):
    scale = F32(x < F32(1.1754943508222875e-38))
    x = x * (ONE32 + scale * F32(16777215.0))               # ×2²⁴
    bits = f32_as_i32(x)
    e = F32(((bits >> 23) & 0xFF) - 127) - F32(24.0) * scale
    m = i32_as_f32(np.int32((bits & 0x007FFFFF) | 0x3F800000))
    big = F32(m > F32(1.4142135623730951))
    m = m * (ONE32 - HALF32 * big)
    e = e + big
    s = (m - ONE32) / (m + ONE32)
    z = s * s
    p = A32[4]
    p = p * z + A32[3]
    p = p * z + A32[2]
    p = p * z + A32[1]
    p = p * z + A32[0]
    return e * LN2_32 + TWO32 * s * p


@njit(inline="always", **JIT)
def _sigmoid32(x):
    e = _exp32(-abs(x))
    s = ONE32 / (ONE32 + e)
    return s * max(e, F32(x >= ZERO32))


@njit(inline="always", **JIT)
def _log1p_exp_neg32(a):
    u = _exp32(-a)
    w = ONE32 + u
    d = w - ONE32
    zero = F32(d == ZERO32)
    return _log32(w) * (u / (d + zero)) + zero * u


# ------------------------------------------------------------------ by dtype
def _generic(name, f64, f32):
    def stub(x):  # pragma: no cover - replaced by the overload when compiled
        raise NotImplementedError

    @overload(stub, inline="always", jit_options=JIT)
    def impl(x):
        if x == types.float32:
            return lambda x: f32(x)
        if isinstance(x, types.Float):
            return lambda x: f64(x)
        return None
    stub.__name__ = stub.__qualname__ = name
    return stub


exp_ = _generic("exp_", _exp64, _exp32)
expm1_ = _generic("expm1_", _expm1_64, _expm1_32)
tanh_ = _generic("tanh_", _tanh64, _tanh32)
log_ = _generic("log_", _log64, _log32)
sigmoid_ = _generic("sigmoid_", _sigmoid64, _sigmoid32)
log1p_exp_neg_ = _generic("log1p_exp_neg_", _log1p_exp_neg64, _log1p_exp_neg32)
