"""Grid Extensions: extra layers and widgets for the uDOS grid."""

from .layers import Layer, RouteLayer

__version__ = "1.2.3"
__all__ = ["Layer", "RouteLayer"]
