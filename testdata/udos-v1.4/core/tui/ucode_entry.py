"""uCODE: the terminal entry point of uDOS 1.4."""

import sys

from core.services.path_service import get_repo_root
from wizard.services.udos_launcher_service import describe


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    print(f"uCODE v1.4.0 ready ({describe(get_repo_root())})")
    if args[:1] == ["--help"]:
        print("usage: ucode [--help]")
    return 0
