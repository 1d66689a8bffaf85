"""`samdkit comment`: the pull/merge-request comment, as markdown, and (when asked) the command that posts it.

The markdown holds the gates' verdicts (from `--gate NAME=OUTCOME` given by the CI and the gate result files
in reports/), the acceptance criteria of reports/evaluation.json, headline-metric deltas against the base
branch's committed evaluation (`--base <git ref or file>`), and the model.lock change when the model
changed. Every input is read through its strict reader (gate results: `samdkit.core.findings`; the
evaluation: `samdkit.evaluate.document`; the data-check result: `samdkit.data.result`; model.lock:
`samdkit.lock.schema`): a missing file becomes a line in the comment, so the comment also explains a red
pipeline, but a foreign or hand-edited file is exit 2 naming the field, never a table built from a guess.
The evaluation or lock committed on the base ref is history: when this samdkit cannot read it, a line says so.

Posting is thin: `--post cml` runs `npx -y @dvcorg/cml@0.20.6 comment update --publish=false --target=pr FILE`
(a `cml` on PATH is used as it is); `--post gh` runs `gh pr comment [N] --edit-last --create-if-none
--body-file FILE`; `--post gitlab` POSTs the file to the merge request's notes API with curl (token read
from stdin, never on the command line). Exit 0 unless the inputs are unusable (2) or posting fails (1).
`--format json` prints the gate-result envelope (gate `comment`; outputs: verdict, comment).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from samdkit import __version__
from samdkit.core import atomic
from samdkit.core.errors import UserError
from samdkit.core.escape import md_cell, md_code, md_fence, md_inline
from samdkit.core.findings import GateResult, read_result, render_result
from samdkit.core.options import add_format_option
from samdkit.core.project import load_project

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
    add_format_option(parser)


# --------------------------------------------------------------------------- reading, strictly


def _evidence(path: Path, read: Callable[[Path], Any]) -> tuple[Any, str | None]:
    """(document, None) through its strict reader, or (None, why) when the file is absent.

    A present but foreign or hand-edited file is not explained away: the reader's UserError (exit 2,
    naming the field) stops the comment, so a reviewer never reads a table built from a guess.
    """
    if not path.is_file():
        return None, f"{md_code(path.name)} not found"
    return read(path), None


def _base_evaluation(root: Path, base: str | None, rel: str) -> tuple[Any, str]:
    """(base evaluation or None, a label saying where it came from or why it is missing).

    A file given as --base is read strictly (exit 2 on a defect); the evaluation committed on a base ref
    is history written by another samdkit: when this one cannot read it, the comment says why in a line.
    """
    from samdkit.core import bounded, gitinfo
    from samdkit.evaluate import document

    if not base:
        return None, "no base given"
    if Path(base).is_file():
        return document.read(base), md_code(base)
    data = gitinfo.show_file(root, base, rel)
    if data is None:
        return None, f"{md_code(base)} has no committed {md_code(rel)}"
    where = f"{base}:{rel}"
    try:
        return document.validate(bounded.json_text(data, where), where), md_code(where)
    except UserError as exc:
        return None, f"{md_code(where)} is not readable by this samdkit ({md_inline(str(exc))})"


def _entry(evaluation: dict[str, Any] | None, cls: str | None) -> dict[str, Any] | None:
    """The overall entry, or a class's one-vs-rest entry of a multiclass evaluation."""
    if evaluation is None:
        return None
    overall = evaluation["overall"]
    if cls is None:
        return overall
    return next((e for e in overall.get("per_class", []) if e["class"] == cls), None)


def _metric_value(
    evaluation: dict[str, Any] | None, name: str, cls: str | None = None
) -> float | None:
    entry = _entry(evaluation, cls)
    metric = entry["metrics"].get(name) if entry is not None else None
    value = metric["value"] if metric is not None else None
    return None if value is None else float(value)


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


def _counts(summary: dict[str, Any]) -> str:
    shown = sorted((k, v) for k, v in summary.items() if isinstance(v, int | float | str))
    return ", ".join(f"{k}: {v}" for k, v in shown)[:200]


def _result_files(project) -> dict[str, tuple[str, str]]:
    """Verdicts of the gates' own result files in reports/, each through its strict reader."""
    from samdkit.data import result as data_result

    rows = {}
    for name, key in (("lint", "lint_result"), ("verify-lock", "verify_lock_result")):
        found, _ = _evidence(project.path(key), read_result)
        if found is not None:
            rows[name] = (found.verdict, _counts(found.summary))
    data, _ = _evidence(project.path("data_check"), data_result.read)
    if data is not None:
        counts = {k: data[k] for k in ("passed", "total")}
        rows["data check"] = ("PASS" if data["success"] else "FAIL", _counts(counts))
    return rows


def _ci_outcomes(items: list[str]) -> dict[str, str]:
    outcomes = {}
    for item in items:
        name, sep, outcome = item.partition("=")
        if not sep or not name.strip():
            raise UserError(f"--gate {item!r}: expected NAME=OUTCOME")
        outcomes[name.strip()] = _outcome(outcome)
    return outcomes


def _gate_rows(
    args: argparse.Namespace, project
) -> tuple[dict[str, tuple[str, str]], dict[str, list[str]]]:
    """Each gate's (verdict, detail) and the commands that fix each red one.

    Sources, best first: reports/gates/*.json (`samdkit gate`, `samdkit pipeline-status --output`), the CI's
    `--gate NAME=OUTCOME`, then the gates' own result files.
    """
    from samdkit.ci import outputs as ci_outputs

    outcomes = _ci_outcomes(args.gate)
    recorded = {r.gate: r for r in ci_outputs.read_gates(project.root)}
    files = _result_files(project)
    rows: dict[str, tuple[str, str]] = {}
    fixes: dict[str, list[str]] = {}
    for name in [*outcomes, *(n for n in recorded if n not in outcomes)]:
        result = recorded.get(name)
        if result is not None:
            rows[name] = (result.verdict.upper(), ci_outputs.reason_of(result))
            if not result.passed and ci_outputs.fix_of(result):
                fixes[name] = ci_outputs.fix_of(result)
            continue
        verdict, detail = outcomes[name], files.get(name, ("", ""))[1]
        if verdict == "NOT RUN":
            detail = "not run: an earlier step failed or the job was cancelled"
        elif not detail and verdict != "PASS":
            detail = "no result recorded: see the step's log"
        rows[name] = (verdict, detail)
    for name, (verdict, detail) in files.items():
        if name not in rows and verdict in ("PASS", "FAIL"):
            rows[name] = (verdict, detail)
    return rows, fixes


def _gates(args: argparse.Namespace, project) -> tuple[list[str], list[tuple[str, str]]]:
    """The gates table and each gate's (name, verdict); the commands that fix a red gate follow it."""
    rows, fixes = _gate_rows(args, project)
    if not rows:
        return ["_No gate results were given._"], []
    lines = ["| gate | verdict | detail |", "|---|---|---|"]
    lines += [f"| {md_cell(name)} | {_icon(v)} | {md_cell(d)} |" for name, (v, d) in rows.items()]
    if fixes:
        lines += ["", "#### What to do", ""]
        for name, commands in fixes.items():
            lines += [f"**{md_inline(name)}**: run", "", md_fence(commands, "sh"), ""]
    return lines, [(n, v) for n, (v, _) in rows.items()]


def _suppressed(evaluation: dict[str, Any]) -> tuple[set[str], int]:
    """Subgroups a published comment must not describe (small cells, flagged by samdkit evaluate)."""
    size = evaluation["publication"]["min_cell_size"]
    hidden = {f"{g['column']}={g['value']}" for g in evaluation["subgroups"] if g["suppressed"]}
    return hidden, size


def _criteria(evaluation: dict[str, Any] | None, problem: str | None) -> list[str]:
    if evaluation is None:
        return [f"_No evaluation: {problem}._"]
    rows = evaluation["criteria"]
    if not rows:
        return ["_The evaluation lists no acceptance criteria._"]
    lines = ["| id | criterion | subgroup | observed | result |", "|---|---|---|---|---|"]
    hidden, size = _suppressed(evaluation)
    for row in rows:
        observed = _fmt(row["observed"])
        if row["subgroup"] in hidden:  # one patient's label must not be read off the comment
            observed = md_cell(f"suppressed (n < {size})")
        lines.append(
            f"| {md_cell(row['id'])} | {md_cell(row['criterion'])} | "
            f"{md_cell(row['subgroup'] or 'all')} | {observed} | {md_cell(_icon(row['result']))} |"
        )
    summary = evaluation["summary"]
    lines += ["", md_inline(f"{summary['passed']} of {summary['criteria']} criteria passed.")]
    return lines


def _delta_rows(evaluation: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(shown name, metric, class or None) for each row: headline metrics, then one-vs-rest rows."""
    names = evaluation["headline_metrics"]
    if "classes" not in evaluation:
        return [(n, n, None) for n in names]
    rows = [(f"{n} (macro)" if n == "auroc" else n, n, None) for n in names]
    return rows + [
        (f"{n} of class {c}", n, c)
        for c in evaluation["classes"]
        for n in evaluation["class_metrics"]
    ]


def _deltas(
    evaluation: dict[str, Any] | None, base: dict[str, Any] | None, label: str
) -> list[str]:
    if evaluation is None:
        return ["_No evaluation of this change._"]
    lines = [f"Base: {label}.", "", "| metric | base | this change | Δ |", "|---|---|---|---|"]
    for shown, name, cls in _delta_rows(evaluation):
        new, old = _metric_value(evaluation, name, cls), _metric_value(base, name, cls)
        delta = "—" if new is None or old is None else f"{new - old:+.3f}"
        lines.append(f"| {md_cell(shown)} | {_fmt(old)} | {_fmt(new)} | {delta} |")
    return lines


def _base_lock(data: bytes, where: str) -> tuple[dict[str, Any] | None, str]:
    """(the base ref's lock, or None and why): history an older samdkit wrote, read strictly (strict
    UTF-8, the lock's own reader); a defect is named, never quoted, and never stops the comment."""
    from samdkit.lock import schema as lockfile

    try:
        return lockfile.parse(data.decode("utf-8"), where), ""
    except UnicodeDecodeError:
        return None, f"{where}: malformed lock: not UTF-8 text"
    except UserError as exc:  # names the file and the field, never the file's content
        return None, str(exc)


def _lock_change(project, base: str | None) -> list[str]:
    """Lines describing how model.lock changed against the base ref (empty when unchanged or unknown)."""
    from samdkit.core import gitinfo
    from samdkit.lock import diff as lock_diff
    from samdkit.lock import schema as lockfile

    lock_path = project.path("model_lock")
    if not base or Path(base).is_file() or not lock_path.is_file():
        return []
    rel = project.rel(lock_path) or lock_path.name
    old_bytes = gitinfo.show_file(project.root, base, rel)
    if old_bytes is None:
        return [f"{md_code(rel)} is new in this change (no committed lock on {md_code(base)})."]
    new = lockfile.read(lock_path)  # this change's lock: strict
    old, why = _base_lock(old_bytes, f"{base}:{rel}")
    if old is None:
        return [
            f"Model history unavailable (this samdkit cannot read the base's lock): {md_inline(why)}."
        ]
    changes = lock_diff.diff_locks(old, new)
    if not changes:
        return []
    text = lock_diff.render(changes, "text", base=f"{base}:{rel}", current=rel)
    head = (
        "The **model changed**"
        if lock_diff.model_changed(changes)
        else "The model is unchanged; the lock's metadata changed"
    )
    return [f"{head} against {md_code(base)}:", "", md_fence(text.strip().splitlines())]


def _overall(gates: list[tuple[str, str]], evaluation: dict[str, Any] | None) -> str:
    verdicts = [v for _, v in gates] + ([evaluation["verdict"]] if evaluation else [])
    if {"FAIL", "ERROR"} & set(verdicts):
        return "FAIL"
    return "PASS" if verdicts else "UNKNOWN"


def build(args: argparse.Namespace, project) -> tuple[str, str]:
    """(markdown, overall verdict); every present evidence file is read strictly (UserError, exit 2)."""
    from samdkit.evaluate import document

    eval_path = project.path("evaluation")
    evaluation, problem = _evidence(eval_path, document.read)
    gate_lines, gates = _gates(args, project)
    overall = _overall(gates, evaluation)
    rel_eval = project.rel(eval_path) or eval_path.name
    base, label = _base_evaluation(project.root, args.base, rel_eval)
    title = {"PASS": "✅ all gates passed", "FAIL": "❌ a gate failed"}.get(
        overall, "❔ no verdict"
    )
    parts = [MARKER, f"## samdkit: {title}", "", "### Gates", "", *gate_lines, ""]
    parts += ["### Acceptance criteria", "", *_criteria(evaluation, problem), ""]
    parts += ["### Metrics against the base branch", "", *_deltas(evaluation, base, label), ""]
    lock = _lock_change(project, args.base)
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
    output = Path(args.output) if args.output else project.path("comment")
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
        ci_outputs.github_outputs({"verdict": verdict, "comment": str(output)})  # as --format json
        if args.format == "json":
            result = GateResult(
                gate="comment",
                verdict=verdict,
                outputs={"verdict": verdict, "comment": str(output)},
                detail={"output": str(output)},
            )
            print(render_result(result, "json"))
        else:
            print(f"samdkit comment: wrote {output} (verdict: {verdict})")
    if args.post != "none":
        return post(args.post, output, pr)
    return 0
