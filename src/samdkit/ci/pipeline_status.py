"""`samdkit pipeline-status`: is the committed dvc.lock what the pipeline produces from dvc.yaml, params and deps?

One gate for every pipeline (GitHub PR, GitHub release, GitLab). Without options it asks DVC (`dvc status
--json`) which stages are stale in the working tree. In CI, `--repro` first makes the outputs the other gates
read (`dvc pull --allow-missing` when a DVC remote is set, then `dvc repro`), and `--committed HEAD` then
compares the dvc.lock the pipeline wrote with the one committed: a stage whose entry differs (or a lock never
committed) is stale. A red result names the stale stages and the exact commands that make it green (including
`dvc remote add` when the project has no DVC remote yet, and the `git add` of the files the run changed).

Exit 0 up to date, 1 stale or the pipeline failed, 2 bad input. `--output` writes the gate result
(reports/gates/pipeline.json in the generated pipelines); `--format json` prints the same gate-result
envelope (findings, `detail.reason`, `detail.fix`, `detail.stale_stages`).
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path
from typing import Any

from samdkit.ci import outputs as ci_outputs
from samdkit.ci import repro
from samdkit.core import findings, gitinfo
from samdkit.core.errors import UserError
from samdkit.core.findings import Finding
from samdkit.core.options import add_format_option

GATE = "pipeline"
TITLE = "pipeline-status"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repro",
        action="store_true",
        help="dvc pull (when a DVC remote is set) and dvc repro first, as CI does",
    )
    parser.add_argument(
        "--committed",
        metavar="REF",
        help="compare dvc.lock with the one committed at REF (e.g. HEAD) stage by stage",
    )
    add_format_option(parser)
    parser.add_argument("--output", help="also write the gate result JSON to this file")


def _dvc(root: Path, *args: str) -> subprocess.CompletedProcess:
    return repro.dvc(root, *args)


def _stages(text: str | None) -> dict[str, Any]:
    """The stages of a dvc.lock text ({} when malformed; bounded: it comes with the pull request)."""
    from samdkit.core import bounded

    try:
        data = bounded.yaml_text(text or "", "dvc.lock") or {}
    except UserError:
        return {}
    stages = data.get("stages") if isinstance(data, dict) else None
    return stages if isinstance(stages, dict) else {}


def _committed_lock(root: Path, ref: str) -> str | None:
    data = gitinfo.show_file(root, ref, "dvc.lock")
    return data.decode("utf-8", "replace") if data is not None else None


def _git_files_to_commit(root: Path) -> list[str]:
    """dvc.lock, DVC's .gitignore files and the uncached outputs (git-tracked) the run changed."""
    done = gitinfo.run_git(root, "status", "--porcelain", "--untracked-files=all", "--", ".")
    out = done.stdout if done is not None and done.returncode == 0 else ""
    changed = [line[3:].strip().strip('"') for line in out.splitlines() if len(line) > 3]
    candidates = ["dvc.lock", *_uncached_outputs(root)]
    keep = [
        c for c in candidates if any(p == c or p.startswith(c.rstrip("/") + "/") for p in changed)
    ]
    keep += [p for p in changed if p.endswith(".gitignore") and p not in keep]
    return keep


def _uncached_outputs(root: Path) -> list[str]:
    """Outputs dvc.yaml marks `cache: false` (kept in git, e.g. model.lock and the reports)."""
    return [p for outs in repro.stage_outputs(root).values() for p, cached in outs if not cached]


def _status_findings(root: Path) -> list[Finding]:
    status, error = repro.dvc_status(root)
    if status is None:
        return [Finding("dvc-status", f"dvc status failed: {error}", "dvc.yaml")]
    return repro.stale_findings(status, [])


def _committed_findings(root: Path, ref: str) -> list[Finding]:
    committed = _committed_lock(root, ref)
    current = (
        _stages((root / "dvc.lock").read_text(encoding="utf-8"))
        if (root / "dvc.lock").is_file()
        else {}
    )
    if committed is None:
        return [
            Finding(
                "lock-not-committed",
                f"dvc.lock is not committed at {ref}: the pipeline's outputs were never recorded",
                "dvc.lock",
                detail={"stages": sorted(current)},
            )
        ]
    old = _stages(committed)
    out = []
    for stage in sorted(set(old) | set(current)):
        if old.get(stage) == current.get(stage):
            continue
        why = (
            "not in the committed dvc.lock"
            if stage not in old
            else "no longer in dvc.yaml"
            if stage not in current
            else "its deps, params or outputs differ from the committed dvc.lock"
        )
        out.append(
            Finding(
                "stale-stage", f"stage {stage} is stale: {why}", "dvc.lock", detail={"stage": stage}
            )
        )
    return out


def _fix(root: Path, found: list[Finding]) -> list[str]:
    """The exact commands, in order, that make this gate green."""
    stages = sorted({f.detail.get("stage") for f in found if f.detail.get("stage")})
    if any(f.check == "source-data-missing" for f in found):
        return [
            "dvc remote add -d storage <url>  # e.g. s3://bucket/path; once per project",
            "dvc push  # from the machine that has the data",
            "git add .dvc/config",
            'git commit -m "a DVC remote for the source data"',
        ]
    if any(f.check == "dvc-pull" for f in found):
        return ["dvc push  # from the machine that ran the pipeline: the remote lacks its outputs"]
    if any(f.check == "repro-failed" for f in found):
        return [f"dvc repro {' '.join(stages)}".strip() + "  # fix the error it prints, then rerun"]
    if any(f.check == "lock-not-committed" for f in found):
        stages = []
    cmds = [f"dvc repro {' '.join(stages)}".strip()]
    remote = repro.has_remote(root)
    if remote:
        cmds.append("dvc push")
    files = _git_files_to_commit(root) or ["dvc.lock"]
    cmds.append(_wrapped(["git", "add", *files]))
    cmds.append('git commit -m "pipeline outputs and dvc.lock"')
    if not remote:  # green without one: CI reruns the pipeline and compares the model with the lock
        cmds.append(
            "# optional, once per project: dvc remote add -d storage <url> && dvc push "
            "(CI then restores the outputs instead of retraining)"
        )
    return cmds


def _wrapped(words: list[str], width: int = 96) -> str:
    """One shell command over several lines (backslash continuations) so a comment shows it whole."""
    lines, line = [], words[0]
    for word in words[1:]:
        if len(line) + 1 + len(word) > width:
            lines.append(line + " \\")
            line = "  " + word
        else:
            line += " " + word
    return "\n".join([*lines, line])


def _reason(found: list[Finding], stale: list[str]) -> str:
    if not found:
        return "dvc.lock is up to date with dvc.yaml, params and deps"
    if len(found) == 1 or found[0].check == "lock-not-committed" or not stale:
        return found[0].message
    return f"stale stages: {', '.join(stale)}"


def _check(root: Path, args: argparse.Namespace) -> tuple[list[Finding], repro.Outcome | None]:
    """The findings, and what `--repro` ran (None without it)."""
    if not args.repro:
        if args.committed:
            return _committed_findings(root, args.committed), None
        return _status_findings(root), None
    from samdkit.core.project import load_project

    outcome = repro.run_pipeline(load_project(root), args.committed or "HEAD")
    found = list(outcome.findings)
    if any(f.check in ("dvc-pull", "repro-failed") for f in found):
        return found, outcome
    if not args.committed:
        return found or _status_findings(root), outcome
    if outcome.remote or gitinfo.show_file(root, args.committed, "dvc.lock") is None:
        found += _committed_findings(root, args.committed)
    return found, outcome


def run(args: argparse.Namespace) -> int:
    root = Path.cwd()
    if not (root / "dvc.yaml").is_file():
        raise UserError("dvc.yaml not found: run samdkit pipeline-status in the project root")
    output = Path(args.output) if args.output else None
    found, outcome = _check(root, args)
    fix = _fix(root, found) if found else []
    stale = sorted({f.detail.get("stage") for f in found if f.detail.get("stage")})
    stale += [s for f in found for s in f.detail.get("stages", []) if s not in stale]
    ran = {"repro": outcome.record.to_json()} if outcome and outcome.record else {}
    result = ci_outputs.gate_result(
        GATE, "FAIL" if found else "PASS", _reason(found, stale), fix, found,
        stale_stages=stale, **ran,
    )  # fmt: skip
    result.summary = {"stale stages": ", ".join(stale) or "none"}
    if outcome and outcome.record:
        result.summary["stages run"] = ", ".join(outcome.record.stages_run) or "none"
    print(findings.render_result(result, args.format, title=TITLE))
    if found and args.format != "json":
        print("to fix:\n" + "\n".join(f"  {cmd}" for cmd in fix))
    if output:
        ci_outputs.write_gate(output, result)
    ci_outputs.publish(result)
    return 1 if found else 0
