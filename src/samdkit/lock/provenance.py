"""Where a model came from: data version (dvc.lock), git commit, environment, training run, params, metrics.

Each reader returns plain JSON-ready values for model.lock; a missing optional source gives None, a
malformed required one raises UserError with one line.
"""

from __future__ import annotations

import json
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from samdkit.core import gitinfo
from samdkit.core.errors import UserError
from samdkit.core.params import decision_threshold, threshold_value
from samdkit.core.project import read_yaml

# Packages whose versions a lock records (plus the model's own requirements.txt).
KEY_PACKAGES = ("samdkit", "mlflow", "numpy", "pandas", "scikit-learn", "skops", "dvc")
METRICS_LIMIT = 500


def data_version(dvc_lock: Path, stage: str) -> dict[str, Any]:
    """The outs (path + md5) of one stage in dvc.lock: the version of the data the model was trained on."""
    doc = read_yaml(dvc_lock) if dvc_lock.is_file() else None
    if doc is None:
        raise UserError(
            f"{dvc_lock}: not found or empty; run 'dvc repro' so the data version is recorded"
        )
    stages = doc.get("stages") if isinstance(doc, dict) else None
    entry = stages.get(stage) if isinstance(stages, dict) else None
    if not isinstance(entry, dict):
        raise UserError(
            f"{dvc_lock}: no stage '{stage}' (run 'dvc repro', or set data_stage in "
            "[tool.samdkit.lock])"
        )
    outs = []
    for out in entry.get("outs") or []:
        if not isinstance(out, dict) or "path" not in out:
            raise UserError(f"{dvc_lock}: stage '{stage}' has a malformed outs entry")
        digest = out.get("md5") or out.get("etag") or out.get("checksum")
        outs.append({"path": str(out["path"]), "md5": None if digest is None else str(digest)})
    if not outs:
        raise UserError(f"{dvc_lock}: stage '{stage}' has no outs to take the data version from")
    return {"source": dvc_lock.name, "stage": stage, "outs": sorted(outs, key=lambda o: o["path"])}


def git_info(root: Path) -> dict[str, Any]:
    """HEAD commit and whether tracked files differ from it (None when not a git checkout)."""
    commit = gitinfo.head_commit(root)
    return {"commit": commit, "dirty": gitinfo.is_dirty(root) if commit else None}


def _requirement_names(model_path: Path) -> list[str]:
    req = model_path / "requirements.txt"
    if not req.is_file():
        return []
    names = []
    for line in req.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        for sep in ("[", "=", "<", ">", "~", "!", ";", " ", "@"):
            line = line.split(sep, 1)[0]
        if line:
            names.append(line)
    return names


def environment(model_path: Path, extra: list[str]) -> dict[str, Any]:
    """Python, platform and versions of the key packages and of the model's own requirements."""
    packages: dict[str, str | None] = {}
    for name in sorted({*KEY_PACKAGES, *_requirement_names(model_path), *extra}, key=str.lower):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": f"{sys.platform}-{platform.machine()}",
        "packages": packages,
    }


def read_json(path: Path) -> Any | None:
    """A JSON file, None when absent, one line when malformed."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: malformed JSON: {exc}") from None


def flatten(value: Any, prefix: str = "", numeric_only: bool = False) -> dict[str, Any]:
    """Dotted keys of the scalar leaves of nested mappings (lists kept whole, or skipped if numeric_only)."""
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        for key, sub in value.items():
            out.update(flatten(sub, f"{prefix}{key}.", numeric_only))
        return out
    key = prefix[:-1]
    if numeric_only:
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = value
    elif key:
        out[key] = value
    return out


def metrics(evaluation: Path, name: str | None = None) -> dict[str, Any] | None:
    """Numeric leaves (outside lists) of the evaluation's `overall` and `summary`, for the reviewer's
    diff; None when there is no evaluation. The file is read by the strict evaluation reader."""
    if not evaluation.is_file():
        return None
    from samdkit.evaluate import document

    doc = document.read(evaluation, name)
    flat = flatten({key: doc[key] for key in ("overall", "summary")}, numeric_only=True)
    return dict(sorted(flat.items())[:METRICS_LIMIT])


def threshold(
    params: dict[str, Any],
    train_run: dict[str, Any] | None,
    train_run_name: str = "the training run",
) -> float | None:
    """The decision threshold in force: params.yaml evaluate.threshold, else the training run's."""
    value = decision_threshold(params)
    if value is None and isinstance(train_run, dict):
        value = threshold_value(train_run.get("threshold"), f"{train_run_name}: threshold")
    return value
