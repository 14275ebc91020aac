"""Breadth-first search: shortest paths when every step costs the same."""

from collections import deque

from grid_math import neighbours

from ._path import walk_back


def bfs(start, goal, width, height, blocked=frozenset()):
    """Shortest path from start to goal as a list of cells, or None."""
    came_from = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        if cell == goal:
            return walk_back(came_from, cell)
        for nxt in neighbours(cell, width, height):
            if nxt not in came_from and nxt not in blocked:
                came_from[nxt] = cell
                queue.append(nxt)
    return None
