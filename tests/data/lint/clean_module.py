"""A module ruff finds nothing in."""


def answer() -> int:
    return 42
