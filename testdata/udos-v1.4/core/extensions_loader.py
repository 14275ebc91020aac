"""Loads the bundled extensions (core imports extensions/)."""

from extensions import available


def names():
    return available()
