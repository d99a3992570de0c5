"""The simulator-independent PyNN plan on nested graphs (no simulator needed)."""

from __future__ import annotations

import nir
import numpy as np

from nirbridge.converters.pynn import plan_network


def test_a_nested_subgraph_plans_like_its_flat_twin():
    w = np.array([[1.0, -0.5], [0.25, 2.0]])

    def lif() -> nir.LIF:
        return nir.LIF(
            tau=np.full(2, 0.01),
            r=np.ones(2),
            v_leak=np.zeros(2),
            v_threshold=np.ones(2),
            v_reset=np.zeros(2),
        )

    inner = nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type={"input": np.array([2])}),
            "fc": nir.Affine(weight=w, bias=np.array([0.1, 0.2])),
            "lif": lif(),
            "out": nir.Output(output_type={"output": np.array([2])}),
        },
        edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")],
        type_check=False,
    )
    nested = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([2])}),
            "sub": inner,
            "fc2": nir.Linear(weight=w),
            "lif2": lif(),
            "output": nir.Output(output_type={"output": np.array([2])}),
        },
        edges=[("input", "sub"), ("sub", "fc2"), ("fc2", "lif2"), ("lif2", "output")],
        type_check=False,
    )
    plan = plan_network(nested)
    assert {p.name: p.depth for p in plan.populations.values()} == {
        "input": 0,
        "sub.lif": 1,
        "lif2": 2,
    }
    by_pair = {(p.source, p.target): p for p in plan.projections}
    np.testing.assert_array_equal(by_pair[("input", "sub.lif")].weights.toarray(), w)
    np.testing.assert_array_equal(by_pair[("sub.lif", "lif2")].weights.toarray(), w)
    np.testing.assert_array_equal(plan.populations["sub.lif"].bias, [0.1, 0.2])
    assert plan.outputs["output"].source == "lif2" and plan.outputs["output"].lag == 2
