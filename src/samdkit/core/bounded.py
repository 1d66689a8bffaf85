"""Bounded reading of YAML and JSON inputs: size, nesting and alias expansion are capped.

A 2 KB YAML file of nested aliases ("billion laughs") parses into a few shared nodes, but everything that
walks it afterwards (the report's tables, its JSON) sees 10^9 of them and runs out of memory. Every samdkit
input goes through here: a file over its size cap, nested deeper than MAX_DEPTH, with more than MAX_ALIASES
aliases or more than MAX_NODES nodes once aliases are expanded is refused with one line (UserError, exit 2)
before anything else reads it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from samdkit.core.errors import UserError

MAX_YAML_BYTES = 4 * 1024 * 1024
MAX_JSON_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64
MAX_ALIASES = 1000
MAX_NODES = 200_000


class BoundedSafeLoader(yaml.SafeLoader):
    """yaml.SafeLoader that counts aliases and nesting while it composes, and sizes the expanded tree."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _Refused(f"more than {MAX_ALIASES} aliases")
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self) -> Any:
        node = super().get_single_node()
        if node is not None and self._aliases:
            _expanded_size(node)
        return node


class _Refused(yaml.YAMLError):
    pass


def _expanded_size(root: yaml.Node) -> int:
    """Nodes of the tree once every alias is expanded (memoised per node: linear in the file)."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        sizes[key] = 1  # a cycle counts once (SafeLoader builds recursive structures)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        if total > MAX_NODES:
            raise _Refused(f"more than {MAX_NODES} values once its aliases are expanded")
        sizes[key] = total
        return total

    return size(root)


def _check_size(data: str | bytes, name: str, limit: int, kind: str) -> None:
    if len(data) > limit:
        raise UserError(f"{name}: {kind} input larger than {limit // (1024 * 1024)} MiB; refused")


def yaml_text(text: str, name: str, loader: type[yaml.SafeLoader] = BoundedSafeLoader) -> Any:
    """Parse YAML text from `name` (a path or label for the message) within the bounds."""
    _check_size(text, name, MAX_YAML_BYTES, "YAML")
    try:
        return yaml.load(text, Loader=loader)
    except _Refused as exc:
        raise UserError(f"{name}: YAML refused: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{name}: malformed YAML{where}: {problem}") from None
    except RecursionError:
        raise UserError(f"{name}: YAML refused: nested too deeply") from None


def json_text(text: str | bytes, name: str) -> Any:
    """Parse JSON text from `name` within the bounds (size; nesting through the parser's recursion)."""
    _check_size(text, name, MAX_JSON_BYTES, "JSON")
    try:
        return json.loads(text)
    except RecursionError:
        raise UserError(f"{name}: JSON refused: nested too deeply") from None
    except ValueError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"{name}: unreadable JSON: {first}") from None


def read_text(path: Path, limit: int, name: str | None = None, errors: str = "replace") -> str:
    """A file's text, refusing it before reading when it is larger than `limit` bytes.

    errors="strict": invalid UTF-8 is bad input (JSON evidence), never read with replacement characters.
    """
    name = name or str(path)
    try:
        if path.stat().st_size > limit:
            raise UserError(f"{name}: larger than {limit // (1024 * 1024)} MiB; refused")
        return path.read_text(encoding="utf-8", errors=errors)
    except UnicodeDecodeError as exc:
        raise UserError(f"{name}: not UTF-8 text (invalid byte at offset {exc.start})") from None
    except OSError as exc:
        raise UserError(f"{name}: unreadable ({exc.strerror or type(exc).__name__})") from None


def read_yaml(path: Path, name: str | None = None) -> Any:
    return yaml_text(read_text(path, MAX_YAML_BYTES, name), name or str(path))


def read_json(path: Path, name: str | None = None) -> Any:
    """JSON is UTF-8 (RFC 8259): invalid bytes are refused, not replaced."""
    return json_text(read_text(path, MAX_JSON_BYTES, name, errors="strict"), name or str(path))
