"""The rebuild check (issue 16) beside the pipeline's own training: `samdkit verify-lock --rebuild`
(export the commit, `dvc checkout` the data, the train stage, hash and replay the golden set) against
`dvc repro --force train` on the default project."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable

from benchmarks.figures import Context, Row, _na, _row
from benchmarks.timing import Run, interleave, run


def rebuild_check(ctx: Context) -> list[Row]:
    if missing := ctx.available("verify-lock"):
        return [_na("rebuild check", "verify-lock --rebuild", "dvc repro --force train", missing)]
    source = ctx.project()
    project = ctx.work / "rebuild" / source.name
    shutil.copytree(source, project, symlinks=True)
    env = ctx.env(project)
    ours = ["samdkit", "verify-lock", "--rebuild"]
    # `dvc repro --force train` also reruns the stages train depends on (prepare, check-data);
    # --single-item runs the train stage alone, the "train stage plus hashing"
    baselines = {
        "dvc repro --force train": ["dvc", "repro", "--force", "train"],
        "dvc repro --force --single-item train": [
            "dvc",
            "repro",
            "--force",
            "--single-item",
            "train",
        ],
    }
    cases: dict[str, Callable[[], Run]] = {"samdkit": lambda: run(ours, cwd=project, env=env)}
    for name, cmd in baselines.items():
        cases[name] = lambda cmd=cmd: run(cmd, cwd=project, env=env)
    res = interleave(cases, ctx.n(1, 3))
    record = json.loads((project / "reports" / "rebuild.json").read_text())
    rows = []
    for name in baselines:
        row = _row(
            "rebuild check",
            f"verify-lock --rebuild (verdict: {record['verdict']})",
            name,
            res["samdkit"],
            res[name],
            goal="<= 1.0x (train stage + hashing)",
            note="last rebuild's phases: "
            + ", ".join(f"{k} {v:.1f}s" for k, v in record.get("seconds", {}).items()),
        )
        assert row.ratio
        row.met = row.ratio["median"] <= 1.0
        row.extra["phases_s"] = record.get("seconds", {})
        rows.append(row)
    shutil.rmtree(project.parent, ignore_errors=True)
    return rows
