"""Grid Math: coordinates and distances on the uDOS grid."""

__version__ = "1.1.1"


def manhattan(a, b):
    """Manhattan distance between two (x, y) cells."""
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


def chebyshev(a, b):
    """Chebyshev distance: moves when diagonal steps are allowed."""
    return max(abs(a[0] - b[0]), abs(a[1] - b[1]))


def neighbours(cell, width, height, diagonal=False):
    """The neighbours of cell that lie inside a width x height grid."""
    x, y = cell
    steps = [(1, 0), (-1, 0), (0, 1), (0, -1)]
    if diagonal:
        steps += [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    for dx, dy in steps:
        nx, ny = x + dx, y + dy
        if 0 <= nx < width and 0 <= ny < height:
            yield (nx, ny)
