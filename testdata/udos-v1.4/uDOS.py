#!/usr/bin/env python3
"""uDOS - main entry point: the uCODE terminal."""

import os
import sys

project_root = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, project_root)
os.chdir(project_root)

if __name__ == "__main__":
    from core.tui.ucode_entry import main
    main()
