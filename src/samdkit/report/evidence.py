"""Collect the release evidence a report cites, once: each input file with its presence, digest and content.

samdkit's own evidence files are read through their one strict, versioned reader (evaluation:
samdkit.evaluate.document; data check: samdkit.data.result; lock: samdkit.lock.schema), so a foreign or
hand-edited file stops the command with one line naming the field (exit 2) instead of being guessed at.
Absent inputs are recorded as gaps (the report says so and its verdict is FAIL); unreadable inputs
(malformed JSON / YAML) are bad input too.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from samdkit.core import bounded, gitinfo
from samdkit.core.digests import sha256_hex
from samdkit.core.errors import UserError
from samdkit.core.project import shown_path

if TYPE_CHECKING:
    from samdkit.core.project import Project

# key, title, kind: every input file of the report, in the order the report lists them
INPUTS: tuple[tuple[str, str, str], ...] = (
    ("evaluation", "Evaluation result (samdkit evaluate)", "json"),
    ("data_check", "Data-quality result (samdkit check-data)", "json"),
    ("model_lock", "Model lock (samdkit lock)", "json"),
    ("emissions", "Energy and emissions of training (codecarbon)", "csv"),
    ("train_run", "Training run (MLflow)", "json"),
    ("dvc_lock", "Pipeline lock (DVC)", "yaml"),
    ("device", "Device description", "yaml"),
    ("requirements", "Requirements and acceptance criteria", "yaml"),
    ("risks", "Risk controls", "yaml"),
    ("model_card", "Model card source", "yaml"),
    ("params", "Parameters", "params"),
    ("predictions", "Test-set predictions", "bytes"),
    # a claim the team's check recorded, not re-run by the report: its digest is printed and sealed
    ("rebuild", "Rebuild check verdict (samdkit verify-lock --rebuild)", "json"),
)


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


def _strict(key: str, data: Any, rel: str) -> Any:
    """samdkit's own evidence through its one reader: a shape it does not know is bad input (exit 2)."""
    if key == "evaluation":
        from samdkit.evaluate import document

        return document.validate(data, rel)
    if key == "data_check":
        from samdkit.data import result

        return result.validate(data, rel)
    if key == "model_lock":
        from samdkit.lock import schema

        return schema.validate(data, rel)
    if key == "rebuild":
        from samdkit.lock import rebuild

        return rebuild.validate_result(data, rel)
    return data


def load(key: str, title: str, path: Path, root: Path, kind: str) -> Evidence:
    """kind: json | yaml | params | csv | bytes."""
    rel = shown_path(root, path)
    ev = Evidence(key=key, title=title, path=path, rel=rel)
    if not path.is_file():
        return ev
    ev.present = True
    ev.sha256 = sha256_hex(path)
    if kind == "json":
        ev.data = _strict(key, bounded.read_json(path, rel), rel)
    elif kind == "yaml":
        ev.data = bounded.read_yaml(path, rel)
    elif kind == "params":  # the one params.yaml reader (a mapping, or bad input)
        from samdkit.core.params import read_params

        ev.data = read_params(path=path)
    elif kind == "csv":
        text = bounded.read_text(path, bounded.MAX_JSON_BYTES, rel)
        try:
            ev.data = list(csv.DictReader(text.splitlines()))
        except csv.Error as exc:
            raise UserError(f"{rel}: unreadable CSV: {exc}") from None
    return ev


def load_all(project: Project) -> dict[str, Evidence]:
    """Every input file of INPUTS, read once."""
    return {
        key: load(key, title, project.path(key), project.root, kind) for key, title, kind in INPUTS
    }


def mapping(ev: Evidence) -> dict[str, Any]:
    """The parsed content when it is a mapping, else {} (a YAML input that is absent or a list)."""
    return ev.data if isinstance(ev.data, dict) else {}


def device_facts(ev: Evidence) -> dict[str, Any]:
    """compliance/device.yaml, the template's nesting under `device:` flattened."""
    device = dict(mapping(ev))
    if isinstance(
        device.get("device"), dict
    ):  # the template nests the device facts under `device:`
        device = {**device.pop("device"), **device}
    if "safety_class" not in device and "iec62304_safety_class" in device:
        device["safety_class"] = device["iec62304_safety_class"]
    return device


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
    done = gitinfo.run_git(root, *args)
    if done is None or done.returncode != 0:
        return None
    return done.stdout.strip()


def _previous_lock(root: Path, tag: str, lock_rel: str) -> dict[str, Any] | None:
    """The previous release's model.lock, through the lock's reader; None when unreadable."""
    from samdkit.lock import schema

    data = gitinfo.show_file(root, tag, lock_rel)
    if not data:
        return None
    try:
        return schema.parse(data.decode("utf-8"), f"{tag}:{lock_rel}")
    except (UserError, UnicodeDecodeError):
        return None


def git_info(root: Path, lock_rel: str) -> dict[str, Any]:
    """Commit, tag, dirty state and the previous release tag's model.lock (None without git)."""
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None:
        return {"available": False}
    tag = _git(root, "describe", "--tags", "--exact-match", "HEAD")
    previous_tag = _git(root, "describe", "--tags", "--abbrev=0", "HEAD^")
    return {
        "available": True,
        "commit": commit,
        "dirty": bool(gitinfo.is_dirty(root)),
        "tag": tag,
        "previous_tag": previous_tag,
        "previous_lock": _previous_lock(root, previous_tag, lock_rel) if previous_tag else None,
    }


def commit_time(root: Path) -> str | None:
    """UTC commit time of the project's HEAD (what the evidence describes), or None without git."""
    seconds = gitinfo.commit_time(root)
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def time_basis() -> str:
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return "SOURCE_DATE_EPOCH (fixed for a reproducible build; not the time of generation)"
    return "time of generation (clock of the machine that ran samdkit report)"


def find(data: Any, *names: str, depth: int = 2) -> Any:
    """The first value under any of `names` at the top level of a mapping, or nested up to `depth`.

    Only for the project's own hand-written YAML (device, risks, model card), never for samdkit's evidence.
    """
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
