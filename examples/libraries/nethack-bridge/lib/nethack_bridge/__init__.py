"""NetHack Bridge: run NetHack in a uDOS panel."""

import shutil
import subprocess

from grid_math import manhattan

__version__ = "2.0.1"


def find_nethack():
    """Path of the nethack binary, or None when it is not installed."""
    return shutil.which("nethack")


def start(options="windowtype:tty"):
    """Start NetHack with NETHACKOPTIONS set; returns the process."""
    binary = find_nethack()
    if binary is None:
        raise RuntimeError("nethack is not installed (apt install nethack-console)")
    env = {"NETHACKOPTIONS": options, "TERM": "xterm-256color"}
    return subprocess.Popen([binary], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def distance_to_stairs(player, stairs):
    """Steps between the player and the stairs, for the grid overlay."""
    return manhattan(player, stairs)
