"""The whole PR gate (issue 19): the generated pull-request workflow's commands, as it and its actions run
them today, against the bare `ruff check . && pytest && dvc repro`, both from a CI checkout.

A CI checkout without a DVC remote has git's files only: no DVC cache, no data/prepared, no models/model.
Each repetition starts both sides from such a checkout (a `git clone` of the baked project, not timed),
so both run the pipeline's stages that have no output yet, and neither gets `--force`.

`WORKFLOW` lists each step with the file it is written in; tests/test_benchmarks.py checks that every flag
used here appears in that file, so the benchmark follows the workflow rather than a copy of it.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from benchmarks.figures import REPO, Context, Row, _na, _row, _sum
from benchmarks.timing import Run, interleave, run, spread

TEMPLATE_WORKFLOW = "template/{{cookiecutter.project_slug}}/.github/workflows/pull-request.yml"
GATES = ["lint", "pipeline-status", "check-data", "verify-lock", "evaluate", "comment", "gate"]
GATE_NAMES = ["lint", "pipeline", "data check", "tests", "locked model", "evaluation"]
REUSE = "--reuse-pipeline"


@dataclass(frozen=True)
class Step:
    name: str
    source: str  # the file (relative to the repository) that runs these commands
    commands: list[list[str]]


def workflow_steps(
    python: str, reuse: set[str] | frozenset[str] = frozenset(), background: bool = False
) -> list[Step]:
    """pull-request.yml's gates job after setup, each action's `run:` lines with its inputs' values;
    `reuse`: the gates whose step passes --reuse-pipeline (reuse_wired); `background`: the lint step
    starts lint beside the pipeline and a step after the pipeline waits for it (lint_in_background)."""
    fmt = "--format github"

    def again(gate: str) -> str:
        return f" {REUSE}" if gate in reuse else ""

    def cmd(line: str) -> list[str]:
        return shlex.split(line)

    outcomes = " ".join(f"--gate '{name}=success'" for name in GATE_NAMES)
    expect = " ".join(f"--expect '{name}'" for name in GATE_NAMES)
    lint = f"lint -- samdkit lint {fmt} --output reports/lint.json"
    pipeline = Step(
        "pipeline",
        TEMPLATE_WORKFLOW,
        [
            cmd(
                f"samdkit pipeline-status --repro --committed HEAD {fmt} "
                "--output reports/gates/pipeline.json"
            )
        ],
    )
    if background:
        lint_steps = [
            Step("lint", "actions/lint/action.yml", [cmd(f"samdkit gate --background {lint}")]),
            pipeline,
            Step("lint wait", TEMPLATE_WORKFLOW, [cmd("samdkit gate --wait")]),
        ]
    else:
        expose = "samdkit gate --expose-from reports/lint.json --expose outputs.findings=findings"
        lint_steps = [
            Step("lint", "actions/lint/action.yml", [cmd(f"samdkit gate {lint}"), cmd(expose)]),
            pipeline,
        ]
    return [
        *lint_steps,
        Step(
            "check-data",
            "actions/data-check/action.yml",
            [
                cmd(
                    f"samdkit gate 'data check' -- samdkit check-data {fmt} "
                    f"--output reports/data-check.json{again('check-data')}"
                ),
                cmd("samdkit gate --expose-from reports/data-check.json --expose failed"),
            ],
        ),
        Step(
            "tests", TEMPLATE_WORKFLOW, [["samdkit", "gate", "tests", "--", python, "-m", "pytest"]]
        ),
        Step(
            "verify-lock",
            "actions/model-lock/action.yml",
            [
                cmd(
                    "samdkit gate 'locked model' -- samdkit verify-lock --committed HEAD "
                    f"--rebuild=auto {fmt}{again('verify-lock')}"
                ),
                cmd(
                    "samdkit gate --expose-from model.lock --expose artifact.root_digest=root-digest"
                ),
            ],
        ),
        Step(
            "evaluate",
            TEMPLATE_WORKFLOW,
            [
                cmd(
                    "samdkit gate evaluation -- samdkit evaluate --no-mlflow "
                    f"{fmt}{again('evaluate')}"
                )
            ],
        ),
        Step("comment", TEMPLATE_WORKFLOW, [cmd(f"samdkit comment --post none {outcomes}")]),
        Step("verdict", TEMPLATE_WORKFLOW, [cmd(f"samdkit gate --verdict {expect}")]),
    ]


def bare_steps(python: str) -> list[Step]:
    return [
        Step("ruff", "", [["ruff", "check", "."]]),
        Step("pytest", "", [[python, "-m", "pytest"]]),
        Step("dvc repro", "", [["dvc", "repro"]]),
    ]


# how the workflow's step for each gate is recognised
_STEP_MARKS = {
    "check-data": "/actions/data-check@",
    "verify-lock": "/actions/model-lock@",
    "evaluate": "samdkit evaluate",
}


def reuse_wired() -> set[str]:
    """The gates whose step in the generated workflow passes --reuse-pipeline (a `run:` flag, or the
    action input `reuse-pipeline: "true"`, which the action turns into the flag)."""
    text = (REPO / TEMPLATE_WORKFLOW).read_text(encoding="utf-8")
    blocks = re.split(r"\n\s+- (?=name:|uses:|run:)", text)
    wired = set()
    for gate, mark in _STEP_MARKS.items():
        for block in blocks:
            if mark in block and re.search(r"--reuse-pipeline|reuse-pipeline: \"?true", block):
                wired.add(gate)
    return wired


def lint_in_background() -> bool:
    """The generated workflow's lint step runs beside the pipeline (action input `background: "true"`)."""
    text = (REPO / TEMPLATE_WORKFLOW).read_text(encoding="utf-8")
    blocks = re.split(r"\n\s+- (?=name:|uses:|run:)", text)
    return any("/actions/lint@" in b and re.search(r'background: "?true', b) for b in blocks)


def checkout(source: Path, target: Path) -> Path:
    """A CI checkout: git's files at HEAD only (no DVC cache, no data/prepared, no models/model)."""
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "-q", str(source), str(target)], check=True)
    return target


def pr_gate(ctx: Context) -> list[Row]:
    if missing := ctx.available(*GATES):
        return [_na("whole PR gate", "pull-request.yml", "ruff && pytest && dvc repro", missing)]
    source = ctx.project()
    reuse, background = reuse_wired(), lint_in_background()
    ours, bare = workflow_steps(ctx.python, reuse, background), bare_steps(ctx.python)
    steps: dict[str, list[Run]] = {s.name: [] for s in [*ours, *bare]}
    rcs: dict[str, list[list[int]]] = {s.name: [] for s in ours}

    def side(name: str, cmds: list[Step]) -> Run:
        project = checkout(source, ctx.work / "gate" / name / source.name)
        env = ctx.env(project)
        for step in cmds:
            runs = [run(c, cwd=project, env=env) for c in step.commands]
            steps[step.name].append(_sum(runs))
            if step.name in rcs:
                rcs[step.name].append([r.rc for r in runs])
        shutil.rmtree(project.parent, ignore_errors=True)
        return _sum([steps[s.name][-1] for s in cmds])

    res = interleave(
        {"samdkit": lambda: side("ours", ours), "bare": lambda: side("bare", bare)}, ctx.n(1, 3)
    )
    medians = ", ".join(
        f"{k} {spread([r.seconds for r in v])['median']:.1f}s" for k, v in steps.items()
    )
    whole = _row(
        "whole PR gate",
        "pull-request.yml gates job"
        + (f" (--reuse-pipeline: {', '.join(sorted(reuse))})" if reuse else "")
        + (" (lint beside the pipeline)" if background else ""),
        "ruff check . && pytest && dvc repro",
        res["samdkit"],
        res["bare"],
        goal="<= 1.25x",
        note=f"both from a checkout without DVC cache or outputs; step medians: {medians}",
    )
    assert whole.ratio
    whole.met = whole.ratio["median"] <= 1.25
    whole.extra["steps_s"] = {k: spread([r.seconds for r in v]) for k, v in steps.items()}
    whole.extra["steps_rc"] = rcs
    whole.extra["reuse_pipeline"] = sorted(reuse)
    whole.extra["lint_in_background"] = background
    return [whole]
