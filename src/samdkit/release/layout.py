"""Which files make a release, who is meant to sign it, and how a release names its files.

- the PDFs `samdkit sign` signs (`report_pdf`, `model_card_pdf` of the project's paths table, or
  `[tool.samdkit.sign] pdfs`) and the files the manifest seals (model folder, locks, evidence, SBOM,
  the PDFs, and the rebuild verdict reports/rebuild.json when present; `[tool.samdkit.sign] files`
  / `extra_files`), each checked inside the project;
- the planned signers the report prints in section 15 and sign takes its default meaning from;
- the rules every release reader applies to what a release names: a project path is relative POSIX
  without `..`; a digest is 64 lowercase hex; JSON evidence has no duplicate keys.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import Any

from samdkit.core.errors import UserError
from samdkit.core.fields import plain_name
from samdkit.core.project import Project

MEANINGS = ("Authorship", "Approval", "Review", "Responsibility")
DEFAULT_SIGNERS = ({"role": "Release author (CI release identity)", "meaning": "Authorship"},)
# what every page of the report and the model card says about itself, before and after signing
RECORD_STATUS = (
    "Electronic record: valid only with the signatures shown on the last page; "
    "check with samdkit verify"
)
MAX_JSON_BYTES = 16 << 20  # release JSON (manifest, digests) is small; anything larger is not ours
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# ---------------------------------------------------------------- how a release names things


def path_problem(rel: Any) -> str | None:
    """Why `rel` is not a project-relative POSIX path (None when it is one)."""
    if not isinstance(rel, str) or not rel:
        return "not a non-empty string"
    if _CONTROL.search(rel):
        return "holds a control character"
    if rel.startswith("/") or "\\" in rel or re.match(r"[A-Za-z]:(/|$)", rel):
        return "not a relative POSIX path"
    if any(part in ("", ".", "..") for part in rel.split("/")):
        return "has an empty, '.' or '..' component"
    return None


def is_sha256(value: Any) -> bool:
    """A SHA-256 as samdkit writes it: 64 lowercase hex digits."""
    return isinstance(value, str) and SHA256_HEX.fullmatch(value) is not None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for i, (key, value) in enumerate(pairs):
        if key in seen:  # a plain identifier is a field name; any other key is text from the file
            name = json.dumps(key) if plain_name(key) else f"#{i + 1} of an object"
            raise ValueError(f"duplicate key {name}")
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json(data: bytes, where: str) -> Any:
    """JSON from bytes, refusing what Python's json module lets through silently (a duplicate key
    keeps only its last value; NaN and Infinity are not JSON); one line naming `where`."""
    if len(data) > MAX_JSON_BYTES:
        raise UserError(f"{where}: larger than {MAX_JSON_BYTES >> 20} MiB")
    try:
        text = data.decode("utf-8")
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{where}: not JSON ({exc})") from None
    except RecursionError:  # "[[[[…" a few thousand deep: not ours, and not an internal error
        raise UserError(f"{where}: not JSON samdkit wrote (nested too deeply)") from None


# ---------------------------------------------------------------- planned signers


def meaning_of(value: str) -> str:
    for meaning in MEANINGS:
        if value.strip().lower() == meaning.lower():
            return meaning
    raise argparse.ArgumentTypeError(f"choose from {', '.join(m.lower() for m in MEANINGS)}")


def settings(project: Project) -> dict[str, Any]:
    return project.section("sign")


def planned_signers(project: Project, device: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """Who is meant to sign, in stamp order: `[tool.samdkit.sign] signers = [{role, meaning}]`,
    else compliance/device.yaml `approvals`, else one Authorship signature by the CI identity.

    The report's section 15 prints this list and the stamps on the last page fulfil it; sign takes
    the meaning of the next planned signature when --meaning is not given."""
    raw = settings(project).get("signers")
    where = "[tool.samdkit.sign] signers"
    if raw is None:
        if device is None:
            device = _device(project)
        raw, where = device.get("approvals"), "compliance/device.yaml approvals"
        if not raw:
            return [dict(s) for s in DEFAULT_SIGNERS]
    if not isinstance(raw, list) or not raw:
        raise UserError(f"{where}: a non-empty list of {{role, meaning}} tables")
    planned = []
    for item in raw:
        if not isinstance(item, dict) or not item.get("role") or not item.get("meaning"):
            raise UserError(f"{where}: every entry needs a role and a meaning")
        try:
            meaning = meaning_of(str(item["meaning"]))
        except argparse.ArgumentTypeError as exc:
            raise UserError(f"{where}: meaning '{item['meaning']}': {exc}") from None
        entry = {"role": str(item["role"]), "meaning": meaning}
        if item.get("name"):
            entry["name"] = str(item["name"])
        planned.append(entry)
    return planned


def _device(project: Project) -> dict[str, Any]:
    from samdkit.core.project import read_yaml

    try:
        data = read_yaml(project.path("device"))
    except Exception:  # sign does not judge device.yaml; the report does
        return {}
    return data if isinstance(data, dict) else {}


# ---------------------------------------------------------------- release files


def release_pdfs(project: Project) -> list[Path]:
    configured = settings(project).get("pdfs")
    if configured:
        return [project.root / p for p in configured]
    return [project.path("report_pdf"), project.path("model_card_pdf")]


def project_path(project: Project, path: Path) -> str:
    """The POSIX path of `path` relative to the project root, without following links."""
    rel = project.rel(path, resolve=False)
    if rel is None:
        raise UserError(f"{path}: release files must be inside the project")
    return rel


def _inside(project: Project, rel: str) -> Path:
    """The resolved target of a project path; one line if a symbolic link leads outside."""
    resolved = (project.root / rel).resolve()
    try:
        resolved.relative_to(project.root)
    except ValueError:
        raise UserError(
            f"{rel}: a symbolic link leads outside the project; copy the file into the project "
            "(or into its DVC cache) before signing"
        ) from None
    return resolved


def _walk(project: Project, folder: str) -> list[str]:
    """Project paths of every file under a release folder, following links that stay inside."""
    found: list[str] = []
    seen: set[Path] = set()
    for current, dirs, files in os.walk(project.root / folder, followlinks=True):
        rel_dir = project_path(project, Path(current))
        real = _inside(project, rel_dir)
        if real in seen:  # a link loop
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        found += [f"{rel_dir}/{name}" for name in sorted(files)]
    return found


def release_files(project: Project, pdfs: list[Path]) -> list[str]:
    """Project paths of every file of a release (model folder, locks, evaluation, data check, SBOM,
    PDFs), each checked: present, inside the project, no symbolic link leaving it."""
    conf = settings(project)
    if conf.get("files"):
        named = [project.root / p for p in conf["files"]]
    else:
        named = [
            project.path("model"),
            project.path("model_lock"),
            project.path("dvc_lock"),
            project.path("evaluation"),
            project.path("data_check"),
            project.path("sbom"),
        ]
    named += [project.root / p for p in conf.get("extra_files", [])]
    named += pdfs
    # the rebuild verdict the report states is a claim in a plain file: sealed when present, so an
    # edit after signing fails `samdkit verify` (it is optional: a project may not have run it)
    rebuild = project.path("rebuild")
    if rebuild.is_file() or rebuild.is_symlink():
        named.append(rebuild)
    files: list[str] = []
    for path in named:
        rel = project_path(project, path)
        target = _inside(project, rel)
        if target.is_dir():
            found = _walk(project, rel)
            if not found:
                raise UserError(f"{rel}: release folder is empty")
            files += found
        elif target.is_file():
            files.append(rel)
        else:
            raise UserError(f"{rel}: release file not found")
    for rel in files:
        _inside(project, rel)
    return list(dict.fromkeys(files))


__all__ = [
    "MEANINGS",
    "RECORD_STATUS",
    "is_sha256",
    "load_json",
    "meaning_of",
    "path_problem",
    "planned_signers",
    "project_path",
    "release_files",
    "release_pdfs",
    "settings",
]
