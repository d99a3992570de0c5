"""Small NIR graphs for the graph tests: hand-made ones and seeded random valid ones."""

from __future__ import annotations

import nir
import numpy as np


def lif(n: int, *, tau: float = 1e-2, v_threshold: float = 1.0, v_reset: float = 0.0) -> nir.LIF:
    return nir.LIF(
        tau=np.full(n, tau),
        r=np.ones(n),
        v_leak=np.zeros(n),
        v_threshold=np.full(n, v_threshold),
        v_reset=np.full(n, v_reset),
    )


def affine(n_out: int, n_in: int, seed: int = 0) -> nir.Affine:
    rng = np.random.default_rng(seed)
    return nir.Affine(weight=rng.normal(size=(n_out, n_in)), bias=rng.normal(size=n_out))


def graph(nodes: dict, edges: list, metadata: dict | None = None) -> nir.NIRGraph:
    """A graph built without nir's type checking (which rewrites and rejects graphs)."""
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata or {}, type_check=False)


def lif_chain(n_in: int = 3, n: int = 4) -> nir.NIRGraph:
    """``in -> fc -> lif -> out``."""
    return graph(
        {
            "in": nir.Input(np.array([n_in])),
            "fc": affine(n, n_in),
            "lif": lif(n),
            "out": nir.Output(np.array([n])),
        },
        [("in", "fc"), ("fc", "lif"), ("lif", "out")],
    )


def recurrent(n_in: int = 3, n: int = 4) -> nir.NIRGraph:
    """``in -> fc -> lif -> out`` with ``lif -> rec -> lif``."""
    g = lif_chain(n_in, n)
    g.nodes["rec"] = affine(n, n, seed=1)
    g.edges += [("lif", "rec"), ("rec", "lif")]
    return g


def nested(n_in: int = 3, n: int = 4) -> nir.NIRGraph:
    """``in -> fc -> sub -> out`` where ``sub`` is ``in -> lif -> out``."""
    sub = graph(
        {"in": nir.Input(np.array([n])), "lif": lif(n), "out": nir.Output(np.array([n]))},
        [("in", "lif"), ("lif", "out")],
    )
    return graph(
        {
            "in": nir.Input(np.array([n_in])),
            "fc": affine(n, n_in),
            "sub": sub,
            "out": nir.Output(np.array([n])),
        },
        [("in", "fc"), ("fc", "sub"), ("sub", "out")],
    )


# --- seeded random valid graphs ---------------------------------------------------------------


def _pos(rng: np.random.Generator, n: int, lo: float = 1e-3, hi: float = 5e-2) -> np.ndarray:
    return rng.uniform(lo, hi, size=n)


def random_neuron(rng: np.random.Generator, n: int) -> nir.NIRNode:
    kind = rng.choice(["LIF", "LI", "IF", "I", "CubaLIF", "CubaLI"])
    dtype = rng.choice([np.float32, np.float64])
    r = rng.uniform(0.5, 2.0, size=n).astype(dtype)
    v_leak = rng.uniform(-0.1, 0.1, size=n).astype(dtype)
    v_th = rng.uniform(0.5, 1.5, size=n).astype(dtype)
    v_reset = (v_th - rng.uniform(0.6, 1.0, size=n)).astype(dtype)
    if kind == "LIF":
        return nir.LIF(
            tau=_pos(rng, n).astype(dtype), r=r, v_leak=v_leak, v_threshold=v_th, v_reset=v_reset
        )
    if kind == "LI":
        return nir.LI(tau=_pos(rng, n).astype(dtype), r=r, v_leak=v_leak)
    if kind == "IF":
        return nir.IF(r=r, v_threshold=v_th, v_reset=v_reset)
    if kind == "I":
        return nir.I(r=r)
    if kind == "CubaLIF":
        return nir.CubaLIF(
            tau_syn=_pos(rng, n).astype(dtype),
            tau_mem=_pos(rng, n).astype(dtype),
            r=r,
            v_leak=v_leak,
            v_threshold=v_th,
            v_reset=v_reset,
            w_in=rng.uniform(0.5, 2, size=n).astype(dtype),
        )
    return nir.CubaLI(
        tau_syn=_pos(rng, n).astype(dtype),
        tau_mem=_pos(rng, n).astype(dtype),
        r=r,
        v_leak=v_leak,
        w_in=rng.uniform(0.5, 2, size=n).astype(dtype),
    )


def random_dense_graph(rng: np.random.Generator) -> nir.NIRGraph:
    """Input -> (Affine|Linear -> [Scale|Delay] -> neuron [with recurrence]) x k -> Output,
    one block possibly wrapped in a subgraph, with random nirbridge metadata."""
    n = int(rng.integers(1, 6))
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(np.array([n]))}
    edges: list[tuple[str, str]] = []
    last = "input"
    for b in range(int(rng.integers(1, 4))):
        m = int(rng.integers(1, 6))
        w = rng.normal(size=(m, n))
        block: dict[str, nir.NIRNode] = {}
        chain: list[str] = []
        if rng.random() < 0.5:
            block[f"fc{b}"] = nir.Affine(weight=w, bias=rng.normal(size=m))
        else:
            block[f"fc{b}"] = nir.Linear(weight=w)
        chain.append(f"fc{b}")
        extra = rng.random()
        if extra < 0.2:
            block[f"scale{b}"] = nir.Scale(scale=rng.uniform(0.5, 2, size=m))
            chain.append(f"scale{b}")
        elif extra < 0.35:
            block[f"delay{b}"] = nir.Delay(delay=rng.uniform(0, 3e-3, size=m))
            chain.append(f"delay{b}")
        block[f"neuron{b}"] = random_neuron(rng, m)
        chain.append(f"neuron{b}")
        inner = list(zip(chain, chain[1:], strict=False))
        if rng.random() < 0.3:
            block[f"rec{b}"] = nir.Linear(weight=rng.normal(size=(m, m)))
            inner += [(f"neuron{b}", f"rec{b}"), (f"rec{b}", f"neuron{b}")]
        if rng.random() < 0.25:
            sub_nodes = {"in": nir.Input(np.array([n])), **block, "out": nir.Output(np.array([m]))}
            sub_edges = [("in", chain[0]), *inner, (chain[-1], "out")]
            nodes[f"sub{b}"] = graph(sub_nodes, sub_edges)
            edges.append((last, f"sub{b}"))
            last = f"sub{b}"
        else:
            nodes.update(block)
            edges += [(last, chain[0]), *inner]
            last = chain[-1]
        n = m
    if rng.random() < 0.3:
        nodes["thr"] = nir.Threshold(threshold=rng.uniform(0.1, 1, size=n))
        edges.append((last, "thr"))
        last = "thr"
    nodes["output"] = nir.Output(np.array([n]))
    edges.append((last, "output"))
    metadata: dict = {}
    bridge: dict = {}
    if rng.random() < 0.5:
        bridge["dt"] = float(rng.choice([1e-4, 1e-3, 5e-4]))
    if rng.random() < 0.3:
        bridge["reset"] = str(rng.choice(["subtract", "zero"]))
    if rng.random() < 0.2:
        bridge["integrator"] = str(rng.choice(["euler", "exact"]))
    if bridge:
        metadata["nirbridge"] = bridge
    return graph(nodes, edges, metadata)


def random_conv_graph(rng: np.random.Generator) -> nir.NIRGraph:
    """Input (c, h, w) -> Conv2d -> IF -> pooling -> Flatten -> Affine -> neuron -> Output."""
    c, h = int(rng.integers(1, 3)), int(rng.integers(4, 8))
    oc = int(rng.integers(1, 4))
    k = int(rng.integers(1, 4))
    conv = nir.Conv2d(
        input_shape=(h, h),
        weight=rng.normal(size=(oc, c, k, k)),
        stride=1,
        padding=int(rng.integers(0, 2)),
        dilation=1,
        groups=1,
        bias=rng.normal(size=oc),
    )
    ch = h + 2 * int(conv.padding[0]) - k + 1
    shape = (oc, ch, ch)
    pool_cls = nir.SumPool2d if rng.random() < 0.5 else nir.AvgPool2d
    pool = pool_cls(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))
    ph = (ch - 2) // 2 + 1
    flat = oc * ph * ph
    n = int(rng.integers(1, 5))
    nodes = {
        "input": nir.Input(np.array([c, h, h])),
        "conv": conv,
        "if": nir.IF(r=np.ones(shape), v_threshold=np.ones(shape), v_reset=np.zeros(shape)),
        "pool": pool,
        "flat": nir.Flatten(input_type={"input": np.array([oc, ph, ph])}, start_dim=0),
        "fc": nir.Affine(weight=rng.normal(size=(n, flat)), bias=rng.normal(size=n)),
        "lif": random_neuron(rng, n),
        "output": nir.Output(np.array([n])),
    }
    names = list(nodes)
    return graph(nodes, list(zip(names, names[1:], strict=False)))


def random_graph(seed: int) -> nir.NIRGraph:
    rng = np.random.default_rng(seed)
    if rng.random() < 0.25:
        return random_conv_graph(rng)
    return random_dense_graph(rng)
