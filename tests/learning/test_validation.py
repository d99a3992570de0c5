"""Each rule checks itself on construction and against its graph, naming the field."""

from __future__ import annotations

import dataclasses

import nir
import numpy as np
import pytest

import nirbridge
import nirbridge.learning as nl
from nirbridge import LearningRuleError

from ._graphs import ALL_EDGES, SPIKE_PAIR, examples, network


def replace(rule, **changes):
    """A copy of ``rule`` with fields changed (construction checks run again)."""
    return dataclasses.replace(rule, **changes)


def raises(field: str, match: str):
    """pytest.raises for a LearningRuleError about ``field`` whose message matches."""

    class _Check:
        def __enter__(self):
            self.ctx = pytest.raises(LearningRuleError, match=match)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            out = self.ctx.__exit__(*exc)
            assert self.info.value.field == field, str(self.info.value)
            return out

    return _Check()


@pytest.fixture
def graph():
    return network()


@pytest.fixture
def ex():
    return examples()


def test_examples_are_valid(graph, ex):
    for rule in ex.values():
        rule.validate(graph)


def test_learning_rule_error_is_a_nirbridge_error():
    assert issubclass(LearningRuleError, nirbridge.NirBridgeError)
    assert nirbridge.LearningRuleError is LearningRuleError


# -- parts ---------------------------------------------------------------------------------------


def test_scope_needs_plastic_edges_each_once():
    with raises("plastic_edges", "too few items"):
        nl.Scope(plastic_edges=())
    with raises("plastic_edges[1]", "edge listed twice"):
        nl.Scope(plastic_edges=(("a", "b"), ("a", "b")))
    with raises("plastic_edges[0]", "pair of node names"):
        nl.Scope(plastic_edges=(("a", "b", "c"),))
    with raises("plastic_edges", "list of"):
        nl.Scope(plastic_edges="a->b")
    with raises("readout", "NUL"):
        nl.Scope(plastic_edges=(("a", "b"),), readout="li\x00")


def test_scope_against_the_graph(graph, ex):
    rule = ex["stdp"]
    with raises("scope.plastic_edges[0]", "node 'nope', which is not in the graph"):
        replace(rule, scope=nl.Scope(plastic_edges=(("nope", "w_in"),))).validate(graph)
    with raises("scope.plastic_edges[0]", "not an edge of the graph.*lif.*w_rec"):
        replace(rule, scope=nl.Scope(plastic_edges=(("input", "w_rec"),))).validate(graph)
    with raises("scope.plastic_edges[0]", "target holds no weights.*LIF"):
        replace(rule, scope=nl.Scope(plastic_edges=(("w_in", "lif"),))).validate(graph)
    with raises("scope.readout", "not a node of the graph"):
        scope = nl.Scope(plastic_edges=ALL_EDGES, readout="readout")
        replace(ex["eventprop"], scope=scope).validate(graph)
    with raises("scope.target_input", "not an Input node"):
        scope = nl.Scope(plastic_edges=ALL_EDGES, readout="li", target_input="li")
        replace(ex["eventprop"], scope=scope).validate(graph)


def test_scope_names_nodes_inside_subgraphs_by_their_flat_names():
    inner = network()
    del inner.nodes["target"], inner.nodes["target_out"]
    inner.edges.remove(("target", "target_out"))
    outer = nir.NIRGraph(
        nodes={"x": nir.Input(np.array([3])), "net": inner, "y": nir.Output(np.array([2]))},
        edges=[("x", "net"), ("net", "y")],
        type_check=False,
    )
    rule = nl.STDP(
        scope=nl.Scope(plastic_edges=(("net.input", "net.w_in"), ("net.lif", "net.w_rec"))),
        timing_dependence=SPIKE_PAIR,
        weight_dependence=nl.WeightDependence(name="AdditiveWeightDependence"),
    )
    nl.attach(outer, rule)
    assert nl.rule_of(outer) == rule
    with raises("scope.plastic_edges[0]", "not in the graph"):
        replace(rule, scope=nl.Scope(plastic_edges=(("input", "w_in"),))).validate(outer)


def test_optimizer_checks():
    with raises("learning_rate", r"out of range: expected > 0, got -0.1"):
        nl.Optimizer.sgd(-0.1)
    with raises("learning_rate", "not finite"):
        nl.Optimizer.sgd(float("nan"))
    with raises("beta_1", "required when name is 'adam'"):
        nl.Optimizer(name="adam", learning_rate=1e-3, beta_2=0.999, epsilon=1e-8)
    with raises("beta_2", r"< 1"):
        nl.Optimizer.adam(1e-3, beta_2=1.0)
    with raises("beta_1", "not used when name is 'sgd'"):
        nl.Optimizer(name="sgd", learning_rate=1e-3, beta_1=0.9)
    with raises("momentum", "not used when name is 'adam'"):
        nl.Optimizer.adam(1e-3, momentum=0.9)
    with raises("name", "unknown value.*'sgd', 'adam'"):
        nl.Optimizer(name="rmsprop", learning_rate=1e-3)
    with raises("w_min", "w_min > w_max"):
        nl.Optimizer.sgd(1e-3, w_min=1.0, w_max=0.0)
    with raises("batch_size", "an integer"):
        nl.Optimizer.sgd(1e-3, batch_size=2.0)
    with raises("batch_size", ">= 1"):
        nl.Optimizer.sgd(1e-3, batch_size=0)
    state = nl.AdamState(node="w_in", step=0, m=np.zeros((8, 3)), v=np.zeros((8, 3)))
    with raises("state", "not used when name is 'sgd'"):
        nl.Optimizer.sgd(1e-3, state=(state,))
    with raises("state[1].node", "two states"):
        nl.Optimizer.adam(1e-3, state=(state, state))


def test_adam_state_checks(graph, ex):
    with raises("v", "out of range.*>= 0.*at index"):
        nl.AdamState(node="w", step=1, m=np.zeros(3), v=np.array([0.0, -1.0, 0.0]))
    with raises("v", "shape differs"):
        nl.AdamState(node="w", step=1, m=np.zeros(3), v=np.zeros(4))
    with raises("m", "not finite"):
        nl.AdamState(node="w", step=1, m=np.array([np.inf]), v=np.zeros(1))
    with raises("m", "real numbers"):
        nl.AdamState(node="w", step=1, m=np.array(["a"]), v=np.zeros(1))
    with raises("v_bias", "go together"):
        nl.AdamState(node="w", step=1, m=np.zeros(1), v=np.zeros(1), m_bias=np.zeros(1))
    with raises("step", ">= 0"):
        nl.AdamState(node="w", step=-1, m=np.zeros(1), v=np.zeros(1))
    rule = ex["surrogate_gradient"]

    def with_state(st):
        return replace(rule, optimizer=nl.Optimizer.adam(1e-3, state=(st,)))

    wrong_shape = nl.AdamState(node="w_in", step=1, m=np.zeros((3, 8)), v=np.zeros((3, 8)))
    with raises("optimizer.state[0].m", r"shape \(8, 3\)"):
        with_state(wrong_shape).validate(graph)
    not_plastic = nl.AdamState(node="w_out", step=1, m=np.zeros((2, 8)), v=np.zeros((2, 8)))
    scope = nl.Scope(plastic_edges=(("input", "w_in"),), readout="li")
    with raises("optimizer.state[0].node", "not a plastic weight node"):
        replace(with_state(not_plastic), scope=scope).validate(graph)
    bias_on_linear = nl.AdamState(
        node="w_in", step=1, m=np.zeros((8, 3)), v=np.zeros((8, 3)),
        m_bias=np.zeros(8), v_bias=np.zeros(8),
    )  # fmt: skip
    with raises("optimizer.state[0].m_bias", "no bias state"):
        with_state(bias_on_linear).validate(graph)


def test_surrogate_needs_its_parameters():
    with raises("alpha", "required when function is 'atan'"):
        nl.Surrogate(function="atan")
    with raises("width", "required when function is 'piecewise_linear'"):
        nl.Surrogate(function="piecewise_linear", height=1.0)
    with raises("slope", "not used when function is 'atan'"):
        nl.Surrogate(function="atan", alpha=2.0, slope=25.0)
    with raises("slope", "> 0"):
        nl.Surrogate(function="fast_sigmoid", slope=0.0)
    with raises("function", "unknown value"):
        nl.Surrogate(function="sigmoid", slope=1.0)
    with raises("function", "unknown value"):
        nl.EPropSurrogate(function="fast_sigmoid")
    with raises("gamma", "> 0"):
        nl.EPropSurrogate(gamma=-0.3)


def test_loss_and_regularizer_need_their_parameters():
    with raises("tau1", "required when name is 'ttfs'"):
        nl.Loss(name="ttfs", tau0=1e-3, alpha=0.1)
    with raises("tau0", "not used when name is 'max_voltage'"):
        nl.Loss(name="max_voltage", tau0=1e-3)
    with raises("correct_rate", "<= 1"):
        nl.Loss(name="mse_count", correct_rate=1.5, incorrect_rate=0.1)
    with raises("target_rate", "required when name is 'firing_rate'"):
        nl.Regularizer(name="firing_rate", strength=1.0)
    with raises("strength", ">= 0"):
        nl.Regularizer(name="weight_l2", strength=-1.0)


# -- rules ---------------------------------------------------------------------------------------


def test_surrogate_gradient(graph, ex):
    rule = ex["surrogate_gradient"]
    with raises("scope.readout", "needs a readout"):
        replace(rule, scope=nl.Scope(plastic_edges=ALL_EDGES))
    with raises("epochs", ">= 1"):
        replace(rule, epochs=0)
    with raises("detach_reset", "true or false"):
        replace(rule, detach_reset=2)
    with raises("scope.readout", "reads spikes.*LI"):
        replace(rule, loss=nl.Loss(name="spike_count")).validate(graph)
    with raises("regularizers[0].nodes[0]", "does not spike"):
        reg = nl.Regularizer(name="firing_rate", strength=1.0, target_rate=5.0, nodes=("li",))
        replace(rule, regularizers=(reg,)).validate(graph)
    with raises("regularizers[0].nodes[0]", "holds no weights"):
        reg = nl.Regularizer(name="weight_l1", strength=1.0, nodes=("lif",))
        replace(rule, regularizers=(reg,)).validate(graph)
    with raises("regularizers[0].nodes[0]", "not a node"):
        reg = nl.Regularizer(name="weight_l1", strength=1.0, nodes=("w_nope",))
        replace(rule, regularizers=(reg,)).validate(graph)


def test_eventprop(graph, ex):
    rule = ex["eventprop"]
    with raises("loss.name", "not defined for EventProp"):
        replace(rule, loss=nl.Loss(name="mse_voltage"))
    with raises("scope.readout", "reads a membrane voltage"):
        replace(rule, scope=nl.Scope(plastic_edges=ALL_EDGES, readout="w_out")).validate(graph)
    spiking_readout = nl.Scope(plastic_edges=ALL_EDGES, readout="lif")
    with raises("scope.plastic_edges[2]", "leaky integrate-and-fire neurons.*LI"):
        replace(rule, scope=spiking_readout, loss=nl.Loss(name="spike_count")).validate(graph)
    ttfs = nl.Loss(name="ttfs", tau0=5e-4, tau1=6.4e-3, alpha=3e-3)
    scope = nl.Scope(plastic_edges=ALL_EDGES[:2], readout="lif")
    replace(rule, scope=scope, loss=ttfs).validate(graph)


def test_eprop(graph, ex):
    rule = ex["eprop"]
    with raises("B", r"wrong shape: expected \(8, 2\).*hidden neurons \(lif\) x readout"):
        replace(rule, B=np.zeros((8, 3))).validate(graph)
    with raises("B", "2-D array"):
        replace(rule, B=np.zeros(16))
    with raises("B", "required when feedback is 'random'"):
        replace(rule, B=None)
    with raises("B", "not used when feedback is 'symmetric'"):
        replace(rule, feedback="symmetric")
    with raises("adapt_tau", "required when neuron is 'alif'"):
        replace(rule, adapt_tau=None)
    with raises("adapt_beta", "not used when neuron is 'lif'"):
        replace(rule, neuron="lif", adapt_tau=None)
    with raises("learning_window", "required when variant is 'bsshslm_2020'"):
        replace(rule, variant="bsshslm_2020", kappa=None, kappa_reg=None, isi_trace_cutoff=None)
    with raises("kappa", "not used when variant is 'bsshslm_2020'"):
        replace(rule, variant="bsshslm_2020", learning_window=0.5, update_interval=1.0)
    with raises("learning_window", "longer than the update interval"):
        replace(
            rule, variant="bsshslm_2020", kappa=None, kappa_reg=None, isi_trace_cutoff=None,
            learning_window=2.0, update_interval=1.0,
        )  # fmt: skip
    with raises("kappa", "< 1"):
        replace(rule, kappa=1.0)
    with raises("f_target", ">= 0"):
        replace(rule, f_target=-1.0)
    with raises("scope.readout", "from a readout"):
        replace(rule, scope=nl.Scope(plastic_edges=ALL_EDGES))
    with raises("scope.readout", "leaky integrator"):
        replace(rule, scope=nl.Scope(plastic_edges=ALL_EDGES, readout="lif")).validate(graph)
    with raises("scope.plastic_edges", "no plastic edge reaches a spiking hidden neuron"):
        only_out = nl.Scope(plastic_edges=(("lif", "w_out"),), readout="li")
        replace(rule, scope=only_out).validate(graph)
    with raises("readout_tau", r"disagrees with the readout node's time constant.*0\.03"):
        replace(rule, readout_tau=0.02).validate(graph)
    g_ms = network()
    nirbridge.graph.with_metadata(g_ms, time_unit="ms")  # li's tau 0.03 is now 30 us
    with raises("readout_tau", "disagrees"):
        rule.validate(g_ms)
    replace(rule, readout_tau=0.03e-3).validate(g_ms)


def test_eprop_hidden_nodes_follow_the_plastic_edges(graph, ex):
    assert ex["eprop"].hidden_nodes(graph) == ["lif"]


def test_stdp(graph, ex):
    rule = ex["stdp"]
    with raises("timing_dependence.tau_minus", "required when name is 'SpikePairRule'"):
        nl.STDP(
            scope=rule.scope,
            timing_dependence={
                "name": "SpikePairRule",
                "tau_plus": 0.02,
                "A_plus": 0.01,
                "A_minus": 0.01,
            },  # fmt: skip
            weight_dependence=rule.weight_dependence,
        )
    with raises("tau", "not used when name is 'SpikePairRule'"):
        dataclasses.replace(SPIKE_PAIR, tau=0.02)
    with raises("A_plus", ">= 0"):
        dataclasses.replace(SPIKE_PAIR, A_plus=-0.01)
    with raises("name", "Vogels2011Rule"):
        nl.TimingDependence(name="TripletRule")
    with raises("w_min", "w_min > w_max"):
        nl.WeightDependence(name="AdditiveWeightDependence", w_min=1.0, w_max=0.5)
    with raises("mu_plus", "required when name is 'GutigWeightDependence'"):
        nl.WeightDependence(name="GutigWeightDependence")
    with raises("dendritic_delay_fraction", "<= 1"):
        replace(rule, dendritic_delay_fraction=1.5)
    with raises("scope.plastic_edges[0]", "postsynaptic spikes"):
        replace(rule, scope=nl.Scope(plastic_edges=(("lif", "w_out"),))).validate(graph)


def test_stdp_needs_dense_weights_and_presynaptic_spikes(ex):
    rule = replace(ex["stdp"], scope=nl.Scope(plastic_edges=(("input", "w_conv"),)))
    with raises("scope.plastic_edges[0]", "one weight per synapse"):
        rule.validate(_with_conv())
    with raises("scope.plastic_edges[0]", "presynaptic spikes"):
        replace(rule, scope=nl.Scope(plastic_edges=(("li", "w_fb"),))).validate(_feedback())


def _with_conv() -> nir.NIRGraph:
    """``input (1x3) -> w_conv (Conv1d, 8 channels) -> flat -> lif2 (24)``."""
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([1, 3])),
            "w_conv": nir.Conv1d(
                input_shape=3, weight=np.ones((8, 1, 1)), stride=1, padding=0, dilation=1,
                groups=1, bias=np.zeros(8),
            ),
            "flat": nir.Flatten(input_type={"input": np.array([8, 3])}, start_dim=0),
            "lif2": nir.LIF(
                tau=np.full(24, 0.02), r=np.ones(24), v_leak=np.zeros(24),
                v_threshold=np.ones(24), v_reset=np.zeros(24),
            ),
            "output": nir.Output(np.array([24])),
        },
        edges=[("input", "w_conv"), ("w_conv", "flat"), ("flat", "lif2"), ("lif2", "output")],
        type_check=False,
    )  # fmt: skip


def _feedback() -> nir.NIRGraph:
    """``network()`` plus ``li -> w_fb -> lif``: a projection from a non-spiking node."""
    g = network()
    g.nodes["w_fb"] = nir.Linear(weight=np.ones((8, 2)))
    g.edges += [("li", "w_fb"), ("w_fb", "lif")]
    return g


def test_local_rule_strings_are_checked_as_lava_parses_them():
    scope = nl.Scope(plastic_edges=(("input", "w_in"),))
    good = [
        "2^-2*x1*y0 - 2^-2*y1*x0",
        "x0*y1 + y0*x1",
        "-3*2^-3*u2*t + u2*y1*x1",
        "4*x0*(w-2) - y0*sgn(w)",
        "2*2^3*y0*x1*y2*y3",
        "x0 * (2 + w)",
        "16*x0",  # normalised to 1*2^4 as Lava does
    ]
    for text in good:
        nl.LocalRule(scope=scope, dw=text)
    bad = {
        "": "empty expression",
        "x1*y1": "without a dependency",
        "x0*z1": "unexpected 'z1'",
        "x0*2.5": "unexpected '.5'",
        "x0*sgn(x1)": "sgn",
        "x0*(w": "closing",
        "x0*w)": "without its opening",
        "x0 x1": "without",
        "x0 +": "ends with an operator",
        "x0*(w*x1)": "not of the form",
        "9*x0": "not representable",
        "2^9*x0": "outside Loihi",
        "x0*-2": "where a factor",
        "u1*x1*u2": "different k",
    }
    for text, message in bad.items():
        with raises("dw", f"not a Lava learning rule: .*{message}"):
            nl.LocalRule(scope=scope, dw=text)
    with raises("dd", "different decimation k"):
        nl.LocalRule(scope=scope, dw="u1*x1", dd="u3*x2")
    with raises("dw", "different decimation k"):
        nl.LocalRule(scope=scope, dw="u1*x1 + u2*x2")
    with raises("dw", "at least one of dw, dd, dt"):
        nl.LocalRule(scope=scope)
    with raises("x1_impulse", ">= 0"):
        nl.LocalRule(scope=scope, dw="x0*y1", x1_impulse=-1.0)
    with raises("t_epoch", ">= 1"):
        nl.LocalRule(scope=scope, dw="x0*y1", t_epoch=0)


def test_local_rule_traces_and_graph(graph, ex):
    rule = ex["local"]
    assert rule.traces() == {"x1", "y1"}
    with raises("scope.plastic_edges[0]", "postsynaptic spikes"):
        replace(rule, scope=nl.Scope(plastic_edges=(("lif", "w_out"),))).validate(graph)


def test_attach_validates_and_refuses_non_rules(graph, ex):
    bad = replace(ex["eprop"], B=np.zeros((3, 2)))
    with raises("B", "wrong shape"):
        nl.attach(graph, bad)
    assert nl.rule_of(graph) is None  # nothing stored
    nl.attach(graph, bad, check=False)
    with raises("B", "wrong shape"):
        nl.rule_of(graph)
    assert nl.rule_of(graph, check=False) == bad
    with pytest.raises(LearningRuleError, match="not a learning rule"):
        nl.attach(graph, ex["eprop"].optimizer)


def test_rules_are_frozen_and_hashable(ex):
    rule = ex["eprop"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.variant = "bsshslm_2020"
    with pytest.raises(ValueError, match="read-only"):
        rule.B[0, 0] = 1.0
    assert hash(rule) == hash(examples()["eprop"])
    assert len({r: k for k, r in ex.items()}) == len(ex)
    with pytest.raises(TypeError):
        nl.EProp(ex["eprop"].scope, "online")  # keyword-only


def test_constructor_copies_arrays(ex):
    B = np.ones((8, 2))
    rule = replace(ex["eprop"], B=B)
    B[0, 0] = 5.0
    assert rule.B[0, 0] == 1.0
