"""Layers draw on top of the base grid, one character per cell."""

from pathfinding import astar


class Layer:
    """A sparse set of cells, each with the character to draw there."""

    def __init__(self, name):
        self.name = name
        self.cells = {}

    def put(self, cell, char):
        self.cells[cell] = char

    def render(self, width, height, background="."):
        rows = []
        for y in range(height):
            rows.append("".join(self.cells.get((x, y), background) for x in range(width)))
        return "\n".join(rows)


class RouteLayer(Layer):
    """Marks the route between two cells, avoiding blocked ones."""

    def __init__(self, start, goal, width, height, blocked=frozenset()):
        super().__init__("route")
        route = astar(start, goal, width, height, blocked) or []
        for cell in route:
            self.put(cell, "*")
        for cell in blocked:
            self.put(cell, "#")
