"""Grid Math: coordinates and distances on the uDOS grid."""

__version__ = "1.1.0"


def manhattan(a, b):
    """Manhattan distance between two (x, y) cells."""
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


def neighbours(cell, width, height):
    """The four orthogonal neighbours of cell that lie inside the grid."""
    x, y = cell
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        nx, ny = x + dx, y + dy
        if 0 <= nx < width and 0 <= ny < height:
            yield (nx, ny)
