"""Surrogate functions: each derivative against a closed-form antiderivative written here
(autograd and central finite differences of it), the forward step against a strict ``>``, the
conversion from the schema's Surrogate, and snnTorch's own surrogates where they are the same
function."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nirbridge._errors import LearningRuleError
from nirbridge.learning import Surrogate
from tests.conftest import require

torch = require("torch")

from nirbridge.training.surrogates import (  # noqa: E402
    FUNCTIONS,
    SurrogateFunction,
    surrogate_from_rule,
)

# one instance of each, with parameters away from 1 so that a misplaced parameter shows
CASES = {
    "fast_sigmoid": SurrogateFunction.fast_sigmoid(7.0),
    "atan": SurrogateFunction.atan(3.0),
    "piecewise_linear": SurrogateFunction.piecewise_linear(0.8, 0.6),
    "exponential": SurrogateFunction.exponential(1.7, 2.5),
}


def antiderivative(fn: SurrogateFunction, u):
    """A smooth S with S' the schema's surrogate derivative, from its formula in
    nirbridge.learning.Surrogate's docstring (integrated by hand)."""
    if fn.function == "fast_sigmoid":  # d/du u / (1 + k|u|) = 1 / (1 + k|u|)^2
        return u / (1 + fn.p1 * u.abs())
    if fn.function == "atan":  # d/du atan(pi a u / 2) / pi = (a/2) / (1 + (pi a u/2)^2)
        return torch.atan(math.pi * fn.p1 * u / 2) / math.pi
    if fn.function == "piecewise_linear":  # h * sign(u) * (m - m^2 / (2w)), m = min(|u|, w)
        m = torch.clamp(u.abs(), max=fn.p2)
        return fn.p1 * torch.sign(u) * (m - m**2 / (2 * fn.p2))
    # exponential: d/du sign(u) * (h/b) * (1 - exp(-b|u|)) = h * exp(-b|u|)
    return torch.sign(u) * fn.p1 / fn.p2 * (1 - torch.exp(-fn.p2 * u.abs()))


def _points(fn: SurrogateFunction):
    """Points on both sides of 0, away from the kinks (0, and +-width)."""
    u = torch.linspace(-2.0, 2.0, 401, dtype=torch.float64)
    keep = u.abs() > 1e-3
    if fn.function == "piecewise_linear":
        keep &= (u.abs() - fn.p2).abs() > 1e-3
    return u[keep]


def test_every_schema_surrogate_is_covered():
    from nirbridge.learning import SURROGATES

    assert set(FUNCTIONS) == set(SURROGATES) == set(CASES)
    for name, (_, params) in FUNCTIONS.items():
        assert params == SURROGATES[name][0]


@pytest.mark.parametrize("name", sorted(CASES))
def test_derivative_is_autograd_of_the_antiderivative(name):
    fn = CASES[name]
    u = _points(fn).requires_grad_()
    (expected,) = torch.autograd.grad(antiderivative(fn, u).sum(), u)
    np.testing.assert_allclose(fn.derivative(u.detach()), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(CASES))
def test_derivative_matches_finite_differences(name):
    fn = CASES[name]
    u = _points(fn)
    h = 1e-6
    fd = (antiderivative(fn, u + h) - antiderivative(fn, u - h)) / (2 * h)
    np.testing.assert_allclose(fn.derivative(u), fd, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", sorted(CASES))
def test_spike_is_a_strict_step_with_the_surrogate_backward(name):
    fn = CASES[name]
    u = torch.tensor([-1.0, -1e-12, 0.0, 1e-12, 0.5], dtype=torch.float64, requires_grad=True)
    z = fn.spike(u)
    assert z.dtype == u.dtype
    assert z.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]
    g = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64)
    (grad,) = torch.autograd.grad(z, u, g)
    np.testing.assert_allclose(grad, g * fn.derivative(u.detach()), rtol=0, atol=0)


def test_peak_values_are_the_schema_heights():
    zero = torch.zeros(1, dtype=torch.float64)
    assert CASES["fast_sigmoid"].derivative(zero).item() == 1.0
    assert CASES["atan"].derivative(zero).item() == pytest.approx(3.0 / 2)
    assert CASES["piecewise_linear"].derivative(zero).item() == pytest.approx(0.8)
    assert CASES["exponential"].derivative(zero).item() == pytest.approx(1.7)
    outside = torch.tensor([0.61, -5.0], dtype=torch.float64)
    assert CASES["piecewise_linear"].derivative(outside).tolist() == [0.0, 0.0]


def test_fast_sigmoid_equals_snntorch():
    surrogate = require("snntorch").surrogate
    u = _points(CASES["fast_sigmoid"]).requires_grad_()
    (theirs,) = torch.autograd.grad(surrogate.fast_sigmoid(slope=7.0)(u).sum(), u)
    np.testing.assert_allclose(CASES["fast_sigmoid"].derivative(u.detach()), theirs, rtol=1e-12)


def test_atan_equals_snntorch():
    """The schema's atan is snnTorch's (and SpikingJelly's): (alpha/2) / (1 + (pi*alpha*u/2)^2),
    no 1/pi (snnTorch's docstring shows one; its backward, compared here, has none)."""
    surrogate = require("snntorch").surrogate
    u = _points(CASES["atan"]).requires_grad_()
    (theirs,) = torch.autograd.grad(surrogate.atan(alpha=3.0)(u).sum(), u)
    np.testing.assert_allclose(CASES["atan"].derivative(u.detach()), theirs, rtol=1e-12)


def test_from_rule():
    rule = Surrogate(function="piecewise_linear", height=0.3, width=0.5)
    fn = surrogate_from_rule(rule)
    assert fn == SurrogateFunction.piecewise_linear(0.3, 0.5)
    assert fn.params == {"height": 0.3, "width": 0.5}
    assert surrogate_from_rule(fn) is fn
    assert surrogate_from_rule(Surrogate(function="atan", alpha=2.0)).code == FUNCTIONS["atan"][0]


def test_bad_surrogates_name_the_field():
    with pytest.raises(LearningRuleError, match="surrogate.slope"):
        SurrogateFunction("fast_sigmoid", -1.0)
    with pytest.raises(LearningRuleError, match="surrogate.function"):
        SurrogateFunction("relu", 1.0)
    with pytest.raises(LearningRuleError, match="surrogate.function"):
        surrogate_from_rule(object())
