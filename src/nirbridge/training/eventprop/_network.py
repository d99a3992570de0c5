"""The network EventProp trains: a stack of layers, checked once, with their constants.

A network is a list of ``(weight, bias | None, rec_weight | None, LayerParams)``, input first,
readout last (the layer format of :mod:`nirbridge.training._layers`). Hidden layers are ``lif``
or ``cubalif`` (feed-forward, optionally recurrent); the readout is what the loss reads:
a spiking ``lif`` / ``cubalif`` layer for ``ttfs`` and ``spike_count``, a non-spiking ``li`` /
``cubali`` layer for ``max_voltage`` and ``sum_voltage``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch

from ..._errors import SimulationInputError, UnsupportedError
from .._layers import LayerParams

#: What each EventProp loss reads from the readout layer.
READOUTS = {
    "ttfs": "first_spike_time",
    "spike_count": "spike_count",
    "max_voltage": "max_voltage",
    "sum_voltage": "sum_voltage",
}
#: Readout quantities that need a spiking readout (the others need a non-spiking one).
SPIKE_READOUTS = ("first_spike_time", "spike_count")
#: Layer kinds EventProp's adjoint equations are written for.
HIDDEN_KINDS = ("lif", "cubalif")
VOLTAGE_READOUT_KINDS = ("li", "cubali")


@dataclasses.dataclass(frozen=True)
class Layer:
    """One layer with its tensors and the constants the step equations use."""

    weight: torch.Tensor
    bias: torch.Tensor | None
    rec_weight: torch.Tensor | None
    params: LayerParams

    @property
    def n(self) -> int:
        return int(self.weight.shape[0])

    @property
    def spiking(self) -> bool:
        return self.params.spiking

    @property
    def cuba(self) -> bool:
        return self.params.kind in ("cubalif", "cubali")

    @property
    def zero_reset(self) -> bool:
        return self.params.reset == "zero"

    @property
    def v_after(self) -> float:
        """Voltage a spike leaves in continuous time: 0 (subtract: theta - theta) or v_reset."""
        return self.params.v_reset if self.zero_reset else 0.0


def readout_of(loss_name: str) -> str:
    """The readout quantity a loss of the schema reads (``ttfs`` -> ``first_spike_time``)."""
    if loss_name not in READOUTS:
        raise UnsupportedError(
            f"EventProp has no adjoint for loss {loss_name!r}: expected one of {sorted(READOUTS)}"
        )
    return READOUTS[loss_name]


def check_network(
    layers: Sequence[Any], readout: str, x: torch.Tensor | None = None
) -> list[Layer]:
    """Check ``layers`` (and the input ``x``, shape ``(T, B, n_in)``) for ``readout``.

    Raises:
        UnsupportedError: a layer kind or readout EventProp does not cover (named by index).
        SimulationInputError: shapes, dtypes or time steps that do not fit together.
    """
    if readout not in SPIKE_READOUTS + ("max_voltage", "sum_voltage"):
        raise UnsupportedError(
            f"EventProp readout: expected one of {list(READOUTS.values())}, got {readout!r}"
        )
    if len(layers) == 0:
        raise SimulationInputError("EventProp layers: expected at least one layer, got none")
    out: list[Layer] = []
    n_prev = None if x is None else int(x.shape[2])
    dt = None
    for k, entry in enumerate(layers):
        where = f"EventProp layers[{k}]"
        if not (isinstance(entry, Sequence) and len(entry) == 4):
            raise SimulationInputError(
                f"{where}: expected (weight, bias | None, rec_weight | None, LayerParams), "
                f"got {type(entry).__name__}"
            )
        weight, bias, rec, params = entry
        if not isinstance(params, LayerParams):
            raise SimulationInputError(
                f"{where}: expected a LayerParams last, got {type(params).__name__}"
            )
        last = k == len(layers) - 1
        if not last and params.kind not in HIDDEN_KINDS:
            raise UnsupportedError(
                f"{where}: EventProp's hidden layers are {list(HIDDEN_KINDS)} (leaky "
                f"integrate-and-fire), got {params.kind!r}"
            )
        if last:
            wanted = HIDDEN_KINDS if readout in SPIKE_READOUTS else VOLTAGE_READOUT_KINDS
            if params.kind not in wanted:
                raise UnsupportedError(
                    f"{where} (readout): readout {readout!r} needs a layer of kind "
                    f"{list(wanted)}, got {params.kind!r}"
                )
        if dt is not None and params.dt != dt:
            raise SimulationInputError(f"{where}: dt {params.dt} differs from layer 0's {dt}")
        dt = params.dt
        if not isinstance(weight, torch.Tensor) or weight.dim() != 2:
            raise SimulationInputError(f"{where}: weight must be a 2-d tensor (n_out, n_in)")
        n = int(weight.shape[0])
        if n_prev is not None and int(weight.shape[1]) != n_prev:
            raise SimulationInputError(
                f"{where}: weight expected shape ({n}, {n_prev}), got {tuple(weight.shape)}"
            )
        if not weight.is_floating_point():
            raise SimulationInputError(f"{where}: weight must be floating point")
        for name, tensor, shape in (("bias", bias, (n,)), ("rec_weight", rec, (n, n))):
            if tensor is None:
                continue
            if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != shape:
                got = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor)
                raise SimulationInputError(f"{where}: {name} expected shape {shape}, got {got}")
            if tensor.dtype != weight.dtype:
                raise SimulationInputError(
                    f"{where}: {name} is {tensor.dtype}, the weight {weight.dtype}"
                )
        if rec is not None and not params.spiking:
            raise UnsupportedError(f"{where}: rec_weight needs a spiking layer, not {params.kind}")
        if out and weight.dtype != out[0].weight.dtype:
            raise SimulationInputError(
                f"{where}: weight is {weight.dtype}, layer 0's {out[0].weight.dtype}"
            )
        out.append(Layer(weight, bias, rec, params))
        n_prev = n
    if x is not None:
        if x.dim() != 3:
            raise SimulationInputError(
                f"EventProp input: expected shape (steps, batch, n_in), got {tuple(x.shape)}"
            )
        if x.shape[0] == 0:
            raise SimulationInputError("EventProp input: expected at least one time step")
    return out


__all__ = ["READOUTS", "Layer", "check_network", "readout_of"]
