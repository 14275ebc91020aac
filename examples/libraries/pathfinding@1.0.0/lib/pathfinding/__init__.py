"""Pathfinding: breadth-first search over uDOS grid maps."""

from collections import deque

from grid_math import neighbours

__version__ = "1.0.0"


def bfs(start, goal, width, height, blocked=frozenset()):
    """Shortest path from start to goal as a list of cells, or None."""
    came_from = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        if cell == goal:
            path = []
            while cell is not None:
                path.append(cell)
                cell = came_from[cell]
            return path[::-1]
        for nxt in neighbours(cell, width, height):
            if nxt not in came_from and nxt not in blocked:
                came_from[nxt] = cell
                queue.append(nxt)
    return None
