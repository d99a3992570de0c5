"""The three ways the loops of :mod:`._loops` run: TorchScript, eager, ``torch.compile``.

- ``script``: both loops compiled whole by ``torch.jit.script`` (the time loop runs in the
  TorchScript interpreter, no Python per step). torch 2.13 marks ``torch.jit.script``
  deprecated; its DeprecationWarnings are silenced here, around the one call that scripts,
  and nowhere else.
- ``eager``: the same loops as plain Python.
- ``compile``: the loops in Python around step functions compiled by ``torch.compile``
  (inductor fuses each step's elementwise work into one C++ loop; compiling the whole time
  loop would unroll it). The first call of each new configuration (flags, shapes) compiles
  (seconds); past dynamo's recompile limit further configurations run uncompiled.

Which is fastest was measured at the benchmark size (docs/training-kernels.md);
:data:`DEFAULT` is that one, and ``impl="auto"`` picks it.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable

from ._loops import backward_step, forward_step, make_loops

IMPLS = ("script", "eager", "compile")

#: The implementation ``impl="auto"`` runs: the fastest measured (docs/training-kernels.md).
DEFAULT = "script"


@functools.cache
def loops(impl: str) -> tuple[Callable, Callable]:
    """``(forward_loop, backward_loop)`` of implementation ``impl`` (built once)."""
    if impl == "eager":
        return make_loops(forward_step, backward_step)
    if impl == "script":
        import torch

        forward_loop, backward_loop = make_loops(forward_step, backward_step)
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore",
                message=r"`torch\.jit\.script(_method)?` is deprecated",
                category=DeprecationWarning,
            )
            return torch.jit.script(forward_loop), torch.jit.script(backward_loop)
    if impl == "compile":
        import torch

        return make_loops(
            torch.compile(forward_step, dynamic=False), torch.compile(backward_step, dynamic=False)
        )
    raise ValueError(impl)


__all__ = ["DEFAULT", "IMPLS", "loops"]
