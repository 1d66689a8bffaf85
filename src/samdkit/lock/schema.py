"""The model.lock file format: versioned, stable JSON, read back with one clear line on any defect.

The schema is documented in docs/model-lock.md; bump SCHEMA_VERSION on any incompatible change and keep
reading the versions listed in READABLE_VERSIONS.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from samdkit.core import atomic
from samdkit.core.errors import UserError

SCHEMA_VERSION = 1
READABLE_VERSIONS = (1,)

# key -> expected JSON type(s); nested tables are checked below.
_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "schema_version": int,
    "created_at": str,
    "samdkit_version": str,
    "artifact": dict,
    "determinism": dict,
    "data": dict,
    "threshold": (int, float, type(None)),
    "params": dict,
    "git": dict,
    "environment": dict,
    "mlflow": dict,
}
_ARTIFACT: dict[str, type | tuple[type, ...]] = {
    "path": str,
    "algorithm": str,
    "root_digest": str,
    "size": int,
    "files": list,
}
_DETERMINISM: dict[str, type | tuple[type, ...]] = {
    "golden": dict,
    "runs": int,
    "tolerance": (int, float),
    "output_sha256": str,
    "output_shape": list,
    "row_ids": list,
    "predictions": list,
}


def dumps(lock: dict[str, Any]) -> str:
    """Stable JSON (atomic.dumps_json), floats written round-trip exact; NaN or infinity refused."""
    return atomic.dumps_json(lock, allow_nan=False)


def write(path: str | Path, lock: dict[str, Any]) -> Path:
    return atomic.write_text(path, dumps(lock))


def _check_table(where: str, table: dict[str, Any], spec: dict[str, Any], name: str) -> None:
    for key, kind in spec.items():
        if key not in table:
            raise UserError(f"{where}: malformed lock: '{name}{key}' is missing")
        value = table[key]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise UserError(f"{where}: malformed lock: '{name}{key}' has the wrong type")
        if not isinstance(value, kind):
            raise UserError(f"{where}: malformed lock: '{name}{key}' has the wrong type")


def validate(lock: Any, where: str) -> dict[str, Any]:
    """Check the structure of a parsed lock; raise UserError naming the first defect."""
    if not isinstance(lock, dict):
        raise UserError(f"{where}: malformed lock: the top level must be a JSON object")
    version = lock.get("schema_version")
    if "schema_version" not in lock:
        raise UserError(f"{where}: malformed lock: 'schema_version' is missing")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        readable = ", ".join(str(v) for v in READABLE_VERSIONS)
        raise UserError(
            f"{where}: unknown lock format version {version!r} (this samdkit reads {readable}; "
            "upgrade samdkit or re-run 'samdkit lock')"
        )
    _check_table(where, lock, _REQUIRED, "")
    _check_table(where, lock["artifact"], _ARTIFACT, "artifact.")
    _check_table(where, lock["determinism"], _DETERMINISM, "determinism.")
    for i, entry in enumerate(lock["artifact"]["files"]):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("path"), str)
            and isinstance(entry.get("sha256"), str)
            and isinstance(entry.get("size"), int)
        ):
            raise UserError(
                f"{where}: malformed lock: artifact.files[{i}] needs path, sha256, size"
            )
    det = lock["determinism"]
    if det["runs"] < 2:
        raise UserError(f"{where}: malformed lock: determinism.runs must be at least 2")
    if not math.isfinite(det["tolerance"]) or det["tolerance"] < 0:
        raise UserError(f"{where}: malformed lock: determinism.tolerance must be a number >= 0")
    if len(det["row_ids"]) != len(det["predictions"]):
        raise UserError(
            f"{where}: malformed lock: determinism.row_ids and predictions differ in length"
        )
    return lock


def parse(text: str, where: str) -> dict[str, Any]:
    """Parse and validate lock text (from a file or `git show`)."""
    from samdkit.core import bounded

    if len(text) > bounded.MAX_JSON_BYTES:
        raise UserError(f"{where}: lock larger than {bounded.MAX_JSON_BYTES >> 20} MiB; refused")
    try:
        lock = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{where}: malformed lock (not JSON, truncated?): {exc.msg} at line {exc.lineno}"
        ) from None
    except RecursionError:
        raise UserError(f"{where}: malformed lock: nested too deeply") from None
    return validate(lock, where)


def read(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: lock file not found (run 'samdkit lock' first)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: malformed lock: not UTF-8 text") from None
    return parse(text, str(path))
