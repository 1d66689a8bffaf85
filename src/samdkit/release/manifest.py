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
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from samdkit import __version__
from samdkit.core.errors import UserError

FORMAT = "samdkit-release-manifest/1"
SIGNATURE_SUFFIX = ".p7s"


def sha256_file(path: Path, limit: int | None = None) -> str:
    """SHA-256 of a file (or of its first `limit` bytes), streamed."""
    digest = hashlib.sha256()
    remaining = limit
    with open(path, "rb") as handle:
        while True:
            size = 1 << 20 if remaining is None else min(1 << 20, remaining)
            if size == 0:
                break
            chunk = handle.read(size)
            if not chunk:
                break
            digest.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)
    return digest.hexdigest()


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
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


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


def load(path: Path) -> dict[str, Any]:
    """Read a manifest, or one clear line."""
    if not path.is_file():
        raise UserError(f"{path}: manifest not found (run samdkit sign first)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not a JSON manifest: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise UserError(f"{path}: not a samdkit release manifest (no 'files' table)")
    return manifest
