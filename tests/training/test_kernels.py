"""The fused kernels (nirbridge.training.kernels.run_layer) against three peers:

- torch autograd through a plain eager implementation of the same equations
  (tests/training/_kernel_reference.py): outputs and every gradient (x, weight, bias,
  recurrent weight), for every kind, recurrent or not, both resets, the reset detached or not,
  in float64 (forward to 1e-12, gradients to 1e-10 relative) and float32;
- snnTorch 1.0's Leaky / RLeaky (reset_delay=False, see test_vs_snntorch_*): spikes, voltages
  and gradients;
- nirbridge.reference running the equivalent NIR graph (Affine -> LIF/CubaLIF/LI/CubaLI with
  r = tau_mem/dt, w_in = tau_syn/dt, a Linear back edge for the recurrence): spike for spike;
- alif: the forward of the e-prop engine (nirbridge.training.eprop, NEST's eprop_iaf_adapt to
  round-off), whose spike subtracts the base threshold: spike for spike.
"""

from __future__ import annotations

import math

import nir
import numpy as np
import pytest

from nirbridge._errors import UnsupportedError
from tests.conftest import require

torch = require("torch")

from nirbridge.graph import with_metadata  # noqa: E402
from nirbridge.reference import simulate  # noqa: E402
from nirbridge.training import LayerParams  # noqa: E402
from nirbridge.training.kernels import IMPLS, available, default_impl, run_layer  # noqa: E402
from nirbridge.training.surrogates import SurrogateFunction  # noqa: E402

from ._kernel_reference import reference_layer  # noqa: E402

DT = 1e-3
F64 = torch.float64
SURROGATE = SurrogateFunction.fast_sigmoid(4.0)

#: (kind, reset, recurrent) of every configuration the kernels run.
CONFIGS = [
    (kind, reset, rec)
    for kind in ("lif", "cubalif", "alif")
    for reset in ("subtract", "zero")
    for rec in (False, True)
    if not (kind == "alif" and reset == "zero")
] + [("li", "subtract", False), ("cubali", "subtract", False)]

#: Each configuration with the reset detached and not (li/cubali have no reset to detach).
WITH_DETACH = [
    pytest.param(
        *config, detach, id=f"{'-'.join(map(str, config))}-{'detach' if detach else 'full'}"
    )
    for config in CONFIGS
    for detach in ((False, True) if config[0] not in ("li", "cubali") else (False,))
]


def layer_params(kind: str, reset: str, v_reset: float = -0.3) -> LayerParams:
    return LayerParams(
        kind=kind,
        dt=DT,
        tau_mem=8e-3,
        tau_syn=4e-3 if kind in ("cubalif", "cubali") else None,
        threshold=0.9,
        reset=reset,
        v_reset=v_reset if reset == "zero" else 0.0,
        adapt_tau=30e-3 if kind == "alif" else None,
        adapt_beta=0.4 if kind == "alif" else 0.0,
    )


def layer_tensors(seed: int, kind: str, recurrent: bool, *, steps=30, batch=3, n_in=5, n=6):
    """Input spikes and weights giving moderate activity (tests assert it)."""
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(steps, batch, n_in, generator=gen) < 0.35).to(F64)
    gain = 0.5 if kind in ("cubalif", "cubali") else 1.0
    w = (torch.randn(n, n_in, generator=gen, dtype=F64) * 0.5 + 0.2) * gain * (5 / n_in)
    b = torch.randn(n, generator=gen, dtype=F64) * 0.05
    rec = torch.randn(n, n, generator=gen, dtype=F64) * 0.4 * gain if recurrent else None
    return x, w, b, rec


def close(a, b, *, atol, rtol=0.0, err_msg=""):
    a, b = (t.detach().numpy() if isinstance(t, torch.Tensor) else t for t in (a, b))
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=err_msg)


def _grads(out, volt, inputs, seed):
    gen = torch.Generator().manual_seed(seed + 1000)
    g_out = torch.randn(out.shape, generator=gen, dtype=out.dtype)
    g_volt = torch.randn(volt.shape, generator=gen, dtype=out.dtype)
    loss = (out * g_out).sum() + (volt * g_volt).sum()
    return torch.autograd.grad(loss, inputs)


def _assert_close_grads(ours, theirs, rtol, names):
    for name, a, b in zip(names, ours, theirs, strict=True):
        scale = b.abs().max().item()
        assert scale > 0, f"{name}: the reference gradient is zero; the check would be empty"
        close(a, b, rtol=rtol, atol=rtol * scale, err_msg=name)


def _run_both(impl, kind, reset, rec, detach, seed, dtype=F64, **sizes):
    p = layer_params(kind, reset)
    x, w, b, r = (
        None if t is None else t.to(dtype) for t in layer_tensors(seed, kind, rec, **sizes)
    )
    inputs = [t.requires_grad_() for t in (x, w, b, r) if t is not None]
    names = ["x", "weight", "bias", "rec_weight"][: len(inputs)]
    out, volt = run_layer(
        x, w, b, r, p, SURROGATE, detach_reset=detach, return_voltage=True, impl=impl
    )
    ref_out, ref_volt = reference_layer(x, w, b, r, p, SURROGATE, detach_reset=detach)
    ours = _grads(out, volt, inputs, seed)
    theirs = _grads(ref_out, ref_volt, inputs, seed)
    return p, (out, volt, ours), (ref_out, ref_volt, theirs), names


def _check_activity(p: LayerParams, out: torch.Tensor) -> None:
    if p.spiking:
        rate = out.mean().item()
        assert 0.03 < rate < 0.8, f"spike rate {rate:.3f}: the check would not exercise spikes"


@pytest.mark.parametrize("impl", ["native", "script", "eager"])
@pytest.mark.parametrize(("kind", "reset", "rec", "detach"), WITH_DETACH)
def test_kernel_equals_autograd_reference_float64(impl, kind, reset, rec, detach):
    p, (out, volt, ours), (ref_out, ref_volt, theirs), names = _run_both(
        impl, kind, reset, rec, detach, seed=CONFIGS.index((kind, reset, rec))
    )
    _check_activity(p, ref_out)
    if p.spiking:
        assert torch.equal(out, ref_out)
    close(out, ref_out, atol=1e-12)
    close(volt, ref_volt, atol=1e-12)
    _assert_close_grads(ours, theirs, 1e-10, names)


def test_compile_impl_equals_autograd_reference():
    """One configuration under torch.compile (compiling takes seconds; the rest is slow)."""
    _, (out, volt, ours), (ref_out, ref_volt, theirs), names = _run_both(
        "compile", "lif", "subtract", True, False, seed=5
    )
    assert torch.equal(out, ref_out)
    close(volt, ref_volt, atol=1e-12)
    _assert_close_grads(ours, theirs, 1e-10, names)


@pytest.mark.slow
def test_compile_impl_survives_global_symbol_loading(tmp_path):
    """PyNEST leaves ``sys.setdlopenflags(RTLD_NOW | RTLD_GLOBAL)`` set, under which inductor's
    compiled modules (each exporting ``kernel``) call each other's code and crash; the compile
    implementation loads them RTLD_LOCAL. A fresh process with a fresh inductor cache, so that
    the modules are loaded anew."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    code = (
        "import os, sys; sys.setdlopenflags(os.RTLD_NOW | os.RTLD_GLOBAL); "
        "from tests.training import test_kernels as t; "
        "t.test_compile_impl_equals_autograd_reference(); print('ok')"
    )
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "reset", "rec", "detach"), WITH_DETACH)
def test_compile_impl_every_configuration(kind, reset, rec, detach):
    torch._dynamo.reset()  # each configuration compiles afresh (no recompile limit reached)
    p, (out, volt, ours), (ref_out, ref_volt, theirs), names = _run_both(
        "compile", kind, reset, rec, detach, seed=11
    )
    close(out, ref_out, atol=1e-12)
    close(volt, ref_volt, atol=1e-12)
    _assert_close_grads(ours, theirs, 1e-10, names)


@pytest.mark.slow
@pytest.mark.parametrize("impl", ["native", "script", "eager"])
@pytest.mark.parametrize(("kind", "reset", "rec"), CONFIGS)
def test_kernel_equals_autograd_reference_long_runs(impl, kind, reset, rec):
    """More steps and neurons than the default test (block boundaries of the backward)."""
    p, (out, volt, ours), (ref_out, ref_volt, theirs), names = _run_both(
        impl, kind, reset, rec, False, seed=23, steps=301, batch=4, n_in=12, n=40
    )
    _check_activity(p, ref_out)
    close(out, ref_out, atol=1e-12)
    close(volt, ref_volt, atol=1e-11)
    _assert_close_grads(ours, theirs, 1e-10, names)


@pytest.mark.parametrize("impl", ["native", "script", "eager"])
@pytest.mark.parametrize(
    ("kind", "reset", "rec"),
    [
        ("lif", "subtract", True),
        ("alif", "subtract", True),
        ("cubalif", "zero", True),
        ("li", "subtract", False),
    ],
)
def test_kernel_float32(impl, kind, reset, rec):
    p, (out, volt, ours), (ref_out, ref_volt, theirs), names = _run_both(
        impl, kind, reset, rec, False, seed=3, dtype=torch.float32
    )
    assert out.dtype == torch.float32 and all(g.dtype == torch.float32 for g in ours)
    if p.spiking:
        assert torch.equal(out, ref_out)
    close(volt, ref_volt, atol=1e-5)
    _assert_close_grads(ours, theirs, 1e-4, names)


def test_detach_reset_changes_the_gradient():
    """The reference's two modes differ here, so the kernel tests above see the flag."""
    p = layer_params("lif", "subtract")
    x, w, b, r = layer_tensors(1, "lif", True)
    grads = []
    for detach in (False, True):
        wg = w.clone().requires_grad_()
        out = run_layer(x, wg, b, r, p, SURROGATE, detach_reset=detach)
        grads.append(torch.autograd.grad(out.sum(), wg)[0])
    assert (grads[0] - grads[1]).abs().max() > 1e-3


@pytest.mark.parametrize("impl", ["native", "script"])
def test_strided_arguments(impl):
    """Weights, bias and input as strided views (the native kernels read raw pointers)."""
    p = layer_params("cubalif", "zero")
    gen = torch.Generator().manual_seed(12)
    x = (torch.rand(3, 30, 20, generator=gen) < 0.1).to(F64).transpose(0, 1)[:, :, ::2]
    w = (torch.randn(10, 7, generator=gen, dtype=F64) * 0.4 + 0.5).T.requires_grad_()
    b = (torch.randn(7, 2, generator=gen, dtype=F64) * 0.1)[:, 1].requires_grad_()
    r = (torch.randn(7, 7, generator=gen, dtype=F64) * 0.3).T.requires_grad_()
    assert not (x.is_contiguous() or w.is_contiguous() or b.is_contiguous())
    out = run_layer(x, w, b, r, p, SURROGATE, impl=impl)
    ref, _ = reference_layer(x, w, b, r, p, SURROGATE)
    _check_activity(p, ref)
    close(out, ref, atol=1e-12)
    ours = torch.autograd.grad(out.sum(), [w, b, r])
    theirs = torch.autograd.grad(ref.sum(), [w, b, r])
    _assert_close_grads(ours, theirs, 1e-10, ["weight", "bias", "rec_weight"])


@pytest.mark.parametrize("impl", ["native", "script"])
@pytest.mark.parametrize(
    "surrogate",
    [
        SurrogateFunction.fast_sigmoid(7.0),
        SurrogateFunction.atan(3.0),
        SurrogateFunction.piecewise_linear(0.8, 0.6),
        SurrogateFunction.exponential(1.7, 2.5),
    ],
    ids=lambda fn: fn.function,
)
def test_every_surrogate(impl, surrogate):
    """Each schema surrogate in the kernels (the native ones compute it in C) against autograd
    through the reference, whose spike uses surrogates.py (itself checked against snnTorch
    and closed forms in test_surrogates.py)."""
    p = layer_params("alif", "subtract")
    x, w, b, r = layer_tensors(8, "alif", True)
    inputs = [t.requires_grad_() for t in (x, w, b, r)]
    out, volt = run_layer(x, w, b, r, p, surrogate, return_voltage=True, impl=impl)
    ref_out, ref_volt = reference_layer(x, w, b, r, p, surrogate)
    _check_activity(p, ref_out)
    assert torch.equal(out, ref_out)
    ours, theirs = _grads(out, volt, inputs, 8), _grads(ref_out, ref_volt, inputs, 8)
    _assert_close_grads(ours, theirs, 1e-10, ["x", "weight", "bias", "rec_weight"])


def test_schema_surrogate_and_partial_gradients():
    from nirbridge.learning import Surrogate

    p = layer_params("lif", "zero")
    x, w, _, r = layer_tensors(2, "lif", True)
    w.requires_grad_()
    rule = Surrogate(function="exponential", height=0.7, beta=3.0)
    out = run_layer(x, w, None, r, p, rule)
    ref, _ = reference_layer(x, w, None, r, p, SurrogateFunction.exponential(0.7, 3.0))
    assert torch.equal(out, ref)
    (ours,) = torch.autograd.grad(out.sum(), w)
    (theirs,) = torch.autograd.grad(ref.sum(), w)
    close(ours, theirs, rtol=1e-10, atol=1e-12)


def test_second_backward_through_one_forward_is_refused():
    p = layer_params("lif", "subtract")
    x, w, b, _ = layer_tensors(4, "lif", False)
    w.requires_grad_()
    out = run_layer(x, w, b, None, p, SURROGATE)
    out.sum().backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="once per forward"):
        out.sum().backward()


def test_inference_needs_no_surrogate_and_training_does():
    p = layer_params("lif", "subtract")
    x, w, b, _ = layer_tensors(4, "lif", False)
    with torch.no_grad():
        assert run_layer(x, w, b, None, p).shape == (30, 3, 6)
    with pytest.raises(UnsupportedError, match="surrogate"):
        run_layer(x, w.requires_grad_(), b, None, p)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"impl": "fast"}, "impl"),
        ({"x": torch.zeros(3, 5)}, "x"),
        ({"weight": torch.zeros(6, 4, dtype=F64)}, "weight"),
        ({"bias": torch.zeros(5, dtype=F64)}, "bias"),
        ({"rec_weight": torch.zeros(6, 5, dtype=F64)}, "rec_weight"),
        ({"weight": torch.zeros(6, 5)}, "weight"),
        (
            {"params": layer_params("li", "subtract"), "rec_weight": torch.zeros(6, 6, dtype=F64)},
            "li does not spike",
        ),
    ],
)
def test_bad_arguments_are_named(change, match):
    x, w, b, _ = layer_tensors(0, "lif", False)
    args = {"x": x, "weight": w, "bias": b, "rec_weight": None}
    args |= {"params": layer_params("lif", "subtract"), "impl": "auto"}
    args |= change
    impl = args.pop("impl")
    with pytest.raises(UnsupportedError, match=match):
        run_layer(**args, surrogate=SURROGATE, impl=impl)


def test_every_impl_is_listed_and_native_builds_here():
    """The project's machines have a C compiler (torch.compile needs one too), so the native
    kernels must build; elsewhere impl="auto" falls back to TorchScript."""
    assert IMPLS == ("native", "script", "eager", "compile")
    assert available("native")
    assert default_impl() == "native"


def test_without_a_c_compiler_auto_falls_back_to_torchscript(monkeypatch, tmp_path):
    from nirbridge.training.kernels import _native

    p = layer_params("lif", "subtract")
    x, w, b, r = layer_tensors(6, "lif", True)
    w.requires_grad_()
    try:
        with monkeypatch.context() as patch:
            patch.setenv("CC", str(tmp_path / "no-such-compiler"))
            patch.setenv("NIRBRIDGE_CACHE", str(tmp_path / "cache"))
            _native.library.cache_clear()
            assert not available("native")
            assert default_impl() == "script"
            out = run_layer(x, w, b, r, p, SURROGATE)
            assert torch.equal(out, reference_layer(x, w, b, r, p, SURROGATE)[0])
            with pytest.raises(UnsupportedError, match="C compiler"):
                run_layer(x, w, b, r, p, SURROGATE, impl="native")
    finally:
        _native.library.cache_clear()  # built again, with the real compiler, on next use
    assert available("native")


@pytest.mark.parametrize("impl", ["native", "script"])
@pytest.mark.parametrize(("kind", "rec"), [("lif", True), ("alif", True), ("li", False)])
def test_sparse_input_and_broadcast_gradient(impl, kind, rec):
    """Sparse input spikes (the native kernels project them, and take the input weight
    gradient, by events) and a loss whose gradient reaches the layer as a stride-0 view."""
    p = layer_params(kind, "subtract")
    gen = torch.Generator().manual_seed(9)
    x = (torch.rand(50, 4, 40, generator=gen) < 0.06).to(F64)
    w = (torch.randn(7, 40, generator=gen, dtype=F64) * 0.6 + 0.5).requires_grad_()
    b = (torch.randn(7, generator=gen, dtype=F64) * 0.05).requires_grad_()
    r = (torch.randn(7, 7, generator=gen, dtype=F64) * 0.3).requires_grad_() if rec else None
    g = torch.randn(7, generator=gen, dtype=F64)
    inputs = [t for t in (w, b, r) if t is not None]
    out = run_layer(x, w, b, r, p, SURROGATE, impl=impl)
    ref, _ = reference_layer(x, w, b, r, p, SURROGATE)
    _check_activity(p, ref)
    close(out, ref, atol=1e-12)
    ours = torch.autograd.grad(out.sum((0, 1)) @ g, inputs)
    theirs = torch.autograd.grad(ref.sum((0, 1)) @ g, inputs)
    _assert_close_grads(ours, theirs, 1e-10, ["weight", "bias", "rec_weight"][: len(inputs)])


# ---------------------------------------------------------------------------------------------
# snnTorch


@pytest.mark.snntorch
@pytest.mark.parametrize("rec", [False, True], ids=["Leaky", "RLeaky"])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_vs_snntorch(rec, reset):
    """snnTorch's Leaky/RLeaky with ``reset_delay=False`` compute ``v' = beta*v + input``,
    spike on ``v' > threshold`` and reset in the same step (``v - threshold`` or 0): our lif
    with ``v_reset = 0``. Its reset bookkeeping (``do_reset = spk - reset`` with ``reset =
    H(v_stored - threshold)``) subtracts once more only when v stays above threshold after a
    reset; the inputs here keep v at or below threshold, which the test checks on our voltage.
    RLeaky's recurrent Linear carries a bias in every step (spikes zero at the first), which is
    our layer's bias; its spike function is given our surrogate's, so gradients compare too."""
    snn = require("snntorch")
    p = layer_params("lif", reset, v_reset=0.0)
    gen = torch.Generator().manual_seed(7)
    steps, batch, n_in, n = 40, 3, 5, 6
    x = (torch.rand(steps, batch, n_in, generator=gen) < 0.35).to(F64).requires_grad_()
    w = (torch.rand(n, n_in, generator=gen, dtype=F64) * 0.3).requires_grad_()
    b = (torch.rand(n, generator=gen, dtype=F64) * 0.05).requires_grad_()
    r = (torch.randn(n, n, generator=gen, dtype=F64) * 0.15).requires_grad_() if rec else None
    beta = torch.tensor(p.beta_mem, dtype=F64)
    threshold = torch.tensor(p.threshold, dtype=F64)  # float64 (a float would be stored as float32)
    if rec:
        neuron = snn.RLeaky(
            beta=beta,
            threshold=threshold,
            reset_mechanism=reset,
            reset_delay=False,
            all_to_all=True,
            linear_features=n,
            spike_grad=SURROGATE.spike,
        ).to(F64)
        with torch.no_grad():
            neuron.recurrent.weight.copy_(r)
            neuron.recurrent.bias.copy_(b)
    else:
        neuron = snn.Leaky(
            beta=beta,
            threshold=threshold,
            reset_mechanism=reset,
            reset_delay=False,
            spike_grad=SURROGATE.spike,
        )
    spk = torch.zeros(batch, n, dtype=F64)
    mem = torch.zeros(batch, n, dtype=F64)
    spikes, mems = [], []
    for t in range(steps):
        if rec:
            spk, mem = neuron(x[t] @ w.T, spk, mem)
        else:
            spk, mem = neuron(x[t] @ w.T + b, mem)
        spikes.append(spk)
        mems.append(mem)
    theirs = (torch.stack(spikes), torch.stack(mems))
    ours = run_layer(x, w, b, r, p, SURROGATE, return_voltage=True)
    assert (ours[1] <= p.threshold).all()  # the precondition (docstring)
    assert 0.05 < ours[0].mean().item() < 0.6
    assert torch.equal(ours[0], theirs[0])
    close(ours[1].detach(), theirs[1].detach(), atol=1e-12)
    inputs = [x, w, b] + ([r] if rec else [])
    their_params = [x, w] + ([neuron.recurrent.bias, neuron.recurrent.weight] if rec else [b])
    g_ours = _grads(*ours, inputs, seed=1)
    g_theirs = _grads(*theirs, their_params, seed=1)
    names = ["x", "weight", "bias", "rec_weight"][: len(inputs)]
    _assert_close_grads(g_ours, g_theirs, 1e-10, names)


# ---------------------------------------------------------------------------------------------
# nirbridge.reference


def _nir_graph(p: LayerParams, w, b, r) -> nir.NIRGraph:
    """Input -> Affine -> neuron -> Output (and neuron -> Linear -> neuron), the layer as NIR:
    ``r = tau_mem/dt`` makes the euler LIF ``v' = beta*v + I``, ``w_in = tau_syn/dt`` the
    current ``i = beta_syn*i + I``."""
    n, n_in = w.shape
    full = np.full(n, 1.0)
    common = {"v_leak": 0 * full}
    if p.spiking:
        common |= {"v_threshold": p.threshold * full, "v_reset": p.v_reset * full}
    if p.kind in ("lif", "li"):
        params = {"tau": p.tau_mem * full, "r": p.tau_mem / p.dt * full, **common}
        node = nir.LIF(**params) if p.kind == "lif" else nir.LI(**params)
    else:
        params = {
            "tau_syn": p.tau_syn * full,
            "tau_mem": p.tau_mem * full,
            "r": p.tau_mem / p.dt * full,
            "w_in": p.tau_syn / p.dt * full,
            **common,
        }
        node = nir.CubaLIF(**params) if p.kind == "cubalif" else nir.CubaLI(**params)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([n_in])}),
        "fc": nir.Affine(weight=w.numpy(), bias=b.numpy()),
        "n": node,
        "output": nir.Output(output_type={"output": np.array([n])}),
    }
    edges = [("input", "fc"), ("fc", "n"), ("n", "output")]
    if r is not None:
        nodes["rec"] = nir.Linear(weight=r.numpy())
        edges += [("n", "rec"), ("rec", "n")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    return with_metadata(graph, dt=p.dt, reset=p.reset)


@pytest.mark.parametrize(
    ("kind", "reset", "rec"), [c for c in CONFIGS if c[0] != "alif"]
)  # NIR has no adaptive neuron
def test_vs_reference_simulator(kind, reset, rec):
    p = layer_params(kind, reset)
    x, w, b, r = layer_tensors(17, kind, rec, steps=80, batch=4)
    out, volt = run_layer(x, w, b, r, p, return_voltage=True)
    result = simulate(_nir_graph(p, w, b, r), {"input": x.numpy()}, batched=True, record=["n.v"])
    _check_activity(p, out)
    theirs = result.outputs["output"]
    if p.spiking:
        np.testing.assert_array_equal(out.numpy(), theirs)
    else:
        close(out.numpy(), theirs, atol=1e-11)
    close(volt.numpy(), result.recorded["n.v"], atol=1e-11)


# ---------------------------------------------------------------------------------------------
# nirbridge.training.eprop (NEST's eprop_iaf_adapt)


@pytest.mark.parametrize("impl", ["native", "script", "eager"])
@pytest.mark.parametrize("autapses", [False, True], ids=["no-autapses", "autapses"])
def test_alif_vs_eprop_forward(impl, autapses):
    """ALIF spikes equal those of the e-prop engine's forward (which reproduces NEST's
    ``eprop_iaf_adapt`` to round-off, tests/training/test_eprop.py): both subtract the base
    threshold on a spike. NEST spikes on ``v' >= th``, we on ``v' > th``; with random float64
    weights no step lands on the threshold (the test checks the margin). The e-prop network
    has no bias; its readout, an li layer on the hidden spikes, is checked too. NEST's
    networks have no autapses, so w_rec's diagonal is zero unless ``autapses=True``."""
    from nirbridge.learning import EProp, EPropSurrogate, Optimizer, Scope
    from nirbridge.training.eprop import EPropLearner

    hidden = LayerParams("alif", DT, tau_mem=20e-3, threshold=0.6, adapt_tau=60e-3, adapt_beta=0.5)
    readout = LayerParams("li", DT, tau_mem=30e-3)
    rule = EProp(
        scope=Scope(plastic_edges=(("input", "w_in"),), readout="readout"),
        variant="online",
        neuron="alif",
        adapt_beta=hidden.adapt_beta,
        adapt_tau=hidden.adapt_tau,
        surrogate=EPropSurrogate(function="piecewise_linear", beta=2.0, gamma=0.3),
        feedback="symmetric",
        kappa=0.95,
        kappa_reg=0.97,
        optimizer=Optimizer.adam(1e-3, epsilon=1e-7),
    )
    gen = torch.Generator().manual_seed(31)
    steps, batch, n_in, n, n_out = 200, 3, 8, 12, 2
    x = (torch.rand(steps, batch, n_in, generator=gen) < 0.2).to(F64)
    w_in = torch.randn(n, n_in, generator=gen, dtype=F64) * 0.4 + 0.3
    w_rec = torch.randn(n, n, generator=gen, dtype=F64) * 0.3
    if not autapses:
        w_rec.fill_diagonal_(0.0)
    w_out = torch.randn(n_out, n, generator=gen, dtype=F64) * 0.5
    learner = EPropLearner(
        rule, hidden, readout, w_in=w_in, w_rec=w_rec, w_out=w_out, autapses=autapses
    )
    their_z, their_y = learner.forward(x)

    z, v = run_layer(x, w_in, None, w_rec, hidden, return_voltage=True, impl=impl)
    a = torch.zeros(batch, n, dtype=F64)  # a[t-1]
    margin, adapted = math.inf, 0
    for t in range(steps):
        th = hidden.threshold + hidden.adapt_beta * a
        v_pre = v[t] + z[t] * hidden.threshold  # undo the reset: v'[t]
        margin = min(margin, (v_pre - th).abs().min().item())
        adapted += int((z[t].bool() & (th > hidden.threshold + 0.1)).sum())
        a = hidden.adapt_rho * a + z[t]
    assert margin > 1e-9, "a step lands on the threshold: >= and > could differ"
    assert 0.03 < z.mean().item() < 0.5
    assert adapted > 50, "too few spikes with a raised threshold to tell the resets apart"
    assert torch.equal(z, their_z)
    y = run_layer(z, w_out, None, None, readout, impl=impl)
    close(y, their_y, atol=1e-12)
