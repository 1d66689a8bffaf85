"""`samdkit lock` / `samdkit verify-lock`: not yet available; the commands exist so the contract is complete."""

from __future__ import annotations

import argparse

from samdkit.errors import NotYetAvailable


def add_lock_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json", "github"), default="text")


def run_lock(args: argparse.Namespace) -> int:
    raise NotYetAvailable("lock")


add_verify_lock_arguments = add_lock_arguments


def run_verify_lock(args: argparse.Namespace) -> int:
    raise NotYetAvailable("verify-lock")
