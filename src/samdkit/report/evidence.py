"""Collect the release evidence a report cites: each input file with its presence, digest and parsed content.

Absent inputs are recorded as gaps (the report says so and its verdict is FAIL); unreadable inputs (malformed
JSON / YAML) are bad input and stop the command with one line (exit 2).
"""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from samdkit.core import bounded
from samdkit.core.errors import UserError


def sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass
class Evidence:
    """One input file of the report."""

    key: str
    title: str
    path: Path
    rel: str
    present: bool = False
    sha256: str | None = None
    data: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "path": self.rel,
            "present": self.present,
            "sha256": self.sha256,
        }


def load(key: str, title: str, path: Path, root: Path, kind: str) -> Evidence:
    """kind: json | yaml | csv | bytes."""
    try:
        rel = str(path.resolve().relative_to(root))
    except ValueError:
        rel = str(path)
    ev = Evidence(key=key, title=title, path=path, rel=rel)
    if not path.is_file():
        return ev
    ev.present = True
    ev.sha256 = sha256_file(path)
    if kind == "json":
        ev.data = bounded.read_json(path, rel)
    elif kind == "yaml":
        ev.data = bounded.read_yaml(path, rel)
    elif kind == "csv":
        text = bounded.read_text(path, bounded.MAX_JSON_BYTES, rel)
        try:
            ev.data = list(csv.DictReader(text.splitlines()))
        except csv.Error as exc:
            raise UserError(f"{rel}: unreadable CSV: {exc}") from None
    return ev


@dataclass
class Gap:
    """A piece of evidence that is missing or failed; `blocking` gaps make the verdict FAIL."""

    section: str
    message: str
    blocking: bool = True


@dataclass
class Gaps:
    items: list[Gap] = field(default_factory=list)

    def add(self, section: str, message: str, blocking: bool = True) -> None:
        self.items.append(Gap(section, message, blocking))

    def for_section(self, section: str) -> list[Gap]:
        return [g for g in self.items if g.section == section]

    @property
    def blocking(self) -> list[Gap]:
        return [g for g in self.items if g.blocking]


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_info(root: Path, lock_rel: str) -> dict[str, Any]:
    """Commit, tag, dirty state and the previous release tag's model.lock (None without git)."""
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None:
        return {"available": False}
    status = _git(root, "status", "--porcelain", "--untracked-files=no") or ""
    tag = _git(root, "describe", "--tags", "--exact-match", "HEAD")
    previous_tag = _git(root, "describe", "--tags", "--abbrev=0", "HEAD^")
    previous_lock = None
    if previous_tag:
        text = _git(root, "show", f"{previous_tag}:{lock_rel}")
        if text:
            try:
                previous_lock = bounded.json_text(text, f"{previous_tag}:{lock_rel}")
            except UserError:
                previous_lock = None
    return {
        "available": True,
        "commit": commit,
        "dirty": bool(status.strip()),
        "tag": tag,
        "previous_tag": previous_tag,
        "previous_lock": previous_lock,
    }


def ci_info() -> dict[str, Any]:
    env = os.environ
    if env.get("GITHUB_RUN_ID"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        repo = env.get("GITHUB_REPOSITORY", "")
        return {
            "system": "GitHub Actions",
            "run_id": env["GITHUB_RUN_ID"],
            "attempt": env.get("GITHUB_RUN_ATTEMPT"),
            "url": f"{server}/{repo}/actions/runs/{env['GITHUB_RUN_ID']}" if repo else None,
            "ref": env.get("GITHUB_REF_NAME"),
        }
    if env.get("CI_PIPELINE_ID"):
        return {
            "system": "GitLab CI",
            "run_id": env["CI_PIPELINE_ID"],
            "job_id": env.get("CI_JOB_ID"),
            "url": env.get("CI_PIPELINE_URL"),
            "ref": env.get("CI_COMMIT_REF_NAME"),
        }
    return {"system": "local (no CI run)", "run_id": None, "url": None}


def timestamp() -> datetime:
    """SOURCE_DATE_EPOCH when set (reproducible builds), else now; UTC, whole seconds."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), tz=UTC)
        except ValueError:
            raise UserError(f"SOURCE_DATE_EPOCH must be an integer, got {epoch!r}") from None
    return datetime.now(tz=UTC).replace(microsecond=0)


def find(data: Any, *names: str, depth: int = 2) -> Any:
    """The first value under any of `names` at the top level of a mapping, or nested up to `depth`."""
    if not isinstance(data, dict):
        return None
    for name in names:
        if name in data and data[name] not in (None, ""):
            return data[name]
    if depth > 0:
        for value in data.values():
            found = find(value, *names, depth=depth - 1)
            if found not in (None, ""):
                return found
    return None


def scalars(data: Any, prefix: str = "", limit: int = 60) -> list[tuple[str, str]]:
    """Flatten a JSON document into (dotted key, value) rows for 'show what is there' tables."""
    rows: list[tuple[str, str]] = []

    def walk(value: Any, key: str) -> None:
        if len(rows) >= limit:
            return
        if isinstance(value, dict):
            for k in sorted(value, key=str):
                walk(value[k], f"{key}.{k}" if key else str(k))
        elif isinstance(value, list):
            if all(not isinstance(v, dict | list) for v in value) and len(value) <= 8:
                rows.append((key, ", ".join(str(v) for v in value)))
            else:
                rows.append((key, f"[{len(value)} entries]"))
        else:
            rows.append((key, str(value)))

    walk(data, prefix)
    return rows
