"""`samdkit lint`: ruff on code and notebooks, pynblint on notebooks, one summary.

What runs
- ruff (``python -m ruff check --output-format json``) on the configured paths, with the
  project's own ruff configuration (``[tool.ruff]``); ruff lints ``.py`` and ``.ipynb`` alike.
- pynblint 0.1.6 on every notebook found under the paths. pynblint always exits 0 and its CLI
  breaks with click >= 8.2, so it runs in an isolated environment (``uvx``) and pass/fail is
  decided from its JSON output (``-o file.json``). It runs in the project root, so a
  ``.pynblint`` file there tunes its thresholds (max cells, markdown ratio, ...).
- samdkit's own notebook rule ``outputs-not-stripped``: committed outputs can carry patient data and
  make diffs unreviewable; strip them (nbstripout) before committing.

Each linter stays in its domain: a notebook whose language (``metadata.language_info.name``, else
``metadata.kernelspec.language``) is not Python (an R or Julia kernel) is linted by neither ruff
nor pynblint; it is listed as skipped (a ``samdkit/skipped-notebook`` notice and the ``skipped``
count of the summary), and the outputs rule still applies to it. A notebook without that metadata
counts as Python.

Configuration, in the project's pyproject.toml (every key optional; these are the defaults)::

    [tool.samdkit.lint]
    paths = ["."]                       # files or folders for ruff and the notebook search
    exclude = []                        # glob patterns (relative paths) of notebooks to skip
    notebook_ignore = ["non-executed-notebook", "non-executed-cells"]  # pynblint / samdkit rules
    pynblint_command = ["uvx", "--from", "pynblint==0.1.6", "--with", "click<8.2", "pynblint"]

The default ignore list fits notebooks committed with stripped outputs (never "executed").

Findings: ``check`` is ``ruff/<code>``, ``pynblint/<slug>`` or ``samdkit/<rule>``; notebook
cells are numbered from 1 (ruff's numbering; pynblint's 0-based index is converted).
Exit 1 when anything but a skipped notebook (a notice) is found.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from samdkit.core import atomic
from samdkit.core.errors import UserError
from samdkit.core.findings import Finding, GateResult, Severity, render_result, verdict_of
from samdkit.core.options import add_format_option
from samdkit.core.project import load_project, shown_path

DEFAULT_PYNBLINT_COMMAND = ["uvx", "--from", "pynblint==0.1.6", "--with", "click<8.2", "pynblint"]
DEFAULT_NOTEBOOK_IGNORE = ["non-executed-notebook", "non-executed-cells"]
SKIP_DIRS = {"node_modules", "__pycache__", "venv", "site-packages", "build", "dist"}
OUTPUTS_RULE = "outputs-not-stripped"
SKIPPED_RULE = "skipped-notebook"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Lint code and notebooks: ruff (project configuration) on .py and .ipynb files, "
        "pynblint on notebooks (run isolated with uvx), and a check that notebook outputs are "
        "stripped. "
        "Notebooks of another language (R, Julia kernels) are listed as skipped. "
        "Settings live in [tool.samdkit.lint] of pyproject.toml. Exit 1 when anything is found."
    )
    parser.add_argument(
        "paths",
        nargs="*",
        help="files or folders to lint (default: [tool.samdkit.lint] paths, '.')",
    )
    add_format_option(parser)
    parser.add_argument("--output", help="also write the gate-result JSON to this file")
    parser.add_argument("--root", default=".", help="project root (default: current folder)")


def _settings(root: Path) -> dict[str, Any]:
    section = load_project(root).section("lint")
    settings = {
        "paths": section.get("paths", ["."]),
        "exclude": section.get("exclude", []),
        "notebook_ignore": section.get("notebook_ignore", DEFAULT_NOTEBOOK_IGNORE),
        "pynblint_command": section.get("pynblint_command", DEFAULT_PYNBLINT_COMMAND),
    }
    for key, value in settings.items():
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UserError(f"pyproject.toml: [tool.samdkit.lint] {key} must be a list of strings")
    return settings


def find_notebooks(paths: list[Path], root: Path, exclude: list[str]) -> list[Path]:
    """Notebooks under paths, skipping hidden folders (.git, .venv, ...) and excluded globs."""
    found: set[Path] = set()
    for path in paths:
        if path.is_file():
            if path.suffix == ".ipynb":
                found.add(path.resolve())
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(
                d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS
            )
            found.update((Path(dirpath) / f).resolve() for f in filenames if f.endswith(".ipynb"))
    return sorted(
        nb for nb in found if not any(fnmatch.fnmatch(shown_path(root, nb), pat) for pat in exclude)
    )


def notebook_language(notebook: Path) -> str:
    """The notebook's language from its metadata; ``python`` when absent or unreadable."""
    try:
        metadata = json.loads(notebook.read_text(encoding="utf-8")).get("metadata") or {}
    except (ValueError, OSError, AttributeError):
        return "python"  # ruff reports a notebook that is not valid JSON
    if not isinstance(metadata, dict):
        return "python"
    info, kernel = metadata.get("language_info"), metadata.get("kernelspec")
    for section in (info, kernel):
        if isinstance(section, dict):
            name = section.get("name" if section is info else "language")
            if isinstance(name, str) and name.strip():
                return name.strip()
    return "python"


def split_by_language(notebooks: list[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Python notebooks, and the others with their language (no linter here reads them)."""
    python, other = [], []
    for notebook in notebooks:
        language = notebook_language(notebook)
        if language.lower() in ("python", "python3", "ipython"):
            python.append(notebook)
        else:
            other.append((notebook, language))
    return python, other


def skipped_findings(skipped: list[tuple[Path, str]], root: Path) -> list[Finding]:
    return [
        Finding(
            check=f"samdkit/{SKIPPED_RULE}",
            message=f"skipped: its language is {language}, and ruff and pynblint lint Python only",
            file=shown_path(root, notebook),
            severity="notice",
            detail={"tool": "samdkit", "rule": SKIPPED_RULE, "language": language},
        )
        for notebook, language in skipped
    ]


def run_ruff(paths: list[Path], root: Path, skip: list[Path] | None = None) -> list[Finding]:
    """ruff check with the project's configuration, as findings; ``skip``: notebooks it must not read."""
    command = [sys.executable, "-m", "ruff"]
    try:
        import ruff  # noqa: F401  (only to know it is installed beside samdkit)
    except ImportError:
        if not shutil.which("ruff"):
            raise UserError("ruff is not installed: pip install 'samdkit[lint]'") from None
        command = ["ruff"]
    command += ["check", "--output-format", "json", "--force-exclude"]
    for notebook in skip or []:
        command += ["--extend-exclude", shown_path(root, notebook)]
    command += [*map(str, paths)]
    proc = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1):
        message = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[0]
        raise UserError(f"ruff failed: {message}")
    findings = []
    for item in json.loads(proc.stdout or "[]"):
        code = item.get("code") or "syntax-error"
        row = (item.get("location") or {}).get("row")
        fix = (item.get("fix") or {}).get("message")
        message = item["message"] + (f" (fix: {fix})" if fix else "")
        file = shown_path(root, Path(item["filename"]))
        line: int | None = row
        if item.get("cell") is not None:
            message = f"cell {item['cell']}, line {row}: {message}"
            line = None
        findings.append(
            Finding(
                check=f"ruff/{code}",
                message=message,
                file=file,
                line=line,
                detail={
                    "tool": "ruff",
                    "rule": code,
                    "cell": item.get("cell"),
                    "url": item.get("url"),
                },
            )
        )
    return findings


def _pynblint_one(
    notebook: Path, root: Path, command: list[str], ignore: list[str]
) -> list[Finding]:
    with tempfile.TemporaryDirectory(prefix="samdkit-pynblint-") as tmp:
        out = Path(tmp) / "result.json"
        args = [*command, "--quiet", "--yes", "--output", str(out)]
        if ignore:  # pynblint parses --exclude as a JSON list, whatever its help says
            args += ["--exclude", json.dumps(sorted(ignore))]
        proc = None
        if Path(command[0]).name == "uvx":
            # from uv's cache first: resolving against the index costs ~0.7 s a run; online only
            # when the cache lacks the tool (uv then fails before pynblint starts)
            proc = subprocess.run(
                [command[0], "--offline", *args[1:], str(notebook)],
                cwd=root,
                capture_output=True,
                text=True,
                check=False,
            )
        if proc is None or (not out.is_file() and "network was disabled" in proc.stderr):
            proc = subprocess.run(
                [*args, str(notebook)], cwd=root, capture_output=True, text=True, check=False
            )
        if not out.is_file():
            tail = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
            raise RuntimeError(
                f"pynblint produced no result for {shown_path(root, notebook)}: {tail}"
            )
        result = json.loads(out.read_text(encoding="utf-8"))
    findings = []
    for lint in result.get("lints", []):
        if lint["slug"] in ignore:
            continue
        cells = [c["index"] + 1 for c in lint.get("cells", []) if isinstance(c.get("index"), int)]
        where = (
            f"cell{'s' if len(cells) > 1 else ''} {', '.join(map(str, cells))}: " if cells else ""
        )
        findings.append(
            Finding(
                check=f"pynblint/{lint['slug']}",
                message=f"{where}{lint['description']} Fix: {lint['recommendation']}",
                file=shown_path(root, notebook),
                detail={"tool": "pynblint", "rule": lint["slug"], "cells": cells},
            )
        )
    return findings


def run_pynblint(
    notebooks: list[Path], root: Path, command: list[str], ignore: list[str]
) -> list[Finding]:
    """pynblint on each notebook (in parallel: each uvx start costs seconds), as findings."""
    if not notebooks:
        return []
    if not shutil.which(command[0]):
        raise UserError(
            f"'{command[0]}' not found: install uv (https://docs.astral.sh/uv/) or set "
            "[tool.samdkit.lint] pynblint_command"
        )
    with ThreadPoolExecutor(max_workers=min(4, len(notebooks))) as pool:
        results = pool.map(lambda nb: _pynblint_one(nb, root, command, ignore), notebooks)
        return [finding for batch in results for finding in batch]


def check_outputs_stripped(notebooks: list[Path], root: Path) -> list[Finding]:
    """samdkit's rule: committed notebooks carry no outputs (they can hold patient data)."""
    findings = []
    for notebook in notebooks:
        try:
            cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
        except (ValueError, AttributeError):
            continue  # ruff reports a notebook that is not valid JSON
        dirty = [
            i + 1 for i, c in enumerate(cells) if c.get("cell_type") == "code" and c.get("outputs")
        ]
        if dirty:
            findings.append(
                Finding(
                    check=f"samdkit/{OUTPUTS_RULE}",
                    message=f"cell{'s' if len(dirty) > 1 else ''} {', '.join(map(str, dirty))}: "
                    "code cells hold outputs, which can carry patient data. Fix: strip them (nbstripout) before committing.",
                    file=shown_path(root, notebook),
                    detail={"tool": "samdkit", "rule": OUTPUTS_RULE, "cells": dirty},
                )
            )
    return findings


def lint(root: Path, paths: list[str] | None = None) -> tuple[list[Finding], dict[str, Any]]:
    """All findings for the project at root, and a summary (counts per tool)."""
    root = root.resolve()
    settings = _settings(root)
    targets = [root / p for p in (paths or settings["paths"])]
    for target in targets:
        if not target.exists():
            raise UserError(f"{shown_path(root, target)}: no such file or folder")
    notebooks = find_notebooks(targets, root, settings["exclude"])
    python, skipped = split_by_language(notebooks)
    ignore = settings["notebook_ignore"]
    findings = run_ruff(targets, root, [notebook for notebook, _ in skipped])
    findings += run_pynblint(python, root, settings["pynblint_command"], ignore)
    if OUTPUTS_RULE not in ignore:
        findings += check_outputs_stripped(notebooks, root)
    errors = [f for f in findings if f.severity == Severity.ERROR]
    findings += skipped_findings(skipped, root)
    summary = {
        "notebooks": len(python),
        "ruff": sum(f.detail.get("tool") == "ruff" for f in errors),
        "pynblint": sum(f.detail.get("tool") == "pynblint" for f in errors),
        "samdkit": sum(f.detail.get("tool") == "samdkit" for f in errors),
        "findings": len(errors),
        "skipped": len(skipped),
    }
    return findings, summary


def run(args: argparse.Namespace) -> int:
    root = Path(args.root)
    if not root.is_dir():
        raise UserError(f"{root}: no such folder")
    findings, summary = lint(root, args.paths)
    result = GateResult(
        gate="lint",
        verdict=verdict_of(findings),
        findings=findings,
        summary=summary,
        outputs={"findings": str(len(findings))},
    )
    if args.output:
        atomic.write_json(args.output, result.to_json())
    print(render_result(result, args.format))
    return 0 if result.passed else 1
