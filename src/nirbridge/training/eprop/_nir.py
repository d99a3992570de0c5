"""A trained e-prop network as a NIR graph, with its rule, that runs on the reference.

The graph is ``input -> w_in (Affine) -> hidden (LIF) -> w_out (Linear) -> readout (LI) ->
output`` with ``hidden -> w_rec (Linear) -> hidden`` closing the cycle (a back edge: last step's
spikes), ``r = tau/dt`` so that a weight is the voltage jump it causes, ``v_leak = 0`` and the
graph's metadata fixing ``dt``, the euler integrator and reset by subtraction: SEMANTICS.md's
step is then the engines' step, spike for spike.

``bsshslm_2020`` resets one step late and undecayed (``v'[t] = P v'[t-1] - V_th z[t-1] + ...``):
that is SEMANTICS.md's LIF plus a self-connection of weight ``-(1 - P) * V_th``, which the
exported ``w_rec`` carries on its diagonal. Its trials also drop the input of their first step;
feed the graph trials whose first step is silent to reproduce them.

ALIF has no NIR node; it is a LIF whose voltage is the distance to the adaptive threshold,
``u' = v' - beta * a`` (a spike when ``u' >= V_th``, reset by ``V_th`` as NEST's), fed by an
adaptation node. With ``A[t] = rho * A[t-1] + z[t]`` (NEST's adaptation one step on, an LI node
``adapt`` with ``tau = dt / (1 - rho)``, ``r = 1 / (1 - rho)``, fed by the spikes), NEST's
equations give ``u'[t] = P u[t-1] + z_in[t] - beta (P / rho) z[t-1]
+ beta ((P - rho) / rho) A[t-1]``: a further self-connection of ``-beta * P / rho`` on the
diagonal of ``w_rec`` and a back edge ``adapt -> w_adapt -> hidden`` of weight
``beta * (P - rho) / rho``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import nir
import numpy as np

from ...graph import with_metadata
from ...learning import EProp, Scope, attach

if TYPE_CHECKING:
    from ._learner import EPropLearner

#: Node names of the exported graph (ALIF adds "adapt" and "w_adapt").
NAMES = ("input", "w_in", "hidden", "w_rec", "w_out", "readout", "output")


def to_graph(learner: EPropLearner) -> nir.NIRGraph:
    """The learner's network and rule as a NIR graph (see the module docstring)."""
    rule: EProp = learner.rule
    hidden, readout, setup = learner.hidden, learner.readout, learner.setup
    dt = hidden.dt
    w_in = learner.w_in.detach().cpu().numpy().astype(np.float64)
    w_rec = learner.w_rec.detach().cpu().numpy().astype(np.float64)
    w_out = learner.w_out.detach().cpu().numpy().astype(np.float64)
    n_hid, n_in = w_in.shape
    n_out = w_out.shape[0]
    eye = np.eye(n_hid)
    if not setup.online:
        w_rec = w_rec - eye * (1.0 - setup.decay) * setup.threshold
    if setup.alif:
        rho, beta, p = setup.adapt_decay, setup.adapt_beta, setup.decay
        w_rec = w_rec - eye * beta * p / rho
    full = np.ones(n_hid)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([n_in])}),
        "w_in": nir.Affine(weight=w_in, bias=np.zeros(n_hid)),
        "hidden": nir.LIF(
            tau=full * hidden.tau_mem,
            r=full * hidden.tau_mem / dt,
            v_leak=0.0 * full,
            v_threshold=full * hidden.threshold,
            v_reset=0.0 * full,
        ),
        "w_rec": nir.Linear(weight=w_rec),
        "w_out": nir.Linear(weight=w_out),
        "readout": nir.LI(
            tau=np.ones(n_out) * readout.tau_mem,
            r=np.ones(n_out) * readout.tau_mem / dt,
            v_leak=np.zeros(n_out),
        ),
        "output": nir.Output(output_type={"output": np.array([n_out])}),
    }
    edges = [
        ("input", "w_in"),
        ("w_in", "hidden"),
        ("hidden", "w_rec"),
        ("w_rec", "hidden"),
        ("hidden", "w_out"),
        ("w_out", "readout"),
        ("readout", "output"),
    ]
    if setup.alif:
        tau_a = dt / (1.0 - rho)
        nodes["adapt"] = nir.LI(tau=full * tau_a, r=full * tau_a / dt, v_leak=0.0 * full)
        nodes["w_adapt"] = nir.Linear(weight=eye * beta * (p - rho) / rho)
        edges[4:4] = [("hidden", "adapt"), ("adapt", "w_adapt"), ("w_adapt", "hidden")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    with_metadata(graph, dt=dt, reset="subtract", integrator="euler")
    plastic = [("input", "w_in"), ("hidden", "w_out")]
    if learner.has_recurrence:
        plastic.insert(1, ("hidden", "w_rec"))
    scope = Scope(plastic_edges=tuple(plastic), readout="readout")
    changes: dict[str, object] = {"scope": scope, "readout_tau": readout.tau_mem}
    if rule.feedback == "random":
        changes["B"] = learner.feedback.detach().cpu().numpy().astype(np.float64)
    return attach(graph, dataclasses.replace(rule, **changes))
