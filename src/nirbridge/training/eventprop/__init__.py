"""EventProp (Wunderlich & Pehle 2021): gradients from adjoint equations with jumps at spikes.

Two engines, one set of equations (docs/eventprop.md):

- :func:`eventprop_forward` / :func:`eventprop_loss`: the training engine. Its forward pass is
  the euler step of :mod:`nirbridge.training._layers` (spike for spike what
  :mod:`nirbridge.reference` computes on the exported graph); its backward pass integrates the
  adjoint backwards over the time grid with a jump at every spike, storing only the spikes
  (mlGeNN's discrete-time form). Batched, any float dtype, a ``torch.autograd.Function``: call
  ``.backward()`` on the loss and the layers' weights get their ``.grad``.
- :mod:`._continuous`: EventProp in continuous time (exact integration between events, spike
  times by root finding, float64), the reference the discrete engine converges to as
  ``dt -> 0``; its gradients match central finite differences of its own forward.

Example:
    >>> out = eventprop_forward(x, layers, loss)          # x: (T, B, n_in)
    >>> value = readout_loss(out.readout, labels, loss)
    >>> value.backward()                                  # fills weight.grad via the adjoint
    >>> accuracy = (out.prediction == labels).float().mean()
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch

from ..._errors import UnsupportedError
from ...learning import Loss
from . import _discrete
from ._continuous import ContinuousLayer, ContinuousResult, continuous_gradient, continuous_run
from ._continuous import discretize as discretize_continuous
from ._export import layers_to_nir
from ._losses import prediction, readout_loss
from ._network import READOUTS, check_network, readout_of


@dataclasses.dataclass
class EventPropOutput:
    """What one forward pass gives.

    Attributes:
        readout: ``(B, n_out)`` values the loss reads (first spike times in seconds, count,
            voltage maximum or sum); differentiable through EventProp's adjoint.
        prediction: ``(B,)`` predicted class.
        spike_counts: Spikes per neuron and sample, ``(B, n)``, of every spiking layer.
        stored_events: Spikes recorded for the backward pass (all layers).
        stored_bytes: Bytes the backward pass keeps besides the weights and the input.
        tape: What the backward pass reads: the spikes as events.
    """

    readout: torch.Tensor
    prediction: torch.Tensor
    spike_counts: list[torch.Tensor]
    stored_events: int
    stored_bytes: int
    tape: _discrete.Tape

    def spike_raster(self, layer: int) -> torch.Tensor:
        """The spikes of layer ``layer`` as a ``(T, B, n)`` 0/1 tensor (rebuilt from events)."""
        events = self.tape.events[layer]
        if events is None:
            raise UnsupportedError(f"EventPropOutput.spike_raster: layer {layer} does not spike")
        n = int(self.tape.sizes[layer])
        raster = torch.zeros(self.tape.steps, self.tape.batch * n, dtype=self.readout.dtype)
        raster[events.step.long() - 1, events.index.long()] = 1.0
        return raster.view(self.tape.steps, self.tape.batch, n)


def eventprop_forward(x: torch.Tensor, layers: Sequence[Any], loss: Loss | str) -> EventPropOutput:
    """Run the network on ``x`` and make its readout differentiable by EventProp.

    Args:
        x: Input per step, ``(T, B, n_in)`` (time first; a spike is 1 in its step).
        layers: ``[(weight, bias | None, rec_weight | None, LayerParams), ...]``, input side
            first; hidden layers ``lif`` / ``cubalif``; the readout ``lif`` / ``cubalif``
            (``ttfs``, ``spike_count``) or ``li`` / ``cubali`` (``max_voltage``,
            ``sum_voltage``).
        loss: A :class:`nirbridge.learning.Loss` or its name.

    Raises:
        UnsupportedError: a layer kind or loss EventProp does not cover.
        SimulationInputError: shapes or dtypes that do not fit together.
    """
    name = loss if isinstance(loss, str) else loss.name
    readout = readout_of(name)
    net = check_network(layers, readout, x)
    with torch.no_grad():
        result = _discrete.forward(x.detach(), net, readout)
    tensors = [t for layer in net for t in (layer.weight, layer.bias, layer.rec_weight)]
    values = result.values
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors):
        meta = _discrete.LayersMeta.of(net)
        values = _discrete.EventPropFunction.apply(x.detach(), meta, readout, result, *tensors)
    tape = result.tape
    return EventPropOutput(
        readout=values,
        prediction=prediction(result.key),
        spike_counts=result.spike_counts,
        stored_events=sum(e.count for e in tape.events if e is not None),
        stored_bytes=tape.nbytes(),
        tape=tape,
    )


def eventprop_loss(
    x: torch.Tensor, layers: Sequence[Any], loss: Loss, labels: torch.Tensor
) -> torch.Tensor:
    """The mean loss over the batch; ``.backward()`` fills the weights' ``.grad`` by EventProp."""
    return readout_loss(eventprop_forward(x, layers, loss).readout, labels, loss)


__all__ = [
    "READOUTS",
    "ContinuousLayer",
    "ContinuousResult",
    "EventPropOutput",
    "continuous_gradient",
    "continuous_run",
    "discretize_continuous",
    "eventprop_forward",
    "eventprop_loss",
    "layers_to_nir",
    "prediction",
    "readout_loss",
]
