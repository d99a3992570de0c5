"""The NIR paper's LIF benchmark on nirbridge's reference simulator.

One LIF neuron (tau = 2.5 ms, threshold 0.1, NIR 0.1.1 file: reset by subtraction) driven by the
paper's stimulus at dt = 0.1 ms. Prints the reference's spike steps and, beside them, the steps
each platform produced in the paper (tests/fixtures/nir-paper/01_lif/lif_<platform>.csv).

Run: ``python examples/paper_lif.py`` (``make demo`` does).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import nirbridge

HERE = Path(__file__).resolve().parent
LIF = HERE.parent / "tests" / "fixtures" / "nir-paper" / "01_lif"
DT = 1e-4  # seconds


def main() -> int:
    graph = nirbridge.read(LIF / "lif_norse.nir")
    stimulus = np.loadtxt(LIF / "lif_exact.csv", delimiter=",")[:, 0]
    result = nirbridge.simulate(graph, {"input": stimulus[:, None]}, dt=DT)
    steps = np.flatnonzero(result.outputs["output"][:, 0]).tolist()
    print(f"nirbridge reference ({result.integrator}, reset {result.reset}, dt = {DT} s)")
    print(f"spike steps: {steps}")
    print("\nthe NIR paper's platforms on the same stimulus:")
    for csv in sorted(LIF.glob("lif_*.csv")):
        platform = csv.stem.removeprefix("lif_")
        theirs = np.flatnonzero(np.loadtxt(csv, delimiter=",")[:, 2]).tolist()
        mark = "same" if theirs == steps else "differs"
        print(f"  {platform:<18} {str(theirs):<28} {mark}")
    return 0 if steps == [460, 510, 710, 760] else 1


if __name__ == "__main__":
    sys.exit(main())
