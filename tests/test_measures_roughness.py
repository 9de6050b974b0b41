"""measures.roughness against closed forms of ∫ f''(x)² dx, and its refusals."""

import math

import numpy as np
import pytest

from swarmreg.measures import roughness


@pytest.mark.parametrize("a, length", [(1.0, 1.0), (-3.0, 2.5), (0.5, 10.0)])
def test_a_parabola_gives_4a2L_on_any_grid(a, length):
    # f = a·x² has f'' = 2a everywhere: ∫₀ᴸ (2a)² dx = 4a²L, exact for three-point differences
    even = np.linspace(0.0, length, 7)
    uneven = np.sort(np.random.default_rng(0).uniform(0.0, length, 40))
    uneven[[0, -1]] = 0.0, length
    for x in (even, uneven, np.array([0.0, length / 3, length])):
        assert roughness(x, a * x**2 + 2 * x - 1) == pytest.approx(4 * a * a * length, rel=1e-9)


def test_a_straight_line_has_none():
    x = np.sort(np.random.default_rng(1).uniform(-5, 5, 30))
    assert roughness(x, 3.0 * x - 2.0) == pytest.approx(0.0, abs=1e-18)
    assert roughness([0, 1, 2], [4, 4, 4]) == 0.0


@pytest.mark.parametrize("k", [1, 2, 3])
def test_a_sine_gives_k4_pi_over_a_period(k):
    # f = sin(kx) on [0, 2π]: f'' = −k² sin(kx), ∫ k⁴ sin²(kx) dx = k⁴π
    x = np.linspace(0.0, 2 * np.pi, 4001)
    assert roughness(x, np.sin(k * x)) == pytest.approx(k**4 * math.pi, rel=1e-4)


def test_the_error_shrinks_with_the_square_of_the_spacing():
    exact = math.pi  # sin(x) on [0, 2π]
    errors = [abs(roughness(x, np.sin(x)) - exact) for x in (np.linspace(0, 2 * np.pi, n) for n in (101, 201))]
    assert errors[1] < errors[0] / 3


def test_it_is_in_units_of_y2_per_x3():
    x = np.linspace(0.0, 1.0, 50)
    y = np.sin(3 * x)
    assert roughness(2 * x, y) == pytest.approx(roughness(x, y) / 8, rel=1e-12)
    assert roughness(x, 5 * y) == pytest.approx(25 * roughness(x, y), rel=1e-12)
    assert isinstance(roughness(x, y), float)


@pytest.mark.parametrize("x, y, name, words", [
    ([0.0, 1.0], [0.0, 1.0], "x", "at least 3"),
    ([[0.0, 1.0, 2.0]], [[0.0, 1.0, 2.0]], "x", "one-dimensional"),
    ([0.0, 1.0, 2.0], [0.0, 1.0], "y", "at least 3"),
    ([0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0], "y", "shape"),
    ([0.0, 2.0, 1.0], [0.0, 1.0, 2.0], "x", "strictly increasing"),
    ([0.0, 1.0, 1.0], [0.0, 1.0, 2.0], "x", "strictly increasing"),
    ([0.0, 1.0, np.inf], [0.0, 1.0, 2.0], "x", "NaN/inf"),
    ([0.0, 1.0, 2.0], [0.0, np.nan, 2.0], "y", "NaN/inf"),
    (["a", "b", "c"], [0.0, 1.0, 2.0], "x", "numbers"),
])
def test_bad_input_is_refused_naming_the_argument(x, y, name, words):
    with pytest.raises(ValueError, match=rf"^{name} .*{words}"):
        roughness(x, y)
