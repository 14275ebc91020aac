"""Pathfinding: A* and breadth-first search over uDOS grid maps."""

from .astar import astar
from .bfs import bfs

__version__ = "1.1.0"
__all__ = ["astar", "bfs"]
