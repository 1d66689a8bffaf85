"""The evidence-digests attachment of the report and the model card: its one writer and one reader.

Every digest a PDF prints for a file is also attached to it as `evidence-digests.json`, so
`samdkit verify` can compare the PDF's claims with the release files without reading text back:

    {"schema": "samdkit/evidence-digests/v1", "files": {"<project path>": "<sha256 hex>", ...}}

`files` maps a project-relative POSIX path (no `..`, no leading `/`, no backslash) to the
lowercase 64-hex SHA-256 the PDF prints for it. Nothing else is allowed: an unknown schema, an
extra key, a nested object, a duplicate path or a malformed digest is refused with the field named.

Readable versions: v1, and the legacy list written by samdkit 0.1.0 before the schema existed
(`[{"subject", "path", "sha256"}, ...]`, exactly those keys; a null path is the model root digest,
not a file, and is not returned). Both are PDFs already signed, which cannot be re-rendered without
re-signing; the legacy shape is read as strictly as v1 (docs/signing.md).
"""

from __future__ import annotations

from typing import Any

from samdkit.core.errors import UserError
from samdkit.core.fields import plain_name
from samdkit.release.layout import is_sha256, load_json, path_problem

ATTACHMENT = "evidence-digests.json"
SCHEMA = "samdkit/evidence-digests/v1"
LEGACY = "legacy list (samdkit 0.1.0)"
_LEGACY_KEYS = {"subject", "path", "sha256"}


def _digest_problem(value: Any) -> str | None:
    return None if is_sha256(value) else "not a lowercase 64-hex SHA-256"


def _table(digests: Any, where: str, field: str = "files") -> dict[str, str]:
    """A checked path → sha256 table; one line naming the first bad entry."""
    if not isinstance(digests, dict):
        raise UserError(f"{where}: {field}: not a table of path → sha256")
    for i, (rel, digest) in enumerate(digests.items()):
        why = path_problem(rel) or _digest_problem(digest)
        if why:  # named by position: the path is text from the file, never quoted
            raise UserError(f"{where}: {field} (entry #{i + 1}): {why}")
    return dict(sorted(digests.items()))


def dumps(digests: dict[str, str]) -> bytes:
    """The attachment's bytes (stable JSON) for exactly the file digests the PDF prints."""
    from samdkit.core import atomic

    table = _table(digests, ATTACHMENT)
    return atomic.dumps_json({"schema": SCHEMA, "files": table}).encode("utf-8")


def _legacy(doc: list[Any], where: str) -> dict[str, str]:
    """The pre-schema list, strictly: objects with exactly subject, path (or null), sha256."""
    table: dict[str, str] = {}
    for index, item in enumerate(doc):
        field = f"[{index}]"
        if not isinstance(item, dict) or set(item) != _LEGACY_KEYS:
            raise UserError(f"{where}: {field}: not an object with exactly subject, path, sha256")
        if not isinstance(item["subject"], str):
            raise UserError(f"{where}: {field}.subject: not a string")
        if _digest_problem(item["sha256"]):
            raise UserError(f"{where}: {field}.sha256: {_digest_problem(item['sha256'])}")
        if item["path"] is None:  # the model root digest: not a file
            continue
        if path_problem(item["path"]):
            raise UserError(f"{where}: {field}.path: {path_problem(item['path'])}")
        if table.setdefault(item["path"], item["sha256"]) != item["sha256"]:
            raise UserError(f"{where}: {field}.path: listed twice with different digests")
    return table


def version(doc: Any) -> str | None:
    """The readable version a parsed document claims (None: not an evidence-digests document)."""
    if isinstance(doc, list):
        return LEGACY
    if isinstance(doc, dict) and doc.get("schema") == SCHEMA:
        return SCHEMA
    return None


def validate(doc: Any, where: str) -> dict[str, str]:
    """path → sha256 of a parsed document, or one line naming the field that is wrong."""
    if isinstance(doc, list):
        return _legacy(doc, where)
    if not isinstance(doc, dict):
        raise UserError(f"{where}: not an evidence-digests document (a {type(doc).__name__})")
    if "schema" not in doc:
        raise UserError(f"{where}: schema: missing (expected {SCHEMA})")
    if doc["schema"] != SCHEMA:  # never quoted: text from the file
        raise UserError(f"{where}: schema: not {SCHEMA} (an unknown schema)")
    extra = [key for key in doc if key not in ("schema", "files")]
    if extra:  # a plain identifier is a field name; any other key is described, not quoted
        name = extra[0] if plain_name(extra[0]) else "a field whose name is not a plain identifier"
        raise UserError(f"{where}: {name}: unknown field")
    if "files" not in doc:
        raise UserError(f"{where}: files: missing")
    return _table(doc["files"], where)


def parse(data: bytes, where: str) -> dict[str, str]:
    """The attachment's path → sha256 table; UserError naming the field when it is not exactly a
    readable evidence-digests document."""
    return validate(load_json(data, where), where)


__all__ = ["ATTACHMENT", "SCHEMA", "dumps", "parse", "validate", "version"]
