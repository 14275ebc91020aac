"""Finds the uDOS installation: the directory holding the uDOS.py marker."""

import os


def find_repo_root(marker="uDOS.py", start=None):
    here = os.path.abspath(start or os.path.dirname(__file__))
    while True:
        if os.path.isfile(os.path.join(here, marker)):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            raise RuntimeError(f"marker {marker} was not found above {start or __file__}")
        here = parent


def get_repo_root():
    env = os.environ.get("UDOS_ROOT")
    if env:
        return env
    return find_repo_root()
