"""The ways the loops run: natively (C, by events), TorchScript, eager, ``torch.compile``.

- ``native``: the loops in C, the spikes' products by events (:mod:`._native`); needs a C
  compiler at first use (the library is cached), else it is unavailable.
- ``script``: the loops of :mod:`._loops` compiled whole by ``torch.jit.script`` (the time loop
  runs in the TorchScript interpreter, no Python per step). torch 2.13 marks
  ``torch.jit.script`` deprecated; its DeprecationWarnings are silenced here, around the one call
  that scripts, and nowhere else.
- ``eager``: the same loops as plain Python.
- ``compile``: the loops in Python around step functions compiled by ``torch.compile``
  (inductor fuses each step's elementwise work into one C++ loop; compiling the whole time
  loop would unroll it). The first call of each new configuration (flags, shapes) compiles
  (seconds); past dynamo's recompile limit further configurations run uncompiled.

The torch implementations do the projections and weight gradients as dense products. Which is
fastest was measured at the benchmark size (docs/training-kernels.md); ``impl="auto"`` picks
:func:`default`.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable
from typing import NamedTuple

import torch

from . import _memory, _native
from ._loops import BLOCK, backward_step, forward_step, make_loops

IMPLS = ("native", "script", "eager", "compile")


class Kernels(NamedTuple):
    """What one implementation provides to :class:`._function.LayerFunction`."""

    #: ``(flat_x, weight, bias) -> flat_x @ weight.T + bias``, a fresh ``(T*B, n)`` array
    project: Callable
    #: the forward loop of :func:`._loops.make_loops`
    forward_loop: Callable
    #: ``(U, out, g_out, g_v, rec, x, want_w, want_rec, **constants) -> (gI, dW, dW_rec)``
    backward: Callable


def _dense_project(flat: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None):
    out = _memory.buffer((flat.shape[0], weight.shape[0]), flat.dtype, flat.device)
    if bias is None:
        return torch.mm(flat, weight.t(), out=out)
    return torch.addmm(bias, flat, weight.t(), out=out)


def _with_dense_grads(backward_loop: Callable) -> Callable:
    """The backward of a torch implementation: its loop, then the weight gradients as dense
    products over all steps (``dW = gI^T x``, ``dW_rec = sum_t gI[t]^T z[t-1]``)."""

    def backward(U, out, g_out, g_v, rec, x, want_w, want_rec, **constants):
        G = backward_loop(U, out, g_out, g_v, rec, block=BLOCK, **constants)
        steps, batch, n = G.shape
        flat_g = G.view(steps * batch, n)
        gw = torch.mm(flat_g.t(), x.reshape(steps * batch, -1)) if want_w else None
        grec = None
        if want_rec and rec is not None:
            grec = G.new_zeros(n, n)
            if steps > 1:
                later = G[1:].reshape((steps - 1) * batch, n)
                grec = torch.mm(later.t(), out[:-1].reshape((steps - 1) * batch, n))
        return G, gw, grec

    return backward


def _local_symbols(fn: Callable) -> Callable:
    """``fn`` run with extension modules loaded RTLD_LOCAL.

    PyNEST sets ``sys.setdlopenflags(RTLD_NOW | RTLD_GLOBAL)`` on import and leaves it so. The
    modules inductor compiles each export a function named ``kernel``; loaded globally, the
    second one's calls bind to the first one's ``kernel`` and crash. The compiled steps load
    their modules on first call, so each call clears RTLD_GLOBAL while it runs.
    """

    def call(*args: object) -> object:
        flags = sys.getdlopenflags()
        if not flags & os.RTLD_GLOBAL:
            return fn(*args)
        sys.setdlopenflags(flags & ~os.RTLD_GLOBAL)
        try:
            return fn(*args)
        finally:
            sys.setdlopenflags(flags)

    return call


def available(impl: str) -> bool:
    """Whether ``impl`` can run here (``native`` needs a working C compiler)."""
    return impl != "native" or _native.available()


def default() -> str:
    """The implementation ``impl="auto"`` runs: the fastest measured that is available."""
    return "native" if _native.available() else "script"


@functools.cache
def kernels(impl: str) -> Kernels:
    """The kernels of implementation ``impl`` (built once)."""
    if impl == "native":
        return Kernels(_native.project, _native.forward_loop, _native.backward)
    if impl == "eager":
        forward_loop, backward_loop = make_loops(forward_step, backward_step)
    elif impl == "script":
        forward_loop, backward_loop = make_loops(forward_step, backward_step)
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore",
                message=r"`torch\.jit\.script(_method)?` is deprecated",
                category=DeprecationWarning,
            )
            forward_loop = torch.jit.script(forward_loop)
            backward_loop = torch.jit.script(backward_loop)
    elif impl == "compile":
        forward_loop, backward_loop = make_loops(
            _local_symbols(torch.compile(forward_step, dynamic=False)),
            _local_symbols(torch.compile(backward_step, dynamic=False)),
        )
    else:
        raise ValueError(impl)
    return Kernels(_dense_project, forward_loop, _with_dense_grads(backward_loop))


__all__ = ["IMPLS", "Kernels", "available", "default", "kernels"]
