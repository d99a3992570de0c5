"""SpiNNaker's design rules: what the fixed-point ARM cores can hold, checked before mapping.

sPyNNaker keeps neuron state and parameters as s16.15 fixed point (``accum``: range
``[-65536, 65536)``, step ``2**-15``), including the membrane decay ``exp(-h/tau_m)`` of its LIF
closed form; synaptic weights are 16-bit magnitudes per receptor (the sign is the receptor),
scaled per postsynaptic population by ``2**(15 - p)`` where ``2**p`` is the smallest power of two
above the largest weight (sPyNNaker's ring-buffer analysis may choose a larger ``p``, so the
errors here are lower bounds); the machine time step is 1 ms. Each rule is a named predicate on
the plan and the SpiNNaker cell tables (pure numpy: no sPyNNaker needed) returning
:class:`~nirbridge._converter.Issue` objects: errors where the network cannot be mapped,
warnings with the measured quantization error where it maps approximately.
"""

from __future__ import annotations

import numpy as np

from nirbridge._converter import Issue
from nirbridge._errors import UnsupportedError

from ._cells import CellMap, Ctx, cell_map
from ._plan import NetworkPlan
from ._standard_cells import SPINNAKER_CELL_MAPS

#: s16.15: one step and the largest value.
S1615_STEP = 2.0**-15
S1615_MAX = 2.0**16 - S1615_STEP
#: Bits of a synaptic weight in sPyNNaker's synaptic rows.
WEIGHT_BITS = 16
#: sPyNNaker's machine time step (ms) the tables assume.
TIMESTEP_MS = 1.0
#: Relative quantization error above which a rule warns.
TOLERANCE = 1e-3

#: Native parameters held as s16.15 voltages (mV).
_VOLTAGES = ("v_thresh", "v_reset", "v_rest")


def quantize_s1615(x: np.ndarray) -> np.ndarray:
    """Round to the s16.15 grid (round to nearest, as sPyNNaker converts parameters)."""
    return np.round(np.asarray(x, dtype=np.float64) / S1615_STEP) * S1615_STEP


def weight_step(max_weight: float) -> float:
    """Smallest weight step sPyNNaker can give a population whose largest weight is
    ``max_weight``: weights are ``WEIGHT_BITS``-bit integers times ``2**(p + 1 - WEIGHT_BITS)``
    with ``2**p > max_weight``."""
    if max_weight <= 0:
        return 0.0
    p = max(0, int(np.ceil(np.log2(max_weight))))
    if 2.0**p <= max_weight:
        p += 1
    return 2.0 ** (p + 1 - WEIGHT_BITS)


def quantize_weights(weights: np.ndarray, step: float) -> np.ndarray:
    """Signed weights as sPyNNaker stores them with ``step``: magnitudes rounded to the grid."""
    if step <= 0:
        return np.zeros_like(weights)
    return np.sign(weights) * np.round(np.abs(weights) / step) * step


def native_values(plan: NetworkPlan, dt: float, integrator: str, reset: str, h: float = 1.0):
    """Per neuron population: (cell map, native parameters, native weights of incoming
    projections and biases as one list of arrays).

    Raises:
        UnsupportedError: a neuron with no SpiNNaker cell type, named.
    """
    from ._network import _nir_params

    out = {}
    incoming: dict[str, list[np.ndarray]] = {n: [] for n in plan.populations}
    for pop in plan.populations.values():
        if pop.kind == "Input":
            continue
        cells = cell_map(pop.kind, reset, pop.name, SPINNAKER_CELL_MAPS, "spinnaker")
        params = _nir_params(pop)
        ctx = Ctx(dt, h, integrator, pop.name)
        gain = cells.gain(params, ctx)
        drive = cells.drive(params, ctx) if cells.drive is not None else 0.0
        incoming[pop.name].append(pop.bias * gain + drive)
        incoming[pop.name].append(pop.recurrent_bias * gain)
        out[pop.name] = (cells, cells.native_parameters(params, ctx), gain)
    for proj in plan.projections:
        gain = out[proj.target][2]
        w = proj.weights.tocoo()
        incoming[proj.target].append(w.data * gain[w.row])
    return {name: (cells, native, incoming[name]) for name, (cells, native, _) in out.items()}


def spinnaker_rules(
    plan: NetworkPlan,
    *,
    dt: float,
    integrator: str = "euler",
    reset: str = "zero",
    h: float = TIMESTEP_MS,
    tolerance: float = TOLERANCE,
) -> list[Issue]:
    """Check a plan against SpiNNaker's design rules (names in ``Issue.rule``):

    - ``spinnaker.timestep``: the simulator step is sPyNNaker's 1 ms.
    - ``spinnaker.cell_type``: every neuron has a SpiNNaker cell type (no IF/I, no subtract
      reset, no exact CubaLIF).
    - ``spinnaker.s1615_range``: voltages, synaptic weights and bias currents fit s16.15.
    - ``spinnaker.decay_resolution``: the per-step leak ``1 - exp(-h/tau_m)`` after rounding the
      decay to s16.15 is within ``tolerance`` of the reference's.
    - ``spinnaker.voltage_resolution``: the s16.15 step is within ``tolerance`` of the threshold.
    - ``spinnaker.weight_resolution``: the 16-bit weights (best-case scale) are within
      ``tolerance`` of the largest weight of their population; weights that encode as zero
      are counted.
    """
    issues: list[Issue] = []
    if h != TIMESTEP_MS:
        issues.append(
            Issue(
                "error",
                f"the simulator step is {h} ms; sPyNNaker's neuron models run at 1 ms",
                rule="spinnaker.timestep",
            )
        )
    try:
        native = native_values(plan, dt, integrator, reset, h)
    except UnsupportedError as exc:
        return [*issues, Issue("error", str(exc), node=exc.node, rule="spinnaker.cell_type")]
    for name, (cells, params, incoming) in native.items():
        issues += _range(name, params, incoming)
        issues += _decay(name, cells, params, h, tolerance)
        issues += _voltage(name, params, tolerance)
        issues += _weights(name, incoming, tolerance)
    return issues


def _range(name: str, params: dict, incoming: list[np.ndarray]) -> list[Issue]:
    found = []
    for key in _VOLTAGES:
        if key in params and np.max(np.abs(params[key])) > S1615_MAX:
            found.append((key, float(np.max(np.abs(params[key])))))
    weights = np.concatenate([np.abs(w) for w in incoming]) if incoming else np.zeros(0)
    if weights.size and weights.max() > S1615_MAX:
        found.append(("weight", float(weights.max())))
    return [
        Issue(
            "error",
            f"{key} reaches {value:.6g}, beyond s16.15's range of 65536",
            node=name,
            parameter=key,
            rule="spinnaker.s1615_range",
        )
        for key, value in found
    ]


def _decay(name: str, cells: CellMap, params: dict, h: float, tolerance: float) -> list[Issue]:
    if cells.tau_m not in params:
        return []
    decay = np.exp(-h / params[cells.tau_m])
    leak = 1.0 - decay
    error = np.abs((1.0 - quantize_s1615(decay)) - leak) / leak
    worst = float(np.max(error))
    if worst <= tolerance:
        return []
    return [
        Issue(
            "warning",
            f"the membrane decay {float(decay.flat[int(np.argmax(error))]):.8f} per step rounds "
            f"to s16.15 with a relative error of {worst:.3g} in the per-step leak",
            node=name,
            parameter="tau",
            rule="spinnaker.decay_resolution",
        )
    ]


def _voltage(name: str, params: dict, tolerance: float) -> list[Issue]:
    threshold = np.abs(params.get("v_thresh", np.zeros(0)))
    threshold = threshold[threshold > 0]
    if not threshold.size or S1615_STEP / threshold.min() <= tolerance:
        return []
    return [
        Issue(
            "warning",
            f"the s16.15 step 2**-15 is {S1615_STEP / threshold.min():.3g} of the threshold "
            f"{threshold.min():.6g}",
            node=name,
            parameter="v_threshold",
            rule="spinnaker.voltage_resolution",
        )
    ]


def _weights(name: str, incoming: list[np.ndarray], tolerance: float) -> list[Issue]:
    w = np.concatenate(incoming) if incoming else np.zeros(0)
    w = w[w != 0]
    if not w.size:
        return []
    biggest = float(np.abs(w).max())
    step = weight_step(biggest)
    q = quantize_weights(w, step)
    lost = int(np.sum(q == 0))
    error = float(np.max(np.abs(q - w))) / biggest
    if error <= tolerance and not lost:
        return []
    detail = f"; {lost} of {w.size} encode as zero" if lost else ""
    return [
        Issue(
            "warning",
            f"16-bit weights (step {step:.3g} nA at best) differ from the reference's by up to "
            f"{error:.3g} of the largest weight{detail}",
            node=name,
            parameter="weight",
            rule="spinnaker.weight_resolution",
        )
    ]
