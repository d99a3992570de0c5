"""``nirbridge.to_nir`` and ``nirbridge.from_nir``: one entry each, dispatching through the
converter registry (:mod:`nirbridge.converters.registry`)."""

from __future__ import annotations

from typing import Any

import nir

from ._errors import UnsupportedError

#: Top-level package of a model's class -> registry name of the framework that exports it.
_FRAMEWORKS = {"snntorch": "snntorch", "norse": "norse", "nirbridge": "torch"}


def _framework_of(model: Any) -> str:
    """snnTorch or Norse, from the modules a model holds (a model holding both is refused)."""
    found = set()
    modules = model.modules() if hasattr(model, "modules") else [model]
    for m in modules:
        module = type(m).__module__
        root = module.partition(".")[0]
        if root == "nirbridge" and not module.startswith("nirbridge.converters.torch"):
            continue
        if root in _FRAMEWORKS:
            found.add(_FRAMEWORKS[root])
    if len(found) == 1:
        return found.pop()
    if not found:
        raise UnsupportedError(
            f"cannot tell which framework {type(model).__name__} comes from (no snnTorch, Norse "
            "or nirbridge.converters.torch.Neuron module in it); pass target='snntorch', "
            "'norse' or 'torch'"
        )
    raise UnsupportedError(
        f"the model mixes modules of {sorted(found)}; pass target= to choose the exporter"
    )


def to_nir(model: Any, *, dt: float, rule: Any = None, target: str | None = None, **options):
    """Export a framework model to a NIR graph carrying ``dt``, the reset mode and the rule.

    Args:
        model: An snnTorch, Norse or plain-PyTorch model (a ``torch.nn.Sequential`` of layers
            and neurons; plain PyTorch: :class:`nirbridge.converters.torch.Neuron`).
        dt: Time step in seconds; the graph's time constants are written for it and it is
            stored in the graph's nirbridge metadata.
        rule: A learning rule from :mod:`nirbridge.learning`, checked against the graph and
            stored in it (``nirbridge.learning.attach``).
        target: Registry name of the exporter; default: found from the model's modules.
        **options: Passed to the exporter (e.g. ``input_shape``, snnTorch's ``approximate``).

    Raises:
        UnsupportedError: a module has no NIR form, or computes what NIR cannot express (named).
    """
    from nirbridge.converters import registry

    from . import learning
    from .graph._metadata import check_dt

    dt = check_dt(dt, source="dt argument")
    converter = registry.get(target or _framework_of(model))
    graph = converter.to_nir(model, dt=dt, **options)
    if rule is not None:
        learning.attach(graph, rule)
    return graph


def from_nir(graph: nir.NIRGraph, target: str, **options: Any) -> Any:
    """Build ``target``'s object from ``graph`` (e.g. ``"snntorch"``, ``"norse"``,
    ``"reference"``); ``options`` go to that converter's ``from_nir`` (e.g. ``dt``, ``reset``)."""
    from nirbridge.converters import registry

    return registry.get(target).from_nir(graph, **options)


__all__ = ["from_nir", "to_nir"]
