"""Options every command shares, declared once so help, choices and default never drift apart."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

FORMATS = ("text", "json", "github")


def add_format_option(
    parser: argparse.ArgumentParser, formats: Sequence[str] = FORMATS
) -> argparse.Action:
    """`--format`: text for people, json (the gate-result envelope) for machines, github annotations."""
    return parser.add_argument(
        "--format",
        choices=tuple(formats),
        default=formats[0],
        help=f"output format: {', '.join(formats)} (default: {formats[0]})",
    )
