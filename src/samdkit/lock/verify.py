"""Recompute a model.lock and list every difference as a finding naming the file or rows and both digests."""

from __future__ import annotations

from typing import Any

from samdkit.core import digests
from samdkit.core.errors import UserError
from samdkit.core.findings import Finding
from samdkit.lock import provenance
from samdkit.lock.context import (
    Context,
    id_and_excluded_columns,
    read_params,
    read_train_run,
    repeat_findings,
    require_model,
    show_rows,
)


def _artifact_findings(ctx: Context, lock: dict[str, Any]) -> tuple[list[Finding], str]:
    artifact = lock["artifact"]
    findings = []
    listed = digests.root_digest((f["path"], f["sha256"]) for f in artifact["files"])
    if listed != artifact["root_digest"]:
        findings.append(
            Finding(
                "lock-integrity",
                f"artifact.root_digest {artifact['root_digest']} does not match the lock's own file "
                f"list ({listed}): model.lock was edited by hand",
                file=ctx.rel(ctx.lock_path),
            )
        )
    actual = digests.tree_digests(ctx.model_path, ctx.settings.workers or None)
    expected = {f["path"]: f for f in artifact["files"]}
    found = {f.path: f for f in actual}
    base = ctx.model_path.parent if ctx.model_path.is_file() else ctx.model_path
    for path in sorted(set(expected) | set(found)):
        where = ctx.rel(base / path)
        exp, act = expected.get(path), found.get(path)
        if act is None:
            findings.append(
                Finding(
                    "artifact-file-missing",
                    f"{where} is in model.lock (sha256 {exp['sha256']}) but missing from the model",
                    file=where,
                    detail={"expected": exp["sha256"], "actual": None},
                )
            )
        elif exp is None:
            findings.append(
                Finding(
                    "artifact-file-added",
                    f"{where} (sha256 {act.sha256}, {act.size} bytes) is not in model.lock",
                    file=where,
                    detail={"expected": None, "actual": act.sha256},
                )
            )
        elif exp["sha256"] != act.sha256:
            findings.append(
                Finding(
                    "artifact-file-changed",
                    f"{where} differs: expected sha256 {exp['sha256']} ({exp['size']} bytes), "
                    f"actual {act.sha256} ({act.size} bytes)",
                    file=where,
                    detail={"expected": exp["sha256"], "actual": act.sha256},
                )
            )
    root = digests.root_digest((f.path, f.sha256) for f in actual)
    if root != artifact["root_digest"]:
        findings.append(
            Finding(
                "artifact-root-digest",
                f"model root digest differs: expected {artifact['root_digest']}, actual {root}",
                file=ctx.rel(ctx.model_path),
                detail={"expected": artifact["root_digest"], "actual": root},
            )
        )
    return findings, root


def _provenance_findings(
    ctx: Context, lock: dict[str, Any], params: dict[str, Any]
) -> list[Finding]:
    findings = []
    golden = lock["determinism"]["golden"]
    golden_sha, _ = digests.file_sha256(ctx.golden_path)
    if golden.get("sha256") != golden_sha:
        findings.append(
            Finding(
                "golden-input",
                f"golden input set differs: expected sha256 {golden.get('sha256')}, actual {golden_sha}",
                file=ctx.rel(ctx.golden_path),
                detail={"expected": golden.get("sha256"), "actual": golden_sha},
            )
        )
    dvc_lock = ctx.project.path("dvc_lock")
    stage = lock["data"].get("stage", ctx.settings.data_stage)
    current = provenance.data_version(dvc_lock, str(stage))
    recorded = {o.get("path"): o.get("md5") for o in lock["data"].get("outs", [])}
    now = {o["path"]: o["md5"] for o in current["outs"]}
    for path in sorted(set(recorded) | set(now)):
        if recorded.get(path) != now.get(path):
            findings.append(
                Finding(
                    "data-version",
                    f"data version of {path}: model.lock names {recorded.get(path)}, "
                    f"{ctx.rel(dvc_lock)} stage '{stage}' has {now.get(path)} "
                    "(the data changed and the model was not re-trained and re-locked)",
                    file=ctx.rel(dvc_lock),
                    detail={"expected": recorded.get(path), "actual": now.get(path)},
                )
            )
    train_run = read_train_run(ctx)
    threshold = provenance.threshold(params, train_run, ctx.rel(ctx.project.path("train_run")))
    if threshold != lock["threshold"]:
        findings.append(
            Finding(
                "threshold",
                f"decision threshold in force is {threshold}, model.lock recorded {lock['threshold']}",
                file=ctx.rel(ctx.project.path("params")),
                detail={"expected": lock["threshold"], "actual": threshold},
            )
        )
    old, new = provenance.flatten(lock["params"]), provenance.flatten(params)
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key) and key != "evaluate.threshold":
            findings.append(
                Finding(
                    "params",
                    f"param {key} is {new.get(key)!r}, model.lock recorded {old.get(key)!r}",
                    file=ctx.rel(ctx.project.path("params")),
                    detail={"expected": old.get(key), "actual": new.get(key)},
                )
            )
    locked_run = lock["mlflow"].get("run_id")
    if train_run and locked_run and train_run.get("run_id") != locked_run:
        findings.append(
            Finding(
                "training-run",
                f"training run {train_run.get('run_id')} is not the locked run {locked_run}",
                file=ctx.rel(ctx.project.path("train_run")),
                detail={"expected": locked_run, "actual": train_run.get("run_id")},
            )
        )
    return findings


def _stored_predictions(ctx: Context, det: dict[str, Any]) -> tuple[Any, list[Finding]]:
    """The lock's stored predictions as an array, and whether they still match its own digest."""
    from samdkit.lock.fingerprint import array_sha256, as_float64

    try:
        stored = as_float64(det["predictions"])
    except UserError:
        where = ctx.rel(ctx.lock_path)
        raise UserError(
            f"{where}: malformed lock: determinism.predictions is not numeric"
        ) from None
    if array_sha256(stored) == det["output_sha256"] and list(stored.shape) == det["output_shape"]:
        return stored, []
    edited = Finding(
        "lock-integrity",
        f"stored predictions do not match determinism.output_sha256 {det['output_sha256']}: "
        "model.lock was edited by hand",
        file=ctx.rel(ctx.lock_path),
    )
    return stored, [edited]


def _compare_outputs(ctx: Context, det: dict[str, Any], fp: Any, stored: Any) -> list[Finding]:
    """The recomputed golden-set predictions against the stored ones: beyond tolerance is an
    error naming the rows, within tolerance but not bit-identical a warning."""
    from samdkit.lock.fingerprint import differing_rows, max_abs_diff

    golden, output, actual = ctx.rel(ctx.golden_path), fp.outputs[0], fp.digests[0]
    if output.shape != stored.shape:
        shapes = {"expected": list(stored.shape), "actual": list(output.shape)}
        message = (
            f"predictions have shape {shapes['actual']}, model.lock stored {shapes['expected']}"
        )
        return [Finding("determinism-stored", message, file=golden, detail=shapes)]
    tolerance = float(det["tolerance"])
    largest = max_abs_diff(output, stored)
    rows = differing_rows(output, stored, tolerance)
    expected = det["output_sha256"]
    if rows:
        message = (
            f"predictions differ from model.lock beyond tolerance {tolerance:g} on {len(rows)} "
            f"row(s): {show_rows(fp.row_ids, rows)} (max abs diff {largest:.3g}; expected output "
            f"sha256 {expected}, actual {actual})"
        )
        detail = {"expected": expected, "actual": actual, "max_abs_diff": largest}
        detail["rows"] = [fp.row_ids[i] for i in rows]
        return [Finding("determinism-stored", message, file=golden, detail=detail)]
    if actual == expected:
        return []
    message = (
        f"predictions are not bit-identical to model.lock but within tolerance {tolerance:g} "
        f"(max abs diff {largest:.3g}; another machine or library build?)"
    )
    detail = {"expected": expected, "actual": actual}
    return [Finding("determinism-stored", message, file=golden, severity="warning", detail=detail)]


def measured_here(ctx: Context, measured: dict[str, Any] | None, root: str) -> Any:
    """The fingerprint this job's lock stage measured, when it is this model's on this golden set."""
    from samdkit.core.digests import sha256_hex
    from samdkit.lock.fingerprint import Fingerprint

    if measured is None or measured["artifact"]["root_digest"] != root:
        return None
    det = measured["determinism"]
    if det["golden"]["sha256"] != sha256_hex(ctx.golden_path):
        return None
    try:
        return Fingerprint.from_lock(det, ctx.runs)
    except UserError:
        return None


def _prediction_findings(
    ctx: Context, lock: dict[str, Any], params: dict[str, Any], measured: Any = None
) -> tuple[list[Finding], dict[str, Any]]:
    from samdkit.lock.fingerprint import fingerprint, load_model, max_abs_diff

    det = lock["determinism"]
    stored, findings = _stored_predictions(ctx, det)
    id_column, exclude = id_and_excluded_columns(params)
    try:
        if measured is not None:
            fp = measured
        else:
            model = load_model(ctx.model_path, ctx.rel(ctx.model_path))
            fp = fingerprint(model, ctx.golden_path, ctx.runs, id_column, exclude)
    except UserError as exc:
        if not ctx.golden_path.is_file():
            raise
        findings.append(Finding("model-load", str(exc), file=ctx.rel(ctx.model_path)))
        return findings, {}
    findings += repeat_findings(ctx, fp)
    summary: dict[str, Any] = {"output_sha256": fp.digests[0], "runs": ctx.runs}
    if fp.outputs[0].shape == stored.shape:
        largest = max_abs_diff(fp.outputs[0], stored)
        summary.update(max_abs_diff=largest, tolerance=float(det["tolerance"]))
    findings += _compare_outputs(ctx, det, fp, stored)
    return findings, summary


def verify(
    ctx: Context,
    lock: dict[str, Any],
    *,
    replay_identical: bool = True,
    measured: dict[str, Any] | None = None,
) -> tuple[list[Finding], dict[str, Any]]:
    """Every check of model.lock against the model: (findings, summary).

    `replay_identical=False` (a rebuild) skips the golden-set replay when every model file is
    bit-identical to the lock: the rebuild question is answered by the bytes alone. `measured` is a
    lock this job's `samdkit lock` stage just wrote (--reuse-pipeline): when it measured this very
    model (root digest) on this golden set, its predictions stand in for a second replay.
    """
    require_model(ctx)
    if not ctx.golden_path.is_file():
        raise UserError(f"{ctx.rel(ctx.golden_path)}: golden input set not found")
    params = read_params(ctx)
    findings, root = _artifact_findings(ctx, lock)
    identical = not findings
    findings += _provenance_findings(ctx, lock, params)
    if not replay_identical and identical:
        summary = {"golden_replay": "skipped: every model file is bit-identical to the lock"}
        return findings, {"files": len(lock["artifact"]["files"]), "root_digest": root, **summary}
    reused = measured_here(ctx, measured, root)
    predicted, summary = _prediction_findings(ctx, lock, params, reused)
    if reused is not None:
        summary["golden_replay"] = "read from this job's lock stage (same model, same golden set)"
    elif measured is not None:
        summary["golden_replay"] = (
            "computed: this job's lock stage measured another model or golden set"
        )
    findings += predicted
    summary = {"files": len(lock["artifact"]["files"]), "root_digest": root, **summary}
    return findings, summary
