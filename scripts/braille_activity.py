"""Activity similarity of the NIR paper's Braille networks: between the platforms' recorded
activity, and between the reference and peer compositions on random input.

The paper's figure compares each platform's recurrent-layer spikes on test sample 0 (stored in
tests/fixtures/nir-paper/03_rnn/<platform>_activity_noDelay_<graph>.npy). The input of that sample
(ds_test.pt) is not in the fixtures, so the reference cannot be run on it; what can be computed is

1. the activity cosine similarity between every pair of stored platform activities, per graph;
2. on random 12-channel spike input, the similarity between the reference and the snnTorch and
   Norse compositions of tests/reference/_peers.py built from the graph's weights (the tests in
   tests/reference/test_braille.py require them to be spike-exact).

Activity cosine similarity: the (256, n) spike arrays flattened, ``a.b / (|a| |b|)``.

python scripts/braille_activity.py                # print, write docs/braille-activity.md
python scripts/braille_activity.py --output FILE  # write the markdown elsewhere
python scripts/braille_activity.py --no-write     # print only
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import numpy as np

import nirbridge

ROOT = Path(__file__).resolve().parents[1]
RNN = ROOT / "tests" / "fixtures" / "nir-paper" / "03_rnn"
sys.path.insert(0, str(ROOT))

#: graph file stem suffix -> (file, reset mode the network was trained with)
GRAPHS = {
    "noBias_subtract": ("braille_noDelay_noBias_subtract.nir", "subtract"),
    "bias_zero": ("braille_noDelay_bias_zero.nir", "zero"),
}
DT = 1e-4
STEPS = 256
RATES = (0.02, 0.05, 0.1, 0.2, 0.03, 0.08)
SEEDS = (0, 1, 2, 3)
MAX_SHIFT = 3


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return float("nan")
    return float(a @ b / (na * nb))


def shifted(a: np.ndarray, b: np.ndarray, shift: int) -> float:
    """Cosine similarity of ``a`` lagging ``b`` by ``shift`` steps (a[t + shift] vs b[t]),
    over the steps both cover."""
    n = a.shape[0]
    if shift >= 0:
        return cosine(a[shift:], b[: n - shift])
    return cosine(a[: n + shift], b[-shift:])


def best_shift(a: np.ndarray, b: np.ndarray, max_shift: int = MAX_SHIFT) -> tuple[float, int]:
    """The highest shifted similarity over shifts -max_shift..max_shift, and its shift (the
    smallest |shift| on ties)."""
    best = (shifted(a, b, 0), 0)
    for magnitude in range(1, max_shift + 1):
        for shift in (-magnitude, magnitude):
            value = shifted(a, b, shift)
            if value > best[0] + 1e-12:
                best = (value, shift)
    return best


def load_activities(suffix: str) -> tuple[dict[str, np.ndarray], list[str]]:
    """Platform -> (256, n) activity; and notes on files stored in another layout."""
    graph_file, _ = GRAPHS[suffix]
    n = nirbridge.read(RNN / graph_file).nodes["lif1.lif"].tau_mem.shape[0]
    out: dict[str, np.ndarray] = {}
    notes = []
    for path in sorted(RNN.glob(f"*_activity_noDelay_{suffix}.npy")):
        platform = path.name.split("_activity_")[0]
        arr = np.load(path)
        if arr.shape == (n, STEPS):
            notes.append(f"`{path.name}` is stored transposed {arr.shape}; used as its transpose")
            arr = arr.T
        if arr.shape != (STEPS, n):
            raise SystemExit(f"{path.name}: expected shape {(STEPS, n)}, got {arr.shape}")
        values = np.unique(arr)
        if not np.isin(values, (0, 1)).all():
            notes.append(f"`{path.name}` holds values {values.tolist()}, not only 0/1")
        out[platform] = arr.astype(np.float64)
    return out, notes


def platform_table(acts: dict[str, np.ndarray]) -> str:
    names = list(acts)
    lines = [
        "| | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for a in names:
        row = [f"{cosine(acts[a], acts[b]):.3f}" for b in names]
        lines.append(f"| **{a}** | " + " | ".join(row) + " |")
    return "\n".join(lines)


def shift_table(acts: dict[str, np.ndarray]) -> str:
    names = list(acts)
    lines = [
        "| | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for a in names:
        row = []
        for b in names:
            value, shift = best_shift(acts[a], acts[b])
            row.append(f"{value:.3f} ({shift:+d})")
        lines.append(f"| **{a}** | " + " | ".join(row) + " |")
    return "\n".join(lines)


def spike_counts(acts: dict[str, np.ndarray]) -> str:
    return ", ".join(f"{k} {int(v.sum())}" for k, v in acts.items())


def _optional(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def random_input_rows(suffix: str) -> list[tuple[str, str, str, str]]:
    """(comparison, cosine similarity of lif1.lif, of the output, differing spikes) on random
    input; the peers as in tests/reference/test_braille.py."""
    from tests.reference._peers import NorseNet, SnnTorchNet
    from tests.reference.test_braille import braille_net

    graph_file, reset = GRAPHS[suffix]
    graph = nirbridge.read(RNN / graph_file)
    torch = _optional("torch")
    snn = _optional("snntorch")
    norse = _optional("norse.torch")
    xs = []
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        rates = np.array(RATES)[None, :, None]
        xs.append((rng.random((STEPS, len(RATES), 12)) < rates).astype(np.float64))
    x = np.concatenate(xs, axis=1)
    ref = nirbridge.simulate(
        graph, {"input": x}, dt=DT, reset=reset, batched=True, record=["lif1.lif"]
    )
    ours = (ref.recorded["lif1.lif"], ref.outputs["output"])
    net = braille_net(graph)
    peers = []
    if torch is not None and snn is not None:
        label = "snnTorch composition" + (
            " (Leaky integrates and fires, loop subtracts)" if reset == "subtract" else ""
        )
        peers.append(
            (label, SnnTorchNet(net, snn, torch, dt=DT, reset=reset, explicit_subtract=True))
        )
        if reset == "subtract":
            peers.append(
                (
                    "snnTorch composition with its own subtract reset (not spike-exact, see text)",
                    SnnTorchNet(net, snn, torch, dt=DT, reset=reset),
                )
            )
    else:
        peers.append(("snnTorch composition", None))
    if torch is not None and norse is not None:
        peers.append(("Norse composition", NorseNet(net, torch, dt=DT, reset=reset)))
    else:
        peers.append(("Norse composition", None))
    rows = []
    for label, peer in peers:
        if peer is None:
            rows.append((f"reference vs {label}", "not installed", "", ""))
            continue
        spikes, _ = peer.run(x)
        theirs = (spikes[0], spikes[1])
        diff = sum(int((a != b).sum()) for a, b in zip(ours, theirs, strict=True))
        rows.append(
            (
                f"reference vs {label}",
                f"{cosine(ours[0], theirs[0]):.6f}",
                f"{cosine(ours[1], theirs[1]):.6f}",
                str(diff),
            )
        )
    n_samples = x.shape[1]
    rows.append(
        (
            f"(input: {n_samples} random samples, {STEPS} steps, rates {list(RATES)} per channel)",
            f"{int(ours[0].sum())} spikes",
            f"{int(ours[1].sum())} spikes",
            "",
        )
    )
    return rows


def render() -> str:
    parts = [
        "# Braille activity similarity",
        "",
        "Generated by `scripts/braille_activity.py` (do not edit by hand; rerun it).",
        "",
        "The NIR paper compares the recurrent layer's spikes (`lif1.lif`, 256 steps) of each "
        "platform on test sample 0 of the Braille data set by their *activity cosine "
        "similarity*: the (256, n) spike arrays flattened, `a.b / (|a| |b|)`.",
        "",
        "**The reference-vs-platform figure cannot be computed here.** It needs the input of "
        "that sample (`ds_test.pt`), which is not among the fixtures (files of 4 MiB and more "
        "were not available). The reference has therefore not been run on the paper's sample, "
        "and this page makes no claim about how close any platform is to it. What can be "
        "computed is below: how the stored platform activities agree with one another, and, on "
        "random input, that the reference and the snnTorch and Norse compositions of the same "
        "network agree spike for spike.",
        "",
    ]
    for suffix, (graph_file, reset) in GRAPHS.items():
        acts, notes = load_activities(suffix)
        parts += [
            f"## `{graph_file}` (run with reset = {reset})",
            "",
            "### Stored platform activity, pairwise cosine similarity",
            "",
            platform_table(acts),
            "",
            f"Spike counts: {spike_counts(acts)}.",
            "",
        ]
        parts += [f"- {n}" for n in notes]
        if notes:
            parts.append("")
        parts += [
            f"Platforms record the same step with different timing conventions. The same "
            f"similarity, maximised over shifting the row platform by -{MAX_SHIFT}..+{MAX_SHIFT} "
            f"steps (in brackets: the shift; +1 means the row platform's spikes come one step "
            f"later), over the steps both arrays cover:",
            "",
            shift_table(acts),
            "",
        ]
        parts += [
            "### Reference vs peer compositions on random input",
            "",
            "| comparison | `lif1.lif` similarity | output similarity | differing spikes |",
            "|---|---:|---:|---:|",
        ]
        parts += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in random_input_rows(suffix)]
        parts.append("")
    parts += [
        "## Notes",
        "",
        "- Random input: every channel spikes with a fixed probability per step (one rate per "
        "sample); seeds 0-3. `tests/reference/test_braille.py` asserts the spike-exact "
        "agreement on the first two seeds.",
        "- Both files are NIR 0.2.0, whose reset convention is subtraction; the `bias_zero` "
        'network was trained with reset to zero and is run with `reset="zero"`.',
        "- snnTorch's `Leaky` (with `reset_delay=False`) subtracts the threshold once more before "
        "its spike test whenever v stayed above threshold after the previous reset; this network "
        "gets there within a few steps, so its own subtract reset is not spike-exact. The exact "
        'snnTorch composition lets `Leaky` integrate and fire (`reset_mechanism="none"`) and '
        "subtracts the threshold in the time loop.",
        "- In the platform tables, the similarity of a platform with itself is 1 by definition.",
        "",
    ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "braille-activity.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    text = render()
    print(text)
    if not args.no_write:
        args.output.write_text(text)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
