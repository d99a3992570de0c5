"""NEST 3.10's pseudo-derivatives of a spike with respect to the membrane voltage.

With ``d = v - v_th`` (``v_th`` the adaptive threshold for ALIF), ``height = gamma`` and
``width = 1 / beta`` (the schema's ``EPropSurrogate``; NEST 3.10's
``surrogate_gradient_height`` and ``surrogate_gradient_width``), NEST 3.10 computes
(``eprop_archiving_node_recurrent_impl.h``)::

    piecewise_linear         height * max(0, 1 - |d| / width)
    exponential              height * exp(-|d| / width)
    fast_sigmoid_derivative  height * (1 + |d| / width) ** -2
    arctan_derivative        height / (1 + (d / width) ** 2)

The ``piecewise_linear`` function of NEST 3.7 (``gamma / v_th * max(0, 1 - |d / v_th|)``) is the
first with ``height = gamma / v_th`` and ``width = v_th``; NEST 3.8-3.9's ``arctan`` was
``gamma / pi / (1 + (beta * pi * d) ** 2)``, the last with ``height = gamma / pi`` and
``width = 1 / (pi * beta)``. The three others are the same in 3.8-3.10. All are zero during a
refractory period, which these networks do not have (``t_ref = 0``).
"""

from __future__ import annotations

import dataclasses

import torch

from ...learning import EPropSurrogate


@dataclasses.dataclass(frozen=True)
class Surrogate:
    """One of NEST's pseudo-derivatives with its height and width."""

    function: str
    height: float
    width: float

    @classmethod
    def of(cls, spec: EPropSurrogate) -> Surrogate:
        return cls(spec.function, float(spec.gamma), 1.0 / float(spec.beta))

    def __call__(self, v: torch.Tensor, v_th: torch.Tensor | float) -> torch.Tensor:
        """psi at voltage ``v`` and threshold ``v_th``, elementwise (NEST's float operations)."""
        d = v - v_th
        if self.function == "piecewise_linear":
            return self.height * torch.clamp(1.0 - d.abs() / self.width, min=0.0)
        if self.function == "exponential":
            return self.height * torch.exp(-d.abs() / self.width)
        if self.function == "fast_sigmoid_derivative":
            return self.height * torch.pow(1.0 + d.abs() / self.width, -2.0)
        if self.function == "arctan_derivative":
            return self.height / (1.0 + torch.pow(d / self.width, 2.0))
        raise ValueError(f"unknown surrogate function {self.function!r}")
