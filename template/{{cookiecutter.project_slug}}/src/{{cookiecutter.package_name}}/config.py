"""params.yaml, read once, with one clear line (and exit 2) for a missing file or key."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import yaml

PARAMS_FILE = Path("params.yaml")


class ConfigError(Exception):
    """A params.yaml problem the user must fix."""


class DataError(ValueError):
    """A data problem worded by this project's code: column names and counts, never cell values."""


def load_params(path: Path = PARAMS_FILE) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: file not found (run from the project root)")
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: malformed YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return params


def require(params: dict[str, Any], dotted: str) -> Any:
    """The value at a dotted key such as 'data.seed', or a ConfigError naming the missing key."""
    node: Any = params
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(f"params.yaml: missing key '{dotted}'")
        node = node[part]
    return node


def run_cli(main) -> None:
    """Run a stage's main(): our errors in one line (exit 2), others without their message (exit 3).

    A library's message or traceback can quote cell values or print a data frame (a patient's
    name, a record number), and stage output lands in CI logs; so only the exception type is
    printed. Set SHOW_DATA_ERRORS=1 on your own terminal to see the full traceback.
    """
    try:
        main()
    except (ConfigError, DataError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except Exception as exc:
        if os.environ.get("SHOW_DATA_ERRORS") == "1":
            raise
        print(
            f"error: the stage failed with {type(exc).__name__}; its message is withheld because "
            "it may quote patient data (set SHOW_DATA_ERRORS=1 on your own terminal to see it)",
            file=sys.stderr,
        )
        sys.exit(3)
