"""Random layered spiking networks, as NIR graphs and as plain arrays a peer can rebuild.

A :class:`Net` is an input of ``n_in`` channels followed by neuron layers (LIF, IF or CubaLIF),
each fed by an Affine or Linear projection from the layer below, optionally with a recurrent
projection onto itself and (from the last layer onto the first) a feedback projection. In the
NIR graph both close cycles, so by SEMANTICS.md they carry last step's spikes; a peer
implementation adds ``W_rec @ z_k[t-1]`` and ``W_fb @ z_last[t-1]`` in its own time loop.

Names in the graph: ``fc{k}`` (projection into layer k), ``n{k}`` (the neurons), ``rec{k}``
(recurrent projection), ``fb`` (feedback projection), ``input``, ``output`` (reads the last layer).
"""

from __future__ import annotations

import dataclasses

import nir
import numpy as np

import nirbridge

KINDS = ("LIF", "IF", "CubaLIF")


@dataclasses.dataclass
class Layer:
    kind: str
    n: int
    params: dict[str, np.ndarray]
    w_in: np.ndarray  # (n, n_prev)
    b_in: np.ndarray | None  # None: a Linear node
    w_rec: np.ndarray | None = None  # (n, n)
    b_rec: np.ndarray | None = None


@dataclasses.dataclass
class Net:
    n_in: int
    layers: list[Layer]
    w_fb: np.ndarray | None = None  # (n_first, n_last)
    b_fb: np.ndarray | None = None

    def projections(self, k: int):
        """(weight, bias or None, source) of every projection into layer k; source "below"
        (this step's spikes of the layer below / the input), else a layer index (last step)."""
        layer = self.layers[k]
        out = [(layer.w_in, layer.b_in, "below")]
        if layer.w_rec is not None:
            out.append((layer.w_rec, layer.b_rec, k))
        if k == 0 and self.w_fb is not None:
            out.append((self.w_fb, self.b_fb, len(self.layers) - 1))
        return out

    def describe(self) -> str:
        parts = [f"in{self.n_in}"]
        for layer in self.layers:
            parts.append(f"{layer.kind}{layer.n}{'+rec' if layer.w_rec is not None else ''}")
        return "->".join(parts) + ("+fb" if self.w_fb is not None else "")


def random_net(
    rng: np.random.Generator,
    *,
    dt: float,
    p_in: float,
    v_leak: bool,
    v_reset: bool,
    bound_input: bool,
    kinds: tuple[str, ...] = KINDS,
) -> Net:
    """A random network.

    Args:
        dt: The time step it will run with (to put decay factors and IF gains in range).
        p_in: Spike probability of the input (to scale the first layer's weights).
        v_leak: Draw nonzero leak potentials (else 0).
        v_reset: Draw nonzero reset potentials below threshold (else 0).
        bound_input: Scale each neuron's incoming weights so that the largest input one step can
            bring (every source spiking, biases included) raises v by at most v_threshold.
            With v_leak = 0, v <= v_threshold then holds after every step under subtract
            reset too (v' <= v_threshold + v_threshold), which snnTorch's Leaky needs (see
            test_vs_snntorch). The next layer's weights are scaled to the measured spike rate of
            the layer below on a probe input (run on the reference; only to pick weights).
    """
    n_in = int(rng.integers(3, 13))
    n_layers = int(rng.integers(1, 4))
    layers: list[Layer] = []
    n_prev, p_prev = n_in, p_in
    for depth in range(n_layers):
        # under the input bound a neuron fires only if its mean drive can still reach threshold,
        # which needs membranes slow against its inputs' spike rate (dt/tau below the rate)
        fastest, slowest = (1.5, 40.0) if not bound_input else (4.0, 40.0 if depth == 0 else 200.0)
        kind = str(rng.choice(kinds))
        n = int(rng.integers(2, 13))
        thr = rng.uniform(0.3, 2.0, n)
        params: dict[str, np.ndarray] = {"v_threshold": thr}
        params["v_reset"] = rng.uniform(-0.5, 0.5, n) * thr if v_reset else np.zeros(n)
        if kind == "IF":
            params["r"] = rng.uniform(0.5, 2.0, n) / dt  # one step of input I adds r*dt*I
            # no leak: aim the mean input at crossing threshold in about 4 steps
            steady = dt * params["r"] * 4.0
        else:
            params["r"] = rng.uniform(0.5, 2.0, n)
            params["v_leak"] = rng.uniform(-0.3, 0.3, n) * thr if v_leak else np.zeros(n)
            if kind == "LIF":
                params["tau"] = dt * rng.uniform(fastest, slowest, n)
                steady = params["r"]  # a constant input I settles v at v_leak + r*I
            else:
                params["tau_syn"] = dt * rng.uniform(1.2, 15.0, n)
                params["tau_mem"] = dt * rng.uniform(fastest, slowest, n)
                params["w_in"] = rng.uniform(0.5, 2.0, n)
                steady = params["r"] * params["w_in"]
        # weights whose mean drive, spread over the active inputs, is about the threshold
        active = max(n_prev * p_prev, 0.5)
        unit = thr / (steady * active)
        w_in = rng.normal(0.9, 1.2, (n, n_prev)) * unit[:, None] * rng.uniform(0.8, 2.5)
        # a tonic bias holding v below threshold keeps sparsely fed hidden layers responsive
        b_in = None
        if (depth > 0 and bound_input) or rng.random() < 0.5:
            if kind == "IF":
                b_in = thr / (dt * params["r"] * rng.uniform(15.0, 60.0, n))
            else:
                b_in = rng.uniform(0.3, 1.2, n) * thr / steady  # some fire tonically
            if rng.random() < 0.2:
                b_in = -b_in
        layer = Layer(kind, n, params, w_in, b_in)
        if rng.random() < 0.5:
            layer.w_rec = rng.normal(-0.2, 1.0, (n, n)) * unit[:, None]
            layer.b_rec = rng.normal(0.0, 0.2, n) * unit if rng.random() < 0.3 else None
        layers.append(layer)
        net = Net(n_in, layers)
        if bound_input:
            _bound(net, dt)
        if depth + 1 < n_layers:
            # scale the next layer to this one's actual rate, measured on a probe input
            probe = random_spikes(rng, 100, 2, n_in, p_in)
            spikes, _ = run_reference(net, probe, dt=dt, reset="subtract")
            n_prev, p_prev = n, max(float(spikes[-1].mean()), 0.01)
    if n_layers > 1 and rng.random() < 0.4:
        first, last = layers[0], layers[-1]
        net.w_fb = rng.normal(0.0, 1.0, (first.n, last.n)) * np.mean(np.abs(first.w_in))
        net.b_fb = None
        if bound_input:
            _bound(net, dt)
    return net


def _gain(layer: Layer, dt: float) -> np.ndarray:
    """How much one step's input raises v, per unit of summed input (r*a, or r*a_mem*w_in:
    the synaptic current is a running average of w_in * input, never above its largest value)."""
    p = layer.params
    if layer.kind == "IF":
        return dt * p["r"]
    if layer.kind == "LIF":
        return dt / p["tau"] * p["r"]
    return dt / p["tau_mem"] * p["r"] * p["w_in"]


def _bound(net: Net, dt: float) -> None:
    """Scale incoming projections so that gain * (positive weights + positive biases) stays
    below v_threshold; biases keep up to half of that room (they hold tonic drive)."""
    for k, layer in enumerate(net.layers):
        projections = net.projections(k)
        pos_w = sum(np.clip(w, 0, None).sum(axis=1) for w, _, _ in projections)
        pos_b = sum(np.clip(b, 0, None) for _, b, _ in projections if b is not None)
        limit = layer.params["v_threshold"] * 0.999 / _gain(layer, dt)
        f_b = np.minimum(1.0, 0.5 * limit / np.maximum(pos_b, 1e-300))
        f_w = np.minimum(1.0, (limit - pos_b * f_b) / np.maximum(pos_w, 1e-300))
        layer.w_in = layer.w_in * f_w[:, None]
        if layer.b_in is not None:
            layer.b_in = layer.b_in * f_b
        if layer.w_rec is not None:
            layer.w_rec = layer.w_rec * f_w[:, None]
            if layer.b_rec is not None:
                layer.b_rec = layer.b_rec * f_b
        if k == 0 and net.w_fb is not None:
            net.w_fb = net.w_fb * f_w[:, None]
            if net.b_fb is not None:
                net.b_fb = net.b_fb * f_b


def _projection(w: np.ndarray, b: np.ndarray | None) -> nir.NIRNode:
    return nir.Linear(weight=w) if b is None else nir.Affine(weight=w, bias=b)


def _neuron(layer: Layer) -> nir.NIRNode:
    p = layer.params
    if layer.kind == "IF":
        return nir.IF(r=p["r"], v_threshold=p["v_threshold"], v_reset=p["v_reset"])
    if layer.kind == "LIF":
        return nir.LIF(
            tau=p["tau"],
            r=p["r"],
            v_leak=p["v_leak"],
            v_threshold=p["v_threshold"],
            v_reset=p["v_reset"],
        )
    return nir.CubaLIF(
        tau_syn=p["tau_syn"],
        tau_mem=p["tau_mem"],
        r=p["r"],
        v_leak=p["v_leak"],
        v_threshold=p["v_threshold"],
        v_reset=p["v_reset"],
        w_in=p["w_in"],
    )


def to_nir(net: Net) -> nir.NIRGraph:
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type={"input": np.array([net.n_in])})}
    edges: list[tuple[str, str]] = []
    below = "input"
    for k, layer in enumerate(net.layers):
        nodes[f"fc{k}"] = _projection(layer.w_in, layer.b_in)
        nodes[f"n{k}"] = _neuron(layer)
        edges += [(below, f"fc{k}"), (f"fc{k}", f"n{k}")]
        if layer.w_rec is not None:
            nodes[f"rec{k}"] = _projection(layer.w_rec, layer.b_rec)
            edges += [(f"n{k}", f"rec{k}"), (f"rec{k}", f"n{k}")]
        below = f"n{k}"
    if net.w_fb is not None:
        nodes["fb"] = _projection(net.w_fb, net.b_fb)
        edges += [(below, "fb"), ("fb", "n0")]
    nodes["output"] = nir.Output(output_type={"output": np.array([net.layers[-1].n])})
    edges.append((below, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def states_of(layer: Layer) -> tuple[str, ...]:
    return ("i", "v") if layer.kind == "CubaLIF" else ("v",)


def run_reference(
    net: Net, x: np.ndarray, *, dt: float, reset: str
) -> tuple[list[np.ndarray], list[dict[str, np.ndarray]]]:
    """Spikes ``(T, B, n)`` and states (after reset) of every layer on the reference, euler."""
    record = []
    for k, layer in enumerate(net.layers):
        record.append(f"n{k}")
        record += [f"n{k}.{s}" for s in states_of(layer)]
    result = nirbridge.simulate(
        to_nir(net),
        {"input": x},
        dt=dt,
        reset=reset,
        integrator="euler",
        batched=True,
        record=record,
    )
    spikes = [result.recorded[f"n{k}"] for k in range(len(net.layers))]
    np.testing.assert_array_equal(result.outputs["output"], spikes[-1])
    states = [
        {s: result.recorded[f"n{k}.{s}"] for s in states_of(layer)}
        for k, layer in enumerate(net.layers)
    ]
    return spikes, states


def random_spikes(rng: np.random.Generator, steps: int, batch: int, n: int, p: float):
    return (rng.random((steps, batch, n)) < p).astype(np.float64)


@dataclasses.dataclass
class Tally:
    """What a batch of random comparisons covered, so that a test can insist it meant something:
    every neuron type spiked, few layers stayed silent, some graphs were recurrent."""

    spikes: dict[str, int] = dataclasses.field(default_factory=dict)
    layers: int = 0
    silent: int = 0
    recurrent: int = 0
    graphs: int = 0

    def add(self, net: Net, spikes_per_layer: list[int]) -> None:
        for layer, count in zip(net.layers, spikes_per_layer, strict=True):
            self.spikes[layer.kind] = self.spikes.get(layer.kind, 0) + count
        self.layers += len(net.layers)
        self.silent += spikes_per_layer.count(0)
        self.recurrent += net.w_fb is not None or any(x.w_rec is not None for x in net.layers)
        self.graphs += 1

    def check(self, kinds: tuple[str, ...] = KINDS) -> None:
        assert set(self.spikes) == set(kinds), self
        assert all(c > 100 for c in self.spikes.values()), self
        assert self.silent <= self.layers // 5, self
        assert self.recurrent >= self.graphs // 4, self
