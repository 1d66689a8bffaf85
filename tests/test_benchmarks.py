"""The benchmark harness's arithmetic (no timings are asserted: benchmarks report, tests do not time)."""

from __future__ import annotations

import sys

from benchmarks.__main__ import table
from benchmarks.figures import Row, _row
from benchmarks.timing import Run, interleave, ratios, run, spread


def test_interleave_rotates_the_order_so_drift_hits_every_side():
    calls: list[str] = []

    def case(name: str):
        return lambda: (calls.append(name), Run(1.0, 1.0, 0))[1]

    results = interleave({n: case(n) for n in "abc"}, reps=3, warmup=1)
    assert calls == list("abc") + list("abc") + list("bca") + list("cab")
    assert {n: len(r) for n, r in results.items()} == {"a": 3, "b": 3, "c": 3}


def test_ratios_pair_the_runs_of_one_repetition():
    ours = [Run(2.0, 0, 0), Run(3.0, 0, 0), Run(9.0, 0, 0)]
    theirs = [Run(1.0, 0, 0), Run(3.0, 0, 0), Run(3.0, 0, 0)]
    assert ratios(ours, theirs) == [2.0, 1.0, 3.0]
    assert spread(ratios(ours, theirs)) == {"min": 1.0, "median": 2.0, "max": 3.0}
    inverse = _row("f", "c", "b", ours, theirs, inverse=True)  # throughput: baseline / samdkit
    assert inverse.ratio == spread([1 / 2, 3 / 3, 3 / 9])
    assert inverse.ratio["median"] == 0.5


def test_a_failed_run_is_named_in_the_row():
    ok, failed = Run(1.0, 0, 0), Run(1.0, 0, 1)
    row = _row("f", "c", "b", [ok, failed], [ok, ok])
    assert "non-zero exits [1]" in row.note


def test_run_measures_the_child_exit_code_and_memory():
    done = run([sys.executable, "-c", "import sys; b = bytearray(64 << 20); sys.exit(3)"])
    assert done.rc == 3
    assert done.rss_mib >= 64
    assert done.seconds > 0


def test_table_marks_missed_goals_and_lists_notes():
    rows = [
        Row(
            "a",
            "x",
            "base",
            ratio={"min": 1.0, "median": 1.5, "max": 2.0},
            goal="<= 1.2x",
            met=False,
        ),
        Row("b", "y", "-", goal="flat", met=True, note="37 MiB"),
    ]
    text = table(rows)
    lines = text.splitlines()
    assert lines[0].startswith("| figure")
    assert "| NO " in lines[2] and "1.00/1.50/2.00x" in lines[2]
    assert "| yes " in lines[3]
    assert "- b, y: 37 MiB" in text


def test_pr_gate_runs_the_commands_the_generated_workflow_and_its_actions_run():
    """Every samdkit flag and gate name the benchmark passes is written in the file it cites."""
    from benchmarks.pr_gate import REPO, REUSE, workflow_steps

    for reuse, background in ((set(), False), ({"check-data", "verify-lock", "evaluate"}, True)):
        for step in workflow_steps("python", reuse, background):
            text = (REPO / step.source).read_text(encoding="utf-8")
            for command in step.commands:
                words = [w for w in command if w.startswith("--") and w not in ("--", REUSE)]
                words += [w for w in command[2:3] if command[1] == "gate" and w[:2] != "--"]
                missing = [w.split("=")[0] for w in words if w.split("=")[0] not in text]
                assert not missing, f"{step.name}: {missing} not in {step.source}"
    workflow = (REPO / workflow_steps("python")[1].source).read_text(encoding="utf-8")
    for gate in ("lint", "data-check", "model-lock"):
        assert f"/actions/{gate}@" in workflow  # the steps the benchmark takes from the actions


def test_pr_gate_follows_the_workflow_on_reuse():
    """A gate gets --reuse-pipeline exactly when its step in the generated workflow passes it."""
    from benchmarks.pr_gate import REPO, REUSE, TEMPLATE_WORKFLOW, reuse_wired, workflow_steps

    wired = reuse_wired()
    steps = {s.name: s for s in workflow_steps("python", wired)}
    flagged = {
        s for s in ("check-data", "verify-lock", "evaluate") if REUSE in steps[s].commands[0]
    }
    assert flagged == wired
    workflow = (REPO / TEMPLATE_WORKFLOW).read_text(encoding="utf-8")
    assert ("evaluate" in wired) == ("samdkit evaluate --no-mlflow --reuse-pipeline" in workflow)
    inputs = workflow.count('reuse-pipeline: "true"')  # action inputs: data-check, model-lock
    assert len(wired & {"check-data", "verify-lock"}) == inputs


def test_checkout_holds_git_files_only(tmp_path):
    """Both sides start from a CI checkout: no DVC cache, no cached outputs."""
    import subprocess

    from benchmarks.pr_gate import checkout

    source = tmp_path / "source"
    (source / ".dvc" / "cache").mkdir(parents=True)
    (source / ".dvc" / ".gitignore").write_text("/cache\n")
    (source / ".gitignore").write_text("/models\n")
    (source / "models").mkdir()
    (source / "models" / "model.pkl").write_text("weights")
    (source / "dvc.yaml").write_text("stages: {}\n")
    ident = ["-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    for args in (["init", "-q"], ["add", "-A"], [*ident, "commit", "-qm", "x"]):
        subprocess.run(["git", *args], cwd=source, check=True)
    got = checkout(source, tmp_path / "ci" / "project")
    assert (got / "dvc.yaml").is_file()
    assert not (got / "models").exists() and not (got / ".dvc" / "cache").exists()


def test_pr_gate_backgrounds_lint_exactly_when_the_workflow_does():
    from benchmarks.pr_gate import lint_in_background, workflow_steps

    names = [s.name for s in workflow_steps("python", background=lint_in_background())]
    if lint_in_background():
        assert names[:3] == ["lint", "pipeline", "lint wait"]
    else:
        assert names[:2] == ["lint", "pipeline"] and "lint wait" not in names
