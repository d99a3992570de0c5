"""Plot benchmark JSON lines (the last line each benchmark prints) into docs/img/benchmarks.png.

python benchmarks/reference.py | tail -1 > /tmp/reference.json
python benchmarks/pynn_build.py | tail -1 > /tmp/pynn.json
python scripts/plot_benchmarks.py /tmp/reference.json /tmp/pynn.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "img" / "benchmarks.png"


def main(paths: list[str]) -> int:
    results = {}
    for path in paths:
        data = json.loads(Path(path).read_text().strip().splitlines()[-1])
        results[data["benchmark"]] = data
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    ref = results.get("reference")
    if ref:
        labels = ["batch 1", "batch 64"]
        ours = [ref["reference_neuron_steps_per_s"], ref["reference_neuron_steps_per_s_batch64"]]
        peer = [ref["snntorch_neuron_steps_per_s"], ref["snntorch_neuron_steps_per_s_batch64"]]
        x = range(len(labels))
        axes[0].bar([i - 0.2 for i in x], ours, 0.4, label="nirbridge reference (float64)")
        axes[0].bar([i + 0.2 for i in x], peer, 0.4, label="snnTorch inference (float32)")
        axes[0].set_xticks(list(x), labels)
        axes[0].set_ylabel("neuron-steps per second")
        axes[0].set_title("1,010 LIF neurons, recurrent, 1 thread", fontsize=9)
        axes[0].legend(fontsize=8)
    pynn = results.get("pynn_build")
    if pynn:
        names = ["NEST\n(converted)", "nirbridge\nreference", "snnTorch"]
        nest_rate = 1.0
        rates = [nest_rate, 1 / pynn["nest_vs_reference"], 1 / pynn["nest_vs_snntorch"]]
        axes[1].bar(names, rates, color=["C2", "C0", "C1"])
        axes[1].set_ylabel("speed relative to NEST")
        axes[1].set_title(
            f"Braille network, 256 steps; build 1M synapses: {pynn['build_ratio_1m']:.2f}x "
            "hand-written",
            fontsize=9,
        )
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=110)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
