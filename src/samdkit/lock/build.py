"""Compute a model.lock (schema: docs/model-lock.md) from the project's model, golden set and records."""

from __future__ import annotations

import datetime as dt
from typing import Any

from samdkit import __version__
from samdkit.core import digests
from samdkit.core.errors import UserError
from samdkit.core.findings import Finding
from samdkit.lock import provenance
from samdkit.lock import schema as lockfile
from samdkit.lock.context import (
    Context,
    id_and_excluded_columns,
    read_params,
    read_train_run,
    repeat_findings,
    require_model,
    show_rows,
)
from samdkit.lock.reproducible import recorded_epoch


def _finite_findings(ctx: Context, fp: Any) -> list[Finding]:
    """A model that outputs NaN or infinity cannot be locked: its outputs cannot be compared."""
    import numpy as np

    output = fp.outputs[0]
    if np.isfinite(output).all():
        return []
    bad = [int(i) for i in np.flatnonzero(~np.isfinite(output.reshape(len(output), -1)).all(1))]
    return [
        Finding(
            "determinism-output",
            f"the model outputs NaN or infinity on rows: {show_rows(fp.row_ids, bad)}",
            file=ctx.rel(ctx.golden_path),
        )
    ]


def build_lock(ctx: Context) -> tuple[dict[str, Any] | None, list[Finding], Any]:
    """Compute the lock; (None, findings, train_run) when the model is not deterministic."""
    from samdkit.lock.fingerprint import fingerprint, load_model

    require_model(ctx)
    if not ctx.golden_path.is_file():
        raise UserError(
            f"{ctx.rel(ctx.golden_path)}: golden input set not found (run prepare first)"
        )
    files = digests.tree_digests(ctx.model_path, ctx.settings.workers or None)
    params = read_params(ctx)
    train_run = read_train_run(ctx)
    data = provenance.data_version(ctx.project.path("dvc_lock"), ctx.settings.data_stage)
    # every input is read (and refused if foreign) before the model runs
    threshold = provenance.threshold(params, train_run, ctx.rel(ctx.project.path("train_run")))
    evaluation = ctx.project.path("evaluation")
    metrics = provenance.metrics(evaluation, ctx.rel(evaluation))
    id_column, exclude = id_and_excluded_columns(params)
    model = load_model(ctx.model_path, ctx.rel(ctx.model_path))
    fp = fingerprint(model, ctx.golden_path, ctx.runs, id_column, exclude)
    findings = repeat_findings(ctx, fp) + _finite_findings(ctx, fp)
    output = fp.outputs[0]
    if findings:
        return None, findings, train_run
    golden_sha, golden_size = digests.file_sha256(ctx.golden_path)
    run = train_run or {}
    lock = {
        "schema_version": lockfile.SCHEMA_VERSION,
        "created_at": dt.datetime.now(dt.UTC)
        .replace(microsecond=0)
        .isoformat()
        .replace("+00:00", "Z"),
        "samdkit_version": __version__,
        "artifact": {
            "path": ctx.rel(ctx.model_path),
            "algorithm": digests.ALGORITHM,
            "root_digest": digests.root_digest((f.path, f.sha256) for f in files),
            "size": sum(f.size for f in files),
            "files": [f.as_dict() for f in files],
        },
        "determinism": {
            "golden": {
                "path": ctx.rel(ctx.golden_path),
                "sha256": golden_sha,
                "size": golden_size,
                "rows": len(fp.row_ids),
                "id_column": id_column,
                "features": fp.features,
            },
            "runs": ctx.runs,
            "output_dtype": "float64 little-endian, C order",
            "output_shape": list(output.shape),
            "output_sha256": fp.digests[0],
            "tolerance": ctx.settings.tolerance,
            "row_ids": fp.row_ids,
            "predictions": output.tolist(),
        },
        "data": data,
        "threshold": threshold,
        "params": params,
        "metrics": metrics,
        "git": provenance.git_info(ctx.project.root),
        "environment": provenance.environment(ctx.model_path, ctx.settings.packages),
        "mlflow": {
            key: run.get(key)
            for key in ("run_id", "experiment_id", "model_name", "model_version", "model_uri")
        },
        # the build time the model's bytes carry (a rebuild reuses it; null: not normalised)
        "build": {"source_date_epoch": recorded_epoch(ctx.model_path)},
    }
    return lock, [], train_run
