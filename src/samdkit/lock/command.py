"""`samdkit lock` and `samdkit verify-lock`: prove the shipped model is exactly the validated one.

`lock` writes model.lock (schema: docs/model-lock.md): per-file SHA-256 and a root digest of the model
artifact, the determinism fingerprint on the golden set, the data version from dvc.lock, params,
threshold, git commit, environment, MLflow run and registered version; it tags that version in MLflow.
`verify-lock` recomputes all of it and fails (exit 1) on any difference, naming the file or the rows and
the expected vs actual digest. `verify-lock --against REF|FILE` prints what changed between two locks.

Settings (`[tool.samdkit.lock]` in pyproject.toml): runs (3), tolerance (1e-9), data_stage ("prepare"),
workers (0 = one per CPU), tag_mlflow (true), packages ([] extra package versions to record).
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path
from typing import Any

from samdkit.core import gitinfo
from samdkit.core.errors import UserError
from samdkit.core.findings import Finding, GateResult, render_result, verdict_of
from samdkit.core.options import add_format_option
from samdkit.core.project import load_project
from samdkit.lock import diff as lock_diff
from samdkit.lock import schema as lockfile
from samdkit.lock.build import build_lock
from samdkit.lock.context import Context, Settings
from samdkit.lock.verify import verify

# --------------------------------------------------------------------------- arguments


def _common_arguments(parser: argparse.ArgumentParser) -> None:
    add_format_option(parser)
    parser.add_argument(
        "--lock", type=Path, help="lock file (default: paths.model_lock, model.lock)"
    )
    parser.add_argument("--model", type=Path, help="model artifact (default: models/model)")
    parser.add_argument(
        "--golden", type=Path, help="golden input CSV (default: data/prepared/golden.csv)"
    )
    parser.add_argument(
        "--runs",
        type=int,
        help="prediction runs on the golden set (default: [tool.samdkit.lock] runs, 3)",
    )


def add_lock_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Write model.lock: SHA-256 of every model file and a root digest, the model's exact outputs on "
        "the golden set over repeated runs, the data version from dvc.lock, params, threshold, git "
        "commit, environment and MLflow run; tag the registered model version with the root digest. "
        "Exit 1 (and no lock written) when repeated predictions differ."
    )
    _common_arguments(parser)


def add_verify_lock_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Recompute model.lock and fail (exit 1) when a model file differs, is added or missing, "
        "predictions differ between repeated runs or from the stored ones beyond the declared "
        "tolerance, or the data version, threshold or params differ. With --against, print what "
        "changed between two locks instead (exit 0)."
    )
    _common_arguments(parser)
    parser.add_argument(
        "--committed",
        nargs="?",
        const="HEAD",
        metavar="REF",
        help="verify the lock as committed at REF (default HEAD), so a model.lock rewritten in the "
        "job (e.g. by dvc repro re-running the lock stage) cannot make the gate pass",
    )
    parser.add_argument(
        "--against",
        metavar="REF_OR_FILE",
        help="a lock file, or a git ref whose committed lock is compared with the current one",
    )
    parser.add_argument(
        "--rebuild",
        nargs="?",
        const="always",
        choices=("always", "auto"),
        help="rebuild the model from the commit (HEAD, or --committed REF) in a temporary folder "
        "and compare it with the lock: 'reproduced' (bit-identical), 'equivalent rebuild' (golden "
        "predictions within tolerance) or FAIL; --rebuild=auto rebuilds when the model is not in the "
        "workspace or the project has no DVC remote (a pull request), else verifies it as usual; a "
        "model this job's `samdkit pipeline-status --repro` just trained from the commit is that "
        "rebuild (classified, not trained again)",
    )
    parser.add_argument(
        "--reuse-pipeline",
        action="store_true",
        help="with --committed: when this job's `samdkit pipeline-status --repro` ran the stage "
        "that runs `samdkit lock` (at HEAD, model.lock unchanged since) and that lock measured this "
        "very model on this golden set, compare its golden predictions with the committed lock "
        "instead of replaying the golden set again; otherwise replay, with a note",
    )


def _context(args: argparse.Namespace) -> Context:
    project = load_project(".")
    settings = Settings.from_project(project)
    runs = settings.runs if args.runs is None else args.runs
    if runs < 2:
        raise UserError("--runs must be at least 2 (determinism needs repeated runs)")
    return Context(
        project=project,
        settings=settings,
        lock_path=(args.lock or project.path("model_lock")).resolve(),
        model_path=(args.model or project.path("model")).resolve(),
        golden_path=(args.golden or project.path("golden_data")).resolve(),
        runs=runs,
    )


def run_lock(args: argparse.Namespace) -> int:
    ctx = _context(args)
    lock, findings, train_run = build_lock(ctx)
    if lock is None:
        result = GateResult(gate="lock", verdict="FAIL", findings=findings)
        print(render_result(result, args.format, title="samdkit lock (model.lock not written)"))
        return 1
    lockfile.write(ctx.lock_path, lock)
    note = "MLflow tagging off ([tool.samdkit.lock] tag_mlflow = false)"
    if ctx.settings.tag_mlflow:
        from samdkit.lock.registry import TAG_OUTPUT_DIGEST, TAG_ROOT_DIGEST, tag_model_version

        tags = {
            TAG_ROOT_DIGEST: lock["artifact"]["root_digest"],
            TAG_OUTPUT_DIGEST: lock["determinism"]["output_sha256"],
        }
        note = tag_model_version(train_run, ctx.project.root, tags)
    summary = {
        "lock": ctx.rel(ctx.lock_path),
        "root_digest": lock["artifact"]["root_digest"],
        "files": len(lock["artifact"]["files"]),
        "size": lock["artifact"]["size"],
        "output_sha256": lock["determinism"]["output_sha256"],
        "runs": ctx.runs,
        "data_version": lock["data"]["outs"],
        "mlflow": note,
    }
    if args.format == "json":
        result = GateResult(
            gate="lock",
            verdict="PASS",
            findings=findings,
            summary={k: v for k, v in summary.items() if k != "data_version"},
            outputs={"lock": summary["lock"], "root_digest": summary["root_digest"]},
            detail=summary,
        )
        print(render_result(result, "json"))
        return 0
    lines = [
        f"{summary['lock']} written: model {lock['artifact']['path']} sha256 {summary['root_digest']} "
        f"({summary['files']} files, {summary['size']} bytes)",
        f"golden output sha256 {summary['output_sha256']} ({ctx.runs} identical runs)",
        note,
    ]
    if args.format == "github":
        lines.insert(0, f"::notice title=model.lock::model sha256 {summary['root_digest']}")
    print("\n".join(lines))
    return 0


def _read_against(ctx: Context, against: str) -> tuple[dict[str, Any], str]:
    path = Path(against)
    if path.is_file():
        return lockfile.read(path), against
    rel = ctx.rel(ctx.lock_path)
    data = gitinfo.show_file(ctx.project.root, against, rel)
    if data is None:
        reason = gitinfo.show_error(ctx.project.root, against, rel)
        raise UserError(
            f"--against {against}: not a lock file, and git cannot show {against}:{rel} ({reason})"
        )
    label = f"{against}:{rel}"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{label}: malformed lock: not UTF-8 text") from None
    return lockfile.parse(text, label), label


def run_verify_lock(args: argparse.Namespace) -> int:
    ctx = _context(args)
    lock = lockfile.read(ctx.lock_path)
    if args.against:
        base, label = _read_against(ctx, args.against)
        changes = lock_diff.diff_locks(base, lock)
        print(lock_diff.render(changes, args.format, base=label, current=ctx.rel(ctx.lock_path)))
        return 0
    notes: list[Finding] = []
    if args.committed:
        committed, label = _read_against(ctx, args.committed)
        if committed != lock:
            notes.append(
                Finding(
                    "committed-lock",
                    f"{ctx.rel(ctx.lock_path)} differs from {label} (rewritten in this job?); "
                    f"verifying {label}",
                    file=ctx.rel(ctx.lock_path),
                    severity="warning",
                )
            )
        lock = committed
    measured = _measured_by_this_job(args, ctx)
    if args.rebuild == "auto" and _no_model_source(ctx):
        trained_here = _trained_by_this_job(ctx, args.committed or "HEAD")
        if trained_here is None:
            return _classify_job_build(args, ctx, lock, notes, measured)
        notes.append(Finding("rebuild-auto", f"rebuilding: {trained_here}", severity="notice"))
    if args.rebuild == "always" or (args.rebuild == "auto" and _no_model_source(ctx)):
        return _run_rebuild(args, ctx, lock, notes)
    findings, summary = verify(ctx, lock, measured=measured)
    findings = notes + findings
    result = GateResult(
        gate="verify-lock",
        verdict=verdict_of(findings),
        findings=findings,
        summary=summary,
        outputs={"lock": ctx.rel(ctx.lock_path)},
    )
    print(render_result(result, args.format, title="samdkit verify-lock"))
    return 0 if result.passed else 1


def _run_rebuild(
    args: argparse.Namespace, ctx: Context, lock: dict[str, Any], notes: list[Finding]
) -> int:
    from samdkit.lock import rebuild

    verdict, findings, summary = rebuild.rebuild_and_verify(ctx, lock, args.committed or "HEAD")
    rebuild.write_verdict(ctx.project, verdict, summary, "verify-lock")
    title = "samdkit verify-lock --rebuild"
    print(rebuild.render(notes + findings, args.format, title, verdict, summary))
    return 1 if verdict == rebuild.FAILED else 0


def _trained_by_this_job(ctx: Context, ref: str) -> str | None:
    """None when this job's pipeline run trained the workspace model from `ref` (same commit, train
    stage ran, model unchanged since); else why not."""
    from samdkit.core import pipeline_run

    record = pipeline_run.read(ctx.project)
    if record is not None and record.commit != gitinfo.resolve_commit(ctx.project.root, ref):
        return f"this job's pipeline ran at another commit than {ref}"
    return pipeline_run.computed_here(ctx.project, ctx.settings.train_stage, ctx.model_path)


def _measured_by_this_job(args: argparse.Namespace, ctx: Context) -> dict[str, Any] | None:
    """--reuse-pipeline: the working model.lock this job's `samdkit lock` stage wrote, else None
    (with a note saying why the golden set is replayed). Never the lock under verification itself."""
    from samdkit.core import reuse

    if not args.reuse_pipeline:
        return None
    if not args.committed:
        reuse.note("--reuse-pipeline needs --committed (the working lock is the one under check)")
        return None
    found = reuse.check(ctx.project, ctx.lock_path, "samdkit lock")
    if isinstance(found, str):
        reuse.note(found)
        return None
    return lockfile.read(ctx.lock_path)


def _classify_job_build(
    args: argparse.Namespace,
    ctx: Context,
    lock: dict[str, Any],
    notes: list[Finding],
    measured: dict[str, Any] | None = None,
) -> int:
    """The model this job's `dvc repro` trained from the commit is the rebuild: verify it against the
    committed lock and name the verdict (reproduced / equivalent rebuild / FAIL), without training again."""
    import time

    from samdkit.core import pipeline_run
    from samdkit.lock import rebuild

    record = pipeline_run.read(ctx.project)
    if (
        record is None
    ):  # _trained_by_this_job read it a moment ago: only a concurrent change gets here
        raise UserError("the pipeline record changed while verify-lock read it: run it again")
    clock = time.perf_counter()
    found, summary = verify(ctx, lock, measured=measured)
    verdict, findings = rebuild.classify(found, record.commit)
    summary = {
        "rebuild": verdict,
        "commit": record.commit,
        "source_date_epoch": record.source_date_epoch,
        "data": "this job's dvc repro",
        "trained_by": f"this job's pipeline run ({ctx.rel(pipeline_run.record_path(ctx.project))})",
        "expected_root_digest": lock["artifact"]["root_digest"],
        **summary,
        "seconds": {"compare": round(time.perf_counter() - clock, 2)},
    }
    rebuild.write_verdict(ctx.project, verdict, summary, "verify-lock")
    title = "samdkit verify-lock --rebuild"
    print(rebuild.render(notes + findings, args.format, title, verdict, summary))
    return 1 if verdict == rebuild.FAILED else 0


def _no_model_source(ctx: Context) -> bool:
    """--rebuild=auto: no model here, or no DVC remote it could have come from. The model then is
    either the one this job's pipeline run trained from the commit (classified as the rebuild) or
    rebuilt from the commit in a temporary folder."""
    if not ctx.model_path.exists():
        return True
    try:
        done = subprocess.run(
            ["dvc", "remote", "list"], cwd=ctx.project.root, capture_output=True, text=True
        )
    except OSError:
        return True
    return done.returncode != 0 or not done.stdout.strip()
