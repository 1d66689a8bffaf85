"""`python -m benchmarks` (run through ./benchmarks/run): every figure of issue 8, one table, one JSON file."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from benchmarks.figures import FIGURES, MIB, Context, Row

SCALES = {  # hashing sizes (bytes) and data-check rows per scale
    "small": ([100 * MIB], [10_000]),
    "full": ([100 * MIB, 1024 * MIB, 2048 * MIB], [10_000, 100_000, 1_000_000]),
}
RESULTS = Path(__file__).resolve().parent / "results"


def _size(text: str) -> int:
    units = {"K": 1 << 10, "M": MIB, "G": 1 << 30}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].isalpha() else int(text)


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _cell(spread: dict[str, float] | None, unit: str = "s") -> str:
    if not spread:
        return "-"
    fmt = "{:.3f}" if unit == "s" and spread["max"] < 1 else "{:.2f}"
    return "/".join(fmt.format(spread[k]) for k in ("min", "median", "max")) + (
        f" {unit}" if unit != "x" else "x"
    )


def table(rows: list[Row]) -> str:
    head = ["figure", "case", "samdkit (min/med/max)", "baseline", "baseline (min/med/max)"]
    head += ["ratio (min/med/max)", "goal", "met"]
    lines = [head]
    for r in rows:
        met = "n/a" if r.met is None else ("yes" if r.met else "NO")
        ratio = _cell(r.ratio, "x")
        lines.append(
            [
                r.figure,
                r.case,
                _cell(r.samdkit_s),
                r.baseline,
                _cell(r.baseline_s),
                ratio,
                r.goal,
                met,
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
        for line in lines
    ]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    notes = [f"- {r.figure}, {r.case}: {r.note}" for r in rows if r.note]
    return "\n".join(out + (["", *notes] if notes else []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks", description=__doc__)
    parser.add_argument(
        "--scale", choices=SCALES, default="full", help="input sizes (default full)"
    )
    parser.add_argument("--sizes", help="hashing sizes, comma separated, e.g. 100M,1G,2G")
    parser.add_argument("--rows", help="data-check rows, comma separated, e.g. 10000,1000000")
    parser.add_argument(
        "--engine-rows",
        help="rows of the pandas/PostgreSQL/Spark figure (default 1000000,10000000; small 100000)",
    )
    parser.add_argument("--reps", type=int, help="repetitions of every figure (default per figure)")
    parser.add_argument(
        "--only", help=f"comma separated figures (default all: {','.join(FIGURES)})"
    )
    parser.add_argument("--workdir", help="scratch folder (default: a temp folder, deleted)")
    args = parser.parse_args(argv)
    sizes, rows = SCALES[args.scale]
    names = args.only.split(",") if args.only else list(FIGURES)
    if unknown := [n for n in names if n not in FIGURES]:
        parser.error(f"unknown figure(s): {', '.join(unknown)}")
    work = Path(tempfile.mkdtemp(prefix="samdkit-bench-", dir=args.workdir))
    ctx = Context(
        work=work,
        scale=args.scale,
        reps=args.reps,
        hash_sizes=[_size(s) for s in args.sizes.split(",")] if args.sizes else sizes,
        rows=[int(r) for r in args.rows.split(",")] if args.rows else rows,
        engine_rows=[int(r) for r in args.engine_rows.split(",")]
        if args.engine_rows
        else ([100_000] if args.scale == "small" else [1_000_000, 10_000_000]),
    )
    started, load_before = dt.datetime.now(dt.UTC), _load()
    results: list[Row] = []
    loads: dict[str, str] = {}
    try:
        for name in names:
            print(f"==> {name} (load {_load()})", file=sys.stderr, flush=True)
            results += FIGURES[name](ctx)
            loads[name] = _load()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = table(results)
    print(text)
    print(
        f"\nload average (1/5/15 min): before {load_before}, after {_load()}; {os.cpu_count()} CPUs"
    )
    RESULTS.mkdir(exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"bench-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "started": started.isoformat(),
                "scale": args.scale,
                "hash_sizes": ctx.hash_sizes,
                "rows": ctx.rows,
                "engine_rows": ctx.engine_rows,
                "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                "load_before": load_before,
                "load_after_figure": loads,
                "rows_measured": [asdict(r) for r in results],
                "table": text,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
