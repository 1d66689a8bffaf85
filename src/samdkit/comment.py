"""`samdkit comment`: not yet available; the command exists so the CLI contract is complete."""

from __future__ import annotations

import argparse

from samdkit.errors import NotYetAvailable


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json", "github"), default="text")


def run(args: argparse.Namespace) -> int:
    raise NotYetAvailable("comment")
