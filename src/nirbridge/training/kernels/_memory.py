"""Large work arrays on huge pages.

A layer's arrays are tens of megabytes (``T x B x n`` values) and are written once, so their
first touch costs the kernel a page fault per 4 KiB page: at the benchmark size that is about
25 ms per array, as much as the arithmetic that fills it. Where Linux offers transparent huge
pages on request (``/sys/kernel/mm/transparent_hugepage/enabled`` = ``madvise``), asking for
them on a fresh array (``madvise(MADV_HUGEPAGE)``) before it is touched takes that to a few
milliseconds. Elsewhere :func:`buffer` is ``torch.empty``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

import torch

_HUGE = 2**21
_MADV_HUGEPAGE = 14
#: Arrays below this size are left to the allocator as they come.
MIN_BYTES = 4 * _HUGE


@functools.cache
def _madvise():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.madvise
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


def buffer(
    shape: tuple[int, ...], dtype: torch.dtype, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """An uninitialised array; on the CPU, on huge pages where the kernel gives them."""
    out = torch.empty(shape, dtype=dtype, device=device)
    size = out.numel() * out.element_size()
    madvise = _madvise()
    if madvise is not None and out.device.type == "cpu" and size >= MIN_BYTES:
        start = -(-out.data_ptr() // _HUGE) * _HUGE
        end = (out.data_ptr() + size) // _HUGE * _HUGE
        if end > start:
            madvise(start, end - start, _MADV_HUGEPAGE)  # advice only: failure is harmless
    return out


__all__ = ["MIN_BYTES", "buffer"]
