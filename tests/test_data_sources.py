"""`samdkit check-data` on PostgreSQL and Spark: the same suites, verdicts and result shape as pandas.

Real engines only (tests/engines.py): one PostgreSQL server from Debian's packages and one local
Spark for the whole session. check-data runs in-process through the CLI entry point, so GX and
Spark start once; one bad-input case runs in a subprocess to show the user's exact view.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from samdkit.cli import main
from tests import engines
from tests.conftest import samdkit_cli as samdkit

REPO = Path(__file__).resolve().parents[1]
OMOP = REPO / "docs" / "examples" / "omop"
PASSWORD_VAR = "SAMDKIT_TEST_PGPASSWORD"

SUITE = {
    "name": "patients",
    "expectations": [
        {
            "type": "expect_table_row_count_to_be_between",
            "kwargs": {"min_value": 10, "max_value": 100},
        },
        {
            "type": "expect_table_columns_to_match_set",
            "kwargs": {"column_set": ["patient_id", "age", "sex", "systolic"]},
        },
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "patient_id"}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "patient_id"}},
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "age", "min_value": 0, "max_value": 120},
        },
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "sex", "value_set": ["F", "M"]},
        },
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "systolic", "min_value": 60, "max_value": 250},
        },
        {
            "type": "expect_column_mean_to_be_between",
            "kwargs": {"column": "age", "min_value": 20, "max_value": 80},
        },
        {
            "type": "expect_column_values_to_not_be_null",
            "kwargs": {"column": "systolic", "mostly": 0.8},
        },
        {
            "type": "expect_column_distinct_values_to_be_in_set",
            "kwargs": {"column": "sex", "value_set": ["F", "M"]},
        },
        {
            "type": "expect_column_max_to_be_between",
            "kwargs": {"column": "systolic", "min_value": 0, "max_value": 200},
        },
    ],
}
# what fails on the failing data: a duplicate id, an age of 130, a sex "X"
FAILING = {3, 4, 5, 9}


def _patients(case: str) -> Any:
    import pandas as pd

    n = 60
    frame = pd.DataFrame(
        {
            "patient_id": pd.Series(range(1, n + 1), dtype="int64"),
            "age": [20.5 + (i * 7) % 60 for i in range(n)],
            "sex": ["F" if i % 2 else "M" for i in range(n)],
            "systolic": pd.Series(
                [None if i % 10 == 0 else 100 + i % 40 for i in range(n)], dtype="Int64"
            ),
        }
    )
    if case == "failing":
        frame.loc[3, "age"] = 130.0
        frame.loc[5, "sex"] = "X"
        frame.loc[7, "patient_id"] = 1
    return frame


# -- the engines, once per session ------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[engines.Postgres]:
    yield from engines.postgres_server()


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    yield from engines.spark_session()


@pytest.fixture(scope="session")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The patients data as Parquet and CSV, passing and failing."""
    folder = tmp_path_factory.mktemp("patients")
    for case in ("passing", "failing"):
        frame = _patients(case)
        frame.to_parquet(folder / f"patients_{case}.parquet", index=False)
        frame.to_csv(folder / f"patients_{case}.csv", index=False)
    return folder


@pytest.fixture(scope="session")
def loaded(postgres: engines.Postgres) -> engines.Postgres:
    """The patients tables and the OMOP example's tables, in the session's server."""
    statements = []
    rows = []
    for case in ("passing", "failing"):
        table = f"patients_{case}"
        statements.append(
            f"CREATE TABLE {table} (patient_id bigint, age double precision, sex text, "
            "systolic integer)"
        )
        frame = _patients(case).astype(object).where(_patients(case).notna(), None)
        rows.append((f"INSERT INTO {table} VALUES (%s, %s, %s, %s)", frame.values.tolist()))
    statements.append((OMOP / "load.sql").read_text(encoding="utf-8"))
    postgres.execute(*statements, rows=rows)
    return postgres


def _url(postgres: engines.Postgres) -> str:
    return f"postgresql+psycopg://{engines.USER}:${{{PASSWORD_VAR}}}@127.0.0.1:{postgres.port}/postgres"


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def _project(root: Path, sources: dict[str, dict], checks: list[tuple[str, str]]) -> Path:
    lines = ["[tool.samdkit.data]", 'id_column = "patient_id"']
    for name, spec in sources.items():
        lines.append(f"[tool.samdkit.data.sources.{name}]")
        lines += [f"{key} = {_toml(value)}" for key, value in spec.items()]
    for dataset, suite in checks:
        lines += ["[[tool.samdkit.data.checks]]", f"dataset = {json.dumps(dataset)}"]
        lines.append(f"suite = {json.dumps(suite)}")
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def _check(root: Path, *extra: str) -> tuple[int, dict[str, Any] | None]:
    output = root / "reports" / "data-check.json"
    code = main(["check-data", "--root", str(root), "--output", str(output), *extra])
    return code, json.loads(output.read_text()) if output.exists() else None


def _source(engine: str, case: str, data: Path, request: pytest.FixtureRequest) -> dict:
    """The same patients data as each engine reads it."""
    if engine.startswith("pandas"):
        suffix = "csv" if engine.endswith("csv") else "parquet"
        return {"path": str(data / f"patients_{case}.{suffix}")}
    if engine.startswith("spark"):
        request.getfixturevalue("spark")
        suffix = "csv" if engine.endswith("csv") else "parquet"
        settings = {"spark.master": "local[1]", "spark.driver.memory": "512m"}
        return {
            "engine": "spark",
            "path": str(data / f"patients_{case}.{suffix}"),
            "spark": settings,
        }
    postgres = request.getfixturevalue("loaded")
    return {"url": _url(postgres), "table": f"patients_{case}"}


def _verdicts(report: dict[str, Any]) -> list[tuple]:
    return [
        (
            e["type"],
            e["column"],
            e["success"],
            e["unexpected_count"],
            e["element_count"],
            e["missing_count"],
        )
        for e in report["validations"][0]["expectations"]
    ]


def _shape(value: Any) -> Any:
    """Keys all the way down (values left out): the result's shape."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items() if k not in ("source",)}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return None


# -- the same verdicts everywhere ------------------------------------------------------------------


@pytest.mark.parametrize("case", ["passing", "failing"])
@pytest.mark.parametrize(
    ("engine", "reference"),
    [
        ("postgres", "pandas"),
        # Spark's start (a JVM) takes 30-100 s on a busy 2-core runner: slow, CI runs them all
        pytest.param("spark", "pandas", marks=pytest.mark.slow),
        pytest.param("spark-csv", "pandas-csv", marks=pytest.mark.slow),
    ],
)
def test_same_verdicts_as_pandas(
    engine: str,
    reference: str,
    case: str,
    data: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PASSWORD_VAR, engines.PASSWORD)
    (tmp_path / "patients.json").write_text(json.dumps(SUITE), encoding="utf-8")
    reports = {}
    for name in (reference, engine):
        root = _project(
            tmp_path / name,
            {"patients": _source(name, case, data, request)},
            [("patients", str(tmp_path / "patients.json"))],
        )
        code, reports[name] = _check(root)
        assert code == (0 if case == "passing" else 1), name
    expected, got = reports[reference], reports[engine]
    assert _verdicts(got) == _verdicts(expected)
    failed = {i for i, e in enumerate(got["validations"][0]["expectations"]) if not e["success"]}
    assert failed == (FAILING if case == "failing" else set())
    assert _shape(got) == _shape(expected)  # the same result format, key for key
    for ours, theirs in zip(
        got["validations"][0]["expectations"],
        expected["validations"][0]["expectations"],
        strict=True,
    ):
        if isinstance(theirs["observed_value"], float):  # a statistic, computed by another engine
            assert ours["observed_value"] == pytest.approx(theirs["observed_value"])
        else:
            assert ours["observed_value"] == theirs["observed_value"]
    dataset = got["validations"][0]["dataset"]
    assert (dataset["rows"], dataset["columns"]) == (60, 4)
    assert dataset["read_as"] == expected["validations"][0]["dataset"]["read_as"]
    assert got["validations"][0]["typing"] == expected["validations"][0]["typing"]
    assert got["engines"] == ["sql" if engine == "postgres" else "spark"]
    assert got["validations"][0]["not_run"] == []


def test_an_expectation_the_engine_lacks_is_reported(
    loaded: engines.Postgres, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GX has no SQL implementation of strftime formats: the result says so, the run fails."""
    monkeypatch.setenv(PASSWORD_VAR, engines.PASSWORD)
    suite = {
        "name": "formats",
        "expectations": [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "sex"}},
            {
                "type": "expect_column_values_to_match_strftime_format",
                "kwargs": {"column": "sex", "strftime_format": "%Y"},
            },
        ],
    }
    (tmp_path / "formats.json").write_text(json.dumps(suite), encoding="utf-8")
    source = {"url": _url(loaded), "table": "patients_passing"}
    root = _project(
        tmp_path / "p", {"patients": source}, [("patients", str(tmp_path / "formats.json"))]
    )
    code, report = _check(root)
    assert code == 1 and report is not None
    validation = report["validations"][0]
    assert [e["success"] for e in validation["expectations"]] == [True, False]
    assert validation["not_run"] == [
        {
            "index": 1,
            "type": "expect_column_values_to_match_strftime_format",
            "exception": validation["expectations"][1]["exception"],
        }
    ]
    assert "SqlAlchemyExecutionEngine" in validation["not_run"][0]["exception"]
    assert validation["expectations"][1]["reason"].startswith("could not run: ")


# -- the OMOP example ------------------------------------------------------------------------------


def _omop_project(root: Path, url_key: dict[str, str]) -> Path:
    return _project(
        root,
        {
            "person": {**url_key, "schema": "cdm", "table": "person"},
            "measurement": {**url_key, "schema": "cdm", "table": "measurement"},
            "measurement_person": {
                **url_key,
                "query": "SELECT count(*) AS orphan_measurements FROM cdm.measurement m "
                "LEFT JOIN cdm.person p ON p.person_id = m.person_id WHERE p.person_id IS NULL",
            },
        },
        [
            ("person", str(OMOP / "person.json")),
            ("measurement", str(OMOP / "measurement.json")),
            ("measurement_person", str(OMOP / "measurement_person.json")),
        ],
    )


def test_omop_example_passes_and_catches_what_it_guards(
    loaded: engines.Postgres,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The docs' OMOP suites on the OMOP tables: pass; then a bad row in a copy of the tables fails."""
    monkeypatch.setenv("OMOP_DATABASE_URL", loaded.url())  # the whole URL from the environment
    root = _omop_project(tmp_path / "omop", {"url_env": "OMOP_DATABASE_URL"})
    code, report = _check(root)
    assert code == 0, report
    person, measurement, orphans = report["validations"]
    assert (person["dataset"]["rows"], measurement["dataset"]["rows"]) == (40, 120)
    assert person["dataset"]["source"] == {
        "engine": "sql",
        "name": "person",
        "url": f"postgresql://samdkit@127.0.0.1:{loaded.port}/postgres",
        "table": "person",
        "schema": "cdm",
    }
    assert orphans["dataset"]["source"]["query"].startswith("SELECT count(*)")
    out = capsys.readouterr().out
    assert engines.PASSWORD not in out and engines.PASSWORD not in json.dumps(report)
    assert f"postgresql://samdkit@127.0.0.1:{loaded.port}/postgres table cdm.person" in out

    # a copy of the CDM with an unknown gender concept and a measurement of nobody
    loaded.execute(
        "DROP SCHEMA IF EXISTS cdm_bad CASCADE",
        "CREATE SCHEMA cdm_bad",
        "CREATE TABLE cdm_bad.person AS SELECT * FROM cdm.person",
        "CREATE TABLE cdm_bad.measurement AS SELECT * FROM cdm.measurement",
        "UPDATE cdm_bad.person SET gender_concept_id = 12345 WHERE person_id = 3",
        "UPDATE cdm_bad.measurement SET person_id = 999 WHERE measurement_id = 7",
    )
    text = (root / "pyproject.toml").read_text().replace('"cdm"', '"cdm_bad"')
    (root / "pyproject.toml").write_text(text.replace("cdm.", "cdm_bad."))
    code, report = _check(root)
    assert code == 1
    person, measurement, orphans = report["validations"]
    assert [e["kwargs"].get("column") for e in person["expectations"] if not e["success"]] == [
        "gender_concept_id"
    ]
    assert person["expectations"][5]["unexpected_count"] == 1
    assert measurement["success"] is True and orphans["success"] is False
    assert orphans["expectations"][1]["reason"].startswith("observed 1 of 1 values unexpected")


# -- credentials and bad input ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("spec", "env", "says"),
    [
        ({"table": "patients_passing"}, "wrong-Password-42", "password authentication failed"),
        ({"table": "no_such_table"}, engines.PASSWORD, "no table no_such_table in this database"),
        ({"table": "patients_passing", "port": "free"}, engines.PASSWORD, "Connection refused"),
        ({"table": "t", "driver": "mysql+pymysql"}, engines.PASSWORD, "driver is not installed"),
        ({"table": "patients_passing"}, None, f"needs environment variable {PASSWORD_VAR}"),
    ],
    ids=["wrong-password", "missing-table", "unreachable", "missing-driver", "unset-variable"],
)
def test_bad_source_is_one_line_exit_2_without_secret(
    spec: dict[str, str],
    env: str | None,
    says: str,
    loaded: engines.Postgres,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if env is None:
        monkeypatch.delenv(PASSWORD_VAR, raising=False)
    else:
        monkeypatch.setenv(PASSWORD_VAR, env)
    url = _url(loaded)
    if spec.get("port"):
        url = url.replace(f":{loaded.port}/", f":{_free_port()}/")
    if spec.get("driver"):
        url = url.replace("postgresql+psycopg", spec["driver"])
    (tmp_path / "s.json").write_text(json.dumps(SUITE), encoding="utf-8")
    root = _project(
        tmp_path / "p", {"db": {"url": url, "table": spec["table"]}}, [("db", "../s.json")]
    )
    code, report = _check(root)
    err = capsys.readouterr().err
    assert code == 2 and report is None  # nothing written
    assert len(err.strip().splitlines()) == 1, err
    assert says in err and err.startswith("samdkit check-data: error: ")
    for secret in (engines.PASSWORD, "wrong-Password-42"):
        assert secret not in err


def test_wrong_password_as_the_user_sees_it(loaded: engines.Postgres, tmp_path: Path) -> None:
    """End to end in a subprocess: one line, exit 2, no traceback, no password; the URL on the
    command line with its password as ${VAR}."""
    (tmp_path / "s.json").write_text(json.dumps(SUITE), encoding="utf-8")
    env = {**os.environ, PASSWORD_VAR: "wrong-Password-42"}
    result = samdkit(
        "check-data",
        "--url",
        _url(loaded),
        "--table",
        "patients_passing",
        "--suite",
        "s.json",
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert (
        f"postgresql://samdkit@127.0.0.1:{loaded.port}/postgres table patients_passing"
        in result.stderr
    )
    assert "wrong-Password-42" not in result.stderr + result.stdout


def test_command_line_source_names_itself_without_secret(
    loaded: engines.Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATIENTS_URL", loaded.url())
    (tmp_path / "s.json").write_text(json.dumps(SUITE), encoding="utf-8")
    code, report = _check(
        tmp_path,
        "--url-env",
        "PATIENTS_URL",
        "--table",
        "patients_failing",
        "--suite",
        str(tmp_path / "s.json"),
    )
    assert code == 1 and report is not None
    assert report["validations"][0]["dataset"]["path"] == (
        f"postgresql://samdkit@127.0.0.1:{loaded.port}/postgres table patients_failing"
    )
    assert engines.PASSWORD not in (tmp_path / "reports" / "data-check.json").read_text()


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        (
            {"url": "postgresql://x/y", "table": "a", "query": "SELECT 1"},
            "give one of table or query",
        ),
        ({"url": "postgresql://x/y"}, "give one of table or query"),
        ({"path": "a.csv", "colour": "red"}, "unknown key(s) colour"),
        (
            {"path": "a.csv", "spark": {"spark.master": "local[1]"}},
            'spark settings need engine = "spark"',
        ),
        ({"engine": "duckdb", "path": "a.csv"}, "engine 'duckdb' is not one of"),
    ],
)
def test_bad_source_settings_fail_before_any_engine(
    spec: dict[str, Any], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path, {"src": spec}, [("src", "s.json")])
    code, report = _check(root)
    err = capsys.readouterr().err
    assert code == 2 and report is None
    assert "[tool.samdkit.data.sources.src]" in err and says in err


def test_public_url_and_scrub_never_keep_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    from samdkit.data.sources import Source, public_url, scrub

    monkeypatch.setenv("DB_PASSWORD", "p@ss:w/rd")
    source = Source(
        name="db", engine="sql", url="postgresql+psycopg://u:${DB_PASSWORD}@h:5/d?sslmode=require"
    )
    assert public_url(source.url_resolved()) == "postgresql://u@h:5/d"
    raw = (
        "connection to postgresql+psycopg://u:p@ss:w/rd@h:5/d failed (p%40ss%3Aw%2Frd), password=x1"
    )
    line = scrub(raw, source)
    assert "p@ss:w/rd" not in line and "p%40ss" not in line and "x1" not in line
    assert "***" in line


def test_engine_messages_withhold_quoted_values() -> None:
    """A database error quoting a cell is withheld; column and metric names stay readable."""
    from samdkit.data.sources import withhold_quoted

    text = withhold_quoted('invalid input syntax for type integer: "MRN-000123"', ["person_id"])
    assert "MRN-000123" not in text and text.endswith('"…"')
    kept = 'column "person_id" of metric "column_values.between.unexpected_count"'
    assert withhold_quoted(kept, ["person_id"]) == kept


def test_missing_spark_file_fails_before_any_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(
        tmp_path,
        {"s": {"engine": "spark", "path": "nowhere.parquet"}},
        [("s", str(tmp_path / "s.json"))],
    )
    (tmp_path / "s.json").write_text(json.dumps(SUITE), encoding="utf-8")
    code, report = _check(root)
    assert code == 2 and report is None
    assert capsys.readouterr().err.strip() == (
        "samdkit check-data: error: spark:nowhere.parquet: dataset not found"
    )


@pytest.mark.slow  # starts Spark when run alone
def test_spark_csv_counts_unparsed_cells_like_pandas(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A CSV cell that is not the declared type: the same typing failure, counted the same way;
    the pandas type name that Spark's GX cannot read is an engine difference, reported."""
    csv = tmp_path / "vitals.csv"
    csv.write_text("id,age\n1,40.5\n2,abc\n3,\n4,51\n", encoding="utf-8")
    suite = {
        "name": "vitals",
        "expectations": [
            {
                "type": "expect_column_values_to_be_of_type",
                "kwargs": {"column": "age", "type_": "float64"},
            },
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "age", "min_value": 0, "max_value": 120},
            },
        ],
    }
    (tmp_path / "vitals.json").write_text(json.dumps(suite), encoding="utf-8")
    reports = {}
    for engine in ("pandas", "spark"):
        spec: dict[str, Any] = {"path": str(csv)}
        if engine == "spark":
            request.getfixturevalue("spark")
            spec["engine"] = "spark"
        root = _project(
            tmp_path / engine, {"vitals": spec}, [("vitals", str(tmp_path / "vitals.json"))]
        )
        code, reports[engine] = _check(root)
        assert code == 1
    pandas, spark = (reports[e]["validations"][0] for e in ("pandas", "spark"))
    assert (
        spark["typing"]
        == pandas["typing"]
        == {
            "age": {
                "as": "float",
                "declared_by": "expect_column_values_to_be_of_type",
                "unparsed": 1,
            }
        }
    )
    assert spark["expectations"][2] == pandas["expectations"][2]  # the typing failure, 1 of 3
    assert pandas["expectations"][2]["element_count"] == 3
    assert [e["success"] for e in spark["expectations"]] == [False, True, False]
    assert [e["success"] for e in pandas["expectations"]] == [True, True, False]
    assert [n["type"] for n in spark["not_run"]] == ["expect_column_values_to_be_of_type"]
    assert pandas["not_run"] == []


@pytest.mark.slow  # starts Spark when run alone
def test_command_line_reads_a_file_with_spark(
    data: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    request.getfixturevalue("spark")
    (tmp_path / "s.json").write_text(json.dumps(SUITE), encoding="utf-8")
    parquet = data / "patients_passing.parquet"
    code, report = _check(
        tmp_path,
        "--dataset",
        str(parquet),
        "--engine",
        "spark",
        "--suite",
        str(tmp_path / "s.json"),
    )
    assert code == 0 and report is not None
    assert report["engines"] == ["spark"]
    assert report["validations"][0]["dataset"]["source"]["path"] == str(parquet)
    assert report["validations"][0]["dataset"]["sha256"] is not None


@pytest.mark.slow  # starts Spark when run alone
def test_unreadable_spark_file_is_one_line_exit_2(
    tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    request.getfixturevalue("spark")
    (tmp_path / "bad.parquet").write_text("not parquet\n", encoding="utf-8")
    (tmp_path / "s.json").write_text(json.dumps(SUITE), encoding="utf-8")
    code, report = _check(
        tmp_path,
        "--dataset",
        str(tmp_path / "bad.parquet"),
        "--engine",
        "spark",
        "--suite",
        str(tmp_path / "s.json"),
    )
    err = capsys.readouterr().err
    assert code == 2 and report is None
    assert len(err.strip().splitlines()) == 1 and "bad.parquet: cannot read: " in err, err
