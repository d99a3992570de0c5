"""e-prop in PyTorch against NEST 3.10, against BPTT, and against the reference simulator.

- NEST: the same network, weights, inputs and rule run in NEST (tests/training/_eprop_nest.py);
  the weights NEST sends every spike with, and its final weights, equal ours to float64
  round-off. NEST's own e-prop test suite publishes losses of its regression tasks; we
  reproduce them.
- BPTT: without recurrent weights e-prop computes the exact gradient (given the
  pseudo-derivative, with the reset detached): autograd through an independent forward
  (tests/training/_eprop_bptt.py) gives the same to < 1e-10 in float64.
- Reference: the network exported to NIR runs spike for spike on nirbridge.reference.
"""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import pytest
import torch

import nirbridge
from nirbridge import LearningRuleError
from nirbridge.learning import EProp, EPropSurrogate, Optimizer, Scope
from nirbridge.training import LayerParams
from nirbridge.training.eprop import EPropLearner, eprop_gradients
from tests.conftest import require

from ._eprop_bptt import bptt_loss

DT = 1e-3
SCOPE = Scope(plastic_edges=(("input", "w_in"),), readout="readout")
#: weights agree with NEST's to this, relative to max(1, |w|)
NEST_TOL = 1e-12


def _nest():
    require("nest")  # imports pyNN.nest, which loads NEST
    import nest

    nest.verbosity = nest.VerbosityLevel.ERROR
    return nest


@dataclasses.dataclass
class Case:
    variant: str = "online"
    neuron: str = "lif"
    optimizer: str = "adam"
    feedback: str = "symmetric"
    loss: str = "mean_squared_error"
    surrogate: str = "piecewise_linear"
    each_step: bool = True
    cutoff: float | None = None
    c_reg: float = 0.0
    batch_size: int = 1
    average: bool = False
    reset: bool = True
    recurrent: bool = True
    lr: float = 1e-3
    steps: int = 300
    sizes: tuple[int, int, int] = (4, 10, 2)
    seed: int = 0


def _build(case: Case, **learner):
    """Learner, input and target of a case: random weights, Poisson-like input, a sine target
    (regression) or one-hot labels (classification), trials of 50 steps for bsshslm_2020."""
    rng = np.random.default_rng(case.seed)
    n_in, n_hid, n_out = case.sizes
    alif = case.neuron == "alif"
    hidden = LayerParams(
        "alif" if alif else "lif",
        DT,
        tau_mem=0.02,
        threshold=0.5,
        adapt_tau=0.05 if alif else None,
        adapt_beta=0.3 if alif else 0.0,
    )
    readout = LayerParams("li", DT, tau_mem=0.03)
    if case.optimizer == "adam":
        opt = Optimizer.adam(case.lr, epsilon=1e-7, batch_size=case.batch_size)
    else:
        opt = Optimizer.sgd(case.lr * 5, batch_size=case.batch_size)
    fields = dict(
        scope=SCOPE,
        variant=case.variant,
        neuron=case.neuron,
        surrogate=EPropSurrogate(function=case.surrogate, beta=2.0, gamma=0.3),
        feedback=case.feedback,
        B=rng.normal(size=(n_hid, n_out)) if case.feedback == "random" else None,
        optimizer=opt,
        optimize_each_step=case.each_step,
        c_reg=case.c_reg,
        f_target=10.0,
        loss=case.loss,
    )
    if alif:
        fields.update(adapt_beta=0.3, adapt_tau=0.05)
    if case.variant == "online":
        fields.update(kappa=0.95, kappa_reg=0.97, isi_trace_cutoff=case.cutoff)
    else:
        fields.update(
            learning_window=0.02,
            update_interval=0.05,
            average_gradient=case.average,
            reset_neurons_on_update=case.reset,
        )
    rule = EProp(**fields)
    w_in = rng.normal(0.4, 0.4, (n_hid, n_in))
    w_rec = None
    if case.recurrent:
        w_rec = rng.normal(0.0, 0.2, (n_hid, n_hid))
        np.fill_diagonal(w_rec, 0.0)
    w_out = rng.normal(0.0, 0.5, (n_out, n_hid))
    learner = EPropLearner(rule, hidden, readout, w_in=w_in, w_rec=w_rec, w_out=w_out, **learner)
    if case.variant == "online":
        steps, batch = case.steps, 1
    else:
        steps, batch = 50, case.steps // 50
    x = (rng.random((steps, batch, n_in)) < 0.15).astype(np.float64)
    if case.variant != "online":
        x[0] = 0.0  # NEST drops a trial's first step
    if case.loss == "cross_entropy":
        labels = rng.integers(0, n_out, batch)
        target = np.zeros((steps, batch, n_out))
        target[:, np.arange(batch), labels] = 1.0
    else:
        phase = np.arange(steps)[:, None, None] / 10.0 + np.arange(n_out)
        target = 0.5 * np.sin(phase) * np.ones((steps, batch, n_out))
    return learner, x, target


def _weights(learner) -> list[np.ndarray]:
    return [w.detach().numpy().copy() for w in (learner.w_in, learner.w_rec, learner.w_out)]


def _against_nest(case: Case) -> tuple[float, int]:
    """Train in NEST and here; the largest difference of the weights NEST sent spikes with
    (weight recorder) from ours in the same step, and how many such events there were."""
    nest = _nest()
    from ._eprop_nest import run_nest

    learner, x, target = _build(case)
    online = case.variant == "online"
    run = run_nest(
        nest, copy.deepcopy(learner), x[:, 0] if online else x, target[:, 0] if online else target
    )
    snapshots, spikes = [], []
    if online:  # one step per call: the weights of each step
        for t in range(x.shape[0]):
            learner.train_batch(x[t : t + 1], target[t : t + 1])
            snapshots.append(_weights(learner))
            spikes.append(learner.last.spikes[:, 0].numpy())
        period = 1
    else:  # one trial per call
        for b in range(x.shape[1]):
            learner.train_batch(x[:, b : b + 1], target[:, b : b + 1])
            snapshots.append(_weights(learner))
            spikes.append(learner.last.spikes[:, 0].numpy())
        period = x.shape[0]
    np.testing.assert_array_equal(np.concatenate(spikes), run.spikes)
    assert run.spikes.sum() > 0.05 * run.spikes.size
    which = {"in": 0, "rec": 1, "out": 2}
    # a hidden spike in step 0 of a trial that follows a trial where the neuron spiked ends
    # that trial's interval at the readout synapse: it is sent before the synapse's optimizer
    # steps (possible without reset_neurons_on_update)
    z = np.concatenate(spikes).reshape(-1, period, case.sizes[1])
    ends_previous = np.zeros_like(z[:, 0], dtype=bool)
    ends_previous[1:] = z[:-1, 1:].any(axis=1) & (z[1:, 0] != 0)
    worst, events = 0.0, 0
    for (proj, j, i), sent in run.weights.items():
        for step, w in sent:
            trial, k = divmod(step - 1, period)
            if not online and proj == "out" and k == 0 and ends_previous[trial, i]:
                trial -= 1
            ours = snapshots[trial][which[proj]][j, i]
            worst = max(worst, abs(ours - w) / max(1.0, abs(w)))
            events += 1
    if not online:  # NEST applies bsshslm_2020 updates only at spikes, as we do
        for ours, theirs in zip(_weights(learner), run.final, strict=True):
            diff = np.abs(ours - theirs) / np.maximum(1.0, np.abs(theirs))
            worst = max(worst, float(diff.max()))
    return worst, events


ONLINE_CASES = {
    "lif-adam-symmetric": Case(),
    "alif-sgd-random-cutoff-reg": Case(
        neuron="alif",
        optimizer="sgd",
        feedback="random",
        cutoff=0.01,
        c_reg=2.0,
        surrogate="exponential",
    ),
    "lif-adam-per-spike-batch3": Case(
        each_step=False,
        cutoff=0.008,
        batch_size=3,
        c_reg=1.0,
        feedback="random",
        surrogate="fast_sigmoid_derivative",
    ),
    "alif-adam-arctan": Case(neuron="alif", surrogate="arctan_derivative", cutoff=0.02),
}


@pytest.mark.nest
@pytest.mark.parametrize("name", list(ONLINE_CASES))
def test_online_matches_nest(name):
    worst, events = _against_nest(ONLINE_CASES[name])
    assert events > 3000
    assert worst < NEST_TOL, f"{name}: weights differ from NEST's by up to {worst:.3g}"


BSSHSLM_CASES = {
    "lif-sgd-mse-symmetric": Case(variant="bsshslm_2020", optimizer="sgd", steps=500),
    "alif-adam-ce-random-avg-batch2-reg": Case(
        variant="bsshslm_2020",
        neuron="alif",
        loss="cross_entropy",
        feedback="random",
        average=True,
        batch_size=2,
        c_reg=1.0,
        lr=1e-2,
        steps=800,
    ),
    "alif-adam-mse-no-reset": Case(
        variant="bsshslm_2020",
        neuron="alif",
        reset=False,
        batch_size=2,
        c_reg=1.0,
        average=True,
        feedback="random",
        lr=1e-2,
        steps=800,
    ),
}


@pytest.mark.nest
@pytest.mark.parametrize("name", list(BSSHSLM_CASES))
def test_bsshslm_matches_nest(name):
    worst, events = _against_nest(BSSHSLM_CASES[name])
    assert events > 5000
    assert worst < NEST_TOL, f"{name}: weights differ from NEST's by up to {worst:.3g}"


def test_bsshslm_batches_split_like_nest():
    """A batch of trials in one call equals the trials one per call (NEST runs them one after
    the other; its optimizer batches count trials)."""
    case = BSSHSLM_CASES["alif-adam-ce-random-avg-batch2-reg"]
    a, x, target = _build(case)
    b = copy.deepcopy(a)
    a.train_batch(x[:, :5], target[:, :5])
    a.train_batch(x[:, 5:], target[:, 5:])
    for k in range(x.shape[1]):
        b.train_batch(x[:, k : k + 1], target[:, k : k + 1])
    for wa, wb in zip(_weights(a), _weights(b), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=0, atol=1e-13)
    assert not np.allclose(_weights(a)[0], _build(case)[0].w_in.numpy())


def test_online_batches_continue_the_stream():
    """Consecutive calls continue NEST's one simulation: two halves equal the whole."""
    whole, x, target = _build(ONLINE_CASES["lif-adam-per-spike-batch3"])
    halves = copy.deepcopy(whole)
    whole.train_batch(x, target)
    halves.train_batch(x[:140], target[:140])
    halves.train_batch(x[140:], target[140:])
    for wa, wb in zip(_weights(whole), _weights(halves), strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_online_streams_average():
    """B identical streams average to the one stream NEST runs."""
    one, x, target = _build(ONLINE_CASES["lif-adam-symmetric"])
    three = copy.deepcopy(one)
    one.train_batch(x, target)
    three.train_batch(np.repeat(x, 3, axis=1), np.repeat(target, 3, axis=1))
    for wa, wb in zip(_weights(one), _weights(three), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=0, atol=1e-13)


# -- NEST's published losses -------------------------------------------------------------------


def _sines(steps: int) -> np.ndarray:
    """The target of NEST's regression tests: four superimposed sines (same random draws)."""
    amplitudes = np.random.uniform(low=0.5, high=2.0, size=4)
    phases = np.random.uniform(low=0.0, high=2.0 * np.pi, size=4)
    sines = [
        a * np.sin(np.linspace(p, p + 2.0 * np.pi * (steps // period), steps))
        for a, p, period in zip(amplitudes, phases, [1000, 500, 333, 200], strict=True)
    ]
    total = sum(sines)
    total -= total[0]
    return total / max(np.abs(total).max(), 1e-6)


def _nest_weights(n_in: int, n_rec: int, n_out: int, scale: float):
    """NEST's test weights, drawn in its order (float32, as NEST's tests make them)."""
    f32 = np.float32
    w_in = np.array(np.random.randn(n_in, n_rec).T / np.sqrt(n_in), dtype=f32)
    w_rec = np.array(np.random.randn(n_rec, n_rec).T / np.sqrt(n_rec), dtype=f32)
    np.fill_diagonal(w_rec, 0.0)
    w_out = np.array(np.random.randn(n_rec, n_out).T / np.sqrt(n_rec), dtype=f32) * scale
    feedback = np.array(np.random.randn(n_rec, n_out) / np.sqrt(n_rec), dtype=f32)
    return w_in, w_rec, w_out, feedback


#: test_eprop_plasticity.py::test_eprop_regression of NEST 3.10 (NEST's reference losses)
PUBLISHED_ONLINE = {
    ("lif", "adam"): [
        0.14000491891386,
        0.28735818029752,
        0.22263713699860,
        0.23015072431384,
        0.17565248170694,
    ],
    ("alif", "sgd"): [
        0.02242584487453,
        0.01916753791522,
        0.00571493935652,
        0.00037875376195,
        0.00037823157578,
    ],
}


@pytest.mark.parametrize("neuron,optimizer", list(PUBLISHED_ONLINE))
def test_reproduces_nest_published_online_losses(neuron, optimizer):
    """NEST's online regression test: 100 inputs, 100 hidden, 1 readout, 5 x 100 steps, with
    cutoff, firing-rate regularization and random feedback; the losses NEST publishes."""
    np.random.seed(1)  # NEST's test draws everything from numpy's global generator
    scale = 1.0 - 0.97
    w_in, w_rec, w_out, feedback = _nest_weights(100, 100, 1, scale)
    w_in *= scale
    w_rec *= scale
    feedback *= scale
    bools = np.random.rand(100, 100) < 0.05
    target = _sines(100)
    decay = math.exp(-1.0 / 30.0)  # NEST's tau_m = 30 ms
    tau = DT / (1.0 - decay)
    alif = neuron == "alif"
    hidden = LayerParams(
        neuron,
        DT,
        tau_mem=tau,
        threshold=0.03,
        adapt_tau=2.0 if alif else None,
        adapt_beta=0.0174 if alif else 0.0,
    )
    eta = 1e-4 * scale**2
    bounds = dict(w_min=-100.0, w_max=100.0)
    opt = (
        Optimizer.adam(eta, epsilon=1e-7, **bounds)
        if optimizer == "adam"
        else Optimizer.sgd(eta, **bounds)
    )
    rule = EProp(
        scope=SCOPE,
        variant="online",
        neuron=neuron,
        surrogate=EPropSurrogate(function="piecewise_linear", beta=1.0 / 0.03, gamma=10.0),
        feedback="random",
        B=feedback.astype(np.float64),
        kappa=0.97,
        kappa_reg=0.97,
        isi_trace_cutoff=0.1,
        c_reg=3.0,
        f_target=10.0,
        optimizer=opt,
        **(dict(adapt_beta=0.0174, adapt_tau=2.0) if alif else {}),
    )
    learner = EPropLearner(
        rule, hidden, LayerParams("li", DT, tau_mem=tau), w_in=w_in, w_rec=w_rec, w_out=w_out
    )
    # our step t is NEST's input time t ms; NEST's readout sees target[k] in our step k
    x = np.tile(bools, (5, 1))[:, None, :].astype(np.float64)
    y_target = np.r_[np.tile(target, 5)[1:], target[-1]][:, None, None]
    learner.train_batch(x, y_target)
    error = np.r_[0.0, (learner.last.readout[:, 0, 0].numpy() - y_target[:, 0, 0])[:-1]]
    loss = 0.5 * (error.reshape(5, 100) ** 2).sum(axis=1)
    np.testing.assert_allclose(loss, PUBLISHED_ONLINE[(neuron, optimizer)], rtol=1e-8)


def test_reproduces_nest_published_bsshslm_losses():
    """NEST's bsshslm_2020 regression test (5 trials of 1000 steps, 100 inputs and hidden
    neurons, one readout, gradient descent, firing-rate regularization): NEST's published
    losses, which match the original TensorFlow implementation's to 1e-7. That test uses
    ``regular_spike_arrival = False`` (spikes scaled by 1 - P): our weights are NEST's times
    1 - P, our learning rate (1 - P)**2 times NEST's."""
    np.random.seed(1)
    w_in, w_rec, w_out, feedback = _nest_weights(100, 100, 1, 1.0)
    bools = np.random.rand(1000, 100) < 0.05
    bools[0] = False
    target = _sines(1000)
    decay = math.exp(-1.0 / 30.0)
    g = 1.0 - decay
    tau = DT / g
    rule = EProp(
        scope=SCOPE,
        variant="bsshslm_2020",
        surrogate=EPropSurrogate(function="piecewise_linear", beta=1.0 / 0.03, gamma=10.0),
        feedback="random",
        B=feedback.astype(np.float64),
        learning_window=1.0,
        update_interval=1.0,
        c_reg=300.0,
        f_target=10.0,
        average_gradient=False,
        optimizer=Optimizer.sgd(1e-4 * g * g, w_min=-100.0 * g, w_max=100.0 * g),
    )
    learner = EPropLearner(
        rule,
        LayerParams("lif", DT, tau_mem=tau, threshold=0.03),
        LayerParams("li", DT, tau_mem=tau),
        w_in=g * w_in.astype(np.float64),
        w_rec=g * w_rec.astype(np.float64),
        w_out=g * w_out.astype(np.float64),
    )
    x = np.repeat(bools[:, None, :], 5, axis=1).astype(np.float64)
    loss = learner.train_batch(x, np.repeat(target[:, None, None], 5, axis=1))
    published = [
        101.964356999041,
        103.466731126205,
        103.340607074771,
        103.680244037686,
        104.412775748752,
    ]
    np.testing.assert_allclose(learner.last.loss.numpy(), published, rtol=1e-8)
    assert loss == pytest.approx(np.mean(published), rel=1e-8)


# -- BPTT -------------------------------------------------------------------------------------


BPTT_CASES = {
    "online-lif": Case(recurrent=False, steps=120),
    "online-alif": Case(
        recurrent=False, neuron="alif", steps=120, surrogate="fast_sigmoid_derivative"
    ),
    "bsshslm-lif-mse": Case(variant="bsshslm_2020", recurrent=False, steps=150),
    "bsshslm-alif-ce": Case(
        variant="bsshslm_2020",
        recurrent=False,
        neuron="alif",
        loss="cross_entropy",
        steps=150,
        average=True,
        surrogate="exponential",
    ),
}


@pytest.mark.parametrize("name", list(BPTT_CASES))
def test_eprop_equals_bptt_without_recurrence(name):
    case = BPTT_CASES[name]
    learner, x, target = _build(case)
    rule = (
        dataclasses.replace(learner.rule, isi_trace_cutoff=None)
        if case.variant == "online"
        else learner.rule
    )
    if case.variant == "online":
        # symmetric feedback and kappa = the readout's decay make e-prop's filter of the
        # learning signal the readout's own: the exact gradient
        rule = dataclasses.replace(rule, kappa=learner.setup.decay_out)
    x = np.repeat(x, 3, axis=1) if case.variant == "online" else x
    target = np.repeat(target, 3, axis=1) if case.variant == "online" else target
    x[..., 1:, :] *= np.random.default_rng(5).random(x[..., 1:, :].shape) < 0.7
    ours = eprop_gradients(
        rule, learner.hidden, learner.readout, learner.w_in, None, learner.w_out, x, target
    )
    w_in = learner.w_in.clone().requires_grad_(True)
    w_out = learner.w_out.clone().requires_grad_(True)
    loss = bptt_loss(learner.setup, w_in, w_out, torch.as_tensor(x), torch.as_tensor(target))
    g_in, g_out = torch.autograd.grad(loss, (w_in, w_out))
    scale = 1.0
    if case.variant != "online":
        scale = 1.0 / learner.setup.window if case.average else 1.0
        # NEST's (1 - kappa) filter and the average over the learning window
        g_in = g_in * (1.0 - learner.setup.kappa) * scale
        g_out = g_out * scale
    assert float(ours.loss.mean()) == pytest.approx(float(loss.detach()), rel=1e-12)
    assert ours.spikes.sum() > 0.05 * ours.spikes.numel()
    assert g_in.abs().max() > 1e-3
    torch.testing.assert_close(ours.grad_in, g_in, rtol=0, atol=1e-10 * float(g_in.abs().max()))
    torch.testing.assert_close(ours.grad_out, g_out, rtol=0, atol=1e-10 * float(g_out.abs().max()))
    assert float(ours.grad_rec.abs().max()) == 0.0


# -- NIR and the reference simulator ----------------------------------------------------------


@pytest.mark.parametrize("neuron", ["lif", "alif"])
@pytest.mark.parametrize("variant", ["online", "bsshslm_2020"])
def test_trained_network_runs_spike_exact_on_reference(variant, neuron, tmp_path):
    """Train, export to NIR with the rule (written and read back), run on the reference:
    the same spikes and readout as our forward (ALIF: a LIF and an adaptation node)."""
    case = Case(variant=variant, neuron=neuron, steps=200, feedback="random")
    learner, x, target = _build(case)
    before = _weights(learner)
    learner.train_batch(x, target)
    assert not np.allclose(before[1], _weights(learner)[1])
    path = tmp_path / "eprop.nir"
    nirbridge.write(path, learner.to_nir())
    graph = nirbridge.read(path)
    rule = nirbridge.learning.rule_of(graph)
    assert isinstance(rule, EProp) and (rule.variant, rule.neuron) == (variant, neuron)
    np.testing.assert_array_equal(rule.B, learner.feedback.numpy())
    probe = (np.random.default_rng(3).random((x.shape[0], 4, x.shape[2])) < 0.2).astype(float)
    if variant != "online":
        probe[0] = 0.0  # a trial's first step is dropped
    spikes, readout = learner.forward(probe)
    result = nirbridge.simulate(graph, {"input": probe}, batched=True, record=["hidden"])
    np.testing.assert_array_equal(result.recorded["hidden"], spikes.numpy())
    np.testing.assert_allclose(result.outputs["output"], readout.numpy(), rtol=0, atol=1e-12)
    assert spikes.sum() > 0.05 * spikes.numel()


# -- errors -----------------------------------------------------------------------------------


def test_rule_errors_name_the_field():
    learner, _, _ = _build(Case())
    hidden, readout = learner.hidden, learner.readout
    w = dict(w_in=learner.w_in, w_rec=learner.w_rec, w_out=learner.w_out)
    bad = {
        "loss": dataclasses.replace(learner.rule, loss="cross_entropy"),
        "isi_trace_cutoff": dataclasses.replace(learner.rule, isi_trace_cutoff=DT),
        "optimizer.momentum": dataclasses.replace(
            learner.rule, optimizer=Optimizer.sgd(0.1, momentum=0.9)
        ),
        "neuron": dataclasses.replace(learner.rule, neuron="alif", adapt_beta=0.1, adapt_tau=0.1),
    }
    for field, rule in bad.items():
        with pytest.raises(LearningRuleError) as info:
            EPropLearner(rule, hidden, readout, **w)
        assert info.value.field == field
    with pytest.raises(nirbridge.ShapeError, match="w_rec"):
        EPropLearner(learner.rule, hidden, readout, **{**w, "w_rec": np.ones((10, 10))})
