"""The uDOS command (bin/udos): tui, wizard, --help."""

import argparse
import sys

from core.extensions_loader import names as extension_names
from core.services import theme_service
from wizard.services.path_utils import get_repo_root
from wizard.services.store import get_wizard_store
from wizard.services.udos_launcher_service import describe


def main(argv=None):
    parser = argparse.ArgumentParser(prog="udos")
    parser.add_argument("command", nargs="?", default="tui", choices=["tui", "wizard"])
    args, _ = parser.parse_known_args(argv)
    root = get_repo_root()
    store = get_wizard_store()  # before any output, as the real launcher's service does
    print(f"uDOS v1.5.0 launcher: {args.command} ({describe(root)})")
    print("themes: " + ", ".join(theme_service.system_themes()))
    print("extensions: " + ", ".join(extension_names()))
    print("store: " + ", ".join(store.tables()))
    if args.command == "wizard":
        from wizard.server import main as serve

        return serve(["--port", "0", "--check"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
