"""Breadth-first search: shortest paths when every step costs the same."""

from collections import deque

from grid_math import neighbours


def bfs(start, goal, width, height, blocked=frozenset()):
    """Shortest path from start to goal as a list of cells, or None."""
    came_from = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        if cell == goal:
            return _walk_back(came_from, cell)
        for nxt in neighbours(cell, width, height):
            if nxt not in came_from and nxt not in blocked:
                came_from[nxt] = cell
                queue.append(nxt)
    return None


def _walk_back(came_from, cell):
    path = []
    while cell is not None:
        path.append(cell)
        cell = came_from[cell]
    return path[::-1]
