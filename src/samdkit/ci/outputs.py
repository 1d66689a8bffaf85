"""Gate results and CI outputs, written by samdkit itself so no pipeline parses JSON or greps text.

A gate result is one small JSON file per gate under reports/gates/ (schema `samdkit/gate-result/v1`): the
verdict (PASS, FAIL, or ERROR when the gate could not run), one line of reason, and the commands that fix it.
`samdkit gate NAME -- CMD...` runs any gate command (samdkit's own, pytest) and records its result, so every
gate of a pipeline reports even when another failed; `samdkit gate --verdict` reads them all at the end and
fails the job when one did not pass; `samdkit comment` turns them into the reviewer's table.

Inside GitHub Actions ($GITHUB_OUTPUT / $GITHUB_STEP_SUMMARY set) the same code writes the step outputs and
the job summary, so actions are a few lines that call samdkit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import Any

from samdkit.core import atomic
from samdkit.core.errors import UserError

SCHEMA = "samdkit/gate-result/v1"
GATES_DIR = Path("reports") / "gates"
VERDICTS = ("PASS", "FAIL", "ERROR")

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


def gate_path(root: Path, name: str) -> Path:
    return root / GATES_DIR / f"{slug(name)}.json"


def gate_result(
    name: str, verdict: str, reason: str, fix: list[str], **extra: Any
) -> dict[str, Any]:
    """The gate-result document every pipeline and the comment read."""
    if verdict not in VERDICTS:
        raise ValueError(verdict)
    return {
        "schema": SCHEMA,
        "gate": name,
        "verdict": verdict,
        "reason": reason[:300],
        "fix": [] if verdict == "PASS" else fix,
        **extra,
    }


def write_gate(path: Path, result: dict[str, Any]) -> None:
    atomic.write_json(path, result)


def read_gates(root: Path) -> list[dict[str, Any]]:
    """Every readable gate result under reports/gates/, oldest first (the pipeline's order)."""
    folder = root / GATES_DIR
    results = []
    paths = sorted(folder.glob("*.json"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    for path in paths if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict) and data.get("schema") == SCHEMA:
            results.append(data)
        else:
            results.append(gate_result(path.stem, "ERROR", f"{path.name} is unreadable", []))
    return results


# --------------------------------------------------------------------------- GitHub Actions


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


def publish(result: dict[str, Any]) -> None:
    """A gate result as step outputs (verdict, passed, reason, result path) and a summary line."""
    icon = {"PASS": "✅", "FAIL": "❌"}.get(result["verdict"], "⚠️")
    github_outputs(
        {
            "verdict": result["verdict"],
            "passed": str(result["verdict"] == "PASS").lower(),
            "reason": result["reason"],
        }
    )
    lines = [f"{icon} **{result['gate']}**: {result['verdict']} — {result['reason']}"]
    lines += [f"    {cmd}" for cmd in result.get("fix") or []]
    github_summary("\n".join(lines))


# --------------------------------------------------------------------------- samdkit gate


def _value(data: Any, key: str) -> str:
    """A dotted key of a JSON result as a step output: a list gives its length, a bool true/false.

    `failed` on a result with numeric `total` and `passed` (check-data's schema) is their difference.
    """
    node = data
    for part in key.split("."):
        if not isinstance(node, dict):
            return ""
        if part == "failed" and "failed" not in node and {"total", "passed"} <= node.keys():
            node = node["total"] - node["passed"]
            continue
        node = node.get(part)
    if isinstance(node, bool):
        return str(node).lower()
    if isinstance(node, list):
        return str(len(node))
    return "" if node is None or isinstance(node, dict) else str(node)


def expose(path: Path, pairs: list[str]) -> dict[str, str]:
    """Step outputs from a samdkit JSON result file: KEY=NAME pairs (NAME defaults to KEY)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = None
    except (OSError, ValueError):
        raise UserError(f"{path}: not a readable JSON result") from None
    outputs = {}
    for pair in pairs:
        key, _, name = pair.partition("=")
        outputs[name or key.replace("_", "-")] = _value(data, key) if data is not None else ""
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
        "--verdict", action="store_true", help="read every gate result; exit 1 unless all passed"
    )
    parser.add_argument(
        "--expect", action="append", default=[], metavar="NAME", help="with --verdict: must exist"
    )
    parser.add_argument(
        "--expose-from",
        metavar="FILE",
        help="write step outputs from this JSON result (GitHub Actions), with --expose KEY[=NAME]",
    )
    parser.add_argument(
        "--expose", action="append", default=[], metavar="KEY[=NAME]", help="a key to expose"
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
    reason = _reason(list(tail), code)
    if verdict == "ERROR":
        reason = f"could not run: {reason}"
    from samdkit.data.sources import redact  # a database URL's password never reaches the result

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


def _verdict(expect: list[str]) -> int:
    results = {r["gate"]: r for r in read_gates(Path.cwd())}
    for name in expect:
        results.setdefault(name, gate_result(name, "ERROR", "did not run (no result)", []))
    if not results:
        print("samdkit gate: no gate result under reports/gates/", file=sys.stderr)
        return 1
    for r in results.values():
        print(f"{r['verdict']:<5} {r['gate']}: {r['reason']}")
    bad = [n for n, r in results.items() if r["verdict"] != "PASS"]
    print(f"gates: {'PASS' if not bad else 'FAIL (' + ', '.join(bad) + ')'}")
    return 1 if bad else 0


def run(args: argparse.Namespace) -> int:
    if args.expose_from:
        if args.name or args.verdict:
            raise UserError("--expose-from runs alone (no gate NAME, no --verdict)")
        for key, value in expose(Path(args.expose_from), args.expose).items():
            print(value if args.value else f"{key}={value}")
        return 0
    if args.verdict:
        return _verdict(args.expect)
    if not args.name:
        raise UserError("give a gate NAME and -- CMD, or --verdict")
    return _run_gate(args.name, list(args.cmd), args.fix)
