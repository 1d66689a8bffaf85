"""params.yaml, read once, with one clear line (and exit 2) for a missing file, key or bad setting.

The `data:` block is the one place for every data setting. samdkit's own copies of the id and label
columns in pyproject.toml ([tool.samdkit.data]) are derived from it: `python -m
{{ cookiecutter.package_name }}.config --sync` writes them; without --sync (the check-data
stage's first command) it fails on any disagreement, so no data check is silently left out.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml

PARAMS_FILE = Path("params.yaml")
PYPROJECT = Path("pyproject.toml")
# a source "sklearn:NAME" is the template's embedded example (example.py), any other a file
EMBEDDED_PREFIX = "sklearn:"
ROLES = ("numeric_features", "categorical_features", "subgroup_columns", "exclude_columns")


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


def _names(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"params.yaml: data.{key} must be a list of column names")
    return value


def data_settings(params: dict[str, Any], full: bool = True) -> dict[str, Any]:
    """The checked `data:` block: column roles that do not overlap, classes, the positive label.

    Binary: data.positive_label names the positive outcome, data.classes is null. Multiclass:
    data.classes lists every outcome (three or more), data.positive_label is null.

    full=False for the stages after prepare, which read only the roles, classes and positive label
    (each declares exactly those keys in dvc.yaml).
    """
    data = dict(require(params, "data"))
    split_keys = ("source", "test_size", "seed", "golden_rows") if full else ()
    for key in ("id_column", "label_column", *split_keys):
        require(params, f"data.{key}")
    roles = {key: _names(data, key) for key in ROLES}
    data.update(roles)
    features = roles["numeric_features"] + roles["categorical_features"]
    if not features:
        raise ConfigError("params.yaml: list at least one numeric or categorical feature")
    seen: dict[str, str] = {}
    for key in ("numeric_features", "categorical_features", "exclude_columns"):
        for column in roles[key]:
            if column in seen:
                raise ConfigError(f"params.yaml: {column!r} in data.{seen[column]} and data.{key}")
            seen[column] = key
    for column in roles["subgroup_columns"]:
        if seen.get(column) == "exclude_columns":
            raise ConfigError(f"params.yaml: {column!r} is a subgroup and an excluded column")
    for key in ("id_column", "label_column"):
        if data[key] in seen or data[key] in roles["subgroup_columns"]:
            raise ConfigError(f"params.yaml: data.{key} {data[key]!r} cannot have a role too")
    classes = require(params, "data.classes")
    positive = require(params, "data.positive_label")
    if classes is None:
        if positive is None or isinstance(positive, list | dict):
            raise ConfigError("params.yaml: data.positive_label must name the positive outcome")
    else:
        distinct = isinstance(classes, list) and len({str(c) for c in classes}) == len(classes)
        if not distinct or len(classes) < 3:
            raise ConfigError("params.yaml: data.classes must list 3+ distinct outcomes (or null)")
        if positive is not None:
            raise ConfigError("params.yaml: data.positive_label must be null for 3+ classes")
    data["features"] = features
    return data


def _derived(data: dict[str, Any]) -> dict[str, Any]:
    """pyproject.toml's copies of params.yaml's data settings, as they must read."""
    source = str(data["source"])
    reason = "raw export (params.yaml data.source); its train, test and golden splits are checked"
    return {
        "id_column": data["id_column"],
        "label_column": data["label_column"],
        "train_ids": data["id_column"],
        "exempt": {} if source.startswith(EMBEDDED_PREFIX) else {source: reason},
    }


def disagreements(data: dict[str, Any], path: Path = PYPROJECT) -> list[str]:
    """Each setting of [tool.samdkit.data] in pyproject.toml that differs from params.yaml."""
    import tomllib

    try:
        section = tomllib.loads(path.read_text(encoding="utf-8"))["tool"]["samdkit"]["data"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: no [tool.samdkit.data] ({type(exc).__name__})") from None
    want = _derived(data)
    found = {
        "id_column": section.get("id_column"),
        "label_column": section.get("label_column"),
        "train_ids": (section.get("parameters", {}).get("train_ids") or {}).get("column"),
    }
    problems = [
        f"{path} [tool.samdkit.data] {key} is {found[key]!r}, params.yaml says {want[key]!r}"
        for key in ("id_column", "label_column", "train_ids")
        if found[key] != want[key]
    ]
    exempt = section.get("exempt", {})
    for source in want["exempt"]:
        checks = [c.get("dataset") for c in section.get("checks", [])]
        if source not in exempt and source not in checks:
            problems.append(f"{path} [tool.samdkit.data] does not check or exempt {source!r}")
    return problems


def sync(data: dict[str, Any], path: Path = PYPROJECT) -> list[str]:
    """Rewrite pyproject.toml's derived lines from params.yaml; returns what disagreed before."""
    want = _derived(data)
    text = path.read_text(encoding="utf-8")
    changed = disagreements(data, path)
    train_ids = 'train_ids = { dataset = "train_data", column = ' + json.dumps(want["train_ids"])
    lines = {
        r"^id_column = .*$": f"id_column = {json.dumps(want['id_column'])}",
        r"^label_column = .*$": f"label_column = {json.dumps(want['label_column'])}",
        r"^train_ids = .*$": train_ids + " }",
    }
    for pattern, line in lines.items():
        text = re.sub(pattern, line.replace("\\", "\\\\"), text, count=1, flags=re.M)
    head, sep, _ = text.partition("[tool.samdkit.data.exempt]\n")
    if not sep:
        raise ConfigError(f"{path}: no [tool.samdkit.data.exempt] table (last in the file)")
    body = "".join(f"{json.dumps(k)} = {json.dumps(v)}\n" for k, v in want["exempt"].items())
    text = head + sep + body
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return changed


def main(argv: list[str] | None = None) -> None:
    """Check (or with --sync, write) pyproject.toml's copies of the data settings."""
    args = sys.argv[1:] if argv is None else argv
    params = load_params()
    data = {key: require(params, f"data.{key}") for key in ("source", "id_column", "label_column")}
    if args == ["--sync"]:
        changed = sync(data)
        print(f"config: pyproject.toml follows params.yaml ({len(changed)} setting(s) rewritten)")
        return
    problems = disagreements(data)
    if problems:
        raise ConfigError(f"{problems[0]} (run: python -m {{ cookiecutter.package_name }}.config --sync)")
    print("config: params.yaml and pyproject.toml agree")


def _library_message(exc: Exception) -> str | None:
    """A safe one-line account of a known library error (type and setting names, never cells)."""
    name = type(exc).__name__
    if name == "UntrustedTypesFoundException":
        return f"skops refused types the pipeline does not build: {exc}"
    module = type(exc).__module__.split(".")[0]
    hints = {
        "mlflow": "MLflow refused the model or its input (a changed input needs: dvc repro train)",
        "sklearn": "scikit-learn refused the data or a setting",
        "skops": "skops could not save or load the model",
    }
    return f"{hints[module]} with {name}" if module in hints else None


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
        known = _library_message(exc) or f"the stage failed with {type(exc).__name__}"
        print(
            f"error: {known}; its message is withheld because "
            "it may quote patient data (set SHOW_DATA_ERRORS=1 on your own terminal to see it)",
            file=sys.stderr,
        )
        sys.exit(3)


if __name__ == "__main__":
    run_cli(main)
