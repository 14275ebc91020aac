#!/usr/bin/env python3
"""uDOS launcher: runs ``bin/udos tui``."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from core.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["tui"]))
