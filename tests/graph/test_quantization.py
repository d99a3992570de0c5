"""The quantization table in nirbridge's metadata: stored, read back, checked."""

from __future__ import annotations

import nir
import numpy as np
import pytest

import nirbridge
from nirbridge.graph import read_metadata, with_metadata


def _graph() -> nir.NIRGraph:
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([2])}),
            "fc": nir.Linear(weight=np.array([[0.5, -0.25], [1.0, 0.0]])),
            "lif": nir.LIF(
                tau=np.full(2, 0.01),
                r=np.ones(2),
                v_leak=np.zeros(2),
                v_threshold=np.ones(2),
                v_reset=np.zeros(2),
            ),
            "output": nir.Output(output_type={"output": np.array([2])}),
        },
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
        type_check=False,
    )


def test_quantization_round_trips_through_a_file(tmp_path):
    table = {
        "fc": {"weight": {"bits": 8, "scale": 0.25, "zero_point": 0, "signed": 1}},
        "lif": {"v_threshold": {"bits": 16, "scale": 2.0**-10, "zero_point": 3, "signed": 0}},
    }
    graph = with_metadata(_graph(), dt=1e-3, quantization=table)
    nirbridge.write(tmp_path / "q.nir", graph)
    back = read_metadata(nirbridge.read(tmp_path / "q.nir"))
    assert back.quantization == table
    stock = nir.read(str(tmp_path / "q.nir"))
    assert int(stock.metadata["nirbridge"]["quantization"]["fc"]["weight"]["bits"]) == 8


@pytest.mark.parametrize(
    "spec,match",
    [
        ({"bits": 0}, "bits.: expected 1..64"),
        ({"bits": 8, "scale": -1.0}, "scale"),
        ({"bits": 8, "signed": 2}, "signed"),
        ({"scale": 1.0}, "bits"),
        ({"bits": 8, "rounding": "up"}, "expected fields"),
    ],
)
def test_bad_quantization_names_node_and_parameter(spec, match):
    with pytest.raises(
        nirbridge.MetadataError, match=rf"nirbridge\.quantization\.fc\.weight.*{match}"
    ):
        with_metadata(_graph(), quantization={"fc": {"weight": spec}})
