"""Tag the registered MLflow model version with the lock's digests (best effort, never fatal)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TAG_ROOT_DIGEST = "samdkit.model_sha256"
TAG_OUTPUT_DIGEST = "samdkit.golden_output_sha256"


def _local_uri(uri: str, root: Path) -> tuple[str | None, str | None]:
    """Resolve a relative sqlite URI against the project root; (uri, note-if-unusable)."""
    prefix = "sqlite:///"
    if uri.startswith(prefix):
        db = uri[len(prefix) :]
        path = Path(db) if db.startswith("/") else root / db
        if not path.is_file():
            # MLflow would silently create an empty store; say why we skip instead
            return None, f"tracking store {path} not found"
        return prefix + str(path.resolve()), None
    return uri, None


def tag_model_version(train_run: dict[str, Any] | None, root: Path, tags: dict[str, str]) -> str:
    """Set tags on train_run's registered model version; return a one-line note of what happened."""
    if not isinstance(train_run, dict):
        return "MLflow not tagged: no training run record"
    name, version = train_run.get("model_name"), train_run.get("model_version")
    uri = train_run.get("tracking_uri")
    if not name or version in (None, "") or not uri:
        return "MLflow not tagged: the training run names no registered model version"
    resolved, why = _local_uri(str(uri), root)
    if resolved is None:
        return f"MLflow not tagged: {why}"
    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    try:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=resolved, registry_uri=resolved)
        for key, value in tags.items():
            client.set_model_version_tag(str(name), str(version), key, value)
    except Exception as exc:  # tagging is evidence on the side, the lock file is the record
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"MLflow not tagged: {type(exc).__name__}: {first}"
    return f"MLflow model {name} version {version} tagged {TAG_ROOT_DIGEST}"
