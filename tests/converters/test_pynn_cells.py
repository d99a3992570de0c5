"""The PyNN translation tables, both ways, without a simulator."""

from __future__ import annotations

import numpy as np
import pytest

from nirbridge import UnsupportedError
from nirbridge.converters.pynn._cells import CELL_MAPS, Ctx, cell_map, tau_to_decay
from nirbridge.converters.pynn._standard_cells import (
    BRIAN2_CELL_MAPS,
    NEURON_CELL_MAPS,
    SPINNAKER_CELL_MAPS,
    _be_tau_to_decay,
)

TABLES = {
    "nest": CELL_MAPS,
    "brian2": BRIAN2_CELL_MAPS,
    "neuron": NEURON_CELL_MAPS,
    "spinnaker": SPINNAKER_CELL_MAPS,
}
KEYS = [(t, k) for t, table in TABLES.items() for k in sorted(table)]

RANGES = {
    "tau": (2e-3, 50e-3),
    "tau_syn": (2e-3, 20e-3),
    "tau_mem": (2e-3, 50e-3),
    "v_threshold": (0.2, 2.0),
    "v_reset": (-0.5, 0.1),
    "v_leak": (-0.3, 0.3),
    "r": (0.5, 3.0),
    "w_in": (0.5, 2.0),
}


@pytest.mark.parametrize("table,key", KEYS)
@pytest.mark.parametrize("integrator", ["euler", "exact"])
def test_rows_round_trip(table, key, integrator):
    cells = TABLES[table][key]
    rng = np.random.default_rng(0)
    ctx = Ctx(dt=1e-3, h=1.0, integrator=integrator, node="n")
    params = {f: rng.uniform(*RANGES[f], 16) for f in RANGES}
    native = cells.native_parameters(params, ctx)
    back = cells.nir_parameters(native, ctx)
    assert set(back) == {r.nir for r in cells.rows}
    for field, value in back.items():
        np.testing.assert_allclose(value, params[field], rtol=1e-12, err_msg=field)
    for name, value in cells.constants.items():
        np.testing.assert_array_equal(native[name], value)


@pytest.mark.parametrize(
    "integrator,expected", [("euler", lambda a: 1 - a), ("exact", lambda a: np.exp(-a))]
)
def test_native_decay_equals_reference_decay(integrator, expected):
    tau = np.array([2e-3, 10e-3, 40e-3])
    ctx = Ctx(dt=1e-3, h=0.1, integrator=integrator, node="n")
    native = CELL_MAPS[("LIF", "zero")].native_parameters(
        {
            "tau": tau,
            "v_threshold": np.ones(3),
            "v_reset": np.zeros(3),
            "r": np.ones(3),
            "v_leak": np.zeros(3),
        },
        ctx,
    )
    np.testing.assert_allclose(tau_to_decay(native["tau_m"], 0.1), expected(1e-3 / tau), rtol=1e-13)


def test_euler_decay_out_of_range_names_the_node():
    ctx = Ctx(dt=1e-3, h=1.0, integrator="euler", node="fast")
    with pytest.raises(UnsupportedError, match="node 'fast'.*dt"):
        CELL_MAPS[("LIF", "zero")].native_parameters(
            {"tau": np.array([5e-4]), "v_threshold": np.ones(1), "v_reset": np.zeros(1)}, ctx
        )


def test_missing_model_is_named():
    with pytest.raises(UnsupportedError, match="node 'syn'.*CubaLIF.*subtract"):
        cell_map("CubaLIF", "subtract", "syn")


@pytest.mark.parametrize("integrator,expected", [("euler", lambda a: 1 - a), ("exact", np.exp)])
def test_standard_tables_decay_equals_reference_decay(integrator, expected):
    """Brian2 integrates exactly (decay exp(-h/tau_m)); NEURON by backward Euler (1/(1+h/tau_m))."""
    tau = np.array([2e-3, 10e-3, 40e-3])
    ctx = Ctx(dt=1e-3, h=0.5, integrator=integrator, node="n")
    params = {"tau": tau, "v_threshold": np.ones(3), "v_reset": np.zeros(3), "r": np.ones(3)}
    want = expected(-1e-3 / tau) if integrator == "exact" else expected(1e-3 / tau)
    brian2 = BRIAN2_CELL_MAPS[("LIF", "zero")].native_parameters(params, ctx)["tau_m"]
    neuron = NEURON_CELL_MAPS[("LIF", "zero")].native_parameters(params, ctx)["tau_m"]
    np.testing.assert_allclose(tau_to_decay(brian2, 0.5), want, rtol=1e-13)
    np.testing.assert_allclose(_be_tau_to_decay(neuron, 0.5), want, rtol=1e-13)


@pytest.mark.parametrize("table", ["neuron", "spinnaker"])
def test_standard_tables_refuse_subtract_by_node(table):
    with pytest.raises(UnsupportedError, match=f"node 'n1'.*{table}.*subtract.*reset='zero'"):
        cell_map("LIF", "subtract", "n1", TABLES[table], table)


def test_brian2_subtract_rows_share_the_zero_rows_parameters():
    """Brian2's subtracting types differ from the zero-reset ones only in the reset statement:
    the same native parameters and gains, without the (unused) reset potential."""
    ctx = Ctx(dt=1e-3, h=1.0, integrator="euler", node="n")
    rng = np.random.default_rng(1)
    params = {f: rng.uniform(*RANGES[f], 4) for f in RANGES}
    for kind in ("LIF", "IF", "CubaLIF"):
        zero, sub = BRIAN2_CELL_MAPS[(kind, "zero")], BRIAN2_CELL_MAPS[(kind, "subtract")]
        a, b = zero.native_parameters(params, ctx), sub.native_parameters(params, ctx)
        assert sub.model == zero.model + "_subtract"
        for name in set(a) - {"v_reset"}:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
        np.testing.assert_array_equal(zero.gain(params, ctx), sub.gain(params, ctx))
