"""The ``native`` implementation: the loops in C, driven by spike events.

The torch implementations spend most of their time in dense products with the spikes, which are
mostly zero (about 9 % nonzero in the benchmark): ``z[t-1] @ W_rec.T`` each step forward, and
``sum_t gI[t]^T z[t-1]`` for the recurrent weight gradient. Here both go by events: for each
sample, the indices of last step's spikes are gathered and the corresponding rows of
``W_rec.T`` added (forward), or the sample's ``gI[t]`` row added to the rows of the gradient
that its spikes select (backward). The input projection and the input weight gradient do the
same when the input is sparse (spike trains). The elementwise step, forward and backward, is one
pass over the neurons, with the surrogate derivative computed on the fly. The one dense product
left, ``gI[t] @ W_rec`` in each backward step (its result feeds the next step), is torch's.

The C source below is compiled once per machine with the system's C compiler into a cache
directory (``$NIRBRIDGE_CACHE`` or ``~/.cache/nirbridge``) and loaded with ctypes; where no
compiler works, :func:`available` is False and ``impl="auto"`` uses TorchScript. It is built
with ``-ffp-contract=off`` so that each operation rounds as torch's separate operations do.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import torch

from . import _memory as memory

_BODY = r"""
/* indices of the nonzeros of z[0..n), branch-free; returns their count */
static int64_t NAME(events)(int64_t n, const REAL *z, int64_t *idx)
{
    int64_t m = 0;
    for (int64_t j = 0; j < n; j++) {
        idx[m] = j;
        m += z[j] != 0;
    }
    return m;
}

/* forward over all steps; P (T,B,n) holds x @ W.T + b and is overwritten with u (spiking
   kinds) or v' (li/cubali, where out == P). rec_t = W_rec.T (row j: what neuron j's spike
   adds), or NULL. v, i, a: zeroed (B,n) state; idx: n integers of workspace. */
void NAME(forward)(int64_t T, int64_t B, int64_t n, REAL *P, REAL *out, const REAL *rec_t,
                   REAL *V, int cuba, int spiking, int alif, int zero_reset,
                   REAL beta_mem, REAL beta_syn, REAL threshold, REAL v_reset,
                   REAL adapt_beta, REAL adapt_rho, REAL *v, REAL *i, REAL *a, int64_t *idx)
{
    for (int64_t t = 0; t < T; t++) {
        for (int64_t b = 0; b < B; b++) {
            int64_t row = (t * B + b) * n;
            REAL *I = P + row;
            REAL *o = out + row;
            REAL *restrict vb = v + b * n, *restrict ib = i + b * n, *restrict ab = a + b * n;
            if (rec_t != NULL && t > 0) {
                int64_t m = NAME(events)(n, out + row - B * n, idx);
                for (int64_t k = 0; k < m; k++) {
                    const REAL *restrict w = rec_t + idx[k] * n;
                    for (int64_t q = 0; q < n; q++) I[q] += w[q];
                }
            }
            const REAL *drive = I;
            if (cuba) {
                for (int64_t q = 0; q < n; q++) ib[q] = ib[q] * beta_syn + I[q];
                drive = ib;
            }
            if (!spiking) {
                for (int64_t q = 0; q < n; q++) {
                    REAL vp = vb[q] * beta_mem + drive[q];
                    vb[q] = vp;
                    o[q] = vp;
                }
                continue;
            }
            if (alif) { /* the spike subtracts the base threshold, as NEST's eprop_iaf_adapt */
                for (int64_t q = 0; q < n; q++) {
                    REAL vp = vb[q] * beta_mem + drive[q];
                    REAL th = ab[q] * adapt_beta + threshold;
                    REAL u = vp - th;
                    REAL z = u > 0 ? (REAL)1 : (REAL)0;
                    I[q] = u;
                    o[q] = z;
                    ab[q] = ab[q] * adapt_rho + z;
                    vb[q] = vp - z * threshold;
                }
            } else if (zero_reset) {
                for (int64_t q = 0; q < n; q++) {
                    REAL vp = vb[q] * beta_mem + drive[q];
                    REAL u = vp - threshold;
                    I[q] = u;
                    o[q] = u > 0 ? (REAL)1 : (REAL)0;
                    vb[q] = u > 0 ? v_reset : vp;
                }
            } else {
                for (int64_t q = 0; q < n; q++) {
                    REAL vp = vb[q] * beta_mem + drive[q];
                    REAL u = vp - threshold;
                    REAL z = u > 0 ? (REAL)1 : (REAL)0;
                    I[q] = u;
                    o[q] = z;
                    vb[q] = vp - z * threshold;
                }
            }
            if (V != NULL)
                for (int64_t q = 0; q < n; q++) V[row + q] = vb[q];
        }
    }
}

/* the surrogate derivative s[q] of u[q] (see surrogates.surrogate_derivative) */
static void NAME(surrogate)(int64_t n, const REAL *restrict u, REAL *restrict s, int code,
                            REAL p1, REAL p2)
{
    if (code == 0) {
        for (int64_t q = 0; q < n; q++) {
            REAL d = FABS(u[q]) * p1 + (REAL)1;
            s[q] = (REAL)1 / (d * d);
        }
    } else if (code == 1) {
        REAL c = (REAL)(3.14159265358979323846 * (double)p1 / 2.0);
        REAL h = (REAL)((double)p1 / 2.0);
        for (int64_t q = 0; q < n; q++) {
            REAL x = u[q] * c;
            s[q] = (REAL)1 / (x * x + (REAL)1) * h;
        }
    } else if (code == 2) {
        for (int64_t q = 0; q < n; q++) {
            REAL d = (REAL)1 - FABS(u[q]) / p2;
            s[q] = (d > 0 ? d : (REAL)0) * p1;
        }
    } else {
        for (int64_t q = 0; q < n; q++) s[q] = EXP(FABS(u[q]) * -p2) * p1;
    }
}

/* one step back (see _loops.backward_step): G holds u[t] on entry and gI[t] on exit; gv, gz,
   gi, ga are (B,n) adjoints carried between steps (gz: dL/dz[t] through the recurrence).
   Row b of g_out / g_v starts at b * stride (unit stride along neurons); g_v may be NULL.
   With gwr (n,n) and zprev = z[t-1], adds gI[t, b, :] to row j of gwr for each spike
   zprev[b, j] (the recurrent weight gradient, transposed); with gwx (C,n) and x = x[t] (B,C),
   adds x[b, c] * gI[t, b, :] to row c (the input weight gradient, transposed).
   s: n reals, idx: n integers of workspace. */
void NAME(backward_step)(int64_t B, int64_t n, REAL *G, const REAL *z,
                         const REAL *g_out, int64_t osb, const REAL *g_v, int64_t vsb,
                         const REAL *zprev, REAL *gwr, const REAL *x, int64_t C, REAL *gwx,
                         REAL *gv, REAL *gz, REAL *gi, REAL *ga, REAL *s, int64_t *idx,
                         int cuba, int spiking, int alif, int zero_reset, int detach_reset,
                         REAL beta_mem, REAL beta_syn, REAL threshold, REAL v_reset,
                         REAL adapt_beta, REAL adapt_rho, int code, REAL p1, REAL p2)
{
    REAL keep = detach_reset ? (REAL)0 : (REAL)1; /* the reset path, or not */
    for (int64_t b = 0; b < B; b++) {
        int64_t k0 = b * n;
        REAL *restrict Gb = G + k0, *restrict gvb = gv + k0, *restrict gzb = gz + k0;
        REAL *restrict gib = gi + k0, *restrict gab = ga + k0;
        const REAL *restrict go = g_out + b * osb;
        const REAL *restrict zb = spiking ? z + k0 : NULL;
        if (g_v != NULL) {
            const REAL *restrict gvo = g_v + b * vsb;
            for (int64_t q = 0; q < n; q++) gvb[q] = gvb[q] + gvo[q];
        }
        if (!spiking) {
            for (int64_t q = 0; q < n; q++) Gb[q] = gvb[q] + go[q];
        } else {
            NAME(surrogate)(n, Gb, s, code, p1, p2);
            if (alif) { /* dv/dz = -threshold; th reaches the loss only through u */
                for (int64_t q = 0; q < n; q++) {
                    REAL g = gvb[q];
                    REAL gzk = (gzb[q] + go[q]) + gab[q];
                    gzk = gzk + g * -threshold * keep;
                    REAL sg = gzk * s[q];
                    gab[q] = gab[q] * adapt_rho + sg * -adapt_beta;
                    Gb[q] = g + sg;
                }
            } else if (zero_reset) {
                REAL c = v_reset - threshold;
                for (int64_t q = 0; q < n; q++) {
                    REAL g = gvb[q];
                    REAL gzk = (gzb[q] + go[q]) + g * (c - Gb[q]) * keep;
                    Gb[q] = (g - g * zb[q]) + gzk * s[q];
                }
            } else {
                for (int64_t q = 0; q < n; q++) {
                    REAL g = gvb[q];
                    REAL gzk = (gzb[q] + go[q]) + g * -threshold * keep;
                    Gb[q] = g + gzk * s[q];
                }
            }
        }
        /* Gb holds dL/dv'[t] */
        for (int64_t q = 0; q < n; q++) gvb[q] = Gb[q] * beta_mem;
        if (cuba)
            for (int64_t q = 0; q < n; q++) {
                Gb[q] = gib[q] + Gb[q];
                gib[q] = Gb[q] * beta_syn;
            }
        if (gwr != NULL && zprev != NULL) {
            int64_t m = NAME(events)(n, zprev + k0, idx);
            for (int64_t k = 0; k < m; k++) {
                REAL *restrict w = gwr + idx[k] * n;
                for (int64_t q = 0; q < n; q++) w[q] += Gb[q];
            }
        }
        if (gwx != NULL) {
            const REAL *xb = x + b * C;
            for (int64_t c = 0; c < C; c++) {
                REAL xc = xb[c];
                if (xc == 0) continue;
                REAL *restrict w = gwx + c * n;
                for (int64_t q = 0; q < n; q++) w[q] += xc * Gb[q];
            }
        }
    }
}

/* the input projection by events: y[r, :] = bias + sum of x[r, c] * w[c, :] over the nonzeros
   of x (R, C), with w = W.T (C, n) and bias (n) or NULL; y (R, n). */
void NAME(project)(int64_t R, int64_t C, int64_t n, const REAL *x, const REAL *w,
                   const REAL *bias, REAL *y)
{
    for (int64_t r = 0; r < R; r++) {
        const REAL *xr = x + r * C;
        REAL *restrict yr = y + r * n;
        for (int64_t q = 0; q < n; q++) yr[q] = bias != NULL ? bias[q] : (REAL)0;
        for (int64_t c = 0; c < C; c++) {
            REAL xc = xr[c];
            if (xc == 0) continue;
            const REAL *restrict wc = w + c * n;
            for (int64_t q = 0; q < n; q++) yr[q] += xc * wc[q];
        }
    }
}

"""

SOURCE = (
    "#include <stddef.h>\n#include <stdint.h>\n#include <math.h>\n"
    "#define REAL float\n#define NAME(f) f##_f32\n#define FABS fabsf\n#define EXP expf\n"
    + _BODY
    + "#undef REAL\n#undef NAME\n#undef FABS\n#undef EXP\n"
    "#define REAL double\n#define NAME(f) f##_f64\n#define FABS fabs\n#define EXP exp\n" + _BODY
)
FLAGS = ["-O3", "-march=native", "-ffp-contract=off", "-fno-math-errno", "-fPIC", "-shared"]

#: An input with at most this fraction of nonzeros is projected by events.
INPUT_DENSITY = 0.25

_SUFFIX = {torch.float32: "_f32", torch.float64: "_f64"}


def _cache_dir() -> Path:
    root = os.environ.get("NIRBRIDGE_CACHE") or Path.home() / ".cache" / "nirbridge"
    return Path(root) / "kernels"


def _cpu() -> str:
    """What -march=native compiles for: the CPU's model and flags (a cache shared by machines
    of different CPUs keeps one library per CPU)."""
    try:
        with open("/proc/cpuinfo") as f:
            lines = [ln for ln in f if ln.startswith(("model name", "flags"))]
        return "".join(sorted(set(lines)))
    except OSError:
        return platform.processor()


@functools.cache
def library() -> ctypes.CDLL | None:
    """The compiled kernels (built on first use), or None where no C compiler works."""
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    key = hashlib.sha256(
        "\0".join([SOURCE, *FLAGS, compiler, platform.machine(), _cpu()]).encode()
    ).hexdigest()[:16]
    target = _cache_dir() / f"nirbridge_kernels_{key}.so"
    if not target.exists():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
                src = Path(tmp) / "kernels.c"
                src.write_text(SOURCE)
                built = Path(tmp) / "kernels.so"
                subprocess.run(
                    [compiler, *FLAGS, "-o", str(built), str(src), "-lm"],
                    check=True,
                    capture_output=True,
                )
                os.replace(built, target)
        except (OSError, subprocess.CalledProcessError):
            return None
    try:
        return ctypes.CDLL(str(target))
    except OSError:
        return None


def available() -> bool:
    return library() is not None


def supports(tensor: torch.Tensor) -> bool:
    """Whether the native kernels handle this tensor's dtype and device."""
    return tensor.device.type == "cpu" and tensor.dtype in _SUFFIX


def _p(t: torch.Tensor | None) -> ctypes.c_void_p:
    return ctypes.c_void_p(None if t is None else t.data_ptr())


def _real(dtype: torch.dtype):
    return ctypes.c_float if dtype == torch.float32 else ctypes.c_double


def _fn(name: str, dtype: torch.dtype) -> Any:
    lib = library()
    assert lib is not None
    return getattr(lib, name + _SUFFIX[dtype])


def forward_loop(
    P, out, rec_t, V, cuba, spiking, alif, zero_reset, beta_mem, beta_syn, threshold,
    v_reset, adapt_beta, adapt_rho,
) -> None:  # fmt: skip
    """As :func:`._loops.make_loops`'s forward loop (same arguments, same effect)."""
    steps, batch, n = P.shape
    real = _real(P.dtype)
    state = P.new_zeros(3, batch, n)
    idx = torch.empty(n, dtype=torch.int64)
    rec = None if rec_t is None else rec_t.contiguous()
    _fn("forward", P.dtype)(
        ctypes.c_int64(steps), ctypes.c_int64(batch), ctypes.c_int64(n),
        _p(P), _p(out), _p(rec), _p(V),
        ctypes.c_int(cuba), ctypes.c_int(spiking), ctypes.c_int(alif), ctypes.c_int(zero_reset),
        real(beta_mem), real(beta_syn), real(threshold), real(v_reset),
        real(adapt_beta), real(adapt_rho),
        _p(state[0]), _p(state[1]), _p(state[2]), _p(idx),
    )  # fmt: skip


def backward(
    U, out, g_out, g_v, rec, x, want_w, want_rec, cuba, spiking, alif, zero_reset,
    detach_reset, beta_mem, beta_syn, threshold, v_reset, adapt_beta, adapt_rho, code, p1, p2,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:  # fmt: skip
    """``(gI, dW or None, dW_rec or None)``: the backward loop (as :mod:`._loops`'), with the
    weight gradients accumulated by events inside it (``dW`` only where ``x`` is sparse;
    ``x`` is the input ``(T, B, n_in)``)."""
    steps, batch, n = g_out.shape
    n_in = x.shape[2]
    G = U if spiking else memory.buffer(tuple(g_out.shape), g_out.dtype)
    if g_out.stride(2) != 1:
        g_out = g_out.contiguous()
    if g_v is not None and g_v.stride(2) != 1:
        g_v = g_v.contiguous()
    gv, gz, gi, ga = G.new_zeros(4, batch, n)
    s = G.new_empty(n)
    idx = torch.empty(n, dtype=torch.int64)
    grec_t = G.new_zeros(n, n) if want_rec and rec is not None else None
    fused_w = want_w and sparse_input(x.view(steps * batch, n_in))
    gw_t = G.new_zeros(n_in, n) if fused_w else None
    real = _real(G.dtype)
    step = _fn("backward_step", G.dtype)
    consts = (
        ctypes.c_int(cuba), ctypes.c_int(spiking), ctypes.c_int(alif),
        ctypes.c_int(zero_reset), ctypes.c_int(detach_reset),
        real(beta_mem), real(beta_syn), real(threshold), real(v_reset),
        real(adapt_beta), real(adapt_rho), ctypes.c_int(code), real(p1), real(p2),
    )  # fmt: skip
    # the arguments of every step; the per-step pointers (slots below) move by whole steps
    args = [
        ctypes.c_int64(batch), ctypes.c_int64(n),
        None, None,  # G[t], z[t]
        None, ctypes.c_int64(g_out.stride(1)),  # g_out[t]
        None, ctypes.c_int64(0 if g_v is None else g_v.stride(1)),  # g_v[t]
        None, _p(grec_t), None, ctypes.c_int64(n_in), _p(gw_t),  # z[t-1], x[t]
        _p(gv), _p(gz), _p(gi), _p(ga), _p(s), _p(idx), *consts,
    ]  # fmt: skip
    row = batch * n * G.element_size()
    moving = {  # slot: (address at t = 0, bytes per step)
        2: (G.data_ptr(), row),
        3: (out.data_ptr(), row) if spiking else None,
        4: (g_out.data_ptr(), g_out.stride(0) * g_out.element_size()),
        6: (g_v.data_ptr(), g_v.stride(0) * g_v.element_size()) if g_v is not None else None,
        10: (x.data_ptr(), batch * n_in * x.element_size()) if fused_w else None,
    }
    moving = {slot: where for slot, where in moving.items() if where is not None}
    for t in range(steps - 1, -1, -1):
        for slot, (base, stride) in moving.items():
            args[slot] = ctypes.c_void_p(base + t * stride)
        if grec_t is not None and t > 0:
            args[8] = ctypes.c_void_p(out.data_ptr() + (t - 1) * row)
        else:
            args[8] = None
        step(*args)
        if rec is not None and t > 0:
            torch.mm(G[t], rec, out=gz)
    gw = None
    if want_w:
        flat_g = G.view(steps * batch, n)
        gw = gw_t.t() if gw_t is not None else torch.mm(flat_g.t(), x.view(steps * batch, n_in))
    return G, gw, None if grec_t is None else grec_t.t()


def sparse_input(flat: torch.Tensor) -> bool:
    """Whether ``flat`` (rows, channels) is sparse enough to go by events."""
    return bool(torch.count_nonzero(flat) <= INPUT_DENSITY * flat.numel())


def project(flat: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``flat @ weight.T + bias`` (rows, n), over the nonzeros of ``flat`` where it is sparse."""
    rows, channels = flat.shape
    n = weight.shape[0]
    y = memory.buffer((rows, n), flat.dtype)
    if not sparse_input(flat):
        if bias is None:
            return torch.mm(flat, weight.t(), out=y)
        return torch.addmm(bias, flat, weight.t(), out=y)
    wt = weight.t().contiguous()
    b = None if bias is None else bias.contiguous()  # held: C reads it through a raw pointer
    _fn("project", flat.dtype)(
        ctypes.c_int64(rows), ctypes.c_int64(channels), ctypes.c_int64(n),
        _p(flat), _p(wt), _p(b), _p(y),
    )  # fmt: skip
    return y


__all__ = ["available", "backward", "forward_loop", "library", "project", "supports"]
