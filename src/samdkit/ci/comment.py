"""`samdkit comment`: the pull/merge-request comment, as markdown, and (when asked) the command that posts it.

The markdown holds the gates' verdicts (from `--gate NAME=OUTCOME` given by the CI and the gate result files
in reports/), the acceptance criteria of reports/evaluation.json, headline-metric deltas against the base
branch's committed evaluation (`--base <git ref or file>`), and the model.lock change when the model
changed. Every input is read defensively: a missing or malformed file becomes a line in the comment,
never a failure, so the comment also explains a red pipeline.

Posting is thin: `--post cml` runs `npx -y @dvcorg/cml@0.20.6 comment update --publish=false --target=pr FILE`
(a `cml` on PATH is used as it is); `--post gh` runs `gh pr comment [N] --edit-last --create-if-none
--body-file FILE`; `--post gitlab` POSTs the file to the merge request's notes API with curl (token read
from stdin, never on the command line). Exit 0 unless the inputs are unusable (2) or posting fails (1).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from samdkit import __version__
from samdkit.core import atomic, bounded
from samdkit.core.errors import UserError
from samdkit.core.escape import md_cell, md_code, md_fence, md_inline
from samdkit.core.project import load_project
from samdkit.evaluate.evaluation import SCHEMAS

CML_VERSION = "0.20.6"
MARKER = "<!-- samdkit:pr-comment -->"
HEADLINE = ("sensitivity", "specificity", "ppv", "npv", "accuracy", "f1", "auroc", "auprc")
PASSED = {"success", "pass", "passed", "ok", "0"}
FAILED = {"failure", "fail", "failed", "error", "1"}
NOT_RUN = {"skipped", "cancelled", "", "not run", "manual"}
POST_MODES = ("none", "cml", "gh", "gitlab")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Build the pull/merge-request comment (gates' verdicts, acceptance criteria, metric deltas against "
        "the base branch, lock change) as markdown, write it atomically, and post it when asked."
    )
    parser.add_argument("--output", help="markdown file to write (default: reports/pr-comment.md)")
    parser.add_argument(
        "--base",
        metavar="REF_OR_FILE",
        help="git ref (e.g. origin/main) or evaluation JSON of the base branch",
    )
    parser.add_argument(
        "--gate",
        action="append",
        default=[],
        metavar="NAME=OUTCOME",
        help="a gate's outcome from the CI (success, failure, skipped, cancelled); repeatable",
    )
    parser.add_argument(
        "--post", choices=POST_MODES, default="none", help="how to post it (default: none)"
    )
    parser.add_argument(
        "--post-only", action="store_true", help="post --output as it is; do not rebuild it"
    )
    parser.add_argument("--pr", help="pull/merge request number (default: from the CI environment)")
    parser.add_argument("--format", choices=("text", "json", "github"), default="text")


# --------------------------------------------------------------------------- reading, defensively


def _read_json(path: Path) -> tuple[Any, str | None]:
    """(data, None) or (None, a Markdown line fragment saying why not); size-bounded like every input."""
    if not path.is_file():
        return None, f"{md_code(path.name)} not found"
    try:
        return bounded.read_json(path), None
    except UserError as exc:
        reason = "too large" if "refused" in str(exc) else "unreadable"
        return None, f"{md_code(path.name)} {reason}"


def _git_show(root: Path, ref: str, rel: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "show", f"{ref}:./{rel}"], capture_output=True, check=False
        )
    except OSError:
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "replace")


def _base_evaluation(root: Path, base: str | None, rel: str) -> tuple[Any, str]:
    """(base evaluation or None, a label saying where it came from or why it is missing)."""
    if not base:
        return None, "no base given"
    path = Path(base)
    if path.is_file():
        data, problem = _read_json(path)
        return data, problem or md_code(base)
    text = _git_show(root, base, rel)
    if text is None:
        return None, f"{md_code(base)} has no committed {md_code(rel)}"
    try:
        return bounded.json_text(text, f"{base}:{rel}"), md_code(f"{base}:{rel}")
    except UserError:
        return None, f"{md_code(f'{base}:{rel}')} is not valid JSON"


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _class_entry(evaluation: Any, cls: str) -> Any:
    """The one-vs-rest entry of a class in a multiclass evaluation (None when absent)."""
    items = _dig(evaluation, "overall", "per_class")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("class") == cls:
            return item
    return None


def _metric_value(evaluation: Any, name: str, cls: str | None = None) -> float | None:
    if cls is not None:
        entry = _dig(_class_entry(evaluation, cls), "metrics", name)
        value = entry.get("value") if isinstance(entry, dict) else None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)
    entry = _dig(evaluation, "overall", name)
    if entry is None:
        entry = _dig(evaluation, "overall", "metrics", name)
    value = entry.get("value") if isinstance(entry, dict) else entry
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _fmt(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—"
    return f"{value:.{digits}f}"


def _icon(verdict: str) -> str:
    return {
        "PASS": "✅ pass",
        "FAIL": "❌ fail",
        "ERROR": "⚠️ could not run",
        "NOT RUN": "⏭️ not run",
    }.get(verdict, f"❔ {verdict.lower()}")


def _outcome(value: str) -> str:
    value = value.strip().lower()
    if value in PASSED:
        return "PASS"
    if value in FAILED:
        return "FAIL"
    if value in NOT_RUN:
        return "NOT RUN"
    return value.upper()


# --------------------------------------------------------------------------- sections


def _legacy_results(project) -> dict[str, tuple[str, str]]:
    """Verdicts of the gates' own result files (lint, check-data, verify-lock JSON) in reports/."""
    files = {
        "lint": project.root / "reports" / "lint.json",
        "data check": project.path("data_check"),
        "verify-lock": project.root / "reports" / "verify-lock.json",
    }
    rows = {}
    for name, path in files.items():
        data, _ = _read_json(path)
        if not isinstance(data, dict):
            continue
        verdict = str(data.get("verdict") or "").upper()
        summary = data.get("summary") if isinstance(data.get("summary"), dict) else {}
        if not verdict and isinstance(data.get("success"), bool):  # check-data's own schema
            verdict = "PASS" if data["success"] else "FAIL"
            summary = {k: data[k] for k in ("passed", "total") if k in data}
        detail = ", ".join(
            f"{k}: {v}" for k, v in sorted(summary.items()) if isinstance(v, int | float | str)
        )
        rows[name] = (verdict, detail[:200])
    return rows


def _gates(args: argparse.Namespace, project) -> tuple[list[str], list[tuple[str, str]]]:
    """The gates table and each gate's (name, verdict); the commands that fix a red gate follow it.

    Sources, best first: reports/gates/*.json (`samdkit gate`, `samdkit pipeline-status --output`: verdict,
    reason, fix), the CI's `--gate NAME=OUTCOME`, then the gates' own result files.
    """
    from samdkit.ci import outputs as ci_outputs

    rows: dict[str, tuple[str, str]] = {}
    fixes: dict[str, list[str]] = {}
    outcomes: dict[str, str] = {}
    for item in args.gate:
        name, sep, outcome = item.partition("=")
        if not sep or not name.strip():
            raise UserError(f"--gate {item!r}: expected NAME=OUTCOME")
        outcomes[name.strip()] = _outcome(outcome)
    recorded = {str(r.get("gate")): r for r in ci_outputs.read_gates(project.root)}
    legacy = _legacy_results(project)
    for name in [*outcomes, *(n for n in recorded if n not in outcomes)]:
        result = recorded.get(name)
        if result is not None:
            verdict = str(result.get("verdict") or "ERROR").upper()
            rows[name] = (verdict, str(result.get("reason") or ""))
            fix = result.get("fix")
            if verdict != "PASS" and isinstance(fix, list):
                fixes[name] = [str(c) for c in fix]
            continue
        verdict, detail = outcomes[name], legacy.get(name, ("", ""))[1]
        if verdict == "NOT RUN":
            detail = "not run: an earlier step failed or the job was cancelled"
        elif not detail and verdict != "PASS":
            detail = "no result recorded: see the step's log"
        rows[name] = (verdict, detail)
    for name, (verdict, detail) in legacy.items():
        if name not in rows and verdict in ("PASS", "FAIL"):
            rows[name] = (verdict, detail)
    if not rows:
        return ["_No gate results were given._"], []
    lines = ["| gate | verdict | detail |", "|---|---|---|"]
    lines += [f"| {md_cell(name)} | {_icon(v)} | {md_cell(d)} |" for name, (v, d) in rows.items()]
    if fixes:
        lines += ["", "#### What to do", ""]
        for name, commands in fixes.items():
            if commands:
                lines += [f"**{md_inline(name)}**: run", "", md_fence(commands, "sh"), ""]
    return lines, [(n, v) for n, (v, _) in rows.items()]


def _suppressed(evaluation: dict[str, Any]) -> tuple[set[str], int]:
    """Subgroups a published comment must not describe (small cells, flagged by samdkit evaluate)."""
    size = _dig(evaluation, "publication", "min_cell_size")
    size = size if isinstance(size, int) and not isinstance(size, bool) else 11
    hidden = set()
    for g in evaluation.get("subgroups") or []:
        if not isinstance(g, dict):
            continue
        n = g.get("n") if isinstance(g.get("n"), int) else 0
        if g.get("suppressed", n < size):
            hidden.add(f"{g.get('column')}={g.get('value')}")
    return hidden, size


def _criteria(evaluation: Any, problem: str | None) -> list[str]:
    if evaluation is None:
        return [f"_No evaluation: {problem}._"]
    rows = evaluation.get("criteria") if isinstance(evaluation, dict) else None
    if not isinstance(rows, list) or not rows:
        return ["_The evaluation lists no acceptance criteria._"]
    lines = ["| id | criterion | subgroup | observed | result |", "|---|---|---|---|---|"]
    hidden, size = _suppressed(evaluation)
    for row in rows:
        if not isinstance(row, dict):
            continue
        result = str(row.get("result", "?")).upper()
        text = row.get("criterion") or row.get("text")
        observed = _fmt(row.get("observed"))
        if row.get("subgroup") in hidden:  # one patient's label must not be read off the comment
            observed = md_cell(f"suppressed (n < {size})")
        lines.append(
            f"| {md_cell(row.get('id', '?'))} | {md_cell(text)} | "
            f"{md_cell(row.get('subgroup') or 'all')} | {observed} | "
            f"{md_cell(_icon(result))} |"
        )
    summary = evaluation.get("summary") if isinstance(evaluation.get("summary"), dict) else {}
    if summary:
        lines.append("")
        lines.append(
            md_inline(
                f"{summary.get('passed', '?')} of {summary.get('criteria', '?')} criteria passed."
            )
        )
    return lines


def _deltas(evaluation: Any, base: Any, label: str) -> list[str]:
    if evaluation is None:
        return ["_No evaluation of this change._"]
    names = evaluation.get("headline_metrics") if isinstance(evaluation, dict) else None
    names = [n for n in (names if isinstance(names, list) else HEADLINE) if isinstance(n, str)]
    lines = [f"Base: {label}.", "", "| metric | base | this change | Δ |", "|---|---|---|---|"]
    rows: list[tuple[str, str, str | None]] = [(n, n, None) for n in names]
    classes = evaluation.get("classes") if isinstance(evaluation, dict) else None
    per_class = evaluation.get("class_metrics") if isinstance(evaluation, dict) else None
    if isinstance(classes, list) and isinstance(per_class, list):  # multiclass: one-vs-rest rows
        rows = [(f"{n} (macro)" if n == "auroc" else n, n, None) for n in names]
        rows += [
            (f"{n} of class {c}", n, c)
            for c in classes
            if isinstance(c, str)
            for n in per_class
            if isinstance(n, str)
        ]
    for shown, name, cls in rows:
        new, old = _metric_value(evaluation, name, cls), _metric_value(base, name, cls)
        delta = "—" if new is None or old is None else f"{new - old:+.3f}"
        lines.append(f"| {md_cell(shown)} | {_fmt(old)} | {_fmt(new)} | {delta} |")
    return lines


def _lock_change(root: Path, base: str | None, lock_path: Path) -> list[str]:
    """Lines describing how model.lock changed against the base ref (empty when unchanged or unknown)."""
    if not base or Path(base).is_file() or not lock_path.is_file():
        return []
    rel = (
        lock_path.relative_to(root).as_posix() if lock_path.is_relative_to(root) else lock_path.name
    )
    old_text = _git_show(root, base, rel)
    if old_text is None:
        return [f"{md_code(rel)} is new in this change (no committed lock on {md_code(base)})."]
    new_text = lock_path.read_text(encoding="utf-8", errors="replace")
    if old_text == new_text:
        return []
    try:  # the lock engineer's diff, when present; else say only that it changed
        from samdkit.lock import diff as lock_diff
        from samdkit.lock import schema as lockfile

        changes = lock_diff.diff_locks(
            lockfile.parse(old_text, f"{base}:{rel}"), lockfile.parse(new_text, rel)
        )
        changed = lock_diff.model_changed(changes)
        text = lock_diff.render(changes, "text", base=f"{base}:{rel}", current=rel)
    except Exception as exc:  # a malformed lock must not stop the comment
        return [
            f"{md_code(rel)} changed against {md_code(base)} "
            f"(details unavailable: {type(exc).__name__})."
        ]
    head = (
        "The **model changed**"
        if changed
        else "The model is unchanged; the lock's metadata changed"
    )
    return [f"{head} against {md_code(base)}:", "", md_fence(text.strip().splitlines())]


def build(args: argparse.Namespace, project) -> tuple[str, str]:
    """(markdown, overall verdict)."""
    eval_path = project.path("evaluation")
    evaluation, problem = _read_json(eval_path)
    if evaluation is not None and not isinstance(evaluation, dict):
        evaluation, problem = None, f"`{eval_path.name}` is not a JSON object"
    if evaluation is not None and evaluation.get("schema") not in SCHEMAS:  # strict, as the report
        evaluation, problem = (
            None,
            f"{md_code(eval_path.name)} has a schema this samdkit does not read",
        )
    gate_lines, gates = _gates(args, project)
    verdicts = [v for _, v in gates]
    eval_verdict = str(evaluation.get("verdict", "")).upper() if evaluation else ""
    if eval_verdict:
        verdicts.append(eval_verdict)
    red = {"FAIL", "ERROR"}
    overall = "FAIL" if red & set(verdicts) else ("PASS" if verdicts else "UNKNOWN")
    rel_eval = (
        eval_path.relative_to(project.root).as_posix()
        if eval_path.is_relative_to(project.root)
        else eval_path.name
    )
    base, label = _base_evaluation(project.root, args.base, rel_eval)
    if isinstance(base, dict) and base.get("schema") not in SCHEMAS:
        base, label = None, f"{label} (a schema this samdkit does not read)"
    title = {"PASS": "✅ all gates passed", "FAIL": "❌ a gate failed"}.get(
        overall, "❔ no verdict"
    )
    parts = [MARKER, f"## samdkit: {title}", "", "### Gates", "", *gate_lines, ""]
    parts += ["### Acceptance criteria", "", *_criteria(evaluation, problem), ""]
    parts += ["### Metrics against the base branch", "", *_deltas(evaluation, base, label), ""]
    lock = _lock_change(project.root, args.base, project.path("model_lock"))
    if lock:
        parts += ["### Model lock", "", *lock, ""]
    parts.append(f"<sub>samdkit {__version__} · `samdkit comment`</sub>")
    return "\n".join(parts) + "\n", overall


# --------------------------------------------------------------------------- posting


def post_command(mode: str, file: Path, pr: str | None) -> tuple[list[str], str | None]:
    """The exact argv that posts `file`, and what goes to its stdin (the GitLab token), for a mode."""
    if mode == "cml":
        tail = ["comment", "update", "--publish=false", "--target=pr", str(file)]
        if shutil.which("cml"):
            return ["cml", *tail], None
        return ["npx", "-y", f"@dvcorg/cml@{CML_VERSION}", *tail], None
    if mode == "gh":
        target = [pr] if pr else []
        return [
            "gh",
            "pr",
            "comment",
            *target,
            "--edit-last",
            "--create-if-none",
            "--body-file",
            str(file),
        ], None
    if mode == "gitlab":
        env = os.environ
        api, project_id = env.get("CI_API_V4_URL"), env.get("CI_PROJECT_ID")
        iid = pr or env.get("CI_MERGE_REQUEST_IID")
        token = env.get("GITLAB_TOKEN") or env.get("SAMDKIT_GITLAB_TOKEN")
        missing = [
            n
            for n, v in (
                ("CI_API_V4_URL", api),
                ("CI_PROJECT_ID", project_id),
                ("CI_MERGE_REQUEST_IID or --pr", iid),
                ("GITLAB_TOKEN", token),
            )
            if not v
        ]
        if missing:
            raise UserError(f"--post gitlab needs {', '.join(missing)}")
        url = f"{api}/projects/{project_id}/merge_requests/{iid}/notes"
        argv = [
            "curl",
            "--fail-with-body",
            "-sS",
            "-X",
            "POST",
            "-H",
            "@-",
            "--data-urlencode",
            f"body@{file}",
            url,
        ]
        return argv, f"PRIVATE-TOKEN: {token}\n"
    raise UserError(f"--post {mode}: unknown mode")


def post(mode: str, file: Path, pr: str | None) -> int:
    argv, stdin = post_command(mode, file, pr)
    print(f"samdkit comment: posting with: {' '.join(argv)}", file=sys.stderr)
    try:
        done = subprocess.run(argv, input=stdin, text=True, check=False)
    except FileNotFoundError:
        raise UserError(f"--post {mode}: {argv[0]} not found on PATH", exit_code=1) from None
    if done.returncode != 0:
        print(f"samdkit comment: {argv[0]} exited {done.returncode}", file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    project = load_project(".")
    output = Path(args.output) if args.output else project.path("reports") / "pr-comment.md"
    pr = args.pr or os.environ.get("PR_NUMBER") or None
    if args.post_only:
        if not output.is_file():
            raise UserError(f"{output}: file not found (build it first: samdkit comment)")
        verdict = "UNKNOWN"
    else:
        markdown, verdict = build(args, project)
        atomic.write_text(output, markdown)
        # inside GitHub Actions: the job summary and the verdict output (nothing elsewhere)
        from samdkit.ci import outputs as ci_outputs

        ci_outputs.github_summary(markdown)
        ci_outputs.github_outputs({"verdict": verdict, "comment": str(output)})
        if args.format == "json":
            print(json.dumps({"output": str(output), "verdict": verdict}, sort_keys=True))
        else:
            print(f"samdkit comment: wrote {output} (verdict: {verdict})")
    if args.post != "none":
        return post(args.post, output, pr)
    return 0
