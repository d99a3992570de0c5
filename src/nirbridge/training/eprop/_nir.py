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

ALIF has no NIR node; it is a LIF whose voltage is the distance to the adaptive threshold, fed by
an adaptation LI node ``adapt`` through ``w_adapt``, with a self-connection on the diagonal of
``w_rec``: the construction every trained ALIF layer uses
(:func:`nirbridge.training._network.alif_terms`).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import nir
import numpy as np

from ...graph import with_metadata
from ...learning import EProp, Scope, attach
from .._network import alif_adaptation_node, alif_terms

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
        self_weight, adapt_weight = alif_terms(hidden)
        w_rec = w_rec + eye * self_weight
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
        nodes["adapt"] = alif_adaptation_node(hidden, n_hid)
        nodes["w_adapt"] = nir.Linear(weight=eye * adapt_weight)
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
