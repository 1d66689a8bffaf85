"""Field checks for samdkit's own JSON evidence files: one line naming the dotted field, exit 2.

The strict readers (samdkit.evaluate.document, samdkit.data.result, samdkit.lock.schema) describe their
documents with these kinds, so a foreign or hand-edited file is a UserError naming e.g.
'overall.metrics.auroc.value', never a KeyError. Tables are closed (`Fields.exact`: an undeclared field is
refused); tables keyed by data by design (`Fields.keyed`) have their keys checked by shape. No message
quotes a value from the file, and files are strict UTF-8.
"""

from __future__ import annotations

import math
import os
import re
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


# a field name messages may show: a plain identifier (a key of any other shape is described, not quoted)
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")

# 64 lowercase hex digits: every SHA-256 samdkit writes (hashlib's hexdigest)
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")
SHA256: Kind = ("64 lowercase hex digits", lambda v: isinstance(v, str) and bool(_SHA256.match(v)))


def plain_name(key: Any) -> bool:
    return isinstance(key, str) and bool(_PLAIN_NAME.match(key))


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


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
        name = join(path, key)
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

    def only(self, table: dict[str, Any], known: Any, path: str = "") -> None:
        """Refuse a key `known` does not declare: a strict reader lets no undeclared field through.

        The message names the field when its name is a plain identifier; any other key is described,
        never quoted (a key is text from the file too).
        """
        for key in table:
            if key in known:
                continue
            if plain_name(key):
                raise self.fail(join(path, key), f"is not a field of the {self.what}")
            where = f"'{path}'" if path else "the top level"
            raise UserError(
                f"{self.where}: malformed {self.what}: {where} holds a field that is not part of "
                "the format (its name is not a plain identifier)"
            )

    def exact(
        self,
        table: dict[str, Any],
        spec: dict[str, Kind],
        path: str = "",
        later: dict[str, Kind] | None = None,
    ) -> dict[str, Any]:
        """A table of declared fields only: `spec` required, `later` checked when present."""
        self.fields(table, spec, path)
        self.optional(table, later or {}, path)
        self.only(table, {**spec, **(later or {})}, path)
        return table

    def keyed(
        self,
        table: Any,
        path: str,
        value: Kind,
        key: tuple[str, Callable[[str], bool]] = ("a plain name", plain_name),
    ) -> dict[str, Any]:
        """A table keyed by data (class, metric, dataset names): keys checked by shape, values by kind.

        Neither a key nor a value is quoted: the field is named by its table and position.
        """
        table = self.table(table, path)
        for i, (name, item) in enumerate(table.items()):
            if not key[1](name):
                raise self.fail(path, f"key #{i + 1} must be {key[0]}")
            if not value[1](item):
                field = join(path, name) if plain_name(name) else f"{path} (key #{i + 1})"
                raise self.fail(field, f"must be {value[0]}")
        return table

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
    if doc["schema"] not in schemas:  # never quoted: it is text from the file
        raise UserError(
            f"{where}: an unknown schema (this samdkit reads {', '.join(schemas)}): "
            f"run {again} again"
        )
    return fields


def read_json(
    path: str | os.PathLike[str],
    name: str | None,
    validate: Callable[[Any, str], dict[str, Any]],
    missing: str,
) -> dict[str, Any]:
    """Parse (bounded) and validate an evidence file; `name` is how messages call it (default: the path)."""
    path = Path(path)
    where = name or str(path)
    if not path.is_file():
        raise UserError(f"{where}: {missing}")
    return validate(parse_json(read_bytes(path, where), where), where)


def read_bytes(path: Path, where: str) -> bytes:
    """The file's bytes, refused before reading when larger than the JSON bound."""
    from samdkit.core import bounded

    try:
        if path.stat().st_size > bounded.MAX_JSON_BYTES:
            raise UserError(f"{where}: larger than {bounded.MAX_JSON_BYTES >> 20} MiB; refused")
        return path.read_bytes()
    except OSError as exc:
        raise UserError(f"{where}: unreadable ({exc.strerror or type(exc).__name__})") from None


def parse_json(data: bytes | str, where: str) -> Any:
    """Strict UTF-8 (no replacement characters: invalid bytes are refused), then bounded JSON."""
    from samdkit.core import bounded

    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UserError(
                f"{where}: not UTF-8 text (invalid byte at offset {exc.start})"
            ) from None
    return bounded.json_text(data, where)


def write_json(
    path: str | os.PathLike[str],
    doc: dict[str, Any],
    validate: Callable[[Any, str], dict[str, Any]],
) -> Path:
    """Validate, then write atomically as stable JSON: a writer never leaves a file its reader refuses."""
    from samdkit.core import atomic

    validate(doc, str(path))
    return atomic.write_json(path, doc)
