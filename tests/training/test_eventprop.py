"""EventProp: each engine against an independent peer.

- Continuous time: EventProp's gradient against central finite differences of the same forward
  (float64, relative error < 1e-5), for every loss, feed-forward and recurrent, LIF and CubaLIF,
  both resets.
- Discrete time: the adjoint against torch autograd through the euler forward in which each
  spike may move in time (``zhat = z + u[t] - u[t-1]``, the spike-time derivative the adjoint's
  jump expresses; written out densely below, independently of the engine): equal to 1e-10 at
  any dt. Without spikes, against plain autograd through the euler steps.
- Small-dt limit: the discrete gradient converges to the continuous one as dt shrinks.
- The forward pass is spike for spike nirbridge.reference's on the exported NIR graph.
- Memory: what the backward pass keeps grows with the spikes, not with the steps.
- Learning: the loss falls on a toy problem.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import nirbridge
from nirbridge import SimulationInputError, UnsupportedError
from nirbridge.learning import EventProp, Loss, Optimizer, Scope, rule_of
from nirbridge.training import LayerParams
from nirbridge.training.eventprop import (
    ContinuousLayer,
    continuous_gradient,
    continuous_run,
    discretize_continuous,
    eventprop_forward,
    eventprop_loss,
    layers_to_nir,
    readout_loss,
)

TTFS = Loss(name="ttfs", tau0=2e-3, tau1=10e-3, alpha=0.01)
LOSSES = {
    "ttfs": TTFS,
    "spike_count": Loss(name="spike_count"),
    "max_voltage": Loss(name="max_voltage"),
    "sum_voltage": Loss(name="sum_voltage"),
}
READOUT = {
    "ttfs": "first_spike_time",
    "spike_count": "spike_count",
    "max_voltage": "max_voltage",
    "sum_voltage": "sum_voltage",
}
SPIKING_READOUT = ("ttfs", "spike_count")


# --------------------------------------------------------------------------- discrete networks


def discrete_net(rng, hidden, readout_kind, *, rec=False, reset="subtract", dt=1e-3, n=(6, 8, 3)):
    """Random float64 layers whose hidden layer fires a few times per neuron and trial."""
    layers = []
    kinds = (hidden, readout_kind)
    for k, kind in enumerate(kinds):
        cuba = kind.startswith("cuba")
        spiking = kind in ("lif", "cubalif")
        mean = 0.12 if cuba else 0.45
        w = torch.tensor(rng.normal(mean, 1.2 * mean, (n[k + 1], n[k])))
        b = torch.tensor(rng.normal(0.0, 0.02, n[k + 1]))
        r = (
            torch.tensor(rng.normal(0.0, 0.5 * mean, (n[k + 1], n[k + 1])))
            if rec and spiking
            else None
        )
        params = LayerParams(
            kind=kind,
            dt=dt,
            tau_mem=20e-3,
            tau_syn=5e-3 if cuba else None,
            reset=reset,
            v_reset=0.1 if reset == "zero" else 0.0,
        )
        layers.append((w, b, r, params))
    return layers


def requiring_grad(layers):
    return [
        tuple(t.clone().requires_grad_() if isinstance(t, torch.Tensor) else t for t in layer)
        for layer in layers
    ]


def tensors_of(layers):
    return [t for layer in layers for t in layer[:3] if t is not None]


def moving_spike_readout(x, layers, readout):
    """The engine's readout, written as a dense autograd graph (O(T) memory, for checking).

    The euler step of _layers.py, in which every spike may move in time: ``u = z * (v' -
    sg(v')) / rise`` (value 0), the network sees ``zhat = z + u[t] - u[t-1]``, the reset takes
    ``D u[t]`` at t and gives back ``D' u[t]`` at t+1 (``D = D' = threshold`` for reset
    "subtract"; for "zero", ``D = v' - v_reset`` and ``D'`` adds the rise over the next step
    without input jumps). The first spike time is ``dt * (t - u[t])``.
    """
    steps, batch = x.shape[:2]
    dtype = layers[0][0].dtype
    x = x.to(dtype)
    out_w, _, _, out_p = layers[-1]
    never = steps + 1
    state = []
    for w, _, _, _ in layers:
        zero = torch.zeros(batch, w.shape[0], dtype=dtype)
        state.append({"i": zero, "v": zero, "u": zero, "back": zero, "zhat": zero})
    first = torch.full((batch, out_w.shape[0]), never)
    first_time = first.to(dtype) * out_p.dt
    count = torch.zeros(batch, out_w.shape[0], dtype=dtype)
    voltages = []
    for t in range(1, steps + 1):
        inp = x[t - 1]
        for k, (w, b, r, p) in enumerate(layers):
            s = state[k]
            drive = inp @ w.t() + (0 if b is None else b)
            if r is not None:
                drive = drive + s["zhat"] @ r.t()
            if p.kind in ("cubalif", "cubali"):
                s["i"] = p.beta_syn * s["i"] + drive
                cur = s["i"]
            else:
                cur = drive
            vp = p.beta_mem * s["v"] + cur
            if not p.spiking:
                s["v"] = vp
                continue
            z = (vp > p.threshold).to(dtype)
            held = vp.detach()
            rise = torch.maximum(held - s["v"].detach(), held - p.threshold)
            u = z * (vp - held) / torch.where(z > 0, rise, torch.ones_like(rise))
            if p.reset == "zero":
                now = z * (held - p.v_reset)
                steady = cur.detach() if p.kind == "cubalif" else (0.0 if b is None else b.detach())
                later = now + z * (steady - (1.0 - p.beta_mem) * held)
                v = vp - z * (vp - p.v_reset)
            else:
                now = later = z * p.threshold
                v = vp - z * p.threshold
            s["v"] = v - now * u + s["back"] * s["u"]
            zhat = z + u - s["u"]
            s["u"], s["back"], s["zhat"] = u, later, zhat
            if k == len(layers) - 1:
                count = count + zhat
                new = (z > 0) & (first == never)
                first = torch.where(new, torch.full_like(first, t), first)
                first_time = torch.where(new, p.dt * (t - u), first_time)
            inp = zhat
        voltages.append(state[-1]["v"])
    volts = torch.stack(voltages)
    if readout == "first_spike_time":
        return first_time
    if readout == "max_voltage":
        return volts.gather(0, volts.detach().argmax(0)[None])[0]
    if readout == "sum_voltage":
        return volts.sum(0)
    after = out_p.v_reset if out_p.reset == "zero" else 0.0
    return count + (state[-1]["v"] - after) / (out_p.threshold - after)


DISCRETE_CASES = [
    ("cubalif", "cubali", "sum_voltage", False, "subtract"),
    ("cubalif", "cubali", "max_voltage", True, "zero"),
    ("lif", "li", "sum_voltage", True, "subtract"),
    ("lif", "cubali", "max_voltage", False, "zero"),
    ("cubalif", "cubalif", "ttfs", False, "subtract"),
    ("cubalif", "cubalif", "ttfs", True, "zero"),
    ("lif", "cubalif", "ttfs", True, "subtract"),
    ("cubalif", "lif", "spike_count", True, "subtract"),
    ("lif", "lif", "spike_count", False, "zero"),
    ("cubalif", "cubalif", "spike_count", True, "zero"),
]


@pytest.mark.parametrize(("hidden", "readout_kind", "loss", "rec", "reset"), DISCRETE_CASES)
def test_adjoint_is_autograd_through_the_forward_with_moving_spikes(
    hidden, readout_kind, loss, rec, reset
):
    rng = np.random.default_rng(abs(hash((hidden, readout_kind, loss, rec, reset))) % 2**32)
    layers = requiring_grad(discrete_net(rng, hidden, readout_kind, rec=rec, reset=reset))
    x = torch.tensor((rng.random((60, 4, 6)) < 0.15).astype(np.float64))
    out = eventprop_forward(x, layers, LOSSES[loss])
    ref = moving_spike_readout(x, layers, READOUT[loss])
    assert out.stored_events > 100  # the hidden layers spiked: jumps were exercised
    torch.testing.assert_close(out.readout, ref, rtol=1e-12, atol=1e-12)
    cotangent = torch.tensor(rng.normal(size=tuple(ref.shape)))
    ours = torch.autograd.grad((out.readout * cotangent).sum(), tensors_of(layers))
    theirs = torch.autograd.grad((ref * cotangent).sum(), tensors_of(layers))
    for a, b in zip(ours, theirs, strict=True):
        assert torch.linalg.norm(a - b) <= 1e-10 * torch.linalg.norm(b) + 1e-14


@pytest.mark.parametrize("readout_kind", ["li", "cubali"])
def test_without_spikes_the_adjoint_is_backprop_through_the_euler_steps(readout_kind):
    """Silent hidden layers (threshold out of reach): the loss is a smooth function of the
    weights and its gradient is plain autograd through the step equations."""
    rng = np.random.default_rng(3)
    layers = discrete_net(rng, "cubalif", readout_kind, rec=True)
    silent = dataclasses.replace(layers[0][3], threshold=1e6)
    layers = requiring_grad([(*layers[0][:3], silent), layers[1]])
    x = torch.tensor((rng.random((50, 3, 6)) < 0.2).astype(np.float64))
    for loss in ("sum_voltage", "max_voltage"):
        out = eventprop_forward(x, layers, LOSSES[loss])
        assert out.stored_events == 0
        w0, b0, _, p0 = layers[0]
        w1, b1, _, p1 = layers[1]
        i0 = torch.zeros(3, 8, dtype=torch.float64)
        v0 = i0.clone()
        i1 = torch.zeros(3, 3, dtype=torch.float64)
        v1 = i1.clone()
        volts = []
        for t in range(50):
            i0 = p0.beta_syn * i0 + x[t] @ w0.t() + b0
            v0 = p0.beta_mem * v0 + i0
            drive = b1.expand(3, 3)  # the hidden layer never spikes
            i1 = p1.beta_syn * i1 + drive if readout_kind == "cubali" else drive
            v1 = p1.beta_mem * v1 + i1
            volts.append(v1)
        volts = torch.stack(volts)
        plain = volts.sum(0) if loss == "sum_voltage" else volts.max(0).values
        torch.testing.assert_close(out.readout, plain, rtol=1e-12, atol=1e-12)
        labels = torch.tensor([0, 2, 1])
        ours = torch.autograd.grad(readout_loss(out.readout, labels, LOSSES[loss]), [b1, w0, w1])
        (theirs,) = torch.autograd.grad(readout_loss(plain, labels, LOSSES[loss]), [b1])
        torch.testing.assert_close(ours[0], theirs, rtol=1e-12, atol=1e-15)
        assert torch.all(ours[1] == 0) and torch.all(ours[2] == 0)  # silent: no path


# ------------------------------------------------------------------------ continuous networks


def continuous_net(seed, kinds, *, rec=False, reset="subtract", n=(4, 5, 3), scale=1.0, inputs=10):
    """Random continuous-time layers firing a few spikes per neuron in 60 ms, and inputs."""
    rng = np.random.default_rng(seed)
    layers = []
    for k, kind in enumerate(kinds):
        cuba = kind.startswith("cuba")
        mean = (2.5 if cuba else 0.45) * scale
        layers.append(
            ContinuousLayer(
                kind=kind,
                weight=rng.normal(mean, 0.6 * mean, (n[k + 1], n[k])),
                bias=rng.normal(100.0, 100.0, n[k + 1]) if cuba else rng.normal(5.0, 5.0, n[k + 1]),
                rec_weight=(
                    rng.normal(0.0, 0.3 * mean, (n[k + 1], n[k + 1]))
                    if rec and kind in ("lif", "cubalif")
                    else None
                ),
                tau_mem=20e-3,
                tau_syn=5e-3 if cuba else None,
                gain=1.0 / 20e-3,
                reset=reset,
                v_reset=0.1 if reset == "zero" else 0.0,
            )
        )
    spikes = [(rng.uniform(0.0, 0.03, inputs), rng.integers(0, n[0], inputs)) for _ in range(3)]
    return layers, spikes


LABELS = torch.tensor([0, 1, 2])
T_END = 0.06
SUM_UNIT = 1e-3  # sum_voltage logits: the integral of V in units of 1 ms


def continuous_loss(layers, spikes, loss):
    result = continuous_run(layers, spikes, T_END, READOUT[loss])
    values = torch.tensor(result.values, requires_grad=True)
    logits = values / SUM_UNIT if loss == "sum_voltage" else values
    return readout_loss(logits, LABELS, LOSSES[loss]), result, values


def continuous_grads(layers, spikes, loss):
    value, result, values = continuous_loss(layers, spikes, loss)
    value.backward()
    return continuous_gradient(result, values.grad.numpy()), result


PARAMS = ("weight", "bias", "rec_weight")


def flat(grads):
    return np.concatenate([g.ravel() for triple in grads for g in triple if g is not None])


def perturbed(layers, direction, eps):
    out = []
    for layer, dirs in zip(layers, direction, strict=True):
        changes = {}
        for name, d in zip(PARAMS, dirs, strict=True):
            if d is not None:
                changes[name] = getattr(layer, name) + eps * d
        out.append(dataclasses.replace(layer, **changes))
    return out


def fd_relative_error(layers, spikes, loss, *, directions=4, seed=0):
    """Directional derivatives along random directions: EventProp's against central
    differences; the largest relative error."""
    grads, result = continuous_grads(layers, spikes, loss)
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(directions):
        direction = [
            tuple(
                None if getattr(l, name) is None else rng.normal(size=getattr(l, name).shape)
                for name in PARAMS
            )
            for l in layers
        ]
        analytic = sum(
            float(np.sum(g * d))
            for triple, dirs in zip(grads, direction, strict=True)
            for g, d in zip(triple, dirs, strict=True)
            if d is not None
        )
        eps = 1e-6  # truncation error ~ eps**2: crossings can curve the loss strongly
        up = continuous_loss(perturbed(layers, direction, eps), spikes, loss)[0].item()
        down = continuous_loss(perturbed(layers, direction, -eps), spikes, loss)[0].item()
        numeric = (up - down) / (2 * eps)
        worst = max(worst, abs(analytic - numeric) / abs(numeric))
    return worst, result


FD_CASES = [
    (("cubalif", "cubalif"), "ttfs"),
    (("cubalif", "cubalif"), "spike_count"),
    (("cubalif", "cubali"), "max_voltage"),
    (("cubalif", "cubali"), "sum_voltage"),
    (("lif", "cubalif"), "ttfs"),
    (("cubalif", "lif"), "ttfs"),
    (("lif", "lif"), "spike_count"),
    (("lif", "li"), "max_voltage"),
    (("lif", "cubali"), "sum_voltage"),
]


@pytest.mark.parametrize("rec", [False, True], ids=["feedforward", "recurrent"])
@pytest.mark.parametrize(("kinds", "loss"), FD_CASES)
def test_continuous_gradient_matches_central_differences(kinds, loss, rec):
    reset = "zero" if loss == "spike_count" else "subtract"
    layers, spikes = continuous_net(7, kinds, rec=rec, reset=reset)
    error, result = fd_relative_error(layers, spikes, loss)
    counts = result.spike_counts
    assert counts[0].sum() >= 6  # the hidden layer spiked: jumps were exercised
    if loss in SPIKING_READOUT:
        assert (counts[-1] > 0).sum(axis=1).min() >= 2  # two readout neurons fire per sample
    assert error < 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("kinds", "loss"), FD_CASES)
def test_continuous_gradient_matches_central_differences_per_weight(kinds, loss, seed):
    """Every parameter separately, larger networks, several seeds."""
    layers, spikes = continuous_net(seed, kinds, rec=seed % 2 == 1, n=(5, 7, 3))
    grads, _ = continuous_grads(layers, spikes, loss)
    numeric = []
    for k, layer in enumerate(layers):
        for name in PARAMS:
            value = getattr(layer, name)
            if value is None:
                continue
            eps = 1e-6 * max(1.0, float(np.abs(value).max()))
            fd = np.zeros_like(value)
            for idx in np.ndindex(value.shape):
                pm = []
                for sign in (1, -1):
                    changed = value.copy()
                    changed[idx] += sign * eps
                    trial = [
                        dataclasses.replace(l, **{name: changed}) if j == k else l
                        for j, l in enumerate(layers)
                    ]
                    pm.append(continuous_loss(trial, spikes, loss)[0].item())
                fd[idx] = (pm[0] - pm[1]) / (2 * eps)
            numeric.append(fd.ravel())
    numeric = np.concatenate(numeric)
    ours = flat(grads)
    if np.linalg.norm(numeric) == 0:
        pytest.skip("this draw's loss does not depend on the weights (no readout spike moves)")
    assert np.linalg.norm(ours - numeric) < 1e-5 * np.linalg.norm(numeric)


# ----------------------------------------------------------------------------- small-dt limit


def discrete_in_continuous_units(layers, spikes, loss, dt):
    x, net, scales = discretize_continuous(layers, spikes, T_END, dt)
    net = requiring_grad(net)
    out = eventprop_forward(x, net, LOSSES[loss])
    logits = out.readout * (dt / SUM_UNIT) if loss == "sum_voltage" else out.readout
    grads = torch.autograd.grad(readout_loss(logits, LABELS, LOSSES[loss]), tensors_of(net))
    grads = iter(grads)
    result = []
    for (_, b, r, _), (sw, sb) in zip(net, scales, strict=True):
        w_g = next(grads).numpy() * sw
        b_g = None if b is None else next(grads).numpy() * sb
        r_g = None if r is None else next(grads).numpy() * sw
        result.append((w_g, b_g, r_g))
    return result


CONVERGENCE_CASES = [
    (1, ("cubalif", "cubalif"), "ttfs", True, "subtract"),
    (1, ("cubalif", "cubalif"), "spike_count", True, "subtract"),
    (1, ("cubalif", "cubali"), "max_voltage", True, "zero"),
    (1, ("cubalif", "cubali"), "sum_voltage", True, "subtract"),
]


@pytest.mark.parametrize(("seed", "kinds", "loss", "rec", "reset"), CONVERGENCE_CASES)
def test_discrete_gradient_tends_to_the_continuous_one(seed, kinds, loss, rec, reset):
    """Same network on grids of 240, 960 and 3840 steps: the relative gradient error falls
    roughly like dt (the networks are generic draws: no crossing is near-tangential, no readout
    sits at a kink of its loss)."""
    layers, spikes = continuous_net(seed, kinds, rec=rec, reset=reset, scale=0.6, inputs=6)
    exact, _ = continuous_grads(layers, spikes, loss)
    exact = flat(exact)
    errors = []
    for dt in (2.5e-4, 6.25e-5, 1.5625e-5):
        approx = flat(discrete_in_continuous_units(layers, spikes, loss, dt))
        errors.append(np.linalg.norm(approx - exact) / np.linalg.norm(exact))
    assert errors[2] < 0.02
    assert errors[2] < errors[0] / 4


# ------------------------------------------------------------------ export and reference run


@pytest.mark.parametrize(
    ("hidden", "readout_kind", "loss", "rec", "reset"),
    [
        ("cubalif", "cubalif", "ttfs", True, "subtract"),
        ("lif", "lif", "spike_count", False, "zero"),
        ("cubalif", "cubali", "max_voltage", False, "subtract"),
        ("lif", "li", "sum_voltage", True, "zero"),
    ],
)
def test_forward_is_spike_exact_on_the_reference(hidden, readout_kind, loss, rec, reset):
    rng = np.random.default_rng(11)
    layers = discrete_net(rng, hidden, readout_kind, rec=rec, reset=reset, dt=5e-4)
    x = torch.tensor((rng.random((200, 5, 6)) < 0.1).astype(np.float64))
    out = eventprop_forward(x, layers, LOSSES[loss])
    rule = EventProp(
        scope=Scope(plastic_edges=(("input", "fc0"), ("n0", "fc1")), readout="n1"),
        loss=LOSSES[loss],
        optimizer=Optimizer.adam(1e-3),
    )
    graph = layers_to_nir(layers, rule=rule)
    path_graph = rule_of(graph)
    assert path_graph is not None and path_graph.kind == "eventprop"
    states = ["n1.v"] if readout_kind in ("li", "cubali") else []
    result = nirbridge.simulate(graph, {"input": x.numpy()}, batched=True, record=["n0", *states])
    hidden_spikes = out.spike_raster(0).numpy()
    assert hidden_spikes.sum() > 50
    np.testing.assert_array_equal(hidden_spikes, result.recorded["n0"])
    if readout_kind in ("lif", "cubalif"):
        np.testing.assert_array_equal(out.spike_raster(1).numpy(), result.outputs["output"])
    else:
        volts = result.recorded["n1.v"]
        expect = volts.max(0) if loss == "max_voltage" else volts.sum(0)
        np.testing.assert_allclose(out.readout.numpy(), expect, rtol=1e-12, atol=1e-12)


def test_export_round_trips_through_a_file(tmp_path):
    rng = np.random.default_rng(5)
    layers = discrete_net(rng, "cubalif", "cubalif", rec=True)
    rule = EventProp(
        scope=Scope(plastic_edges=(("input", "fc0"), ("n0", "fc1")), readout="n1"),
        loss=TTFS,
        optimizer=Optimizer.adam(1e-3),
    )
    path = tmp_path / "trained.nir"
    nirbridge.write(path, layers_to_nir(layers, rule=rule))
    graph = nirbridge.read(path)
    assert rule_of(graph).loss.tau0 == TTFS.tau0
    x = torch.tensor((rng.random((80, 2, 6)) < 0.15).astype(np.float64))
    result = nirbridge.simulate(graph, {"input": x.numpy()}, batched=True)
    out = eventprop_forward(x, layers, TTFS)
    np.testing.assert_array_equal(out.spike_raster(1).numpy(), result.outputs["output"])


# ---------------------------------------------------------------------------------- memory


def test_memory_grows_with_spikes_not_with_steps():
    """Input only in the first 40 steps and no bias: the activity dies out within about 120
    steps, after which 400 or 4000 steps keep the same events; the tape is the events times
    the bytes per event."""
    rng = np.random.default_rng(2)
    layers = [(w, None, r, p) for w, _, r, p in discrete_net(rng, "cubalif", "cubalif", rec=True)]
    layers = requiring_grad(layers)
    x = torch.zeros(4000, 4, 6, dtype=torch.float64)
    x[:40] = torch.tensor((rng.random((40, 4, 6)) < 0.3).astype(np.float64))
    short = eventprop_forward(x[:400], layers, TTFS)
    long = eventprop_forward(x, layers, TTFS)
    assert short.stored_events > 50
    assert long.stored_events == short.stored_events
    readout_state = 2 * 4 * 3 * 8  # first-spike steps (B, n_out) int64 and the argmax slot
    assert long.stored_bytes <= short.stored_events * (4 + 4 + 8) + readout_state
    assert long.stored_bytes == short.stored_bytes
    # and the gradients agree: the silent steps add nothing
    labels = torch.tensor([0, 1, 2, 0])
    g_short = torch.autograd.grad(readout_loss(short.readout, labels, TTFS), tensors_of(layers))
    g_long = torch.autograd.grad(readout_loss(long.readout, labels, TTFS), tensors_of(layers))
    for a, b in zip(g_short, g_long, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)


# -------------------------------------------------------------------------------- learning


@pytest.mark.parametrize("loss", ["ttfs", "spike_count", "max_voltage", "sum_voltage"])
def test_loss_falls_on_a_toy_problem(loss):
    """Three classes, each a fixed random spike pattern with jitter; 30 Adam steps."""
    gen = torch.Generator().manual_seed(0)
    steps, n_in, per_class = 60, 10, 8
    protos = (torch.rand(3, steps, n_in, generator=gen) < 0.05).float()
    x = protos.repeat_interleave(per_class, 0)
    flips = torch.rand(x.shape, generator=gen) < 0.01
    x = torch.where(flips, 1.0 - x, x).permute(1, 0, 2).contiguous()
    labels = torch.arange(3).repeat_interleave(per_class)
    readout_kind = "cubalif" if loss in SPIKING_READOUT else "cubali"
    hidden = LayerParams(kind="cubalif", dt=1e-3, tau_mem=20e-3, tau_syn=5e-3)
    out_p = LayerParams(kind=readout_kind, dt=1e-3, tau_mem=20e-3, tau_syn=5e-3)
    w0 = (torch.randn(30, n_in, generator=gen) * 0.15 + 0.15).requires_grad_()
    w1 = (torch.randn(3, 30, generator=gen) * 0.1 + 0.1).requires_grad_()
    opt = torch.optim.Adam([w0, w1], lr=0.01)
    history = []
    for _ in range(30):
        value = eventprop_loss(
            x, [(w0, None, None, hidden), (w1, None, None, out_p)], LOSSES[loss], labels
        )
        opt.zero_grad()
        value.backward()
        opt.step()
        history.append(value.item())
    assert min(history[-5:]) < 0.7 * history[0]


# --------------------------------------------------------------------------------- errors


def test_unsupported_layers_and_losses_are_named():
    rng = np.random.default_rng(0)
    layers = discrete_net(rng, "cubalif", "cubali")
    x = torch.zeros(10, 2, 6, dtype=torch.float64)
    with pytest.raises(UnsupportedError, match=r"layers\[1\] \(readout\).*'first_spike_time'"):
        eventprop_forward(x, layers, TTFS)
    alif = LayerParams(kind="alif", dt=1e-3, tau_mem=20e-3, adapt_tau=0.1, adapt_beta=0.1)
    with pytest.raises(UnsupportedError, match=r"layers\[0\].*'alif'"):
        eventprop_forward(x, [(*layers[0][:3], alif), layers[1]], "sum_voltage")
    with pytest.raises(UnsupportedError, match="mse_count"):
        eventprop_forward(x, layers, "mse_count")
    with pytest.raises(SimulationInputError, match=r"layers\[1\]: weight expected shape"):
        eventprop_forward(
            x, [layers[0], (layers[1][0].t(), None, None, layers[1][3])], "sum_voltage"
        )
