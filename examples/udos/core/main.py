"""Entry point of the uDOS command line (``uDOS.py`` and ``bin/udos``)."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def version() -> str:
    data = json.loads((ROOT / "version.json").read_text())
    v = data["version"]
    if isinstance(v, dict):
        return f"{v['major']}.{v['minor']}.{v['patch']}"
    return str(v)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--version"]:
        print(f"uDOS {version()}")
        return 0
    from .commands import dispatch

    return dispatch(argv or ["tui"])
