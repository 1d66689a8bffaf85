"""Run the project's pipeline once, as CI does, and record what ran (`samdkit pipeline-status --repro`).

With a DVC remote, the outputs are pulled first and `dvc repro` only reruns what changed. Without one
(a freshly scaffolded project), a CI checkout has none of the cached outputs (prepared data, model), so
every stage that makes them runs again, and records that can never repeat (an MLflow run id, the
emissions measurement, the report) change. The freshness question is then asked before the run:
`dvc status` against the committed dvc.lock may only say that cached outputs are missing; a changed
dependency, parameter or command, or an edited record, is stale. After the run, every regenerated
cached output except the model must have the committed dvc.lock's digest (the gates check that data);
the model's bytes are the locked-model gate's question (reproduced or equivalent rebuild).

The training runs with the build time the committed model.lock recorded (`SOURCE_DATE_EPOCH`), so a
rebuild can be bit-identical. The record (core.pipeline_run) lists the stages DVC ran and the digests
of their outputs, so a later gate reads what this run computed instead of computing it again.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samdkit.core import gitinfo
from samdkit.core.errors import UserError
from samdkit.core.findings import Finding
from samdkit.core.pipeline_run import ReproRecord, output_digest

RUNNING = re.compile(r"^Running stage '([^']+)':", re.MULTILINE)
# DVC's own word that it did not run a stage; a stage's command may print a "Running stage" line,
# never take this one back (stdout is shared), so a stage named here did not run
SKIPPED = re.compile(
    r"^Stage '([^']+)' (?:didn't change, skipping|is cached - skipping run)", re.MULTILINE
)
MISSING = frozenset({"deleted", "not in cache"})


@dataclass
class Outcome:
    """What the run found (pull or repro failure, stale stages) and, when it ran, its record."""

    remote: bool
    findings: list[Finding] = field(default_factory=list)
    record: ReproRecord | None = None


def dvc(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            ["dvc", *args], cwd=root, capture_output=True, text=True, errors="replace", env=env
        )
    except FileNotFoundError:
        raise UserError("dvc not found on PATH (install samdkit with its extras)") from None


def last_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR")]
    return (errors or lines or ["no message"])[-1][:240]


def has_remote(root: Path) -> bool:
    """A DVC remote is configured (at any config level, as `dvc remote list` shows them)."""
    try:
        from dvc.repo import Repo

        with Repo(str(root)) as repo:
            return bool(repo.config.get("remote"))
    except ImportError:
        raise UserError("dvc not found (install samdkit with its extras)") from None
    except Exception:  # DVC raises many types for a broken project; `dvc repro` will name it
        return False


def dvc_status(root: Path, targets: list[str] | None = None) -> tuple[dict[str, Any] | None, str]:
    """`dvc status --json`'s table, from DVC's API in this process (one interpreter, not one per
    question: about 1 s each); (None, DVC's last error line) when it fails."""
    try:
        from dvc.repo import Repo

        with Repo(str(root)) as repo:
            status = repo.status(targets=targets or None)
    except ImportError:
        raise UserError("dvc not found (install samdkit with its extras)") from None
    except Exception as exc:  # DVC raises many types for a broken project
        return None, last_error(str(exc) or type(exc).__name__)
    return (status if isinstance(status, dict) else {}), ""


def stage_outputs(root: Path) -> dict[str, list[tuple[str, bool]]]:
    """Each dvc.yaml stage's outputs (outs, metrics, plots) as (path, cached)."""
    from samdkit.core import dvc_spec

    stages = dvc_spec.read_stages(root / "dvc.yaml", "dvc.yaml", strict=True)
    return {str(name): dvc_spec.outputs(entry) for name, entry in stages.items()}


def committed_epoch(project: Any, ref: str) -> int | None:
    """The build time model.lock recorded at `ref` (None without a lock or a recorded time)."""
    from samdkit.core import bounded

    rel = project.rel(project.path("model_lock")) or "model.lock"
    data = gitinfo.show_file(project.root, ref, rel)
    if data is None:
        return None
    try:
        lock = bounded.json_text(data, rel)
    except UserError:
        return None
    build = lock.get("build") if isinstance(lock, dict) else None
    epoch = build.get("source_date_epoch") if isinstance(build, dict) else None
    return epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None


def _inside(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def only_missing(change: Any, cached: list[str]) -> bool:
    """A `dvc status` change that only says cached outputs (or deps inside them) are absent, or that
    the stage is `always_changed` (DVC runs it every time by design; its outputs are checked after)."""
    if change == "always changed":
        return True
    if not isinstance(change, dict):
        return False
    for kind, items in change.items():
        if kind not in ("changed deps", "changed outs") or not isinstance(items, dict):
            return False
        for path, status in items.items():
            if not isinstance(status, str) or status not in MISSING:
                return False
            if not _inside(str(path), cached):
                return False
    return True


def _lock_outs(text: str | bytes | None) -> dict[str, str]:
    """path → md5 of every output in a dvc.lock text (bounded: the file comes with the pull request)."""
    from samdkit.core import bounded

    try:
        data = bounded.yaml_text(text or "", "dvc.lock") or {}
    except UserError:
        return {}
    out = {}
    for stage in (data.get("stages") or {}).values() if isinstance(data, dict) else []:
        for entry in (stage or {}).get("outs") or [] if isinstance(stage, dict) else []:
            if isinstance(entry, dict) and "path" in entry:
                out[str(entry["path"])] = str(entry.get("md5"))
    return out


def regenerated_data_findings(root: Path, ref: str, cached: list[str], model: str) -> list[Finding]:
    """Cached outputs other than the model must come back with the committed dvc.lock's digest."""
    committed = _lock_outs(gitinfo.show_file(root, ref, "dvc.lock"))
    current = _lock_outs(
        (root / "dvc.lock").read_bytes() if (root / "dvc.lock").is_file() else None
    )
    found = []
    for path in sorted(set(cached) - {model}):
        if path in committed and path in current and committed[path] != current[path]:
            found.append(
                Finding(
                    "not-reproducible",
                    f"{path}: regenerated by dvc repro with another digest than the committed "
                    "dvc.lock records (is the stage that writes it deterministic?)",
                    "dvc.lock",
                    detail={"path": path},
                )
            )
    return found


def record(
    root: Path, log: str, outs: dict[str, list[tuple[str, bool]]], remote: bool, epoch: int | None
) -> ReproRecord | None:
    """The stages `dvc repro` ran (its log) and the digests of their outputs now."""
    commit = gitinfo.head_commit(root)
    if commit is None:
        return None
    skipped = set(SKIPPED.findall(log))
    ran = [s for s in dict.fromkeys(RUNNING.findall(log)) if s in outs and s not in skipped]
    digests = {}
    for stage in ran:
        for path, _cached in outs[stage]:
            digest = output_digest(root / path)
            if digest is not None:
                digests[path] = digest
    return ReproRecord(commit, remote, epoch, tuple(ran), digests)


def environment(epoch: int | None) -> dict[str, str]:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    if epoch is not None:  # the recorded build wins, as in `verify-lock --rebuild` (lock.rebuild)
        env["SOURCE_DATE_EPOCH"] = str(epoch)
    return env


def _missing_outs(changes: Any) -> list[str]:
    """The paths of a `dvc status` entry that only says its outputs are absent (else [])."""
    paths: list[str] = []
    for change in changes if isinstance(changes, list) else [changes]:
        items = (
            change.get("changed outs") if isinstance(change, dict) and len(change) == 1 else None
        )
        if not isinstance(items, dict) or not all(v in MISSING for v in items.values()):
            return []
        paths += [str(p) for p in items]
    return paths


def source_data_findings(status: dict[str, Any]) -> tuple[list[Finding], list[str]]:
    """Data added with `dvc add` (a .dvc file) that a checkout without a remote cannot have."""
    found, paths = [], []
    for name, changes in sorted(status.items()):
        missing = _missing_outs(changes) if str(name).endswith(".dvc") else []
        for path in missing:
            message = (
                f"{path}: data tracked by DVC ({name}) is not in this checkout, and the project has "
                "no DVC remote to pull it from"
            )
            found.append(Finding("source-data-missing", message, str(name), detail={"path": path}))
        paths += missing
    return found, paths


def stale_findings(status: dict[str, Any], cached: list[str]) -> list[Finding]:
    """`dvc status --json` entries beyond missing cached outputs, one finding per stale stage
    (data added with `dvc add` and absent is a `source-data-missing` finding instead)."""
    out, tracked = source_data_findings(status)
    cached = [*cached, *tracked]
    for stage, changes in sorted(status.items()):
        if str(stage).endswith(".dvc") and _missing_outs(changes):
            continue
        left = (
            [c for c in changes if not only_missing(c, cached)]
            if isinstance(changes, list)
            else [changes]
        )
        if not left:
            continue
        what = []
        for change in left:
            for kind, items in (
                change.items() if isinstance(change, dict) else [(str(change), None)]
            ):
                if isinstance(items, dict):
                    what.append(f"{kind}: {', '.join(f'{k} ({v})' for k, v in items.items())}")
                else:
                    what.append(str(kind))
        detail = "; ".join(what)[:400] or "changed"
        out.append(
            Finding(
                "stale-stage",
                f"stage {stage} is not up to date ({detail})",
                "dvc.lock",
                detail={"stage": stage},
            )
        )
    return out


def _status(root: Path, cached: list[str]) -> list[Finding]:
    status, error = dvc_status(root)
    if status is None:
        return [Finding("dvc-status", f"dvc status failed: {error}", "dvc.yaml")]
    return stale_findings(status, cached)


def rewritten(
    root: Path, run: ReproRecord, outs: dict[str, list[tuple[str, bool]]]
) -> tuple[ReproRecord, list[Finding]]:
    """`dvc status` of the stages the run ran, right after it: DVC recorded each output's digest when
    its stage finished, so an output that differs now was written since (by a later stage). Such a
    stage leaves the record (the gates compute again), and its rewritten outputs are named."""
    if not run.stages_run:
        return run, []
    status, _error = dvc_status(root, [f"dvc.yaml:{s}" for s in run.stages_run])
    if status is None:
        return ReproRecord(run.commit, run.remote, run.source_date_epoch, (), {}), []
    found = []
    for stage in run.stages_run:
        changes = status.get(stage) or status.get(f"dvc.yaml:{stage}") or []
        changes = changes if isinstance(changes, list) else [changes]
        moved = [p for c in changes if isinstance(c, dict) for p in (c.get("changed outs") or {})]
        if moved:
            message = (
                f"stage {stage}: {', '.join(map(str, moved))} changed after the stage ran (does "
                "another stage write it? dvc.lock records what the stage wrote)"
            )[:400]
            found.append(Finding("output-rewritten", message, "dvc.yaml", detail={"stage": stage}))
    kept = tuple(s for s in run.stages_run if not status.get(s) and not status.get(f"dvc.yaml:{s}"))
    paths = {path for stage in kept for path, _cached in outs[stage]}
    left = {path: digest for path, digest in run.outputs.items() if path in paths}
    return ReproRecord(run.commit, run.remote, run.source_date_epoch, kept, left), found


def _failed(done: subprocess.CompletedProcess) -> Finding:
    text = done.stderr + done.stdout
    match = re.search(r"failed to reproduce '([^']+)'", text)
    stage = match.group(1) if match else None
    where = f"stage {stage}" if stage else "dvc repro"
    return Finding(
        "repro-failed",
        f"{where} failed: {last_error(text)}",
        "dvc.yaml",
        detail={"stage": stage} if stage else {},
    )


def _drop_planted_record(project: Any) -> None:
    """Only `pipeline-status` writes the record: one a stage's command left where the gates read it
    (its `--output` may be another file) is removed, so no gate takes it for this run's."""
    from samdkit.core.pipeline_run import record_path

    path = record_path(project)
    if path.is_symlink() or path.is_file():
        path.unlink()


def run_pipeline(project: Any, ref: str) -> Outcome:
    """dvc pull (with a remote) or the committed-lock check (without), then dvc repro, recorded."""
    root = project.root
    outcome = Outcome(remote=has_remote(root))
    outs = stage_outputs(root)
    cached = [path for items in outs.values() for path, is_cached in items if is_cached]
    epoch = committed_epoch(project, ref)
    env = environment(epoch)
    if outcome.remote:
        pulled = dvc(root, "pull", "--allow-missing", env=env)
        if pulled.returncode != 0:
            reason = f"dvc pull failed: {last_error(pulled.stderr)}"
            outcome.findings = [Finding("dvc-pull", reason, "dvc.lock")]
            return outcome
    elif (root / "dvc.lock").is_file():
        outcome.findings = _status(root, cached)
    done = dvc(root, "repro", env=env)
    _drop_planted_record(project)
    sys.stderr.write(
        done.stdout
    )  # the pipeline's own log stays in the job log, out of --format json
    if done.returncode != 0:  # missing source data explains the failure better than its symptom
        missing = [f for f in outcome.findings if f.check == "source-data-missing"]
        outcome.findings = missing or [_failed(done)]
        return outcome
    outcome.record = record(root, done.stdout, outs, outcome.remote, epoch)
    if outcome.record is not None:
        outcome.record, overwritten = rewritten(root, outcome.record, outs)
        outcome.findings += overwritten
    if not outcome.remote and not outcome.findings:  # a stale stage's outputs differ anyway
        model = project.rel(project.path("model")) or ""
        outcome.findings += regenerated_data_findings(root, ref, cached, model)
    return outcome
