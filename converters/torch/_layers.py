"""torch layers -> NIR nodes (shared by the PyTorch framework exporters).

Shapes are NIR's: channels first, no batch. ``probe`` gives each layer's output shape by running
it on zeros, so the exporters write Input/Output and neuron shapes without asking the user.
"""

from __future__ import annotations

import nir
import numpy as np
import torch

from nirbridge._errors import UnsupportedError


def children(model: torch.nn.Module, prefix: str = "") -> list[tuple[str, torch.nn.Module]]:
    """Leaf modules of (nested) ``torch.nn.Sequential`` containers in call order, dotted names."""
    if isinstance(model, torch.nn.Sequential):
        out = []
        for name, child in model.named_children():
            out += children(child, f"{prefix}{name}.")
        return out
    return [(prefix.rstrip(".") or "layer", model)]


def as_array(value, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """A tensor or number as a float64 array, broadcast to ``shape`` when given."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().to(torch.float64).numpy()
    arr = np.asarray(value, dtype=np.float64)
    return np.broadcast_to(arr, shape).copy() if shape is not None else arr.copy()


#: torch layer types :func:`layer_node` maps.
LAYER_TYPES = (
    torch.nn.Linear,
    torch.nn.Conv2d,
    torch.nn.AvgPool2d,
    torch.nn.Flatten,
)


def layer_node(
    m: torch.nn.Module, name: str, shape: tuple[int, ...], target: str
) -> nir.NIRNode | None:
    """The NIR node of torch layer ``m`` fed samples of ``shape``; None for a layer that does
    nothing at inference (Identity, Dropout); raises for anything else."""
    if isinstance(m, (torch.nn.Identity, torch.nn.Dropout)):
        return None
    if isinstance(m, torch.nn.Linear):
        w = as_array(m.weight)
        return (
            nir.Linear(weight=w) if m.bias is None else nir.Affine(weight=w, bias=as_array(m.bias))
        )
    if isinstance(m, torch.nn.Conv2d):
        if m.padding_mode != "zeros":
            raise UnsupportedError(
                f"padding_mode={m.padding_mode!r}: NIR pads with zeros", node=name, target=target
            )
        w = as_array(m.weight)
        bias = as_array(m.bias) if m.bias is not None else np.zeros(w.shape[0])
        return nir.Conv2d(
            input_shape=np.array(shape[1:]),
            weight=w,
            bias=bias,
            stride=np.array(m.stride),
            padding=m.padding if isinstance(m.padding, str) else np.array(m.padding),
            dilation=np.array(m.dilation),
            groups=m.groups,
        )
    if isinstance(m, torch.nn.AvgPool2d):
        if m.ceil_mode or not m.count_include_pad or m.divisor_override not in (None, 1):
            raise UnsupportedError(
                "AvgPool2d with ceil_mode, count_include_pad=False or a divisor_override other "
                "than 1 has no NIR form",
                node=name,
                target=target,
            )
        pool = nir.SumPool2d if m.divisor_override == 1 else nir.AvgPool2d
        stride = m.stride if m.stride is not None else m.kernel_size
        return pool(
            kernel_size=np.broadcast_to(np.asarray(m.kernel_size), (2,)).copy(),
            stride=np.broadcast_to(np.asarray(stride), (2,)).copy(),
            padding=np.broadcast_to(np.asarray(m.padding), (2,)).copy(),
        )
    if isinstance(m, torch.nn.Flatten):
        # NIR shapes have no batch dimension; torch's dims count it
        start = m.start_dim - 1 if m.start_dim > 0 else m.start_dim
        end = m.end_dim - 1 if m.end_dim > 0 else m.end_dim
        return nir.Flatten(input_type={"input": np.array(shape)}, start_dim=start, end_dim=end)
    raise UnsupportedError(
        f"no NIR form for {type(m).__name__} (torch layers mapped: Linear, Conv2d, AvgPool2d, "
        "Flatten, Identity, Dropout)",
        node=name,
        target=target,
    )


def probe(m: torch.nn.Module, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Output shape (no batch) of stateless layer ``m`` for input samples of ``shape``."""
    dtype = next((p.dtype for p in m.parameters()), torch.float64)
    with torch.no_grad():
        y = m(torch.zeros((1, *shape), dtype=dtype))
    return tuple(int(s) for s in y.shape[1:])


def first_shape(layers: list[tuple[str, torch.nn.Module]], target: str) -> tuple[int, ...]:
    """The input shape implied by a first ``Linear`` layer, else an error asking for it."""
    first = layers[0][1] if layers else None
    if not isinstance(first, torch.nn.Linear):
        raise UnsupportedError(
            "cannot tell the input shape: pass input_shape=(channels, ...) (no batch, no time)",
            target=target,
        )
    return (first.in_features,)
