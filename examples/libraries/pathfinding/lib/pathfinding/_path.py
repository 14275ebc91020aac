"""The path a search found, read back from the cells it came from."""


def walk_back(came_from, cell):
    """The cells from the start to cell, following came_from (start: None)."""
    path = []
    while cell is not None:
        path.append(cell)
        cell = came_from[cell]
    return path[::-1]
