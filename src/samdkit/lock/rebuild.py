"""Rebuild the model from a commit in a temporary folder and compare it with model.lock (or a manifest).

`samdkit verify-lock --rebuild` and `samdkit verify --rebuild` (docs/model-lock.md, docs/signing.md):

1. `git archive` of the commit into a temporary folder (the checkout itself is never touched);
2. the data as DVC knows it: `dvc checkout` of the data stage from the project's cache, else
   `dvc pull` when a remote is configured, else `dvc repro` of the data stage (a source that can be
   regenerated, e.g. the template's embedded example data: the mode for a project with no remote);
3. the train stage's command from dvc.yaml at that commit, with the build time the lock recorded
   (`SOURCE_DATE_EPOCH`) and the temporary folder's src/ first on the import path;
4. verify-lock's checks on the rebuilt model against the lock. Verdicts: "reproduced" (every byte
   equal), "equivalent rebuild" (bytes differ, golden-set predictions within the lock's tolerance:
   weaker, e.g. another machine or library build), else FAIL naming what differs.

The verdict is also written to reports/rebuild.json for the report (`describe`).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from samdkit.core import atomic, digests, gitinfo
from samdkit.core.errors import UserError
from samdkit.core.findings import Finding

REPRODUCED = "reproduced"
EQUIVALENT = "equivalent rebuild"
FAILED = "FAIL"
VERDICT_FORMAT = "samdkit/rebuild/v1"
ARTIFACT_CHECKS = frozenset(
    {
        "artifact-file-changed",
        "artifact-file-added",
        "artifact-file-missing",
        "artifact-root-digest",
    }
)
# a rebuilt model is trained in a new run: its run id can never be the locked one
NOT_REBUILDABLE = frozenset({"training-run"})


@dataclass
class Rebuild:
    """A project tree rebuilt from `commit` in a temporary folder."""

    root: Path
    commit: str
    epoch: int
    data: str = ""  # how the data came: "dvc checkout", "dvc pull" or "dvc repro <stage>"
    seconds: dict[str, float] = field(default_factory=dict)


def _run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            cmd, cwd=cwd, env=env, capture_output=True, text=True, errors="replace", check=False
        )
    except OSError:
        raise UserError(f"{cmd[0]} not found on PATH (the rebuild needs git and DVC)") from None


def _dvc_env() -> dict[str, str]:
    return {**os.environ, "DVC_NO_ANALYTICS": "1"}


def resolve_commit(root: Path, ref: str) -> str:
    commit = gitinfo.resolve_commit(root, ref)
    if commit is None:
        raise UserError(
            f"{ref}: not a commit of this repository (the rebuild needs git and a git checkout)"
        )
    return commit


def export_commit(root: Path, commit: str, target: Path) -> Path:
    """The project's files at `commit` (git archive, so the checkout stays untouched) in target."""
    prefix = gitinfo.prefix(root)
    tree = f"{commit}:{prefix}" if prefix else commit
    data = gitinfo.archive(root, tree)
    if data is None:
        raise UserError(f"git archive {commit[:12]} failed: cannot export the commit")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        archive.extractall(target, filter="data")
    return target


def _cache_dir(root: Path) -> Path:
    done = _run(["dvc", "cache", "dir"], root, _dvc_env())
    if done.returncode != 0 or not done.stdout.strip():
        raise UserError("dvc cache dir failed: is this a DVC project (dvc init)?")
    return Path(done.stdout.strip().splitlines()[-1]).resolve()


def _use_cache(src: Path, cache: Path) -> None:
    """DVC in the exported tree: no git there, the project's own cache (read and added to)."""
    local = src / ".dvc" / "config.local"
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_text(f"[core]\n    no_scm = True\n[cache]\n    dir = {cache}\n", encoding="utf-8")


def fetch_data(src: Path, stage: str) -> str:
    """Bring the data stage's outputs as dvc.lock records them; say how."""
    env = _dvc_env()
    if _run(["dvc", "checkout", "-q", stage], src, env).returncode == 0:
        return "dvc checkout"
    has_remote = bool(_run(["dvc", "remote", "list"], src, env).stdout.strip())
    if has_remote and _run(["dvc", "pull", "-q", stage], src, env).returncode == 0:
        return "dvc pull"
    done = _run(["dvc", "repro", "-q", stage], src, env)
    if done.returncode != 0:
        raise UserError(
            f"the data of stage '{stage}' is not in the DVC cache or on a remote, and "
            f"'dvc repro {stage}' could not regenerate it (exit {done.returncode}): "
            "configure a DVC remote (dvc remote add -d) or run 'dvc repro' here first"
        )
    return f"dvc repro {stage}"


def _stage_commands(src: Path, stage: str) -> tuple[list[str], Path]:
    """The train stage's command lines and folder, from the dvc.yaml DVC runs (the root's)."""
    from samdkit.core import dvc_spec

    # named as the project names it, not by the temporary folder the commit was exported to
    stages = dvc_spec.read_stages(src / "dvc.yaml", "dvc.yaml at the rebuilt commit", strict=True)
    commands = dvc_spec.commands(stages.get(stage))
    if not commands:
        raise UserError(f"dvc.yaml at the rebuilt commit has no stage '{stage}' with a cmd")
    return commands, src / dvc_spec.wdir(stages.get(stage))


def train(src: Path, stage: str, epoch: int) -> None:
    """Run the train stage's command(s) as DVC would, with the locked build time."""
    commands, wdir = _stage_commands(src, stage)
    env = _dvc_env()
    env["SOURCE_DATE_EPOCH"] = str(epoch)
    if (src / "src").is_dir():  # the commit's code, not an editable install of the checkout's
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(src / "src"), env.get("PYTHONPATH", "")) if p
        )
    for command in commands:
        done = subprocess.run(command, shell=True, cwd=wdir, env=env, capture_output=True)
        if done.returncode != 0:
            # the stage's own output is not shown: it may quote data (run `dvc repro` to see it)
            raise UserError(
                f"the '{stage}' stage failed in the rebuild (exit {done.returncode}): "
                f"run 'dvc repro {stage}' in the project to see why"
            )


@contextmanager
def rebuilt(
    root: Path, commit: str, epoch: int, data_stage: str, train_stage: str
) -> Iterator[Rebuild]:
    """Export, fetch the data, train; yield the rebuilt tree, removed afterwards."""
    cache = _cache_dir(root)
    work = Path(tempfile.mkdtemp(prefix="samdkit-rebuild-"))
    try:
        result = Rebuild(root=work / "project", commit=commit, epoch=epoch)
        clock = time.perf_counter()
        export_commit(root, commit, result.root)
        _use_cache(result.root, cache)
        result.seconds["export"] = time.perf_counter() - clock
        clock = time.perf_counter()
        result.data = fetch_data(result.root, data_stage)
        result.seconds["data"] = time.perf_counter() - clock
        clock = time.perf_counter()
        train(result.root, train_stage, epoch)
        result.seconds["train"] = time.perf_counter() - clock
        yield result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build_epoch(lock: dict[str, Any], root: Path, commit: str) -> int:
    """The build time to rebuild with: the one the lock recorded, else SOURCE_DATE_EPOCH, else the
    commit's time (what the template's training uses)."""
    from samdkit.lock.reproducible import ZIP_EPOCH

    recorded = (lock.get("build") or {}).get("source_date_epoch")
    if isinstance(recorded, int) and not isinstance(recorded, bool):
        return recorded
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if raw.isdigit():
        return max(int(raw), ZIP_EPOCH)
    return max(gitinfo.commit_time(root, commit) or 0, ZIP_EPOCH)


def classify(findings: list[Finding], commit: str) -> tuple[str, list[Finding]]:
    """The rebuild verdict and the findings as reported (artifact findings are warnings when the
    predictions agree: the bytes differ, the behaviour within tolerance does not)."""
    findings = [f for f in findings if f.check not in NOT_REBUILDABLE]
    errors = [f for f in findings if f.severity == "error"]
    short = commit[:12]
    if not errors:
        return REPRODUCED, findings
    if all(f.check in ARTIFACT_CHECKS for f in errors):
        softened = [replace(f, severity="warning") if f in errors else f for f in findings]
        softened.append(
            Finding(
                "rebuild-equivalent",
                f"the model rebuilt from {short} is not bit-identical to model.lock, but its "
                "golden-set predictions agree within the lock's tolerance: equivalent rebuild "
                "(weaker than reproduced; another machine or library build?)",
                severity="warning",
            )
        )
        return EQUIVALENT, softened
    named = sorted({f.check for f in errors})
    findings.append(
        Finding(
            "rebuild",
            f"the model rebuilt from {short} does not match model.lock: {', '.join(named)}",
            detail={"commit": commit, "checks": named},
        )
    )
    return FAILED, findings


def rebuild_and_verify(ctx: Any, lock: dict[str, Any], ref: str) -> tuple[str, list[Finding], dict]:
    """verify-lock's checks on a model rebuilt from `ref`: (verdict, findings, summary)."""
    from samdkit.core.project import load_project
    from samdkit.lock.context import Context
    from samdkit.lock.verify import verify

    root = ctx.project.root
    commit = resolve_commit(root, ref)
    epoch = build_epoch(lock, root, commit)
    stage = str(lock["data"].get("stage") or ctx.settings.data_stage)
    with rebuilt(root, commit, epoch, stage, ctx.settings.train_stage) as rb:
        clock = time.perf_counter()
        tctx = Context(
            project=load_project(rb.root),
            settings=ctx.settings,
            lock_path=rb.root / ctx.rel(ctx.lock_path),
            model_path=rb.root / ctx.rel(ctx.model_path),
            golden_path=rb.root / ctx.rel(ctx.golden_path),
            runs=ctx.runs,
        )
        found, summary = verify(tctx, lock, replay_identical=False)
        rb.seconds["compare"] = time.perf_counter() - clock
        files = {f.path: f.sha256 for f in digests.tree_digests(tctx.model_path)}
    verdict, findings = classify(found, commit)
    summary = {
        "rebuild": verdict,
        "commit": commit,
        "source_date_epoch": epoch,
        "data": rb.data,
        "expected_root_digest": lock["artifact"]["root_digest"],
        **summary,
        "seconds": {k: round(v, 2) for k, v in rb.seconds.items()},
        "rebuilt_files": files,
    }
    return verdict, findings, summary


VERDICTS = (REPRODUCED, EQUIVALENT, FAILED)
MODES = ("verify-lock", "verify")
_RESULT_FIELDS: dict[str, tuple[type, ...]] = {
    "format": (str,),
    "mode": (str,),
    "verdict": (str,),
    "commit": (str, type(None)),
    "lock_root_digest": (str, type(None)),
    "rebuilt_root_digest": (str, type(None)),
    "checked_utc": (str,),
    "seconds": (dict,),
}


def write_verdict(project: Any, verdict: str, summary: dict[str, Any], mode: str) -> Path:
    """reports/rebuild.json (paths.rebuild): what the report states about the release's rebuild."""
    record = {
        "format": VERDICT_FORMAT,
        "mode": mode,
        "verdict": verdict,
        "commit": summary.get("commit"),
        "lock_root_digest": summary.get("expected_root_digest"),
        "rebuilt_root_digest": summary.get("root_digest"),
        "checked_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seconds": summary.get("seconds", {}),
    }
    validate_result(record, "rebuild verdict")
    return atomic.write_json(project.path("rebuild"), record)


def validate_result(record: Any, where: str) -> dict[str, Any]:
    """A parsed rebuild verdict, checked field by field; UserError naming the first wrong field."""

    def bad(what: str) -> UserError:
        return UserError(f"{where}: not a samdkit rebuild verdict ({VERDICT_FORMAT}): {what}")

    if not isinstance(record, dict):
        raise bad("not a JSON object")
    if record.get("format") != VERDICT_FORMAT:
        raise bad("field 'format' names another format")  # named, never quoted
    for key, kinds in _RESULT_FIELDS.items():
        if key not in record:
            raise bad(f"field '{key}' is missing")
        if not isinstance(record[key], kinds) or isinstance(record[key], bool):
            raise bad(f"field '{key}' has the wrong type")
    extra = sorted(set(record) - set(_RESULT_FIELDS))
    if extra:
        raise bad(f"unknown field '{extra[0]}'")
    if record["verdict"] not in VERDICTS:
        raise bad(f"field 'verdict' must be one of {', '.join(VERDICTS)}")
    if record["mode"] not in MODES:
        raise bad(f"field 'mode' must be one of {', '.join(MODES)}")
    for key, value in record["seconds"].items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad(f"field 'seconds.{key}' must be a number")
    return record


def read_result(path: str | os.PathLike[str], where: str | None = None) -> dict[str, Any] | None:
    """The strict reader of reports/rebuild.json: None when absent, UserError (exit 2) when foreign.

    `where` names the file in errors (the project path, as every other reader does; default: `path`).
    """
    from samdkit.core import bounded

    path = Path(path)
    if not path.is_file():
        return None
    where = where or str(path)
    return validate_result(bounded.read_json(path, where), where)


_NOT_RUN = object()  # describe(): read the verdict file itself


def describe(project: Any, lock: dict[str, Any] | None, record: Any = _NOT_RUN) -> dict[str, Any]:
    """For the report and the model card: the rebuild verdict of this locked model, or "not run".

    The verdict is a claim the team's rebuild check recorded in a file, not a check the report
    or signing re-runs: the text says whose claim it is, when and where it was recorded, and how
    an auditor confirms it. `record`: the file as the report already read it (None: absent).
    A verdict file about another model (its lock root digest differs) counts as not run.
    """
    path = project.path("rebuild")
    rel = project.shown(path)
    if record is _NOT_RUN:
        record = read_result(path, rel)
    artifact = lock.get("artifact") if isinstance(lock, dict) else None
    root = artifact.get("root_digest") if isinstance(artifact, dict) else None
    if record is None or not root or record["lock_root_digest"] != root:
        why = "for this model" if record is None else f"for this model ({rel} is about another)"
        return {
            "verdict": "not run",
            "text": f"rebuild check not run {why}: run samdkit verify-lock --rebuild "
            f"(it records {rel}) before samdkit report; an auditor runs "
            "samdkit verify --rebuild on the release",
        }
    verdict = record["verdict"]
    commit = (record["commit"] or "")[:12] or "(commit not recorded)"
    text = {
        REPRODUCED: f"reproduced: the model rebuilt from commit {commit} is bit-identical",
        EQUIVALENT: f"equivalent rebuild: the model rebuilt from commit {commit} differs in its "
        "bytes but predicts the golden set within the lock's tolerance",
    }.get(verdict, f"FAIL: the model rebuilt from commit {commit} does not match model.lock")
    # plain text: the report's HTML and Markdown and the model card print it as it is
    who = {"verify": "a samdkit verify --rebuild run"}.get(
        record["mode"], "the team's rebuild check"
    )
    claim = (
        f" — recorded by {who} ({rel}, {record['checked_utc']}, commit {commit}); "
        "not re-run at signing: an auditor confirms it with samdkit verify --rebuild"
    )
    return {**record, "text": text + claim}


def render(
    findings: list[Finding],
    fmt: str,
    title: str,
    verdict: str,
    summary: dict,
    gate: str = "verify-lock",
) -> str:
    """The gate-result envelope with the rebuild verdict (reproduced / equivalent rebuild / FAIL).

    The summary's plain values are the summary (the text verdict line); all of it is the detail.
    """
    from samdkit.core.findings import GateResult, render_result

    shown = {k: v for k, v in summary.items() if not isinstance(v, dict | list)}
    result = GateResult(
        gate=gate, verdict=verdict, findings=findings, summary=shown, detail=summary
    )
    return render_result(result, fmt, title=title)


# --------------------------------------------------------------------------- samdkit verify --rebuild


def add_verify_flag(parser: Any) -> None:
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="also re-run the pipeline's train stage from the release's commit in a temporary "
        "folder and compare the model with the signed manifest's digests (the strongest check; "
        "costs one training run)",
    )


def _manifest_model_files(manifest: dict[str, Any], model_rel: str) -> dict[str, str]:
    prefix = model_rel.rstrip("/") + "/"
    return {
        rel[len(prefix) :]: str(entry.get("sha256"))
        for rel, entry in manifest.get("files", {}).items()
        if rel.startswith(prefix) and isinstance(entry, dict)
    }


def _manifest_findings(signed: dict[str, str], rebuilt: dict[str, str], model_rel: str) -> list:
    if not signed:
        return [Finding("rebuild-manifest", f"the manifest lists no file of {model_rel}")]
    return [
        Finding(
            "rebuild-manifest",
            f"{model_rel}/{path}: rebuilt sha256 {rebuilt.get(path)}, signed manifest "
            f"{signed.get(path)}",
            file=f"{model_rel}/{path}",
            detail={"expected": signed.get(path), "actual": rebuilt.get(path)},
        )
        for path in sorted(set(signed) | set(rebuilt))
        if signed.get(path) != rebuilt.get(path)
    ]


def auditor_rebuild(manifest_arg: Path | None) -> tuple[str, list[Finding], dict[str, Any]]:
    """Rebuild the release's commit and compare with the signed manifest (and the manifested lock)."""
    from samdkit.core.project import load_project
    from samdkit.lock import schema as lockfile
    from samdkit.lock.context import Context, Settings
    from samdkit.release import manifest as mf

    project = load_project(".")
    path = manifest_arg or project.path("manifest")
    path = path if path.is_absolute() else project.root / path
    manifest = mf.read(path)
    commit = manifest.get("commit") or "HEAD"
    settings = Settings.from_project(project)
    ctx = Context(
        project=project,
        settings=settings,
        lock_path=project.path("model_lock"),
        model_path=project.path("model"),
        golden_path=project.path("golden_data"),
        runs=settings.runs,
    )
    lock = lockfile.read(ctx.lock_path)
    verdict, findings, summary = rebuild_and_verify(ctx, lock, str(commit))
    model_rel = ctx.rel(ctx.model_path)
    signed = _manifest_model_files(manifest, model_rel)
    if verdict == REPRODUCED:
        extra = _manifest_findings(signed, summary["rebuilt_files"], model_rel)
        if extra:
            verdict, findings = FAILED, findings + extra
    elif not signed:
        findings += _manifest_findings(signed, {}, model_rel)
        verdict = FAILED
    return verdict, findings, summary


def run_verify_rebuild(args: Any, run_verify: Any) -> int:
    """`samdkit verify --rebuild`: verify's own checks, then the auditor's rebuild; one output."""
    import contextlib
    import io
    import json

    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        code = int(run_verify(args) or 0)
    verdict, findings, summary = auditor_rebuild(args.manifest)
    title = "samdkit verify --rebuild"
    fmt = args.format
    out = render(findings, fmt, title, verdict, summary, gate="verify")
    if fmt == "json":
        from samdkit.core.findings import read_result as read_gate_result
        from samdkit.core.findings import render_result

        result = read_gate_result(captured.getvalue())
        result.detail["rebuild"] = json.loads(out)
        if verdict == FAILED:
            result.verdict = FAILED
        print(render_result(result, fmt))
    else:
        print(captured.getvalue().rstrip("\n"))
        print(out)
    return max(code, 1 if verdict == FAILED else 0)
