"""`samdkit check-data` keeps patient data out of its evidence (issue 13): names and medical record
numbers seeded into failing data reach neither reports/data-check.json nor the console, in every
format; ``--show-values`` shows them on a terminal only."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import samdkit_cli as samdkit

NAMES = ["Mariette Quenneville", "Bartholomew Okonkwo-Reyes", "Zofia Wiśniewska-Laar"]
MRNS = ["MRN-4471902", "MRN-5580213", "MRN-0066124"]
SECRETS = [*NAMES, *MRNS, *(part for name in NAMES for part in re.split(r"[ -]", name))]


def expectation(kind: str, **kwargs: object) -> dict[str, object]:
    return {"type": kind, "kwargs": kwargs, "meta": {}}


SUITE = {
    "name": "cohort",
    "expectations": [
        expectation(
            "expect_column_values_to_be_in_set", column="patient_name", value_set=["Test Patient"]
        ),
        expectation("expect_column_values_to_match_regex", column="mrn", regex=r"^MRN-\d{8}$"),
        expectation("expect_column_values_to_be_unique", column="mrn"),
        expectation(
            "expect_column_values_to_not_be_in_set",
            column="mrn",
            value_set={"$PARAMETER": "train_ids"},
        ),
        expectation(
            "expect_column_distinct_values_to_equal_set",
            column="patient_name",
            value_set=["Test Patient"],
        ),
        expectation(
            "expect_column_most_common_value_to_be_in_set",
            column="patient_name",
            value_set=["Test Patient"],
        ),
        expectation(
            "expect_column_min_to_be_between",
            column="patient_name",
            min_value="2020-01-01",
            max_value="2020-12-31",
        ),
        expectation(
            "expect_column_max_to_be_between",
            column="mrn",
            min_value="2020-01-01",
            max_value="2020-12-31",
        ),
        expectation(
            "expect_column_value_lengths_to_be_between",
            column="patient_name",
            min_value=1,
            max_value=5,
        ),
        expectation(
            "expect_column_mean_to_be_between", column="patient_name", min_value=0, max_value=1
        ),
        expectation("expect_column_values_to_be_between", column="age", min_value=0, max_value=120),
        expectation("expect_column_values_to_be_of_type", column="age", type_="int64"),
    ],
}


@pytest.fixture
def cohort(tmp_path: Path) -> Path:
    """A project whose test data carries patient names and MRNs, and fails on them."""
    rows = [
        f"{MRNS[0]},{NAMES[0]},34,1",
        f"{MRNS[1]},{NAMES[1]},212,0",  # an absurd age
        f"{MRNS[1]},{NAMES[2]},{NAMES[2]},1",  # a duplicated MRN, a name in the age column
        f"{MRNS[2]},{NAMES[0]},51,0",
    ]
    data = tmp_path / "data" / "prepared"
    data.mkdir(parents=True)
    (data / "test.csv").write_text(
        "mrn,patient_name,age,label\n" + "\n".join(rows) + "\n", encoding="utf-8"
    )
    (data / "train.csv").write_text(f"mrn,patient_name\n{MRNS[2]},{NAMES[1]}\n", encoding="utf-8")
    suites = tmp_path / "compliance" / "expectations"
    suites.mkdir(parents=True)
    (suites / "cohort.json").write_text(json.dumps(SUITE), encoding="utf-8")
    (suites / "train.json").write_text(
        json.dumps(
            {
                "name": "train",
                "expectations": [
                    expectation(
                        "expect_column_values_to_be_in_set",
                        column="patient_name",
                        value_set=["Test Patient"],
                    )
                ],
            }
        ),
        encoding="utf-8",
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.samdkit.data]\nid_column = "mrn"\n'
        '[[tool.samdkit.data.checks]]\ndataset = "test_data"\nsuite = "cohort.json"\n'
        '[[tool.samdkit.data.checks]]\ndataset = "train_data"\nsuite = "train.json"\n'
        '[tool.samdkit.data.parameters]\ntrain_ids = { dataset = "train_data", column = "mrn" }\n',
        encoding="utf-8",
    )
    return tmp_path


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_no_name_or_mrn_in_the_result_or_on_the_console(cohort: Path, fmt: str) -> None:
    proc = samdkit("check-data", "--format", fmt, cwd=cohort)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    written = (cohort / "reports" / "data-check.json").read_text(encoding="utf-8")
    report = json.loads(written)
    failed = [e for e in report["validations"][0]["expectations"] if not e["success"]]
    assert len(failed) >= 11  # the data does fail: the test is not empty
    assert leaks(written) == [] and leaks(proc.stdout) == [] and leaks(proc.stderr) == []
    assert "partial_unexpected_list" not in written and "unexpected_index" not in written
    by_type = {(e["type"], e["column"]): e for e in failed}
    # counts next to the expectation, and observed row values replaced by their count
    assert by_type[("expect_column_values_to_be_in_set", "patient_name")]["unexpected_count"] == 4
    assert by_type[("expect_column_values_to_not_be_in_set", "mrn")]["unexpected_count"] == 1
    # GX's message for a min of names against dates quotes the names: withheld
    minimum = by_type[("expect_column_min_to_be_between", "patient_name")]
    assert minimum["exception"].startswith("withheld: the message quotes row values")
    assert (
        by_type[("expect_column_most_common_value_to_be_in_set", "patient_name")]["observed_value"][
            "withheld"
        ]
        == "row values"
    )


def test_show_values_refuses_anything_but_a_terminal(cohort: Path) -> None:
    proc = samdkit("check-data", "--show-values", cwd=cohort)
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert "--show-values prints row values to a terminal only" in line
    assert not (cohort / "reports").exists()
    assert leaks(proc.stdout + proc.stderr) == []


def test_show_values_prints_them_on_the_terminal_and_nowhere_else(cohort: Path) -> None:
    master, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "samdkit", "check-data", "--show-values"],
        cwd=cohort,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
    )
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    stdout = proc.stdout.read().decode()
    assert proc.wait() == 1
    os.close(master)
    on_terminal = shown.decode("utf-8", "replace")
    assert set(leaks(on_terminal)) >= {NAMES[1], MRNS[1], MRNS[2]}
    assert "values: data/prepared/test.csv / cohort" in on_terminal
    written = (cohort / "reports" / "data-check.json").read_text(encoding="utf-8")
    assert leaks(written) == [] and leaks(stdout) == []


def test_a_malformed_row_is_located_without_quoting_it(tmp_path: Path) -> None:
    """Arrow's CSV reader quotes the offending row in its error; the one line must not."""
    (tmp_path / "data.csv").write_text(
        f"mrn,patient_name\n{MRNS[0]},{NAMES[0]}\n{MRNS[1]},{NAMES[1]},extra\n", encoding="utf-8"
    )
    (tmp_path / "suite.json").write_text(json.dumps(SUITE), encoding="utf-8")
    proc = samdkit("check-data", "--dataset", "data.csv", "--suite", "suite.json", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert "unreadable dataset" in line and "line 3" in line
    assert leaks(proc.stdout + proc.stderr) == []
