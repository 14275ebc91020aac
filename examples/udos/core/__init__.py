"""uDOS core: the command interpreter, grid and services."""

__all__ = ["main"]

from .main import main  # noqa: E402
