#!/usr/bin/env python3
"""uDOS root entrypoint shim: routes terminal launch to `bin/udos tui`."""

import os
import sys

project_root = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, project_root)
os.chdir(project_root)
os.environ.setdefault("UDOS_ROOT", project_root)
os.environ.setdefault("UDOS_ROOT_REQUIRED", "1")

if __name__ == "__main__":
    launcher = os.path.join(project_root, "bin", "udos")
    if not os.path.exists(launcher):
        raise RuntimeError(f"uDOS launcher not found: {launcher}")
    os.execv(launcher, [launcher, "tui", *sys.argv[1:]])
