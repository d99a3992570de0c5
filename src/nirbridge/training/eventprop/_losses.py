"""The schema's EventProp losses as functions of the readout values (plain torch).

The engines return one value per readout neuron and sample (``(B, n_out)``): the first spike
time in seconds (``ttfs``), the count's continuous extension (``spike_count``), the maximum or
the sum of the voltage (``max_voltage`` / ``sum_voltage``). The loss is ordinary torch on those
values; its gradient with respect to them is the cotangent the adjoint starts from.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..._errors import UnsupportedError
from ...learning import Loss
from ._network import readout_of


def readout_loss(values: torch.Tensor, labels: torch.Tensor, loss: Loss) -> torch.Tensor:
    """Mean loss over the batch.

    ``ttfs`` (Wunderlich & Pehle 2021, Goeltz et al. 2021): ``-log softmax(-t / tau0)[label] +
    alpha * (exp(t_label / tau1) - 1)``, ``t`` the first spike times in seconds. The others:
    cross entropy over the softmax of the values (spike counts, voltage maxima or sums).

    Args:
        values: ``(B, n_out)`` readout values from :func:`eventprop_forward`.
        labels: ``(B,)`` class indices.
        loss: The rule's :class:`nirbridge.learning.Loss`.
    """
    readout_of(loss.name)
    labels = labels.to(device=values.device, dtype=torch.int64)
    if loss.name == "ttfs":
        if loss.tau0 is None or loss.tau1 is None or loss.alpha is None:
            raise UnsupportedError("loss 'ttfs' needs tau0, tau1 and alpha")
        t_label = values.gather(1, labels[:, None])[:, 0]
        term = F.cross_entropy(-values / loss.tau0, labels)
        return term + loss.alpha * torch.mean(torch.expm1(t_label / loss.tau1))
    return F.cross_entropy(values, labels)


def prediction(key: torch.Tensor) -> torch.Tensor:
    """The predicted class per sample: the readout neuron with the largest key (earliest first
    spike, largest count, voltage maximum or sum)."""
    return key.argmax(dim=1)


__all__ = ["prediction", "readout_loss"]
