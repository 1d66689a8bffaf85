"""The release manifest (release/manifest.json) and its detached CMS signature (manifest.json.p7s).

The manifest names every release file by its path relative to the project root (never the target of
a symbolic link: a linked file adds `link_target`), with its SHA-256 and size, and the SHA-256 of the
signer's certificate (`signer_sha256`), as stable JSON (sorted keys). The size lets `samdkit verify`
accept a PDF that later signers extended with incremental signatures: the manifested bytes must still
be an exact prefix of the file.
The signature is CMS SignedData (RFC 5652), detached, DER, made with pyHanko (same key as the PDFs);
`openssl cms -verify -binary -inform DER -in manifest.json.p7s -content manifest.json -noverify`
checks it independently.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path
from typing import Any

from samdkit import __version__
from samdkit.core import digests
from samdkit.core.errors import UserError
from samdkit.release.layout import is_sha256, load_json, path_problem

FORMAT = "samdkit-release-manifest/1"
SIGNATURE_SUFFIX = ".p7s"


def sha256_file(path: Path, limit: int | None = None) -> str:
    """SHA-256 of a file, or of its first `limit` bytes (a PDF's manifested revision)."""
    if limit is None:
        return digests.file_sha256(path)[0]
    with open(path, "rb") as handle:
        return digests.bytes_sha256(handle.read(limit))


def signature_path(manifest_path: Path) -> Path:
    return manifest_path.with_name(manifest_path.name + SIGNATURE_SUFFIX)


def _project_relative(root: Path, path: Path) -> str:
    """`path` relative to the root, as named (links not followed), or one clear line."""
    absolute = Path(os.path.normpath(path if path.is_absolute() else root / path))
    try:
        return absolute.relative_to(root).as_posix()
    except ValueError:
        raise UserError(f"{path}: release files must be inside the project root") from None


def file_entry(root: Path, rel: str) -> dict[str, Any]:
    """SHA-256 and size of a release file; a file reached through a symbolic link also records
    `link_target`, the resolved target relative to the root (verify fails if either changes)."""
    resolved = (root / rel).resolve()
    try:
        target = resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        raise UserError(f"{rel}: a symbolic link leads outside the project") from None
    if not resolved.is_file():
        raise UserError(f"{rel}: release file not found")
    entry: dict[str, Any] = {"sha256": sha256_file(resolved), "size": resolved.stat().st_size}
    if target != rel:
        entry["link_target"] = target
    return entry


def bytes_entry(data: bytes) -> dict[str, Any]:
    """The entry of a file whose bytes are in memory (a PDF just signed)."""
    return {"sha256": digests.bytes_sha256(data), "size": len(data)}


def build(
    root: Path,
    files: list[Path],
    created: dt.datetime | None = None,
    *,
    entries: dict[str, Any] | None = None,
    signer_sha256: str | None = None,
) -> dict[str, Any]:
    """The manifest object: `files` (absolute or root-relative, named by their project path, never
    by where a link points) plus precomputed `entries`, and the signer's certificate SHA-256."""
    root = root.resolve()
    table: dict[str, Any] = dict(entries or {})
    for path in files:
        rel = _project_relative(root, Path(path))
        table[rel] = file_entry(root, rel)
    if not table:
        raise UserError("no release files to put in the manifest")
    created = created or dt.datetime.now(dt.UTC)
    manifest = {
        "format": FORMAT,
        "generator": f"samdkit {__version__}",
        "created_utc": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "hash_algorithm": "sha256",
        "files": dict(sorted(table.items())),
        "commit": os.environ.get("GITHUB_SHA") or os.environ.get("CI_COMMIT_SHA") or None,
    }
    if signer_sha256:
        manifest["signer_sha256"] = signer_sha256
    return manifest


def dumps(manifest: dict[str, Any]) -> bytes:
    """Stable JSON bytes: what is signed is exactly what is written."""
    return (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def sign_detached(data: bytes, material, timestamper=None) -> bytes:
    """DER CMS SignedData over `data`, detached (content not included)."""
    import asyncio

    signer = material.pyhanko_signer()
    content_info = asyncio.run(
        signer.async_sign_general_data(data, "sha256", detached=True, timestamper=timestamper)
    )
    return content_info.dump()


def verify_detached(data: bytes, signature: bytes, validation_context) -> Any:
    """pyHanko's status of a detached CMS signature (intact / valid / trusted / timestamp)."""
    import asyncio

    from asn1crypto import cms
    from pyhanko.sign.validation.generic_cms import async_validate_detached_cms

    try:
        info = cms.ContentInfo.load(signature)
        signed_data = info["content"]
        if info["content_type"].native != "signed_data":
            raise ValueError("not SignedData")
        _ = signed_data.native  # force a full parse now, so garbage fails here
    except Exception:
        raise ValueError("not a CMS SignedData signature") from None
    return asyncio.run(
        async_validate_detached_cms(data, signed_data, signer_validation_context=validation_context)
    )


KEYS = {"format", "generator", "created_utc", "hash_algorithm", "files", "commit", "signer_sha256"}
REQUIRED = KEYS - {"signer_sha256"}  # manifests signed before signer_sha256 existed lack it
ENTRY_KEYS = {"sha256", "size", "link_target"}
CREATED = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def _fail(where: str, field: str, problem: str) -> UserError:
    return UserError(f"{where}: {field}: {problem}")


def _validate_entry(entry: Any, where: str, field: str) -> None:
    """One file entry: exactly sha256 (64 lowercase hex) and size (bytes), maybe link_target."""
    if not isinstance(entry, dict):
        raise _fail(where, field, "not an object with sha256 and size")
    for key in sorted(set(entry) - ENTRY_KEYS):
        raise _fail(where, f"{field}.{key}", "unknown field")
    for key in sorted({"sha256", "size"} - set(entry)):
        raise _fail(where, f"{field}.{key}", "missing")
    if not is_sha256(entry["sha256"]):
        raise _fail(where, f"{field}.sha256", "not a lowercase 64-hex SHA-256")
    size = entry["size"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _fail(where, f"{field}.size", "not a byte count (a non-negative integer)")
    if "link_target" in entry and path_problem(entry["link_target"]):
        raise _fail(where, f"{field}.link_target", path_problem(entry["link_target"]) or "")


def _validate_head(doc: dict[str, Any], where: str) -> None:
    """Every field except `files`: known, present, of its type."""
    for key in sorted(set(doc) - KEYS):
        raise _fail(where, key, "unknown field")
    for key in sorted(REQUIRED - set(doc)):
        raise _fail(where, key, "missing")
    for key in ("generator", "created_utc"):
        if not isinstance(doc[key], str):
            raise _fail(where, key, "not a string")
    if not CREATED.fullmatch(doc["created_utc"]):
        raise _fail(where, "created_utc", "not a UTC time like 2026-01-31T12:00:00Z")
    if doc["hash_algorithm"] != "sha256":
        raise _fail(where, "hash_algorithm", f"{json.dumps(doc['hash_algorithm'])} is not sha256")
    if doc["commit"] is not None and not isinstance(doc["commit"], str):
        raise _fail(where, "commit", "not a string or null")
    signer = doc.get("signer_sha256")
    if "signer_sha256" in doc and not is_sha256(signer):
        raise _fail(where, "signer_sha256", "not a lowercase 64-hex SHA-256")


def validate(doc: Any, where: str) -> dict[str, Any]:
    """The manifest if it is exactly a samdkit release manifest, else one line naming the field."""
    if not isinstance(doc, dict):
        raise UserError(f"{where}: not a samdkit release manifest (a {type(doc).__name__})")
    if "format" not in doc:
        raise _fail(where, "format", f"missing (not a samdkit release manifest, {FORMAT})")
    if doc["format"] != FORMAT:
        raise _fail(where, "format", f"{json.dumps(doc['format'])} is not {FORMAT}")
    _validate_head(doc, where)
    files = doc["files"]
    if not isinstance(files, dict) or not files:
        raise _fail(where, "files", "not a non-empty table of project path → entry")
    for rel, entry in files.items():
        field = f"files[{json.dumps(rel)}]"
        if path_problem(rel):
            raise _fail(where, field, f"path {path_problem(rel)}")
        _validate_entry(entry, where, field)
    return doc


def read_json(path: Path, where: str | None = None) -> Any:
    """The manifest file's JSON (strict: no duplicate keys), or one clear line."""
    where = where or str(path)
    if not path.is_file():
        raise UserError(f"{where}: manifest not found (run samdkit sign first)")
    return load_json(path.read_bytes(), where)


def read(path: Path, where: str | None = None) -> dict[str, Any]:
    """The one strict reader of release/manifest.json (verify, verify --rebuild)."""
    return validate(read_json(path, where), where or str(path))
