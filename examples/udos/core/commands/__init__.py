"""uDOS commands: each module exposes ``run(args) -> int``."""

from . import help as help_cmd
from . import grid

COMMANDS = {"help": help_cmd.run, "grid": grid.run, "tui": grid.run}


def dispatch(argv):
    name, args = argv[0].lower(), argv[1:]
    cmd = COMMANDS.get(name)
    if cmd is None:
        print(f"unknown command: {name} (try: help)")
        return 2
    return cmd(args)
