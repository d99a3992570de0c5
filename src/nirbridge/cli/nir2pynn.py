"""``nir2pynn``: run a NIR graph on a PyNN simulator.

The PyNN converter is not built yet (issue #3). Until it is, this command says so and exits
with status 2 instead of pretending to run anything.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nir2pynn",
        description="Run a NIR graph on a PyNN simulator (NEST, Brian2, NEURON, SpiNNaker). "
        "Not available yet: the PyNN converter is being built. Use `nirbridge simulate` for the "
        "reference simulator meanwhile.",
    )
    parser.add_argument("model", help="NIR file")
    parser.parse_args(argv)
    print(
        "nir2pynn: the PyNN converter is not implemented in this release; "
        "`nirbridge simulate MODEL.nir --dt SECONDS --input IN.npz --output OUT.npz` runs the "
        "reference simulator.",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
