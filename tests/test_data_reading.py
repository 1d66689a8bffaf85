"""`samdkit check-data` judges data as written: CSV cells are text, typed only as the suite says.

Each example is a public bug class against pandas' guessing (leading zeros, "NA" strings, wide
integers, mixed columns, encodings), run with the real GX, pandas and pyarrow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from samdkit.cli import main
from tests.conftest import samdkit_cli as samdkit

WIDE = 2**53 + 1  # the first integer a float64 cannot hold
BEYOND_INT64 = 2**64 + 1


def expectation(kind: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "meta": {}}


def validate(
    folder: Path, data: str | bytes, expectations: list[dict[str, Any]], name: str = "data.csv"
) -> tuple[int, dict[str, Any]]:
    """Write the dataset and a suite, run check-data in-process; exit code and the JSON result."""
    dataset = folder / name
    if isinstance(data, str):
        dataset.write_text(data, encoding="utf-8")
    else:
        dataset.write_bytes(data)
    suite = folder / "suite.json"
    suite.write_text(json.dumps({"name": "s", "expectations": expectations}), encoding="utf-8")
    output = folder / "result.json"
    code = main(
        [
            "check-data",
            "--root",
            str(folder),
            "--dataset",
            str(dataset),
            "--suite",
            str(suite),
            "--output",
            str(output),
        ]
    )
    return code, json.loads(output.read_text(encoding="utf-8"))


def results(report: dict[str, Any]) -> list[dict[str, Any]]:
    return report["validations"][0]["expectations"]


def test_leading_zeros_are_kept_for_a_regex(tmp_path: Path) -> None:
    """pandas read 000123 as the integer 123: the regex failed on values not in the file."""
    code, report = validate(
        tmp_path,
        "code,n\n000123,1\n004560,2\n120000,3\n",
        [
            expectation("expect_column_values_to_match_regex", column="code", regex=r"^\d{6}$"),
            expectation(
                "expect_column_values_to_be_in_set",
                column="code",
                value_set=["000123", "004560", "120000"],
            ),
        ],
    )
    assert code == 0, results(report)
    assert report["validations"][0]["dataset"]["read_as"] == "text"
    assert [r["unexpected_count"] for r in results(report)] == [0, 0]


@pytest.mark.parametrize("written", ["NA", "null", "None", "NaN", "n/a", "#N/A", "-"])
def test_text_that_looks_missing_is_not_missing(tmp_path: Path, written: str) -> None:
    """A name column holding the text NA (e.g. a surname, or Namibia) has no empty cell."""
    code, report = validate(
        tmp_path,
        f"country,n\n{written},1\nFR,2\n",
        [expectation("expect_column_values_to_not_be_null", column="country")],
    )
    assert code == 0, results(report)
    assert results(report)[0]["unexpected_count"] == 0


def test_only_an_empty_cell_is_missing(tmp_path: Path) -> None:
    code, report = validate(
        tmp_path,
        'country,n\nNA,1\n,2\n"",3\nFR,4\n',
        [expectation("expect_column_values_to_not_be_null", column="country")],
    )
    assert code == 1
    [result] = results(report)
    assert (result["unexpected_count"], result["element_count"]) == (2, 4)
    assert result["reason"].startswith("observed 2 of 4 values unexpected (50.0%)")


def test_numeric_expectations_type_a_text_column_explicitly_and_say_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = validate(
        tmp_path,
        "age,weight,flag\n34,70.5,true\n51, 80.25 ,False\n+29,65,TRUE\n",
        [
            expectation(
                "expect_column_mean_to_be_between", column="age", min_value=38, max_value=38
            ),
            expectation(
                "expect_column_values_to_be_between", column="weight", min_value=65, max_value=80.25
            ),
            expectation(
                "expect_column_values_to_be_in_set", column="flag", value_set=[True, False]
            ),
        ],
    )
    assert code == 0, results(report)
    typing = report["validations"][0]["typing"]
    assert typing == {
        "age": {"as": "number", "declared_by": "expect_column_mean_to_be_between", "unparsed": 0},
        "weight": {
            "as": "number",
            "declared_by": "expect_column_values_to_be_between",
            "unparsed": 0,
        },
        "flag": {"as": "bool", "declared_by": "expect_column_values_to_be_in_set", "unparsed": 0},
    }
    assert results(report)[0]["observed_value"] == 38
    assert (
        "3/3 passed; read as text, typed by the suite: 1 bool, 2 number" in capsys.readouterr().out
    )


def test_a_declared_type_wins_and_its_unparsed_cells_fail_by_count(tmp_path: Path) -> None:
    """A mixed column: the suite says float; cells that are not numbers fail, counted, not shown."""
    code, report = validate(
        tmp_path,
        "dose,n\n1.5,1\nabc,2\n2,3\n,4\nNaN,5\n",
        [
            expectation("expect_column_values_to_be_of_type", column="dose", type_="float64"),
            expectation(
                "expect_column_values_to_be_between", column="dose", min_value=0, max_value=10
            ),
        ],
    )
    assert code == 1
    rows = results(report)
    assert [r["success"] for r in rows] == [True, True, False]
    typing = rows[-1]
    assert typing["type"] == "samdkit_column_values_parse_as_declared_type"
    assert typing["column"] == "dose" and typing["kwargs"]["type_"] == "float"
    assert (typing["unexpected_count"], typing["element_count"], typing["missing_count"]) == (
        2,
        4,
        1,
    )
    assert typing["reason"].startswith("observed 2 of 4 written values that are not float")
    assert "abc" not in json.dumps(report) and "NaN" not in json.dumps(report)
    assert report["validations"][0]["typing"]["dose"]["unparsed"] == 2


def test_a_mixed_column_declared_as_text_stays_text(tmp_path: Path) -> None:
    code, report = validate(
        tmp_path,
        "value\n12\nabc\n3.50\n",
        [
            expectation("expect_column_values_to_be_of_type", column="value", type_="str"),
            expectation(
                "expect_column_values_to_be_in_set", column="value", value_set=["12", "abc", "3.50"]
            ),
        ],
    )
    assert code == 0, results(report)
    assert report["validations"][0]["typing"] == {}


@pytest.mark.parametrize(
    ("declared", "value"),
    [(None, WIDE), ("int64", WIDE), ("int64", 2**63 - 1), (None, BEYOND_INT64), (None, -WIDE)],
)
def test_wide_integers_are_not_rounded(tmp_path: Path, declared: str | None, value: int) -> None:
    """float64 holds 2**53 + 1 as 2**53: a set of such ids must see the written value."""
    suite = [
        expectation("expect_column_values_to_be_in_set", column="accession", value_set=[value, 7])
    ]
    if abs(value) < 2**63:  # GX's bounds are floats: a statistic is compared in float64
        kind = "expect_column_max_to_be_between" if value > 7 else "expect_column_min_to_be_between"
        suite.append(expectation(kind, column="accession", min_value=value, max_value=value))
    if declared:
        suite.append(
            expectation("expect_column_values_to_be_of_type", column="accession", type_=declared)
        )
    code, report = validate(tmp_path, f"accession\n{value}\n7\n", suite)
    assert code == 0, results(report)
    if abs(value) < 2**63:
        assert results(report)[1]["observed_value"] == value  # exact in the JSON too
    # and a neighbour that the float64 reading confused with it fails
    code, report = validate(tmp_path, f"accession\n{value + 1}\n7\n", suite[:1])
    assert code == 1 and results(report)[0]["unexpected_count"] == 1


def test_int64_declared_beyond_its_range_is_counted_not_wrapped(tmp_path: Path) -> None:
    code, report = validate(
        tmp_path,
        f"n\n{BEYOND_INT64}\n1\n",
        [expectation("expect_column_values_to_be_of_type", column="n", type_="int64")],
    )
    assert code == 1
    assert results(report)[-1]["unexpected_count"] == 1


def test_the_independence_check_compares_ids_as_written(tmp_path: Path) -> None:
    """Train id 00123 and test id 123 are different samples; pandas made them both 123."""
    (tmp_path / "train.csv").write_text("sample_id,x\n00123,1\n00456,2\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.samdkit.data.parameters]\ntrain_ids = { dataset = "train.csv", column = "sample_id" }\n',
        encoding="utf-8",
    )
    independent = [
        expectation(
            "expect_column_values_to_not_be_in_set",
            column="sample_id",
            value_set={"$PARAMETER": "train_ids"},
        )
    ]
    code, report = validate(tmp_path, "sample_id,x\n123,1\n456,2\n", independent)
    assert code == 0, results(report)
    assert report["validations"][0]["parameters"]["train_ids"]["values"] == 2
    code, report = validate(tmp_path, "sample_id,x\n00123,1\n456,2\n", independent)
    assert code == 1 and results(report)[0]["unexpected_count"] == 1
    # a suite that types the id as a number compares numbers, on both sides
    typed = [
        *independent,
        expectation("expect_column_values_to_be_of_type", column="sample_id", type_="int64"),
    ]
    code, report = validate(tmp_path, "sample_id,x\n123,1\n789,2\n", typed)
    assert code == 1 and results(report)[0]["unexpected_count"] == 1


def test_parquet_keeps_its_own_types(tmp_path: Path) -> None:
    """Arrow integers with nulls stay integers (exact), not float64; codes stay strings."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "accession": pa.array([WIDE, None, 7], pa.int64()),
            "code": pa.array(["000123", "NA", None]),
            "flag": pa.array([True, None, False]),
        }
    )
    pq.write_table(table, tmp_path / "data.parquet")
    suite = [
        expectation("expect_column_values_to_be_in_set", column="accession", value_set=[WIDE, 7]),
        expectation("expect_column_values_to_be_of_type", column="accession", type_="int64"),
        expectation("expect_column_values_to_match_regex", column="code", regex=r"^(?:\d{6}|NA)$"),
        expectation("expect_column_values_to_be_in_set", column="flag", value_set=[True, False]),
    ]
    code, report = validate(
        tmp_path, (tmp_path / "data.parquet").read_bytes(), suite, name="copy.parquet"
    )
    assert code == 0, results(report)
    assert report["validations"][0]["dataset"]["read_as"] == "typed"
    assert report["validations"][0]["typing"] == {}
    assert results(report)[0]["missing_count"] == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            "name,n\nJos\xe9,1\n".encode("latin-1"),
            "not UTF-8 text (byte 0xe9 at offset 10, line 2)",
        ),
        (b"\xff\xfen\x00a\x00m\x00e\x00\n\x00", "not UTF-8 text (byte 0xff at offset 0, line 1)"),
    ],
)
def test_non_utf8_input_is_one_clear_line(tmp_path: Path, data: bytes, message: str) -> None:
    (tmp_path / "data.csv").write_bytes(data)
    (tmp_path / "suite.json").write_text(
        json.dumps(
            {
                "name": "s",
                "expectations": [expectation("expect_column_values_to_not_be_null", column="name")],
            }
        ),
        encoding="utf-8",
    )
    proc = samdkit("check-data", "--dataset", "data.csv", "--suite", "suite.json", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert "Jos" not in proc.stderr  # the line names the byte, not the text around it
    assert not (tmp_path / "reports").exists()
