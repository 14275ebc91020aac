"""A* search with the Manhattan distance as heuristic."""

import heapq

from grid_math import manhattan, neighbours

from ._path import walk_back


def astar(start, goal, width, height, blocked=frozenset(), cost=None):
    """Cheapest path from start to goal, or None. cost(cell) defaults to 1."""
    cost = cost or (lambda cell: 1)
    frontier = [(manhattan(start, goal), 0, start)]
    came_from = {start: None}
    spent = {start: 0}
    while frontier:
        _, g, cell = heapq.heappop(frontier)
        if cell == goal:
            return walk_back(came_from, cell)
        for nxt in neighbours(cell, width, height):
            if nxt in blocked:
                continue
            ng = g + cost(nxt)
            if ng < spent.get(nxt, ng + 1):
                spent[nxt] = ng
                came_from[nxt] = cell
                heapq.heappush(frontier, (ng + manhattan(nxt, goal), ng, nxt))
    return None
