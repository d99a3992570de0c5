"""The reference simulator (euler) against Norse's own step functions, spike for spike.

Random feed-forward and recurrent networks of LIF, IF and CubaLIF run on our reference and on a
network stepped with Norse 1.1's functional API, each configured to SEMANTICS.md's euler step:

- LIF: ``norse.torch.functional.lif_box.lif_box_feed_forward_step`` with
  ``LIFBoxParameters(tau_mem_inv=1/tau, v_leak, v_th, v_reset, reset_method=reset_subtract or
  reset_value)``, fed ``r * I``, ``dt`` passed explicitly. It computes
  ``v' = v + dt*tau_mem_inv*(r*I + v_leak - v)``, spikes on ``v' > v_th`` and resets at once:
  our euler LIF, leak potential and reset potential included.
- IF, reset to ``v_reset``: ``norse.torch.functional.iaf.iaf_feed_forward_step`` fed
  ``dt * r * I`` (``v' = v + input``, reset to ``v_reset``).
- IF, subtract reset: Norse has no such form (its IAF resets to a value, and the box LIF with
  no leak would have no input either). We integrate ``v' = v + dt*r*I`` ourselves and spike and
  reset with Norse's own ``functional.threshold.threshold`` and ``functional.reset.reset_subtract``.
- CubaLIF: the synaptic current is ``leaky_integrator_box.li_box_feed_forward_step`` with
  ``LIBoxParameters(tau_mem_inv=1/tau_syn, v_leak=0)`` fed ``w_in * I``
  (``i = i + dt/tau_syn*(-i + w_in*I)``), then the box LIF above fed ``r * i``. (Norse's
  ``lif`` / ``coba_lif`` integrate v with the previous step's current and add the input jump
  after, a different discretization, so they are not used.)
- Projections are ``torch.nn.functional.linear``; recurrent and feedback projections act on last
  step's spikes in the time loop below, as SEMANTICS.md's back edges do.

Unlike snnTorch, Norse needs no bound on the input: both resets, nonzero leak and reset
potentials, and several time steps are covered. float64 throughout.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from ._nets import Net, Tally, random_net, random_spikes, run_reference
from ._peers import NorseNet

pytestmark = pytest.mark.norse

STEPS = 120
BATCH = 3
P_IN = 0.2
N_GRAPHS = 50


def _compare(net: Net, torch, rng: np.random.Generator, dt: float, reset: str) -> list[int]:
    """Run both on one random input; spike counts per layer."""
    x = random_spikes(rng, STEPS, BATCH, net.n_in, P_IN)
    ours, our_states = run_reference(net, x, dt=dt, reset=reset)
    theirs, their_states = NorseNet(net, torch, dt=dt, reset=reset).run(x)
    counts = []
    for k, layer in enumerate(net.layers):
        where = f"{net.describe()}, layer {k} ({layer.kind}), dt={dt}, reset={reset}"
        mismatch = np.argwhere(ours[k] != theirs[k])
        assert mismatch.size == 0, f"{where}: first differing (step, sample, neuron) {mismatch[0]}"
        for s, value in our_states[k].items():
            np.testing.assert_allclose(
                value, their_states[k][s], rtol=1e-9, atol=1e-9, err_msg=where
            )
        counts.append(int(ours[k].sum()))
    return counts


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_random_networks_match_norse(norse, torch, reset):
    rng = np.random.default_rng(31337 + (reset == "zero"))
    tally = Tally()
    for _ in range(N_GRAPHS):
        dt = float(rng.choice([1e-4, 5e-4, 1e-3]))
        net = random_net(
            rng, dt=dt, p_in=P_IN, v_leak=True, v_reset=reset == "zero", bound_input=False
        )
        tally.add(net, _compare(net, torch, rng, dt, reset))
    tally.check()


def test_norse_lif_box_is_euler_lif_on_the_paper_graph(norse, torch):
    """The NIR paper's single LIF (lif_norse.nir) driven by its stored input: the reference
    and Norse's box LIF spike at the same steps, which are the paper's expected ones."""
    import nirbridge
    from tests.conftest import paper_file

    graph = nirbridge.read(paper_file("01_lif", "lif_norse.nir"))
    # columns: input, v, spike (no header)
    table = np.loadtxt(paper_file("01_lif", "lif_exact.csv"), delimiter=",")
    x = table[:, 0]
    ours = nirbridge.simulate(graph, {"input": x[:, None]}, dt=1e-4).outputs["output"][:, 0]
    lif = graph.nodes["1"]
    lif_box = importlib.import_module("norse.torch.functional.lif_box")
    reset = importlib.import_module("norse.torch.functional.reset")
    p = lif_box.LIFBoxParameters(
        tau_mem_inv=torch.from_numpy(1.0 / np.asarray(lif.tau, dtype=np.float64)),
        v_leak=torch.from_numpy(np.asarray(lif.v_leak, dtype=np.float64)),
        v_th=torch.from_numpy(np.asarray(lif.v_threshold, dtype=np.float64)),
        method="heaviside",
        reset_method=reset.reset_subtract,
    )
    w = float(np.asarray(graph.nodes["0"].weight).ravel()[0])
    r = torch.from_numpy(np.asarray(lif.r, dtype=np.float64))
    state = lif_box.LIFBoxFeedForwardState(v=torch.zeros(1, dtype=torch.float64))
    theirs = []
    with torch.no_grad():
        for value in x:
            z, state = lif_box.lif_box_feed_forward_step(
                r * torch.tensor([w * value], dtype=torch.float64), state, p, dt=1e-4
            )
            theirs.append(float(z[0]))
    np.testing.assert_array_equal(ours, theirs)
    assert np.flatnonzero(ours).tolist() == [460, 510, 710, 760]
    np.testing.assert_array_equal(ours, table[:, 2])
