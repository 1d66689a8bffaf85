"""The model.lock file format: versioned, stable JSON, read back with one clear line on any defect.

The schema is documented in docs/model-lock.md; bump SCHEMA_VERSION on any incompatible change and keep
reading the versions listed in READABLE_VERSIONS.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from samdkit.core import atomic
from samdkit.core.errors import UserError
from samdkit.core.fields import (
    ANY,
    BOOL,
    COUNT,
    INT,
    LIST,
    NUMBER,
    SHA256,
    TABLE,
    TEXT,
    TEXTS,
    Fields,
    Kind,
    nullable,
    read_bytes,
)

SCHEMA_VERSION = 1
READABLE_VERSIONS = (1,)

_DIGESTISH = re.compile(r"[0-9A-Za-z.-]{1,128}\Z")  # DVC's md5 (or a remote's etag / checksum)
_COMMIT = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?\Z")  # git's SHA-1 or SHA-256 object name
DVC_DIGEST: Kind = ("a hex digest", lambda v: isinstance(v, str) and bool(_DIGESTISH.match(v)))
COMMIT: Kind = (
    "a git commit (40 or 64 lowercase hex digits)",
    lambda v: isinstance(v, str) and bool(_COMMIT.match(v)),
)
_ID: Kind = ("a string, an integer or null", lambda v: v is None or TEXT[1](v) or INT[1](v))
_ROW_ID: Kind = ("a string or an integer", lambda v: TEXT[1](v) or INT[1](v))
_NESTED: Kind = (
    "numbers or lists of numbers",
    lambda v: NUMBER[1](v) or (isinstance(v, list) and all(_NESTED[1](x) for x in v)),
)
_ANY_KEY = ("a string", lambda k: isinstance(k, str))  # params.yaml keys, package and metric names

# every field of the lock, table by table (docs/model-lock.md); `_LATER`: added after the first release
_REQUIRED: dict[str, Kind] = {
    "schema_version": INT,
    "created_at": TEXT,
    "samdkit_version": TEXT,
    "artifact": TABLE,
    "determinism": TABLE,
    "data": TABLE,
    "threshold": nullable(NUMBER),
    "params": TABLE,
    "git": TABLE,
    "environment": TABLE,
    "mlflow": TABLE,
}
_LATER: dict[str, Kind] = {"metrics": nullable(TABLE), "build": TABLE}
_ARTIFACT: dict[str, Kind] = {
    "path": TEXT,
    "algorithm": TEXT,
    "root_digest": SHA256,
    "size": COUNT,
    "files": LIST,
}
_FILE: dict[str, Kind] = {"path": TEXT, "sha256": SHA256, "size": COUNT}
_DETERMINISM: dict[str, Kind] = {
    "golden": TABLE,
    "runs": INT,
    "tolerance": NUMBER,
    "output_sha256": SHA256,
    "output_shape": LIST,
    "row_ids": LIST,
    "predictions": LIST,
}
_DETERMINISM_LATER: dict[str, Kind] = {"output_dtype": TEXT}
_GOLDEN: dict[str, Kind] = {"path": TEXT, "sha256": SHA256, "rows": COUNT}
_GOLDEN_LATER: dict[str, Kind] = {"size": COUNT, "id_column": nullable(TEXT), "features": TEXTS}
_DATA: dict[str, Kind] = {"stage": TEXT, "outs": LIST}
_OUT: dict[str, Kind] = {"path": TEXT, "md5": nullable(DVC_DIGEST)}
_GIT: dict[str, Kind] = {"commit": nullable(COMMIT), "dirty": nullable(BOOL)}
_ENVIRONMENT_LATER: dict[str, Kind] = {"implementation": TEXT, "platform": TEXT, "packages": TABLE}
_MLFLOW: dict[str, Kind] = dict.fromkeys(
    ("run_id", "experiment_id", "model_name", "model_version", "model_uri"), _ID
)


def dumps(lock: dict[str, Any]) -> str:
    """Stable JSON (atomic.dumps_json), floats written round-trip exact; NaN or infinity refused."""
    return atomic.dumps_json(lock, allow_nan=False)


def write(path: str | Path, lock: dict[str, Any]) -> Path:
    """Write a lock this samdkit's own strict reader accepts: the text is parsed back with the reader's
    rules (`parse`) before the atomic write, so a defect stops here and the previous lock stays."""
    text = dumps(lock)
    parse(text, str(path))
    return atomic.write_text(path, text)


def _artifact(f: Fields, lock: dict[str, Any]) -> None:
    artifact = f.exact(lock["artifact"], _ARTIFACT, "artifact")
    for i, entry in enumerate(f.objects(artifact, "files", "artifact")):
        f.exact(entry, _FILE, f"artifact.files[{i}]")


def _determinism(f: Fields, lock: dict[str, Any]) -> None:
    det = f.exact(lock["determinism"], _DETERMINISM, "determinism", _DETERMINISM_LATER)
    f.exact(
        det["golden"], {}, "determinism.golden", {**_GOLDEN, **_GOLDEN_LATER}
    )  # checked when present
    if not all(COUNT[1](n) for n in det["output_shape"]):
        raise f.fail("determinism.output_shape", "must be a list of integers >= 0")
    if not all(_ROW_ID[1](r) for r in det["row_ids"]):
        raise f.fail("determinism.row_ids", "must be a list of strings or integers")
    if not all(_NESTED[1](v) for v in det["predictions"]):
        raise f.fail("determinism.predictions", "must hold numbers (or lists of numbers)")
    if det["runs"] < 2:
        raise f.fail("determinism.runs", "must be at least 2")
    if det["tolerance"] < 0:
        raise f.fail("determinism.tolerance", "must be a number >= 0")
    if len(det["row_ids"]) != len(det["predictions"]):
        raise f.fail("determinism.row_ids", "and predictions differ in length")


def _provenance(f: Fields, lock: dict[str, Any]) -> None:
    """data, git, environment, mlflow, params, metrics, build: each table strict."""
    # the tables' own fields were never required (a lock outside git or DVC): checked when present
    f.exact(lock["data"], {}, "data", {**_DATA, "source": TEXT})
    for i, out in enumerate(
        f.objects(lock["data"], "outs", "data") if "outs" in lock["data"] else []
    ):
        f.exact(out, _OUT, f"data.outs[{i}]")
    f.exact(lock["git"], {}, "git", _GIT)
    env = f.exact(lock["environment"], {}, "environment", {"python": TEXT, **_ENVIRONMENT_LATER})
    if "packages" in env:  # package name -> installed version (null: not installed)
        f.keyed(env["packages"], "environment.packages", nullable(TEXT), _ANY_KEY)
    f.exact(lock["mlflow"], {}, "mlflow", _MLFLOW)
    f.keyed(lock["params"], "params", ANY, _ANY_KEY)  # params.yaml as written: data by design
    if lock.get("metrics") is not None:  # dotted metric path -> number
        f.keyed(lock["metrics"], "metrics", NUMBER, _ANY_KEY)
    if "build" in lock:
        f.exact(lock["build"], {}, "build", {"source_date_epoch": nullable(INT)})


def validate(lock: Any, where: str) -> dict[str, Any]:
    """Check the structure of a parsed lock, every field of every table; raise UserError naming the first defect."""
    if not isinstance(lock, dict):
        raise UserError(f"{where}: malformed lock: the top level must be a JSON object")
    if "schema_version" not in lock:
        raise UserError(f"{where}: malformed lock: 'schema_version' is missing")
    version = lock["schema_version"]
    if version not in READABLE_VERSIONS or isinstance(
        version, bool
    ):  # never quoted: text from the file
        readable = ", ".join(str(v) for v in READABLE_VERSIONS)
        raise UserError(
            f"{where}: an unknown lock format version (this samdkit reads {readable}; "
            "upgrade samdkit or re-run 'samdkit lock')"
        )
    f = Fields(where, "lock")
    f.exact(lock, _REQUIRED, "", _LATER)
    _artifact(f, lock)
    _determinism(f, lock)
    _provenance(f, lock)
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
    data = read_bytes(path, str(path))
    try:
        text = data.decode("utf-8")  # strict: invalid bytes are refused, never replaced
    except UnicodeDecodeError:
        raise UserError(f"{path}: malformed lock: not UTF-8 text") from None
    return parse(text, str(path))
