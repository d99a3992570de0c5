"""Regenerate the support table in README.md and docs/support.md from the converter registry.

python scripts/support_table.py           # print the table
python scripts/support_table.py --write   # rewrite it in README.md and docs/support.md
python scripts/support_table.py --check   # exit 1 if either file is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _markers import replace_block

from nirbridge.converters.registry import support_table

ROOT = Path(__file__).resolve().parents[1]
FILES = (ROOT / "README.md", ROOT / "docs" / "support.md")
START = "<!-- support-table:start -->"
END = "<!-- support-table:end -->"


def render(text: str, table: str) -> str:
    """``text`` with the block between the markers replaced by ``table``."""
    return replace_block(text, START, END, table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="rewrite the files")
    group.add_argument("--check", action="store_true", help="fail if a file is stale")
    args = parser.parse_args(argv)
    table = support_table()
    if not (args.write or args.check):
        print(table)
        return 0
    stale = []
    for path in FILES:
        text = path.read_text()
        new = render(text, table)
        if new != text:
            stale.append(path)
            if args.write:
                path.write_text(new)
    if args.check and stale:
        print("stale: " + ", ".join(str(p.relative_to(ROOT)) for p in stale), file=sys.stderr)
        print("run: python scripts/support_table.py --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
