"""The figures of issue 8, each measured against its baseline in the same run (interleaved repetitions)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.timing import Run, interleave, ratios, run, sequence, spread

MIB = 1 << 20
HERE = Path(__file__).resolve().parent
REPO = HERE.parent


@dataclass
class Row:
    figure: str
    case: str
    baseline: str
    samdkit_s: dict[str, float] | None = None
    baseline_s: dict[str, float] | None = None
    ratio: dict[str, float] | None = None
    ratio_means: str = ""  # how to read the ratio
    goal: str = ""
    met: bool | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    work: Path  # scratch folder (deleted at the end)
    scale: str
    reps: int | None  # override of every figure's repetitions
    hash_sizes: list[int]
    rows: list[int]
    engine_rows: list[int] = field(default_factory=lambda: [1_000_000, 10_000_000])
    bin: Path = Path(sys.executable).parent
    project_dir: Path | None = None

    @property
    def python(self) -> str:
        return sys.executable

    def env(self, project: Path | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env.setdefault("SOURCE_DATE_EPOCH", "1767225600")
        env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", DVC_NO_ANALYTICS="1")
        env["CODECARBON_LOG_LEVEL"] = "error"
        if project:
            env["PYTHONPATH"] = str(project / "src")
        return env

    def n(self, small: int, full: int) -> int:
        return self.reps or (small if self.scale == "small" else full)

    def available(self, *commands: str) -> list[str]:
        """The commands of this list the engine does not offer yet."""
        return [
            c for c in commands if run([self.bin / "samdkit", c, "--help"], env=self.env()).rc != 0
        ]

    def project(self) -> Path:
        """The default project, baked and through its pipeline (dvc repro, with its lock stage), once."""
        if self.project_dir:
            return self.project_dir
        from cookiecutter.main import cookiecutter

        out = self.work / "baked"
        out.mkdir(parents=True, exist_ok=True)
        project = Path(cookiecutter(str(REPO / "template"), no_input=True, output_dir=str(out)))
        env = self.env(project)
        # lock and evaluate are stages of the template's dvc.yaml: running them again outside DVC would
        # leave a dvc.lock that no longer matches their outputs
        steps = [["git", "add", "-A"], ["dvc", "repro"]]
        git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
        steps += [["git", "add", "-A"], [*git, "commit", "-q", "-m", "baked, pipeline run"]]
        for step in steps:
            done = subprocess.run(step, cwd=project, env=env, capture_output=True, text=True)
            if done.returncode not in (0, 1):
                raise RuntimeError(f"{' '.join(step)} exited {done.returncode}: {done.stderr}")
        self.project_dir = project
        return project


def _na(figure: str, case: str, baseline: str, missing: list[str]) -> Row:
    return Row(figure, case, baseline, note=f"n/a (command not available: {', '.join(missing)})")


def _row(
    figure: str,
    case: str,
    baseline: str,
    ours: list[Run],
    theirs: list[Run],
    *,
    inverse: bool = False,
    goal: str = "",
    met: bool | None = None,
    note: str = "",
) -> Row:
    """ratio = ours/theirs (time, lower is better) or theirs/ours when inverse (throughput/speed-up)."""
    values = ratios(theirs, ours) if inverse else ratios(ours, theirs)
    failed = [r.rc for r in ours + theirs if r.rc != 0]
    if failed:
        note = (note + "; " if note else "") + f"non-zero exits {sorted(set(failed))}"
    return Row(
        figure,
        case,
        baseline,
        samdkit_s=spread([r.seconds for r in ours]),
        baseline_s=spread([r.seconds for r in theirs]),
        ratio=spread(values),
        ratio_means="baseline/samdkit (higher is better)"
        if inverse
        else "samdkit/baseline (lower is better)",
        goal=goal,
        met=met,
        note=note,
        extra={"samdkit_rss_mib": spread([r.rss_mib for r in ours])},
    )


# --------------------------------------------------------------------------- CLI start


def cli_start(ctx: Context) -> list[Row]:
    env = ctx.env()
    cmds = {
        "python -c pass": [ctx.python, "-c", "pass"],
        "dvc --version": [ctx.bin / "dvc", "--version"],
        "samdkit --help": [ctx.bin / "samdkit", "--help"],
    }
    res = interleave(
        {k: (lambda c=c: run(c, env=env)) for k, c in cmds.items()}, ctx.n(10, 30), warmup=2
    )
    ours = res["samdkit --help"]
    median = spread([r.seconds for r in ours])["median"]
    goal, met = "samdkit median <= 0.100 s", median <= 0.100
    rows = [
        _row("CLI start", "samdkit --help", base, ours, res[base], goal=goal, met=met)
        for base in ("python -c pass", "dvc --version")
    ]
    if shutil.which("hyperfine"):
        out = ctx.work / "hyperfine.json"
        names = list(cmds)
        subprocess.run(
            ["hyperfine", "-N", "-w", "3", "-r", str(ctx.n(10, 30)), "--export-json", str(out)]
            + [" ".join(str(p) for p in c) for c in cmds.values()],
            env=env,
            capture_output=True,
            check=True,
        )
        found = {n: r for n, r in zip(names, json.loads(out.read_text())["results"], strict=True)}
        hf = {n: {k: r[k] for k in ("min", "median", "max")} for n, r in found.items()}
        rows[0].extra["hyperfine_s"] = hf
        rows[0].note = "hyperfine medians (not interleaved): " + ", ".join(
            f"{n} {v['median'] * 1000:.0f} ms" for n, v in hf.items()
        )
    return rows


# --------------------------------------------------------------------------- hashing

HASH = (
    "import sys; from samdkit.core.digests import tree_digests; "
    "tree_digests(sys.argv[1], int(sys.argv[2]))"
)


def _fill(path: Path, size: int) -> None:
    block = os.urandom(16 * MIB)
    with path.open("wb") as handle:
        left = size
        while left > 0:
            handle.write(block[: min(left, len(block))])
            left -= len(block)


def hashing(ctx: Context) -> list[Row]:
    try:
        subprocess.run([ctx.python, "-c", "import samdkit.core.digests"], check=True)
    except subprocess.CalledProcessError:
        return [_na("hashing", "digests", "openssl dgst -sha256", ["samdkit.digests"])]
    env, rows, rss = ctx.env(), [], {}
    for size in ctx.hash_sizes:
        label = f"{size / MIB:.0f} MiB" if size < 1 << 30 else f"{size / (1 << 30):.0f} GiB"
        folder = ctx.work / f"hash-{size}"
        folder.mkdir(parents=True, exist_ok=True)
        one = folder / "one.bin"
        _fill(one, size)
        res = interleave(
            {
                "samdkit": lambda one=one: run([ctx.python, "-c", HASH, one, "1"], env=env),
                "openssl": lambda one=one: run(["openssl", "dgst", "-sha256", one], env=env),
            },
            ctx.n(3, 3),
            warmup=1,
        )
        row = _row(
            "hashing",
            f"one file {label}",
            "openssl dgst -sha256",
            res["samdkit"],
            res["openssl"],
            inverse=True,
            goal="throughput >= 0.95x openssl",
        )
        assert row.ratio and row.samdkit_s
        row.met = row.ratio["median"] >= 0.95
        row.note = f"samdkit {size / MIB / row.samdkit_s['median']:.0f} MiB/s; lock + verify-lock hash it twice"
        rows.append(row)
        rss[label] = row.extra["samdkit_rss_mib"]["max"]
        one.unlink()
        tree = folder / "tree"
        tree.mkdir()
        for name in ("a.bin", "b.bin"):
            _fill(tree / name, size // 2)
        a, b = tree / "a.bin", tree / "b.bin"
        par = f"openssl dgst -sha256 {a} >/dev/null & openssl dgst -sha256 {b} >/dev/null & wait"
        res = interleave(
            {
                "1": lambda t=tree: run([ctx.python, "-c", HASH, t, "1"], env=env),
                "2": lambda t=tree: run([ctx.python, "-c", HASH, t, "2"], env=env),
                "seq": lambda a=a, b=b: run(["openssl", "dgst", "-sha256", a, b], env=env),
                "par": lambda p=par: run(["sh", "-c", p], env=env),
            },
            ctx.n(3, 3),
            warmup=1,
        )
        control = spread(ratios(res["seq"], res["par"]))
        row = _row(
            "hashing",
            f"two files of {size // 2 // MIB} MiB, 2 vs 1 worker",
            "samdkit, 1 worker",
            res["2"],
            res["1"],
            inverse=True,
            goal="speed-up >= 1.7x",
            note=f"control: two openssl processes vs one sequential = {control['median']:.2f}x",
        )
        assert row.ratio
        row.met = row.ratio["median"] >= 1.7
        row.extra["openssl_parallel_speedup"] = control
        rows.append(row)
        shutil.rmtree(folder)
    growth = max(rss.values()) - min(rss.values())
    rows.append(
        Row(
            "hashing",
            "peak RSS by size",
            "-",
            goal="flat (< 16 MiB growth)",
            met=growth < 16,
            note=", ".join(f"{k}: {v:.0f} MiB" for k, v in rss.items()),
            extra={"peak_rss_mib": rss},
        )
    )
    return rows


# --------------------------------------------------------------------------- data check


def _scaled_data(project: Path, rows: int, out: Path) -> tuple[Path, Path]:
    """train.csv resampled to `rows` rows (fresh unique ids) and the default train suite scaled to it."""
    import pandas as pd

    frame = pd.read_csv(project / "data/prepared/train.csv")
    big = frame.sample(n=rows, replace=True, random_state=0).reset_index(drop=True)
    big["sample_id"] = [f"BC-{i:07d}" for i in range(rows)]
    data = out / f"train-{rows}.csv"
    big.to_csv(data, index=False)
    suite = json.loads((project / "compliance/expectations/train.json").read_text())
    for expectation in suite["expectations"]:
        kwargs = expectation["kwargs"]
        if expectation["type"] == "expect_table_row_count_to_be_between":
            kwargs["max_value"] = max(kwargs.get("max_value") or 0, rows * 10)
        if expectation["type"] == "expect_column_values_to_match_regex":
            kwargs["regex"] = "^BC-[0-9]{7}$"
    path = out / f"train-{rows}.json"
    path.write_text(json.dumps(suite))
    return data, path


def data_check(ctx: Context) -> list[Row]:
    if missing := ctx.available("check-data"):
        return [_na("data check", "default suite", "GX directly", missing)]
    project, rows = ctx.project(), []
    env = ctx.env(project)
    out = ctx.work / "data"
    out.mkdir(exist_ok=True)
    for count in ctx.rows:
        data, suite = _scaled_data(project, count, out)
        ours = [ctx.bin / "samdkit", "check-data", "--dataset", data, "--suite", suite]
        ours += ["--output", out / "result.json", "--root", project]
        res = interleave(
            {
                "samdkit": lambda c=ours: run(c, cwd=project, env=env),
                "gx": lambda d=data, s=suite: run(
                    [ctx.python, HERE / "gx_direct.py", d, s], cwd=project, env=env
                ),
            },
            ctx.n(3, 3),
            warmup=0,
        )
        row = _row(
            "data check",
            f"{count:,} rows x 33 cols",
            "GX validating the suite",
            res["samdkit"],
            res["gx"],
            goal="<= 1.2x",
            note="train suite, row-count max and id regex scaled to the rows",
        )
        assert row.ratio
        row.met = row.ratio["median"] <= 1.2
        rows.append(row)
        data.unlink()
    if len(rows) > 1:  # how cost grows: the slope between the smallest and the largest input
        first, last = rows[0], rows[-1]
        span = (ctx.rows[-1] - ctx.rows[0]) / 1e6
        for side, key in (("samdkit", "samdkit_s"), ("GX directly", "baseline_s")):
            a, b = getattr(first, key), getattr(last, key)
            assert a and b
            fixed = a["median"] - (b["median"] - a["median"]) / span * ctx.rows[0] / 1e6
            last.note += (
                f"; {side}: {(b['median'] - a['median']) / span:.2f} s per million rows"
                f" over a fixed {fixed:.2f} s"
            )
    return rows


# --------------------------------------------------------------------------- evidence

RENDER = "import sys, weasyprint; weasyprint.HTML(filename=sys.argv[1]).write_pdf(sys.argv[2])"


def evidence(ctx: Context) -> list[Row]:
    if missing := ctx.available("report", "sign"):
        return [_na("evidence", "report + sign", "weasyprint", missing)]
    project = ctx.project()
    env = ctx.env(project)
    samdkit = ctx.bin / "samdkit"
    run([samdkit, "report"], cwd=project, env=env)  # writes the HTML the baseline renders
    html = project / "reports/clinical-validation-report.html"
    pdf = ctx.work / "weasyprint.pdf"
    parts: dict[str, list[Run]] = {"report": [], "sign": []}

    def report_then_sign() -> Run:  # sign refuses an already signed PDF: report rewrites them first
        for name, cmd in (("report", [samdkit, "report"]), ("sign", [samdkit, "sign", "--demo"])):
            parts[name].append(run(cmd, cwd=project, env=env))
        return _sum([parts["report"][-1], parts["sign"][-1]])

    res = interleave(
        {
            "both": report_then_sign,
            "weasyprint": lambda: run([ctx.python, "-c", RENDER, html, pdf], env=env),
        },
        ctx.n(3, 3),
    )
    report = _row(
        "evidence",
        "samdkit report",
        "weasyprint, same HTML",
        parts["report"],
        res["weasyprint"],
        goal="report <= 3 s",
    )
    assert report.samdkit_s
    report.met = report.samdkit_s["median"] <= 3.0
    sign = _row("evidence", "samdkit sign --demo", "weasyprint", parts["sign"], res["weasyprint"])
    total = _row("evidence", "report + sign", "weasyprint", res["both"], res["weasyprint"])
    return [report, sign, total]


# --------------------------------------------------------------------------- whole PR gate


def pr_gate(ctx: Context) -> list[Row]:
    """The generated pull-request.yml's gates job against the bare tools (benchmarks/pr_gate.py)."""
    from benchmarks.pr_gate import pr_gate as figure

    return figure(ctx)


def _sum(runs: list[Run]) -> Run:
    return Run(sum(r.seconds for r in runs), max(r.rss_mib for r in runs), max(r.rc for r in runs))


# --------------------------------------------------------------------------- install


def install(ctx: Context) -> list[Row]:
    """A fresh venv with the PR workflow's install (samdkit[all] + pytest) from this checkout."""
    base = shutil.which("python3.11", path="/usr/bin") or sys.executable
    target = ctx.work / "install-venv"
    spec = [f"{REPO}[all]", "pytest>=8"]
    uv = shutil.which("uv") or str(ctx.bin / "uv")

    def fresh(*commands: list[str]) -> Run:
        shutil.rmtree(target, ignore_errors=True)
        return sequence(commands, None, ctx.env())

    py = str(target / "bin/python")
    res = interleave(
        {
            "uv": lambda: fresh(
                [uv, "venv", "-q", "--python", base, str(target)],
                [uv, "pip", "install", "-q", "--python", py, *spec],
            ),
            "pip": lambda: fresh(
                [base, "-m", "venv", str(target)],
                [py, "-m", "pip", "install", "-q", "--disable-pip-version-check", *spec],
            ),
        },
        ctx.n(1, 2),
    )
    shutil.rmtree(target, ignore_errors=True)
    row = _row(
        "install",
        "fresh venv, samdkit[all] + pytest",
        "pip (venv + pip install)",
        res["uv"],
        res["pip"],
        inverse=True,
        goal="report both; actions use the faster",
        note="samdkit side = uv; caches warm as on a runner with a restored cache",
    )
    assert row.ratio
    row.met = row.ratio["median"] > 1  # the actions install with uv
    return [row]


def data_sources(ctx: Context) -> list[Row]:
    """pandas, PostgreSQL and Spark (benchmarks/data_sources.py; imports tests/engines.py)."""
    from benchmarks.data_sources import data_sources as figure

    return figure(ctx)


def rebuild_check(ctx: Context) -> list[Row]:
    """verify-lock --rebuild beside dvc repro --force train (benchmarks/rebuild.py)."""
    from benchmarks.rebuild import rebuild_check as figure

    return figure(ctx)


FIGURES = {
    "cli": cli_start,
    "hashing": hashing,
    "data": data_check,
    "sources": data_sources,
    "evidence": evidence,
    "gate": pr_gate,
    "install": install,
    "rebuild": rebuild_check,
}
