"""Surrogate spike functions: a Heaviside step forward, a smooth derivative backward.

A spike is ``z = H(u)`` with ``u`` the voltage minus the threshold and ``H(u) = 1 if u > 0
else 0`` (strict, as SEMANTICS.md). ``H`` has derivative zero almost everywhere, so
surrogate-gradient training replaces ``dH/du`` by a smooth bump ``S'(u)`` in the backward pass
only. The bumps are those of the learning schema (:data:`nirbridge.learning.SURROGATES`):

- ``fast_sigmoid``:     ``S'(u) = 1 / (slope * |u| + 1)**2``      (Zenke & Ganguli 2018)
- ``atan``:             ``S'(u) = (alpha / 2) / (1 + (pi * alpha * u / 2)**2)``  (snnTorch)
- ``piecewise_linear``: ``S'(u) = height * max(0, 1 - |u| / width)``   (Bellec et al. 2018)
- ``exponential``:      ``S'(u) = height * exp(-beta * |u|)``       (Shrestha & Orchard 2018)

Each is held as a :class:`SurrogateFunction`: a code and two numbers, which is what the
TorchScript kernels take (:func:`surrogate_derivative` is scriptable). ``spike(u)`` applies the
step with the surrogate derivative through autograd, for code outside the fused kernels.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from .._errors import LearningRuleError

#: Surrogate name -> (code used inside the kernels, names of its two parameters).
FUNCTIONS: dict[str, tuple[int, tuple[str, ...]]] = {
    "fast_sigmoid": (0, ("slope",)),
    "atan": (1, ("alpha",)),
    "piecewise_linear": (2, ("height", "width")),
    "exponential": (3, ("height", "beta")),
}


def surrogate_derivative(u: torch.Tensor, code: int, p1: float, p2: float) -> torch.Tensor:
    """``S'(u)`` of surrogate ``code`` (see :data:`FUNCTIONS`) with parameters ``p1``, ``p2``.

    Written for TorchScript as well as eager mode: the fused kernels call it on whole blocks of
    stored ``u = v' - threshold``.
    """
    if code == 0:  # fast_sigmoid, p1 = slope
        return torch.reciprocal(torch.square(torch.abs(u) * p1 + 1.0))
    if code == 1:  # atan, p1 = alpha
        return torch.reciprocal(torch.square(u * (math.pi * p1 / 2.0)) + 1.0) * (p1 / 2.0)
    if code == 2:  # piecewise_linear, p1 = height, p2 = width
        return torch.clamp(1.0 - torch.abs(u) / p2, min=0.0) * p1
    if code == 3:  # exponential, p1 = height, p2 = beta
        return torch.exp(torch.abs(u) * -p2) * p1
    raise ValueError("unknown surrogate code")


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, u: torch.Tensor, code: int, p1: float, p2: float) -> torch.Tensor:
        ctx.save_for_backward(u)
        ctx.surrogate = (code, p1, p2)
        return (u > 0).to(u.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (u,) = ctx.saved_tensors
        return grad * surrogate_derivative(u, *ctx.surrogate), None, None, None


@dataclasses.dataclass(frozen=True)
class SurrogateFunction:
    """One surrogate: its schema name and parameters.

    Attributes:
        function: One of :data:`FUNCTIONS`.
        p1: First parameter (``slope``, ``alpha`` or ``height``).
        p2: Second parameter (``width`` or ``beta``; unused by one-parameter functions).
    """

    function: str
    p1: float
    p2: float = 0.0

    def __post_init__(self) -> None:
        if self.function not in FUNCTIONS:
            raise LearningRuleError(
                "unknown surrogate function",
                field="surrogate.function",
                expected=f"one of {sorted(FUNCTIONS)}",
                got=repr(self.function),
            )
        names = FUNCTIONS[self.function][1]
        for name, value in zip(names, (self.p1, self.p2), strict=False):
            if not (math.isfinite(value) and value > 0):
                raise LearningRuleError(
                    f"{self.function} needs a positive {name}",
                    field=f"surrogate.{name}",
                    expected="a positive finite number",
                    got=repr(value),
                )

    @classmethod
    def fast_sigmoid(cls, slope: float) -> SurrogateFunction:
        return cls("fast_sigmoid", float(slope))

    @classmethod
    def atan(cls, alpha: float) -> SurrogateFunction:
        return cls("atan", float(alpha))

    @classmethod
    def piecewise_linear(cls, height: float, width: float) -> SurrogateFunction:
        return cls("piecewise_linear", float(height), float(width))

    @classmethod
    def exponential(cls, height: float, beta: float) -> SurrogateFunction:
        return cls("exponential", float(height), float(beta))

    @property
    def code(self) -> int:
        return FUNCTIONS[self.function][0]

    @property
    def params(self) -> dict[str, float]:
        """The schema's parameter names and values, e.g. ``{"slope": 25.0}``."""
        names = FUNCTIONS[self.function][1]
        return dict(zip(names, (self.p1, self.p2), strict=False))

    def derivative(self, u: torch.Tensor) -> torch.Tensor:
        """``S'(u)``, elementwise."""
        return surrogate_derivative(u, self.code, self.p1, self.p2)

    def spike(self, u: torch.Tensor) -> torch.Tensor:
        """``H(u)`` (1 where ``u > 0``) whose backward multiplies by ``S'(u)``."""
        return _Spike.apply(u, self.code, self.p1, self.p2)


def surrogate_from_rule(surrogate: Any) -> SurrogateFunction:
    """The :class:`SurrogateFunction` of a schema :class:`nirbridge.learning.Surrogate`."""
    if isinstance(surrogate, SurrogateFunction):
        return surrogate
    function = getattr(surrogate, "function", None)
    if function not in FUNCTIONS:
        raise LearningRuleError(
            "not a surrogate the kernels know",
            field="surrogate.function",
            expected=f"one of {sorted(FUNCTIONS)}",
            got=repr(function),
        )
    values = []
    for name in FUNCTIONS[function][1]:
        value = getattr(surrogate, name, None)
        if value is None:
            raise LearningRuleError(
                f"{function} needs {name}",
                field=f"surrogate.{name}",
                expected="a positive number",
                got="nothing",
            )
        values.append(float(value))
    return SurrogateFunction(function, *values)


__all__ = ["FUNCTIONS", "SurrogateFunction", "surrogate_derivative", "surrogate_from_rule"]
