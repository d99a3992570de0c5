"""The work behind each ``nirbridge`` subcommand."""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from .._errors import LearningRuleError, NirBridgeError, SimulationInputError
from ..graph import (
    NODE_SPECS,
    back_edges,
    check_graph,
    infer_shapes,
    inline_subgraphs,
    read,
    read_metadata,
    reset_mode,
    reset_source,
    type_name,
)
from ..learning import METADATA_KEY, LearningRule, rule_of
from ..learning._base import jsonable
from ..reference import ReferenceSimulator
from ._files import load_inputs, save_outputs
from ._outputs import print_summary, spiking_outputs, stored
from ._plot import plot_outputs
from ._progress import progress_enabled


def cmd_simulate(args: argparse.Namespace) -> int:
    graph = read(args.model, reset=args.reset)
    sim = ReferenceSimulator(
        graph, dt=args.dt, integrator=args.integrator, reset=args.reset, time_unit=args.time_unit
    )
    if args.input is not None:
        inputs = load_inputs(args.input)
    else:
        if args.steps is None:
            raise SimulationInputError("give --input IN.npz, or --steps N to run on zero input")
        inputs = {name: np.zeros((args.steps, *sim.shapes[name])) for name in sim.inputs}
    result = sim.run(inputs, args.steps, progress=progress_enabled(args.progress))
    spiking = spiking_outputs(graph)
    arrays = stored(result.outputs, spiking)
    save_outputs(args.output, arrays)
    steps = next(iter(arrays.values())).shape[0] if arrays else 0
    print(
        f"simulated {steps} steps at dt = {sim.dt:g} s ({sim.integrator}, reset {sim.reset}) "
        f"-> {args.output}"
    )
    print_summary(arrays, spiking)
    if args.plot:
        plot_outputs(
            args.plot,
            result.outputs,
            dt=sim.dt,
            spiking=spiking,
            title=f"{args.model} ({sim.integrator}, reset {sim.reset})",
        )
        print(f"  plot -> {args.plot}")
    return 0


def describe(path: str, *, check: bool = True) -> dict[str, Any]:
    """A JSON-able description of a NIR file (what ``nirbridge inspect`` prints)."""
    graph = read(path, check=check)
    meta = read_metadata(graph)
    problems = [str(p) for p in check_graph(graph)] if not check else []
    flat = inline_subgraphs(graph)
    try:
        shapes = infer_shapes(flat)
    except NirBridgeError as exc:
        shapes = {}
        if str(exc) not in problems:
            problems.append(str(exc))
    try:
        mode, source = reset_mode(graph), reset_source(graph)
    except NirBridgeError as exc:
        mode, source = None, str(exc)
    rule, rule_problem = _rule(graph)
    if rule_problem is not None:
        problems.append(rule_problem)
    back = back_edges(flat)
    nodes = []
    for name, node in flat.nodes.items():
        kind = type_name(node)
        params = {}
        for field in NODE_SPECS.get(kind, ()):
            value = getattr(node, field.name, None)
            if value is None or field.name in ("shape", "input_type"):
                continue
            params[field.name] = _summary(value)
        nodes.append(
            {"name": name, "type": kind, "shape": list(shapes.get(name, ())), "parameters": params}
        )
    return {
        "file": str(path),
        "nir_version": meta.nir_version,
        "reset": mode,
        "reset_source": source,
        "nirbridge": {
            "dt": meta.dt,
            "time_unit": meta.time_unit,
            "integrator": meta.integrator,
            "initial_state": {k: sorted(v) for k, v in meta.initial_state.items()},
            "other": sorted(meta.extra),
        },
        "learning_rule": _jsonable_rule(meta.extra.get(METADATA_KEY)),
        "learning_rule_summary": rule.summary() if rule is not None else None,
        "learning_rule_details": dict(rule.details()) if rule is not None else None,
        "nodes": nodes,
        "edges": [{"source": a, "target": b, "back_edge": (a, b) in back} for a, b in flat.edges],
        "problems": problems,
    }


def _rule(graph: Any) -> tuple[LearningRule | None, str | None]:
    """The graph's learning rule (checked against it), or the problem with it."""
    try:
        return rule_of(graph), None
    except NirBridgeError as exc:
        return None, f"learning rule: {exc}"


def _jsonable_rule(raw: Any) -> Any:
    return None if raw is None else jsonable(raw)


def _summary(value: Any) -> Any:
    arr = np.asarray(value)
    if arr.dtype.kind in "SUO":
        return str(arr.item() if arr.shape == () else arr.tolist())
    if arr.size == 1:
        return float(arr.ravel()[0]) if arr.dtype.kind == "f" else arr.ravel()[0].item()
    if arr.size <= 4:
        return arr.tolist()
    uniq = np.unique(arr)
    if uniq.size == 1:
        return {"shape": list(arr.shape), "all": uniq[0].item()}
    return {
        "shape": list(arr.shape),
        "min": arr.min().item(),
        "max": arr.max().item(),
        "mean": float(arr.mean()),
    }


def cmd_inspect(args: argparse.Namespace) -> int:
    info = describe(args.model, check=not args.no_check)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"{info['file']}")
    print(f"  NIR version   {info['nir_version'] or 'unknown'}")
    print(f"  reset mode    {info['reset'] or '?'} ({info['reset_source']})")
    nb = info["nirbridge"]
    print(f"  dt            {nb['dt'] if nb['dt'] is not None else 'not stored (give --dt)'}")
    print(f"  time unit     {nb['time_unit']}")
    print(f"  integrator    {nb['integrator'] or 'not stored (euler by default)'}")
    if nb["initial_state"]:
        print(f"  initial state {nb['initial_state']}")
    if info["learning_rule_summary"] is not None:
        print(f"  learning rule {info['learning_rule_summary']}")
        details = info["learning_rule_details"]
        width = max(len(k) for k in details)
        for key, value in details.items():
            print(f"                {key:<{width}}  {value}")
    elif info["learning_rule"] is not None:
        print("  learning rule unreadable (see problems)")
    else:
        print("  learning rule none")
    print(f"\nnodes ({len(info['nodes'])}):")
    width = max(len(n["name"]) for n in info["nodes"])
    for n in info["nodes"]:
        shape = "x".join(str(s) for s in n["shape"]) or "?"
        print(f"  {n['name']:<{width}}  {n['type']:<9} {shape}")
        for key, value in n["parameters"].items():
            print(f"  {'':<{width}}    {key} = {json.dumps(value, default=str)}")
    print(f"\nedges ({len(info['edges'])}):")
    for e in info["edges"]:
        mark = "   (back edge: carries the previous step)" if e["back_edge"] else ""
        print(f"  {e['source']} -> {e['target']}{mark}")
    if info["problems"]:
        print(f"\nproblems ({len(info['problems'])}):")
        for p in info["problems"]:
            print(f"  - {p}")
        return 1
    return 0


def cmd_rule(args: argparse.Namespace) -> int:
    if args.rule_command == "validate":
        return cmd_rule_validate(args)
    raise NirBridgeError(f"unknown rule command {args.rule_command!r}")  # pragma: no cover


def cmd_rule_validate(args: argparse.Namespace) -> int:
    """Check the learning rule of a NIR file: exit 0 with a summary, or 2 with the error."""
    graph = read(args.model)
    rule = rule_of(graph)
    if rule is None:
        raise LearningRuleError(
            f"{args.model}: no learning rule (metadata 'nirbridge.{METADATA_KEY}' is absent)"
        )
    print(f"{args.model}: valid {rule.summary()}")
    return 0
