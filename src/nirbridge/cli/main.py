"""``nirbridge`` umbrella command (filled in below)."""

import sys


def main(argv=None) -> int:
    return 0


if __name__ == "__main__":
    sys.exit(main())
