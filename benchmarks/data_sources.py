"""The data-source figure (issue 17): `samdkit check-data` on pandas, PostgreSQL and local Spark.

The same synthetic patients table (6 typed columns) at each size: a Parquet file that pandas and Spark
read, and the same rows in a real PostgreSQL server (tests/engines.py: Debian's server in a temporary
folder, on loopback) with a primary key, as a hospital table would have. One suite of 12 expectations
(row count scaled) passes on all three. The three engines run interleaved in each repetition; the
ratios are engine / pandas of the same repetition.

Memory: the samdkit process's own peak RSS (``os.wait4``) and the peak of its whole process tree, sampled
every 50 ms (Spark's JVM is a child of the samdkit process; PostgreSQL's server is not, which is the
point: the data stays in the database).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.figures import MIB, Context, Row, _row
from benchmarks.timing import Run, interleave, spread

ENGINES = ("pandas", "PostgreSQL", "Spark")
PASSWORD_VAR = "SAMDKIT_BENCH_PGPASSWORD"


def suite(rows: int) -> dict[str, Any]:
    """Twelve expectations every engine computes, passing on the generated data."""

    def e(kind: str, **kwargs: Any) -> dict[str, Any]:
        return {"type": f"expect_{kind}", "kwargs": kwargs}

    columns = ["patient_id", "age", "sex", "systolic", "heart_rate", "weight"]
    return {
        "name": "patients",
        "expectations": [
            e("table_row_count_to_be_between", min_value=rows // 2, max_value=rows * 2),
            e("table_columns_to_match_set", column_set=columns),
            e("column_values_to_not_be_null", column="patient_id"),
            e("column_values_to_be_unique", column="patient_id"),
            e("column_values_to_be_between", column="age", min_value=0, max_value=120),
            e("column_values_to_be_in_set", column="sex", value_set=["F", "M"]),
            e("column_values_to_be_between", column="systolic", min_value=60, max_value=250),
            e("column_values_to_not_be_null", column="systolic", mostly=0.8),
            e("column_mean_to_be_between", column="age", min_value=20, max_value=80),
            e("column_distinct_values_to_be_in_set", column="sex", value_set=["F", "M"]),
            e("column_max_to_be_between", column="heart_rate", min_value=0, max_value=250),
            e("column_values_to_be_between", column="weight", min_value=2, max_value=300),
        ],
    }


def generate(rows: int, folder: Path) -> tuple[Path, Path]:
    """The patients table as Parquet (typed) and as CSV (for PostgreSQL's COPY), in chunks."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    parquet, csv = folder / f"patients-{rows}.parquet", folder / f"patients-{rows}.csv"
    rng = np.random.default_rng(17)
    chunk = 1_000_000
    writer = None
    with pa.OSFile(str(csv), "wb") as sink:
        csv_writer = None
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            systolic = rng.integers(90, 180, n).astype("int32")
            table = pa.table(
                {
                    "patient_id": pa.array(np.arange(start + 1, start + n + 1, dtype="int64")),
                    "age": pa.array(np.round(rng.uniform(18, 90, n), 1)),
                    "sex": pa.array(np.where(rng.random(n) < 0.5, "F", "M")),
                    "systolic": pa.array(systolic, mask=rng.random(n) < 0.1),
                    "heart_rate": pa.array(rng.integers(40, 140, n).astype("int32")),
                    "weight": pa.array(np.round(rng.uniform(40, 150, n), 1)),
                }
            )
            writer = writer or pq.ParquetWriter(str(parquet), table.schema)
            writer.write_table(table)
            csv_writer = csv_writer or pacsv.CSVWriter(sink, table.schema)
            csv_writer.write_table(table)
        assert writer and csv_writer
        writer.close()
        csv_writer.close()
    return parquet, csv


def load(postgres: Any, csv: Path, table: str) -> float:
    """COPY the CSV into a fresh table with its primary key; seconds taken."""
    import psycopg

    from tests.engines import PASSWORD, USER

    start = time.perf_counter()
    with psycopg.connect(
        host=postgres.host, port=postgres.port, user=USER, password=PASSWORD, dbname="postgres"
    ) as connection:
        connection.execute(f"DROP TABLE IF EXISTS {table}")
        connection.execute(
            f"CREATE TABLE {table} (patient_id bigint, age double precision, sex text, "
            "systolic integer, heart_rate integer, weight double precision)"
        )
        copy = f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true)"
        with connection.cursor() as cursor, cursor.copy(copy) as stream, csv.open("rb") as data:
            while block := data.read(8 * MIB):
                stream.write(block)
        connection.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (patient_id)")
    with psycopg.connect(
        host=postgres.host, port=postgres.port, user=USER, password=PASSWORD, dbname="postgres"
    ) as connection:
        connection.autocommit = True
        connection.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - start


def run_tree(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[Run, float]:
    """One command: its wall time, its own peak RSS (wait4) and its process tree's sampled peak RSS."""
    import psutil

    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    peak, done = [0], threading.Event()

    def sample() -> None:
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                total = 0
                for member in tree:
                    with contextlib.suppress(psutil.Error):
                        total += member.memory_info().rss
                peak[0] = max(peak[0], total)
            except psutil.Error:
                return
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    rc = os.waitstatus_to_exitcode(status)
    return Run(seconds, usage.ru_maxrss / 1024, rc), peak[0] / MIB


def _verdicts(result: Path) -> list[tuple[Any, ...]]:
    if not result.exists():
        return []
    report = json.loads(result.read_text())
    return [
        (e["type"], e["success"], e["unexpected_count"], e["element_count"])
        for v in report["validations"]
        for e in v["expectations"]
    ]


def data_sources(ctx: Context) -> list[Row]:
    """check-data on pandas, PostgreSQL and Spark, interleaved, at each of ctx.engine_rows."""
    from tests import engines

    if missing := ctx.available("check-data"):
        return [Row("data sources", "3 engines", "pandas", note=f"n/a ({', '.join(missing)})")]
    work = ctx.work / "sources"
    work.mkdir(parents=True, exist_ok=True)
    (work / "pyproject.toml").write_text("[project]\nname = 'bench'\n", encoding="utf-8")
    env = {**ctx.env(), PASSWORD_VAR: engines.PASSWORD, "SPARK_LOCAL_IP": "127.0.0.1"}
    rows: list[Row] = []
    memory: dict[str, dict[str, float]] = {name: {} for name in ENGINES}
    server = engines.postgres_server()
    postgres = next(server)
    try:
        for count in ctx.engine_rows:
            rows += _one_size(ctx, postgres, work, env, count, memory)
    finally:
        server.close()  # stops the server, removes its folder
    rows.append(_memory_row(memory))
    return rows


def _one_size(
    ctx: Context,
    postgres: Any,
    work: Path,
    env: dict[str, str],
    count: int,
    memory: dict[str, dict[str, float]],
) -> list[Row]:
    """The three engines on `count` rows (interleaved): one row per engine against pandas."""
    from tests import engines

    parquet, csv = generate(count, work)
    table = f"patients_{count}"
    seconds_loading = load(postgres, csv, table)
    csv.unlink()
    suite_path = work / f"suite-{count}.json"
    suite_path.write_text(json.dumps(suite(count)), encoding="utf-8")
    url = (
        f"postgresql+psycopg://{engines.USER}:${{{PASSWORD_VAR}}}"
        f"@{postgres.host}:{postgres.port}/postgres"
    )
    base = [str(ctx.bin / "samdkit"), "check-data", "--root", str(work), "--suite", str(suite_path)]
    commands = {
        "pandas": ["--dataset", str(parquet)],
        "PostgreSQL": ["--url", url, "--table", table],
        "Spark": ["--dataset", str(parquet), "--engine", "spark"],
    }
    trees: dict[str, list[float]] = {name: [] for name in ENGINES}
    verdicts: dict[str, list[tuple[Any, ...]]] = {}

    def case(name: str) -> Run:
        output = work / f"result-{name}.json"
        output.unlink(missing_ok=True)
        measured, tree = run_tree([*base, *commands[name], "--output", str(output)], work, env)
        trees[name].append(tree)
        verdicts[name] = _verdicts(output)
        return measured

    reps = ctx.reps or (2 if count <= 1_000_000 else 1)
    res = interleave({n: (lambda n=n: case(n)) for n in commands}, reps)
    parquet.unlink()
    same = verdicts["PostgreSQL"] == verdicts["Spark"] == verdicts["pandas"] != []
    for name in ENGINES:
        memory[name][f"{count:,}"] = max(max(r.rss_mib for r in res[name]), max(trees[name]))
    rows = []
    for name in ("PostgreSQL", "Spark"):
        note = _memory_note(name, res, trees)
        if name == "PostgreSQL":
            note += f"; COPY + primary key + ANALYZE took {seconds_loading:.0f} s (not timed)"
        note += f"; same verdicts on the 3 engines: {'yes' if same else 'NO'}"
        row = _row(
            "data sources",
            f"{count:,} rows x 6 cols, {name}",
            "pandas, same rows (Parquet)",
            res[name],
            res["pandas"],
            note=note,
        )
        row.extra["tree_rss_mib"] = {n: spread(trees[n]) for n in ENGINES}
        row.extra["own_rss_mib"] = {n: spread([r.rss_mib for r in res[n]]) for n in ENGINES}
        row.extra["reps"] = reps
        rows.append(row)
    return rows


def _memory_note(name: str, res: dict[str, list[Run]], trees: dict[str, list[float]]) -> str:
    def mib(n: str) -> str:
        own = max(r.rss_mib for r in res[n])
        tree = max(trees[n])
        return f"{own:.0f} MiB" + (f" ({tree:.0f} MiB with its JVM)" if n == "Spark" else "")

    return f"peak RSS of samdkit: {name} {mib(name)}, pandas {mib('pandas')}"


def _memory_row(memory: dict[str, dict[str, float]]) -> Row:
    """Peak RSS (process tree) by size and engine; on PostgreSQL it should not grow with the rows."""
    sql = list(memory["PostgreSQL"].values())
    growth = (max(sql) - min(sql)) / min(sql) if len(sql) > 1 else 0.0
    note = "; ".join(
        f"{name}: " + ", ".join(f"{k} rows {v:.0f} MiB" for k, v in sizes.items())
        for name, sizes in memory.items()
    )
    return Row(
        "data sources",
        "peak RSS of the samdkit process tree by rows",
        "-",
        goal="flat on PostgreSQL (< 10 % growth)",
        met=growth < 0.10 if len(sql) > 1 else None,
        note=note,
        extra={"peak_rss_mib": memory},
    )
