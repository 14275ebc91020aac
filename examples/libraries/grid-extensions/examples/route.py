"""Print a route across a small map: python3 examples/route.py"""

from grid_extensions import RouteLayer

layer = RouteLayer((0, 0), (7, 3), 8, 4, blocked={(3, 0), (3, 1), (3, 2)})
print(layer.render(8, 4))
