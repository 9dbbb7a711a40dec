"""`python -m bench [--data DIR] [--json OUT]`: the default set (populate_check at tier M)."""

from __future__ import annotations

import sys

from bench import populate_check

if __name__ == "__main__":
    sys.exit(populate_check.main(["--tier", "M", *sys.argv[1:]]))
