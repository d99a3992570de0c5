"""The reference simulator against closed-form solutions and an independent ODE solution."""

from __future__ import annotations

import nir
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import expm

import nirbridge
from nirbridge.reference import phi


def single(node: nir.NIRNode, n: int = 1) -> nir.NIRGraph:
    """Input -> node -> Output."""
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([n])}),
            "n": node,
            "output": nir.Output(output_type={"output": np.array([n])}),
        },
        edges=[("input", "n"), ("n", "output")],
        type_check=False,
    )


def arr(v: float, n: int = 1) -> np.ndarray:
    return np.full(n, float(v))


def run(graph, x, **kw):
    kw.setdefault("reset", "zero")
    return nirbridge.simulate(graph, {"input": x}, **kw)


@pytest.mark.parametrize(
    "tau,dt,r,x,v_leak", [(0.02, 1e-3, 1.0, 0.7, 0.0), (0.005, 1e-4, 3.0, -0.2, 0.4)]
)
def test_li_euler_constant_input_matches_geometric_solution(tau, dt, r, x, v_leak):
    steps = 300
    g = single(nir.LI(tau=arr(tau), r=arr(r), v_leak=arr(v_leak)))
    v = run(g, np.full((steps, 1), x), dt=dt).outputs["output"][:, 0]
    a = dt / tau
    t = np.arange(1, steps + 1)
    expected = (v_leak + r * x) * (1 - (1 - a) ** t)
    np.testing.assert_allclose(v, expected, rtol=1e-10, atol=1e-12)


def test_li_exact_constant_impulses_match_geometric_series():
    tau, dt, r, x = 0.01, 1e-3, 2.0, 0.5
    steps = 200
    g = single(nir.LI(tau=arr(tau), r=arr(r), v_leak=arr(0.0)))
    v = run(g, np.full((steps, 1), x), dt=dt, integrator="exact").outputs["output"][:, 0]
    p = np.exp(-dt / tau)
    c = r * x * dt / tau * p
    t = np.arange(1, steps + 1)
    np.testing.assert_allclose(v, c * (1 - p**t) / (1 - p), rtol=1e-10)


@pytest.mark.parametrize("integrator", ["euler", "exact"])
def test_if_subtract_fires_every_fourth_step(integrator):
    # dt*r*x = 0.25 exactly in binary floating point: spikes when v' = 1.25 > 1.
    g = single(nir.IF(r=arr(2.5), v_threshold=arr(1.0), v_reset=arr(0.0)))
    z = run(g, np.full((40, 1), 1.0), dt=0.1, reset="subtract", integrator=integrator)
    steps = np.flatnonzero(z.outputs["output"][:, 0])
    np.testing.assert_array_equal(steps, np.arange(4, 40, 4))


def test_if_zero_reset_period_and_subtract_differ():
    g = single(nir.IF(r=arr(1.0), v_threshold=arr(1.0), v_reset=arr(0.0)))
    x = np.full((30, 1), 0.3)
    zero = np.flatnonzero(run(g, x, dt=1.0, reset="zero").outputs["output"][:, 0])
    sub = np.flatnonzero(run(g, x, dt=1.0, reset="subtract").outputs["output"][:, 0])
    np.testing.assert_array_equal(zero, [3, 7, 11, 15, 19, 23, 27])  # 1.2 > 1, reset to 0
    assert len(sub) == 8 and sub[0] == 3 and sub[1] == 6  # remainder 0.2 carries over


def test_lif_zero_reset_spike_times_from_closed_form():
    tau, dt, r, x, thr = 0.02, 1e-3, 1.0, 1.5, 1.0
    g = single(
        nir.LIF(tau=arr(tau), r=arr(r), v_leak=arr(0.0), v_threshold=arr(thr), v_reset=arr(0.0))
    )
    z = run(g, np.full((500, 1), x), dt=dt).outputs["output"][:, 0]
    a = dt / tau
    # v_t = r*x*(1 - (1-a)^t) after a reset: first t with v_t > thr, then periodic.
    period = int(np.floor(np.log(1 - thr / (r * x)) / np.log(1 - a))) + 1
    expected = np.arange(period - 1, 500, period)
    np.testing.assert_array_equal(np.flatnonzero(z), expected)


def test_lif_v_leak_drives_without_input():
    g = single(
        nir.LIF(tau=arr(0.01), r=arr(1.0), v_leak=arr(2.0), v_threshold=arr(1.0), v_reset=arr(0.0))
    )
    z = run(g, np.zeros((100, 1)), dt=1e-3).outputs["output"][:, 0]
    a = 0.1
    period = int(np.floor(np.log(1 - 1.0 / 2.0) / np.log(1 - a))) + 1
    np.testing.assert_array_equal(np.flatnonzero(z), np.arange(period - 1, 100, period))


def _cuba_expm(tau_syn, tau_mem, r, w_in, v_leak, dt, x):
    """Exact CubaLI by the matrix exponential of the 2x2 system (independent of our formula)."""
    a = np.array([[-1 / tau_syn, 0.0], [r / tau_mem, -1 / tau_mem]])
    prop = expm(a * dt)
    i, u = 0.0, -v_leak  # u = v - v_leak; v starts at 0
    vs = []
    for xt in x:
        i += w_in * xt * dt / tau_syn
        i, u = prop @ np.array([i, u])
        vs.append(u + v_leak)
    return np.array(vs)


@pytest.mark.parametrize(
    "tau_syn,tau_mem",
    [(2e-3, 10e-3), (10e-3, 2e-3), (5e-3, 5e-3), (5e-3, 5e-3 * (1 + 1e-9))],
)
def test_cubali_exact_equals_matrix_exponential(tau_syn, tau_mem):
    rng = np.random.default_rng(3)
    x = (rng.random(300) < 0.2).astype(float) * rng.normal(1.0, 0.5, 300)
    r, w_in, v_leak, dt = 1.7, 0.8, -0.3, 1e-3
    g = single(
        nir.CubaLI(
            tau_syn=arr(tau_syn), tau_mem=arr(tau_mem), r=arr(r), v_leak=arr(v_leak), w_in=arr(w_in)
        )
    )
    v = run(g, x[:, None], dt=dt, integrator="exact").outputs["output"][:, 0]
    np.testing.assert_allclose(
        v, _cuba_expm(tau_syn, tau_mem, r, w_in, v_leak, dt, x), rtol=1e-9, atol=1e-12
    )


def test_phi_is_stable_near_zero():
    u = np.array([0.0, 1e-14, -1e-10, 1e-5, 0.3, -2.0])
    # Taylor series 1 + u/2 + u^2/6 + u^3/24 is accurate to 1e-16 for |u| <= 1e-5.
    taylor = [1 + v / 2 + v * v / 6 + v**3 / 24 for v in u[:4]]
    expected = np.array([*taylor, np.expm1(0.3) / 0.3, np.expm1(-2.0) / -2.0])
    np.testing.assert_allclose(phi(u), expected, rtol=1e-12)


def test_cubalif_exact_spikes_match_fine_ode_integration():
    """Spike times of the exact mode against solve_ivp on the ODEs with impulse input."""
    tau_syn, tau_mem, r, w_in, thr, dt = 3e-3, 8e-3, 1.0, 1.0, 0.05, 1e-3
    rng = np.random.default_rng(7)
    x = (rng.random(200) < 0.3).astype(float)
    g = single(
        nir.CubaLIF(
            tau_syn=arr(tau_syn),
            tau_mem=arr(tau_mem),
            r=arr(r),
            v_leak=arr(0.0),
            v_threshold=arr(thr),
            v_reset=arr(0.0),
            w_in=arr(w_in),
        )
    )
    z = run(g, x[:, None], dt=dt, integrator="exact").outputs["output"][:, 0]

    def rhs(_t, y):
        i, v = y
        return [-i / tau_syn, (-v + r * i) / tau_mem]

    i = v = 0.0
    spikes = []
    for t, xt in enumerate(x):
        i += w_in * xt * dt / tau_syn
        sol = solve_ivp(rhs, (0, dt), [i, v], rtol=1e-11, atol=1e-14, method="DOP853")
        i, v = sol.y[:, -1]
        if v > thr:
            spikes.append(t)
            v = 0.0
    assert len(spikes) > 5
    np.testing.assert_array_equal(np.flatnonzero(z), spikes)


def test_euler_converges_to_exact_as_dt_shrinks():
    tau_syn, tau_mem = 2e-3, 5e-3
    node = nir.CubaLI(
        tau_syn=arr(tau_syn), tau_mem=arr(tau_mem), r=arr(1.0), v_leak=arr(0.0), w_in=arr(1.0)
    )
    errors = []
    for dt in (1e-4, 1e-5):
        steps = int(round(0.02 / dt))
        x = np.zeros((steps, 1))
        x[0] = 1.0 / dt * 1e-4  # the same impulse area at every dt
        ve = run(single(node), x, dt=dt).outputs["output"][:, 0]
        vx = run(single(node), x, dt=dt, integrator="exact").outputs["output"][:, 0]
        errors.append(np.abs(ve - vx).max())
    assert errors[1] < errors[0] / 5  # first order: ten times smaller dt, ~ten times smaller


def test_delay_node_shifts_by_rounded_steps():
    g = single(nir.Delay(delay=np.array([0.0, 3e-3, 2.4e-3])), n=3)
    x = np.random.default_rng(0).random((20, 3))
    y = run(g, x, dt=1e-3).outputs["output"]
    np.testing.assert_array_equal(y[:, 0], x[:, 0])
    np.testing.assert_array_equal(y[3:, 1], x[:-3, 1])
    np.testing.assert_array_equal(y[:3, 1], 0)
    np.testing.assert_array_equal(y[2:, 2], x[:-2, 2])


def test_threshold_is_strict():
    g = single(nir.Threshold(threshold=np.array([0.5, 0.5])), n=2)
    y = run(g, np.array([[0.5, 0.6], [0.4, 0.5]]), dt=1.0).outputs["output"]
    np.testing.assert_array_equal(y, [[0, 1], [0, 0]])


def test_back_edge_carries_previous_step():
    # input -> lif -> rec(Linear) -> lif (back edge). IF with threshold 0.5, w_rec = 1.
    nodes = {
        "input": nir.Input(input_type={"input": np.array([1])}),
        "if": nir.IF(r=arr(1.0), v_threshold=arr(0.5), v_reset=arr(0.0)),
        "rec": nir.Linear(weight=np.array([[1.0]])),
        "output": nir.Output(output_type={"output": np.array([1])}),
    }
    edges = [("input", "if"), ("if", "rec"), ("rec", "if"), ("if", "output")]
    g = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    x = np.zeros((6, 1))
    x[0] = 1.0
    z = run(g, x, dt=1.0).outputs["output"][:, 0]
    # step 0 spikes from input; each spike re-excites the neuron one step later.
    np.testing.assert_array_equal(z, [1, 1, 1, 1, 1, 1])
    x2 = np.zeros((6, 1))
    x2[2] = 1.0
    np.testing.assert_array_equal(run(g, x2, dt=1.0).outputs["output"][:, 0], [0, 0, 1, 1, 1, 1])


def test_batched_equals_per_sample_and_event_path_equals_dense():
    rng = np.random.default_rng(11)
    n_in, n = 20, 30
    nodes = {
        "input": nir.Input(input_type={"input": np.array([n_in])}),
        "fc": nir.Affine(weight=rng.normal(0, 1, (n, n_in)), bias=rng.normal(0, 0.1, n)),
        "lif": nir.LIF(
            tau=arr(0.01, n),
            r=arr(10.0, n),
            v_leak=arr(0.0, n),
            v_threshold=arr(1.0, n),
            v_reset=arr(0.0, n),
        ),
        "rec": nir.Linear(weight=rng.normal(0, 0.5, (n, n))),
        "output": nir.Output(output_type={"output": np.array([n])}),
    }
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")]
    g = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    x = (rng.random((100, 4, n_in)) < 0.1).astype(float)
    batched = nirbridge.simulate(g, {"input": x}, dt=1e-3, reset="zero", batched=True)
    out = batched.outputs["output"]
    assert out.shape == (100, 4, n) and out.sum() > 50
    for b in range(4):
        single_run = nirbridge.simulate(g, {"input": x[:, b]}, dt=1e-3, reset="zero")
        np.testing.assert_array_equal(single_run.outputs["output"], out[:, b])
    dense = nirbridge.ReferenceSimulator(g, dt=1e-3, reset="zero", event_driven=False)
    np.testing.assert_array_equal(dense.run({"input": x}, batched=True).outputs["output"], out)


def test_initial_state_from_metadata():
    g = single(nir.LI(tau=arr(0.01), r=arr(1.0), v_leak=arr(0.0)))
    nirbridge.graph.with_metadata(g, initial_state={"n": {"v": np.array([2.0])}})
    v = run(g, np.zeros((3, 1)), dt=1e-3).outputs["output"][:, 0]
    np.testing.assert_allclose(v, 2.0 * 0.9 ** np.arange(1, 4))


def test_time_unit_ms_scales_time_constants():
    g_s = single(nir.LI(tau=arr(0.01), r=arr(1.0), v_leak=arr(0.0)))
    g_ms = single(nir.LI(tau=arr(10.0), r=arr(1.0), v_leak=arr(0.0)))
    x = np.ones((50, 1))
    a = run(g_s, x, dt=1e-3).outputs["output"]
    b = run(g_ms, x, dt=1e-3, time_unit="ms").outputs["output"]
    np.testing.assert_allclose(a, b, rtol=1e-12)
    nirbridge.graph.with_metadata(g_ms, time_unit="ms")
    np.testing.assert_allclose(run(g_ms, x, dt=1e-3).outputs["output"], a, rtol=1e-12)
