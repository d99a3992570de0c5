"""Name -> converter, imported only when asked for, with an install hint when an extra is missing.

Each target is declared once here; the README's support table is generated from these entries
(``scripts/support_table.py``), so the table cannot claim what the code does not hold.
"""

from __future__ import annotations

import dataclasses
import importlib

from nirbridge._converter import Converter
from nirbridge._errors import UnsupportedError
from nirbridge.graph import SUPPORTED_TYPES


@dataclasses.dataclass(frozen=True)
class Entry:
    """A target known to nirbridge.

    Attributes:
        name: Registry name (``nirbridge.converters.registry.get(name)``).
        kind: "framework", "simulator" or "hardware".
        description: One line for the support table.
        target: ``"module:attribute"`` of the converter class, or None while it is planned.
        extra: The pip extra that installs the target's dependencies, if any.
        status: "available" or "planned".
        note: Where the work stands (planned entries name their issue).
    """

    name: str
    kind: str
    description: str
    target: str | None = None
    extra: str | None = None
    status: str = "available"
    note: str = ""


ENTRIES: tuple[Entry, ...] = (
    Entry(
        "reference",
        "simulator",
        "numpy reference simulator of docs/semantics.md (the oracle)",
        target="nirbridge.reference._converter:ReferenceConverter",
        note="euler and exact integrators, both reset modes, batched",
    ),
    Entry(
        "snntorch",
        "framework",
        "snnTorch <-> NIR, with dt and learning rule",
        target="nirbridge.converters.snntorch:SnnTorchConverter",
        extra="torch",
        note="Leaky/Synaptic/RLeaky/RSynaptic spike-exact (delayed subtract reset included); "
        "delayed zero reset of Synaptic/R* refused",
    ),
    Entry(
        "norse",
        "framework",
        "Norse <-> NIR, with dt and learning rule",
        target="nirbridge.converters.norse:NorseConverter",
        extra="torch",
        note="LIFBox/LIBox/IAF/LIF/LI cells out; import spike-exact, r honoured",
    ),
    Entry(
        "torch",
        "framework",
        "plain PyTorch <-> NIR: a nirtorch GraphModule of SEMANTICS.md's neurons",
        target="nirbridge.converters.torch:TorchConverter",
        extra="torch",
        note="own Affine map (nirtorch 2.6 drops biases); spike-exact with the reference",
    ),
    Entry(
        "pynn-nest",
        "simulator",
        "NIR <-> PyNN on NEST (nir2pynn default; from_pynn back)",
        target="nirbridge.converters.pynn:NestConverter",
        extra="nest",
        note="LIF/IF spike-exact (both resets, spike or analog inputs); CubaLIF feed-forward "
        "exact, recurrence approximate (measured); --emit-script",
    ),
    Entry(
        "pynn-brian2",
        "simulator",
        "NIR <-> PyNN on Brian2 (standard cell types; from_pynn back)",
        target="nirbridge.converters.pynn:Brian2Converter",
        extra="brian2",
        note="both resets (subtract by a Brian2 reset statement); LIF/IF and CubaLIF "
        "(recurrence included) spike-exact; spike or analog inputs",
    ),
    Entry(
        "pynn-neuron",
        "simulator",
        "NIR <-> PyNN on NEURON (standard cell types; from_pynn back)",
        target="nirbridge.converters.pynn:NeuronConverter",
        extra="neuron",
        note="zero reset only; approximate (no spikes in consecutive steps), agreement "
        "measured in docs/pynn.md",
    ),
    Entry(
        "pynn-spinnaker",
        "simulator",
        "NIR -> sPyNNaker on a virtual board: mapping and fit only",
        target="nirbridge.converters.pynn:SpinnakerConverter",
        extra="spinnaker",
        note="maps and reports cores, placements, fixed-point errors; nothing runs (no board), "
        "so spike agreement is unmeasured; zero reset, euler CubaLIF, no IF/I",
    ),
    Entry(
        "xylo",
        "hardware",
        "Xylo through Rockpool (XyloSim)",
        extra="xylo",
        status="planned",
        note="not yet filed",
    ),
    Entry(
        "lava",
        "hardware",
        "Loihi 2 through Lava (Python 3.10 adapter)",
        extra="lava",
        status="planned",
        note="not yet filed",
    ),
    Entry(
        "spinnaker2",
        "hardware",
        "SpiNNaker2 (py-spinnaker2 is not on any registry here)",
        status="planned",
        note="not yet filed",
    ),
)

_BY_NAME = {e.name: e for e in ENTRIES}


def entries() -> tuple[Entry, ...]:
    return ENTRIES


def get(name: str) -> Converter:
    """The converter registered as ``name``.

    Raises:
        UnsupportedError: unknown name, a planned target, or a missing extra (with the pip
            command that installs it).
    """
    entry = _BY_NAME.get(name)
    if entry is None:
        raise UnsupportedError(f"unknown target {name!r}; known: {sorted(_BY_NAME)}")
    if entry.status != "available" or entry.target is None:
        raise UnsupportedError(f"target {name!r} is not available yet ({entry.note})", target=name)
    module_name, _, attr = entry.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f"pip install 'nirbridge[{entry.extra}]'" if entry.extra else "see the docs"
        raise UnsupportedError(
            f"target {name!r} needs packages that are not installed ({exc}); install: {hint}",
            target=name,
        ) from exc
    converter = getattr(module, attr)()
    return converter


def node_types(entry: Entry) -> frozenset[str]:
    """Node types a target supports (planned targets: none yet)."""
    if entry.status != "available":
        return frozenset()
    return get(entry.name).node_types


def support_table() -> str:
    """The support table as Markdown: one row per target, one column per NIR node type."""
    types = list(SUPPORTED_TYPES)
    head = "| target | kind | status | " + " | ".join(types) + " |"
    rule = "|" + "---|" * (3 + len(types))
    rows = [head, rule]
    for entry in ENTRIES:
        supported = node_types(entry)
        status = entry.status if not entry.note else f"{entry.status} ({entry.note})"
        cells = ["✓" if t in supported else "·" for t in types]
        rows.append(f"| `{entry.name}` | {entry.kind} | {status} | " + " | ".join(cells) + " |")
    legend = (
        "\n✓ supported · not (yet) supported. Generated from `converters/registry.py` by "
        "`scripts/support_table.py`; a test fails when this table is stale."
    )
    return "\n".join(rows) + "\n" + legend
