"""Neuron step functions of SEMANTICS.md, pure and vectorised (Norse's split: the functions here
hold no state; the simulator holds it).

Each neuron type is prepared once for a time step, an integrator and a reset mode into a
:class:`NeuronStep`: its coefficients are computed up front, and ``step(state, x)`` advances every
neuron of every sample by one step. All arithmetic is float64.

Euler (``a = dt/tau``), for input ``x`` of this step:

- LI:      ``v = v + a*(v_leak - v + r*x)``; output v
- I:       ``v = v + dt*r*x``; output v
- LIF:     ``v' = v + a*(v_leak - v + r*x)``; ``z = v' > v_threshold``; reset
- IF:      ``v' = v + dt*r*x``; spike and reset as LIF
- CubaLI:  ``i = i + a_syn*(-i + w_in*x)``, then LI with input i
- CubaLIF: ``i = i + a_syn*(-i + w_in*x)``, then LIF with input i

Exact (input of the step enters as an impulse of area ``x*dt`` at its start; then the linear
equations are solved over the step; formulas derived in docs/semantics.md):

- LI/LIF:  ``v' = v_leak + (v - v_leak + r*x*dt/tau) * exp(-dt/tau)``
- I/IF:    as euler (the integrator has no leak; impulse and step integrate alike)
- CubaLI/CubaLIF: ``i+ = i + w_in*x*dt/tau_syn``;
  ``v' = v_leak + (v - v_leak)*P_mem + r*P_21*i+``; ``i = i+ * P_syn``, with
  ``P_syn = exp(-dt/tau_syn)``, ``P_mem = exp(-dt/tau_mem)``,
  ``P_21 = (dt/tau_mem) * P_mem * phi(dt*(1/tau_mem - 1/tau_syn))``, ``phi(u) = expm1(u)/u``.

Reset: ``v = v' - z*v_threshold`` (subtract) or ``v = v_reset where z else v'`` (zero).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import nir
import numpy as np

State = dict[str, np.ndarray]


def phi(u: np.ndarray) -> np.ndarray:
    """``expm1(u)/u`` with its limit 1 at u = 0, accurate for tiny |u|."""
    u = np.asarray(u, dtype=np.float64)
    small = np.abs(u) < 1e-8
    safe = np.where(small, 1.0, u)
    return np.where(small, 1.0 + u / 2.0, np.expm1(safe) / safe)


@dataclasses.dataclass(frozen=True)
class NeuronStep:
    """One neuron node, ready to step.

    Attributes:
        states: Names of the state variables (e.g. ``("i", "v")``).
        shape: Shape of the node's state and output (no batch dimension).
        spiking: Whether the output is a spike (0/1) rather than a voltage.
        step: ``step(state, x) -> (output, new_state)``; x and outputs are ``(batch, *shape)``.
    """

    states: tuple[str, ...]
    shape: tuple[int, ...]
    spiking: bool
    step: Callable[[State, np.ndarray], tuple[np.ndarray, State]]

    def init(self, batch: int, initial: dict[str, np.ndarray] | None = None) -> State:
        state = {}
        for name in self.states:
            value = np.zeros((batch, *self.shape))
            if initial and name in initial:
                value += np.broadcast_to(np.asarray(initial[name], dtype=np.float64), self.shape)
            state[name] = value
        return state


def _p(node: nir.NIRNode, field: str, shape: tuple[int, ...], default: float | None = None):
    value = getattr(node, field, None)
    if value is None:
        value = default
    return np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()


def _spike_and_reset(
    v_new: np.ndarray, v_th: np.ndarray, v_reset: np.ndarray, reset: str
) -> tuple[np.ndarray, np.ndarray]:
    spiked = v_new > v_th
    z = spiked.astype(np.float64)
    if reset == "subtract":
        v = v_new - z * v_th
    else:
        v = np.where(spiked, v_reset, v_new)
    return z, v


def prepare_neuron(
    node: nir.NIRNode,
    shape: tuple[int, ...],
    *,
    dt: float,
    time_scale: float,
    integrator: str,
    reset: str,
) -> NeuronStep:
    """Prepare a neuron node for stepping.

    Args:
        node: An I, LI, IF, LIF, CubaLI or CubaLIF node.
        shape: The node's state shape (its parameters broadcast with its input).
        dt: Time step in seconds.
        time_scale: Seconds per unit of the node's time constants.
        integrator: "euler" or "exact".
        reset: "subtract" or "zero".
    """
    kind = type(node).__name__
    exact = integrator == "exact"
    r = _p(node, "r", shape)
    if kind in ("I", "IF"):
        gain = dt * r
        if kind == "I":

            def step_i(s: State, x: np.ndarray) -> tuple[np.ndarray, State]:
                v = s["v"] + gain * x
                return v, {"v": v}

            return NeuronStep(("v",), shape, False, step_i)
        v_th = _p(node, "v_threshold", shape)
        v_reset = _p(node, "v_reset", shape, 0.0)

        def step_if(s: State, x: np.ndarray) -> tuple[np.ndarray, State]:
            z, v = _spike_and_reset(s["v"] + gain * x, v_th, v_reset, reset)
            return z, {"v": v}

        return NeuronStep(("v",), shape, True, step_if)

    if kind in ("LI", "LIF"):
        tau = _p(node, "tau", shape) * time_scale
        v_leak = _p(node, "v_leak", shape)
        a = dt / tau
        if exact:
            decay = np.exp(-a)
            jump = r * a

            def integrate(v: np.ndarray, x: np.ndarray) -> np.ndarray:
                return v_leak + (v - v_leak + jump * x) * decay
        else:

            def integrate(v: np.ndarray, x: np.ndarray) -> np.ndarray:
                return v + a * (v_leak - v + r * x)

        if kind == "LI":

            def step_li(s: State, x: np.ndarray) -> tuple[np.ndarray, State]:
                v = integrate(s["v"], x)
                return v, {"v": v}

            return NeuronStep(("v",), shape, False, step_li)
        v_th = _p(node, "v_threshold", shape)
        v_reset = _p(node, "v_reset", shape, 0.0)

        def step_lif(s: State, x: np.ndarray) -> tuple[np.ndarray, State]:
            z, v = _spike_and_reset(integrate(s["v"], x), v_th, v_reset, reset)
            return z, {"v": v}

        return NeuronStep(("v",), shape, True, step_lif)

    if kind in ("CubaLI", "CubaLIF"):
        tau_syn = _p(node, "tau_syn", shape) * time_scale
        tau_mem = _p(node, "tau_mem", shape) * time_scale
        v_leak = _p(node, "v_leak", shape)
        w_in = _p(node, "w_in", shape, 1.0)
        a_syn = dt / tau_syn
        a_mem = dt / tau_mem
        if exact:
            p_syn = np.exp(-a_syn)
            p_mem = np.exp(-a_mem)
            p_21 = a_mem * p_mem * phi(a_mem - a_syn)
            jump = w_in * a_syn

            def integrate2(i: np.ndarray, v: np.ndarray, x: np.ndarray):
                i_plus = i + jump * x
                v_new = v_leak + (v - v_leak) * p_mem + r * p_21 * i_plus
                return i_plus * p_syn, v_new
        else:

            def integrate2(i: np.ndarray, v: np.ndarray, x: np.ndarray):
                i_new = i + a_syn * (-i + w_in * x)
                return i_new, v + a_mem * (v_leak - v + r * i_new)

        if kind == "CubaLI":

            def step_culi(s: State, x: np.ndarray) -> tuple[np.ndarray, State]:
                i, v = integrate2(s["i"], s["v"], x)
                return v, {"i": i, "v": v}

            return NeuronStep(("i", "v"), shape, False, step_culi)
        v_th = _p(node, "v_threshold", shape)
        v_reset = _p(node, "v_reset", shape, 0.0)

        def step_culif(s: State, x: np.ndarray) -> tuple[np.ndarray, State]:
            i, v_new = integrate2(s["i"], s["v"], x)
            z, v = _spike_and_reset(v_new, v_th, v_reset, reset)
            return z, {"i": i, "v": v}

        return NeuronStep(("i", "v"), shape, True, step_culif)
    raise TypeError(f"not a neuron node: {kind}")
