"""Field checks for samdkit's own JSON evidence files: one line naming the dotted field, exit 2.

The strict readers (samdkit.evaluate.document, samdkit.data.result) describe their documents with these
kinds, so a foreign or hand-edited file is a UserError naming e.g. 'overall.metrics.auroc.value', never
a KeyError.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from samdkit.core.errors import UserError

# a kind: its name for the message and its test (bool is not a number; a number is finite)
Kind = tuple[str, Callable[[Any], bool]]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


NUMBER: Kind = ("a number", _number)
INT: Kind = ("an integer", _integer)
COUNT: Kind = ("an integer >= 0", lambda v: _integer(v) and v >= 0)
TEXT: Kind = ("a string", lambda v: isinstance(v, str))
BOOL: Kind = ("true or false", lambda v: isinstance(v, bool))
TABLE: Kind = ("an object", lambda v: isinstance(v, dict))
LIST: Kind = ("a list", lambda v: isinstance(v, list))
TEXTS: Kind = (
    "a list of strings",
    lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v),
)
ANY: Kind = ("any JSON value", lambda v: True)


def nullable(kind: Kind) -> Kind:
    return (f"{kind[0]} or null", lambda v: v is None or kind[1](v))


def one_of(*values: Any) -> Kind:
    return (" or ".join(repr(v) for v in values), lambda v: v in values)


def either(*kinds: Kind) -> Kind:
    return (" or ".join(k[0] for k in kinds), lambda v: any(k[1](v) for k in kinds))


class Fields:
    """Checks on one parsed document `what` read from `where`; every failure names the dotted field."""

    def __init__(self, where: str, what: str) -> None:
        self.where, self.what = where, what

    def fail(self, field: str, problem: str) -> UserError:
        return UserError(f"{self.where}: malformed {self.what}: '{field}' {problem}")

    def table(self, value: Any, path: str) -> dict[str, Any]:
        """`value` itself must be an object (a list item, say)."""
        if not isinstance(value, dict):
            raise self.fail(path, "must be an object")
        return value

    def field(self, table: dict[str, Any], key: str, kind: Kind, path: str = "") -> Any:
        """table[key], present and of `kind`."""
        name = f"{path}.{key}" if path else key
        if key not in table:
            raise self.fail(name, "is missing")
        if not kind[1](table[key]):
            raise self.fail(name, f"must be {kind[0]}")
        return table[key]

    def fields(self, table: dict[str, Any], spec: dict[str, Kind], path: str = "") -> None:
        for key, kind in spec.items():
            self.field(table, key, kind, path)

    def optional(self, table: dict[str, Any], spec: dict[str, Kind], path: str = "") -> None:
        """Keys a later writer added: checked when present."""
        for key, kind in spec.items():
            if key in table:
                self.field(table, key, kind, path)

    def objects(self, table: dict[str, Any], key: str, path: str = "") -> list[dict[str, Any]]:
        """table[key], a list whose every item is an object."""
        name = f"{path}.{key}" if path else key
        items = self.field(table, key, LIST, path)
        for i, item in enumerate(items):
            self.table(item, f"{name}[{i}]")
        return items


def check_schema(doc: Any, where: str, what: str, schemas: tuple[str, ...], again: str) -> Fields:
    """The opening checks of every evidence reader: an object, with a `schema` this samdkit reads.

    `again` is the command that writes the file anew (said when the schema is unknown).
    """
    if not isinstance(doc, dict):
        raise UserError(f"{where}: malformed {what}: the top level must be a JSON object")
    fields = Fields(where, what)
    if "schema" not in doc:
        raise fields.fail("schema", f"is missing (not a samdkit {what}?)")
    if doc["schema"] not in schemas:
        raise UserError(
            f"{where}: schema {str(doc['schema'])[:60]!r} is not one this samdkit reads "
            f"({', '.join(schemas)}): run {again} again"
        )
    return fields


def read_json(
    path: str | os.PathLike[str],
    name: str | None,
    validate: Callable[[Any, str], dict[str, Any]],
    missing: str,
) -> dict[str, Any]:
    """Parse (bounded) and validate an evidence file; `name` is how messages call it (default: the path)."""
    from samdkit.core import bounded

    path = Path(path)
    where = name or str(path)
    if not path.is_file():
        raise UserError(f"{where}: {missing}")
    return validate(bounded.read_json(path, where), where)


def write_json(
    path: str | os.PathLike[str],
    doc: dict[str, Any],
    validate: Callable[[Any, str], dict[str, Any]],
) -> Path:
    """Validate, then write atomically as stable JSON: a writer never leaves a file its reader refuses."""
    from samdkit.core import atomic

    validate(doc, str(path))
    return atomic.write_json(path, doc)
