"""Every `[tool.samdkit.*]` table and key samdkit reads, with its type: the one declaration.

`load_project` validates pyproject.toml against it before any command runs, so a typo (`runz = 5`) or a
wrong type (`runs = "3"`) is one line naming `[tool.samdkit.<table>] <key>` (exit 2), never a setting
silently ignored. A new setting is declared here first; its command then reads `project.section(table)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from samdkit.core.errors import UserError

WHERE = "pyproject.toml"


@dataclass(frozen=True)
class Kind:
    """A value's type: a name for the error line and a check (returns the value, maybe normalised)."""

    name: str
    check: Callable[[Any], Any]  # raises ValueError when the value is not of this kind


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError
    return value


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError
    return float(value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError
    return value


def _list_of(check: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    def inner(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise ValueError
        return [check(item) for item in value]

    return inner


def _text_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError
    return {str(k): _text(v) for k, v in value.items()}


def _any(value: Any) -> Any:
    return value


TEXT = Kind("text (a quoted string)", _text)
INTEGER = Kind("a whole number", _integer)
NUMBER = Kind("a number", _number)
BOOLEAN = Kind("true or false", _boolean)
TEXTS = Kind("a list of strings", _list_of(_text))
NUMBERS = Kind("a list of numbers", _list_of(_number))
TEXT_MAP = Kind("a table of text values", _text_map)
ANY = Kind("any value", _any)


@dataclass(frozen=True)
class Tables:
    """A key holding tables: a list of them (`[[...]]`) or a table of named ones; `keys` None = open."""

    name: str
    keys: dict[str, Kind] | None
    listed: bool


CHECK_KEYS = {"dataset": TEXT, "suite": TEXT}
PARAMETER_KEYS = {"dataset": TEXT, "column": TEXT}
SIGNER_KEYS = {"role": TEXT, "meaning": TEXT, "name": TEXT}

# table -> key -> kind. `paths` is filled from the paths table (core.project.DEFAULT_PATHS).
SCHEMA: dict[str, dict[str, Kind | Tables]] = {
    "lint": {
        "paths": TEXTS,
        "exclude": TEXTS,
        "notebook_ignore": TEXTS,
        "pynblint_command": TEXTS,
    },
    "data": {
        "datasource": TEXT,
        "id_column": TEXT,
        "label_column": TEXT,
        "identifying_columns": TEXTS,
        "checks": Tables("a list of {dataset, suite} tables", CHECK_KEYS, listed=True),
        "parameters": Tables("a table of {dataset, column} tables", PARAMETER_KEYS, listed=False),
        "exempt": TEXT_MAP,
        # each source's keys are checked by samdkit.data.sources, which knows the engines
        "sources": Tables("a table of source tables", None, listed=False),
    },
    "lock": {
        "runs": INTEGER,
        "tolerance": NUMBER,
        "data_stage": TEXT,
        "train_stage": TEXT,
        "workers": INTEGER,
        "tag_mlflow": BOOLEAN,
        "packages": TEXTS,
    },
    "report": {
        "document_id": TEXT,
        "reproduce": TEXTS,
        "test_independence": TEXT,
        "missing_data": TEXT,
        "templates": TEXT,
    },
    "sign": {
        "pdfs": TEXTS,
        "files": TEXTS,
        "extra_files": TEXTS,
        "signers": Tables("a list of {role, meaning, name} tables", SIGNER_KEYS, listed=True),
        "meaning": TEXT,
        "location": TEXT,
        "box": NUMBERS,
    },
    # read only to warn that they are ignored: trust comes from the auditor, never the audited project
    "verify": {"trust": ANY, "expect_signer": ANY},
}


def validate(raw: Any, path_keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """`[tool.samdkit]` as read from TOML, checked against SCHEMA; values normalised (int -> float)."""
    if not isinstance(raw, dict):
        raise UserError(f"{WHERE}: [tool.samdkit] must be a table")
    schema = {**SCHEMA, "paths": dict.fromkeys(path_keys, TEXT)}
    settings: dict[str, dict[str, Any]] = {}
    for table, content in raw.items():
        if table not in schema:
            raise UserError(
                f"{WHERE}: [tool.samdkit] has an unknown table '{table}'{_hint(table, schema)}"
            )
        if not isinstance(content, dict):
            raise UserError(f"{WHERE}: [tool.samdkit.{table}] must be a table")
        settings[table] = _table(table, content, schema[table])
    return settings


def _table(table: str, content: dict[str, Any], keys: dict[str, Kind | Tables]) -> dict[str, Any]:
    out = {}
    for key, value in content.items():
        where = f"{WHERE}: [tool.samdkit.{table}]"
        if key not in keys:
            raise UserError(f"{where} has an unknown key '{key}'{_hint(key, keys)}")
        kind = keys[key]
        out[key] = (
            _tables(f"{where} {key}", value, kind)
            if isinstance(kind, Tables)
            else _value(f"{where} {key}", value, kind)
        )
    return out


def _value(where: str, value: Any, kind: Kind) -> Any:
    try:
        return kind.check(value)
    except ValueError:
        raise UserError(f"{where} must be {kind.name}, got {_shown(value)}") from None


def _tables(where: str, value: Any, kind: Tables) -> Any:
    if kind.listed:
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise UserError(f"{where} must be {kind.name}")
        return [_entry(f"{where}[{i}]", entry, kind) for i, entry in enumerate(value)]
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise UserError(f"{where} must be {kind.name}")
    return {name: _entry(f"{where}.{name}", entry, kind) for name, entry in value.items()}


def _entry(where: str, entry: dict[str, Any], kind: Tables) -> dict[str, Any]:
    if kind.keys is None:
        return entry
    out = {}
    for key, value in entry.items():
        if key not in kind.keys:
            raise UserError(f"{where} has an unknown key '{key}'{_hint(key, kind.keys)}")
        out[key] = _value(f"{where} {key}", value, kind.keys[key])
    return out


def _hint(key: str, known: Iterable[str]) -> str:
    import difflib  # only on the error path

    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(sorted(known))})"


def _shown(value: Any) -> str:
    """The wrong value's type, never the value itself (a misplaced secret must not reach a log)."""
    names = {bool: "true/false", int: "a number", float: "a number", str: "text"}
    names |= {list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)
