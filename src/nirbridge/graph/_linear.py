"""Stateless linear NIR nodes as numpy operators, and the shapes they produce.

Every operator takes a batch ``x`` of shape ``(batch, *input_shape)`` (channels first, as in NIR)
and returns ``(batch, *output_shape)``. The reference simulator steps through them and
:mod:`nirbridge.graph._compose` probes them to build one matrix for a chain of them, so the two
can never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence

import nir
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._errors import InvalidParameterError, ShapeError


def _per_dim(value: object, ndim: int, *, node: str, parameter: str) -> tuple[int, ...]:
    arr = np.atleast_1d(np.asarray(value))
    if arr.size == 1:
        arr = np.repeat(arr, ndim)
    if arr.shape != (ndim,):
        raise InvalidParameterError(
            "wrong number of values",
            node=node,
            parameter=parameter,
            expected=f"1 or {ndim} integers",
            got=str(arr.tolist()),
        )
    return tuple(int(v) for v in arr)


def conv_geometry(
    node: nir.Conv1d | nir.Conv2d | nir.SumPool2d | nir.AvgPool2d, name: str
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[tuple[int, int], ...]]:
    """Kernel size, stride, dilation and (low, high) padding per spatial dimension."""
    if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
        nd = 2
        kernel = _per_dim(node.kernel_size, nd, node=name, parameter="kernel_size")
        dilation = (1,) * nd
    else:
        nd = node.weight.ndim - 2
        kernel = tuple(int(k) for k in node.weight.shape[2:])
        dilation = _per_dim(node.dilation, nd, node=name, parameter="dilation")
    stride = _per_dim(node.stride, nd, node=name, parameter="stride")
    for label, values in (("kernel_size", kernel), ("stride", stride), ("dilation", dilation)):
        if any(v < 1 for v in values):
            raise InvalidParameterError(
                "out of range",
                node=name,
                parameter=label,
                expected="integers >= 1",
                got=str(list(values)),
            )
    padding = node.padding
    if isinstance(padding, bytes):
        padding = padding.decode("utf8", "replace")
    if isinstance(padding, str):
        if padding == "valid":
            pads = tuple((0, 0) for _ in range(nd))
        elif padding == "same":
            total = [d * (k - 1) for d, k in zip(dilation, kernel, strict=True)]
            pads = tuple((t // 2, t - t // 2) for t in total)
        else:
            raise InvalidParameterError(
                "unknown padding",
                node=name,
                parameter="padding",
                expected="'same', 'valid' or integers",
                got=repr(padding),
            )
    else:
        sym = _per_dim(padding, nd, node=name, parameter="padding")
        if any(p < 0 for p in sym):
            raise InvalidParameterError(
                "negative padding",
                node=name,
                parameter="padding",
                expected="integers >= 0",
                got=str(list(sym)),
            )
        pads = tuple((p, p) for p in sym)
    return kernel, stride, dilation, pads


def _conv_out(size: int, k: int, s: int, d: int, pad: tuple[int, int]) -> int:
    return (size + pad[0] + pad[1] - d * (k - 1) - 1) // s + 1


def output_shape(node: nir.NIRNode, name: str, in_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Output shape of linear node ``node`` given its input shape (no batch dimension)."""
    if type(node).__name__ == "Identity":
        return tuple(in_shape)
    if isinstance(node, (nir.Affine, nir.Linear)):
        n_out, n_in = node.weight.shape
        if len(in_shape) < 1 or in_shape[-1] != n_in:
            raise ShapeError(
                "input does not match the weight",
                node=name,
                node_type=type(node).__name__,
                parameter="weight",
                expected=f"input with last dimension {n_in}",
                got=f"input shape {in_shape}",
            )
        return (*in_shape[:-1], n_out)
    if isinstance(node, nir.Scale):
        return _broadcast(name, node, "scale", in_shape, np.shape(node.scale))
    if isinstance(node, nir.Flatten):
        nd = len(in_shape)
        start = int(node.start_dim) + (nd if int(node.start_dim) < 0 else 0)
        end = int(node.end_dim) + (nd if int(node.end_dim) < 0 else 0)
        if not (0 <= start <= end < nd):
            raise InvalidParameterError(
                "dimensions out of range",
                node=name,
                node_type="Flatten",
                parameter="start_dim/end_dim",
                expected=f"0 <= start_dim <= end_dim < {nd} for input shape {in_shape}",
                got=f"start_dim={node.start_dim}, end_dim={node.end_dim}",
            )
        flat = int(np.prod(in_shape[start : end + 1]))
        return (*in_shape[:start], flat, *in_shape[end + 1 :])
    if isinstance(node, (nir.Conv1d, nir.Conv2d, nir.SumPool2d, nir.AvgPool2d)):
        kernel, stride, dilation, pads = conv_geometry(node, name)
        nd = len(kernel)
        if len(in_shape) != nd + 1:
            raise ShapeError(
                "wrong input rank",
                node=name,
                node_type=type(node).__name__,
                expected=f"input of shape (channels, {nd} spatial dims)",
                got=str(in_shape),
            )
        channels = in_shape[0]
        if isinstance(node, (nir.Conv1d, nir.Conv2d)):
            groups = int(np.asarray(node.groups).item())
            out_c, in_per_group = node.weight.shape[:2]
            if groups < 1 or out_c % groups or channels != in_per_group * groups:
                raise ShapeError(
                    "channels do not match weight and groups",
                    node=name,
                    node_type=type(node).__name__,
                    parameter="weight",
                    expected=f"{in_per_group} x groups={groups} input channels, output "
                    f"channels divisible by groups",
                    got=f"{channels} input channels",
                )
            channels = out_c
            if np.shape(node.bias) not in ((out_c,), ()):
                raise InvalidParameterError(
                    "wrong shape",
                    node=name,
                    node_type=type(node).__name__,
                    parameter="bias",
                    expected=f"({out_c},)",
                    got=str(np.shape(node.bias)),
                )
        spatial = tuple(
            _conv_out(in_shape[1 + i], kernel[i], stride[i], dilation[i], pads[i])
            for i in range(nd)
        )
        if any(s < 1 for s in spatial):
            raise ShapeError(
                "kernel larger than the padded input",
                node=name,
                node_type=type(node).__name__,
                expected="a positive output size",
                got=f"output {spatial} from input {in_shape}",
            )
        return (channels, *spatial)
    raise TypeError(f"not a linear node: {type(node).__name__}")


def _broadcast(
    name: str, node: nir.NIRNode, parameter: str, a: tuple[int, ...], b: tuple[int, ...]
) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError as exc:
        raise ShapeError(
            "input does not match the parameter",
            node=name,
            node_type=type(node).__name__,
            parameter=parameter,
            expected=f"input broadcastable with shape {b}",
            got=f"{a}",
        ) from exc


def _windows(
    x: np.ndarray,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    pads: Sequence[tuple[int, int]],
) -> np.ndarray:
    """(B, C, *spatial) -> (B, C, *out_spatial, *kernel) view of the receptive fields."""
    nd = len(kernel)
    if any(p != (0, 0) for p in pads):
        x = np.pad(x, ((0, 0), (0, 0), *pads))
    span = [d * (k - 1) + 1 for d, k in zip(dilation, kernel, strict=True)]
    w = sliding_window_view(x, span, axis=tuple(range(2, 2 + nd)))
    index = (
        (slice(None), slice(None))
        + tuple(slice(None, None, s) for s in stride)
        + tuple(slice(None, None, d) for d in dilation)
    )
    return w[index]


def apply(node: nir.NIRNode, name: str, x: np.ndarray) -> np.ndarray:
    """Apply linear node ``node`` to a batch ``x`` of shape ``(batch, *input_shape)``."""
    if type(node).__name__ == "Identity":
        return x
    if isinstance(node, nir.Affine):
        return x @ np.asarray(node.weight, dtype=x.dtype).T + np.asarray(node.bias, dtype=x.dtype)
    if isinstance(node, nir.Linear):
        return x @ np.asarray(node.weight, dtype=x.dtype).T
    if isinstance(node, nir.Scale):
        return x * np.asarray(node.scale, dtype=x.dtype)
    if isinstance(node, nir.Flatten):
        out = output_shape(node, name, x.shape[1:])
        return x.reshape(x.shape[0], *out)
    if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
        kernel, stride, dilation, pads = conv_geometry(node, name)
        w = _windows(x, kernel, stride, dilation, pads)
        y = w.sum(axis=(-2, -1))
        if isinstance(node, nir.AvgPool2d):
            y = y / float(np.prod(kernel))
        return y
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        kernel, stride, dilation, pads = conv_geometry(node, name)
        nd = len(kernel)
        weight = np.asarray(node.weight, dtype=x.dtype)
        groups = int(np.asarray(node.groups).item())
        w = _windows(x, kernel, stride, dilation, pads)  # (B, C, *out, *k)
        b, c = w.shape[:2]
        out_spatial = w.shape[2 : 2 + nd]
        cg = c // groups
        og = weight.shape[0] // groups
        n_out = int(np.prod(out_spatial))
        n_k = cg * int(np.prod(kernel))
        # im2col: one row per (sample, output position), one column per (channel, kernel tap),
        # then one matrix product per group.
        w = w.reshape(b, groups, cg, n_out, *kernel)
        w = np.moveaxis(w, 3, 1).reshape(b * n_out, groups, n_k)
        wt = weight.reshape(groups, og, n_k)
        y = np.empty((b * n_out, groups, og), dtype=x.dtype)
        for g in range(groups):
            y[:, g] = np.ascontiguousarray(w[:, g]) @ wt[g].T
        y = y.reshape(b, *out_spatial, groups * og)
        y = np.moveaxis(y, -1, 1)
        bias = np.asarray(node.bias, dtype=x.dtype)
        return y + bias.reshape((-1,) + (1,) * nd)
    raise TypeError(f"not a linear node: {type(node).__name__}")
