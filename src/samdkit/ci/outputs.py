"""Gate results and CI outputs, written by samdkit itself so no pipeline parses JSON or greps text.

A gate's record is one file per gate under reports/gates/, in the one gate-result envelope every
`--format json` prints (`samdkit.core.findings`, schema samdkit/gate-result/v1): the verdict (PASS, FAIL, or
ERROR when the gate could not run), `detail.reason` (one line) and `detail.fix` (the commands that fix it).
`samdkit gate NAME -- CMD...` runs any gate command (samdkit's own, pytest) and records its result, so every
gate of a pipeline reports even when another failed; `samdkit gate --verdict` reads them all at the end and
fails the job when one did not pass; `samdkit comment` turns them into the reviewer's table.

Inside GitHub Actions ($GITHUB_OUTPUT / $GITHUB_STEP_SUMMARY set) the same code writes the step outputs and
the job summary; `--verdict --dotenv FILE` writes the GitLab dotenv report (`artifacts:reports:dotenv`), so
actions and jobs are a few lines that call samdkit.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import Any

from samdkit.core import atomic
from samdkit.core.errors import UserError
from samdkit.core.findings import (
    FORMATS,
    Finding,
    GateResult,
    Severity,
    read_result,
    render_result,
    validate_result,
)
from samdkit.core.project import load_project

VERDICTS = ("PASS", "FAIL", "ERROR")
DOTENV_MAX_BYTES = 5000  # GitLab refuses a dotenv report of 5 KiB or more
DOTENV_MAX_VALUE = 200

# what a reviewer runs locally when a gate is red (a gate may give better, e.g. pipeline-status does)
DEFAULT_FIX: dict[str, list[str]] = {
    "lint": ["samdkit lint", "ruff check --fix . && ruff format ."],
    "data check": ["samdkit check-data  # reports/data-check.json lists each failed expectation"],
    "tests": ["python -m pytest"],
    "locked model": [
        "samdkit verify-lock  # says which file, prediction or setting differs from model.lock",
        "dvc repro lock && git add model.lock  # when the model change is intended (or never committed)",
    ],
    "evaluation": ["samdkit evaluate  # reports/evaluation.json lists each failed criterion"],
}
_WORKFLOW_COMMAND = re.compile(r"^::[a-z-]+")
_ERROR_LINE = re.compile(r"^samdkit [\w-]+: (internal )?error: ")


def slug(name: str) -> str:
    """File name of a gate's result: 'data check' -> data-check."""
    text = re.sub(r"[^a-z0-9]+", "-", name.strip().lower()).strip("-")
    if not text:
        raise UserError(f"gate name {name!r}: needs a letter or digit")
    return text


def gates_dir(root: Path) -> Path:
    """The project's gate-results folder (paths table key `gate_results`, after its overrides)."""
    return load_project(root).path("gate_results")


def gate_path(root: Path, name: str) -> Path:
    return gates_dir(root) / f"{slug(name)}.json"


def gate_result(
    name: str,
    verdict: str,
    reason: str,
    fix: list[str],
    found: list[Finding] | None = None,
    **detail: Any,
) -> GateResult:
    """A gate's record in the one envelope: `detail` holds its reason and fix, `outputs` what CI shows.

    Without findings of its own, a red gate's reason is its one error finding.
    """
    if verdict not in VERDICTS:
        raise ValueError(verdict)
    reason = reason[:300]
    if found is None:
        found = [] if verdict == "PASS" else [Finding(slug(name), reason)]
    passed = verdict == "PASS"
    return GateResult(
        gate=name,
        verdict=verdict,
        findings=found,
        outputs={"verdict": verdict, "passed": str(passed).lower(), "reason": reason},
        detail={"reason": reason, "fix": [] if passed else list(fix), **detail},
    )


def reason_of(result: GateResult) -> str:
    """One line saying why: the record's `detail.reason`, else its first error finding, else the verdict."""
    reason = result.detail.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise UserError(f"gate result {result.gate!r}: field 'detail.reason' must be str")
    if reason:
        return reason
    errors = [f.message for f in result.findings if f.severity == Severity.ERROR]
    return errors[0] if errors else ("passed" if result.passed else result.verdict)


def fix_of(result: GateResult) -> list[str]:
    """The commands that make a red gate green (`detail.fix`, a list of strings; empty when absent)."""
    fix = result.detail.get("fix", [])
    if not isinstance(fix, list) or not all(isinstance(c, str) for c in fix):
        raise UserError(f"gate result {result.gate!r}: field 'detail.fix' must be a list of str")
    return fix


def write_gate(path: Path, result: GateResult) -> None:
    atomic.write_json(path, result.to_json())


def read_gates(root: Path) -> list[GateResult]:
    """Every gate result under reports/gates/, oldest first (the pipeline's order), read strictly."""
    folder = gates_dir(root)
    if not folder.is_dir():
        return []
    paths = sorted(folder.glob("*.json"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    return [read_result(path) for path in paths]


# --------------------------------------------------------------------------- GitHub Actions, GitLab dotenv


def github_outputs(values: dict[str, str]) -> None:
    """Append step outputs to $GITHUB_OUTPUT (nothing outside GitHub Actions)."""
    target = os.environ.get("GITHUB_OUTPUT")
    if not target:
        return
    with open(target, "a", encoding="utf-8") as out:
        for key, value in values.items():
            value = str(value)
            if "\n" in value:
                out.write(f"{key}<<SAMDKIT_EOF\n{value}\nSAMDKIT_EOF\n")
            else:
                out.write(f"{key}={value}\n")


def github_summary(markdown: str) -> None:
    """Append markdown to the job summary ($GITHUB_STEP_SUMMARY; nothing outside GitHub Actions)."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(markdown.rstrip("\n") + "\n\n")


def publish(result: GateResult) -> None:
    """A gate result as step outputs (its `outputs`) and a summary line with the commands that fix it."""
    icon = {"PASS": "✅", "FAIL": "❌"}.get(result.verdict, "⚠️")
    github_outputs(result.outputs)
    lines = [f"{icon} **{result.gate}**: {result.verdict} — {reason_of(result)}"]
    lines += [f"    {cmd}" for cmd in fix_of(result)]
    github_summary("\n".join(lines))


def _dotenv_value(text: str) -> str:
    """One line GitLab's dotenv parser keeps as written: no newline or control character, no secret."""
    from samdkit.data.sources import redact  # a database URL's password never reaches a variable

    flat = re.sub(r"[\x00-\x1f\x7f]+", " ", redact(text)).strip()
    return flat[:DOTENV_MAX_VALUE]


def dotenv_lines(results: list[GateResult]) -> list[str]:
    """`KEY=value` lines for `artifacts:reports:dotenv`: the overall verdict, then each gate's.

    Keys are SAMDKIT_GATES, SAMDKIT_GATES_FAILED and SAMDKIT_<GATE>_VERDICT / _REASON (ASCII letters,
    digits, underscores); lines that would take the file over GitLab's 5 KiB limit are left out.
    """
    bad = [r.gate for r in results if not r.passed]
    lines = [
        f"SAMDKIT_GATES={'FAIL' if bad or not results else 'PASS'}",
        f"SAMDKIT_GATES_FAILED={_dotenv_value(','.join(slug(n) for n in bad))}",
    ]
    for r in results:
        key = "SAMDKIT_" + slug(r.gate).replace("-", "_").upper()
        lines.append(f"{key}_VERDICT={_dotenv_value(r.verdict)}")
        lines.append(f"{key}_REASON={_dotenv_value(reason_of(r))}")
    kept, size = [], 0
    for line in lines:
        size += len(line.encode("utf-8")) + 1
        if size < DOTENV_MAX_BYTES:
            kept.append(line)
    return kept


def write_dotenv(path: Path, results: list[GateResult]) -> None:
    atomic.write_text(path, "\n".join(dotenv_lines(results)) + "\n")


# --------------------------------------------------------------------------- samdkit gate


def _value(node: Any, key: str, where: str) -> str:
    """A dotted key of a result as a step output: a list gives its length, a bool true/false.

    A key the result does not hold is bad input naming it (the action and the command have drifted),
    except under `outputs`, where a value the command did not give (not applicable this run) is empty.
    """
    for part in key.split("."):
        if isinstance(node, dict) and part not in node and key.startswith("outputs."):
            return ""
        if not isinstance(node, dict) or part not in node:
            raise UserError(f"{where}: no field '{key}' to expose")
        node = node[part]
    if isinstance(node, bool):
        return str(node).lower()
    if isinstance(node, list):
        return str(len(node))
    return "" if node is None or isinstance(node, dict) else str(node)


def _exposable(path: Path) -> dict[str, Any] | None:
    """A result file read by its own strict reader, chosen by its declared schema (None when absent).

    Gate results (every `--format json`), check-data's result (plus `failed`) and model.lock are read.
    """
    from samdkit.core import bounded

    if not path.is_file():
        return None
    try:
        doc = bounded.read_json(path, str(path))
    except UserError:
        raise UserError(f"{path}: not a readable JSON result") from None
    if isinstance(doc, dict) and "schema_version" in doc:  # model.lock's own versioning
        from samdkit.lock import schema as lock_schema

        return lock_schema.validate(doc, str(path))
    from samdkit.data import result as data_result

    if isinstance(doc, dict) and doc.get("schema") == data_result.SCHEMA:
        doc = data_result.validate(doc, str(path))
        return {**doc, "failed": doc["total"] - doc["passed"]}
    return validate_result(doc, str(path)).to_json()  # else a gate result, or bad input naming why


def expose(path: Path, pairs: list[str]) -> dict[str, str]:
    """Step outputs from a samdkit result file: KEY=NAME pairs (NAME defaults to KEY's last part)."""
    data = _exposable(path)
    outputs = {}
    for pair in pairs:
        key, _, name = pair.partition("=")
        name = name or key.rpartition(".")[2].replace("_", "-")
        outputs[name] = _value(data, key, str(path)) if data is not None else ""
    github_outputs(outputs)
    return outputs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run one gate command and record its verdict under reports/gates/ (NAME -- CMD...), "
        "or, with --verdict, fail when any recorded gate did not pass."
    )
    parser.add_argument("name", nargs="?", help="the gate's name, e.g. 'tests'")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, help="-- then the command to run")
    parser.add_argument(
        "--fix", action="append", default=[], metavar="CMD", help="a command that fixes it"
    )
    parser.add_argument(
        "--verdict",
        action="store_true",
        help="read every gate result (after waiting for --background gates); exit 1 unless all passed",
    )
    parser.add_argument(
        "--background",
        action="store_true",
        help="before NAME: start the gate beside the next steps and return at once (for a gate that "
        "needs no pipeline output, e.g. lint, so it runs on the runner's second core)",
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="wait for every --background gate to record its result; print its log, publish it",
    )
    parser.add_argument(
        "--expect", action="append", default=[], metavar="NAME", help="with --verdict: must exist"
    )
    parser.add_argument(
        "--dotenv",
        metavar="FILE",
        help="with --verdict: also write every gate's verdict and reason as KEY=value lines "
        "(GitLab artifacts:reports:dotenv)",
    )
    parser.add_argument(
        "--expose-from",
        metavar="FILE",
        help="write step outputs from this result (a gate result, check-data's result or model.lock), "
        "with --expose KEY[=NAME]",
    )
    parser.add_argument(
        "--expose", action="append", default=[], metavar="KEY[=NAME]", help="a key to expose"
    )
    parser.add_argument(
        "--render",
        choices=FORMATS[::2],
        metavar="FORMAT",
        help="with --expose-from a gate result: also print its findings and verdict (text or github)",
    )
    parser.add_argument(
        "--value",
        action="store_true",
        help="with --expose-from: print only the values, one a line (for a shell variable)",
    )


def _reason(lines: list[str], code: int) -> str:
    """One line a reviewer can read: samdkit's own error line, else the command's last words."""
    plain = [ln.strip(" =\n") for ln in lines if not _WORKFLOW_COMMAND.match(ln)]  # pytest's ===
    plain = [ln for ln in plain if ln]
    errors = [ln for ln in plain if _ERROR_LINE.match(ln)]
    if errors:
        return errors[-1]
    if plain:
        return plain[-1]
    return "passed" if code == 0 else f"exited {code} without a message"


def _split_options(cmd: list[str], fix: list[str]) -> tuple[list[str], list[str]]:
    """NAME [--fix CMD]... -- COMMAND: argparse's remainder keeps the options given after NAME."""
    if cmd[:1] == ["--"]:
        return cmd[1:], fix
    if cmd[:1] != ["--fix"] or "--" not in cmd:  # the command itself may hold a later "--"
        return cmd, fix
    cut = cmd.index("--")
    before, cmd = cmd[:cut], cmd[cut + 1 :]
    fix = list(fix)
    while before:
        if before[0] != "--fix" or len(before) < 2:
            raise UserError(f"unexpected {before[0]!r} before -- (only --fix CMD goes there)")
        fix.append(before[1])
        before = before[2:]
    return cmd, fix


def _run_gate(name: str, cmd: list[str], fix: list[str]) -> int:
    cmd, fix = _split_options(cmd, fix)
    if not cmd:
        raise UserError(f"gate {name!r}: no command given (samdkit gate NAME -- CMD ...)")
    path = gate_path(Path.cwd(), name)  # checked before anything runs
    tail: deque[str] = deque(maxlen=40)
    try:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        )
    except OSError as exc:
        code, tail = 127, deque([f"{cmd[0]}: cannot run ({exc.strerror})"])
    else:
        for line in proc.stdout:  # the log and the annotations stay as the command printed them
            sys.stdout.write(line)
            tail.append(line)
        code = proc.wait()
    verdict = "PASS" if code == 0 else ("FAIL" if code == 1 else "ERROR")
    from samdkit.data.sources import redact  # a database URL's password never reaches the result

    reason = redact(_reason(list(tail), code))
    if verdict == "ERROR":
        reason = f"could not run: {reason}"
    shown = redact(" ".join(cmd))
    result = gate_result(
        name,
        verdict,
        reason,
        fix or DEFAULT_FIX.get(name, [shown]),
        exit_code=code,
        command=shown,
    )
    write_gate(path, result)
    publish(result)
    return code


def collect_background(root: Path) -> None:
    """Wait for the --background gates; publish each result here (ERROR when one recorded none)."""
    from samdkit.ci import background

    for name, path in background.wait(gates_dir(root)):
        if path.is_file():
            result = read_result(path)
        else:
            result = gate_result(
                name, "ERROR", "could not run: ended without recording a result", []
            )
            write_gate(path, result)
        publish(result)


def _verdict(expect: list[str], dotenv: str | None) -> int:
    """Read every recorded gate strictly; exit 1 unless each passed (a gate expected but absent is ERROR)."""
    collect_background(Path.cwd())
    results = {r.gate: r for r in read_gates(Path.cwd())}
    for name in expect:
        results.setdefault(name, gate_result(name, "ERROR", "did not run (no result)", []))
    if dotenv:
        write_dotenv(Path(dotenv), list(results.values()))
    if not results:
        print("samdkit gate: no gate result under reports/gates/", file=sys.stderr)
        return 1
    for r in results.values():
        print(f"{r.verdict:<5} {r.gate}: {reason_of(r)}")
    bad = [n for n, r in results.items() if not r.passed]
    print(f"gates: {'PASS' if not bad else 'FAIL (' + ', '.join(bad) + ')'}")
    return 1 if bad else 0


def run(args: argparse.Namespace) -> int:
    if args.dotenv and not args.verdict:
        raise UserError("--dotenv goes with --verdict (it writes every recorded gate's verdict)")
    if (args.render or args.value or args.expose) and not args.expose_from:
        raise UserError("--expose, --value and --render go with --expose-from FILE")
    if args.expose_from:
        if args.name or args.verdict:
            raise UserError("--expose-from runs alone (no gate NAME, no --verdict)")
        path = Path(args.expose_from)
        if args.render and path.is_file():
            print(render_result(read_result(path), args.render))
        for key, value in expose(path, args.expose).items():
            print(value if args.value else f"{key}={value}")
        return 0
    if args.verdict:
        return _verdict(args.expect, args.dotenv)
    if args.wait:
        if args.name:
            raise UserError("--wait runs alone (no gate NAME)")
        collect_background(Path.cwd())
        return 0
    if not args.name:
        raise UserError("give a gate NAME and -- CMD, or --verdict")
    if args.background:
        from samdkit.ci import background

        cmd, fix = _split_options(list(args.cmd), args.fix)
        if not cmd:
            raise UserError(f"gate {args.name!r}: no command given (samdkit gate NAME -- CMD ...)")
        return background.start(gate_path(Path.cwd(), args.name), args.name, cmd, fix)
    return _run_gate(args.name, list(args.cmd), args.fix)
