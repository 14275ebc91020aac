"""Bundled extensions."""


def available():
    return ["api"]
