"""`samdkit check-data` and GX's own formats, drafts that hold, every dataset covered, reasons.

Suites are produced by the installed Great Expectations itself (a file context's store, GX's
ExpectationSuiteSchema), data by real pandas and pyarrow.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from samdkit.cli import main
from tests.conftest import samdkit_cli as samdkit
from tests.factories import write_split

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "template" / "{{cookiecutter.project_slug}}"
NO_PARAMETERS = '[tool.samdkit.data]\nid_column = "record"\n[tool.samdkit.data.parameters]\n'


def expectation(kind: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "meta": {}}


def check(root: Path, dataset: Path, suite: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    output = root / "result.json"
    code = main(
        [
            "check-data",
            "--root",
            str(root),
            "--dataset",
            str(dataset),
            "--suite",
            str(suite),
            "--output",
            str(output),
            *extra,
        ]
    )
    return code, json.loads(output.read_text(encoding="utf-8"))


def gx_saved_suite(folder: Path) -> Path:
    """A suite as GX 1.x itself stores it (a file context): suite and expectation ids, severity."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = gx.get_context(mode="file", project_root_dir=str(folder))
    suite = gx.ExpectationSuite(
        name="saved_by_gx",
        expectations=[
            gxe.ExpectColumnValuesToNotBeNull(column="record"),
            gxe.ExpectColumnValuesToBeOfType(column="age", type_="int64"),
            gxe.ExpectColumnMeanToBeBetween(
                column="age",
                min_value=40,
                max_value=60,
                row_condition='arm=="B"',
                condition_parser="pandas",
            ),
            gxe.ExpectColumnValuesToBeInSet(column="arm", value_set=["A", "B"]),
        ],
    )
    context.suites.add(suite)
    [path] = (folder / "gx" / "expectations").glob("*.json")
    return path


def test_a_suite_gx_saved_loads_as_it_is(tmp_path: Path) -> None:
    saved = gx_saved_suite(tmp_path / "gx-project")
    raw = json.loads(saved.read_text(encoding="utf-8"))
    assert raw["id"] and all(e["id"] for e in raw["expectations"])  # GX's own ids, kept in the file
    data = tmp_path / "data.csv"
    data.write_text("record,age,arm\nR1,30,A\nR2,50,B\nR3,52,B\n", encoding="utf-8")
    code, report = check(tmp_path, data, saved)
    assert code == 0, report
    assert report["passed"] == report["total"] == 4
    data.write_text("record,age,arm\nR1,30,A\nR2,70,B\nR3,,C\n", encoding="utf-8")
    code, report = check(tmp_path, data, saved)
    assert code == 1
    failed = [e["type"] for e in report["validations"][0]["expectations"] if not e["success"]]
    assert failed == [
        "expect_column_values_to_not_be_null",
        "expect_column_mean_to_be_between",
        "expect_column_values_to_be_in_set",
    ] or set(failed) >= {"expect_column_mean_to_be_between", "expect_column_values_to_be_in_set"}


LEGACY = {
    "expectation_suite_name": "lesions_v0",
    "data_asset_type": None,
    "ge_cloud_id": None,
    "meta": {"great_expectations_version": "0.18.12", "owner": "data team"},
    "expectations": [
        {
            "expectation_type": "expect_column_values_to_not_be_null",
            "kwargs": {"column": "record", "result_format": "BASIC"},
            "meta": {},
        },
        {
            "expectation_type": "expect_column_values_to_be_between",
            "kwargs": {"column": "age", "min_value": 0, "max_value": 120, "mostly": 0.99},
            "meta": {"notes": "plausible ages"},
        },
        {
            "expectation_type": "expect_column_values_to_not_be_in_set",
            "kwargs": {"column": "record", "value_set": {"$PARAMETER": "train_ids"}},
            "meta": {},
        },
        {
            "expectation_type": "expect_column_chisquare_test_p_value_to_be_greater_than",
            "kwargs": {"column": "arm", "partition_object": {"values": ["A"], "weights": [1.0]}},
            "meta": {},
        },
        {
            "expectation_type": "expect_table_row_count_to_equal",
            "kwargs": {"value": {"$PARAMETER": "urn:great_expectations:validations:other:rows"}},
            "meta": {},
        },
    ],
}


def test_a_gx_0_suite_is_refused_naming_the_upgrade_command(tmp_path: Path) -> None:
    (tmp_path / "old.json").write_text(json.dumps(LEGACY), encoding="utf-8")
    (tmp_path / "data.csv").write_text("record,age\nR1,30\n", encoding="utf-8")
    proc = samdkit("check-data", "--dataset", "data.csv", "--suite", "old.json", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert "Great Expectations 0.x suite" in line
    assert "`samdkit check-data --upgrade-suite old.json NEW.json`" in line
    assert not (tmp_path / "reports").exists()


def test_upgrade_suite_converts_what_gx_1_knows_and_lists_the_rest(tmp_path: Path) -> None:
    (tmp_path / "old.json").write_text(json.dumps(LEGACY), encoding="utf-8")
    proc = samdkit("check-data", "--upgrade-suite", "old.json", "new.json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # two could not be converted
    out = proc.stdout
    assert "expectation 1 (expect_column_values_to_not_be_null): dropped result_format" in out
    assert (
        "expectation 4 (expect_column_chisquare_test_p_value_to_be_greater_than): not converted"
        in out
    )
    assert "expectation 5 (expect_table_row_count_to_equal): not converted: value uses a 0.x" in out
    assert "3 of 5 expectations converted, 2 not converted" in out
    new = json.loads((tmp_path / "new.json").read_text(encoding="utf-8"))
    assert new["name"] == "lesions_v0" and "expectation_suite_name" not in new
    assert [e["type"] for e in new["expectations"]] == [
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
        "expect_column_values_to_not_be_in_set",
    ]
    assert new["expectations"][1]["kwargs"]["mostly"] == 0.99
    assert new["meta"]["owner"] == "data team"
    assert "0.18.12" in new["meta"]["upgraded_from"]
    # GX 1.x loads it with its own schema, and samdkit validates with it
    import great_expectations as gx
    from great_expectations.core.expectation_suite import ExpectationSuiteSchema

    assert len(gx.ExpectationSuite(**ExpectationSuiteSchema().load(new)).expectations) == 3
    (tmp_path / "train.csv").write_text("record\nT1\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.samdkit.data.parameters]\ntrain_ids = { dataset = "train.csv", column = "record" }\n',
        encoding="utf-8",
    )
    (tmp_path / "data.csv").write_text("record,age\nR1,30\nR2,40\n", encoding="utf-8")
    code, report = check(tmp_path, tmp_path / "data.csv", tmp_path / "new.json")
    assert code == 0, report
    # never over an existing file, and never on a suite that is already 1.x
    again = samdkit("check-data", "--upgrade-suite", "old.json", "new.json", cwd=tmp_path)
    assert again.returncode == 2 and "exists" in again.stderr
    current = samdkit("check-data", "--upgrade-suite", "new.json", "x.json", cwd=tmp_path)
    assert current.returncode == 2 and "already a Great Expectations 1.x suite" in current.stderr


def test_an_upgrade_that_converts_everything_exits_0(tmp_path: Path) -> None:
    legacy = {**LEGACY, "expectations": LEGACY["expectations"][:2]}
    (tmp_path / "old.json").write_text(json.dumps(legacy), encoding="utf-8")
    proc = samdkit("check-data", "--upgrade-suite", "old.json", "new.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 of 2 expectations converted: review it" in proc.stdout


# -- drafts that hold on their source --------------------------------------------------------------


def _frames() -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    n = 12
    base = pd.Timestamp("2024-03-01 08:30:00")
    half = [None if i % 5 == 4 else i for i in range(n)]
    columns = {
        "bool": pd.Series([i % 2 == 0 for i in range(n)]),
        "boolean_na": pd.Series(
            [None if i == 3 else i % 2 == 0 for i in range(n)], dtype="boolean"
        ),
        "Int8_na": pd.Series(half, dtype="Int8"),
        "Int64_na": pd.Series([None if v is None else v * 2**40 for v in half], dtype="Int64"),
        "UInt16_na": pd.Series(half, dtype="UInt16"),
        "int64": pd.Series(np.arange(n, dtype="int64") - 5),
        "int64_wide": pd.Series([2**53 + i for i in range(n)], dtype="int64"),
        "float64_nan": pd.Series([None if i == 2 else i / 7 for i in range(n)], dtype="float64"),
        "Float64_na": pd.Series([None if i == 2 else i / 3 for i in range(n)], dtype="Float64"),
        "category": pd.Series(["small", "medium", "large"] * 4, dtype="category"),
        "string_na": pd.Series(["a", None, "b", "c"] * 3, dtype="string"),
        "str": pd.Series([f"R-{i:03d}" for i in range(n)], dtype="str"),
        "datetime": pd.Series([base + pd.Timedelta(days=i) for i in range(n)]),
        "datetime_nat": pd.Series(
            [None if i == 1 else base + pd.Timedelta(hours=i) for i in range(n)],
            dtype="datetime64[ns]",
        ),
        "datetime_tz": pd.Series(
            pd.date_range("2024-03-30", periods=n, freq="6h", tz="Europe/Paris")
        ),
        "timedelta": pd.Series(pd.to_timedelta([None if i == 0 else f"{i}h" for i in range(n)])),
    }
    return columns


DTYPES = list(_frames())


def _write(folder: Path, column: str, layout: str) -> Path:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    series = _frames()[column]
    frame = pd.DataFrame({"record": [f"R{i}" for i in range(len(series))], column: series})
    if layout == "pandas-parquet":
        path = folder / "data.parquet"
        frame.to_parquet(path)
    elif layout == "arrow-parquet":  # written by another Arrow tool: no pandas metadata
        path = folder / "data.parquet"
        table = pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(table.replace_schema_metadata(None), path)
    elif layout == "arrow-dtypes":  # pandas columns backed by Arrow
        path = folder / "data.parquet"
        frame.convert_dtypes(dtype_backend="pyarrow").to_parquet(path)
    else:
        path = folder / "data.csv"
        frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("layout", ["pandas-parquet", "arrow-parquet", "arrow-dtypes", "csv"])
@pytest.mark.parametrize("column", DTYPES)
def test_a_draft_validates_the_data_it_was_drafted_from(
    tmp_path: Path, column: str, layout: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(NO_PARAMETERS, encoding="utf-8")
    data = _write(tmp_path, column, layout)
    suite = tmp_path / "draft.json"
    args = ["check-data", "--root", str(tmp_path), "--dataset", str(data), "--suite", str(suite)]
    assert main([*args, "--init"]) == 0
    draft = json.loads(suite.read_text(encoding="utf-8"))
    typed = [e for e in draft["expectations"] if e["kwargs"].get("column") == column]
    assert typed, draft
    code, report = check(tmp_path, data, suite)
    failed = [e for e in report["validations"][0]["expectations"] if not e["success"]]
    assert code == 0 and not failed, failed
    assert report["passed"] == report["total"] == len(draft["expectations"])


def test_a_draft_round_trips_through_gx_own_serialiser(tmp_path: Path) -> None:
    import great_expectations as gx
    from great_expectations.core.expectation_suite import ExpectationSuiteSchema

    split = write_split(tmp_path / "data" / "prepared")
    suite = tmp_path / "draft.json"
    assert (
        main(
            [
                "check-data",
                "--root",
                str(tmp_path),
                "--dataset",
                str(split["test"]),
                "--suite",
                str(suite),
                "--init",
            ]
        )
        == 0
    )
    text = suite.read_text(encoding="utf-8")
    schema = ExpectationSuiteSchema()
    loaded = gx.ExpectationSuite(**schema.loads(text))
    again = json.loads(schema.dumps(loaded))
    draft = json.loads(text)
    assert len(loaded.expectations) == len(draft["expectations"])
    strip = lambda items: [{k: v for k, v in e.items() if k != "id"} for e in items]  # noqa: E731
    assert strip(again["expectations"]) == draft["expectations"]
    assert again["name"] == draft["name"] and again["meta"] == draft["meta"]


# -- every dataset covered -----------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project laid out like the generated one: its dvc.yaml, pyproject data settings, suites."""
    write_split(tmp_path / "data" / "prepared")
    shutil.copytree(
        TEMPLATE / "compliance" / "expectations", tmp_path / "compliance" / "expectations"
    )
    shutil.copy(TEMPLATE / "dvc.yaml", tmp_path / "dvc.yaml")
    shutil.copy(TEMPLATE / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_template_checks_every_dataset_including_the_golden_set(project: Path) -> None:
    proc = samdkit("check-data", cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((project / "reports" / "data-check.json").read_text(encoding="utf-8"))
    assert report["coverage"] == {
        "datasets": [
            "data/prepared/golden.csv",
            "data/prepared/test.csv",
            "data/prepared/train.csv",
        ],
        "unchecked": [],
        "exempt": {},
    }
    golden = report["validations"][2]
    assert golden["dataset"]["path"] == "data/prepared/golden.csv"
    [rows] = [
        e for e in golden["expectations"] if e["type"] == "expect_table_row_count_to_be_between"
    ]
    assert rows["kwargs"] == {"min_value": 50, "max_value": 50} and rows["observed_value"] == 50


def _without_golden_check(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    entry = '[[tool.samdkit.data.checks]]\ndataset = "golden_data"\nsuite = "golden.json"\n'
    assert entry in text
    pyproject.write_text(text.replace(entry, ""), encoding="utf-8")


def test_a_dataset_without_a_suite_fails_naming_it(project: Path) -> None:
    _without_golden_check(project)
    proc = samdkit("check-data", "--format", "github", cwd=project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert (
        "::error file=data/prepared/golden.csv,title=samdkit/dataset-without-suite::" in proc.stdout
    )
    report = json.loads((project / "reports" / "data-check.json").read_text(encoding="utf-8"))
    assert report["success"] is False and report["passed"] == report["total"]
    assert report["coverage"]["unchecked"] == ["data/prepared/golden.csv"]
    text = samdkit("check-data", cwd=project)
    assert "FAIL data/prepared/golden.csv: no suite" in text.stdout
    assert text.stdout.strip().splitlines()[-1].endswith("unchecked datasets: 1)")


def test_an_exemption_with_its_reason_is_recorded(project: Path) -> None:
    _without_golden_check(project)
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    # the template keeps its (synced) exempt table last in the file: add the entry to it
    header = (
        ""
        if text.rstrip().endswith("[tool.samdkit.data.exempt]")
        else "\n[tool.samdkit.data.exempt]"
    )
    pyproject.write_text(
        text.rstrip() + header + '\n"data/prepared/golden.csv" = "a subset of test"\n',
        encoding="utf-8",
    )
    proc = samdkit("check-data", cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((project / "reports" / "data-check.json").read_text(encoding="utf-8"))
    assert report["coverage"]["exempt"] == {"data/prepared/golden.csv": "a subset of test"}


def test_dvc_deps_and_the_params_source_under_data_are_datasets(project: Path) -> None:
    import pandas as pd

    (project / "data" / "raw").mkdir()
    pd.DataFrame({"x": [1]}).to_csv(project / "data" / "raw" / "lesions.csv", index=False)
    (project / "params.yaml").write_text(
        "data:\n  source: data/raw/lesions.csv\n", encoding="utf-8"
    )
    dvc = (project / "dvc.yaml").read_text(encoding="utf-8")
    dvc = dvc.replace(
        "      - data/prepared/golden.csv\n",
        "      - data/prepared/golden.csv\n      - data/external/registry.parquet\n",
        1,
    )
    (project / "dvc.yaml").write_text(dvc, encoding="utf-8")
    proc = samdkit("check-data", cwd=project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads((project / "reports" / "data-check.json").read_text(encoding="utf-8"))
    assert report["coverage"]["unchecked"] == [
        "data/external/registry.parquet",  # named in dvc.yaml, even before it exists
        "data/raw/lesions.csv",
    ]


def test_a_corrupted_golden_set_fails(project: Path) -> None:
    """The bug: missing values and absurd magnitudes in golden.csv left check-data green."""
    import pandas as pd

    golden = project / "data" / "prepared" / "golden.csv"
    frame = pd.read_csv(golden, dtype=str, keep_default_na=False)
    frame.loc[3, "mean_radius"] = ""
    frame.loc[7, "mean_area"] = "1e12"
    frame.to_csv(golden, index=False)
    proc = samdkit("check-data", cwd=project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads((project / "reports" / "data-check.json").read_text(encoding="utf-8"))
    golden_result = report["validations"][2]
    failed = {(e["type"], e["column"]) for e in golden_result["expectations"] if not e["success"]}
    assert failed == {
        ("expect_column_values_to_not_be_null", "mean_radius"),
        ("expect_column_values_to_be_between", "mean_area"),
    }
    assert report["validations"][1]["success"]  # the test split itself is untouched


# -- reasons -------------------------------------------------------------------------------------


def test_every_failure_says_what_was_observed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text(NO_PARAMETERS, encoding="utf-8")
    data = tmp_path / "data.csv"
    data.write_text(
        "record,age,arm,site,code\nR1,30,A,a,x1\nR2,70,B,c,x2\nR3,80,B,c,x3\n", encoding="utf-8"
    )
    suite = tmp_path / "suite.json"
    expectations = [
        expectation(
            "expect_column_mean_to_be_between",
            column="age",
            min_value=0,
            max_value=100,
            row_condition='arm=="X"',
            condition_parser="pandas",
        ),
        expectation(
            "expect_column_mean_to_be_between",
            column="age",
            min_value=0,
            max_value=50,
            row_condition='arm=="B"',
            condition_parser="pandas",
        ),
        expectation(
            "expect_column_distinct_values_to_equal_set", column="site", value_set=["a", "b"]
        ),
        expectation("expect_table_row_count_to_be_between", min_value=10, max_value=20),
        expectation("expect_column_values_to_be_of_type", column="code", type_="int64"),
        expectation("expect_column_values_to_be_between", column="age", min_value=0, max_value=60),
    ]
    suite.write_text(json.dumps({"name": "s", "expectations": expectations}), encoding="utf-8")
    code, report = check(tmp_path, data, suite)
    assert code == 1
    rows = report["validations"][0]["expectations"]
    assert [r["success"] for r in rows] == [False, False, False, False, True, False, False]
    reasons = [r["reason"] for r in rows]
    assert rows[0]["rows_matching_condition"] == 0
    assert reasons[0].startswith(
        "observed no row matching the row_condition (0 rows): nothing to compute on; expected"
    )
    assert rows[1]["observed_value"] == 75 and rows[1]["rows_matching_condition"] == 2
    assert reasons[1].startswith('observed 75.0; expected {"min_value": 0, "max_value": 50')
    assert (rows[2]["unexpected_count"], rows[2]["missing_count"]) == (1, 1)
    assert reasons[2].startswith("observed 1 distinct value(s) outside the set, 1 of the set not")
    assert reasons[3].startswith('observed 3; expected {"min_value": 10, "max_value": 20}')
    # a declared type the written cells do not have: the typing fails, by count
    assert rows[6]["type"] == "samdkit_column_values_parse_as_declared_type"
    assert reasons[6].startswith("observed 3 of 3 written values that are not int; expected")
    assert reasons[5].startswith("observed 2 of 3 values unexpected (66.7%)")
    out = capsys.readouterr().out
    for text in reasons[:4] + reasons[5:]:
        assert text[:60] in out  # the same words on the console
