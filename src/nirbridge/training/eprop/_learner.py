"""The public e-prop API: a learner a trainer calls per batch, and the pure gradients."""

from __future__ import annotations

import dataclasses

import nir
import numpy as np
import torch

from ..._errors import LearningRuleError, ShapeError, SimulationInputError
from ...learning import EProp
from .._layers import LayerParams
from . import _bsshslm as bss
from ._nir import to_graph
from ._online import OnlineEngine
from ._online import simulate as online_simulate
from ._optimizer import NestOptimizer
from ._setup import EPropSetup, resolve

Weights = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


@dataclasses.dataclass
class EPropResult:
    """What a run gives back. Shapes: time first, then batch.

    Attributes:
        loss: NEST's loss per stream or trial (B,): half the squared error summed over steps
            and readout neurons, or the cross entropy summed over the learning window.
        readout: readout voltage ``y`` (T, B, n_out).
        spikes: hidden spikes (T, B, n_hidden).
        error: the readout's error signal (T, B, n_out): the learning window applied.
        grad_in, grad_rec, grad_out: e-prop's gradients (``eprop_gradients`` only): the sum over
            the steps of each stream (``online``) or NEST's per-trial gradient (``bsshslm_2020``),
            averaged over the batch; recurrent entries that are no synapse are zero.
    """

    loss: torch.Tensor
    readout: torch.Tensor
    spikes: torch.Tensor
    error: torch.Tensor
    grad_in: torch.Tensor | None = None
    grad_rec: torch.Tensor | None = None
    grad_out: torch.Tensor | None = None


def _tensor(value: object, dtype: torch.dtype, device: object, name: str) -> torch.Tensor:
    t = value if torch.is_tensor(value) else torch.as_tensor(np.array(value, dtype=np.float64))
    if t.ndim != 2:
        raise ShapeError(
            "a weight matrix is 2-D",
            node=name,
            parameter="weight",
            expected="(n_post, n_pre)",
            got=f"shape {tuple(t.shape)}",
        )
    return t.detach().to(dtype=dtype, device=device).clone()


class _Network:
    """Weights, feedback and the recurrent-synapse mask, checked against each other."""

    def __init__(
        self,
        rule: EProp,
        hidden: LayerParams,
        readout: LayerParams,
        w_in: object,
        w_rec: object | None,
        w_out: object,
        feedback: object | None,
        autapses: bool,
        dtype: torch.dtype,
        device: object,
    ):
        self.rule = rule
        self.hidden, self.readout = hidden, readout
        self.setup: EPropSetup = resolve(rule, hidden, readout)
        self.w_in = _tensor(w_in, dtype, device, "w_in")
        n_hid, n_in = self.w_in.shape
        self.w_out = _tensor(w_out, dtype, device, "w_out")
        n_out = self.w_out.shape[0]
        if self.w_out.shape[1] != n_hid:
            raise ShapeError(
                "the readout weights take the hidden spikes",
                node="w_out",
                parameter="weight",
                expected=f"(n_out, {n_hid})",
                got=f"{tuple(self.w_out.shape)}",
            )
        if w_rec is None:
            self.w_rec = torch.zeros(n_hid, n_hid, dtype=dtype, device=device)
            self.frozen = torch.ones(n_hid, n_hid, dtype=torch.bool, device=device)
        else:
            self.w_rec = _tensor(w_rec, dtype, device, "w_rec")
            if self.w_rec.shape != (n_hid, n_hid):
                raise ShapeError(
                    "recurrent weights are square",
                    node="w_rec",
                    parameter="weight",
                    expected=f"({n_hid}, {n_hid})",
                    got=f"{tuple(self.w_rec.shape)}",
                )
            self.frozen = None
            if not autapses:
                eye = torch.eye(n_hid, dtype=torch.bool, device=device)
                if bool((self.w_rec[eye] != 0).any()):
                    raise ShapeError(
                        "NEST's networks have no autapses (pass autapses=True to learn them)",
                        node="w_rec",
                        parameter="weight",
                        expected="a zero diagonal",
                        got="nonzero diagonal entries",
                    )
                self.frozen = eye
        if rule.feedback == "random":
            fb = rule.B if feedback is None else feedback
            self.feedback = _tensor(fb, dtype, device, "B")
        else:
            if feedback is not None:
                raise LearningRuleError(
                    "symmetric feedback is the readout weights",
                    rule="eprop",
                    field="feedback",
                    expected="no explicit feedback matrix",
                    got="a feedback matrix",
                )
            # NEST's learning-signal connections are static: set once from the readout weights
            self.feedback = self.w_out.T.clone()
        if self.feedback.shape != (n_hid, n_out):
            raise LearningRuleError(
                "wrong shape",
                rule="eprop",
                field="B",
                expected=f"({n_hid}, {n_out})",
                got=f"{tuple(self.feedback.shape)}",
            )
        self.sizes = (n_in, n_hid, n_out)

    @property
    def weights(self) -> Weights:
        return self.w_in, self.w_rec, self.w_out

    def check(self, x: torch.Tensor, target: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        n_in, _, n_out = self.sizes
        dtype, device = self.w_in.dtype, self.w_in.device
        x = torch.as_tensor(x).to(dtype=dtype, device=device)
        if x.ndim != 3 or x.shape[2] != n_in:
            raise SimulationInputError(
                f"input: expected (T, B, {n_in}) (time, batch, channels), got {tuple(x.shape)}"
            )
        if target is None:
            return (x,)
        target = torch.as_tensor(target).to(dtype=dtype, device=device)
        if target.shape != (x.shape[0], x.shape[1], n_out):
            raise SimulationInputError(
                f"target: expected {(x.shape[0], x.shape[1], n_out)} (time, batch, readout "
                f"neurons), got {tuple(target.shape)}"
            )
        if not self.setup.online and x.shape[0] != self.setup.interval:
            raise SimulationInputError(
                f"input: bsshslm_2020 trains on trials of update_interval = {self.setup.interval} "
                f"steps, got {x.shape[0]} steps"
            )
        return x, target


def _window(setup: EPropSetup, mask: object | None, like: torch.Tensor) -> torch.Tensor:
    if mask is None:
        return torch.ones_like(like)
    if not setup.online:
        raise SimulationInputError(
            "mask: bsshslm_2020's learning window comes from the rule (learning_window)"
        )
    return torch.as_tensor(mask).to(like).expand_as(like)


def _run_online(engine: OnlineEngine, x, target, window) -> EPropResult:
    zs, ys, es = [], [], []
    for t in range(x.shape[0]):
        z, y, e = engine.step(x[t], target[t], window[t])
        zs.append(z)
        ys.append(y)
        es.append(e)
    error = torch.stack(es)
    return EPropResult(0.5 * (error * error).sum((0, 2)), torch.stack(ys), torch.stack(zs), error)


def eprop_gradients(
    rule: EProp,
    hidden: LayerParams,
    readout: LayerParams,
    w_in: object,
    w_rec: object | None,
    w_out: object,
    x: object,
    target: object,
    *,
    feedback: object | None = None,
    mask: object | None = None,
    autapses: bool = False,
    dtype: torch.dtype = torch.float64,
) -> EPropResult:
    """e-prop's gradients for fixed weights, computed as NEST computes them.

    ``online``: each of the B streams starts from rest and every history entry of its T steps
    is integrated (NEST's trace cutoff applies); ``bsshslm_2020``: each of the B trials (T =
    the update interval) gives NEST's gradient of one interval. Both are averaged over B.

    Args:
        rule: the e-prop rule.
        hidden, readout: the layers (``lif``/``alif`` reset by subtraction; ``li``).
        w_in, w_rec, w_out: weights (n_hidden, n_in), (n_hidden, n_hidden) or None (no
            recurrent synapses), (n_out, n_hidden).
        x: input (T, B, n_in); target: (T, B, n_out) (one-hot rates for cross entropy).
        feedback: random feedback B (n_hidden, n_out); default: the rule's ``B``.
        mask: ``online`` only: the readout's learning-window signal (T, B, n_out), default 1.
        autapses: the diagonal of ``w_rec`` holds synapses (NEST's examples have none).
    """
    net = _Network(rule, hidden, readout, w_in, w_rec, w_out, feedback, autapses, dtype, None)
    x, target = net.check(x, target)
    s = net.setup
    if s.online:
        engine = OnlineEngine(
            s, net.weights, net.feedback, x.shape[1], optimizers=None, frozen_rec=net.frozen
        )
        result = _run_online(engine, x, target, _window(s, mask, target))
        engine.finish()
        result.grad_in, result.grad_rec, result.grad_out = engine.gradients
        return result
    _window(s, mask, target)
    state = bss.TrialState.zeros(x.shape[1], net.sizes[1], net.sizes[2], x)
    psi, z, y, _ = bss.simulate(s, net.weights, x, state)
    error, loss = bss.readout_error(s, y, target)
    grads = bss.trial_gradients(s, x, psi, z, error, net.feedback, consecutive=False).grads
    g_in, g_rec, g_out = (g / x.shape[1] for g in grads)
    if net.frozen is not None:
        g_rec = g_rec.masked_fill(net.frozen, 0.0)
    return EPropResult(loss, y, z, error, g_in, g_rec, g_out)


class EPropLearner:
    """A network trained with e-prop exactly as NEST 3.10 trains it.

    ``train_batch`` runs a batch and changes the weights in place as NEST does during the
    same simulation: ``online``, B input streams continue from the previous call (NEST runs one
    stream; B > 1 averages the streams' gradient increments each step); ``bsshslm_2020``, the B
    trials are consecutive update intervals (NEST's optimizer batch counts intervals).

    Args:
        rule: the e-prop rule (its optimizer, surrogate, feedback, variant ...).
        hidden: the hidden layer (``LayerParams`` of kind ``lif`` or ``alif``, reset subtract).
        readout: the readout layer (kind ``li``).
        w_in, w_rec, w_out, feedback, autapses: as for :func:`eprop_gradients`.
        dtype, device: of the weights and the simulation (float64 reproduces NEST to round-off).

    Attributes:
        w_in, w_rec, w_out: the weights (updated in place); feedback: B (n_hidden, n_out).
    """

    def __init__(
        self,
        rule: EProp,
        hidden: LayerParams,
        readout: LayerParams,
        *,
        w_in: object,
        w_rec: object | None,
        w_out: object,
        feedback: object | None = None,
        autapses: bool = False,
        dtype: torch.dtype = torch.float64,
        device: object = None,
    ):
        self._net = _Network(
            rule, hidden, readout, w_in, w_rec, w_out, feedback, autapses, dtype, device
        )
        net = self._net
        self.rule, self.hidden, self.readout = rule, hidden, readout
        self.setup = net.setup
        self.w_in, self.w_rec, self.w_out = net.weights
        self.feedback = net.feedback
        self.has_recurrence = w_rec is not None
        self._online: OnlineEngine | None = None
        self._steps = 0  # online: steps of the streams ended so far
        self.last: EPropResult | None = None  # the latest batch's readout, spikes, error
        self._bsshslm: bss.BsshslmEngine | None = None
        if self.setup.online:
            frozen = (None, net.frozen, None)
            self._optimizers = tuple(
                NestOptimizer(rule.optimizer, w, f)
                for w, f in zip(net.weights, frozen, strict=True)
            )
        else:
            self._bsshslm = bss.BsshslmEngine(
                self.setup,
                net.weights,
                net.feedback,
                optimizer=rule.optimizer,
                frozen_rec=net.frozen,
            )

    def train_batch(self, x: object, target: object, mask: object | None = None) -> float:
        """Run one batch, learning. Returns NEST's loss averaged over the batch.

        Args:
            x: input (T, B, n_in), spikes as 0/1.
            target: (T, B, n_out): the readout's target signal (one-hot rates for cross entropy).
            mask: ``online`` only: the readout's learning-window signal (default 1).
        """
        x, target = self._net.check(x, target)
        self.last = self._train(x, target, mask)
        return float(self.last.loss.mean())

    def _train(self, x: torch.Tensor, target: torch.Tensor, mask: object | None) -> EPropResult:
        s = self.setup
        if s.online:
            streams = x.shape[1]
            if self._online is None or self._online.v.shape[0] != streams:
                if self._online is not None:
                    self._online.finish()
                    self._steps = self._online.t
                self._online = OnlineEngine(
                    s,
                    self._net.weights,
                    self.feedback,
                    streams,
                    optimizers=self._optimizers,
                    frozen_rec=self._net.frozen,
                    start=self._steps,
                )
            return _run_online(self._online, x, target, _window(s, mask, target))
        _window(s, mask, target)
        assert self._bsshslm is not None
        trials = self._bsshslm.train(x, target)
        return EPropResult(trials.loss, trials.y, trials.z, trials.error)

    def reset_state(self) -> None:
        """``online``: end the current streams (their pending history entries are integrated
        as if no spike followed); the next batch starts from rest. ``bsshslm_2020`` without
        ``reset_neurons_on_update``: forget the carried state."""
        if self._online is not None:
            self._online.finish()
            self._steps = self._online.t
            self._online = None
        if self._bsshslm is not None:
            self._bsshslm.state = None

    @torch.no_grad()
    def forward(self, x: object) -> tuple[torch.Tensor, torch.Tensor]:
        """Hidden spikes and readout (T, B, n) from rest, weights fixed (no learning);
        ``bsshslm_2020``: each batch row is a trial (its first step's input is dropped)."""
        (x,) = self._net.check(x, None)
        if self.setup.online:
            return online_simulate(self.setup, self._net.weights, x)
        n_hid, n_out = self._net.sizes[1:]
        state = bss.TrialState.zeros(x.shape[1], n_hid, n_out, x)
        _, z, y, _ = bss.simulate(self.setup, self._net.weights, x, state)
        return z, y

    def to_nir(self) -> nir.NIRGraph:
        """The network and its rule as a NIR graph that runs spike for spike on the reference
        (see :mod:`._nir`; ALIF becomes a LIF with an adaptation node)."""
        return to_graph(self)
