"""A module with one ruff error: an unused import (F401)."""

import os


def answer() -> int:
    return 42
