"""The reference's linear operators (nirbridge.graph._linear.apply) against torch.nn.functional.

SEMANTICS.md defines Conv1d/2d, SumPool2d, AvgPool2d and Flatten "as the PyTorch operators"; these
tests hold the numpy implementation to that, on random float64 data, over a grid of strides,
paddings (integers, "same", "valid"), dilations and groups. The composed projections
(nirbridge.graph.compose / compose_nodes), which event-driven targets use instead of stepping the
chain, are checked against the chain applied node by node and against torch.
"""

from __future__ import annotations

import copy
import itertools

import nir
import numpy as np
import pytest

from nirbridge import read
from nirbridge.graph import LinearChain, compose, compose_nodes, inline_subgraphs, linear_chains
from nirbridge.graph._linear import apply, output_shape
from tests.conftest import paper_file

pytestmark = pytest.mark.torch

# float64 on both sides: the only differences left are summation order, far below this.
ATOL = 1e-12
RTOL = 1e-12


def _rng(*key: object) -> np.random.Generator:
    """A generator seeded by the test's parameters (stable across processes, unlike hash())."""
    return np.random.default_rng(list(repr(key).encode()))


def _check(ours: np.ndarray, theirs, torch) -> None:
    theirs = theirs.detach().cpu().numpy()
    assert ours.shape == theirs.shape
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------------------------------- Conv2d

CONV2D_CASES = [
    # (in_c, out_c, (H, W), kernel, stride, padding, dilation, groups)
    *[
        (c_in, c_out, hw, k, s, p, d, g)
        for (c_in, c_out, g), hw, k, s, p, d in itertools.product(
            [(1, 1, 1), (3, 4, 1), (4, 6, 2), (4, 4, 4)],
            [(9, 9), (8, 11)],
            [(1, 1), (3, 3), (2, 3)],
            [1, 2, (2, 1)],
            [0, 1, (2, 0)],
            [1, 2],
        )
    ],
    # 'same' (torch allows it with stride 1 only) and 'valid'
    *[
        (c_in, c_out, (7, 10), k, 1, pad, d, g)
        for (c_in, c_out, g), k, pad, d in itertools.product(
            [(2, 3, 1), (4, 2, 2)],
            [(1, 1), (3, 3), (2, 2), (4, 3)],
            ["same", "valid"],
            [1, 2, (1, 3)],
        )
    ],
]


def _conv_out_ok(hw, k, s, p, d) -> bool:
    s = (s, s) if isinstance(s, int) else s
    d = (d, d) if isinstance(d, int) else d
    if isinstance(p, str):
        p = (0, 0) if p == "valid" else None
        if p is None:
            return True
    p = (p, p) if isinstance(p, int) else p
    return all(hw[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1 >= 0 for i in range(2))


# torch warns that 'same' with an even kernel copies the input internally; harmless here.
SAME_EVEN_KERNEL = pytest.mark.filterwarnings(
    "ignore:Using padding='same' with even kernel lengths:UserWarning"
)


@SAME_EVEN_KERNEL
@pytest.mark.parametrize(
    "c_in, c_out, hw, kernel, stride, padding, dilation, groups",
    [c for c in CONV2D_CASES if _conv_out_ok(c[2], c[3], c[4], c[5], c[6])],
)
def test_conv2d(torch, c_in, c_out, hw, kernel, stride, padding, dilation, groups):
    F = torch.nn.functional
    rng = _rng("conv2d", c_in, c_out, hw, kernel, stride, padding, dilation, groups)
    weight = rng.normal(size=(c_out, c_in // groups, *kernel))
    bias = rng.normal(size=c_out)
    x = rng.normal(size=(3, c_in, *hw))
    node = nir.Conv2d(
        input_shape=hw,
        weight=weight,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        bias=bias,
    )
    ours = apply(node, "conv", x)
    theirs = F.conv2d(
        torch.from_numpy(x),
        torch.from_numpy(weight),
        torch.from_numpy(bias),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
    )
    _check(ours, theirs, torch)
    assert output_shape(node, "conv", x.shape[1:]) == ours.shape[1:]


def test_conv2d_spike_input_and_array_parameters(torch):
    """NIR files store stride/padding/dilation as arrays (as cnn_sinabs.nir does); binary input."""
    F = torch.nn.functional
    rng = np.random.default_rng(7)
    weight = rng.normal(size=(5, 2, 3, 5))
    bias = rng.normal(size=5)
    x = (rng.random((4, 2, 12, 13)) < 0.2).astype(np.float64)
    node = nir.Conv2d(
        input_shape=np.array([12, 13]),
        weight=weight,
        stride=np.array([2, 1]),
        padding=np.array([1, 2]),
        dilation=np.array([1, 2]),
        groups=np.int64(1),
        bias=bias,
    )
    theirs = F.conv2d(
        torch.from_numpy(x),
        torch.from_numpy(weight),
        torch.from_numpy(bias),
        stride=(2, 1),
        padding=(1, 2),
        dilation=(1, 2),
    )
    _check(apply(node, "conv", x), theirs, torch)


# ---------------------------------------------------------------------------------------- Conv1d


@SAME_EVEN_KERNEL
@pytest.mark.parametrize(
    "c_in, c_out, groups, length, k, stride, padding, dilation",
    [
        (c_in, c_out, g, length, k, s, p, d)
        for (c_in, c_out, g), length, k, s, p, d in itertools.product(
            [(1, 1, 1), (3, 5, 1), (4, 6, 2), (3, 3, 3)],
            [10, 17],
            [1, 2, 3, 5],
            [1, 2, 3],
            [0, 1, 3, "valid", "same"],
            [1, 2],
        )
        if not (p == "same" and s != 1)
        if length + 2 * (p if isinstance(p, int) else 0) - d * (k - 1) - 1 >= 0
    ],
)
def test_conv1d(torch, c_in, c_out, groups, length, k, stride, padding, dilation):
    F = torch.nn.functional
    rng = _rng("conv1d", c_in, c_out, groups, length, k, stride, padding, dilation)
    weight = rng.normal(size=(c_out, c_in // groups, k))
    bias = rng.normal(size=c_out)
    x = rng.normal(size=(2, c_in, length))
    node = nir.Conv1d(
        input_shape=length,
        weight=weight,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        bias=bias,
    )
    ours = apply(node, "conv", x)
    theirs = F.conv1d(
        torch.from_numpy(x),
        torch.from_numpy(weight),
        torch.from_numpy(bias),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
    )
    _check(ours, theirs, torch)
    assert output_shape(node, "conv", x.shape[1:]) == ours.shape[1:]


# --------------------------------------------------------------------------------------- pooling

POOL_CASES = [
    (hw, k, s, p)
    for hw, k, s, p in itertools.product(
        [(8, 8), (9, 7), (34, 34)],
        [(2, 2), (3, 3), (2, 3), (1, 1)],
        [(2, 2), (1, 1), (3, 2)],
        [(0, 0), (1, 1), (1, 0)],
    )
    # torch: padding at most half the kernel
    if all(p[i] <= k[i] // 2 for i in range(2))
]


@pytest.mark.parametrize("kind", ["SumPool2d", "AvgPool2d"])
@pytest.mark.parametrize("hw, kernel, stride, padding", POOL_CASES)
def test_pool2d(torch, kind, hw, kernel, stride, padding):
    F = torch.nn.functional
    rng = _rng("pool", kind, hw, kernel, stride, padding)
    x = rng.normal(size=(2, 3, *hw))
    cls = getattr(nir, kind)
    node = cls(kernel_size=np.array(kernel), stride=np.array(stride), padding=np.array(padding))
    ours = apply(node, "pool", x)
    # count_include_pad=True (torch's default): zero padding counts in the average, as in ours;
    # divisor_override=1 turns the average into the sum.
    theirs = F.avg_pool2d(
        torch.from_numpy(x),
        kernel,
        stride,
        padding,
        divisor_override=1 if kind == "SumPool2d" else None,
    )
    _check(ours, theirs, torch)
    assert output_shape(node, "pool", x.shape[1:]) == ours.shape[1:]


def test_sumpool_is_avgpool_times_kernel(torch):
    """The sinabs CNN's SumPool2d as NIR's paper platforms implement it: 4 * avg_pool2d(2)."""
    F = torch.nn.functional
    x = (np.random.default_rng(3).random((5, 16, 16, 16)) < 0.3).astype(np.float64)
    node = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=[0, 0])
    theirs = F.avg_pool2d(torch.from_numpy(x), 2) * 4
    _check(apply(node, "pool", x), theirs, torch)


# ----------------------------------------------------------------- Affine, Linear, Scale, Flatten


@pytest.mark.parametrize("n_in, n_out", [(1, 1), (12, 38), (38, 38), (256, 10), (7, 300)])
@pytest.mark.parametrize("lead", [(), (3,), (2, 4)])
def test_affine_and_linear(torch, n_in, n_out, lead):
    F = torch.nn.functional
    rng = _rng("affine", n_in, n_out, lead)
    w = rng.normal(size=(n_out, n_in))
    b = rng.normal(size=n_out)
    x = rng.normal(size=(4, *lead, n_in))
    tx, tw, tb = (torch.from_numpy(a) for a in (x, w, b))
    _check(apply(nir.Affine(weight=w, bias=b), "fc", x), F.linear(tx, tw, tb), torch)
    _check(apply(nir.Linear(weight=w), "fc", x), F.linear(tx, tw), torch)


@pytest.mark.parametrize(
    "shape, scale_shape",
    [((5,), ()), ((5,), (5,)), ((3, 4, 4), (3, 1, 1)), ((3, 4, 4), (3, 4, 4)), ((2, 6), (6,))],
)
def test_scale(torch, shape, scale_shape):
    rng = _rng("scale", shape, scale_shape)
    s = rng.normal(size=scale_shape)
    x = rng.normal(size=(3, *shape))
    theirs = torch.from_numpy(x) * torch.from_numpy(np.asarray(s))
    _check(apply(nir.Scale(scale=s), "scale", x), theirs, torch)


@pytest.mark.parametrize(
    "shape, start, end",
    [
        ((2, 3, 4), 0, -1),
        ((2, 3, 4), 1, -1),
        ((2, 3, 4), 0, 1),
        ((2, 3, 4), 1, 2),
        ((2, 3, 4), -2, -1),
        ((2, 3, 4), 2, 2),
        ((8, 4, 4), 0, 2),
        ((5,), 0, 0),
        ((2, 3, 4, 5), 1, -2),
    ],
)
def test_flatten(torch, shape, start, end):
    rng = _rng("flatten", shape, start, end)
    x = rng.normal(size=(3, *shape))
    node = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=start, end_dim=end)
    nd = len(shape)
    # NIR's dims exclude the batch; torch's include it.
    t_start = (start % nd) + 1
    t_end = (end % nd) + 1
    theirs = torch.flatten(torch.from_numpy(x), t_start, t_end)
    _check(apply(node, "flat", x), theirs, torch)
    assert output_shape(node, "flat", shape) == tuple(theirs.shape[1:])


# ------------------------------------------------------------------------------------ composing


def _torch_chain(torch, x: np.ndarray, chain: list[tuple[str, nir.NIRNode]]):
    """Apply a chain of NIR linear nodes with torch operators only."""
    F = torch.nn.functional
    t = torch.from_numpy(x)
    for _, node in chain:
        if isinstance(node, nir.Conv2d):
            t = F.conv2d(
                t,
                torch.from_numpy(node.weight),
                torch.from_numpy(node.bias),
                stride=tuple(np.broadcast_to(node.stride, 2).tolist()),
                padding=node.padding
                if isinstance(node.padding, str)
                else tuple(np.broadcast_to(node.padding, 2).tolist()),
                dilation=tuple(np.broadcast_to(node.dilation, 2).tolist()),
                groups=int(node.groups),
            )
        elif isinstance(node, nir.Conv1d):
            t = F.conv1d(
                t,
                torch.from_numpy(node.weight),
                torch.from_numpy(node.bias),
                stride=int(node.stride),
                padding=node.padding,
                dilation=int(node.dilation),
                groups=int(node.groups),
            )
        elif isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
            t = F.avg_pool2d(
                t,
                tuple(np.asarray(node.kernel_size).tolist()),
                tuple(np.asarray(node.stride).tolist()),
                tuple(np.asarray(node.padding).tolist()),
                divisor_override=1 if isinstance(node, nir.SumPool2d) else None,
            )
        elif isinstance(node, nir.Flatten):
            nd = t.ndim - 1
            t = torch.flatten(t, node.start_dim % nd + 1, node.end_dim % nd + 1)
        elif isinstance(node, nir.Affine):
            t = F.linear(t, torch.from_numpy(node.weight), torch.from_numpy(node.bias))
        elif isinstance(node, nir.Linear):
            t = F.linear(t, torch.from_numpy(node.weight))
        elif isinstance(node, nir.Scale):
            t = t * torch.from_numpy(np.asarray(node.scale))
        else:  # pragma: no cover - the chains below hold only the types above
            raise TypeError(type(node).__name__)
    return t.numpy()


def _cnn_chain(rng: np.random.Generator, padding, groups: int) -> list[tuple[str, nir.NIRNode]]:
    conv1 = nir.Conv2d(
        input_shape=(10, 10),
        weight=rng.normal(size=(4, 2, 3, 3)),
        stride=2,
        padding=1,
        dilation=1,
        groups=1,
        bias=rng.normal(size=4),
    )
    conv2 = nir.Conv2d(
        input_shape=(5, 5),
        weight=rng.normal(size=(4, 4 // groups, 3, 2)),
        stride=1,
        padding=padding,
        dilation=(1, 2) if padding != "same" else 1,
        groups=groups,
        bias=rng.normal(size=4),
    )
    c2_out = output_shape(conv2, "c2", (4, 5, 5))
    pool = nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([1, 1]), padding=[1, 0])
    p_out = output_shape(pool, "p", c2_out)
    flat = nir.Flatten(input_type={"input": np.array(p_out)}, start_dim=0, end_dim=-1)
    n_flat = int(np.prod(p_out))
    fc = nir.Affine(weight=rng.normal(size=(6, n_flat)), bias=rng.normal(size=6))
    scale = nir.Scale(scale=rng.normal(size=6))
    lin = nir.Linear(weight=rng.normal(size=(3, 6)))
    return [
        ("conv1", conv1),
        ("conv2", conv2),
        ("pool", pool),
        ("flat", flat),
        ("fc", fc),
        ("scale", scale),
        ("lin", lin),
    ]


def _chain_graph(chain: list[tuple[str, nir.NIRNode]], in_shape: tuple[int, ...]) -> nir.NIRGraph:
    """Input -> chain -> Output, with the Output's shape declared correctly."""
    shape = tuple(in_shape)
    for name, node in chain:
        shape = output_shape(node, name, shape)
    g_nodes: dict[str, nir.NIRNode] = {"in": nir.Input(input_type={"input": np.array(in_shape)})}
    g_nodes.update(dict(chain))
    g_nodes["out"] = nir.Output(output_type={"output": np.array(shape)})
    names = ["in", *[n for n, _ in chain], "out"]
    return nir.NIRGraph(
        nodes=g_nodes, edges=list(zip(names, names[1:], strict=False)), type_check=False
    )


def _check_composed(torch, composed, chain, x: np.ndarray) -> None:
    n = x.shape[0]
    stepped = x
    for name, node in chain:
        stepped = apply(node, name, stepped)
    via_matrix = (composed.matrix @ x.reshape(n, -1).T).T + composed.bias
    np.testing.assert_allclose(via_matrix, stepped.reshape(n, -1), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(
        via_matrix, _torch_chain(torch, x, chain).reshape(n, -1), rtol=1e-10, atol=1e-10
    )
    assert composed.in_shape == x.shape[1:]
    assert composed.out_shape == stepped.shape[1:]
    # the bias is the chain's response to zero input: the conv/affine biases carried through
    zero = _torch_chain(torch, np.zeros((1, *x.shape[1:])), chain).ravel()
    np.testing.assert_allclose(composed.bias, zero, rtol=1e-10, atol=1e-10)


CHAIN_CASES = [(0, 1), ("same", 2), ("valid", 4), (1, 2)]


@SAME_EVEN_KERNEL
@pytest.mark.parametrize("padding, groups", CHAIN_CASES)
def test_compose_equals_chain(torch, padding, groups):
    """compose(graph, chain): matrix @ x + bias equals the chain stepped (ours and torch's)."""
    rng = _rng("compose", padding, groups)
    chain = _cnn_chain(rng, padding, groups)
    in_shape = (2, 10, 10)
    graph = _chain_graph(chain, in_shape)
    (found,) = linear_chains(graph)
    assert found == LinearChain("in", tuple(n for n, _ in chain), "out", False)
    composed = compose(graph, found)
    _check_composed(torch, composed, chain, rng.normal(size=(5, *in_shape)))


@SAME_EVEN_KERNEL
@pytest.mark.parametrize("padding, groups", CHAIN_CASES)
def test_compose_nodes_equals_chain(torch, padding, groups):
    rng = _rng("compose", padding, groups)
    chain = _cnn_chain(rng, padding, groups)
    composed = compose_nodes(chain, (2, 10, 10))
    _check_composed(torch, composed, chain, rng.normal(size=(5, 2, 10, 10)))


def test_compose_nodes_single_output_value(torch):
    """compose_nodes on a chain that ends in a single value."""
    rng = np.random.default_rng(4)
    chain = [
        ("fc", nir.Affine(weight=rng.normal(size=(5, 8)), bias=rng.normal(size=5))),
        ("scale", nir.Scale(scale=rng.normal(size=5))),
        ("lin", nir.Linear(weight=rng.normal(size=(1, 5)))),
    ]
    composed = compose_nodes(chain, (8,))
    _check_composed(torch, composed, chain, rng.normal(size=(6, 8)))


@pytest.mark.parametrize("block", [1, 7, 64])
def test_compose_block_size_does_not_matter(block):
    """Probing in blocks of any size gives the same matrix (up to rounding: the batched
    products round differently per block size) with the same sparsity pattern, and the same bias."""
    rng = np.random.default_rng(11)
    chain = _cnn_chain(rng, 1, 2)
    graph = _chain_graph(chain, (2, 10, 10))
    (found,) = linear_chains(graph)
    reference = compose(graph, found, block=512)
    composed = compose(graph, found, block=block)
    assert reference.matrix.nnz > 0
    pattern = reference.matrix.copy()
    pattern.data[:] = 1
    other = composed.matrix.copy()
    other.data[:] = 1
    assert (pattern != other).nnz == 0
    np.testing.assert_allclose(
        composed.matrix.toarray(), reference.matrix.toarray(), rtol=1e-12, atol=1e-12
    )
    np.testing.assert_array_equal(composed.bias, reference.bias)


def test_compose_conv1d_chain(torch):
    rng = np.random.default_rng(5)
    conv = nir.Conv1d(
        input_shape=20,
        weight=rng.normal(size=(6, 1, 4)),
        stride=3,
        padding=2,
        dilation=2,
        groups=3,
        bias=rng.normal(size=6),
    )
    out = output_shape(conv, "c", (3, 20))
    chain = [
        ("c", conv),
        ("flat", nir.Flatten(input_type={"input": np.array(out)}, start_dim=0, end_dim=-1)),
        ("fc", nir.Affine(weight=rng.normal(size=(4, int(np.prod(out)))), bias=rng.normal(size=4))),
    ]
    graph = _chain_graph(chain, (3, 20))
    (found,) = linear_chains(graph)
    _check_composed(torch, compose(graph, found), chain, rng.normal(size=(3, 3, 20)))


def test_linear_chains_of_cnn_fixture_compose_to_torch(torch):
    """The projections of the paper's CNN graph, composed, equal the torch chain.

    All five chains are found; the three cheap ones are composed (the 16->16 channel convolution
    chains take seconds to probe; their operators are covered above)."""
    graph = inline_subgraphs(read(paper_file("02_cnn", "cnn_sinabs.nir")))
    chains = linear_chains(graph)
    linear_ones = {c.nodes: c for c in chains if c.nodes}
    # input->0, 1->2, 3->4->5, 6->7->8->9, 10->11
    assert sorted(linear_ones) == sorted([("0",), ("2",), ("4", "5"), ("7", "8", "9"), ("11",)])
    rng = np.random.default_rng(2)
    for key in [("0",), ("7", "8", "9"), ("11",)]:
        chain = linear_ones[key]
        composed = compose(graph, chain)
        # float32 parameters in the file: cast to float64 as the reference does
        nodes64 = [(n, _as_float64(graph.nodes[n])) for n in chain.nodes]
        x = (rng.random((3, *composed.in_shape)) < 0.3).astype(np.float64)
        theirs = _torch_chain(torch, x, nodes64).reshape(3, -1)
        via_matrix = (composed.matrix @ x.reshape(3, -1).T).T + composed.bias
        np.testing.assert_allclose(via_matrix, theirs, rtol=1e-10, atol=1e-10)


def _as_float64(node: nir.NIRNode) -> nir.NIRNode:
    node = copy.copy(node)
    for field in ("weight", "bias", "scale"):
        value = getattr(node, field, None)
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            setattr(node, field, value.astype(np.float64))
    return node
