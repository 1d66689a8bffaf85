"""The strict evidence readers refuse what they do not declare, through the real CLI (issue 18, attacker review).

1. An undeclared field, at any level of reports/evaluation.json, reports/data-check.json or model.lock, is
   exit 2 with one line naming the field path (never its value); tables keyed by data by design (class
   names, metric ids, dataset paths, params.yaml) are checked by the shape of their keys instead.
2. Every digest of the lock is 64 lowercase hex digits, checked by the reader (not by the SBOM validator).
3. No error quotes a value from the file (a schema id included); invalid UTF-8 is refused, never replaced.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import samdkit_cli
from tests.test_report import populate

DATA = Path(__file__).parent / "data"
HOSTILE = "Jane Doe MRN 12345678"


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, predictions) -> Path:
    """A complete evidence set, evaluated once (the report is not run: each test breaks one file)."""
    root = populate(tmp_path_factory.mktemp("strict"), predictions)
    done = samdkit_cli("evaluate", "--no-mlflow", cwd=root)
    assert done.returncode == 0, done.stderr
    return root


@pytest.fixture
def project(evaluated, tmp_path) -> Path:
    root = tmp_path / "p"
    shutil.copytree(evaluated, root)
    return root


def edit_json(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")


def at(doc: Any, path: list[Any]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def refused(done: subprocess.CompletedProcess, *words: str) -> str:
    """Exit 2, one line on stderr naming what is wrong, no traceback, the hostile value nowhere."""
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0], lines[0]
    for secret in (HOSTILE, "12345678", "Jane"):
        assert secret not in done.stdout + done.stderr
    return lines[0]


# ------------------------------------------------------------------------ 1. undeclared fields refused

EVALUATION_PLACES = [
    [],
    ["overall"],
    ["overall", "metrics"],
    ["overall", "metrics", "auroc"],
    ["overall", "metrics", "sensitivity", "ci"],
    ["overall", "confusion_matrix"],
    ["overall", "calibration"],
    ["overall", "calibration", "bins", 0],
    ["overall", "curves"],
    ["overall", "curves", "roc"],
    ["generator"],
    ["inputs"],
    ["inputs", "predictions"],
    ["methods"],
    ["methods", "bootstrap"],
    ["publication"],
    ["summary"],
    ["subgroups", 0],
    ["subgroups", 0, "metrics", "ppv"],
    ["criteria", 0],
]


def dotted(path: list[Any]) -> str:
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else key)
    return out


@pytest.mark.parametrize("place", EVALUATION_PLACES, ids=dotted)
def test_an_undeclared_evaluation_field_stops_the_report(project, place):
    edit_json(
        project / "reports" / "evaluation.json", lambda d: at(d, place).update(patient=HOSTILE)
    )
    name = dotted([*place, "patient"])
    line = refused(samdkit_cli("report", cwd=project), f"'{name}' is not a field of the evaluation")
    assert not (project / "reports" / "clinical-validation-report.json").exists(), line


def test_an_undeclared_field_with_a_hostile_name_is_described_not_quoted(project):
    edit_json(project / "reports" / "evaluation.json", lambda d: d["overall"].update({HOSTILE: 1}))
    refused(samdkit_cli("report", cwd=project), "'overall' holds a field that is not part of")


def test_a_gap_named_for_no_metric_is_refused(project):
    """gap_to_overall is keyed by metric ids: a key of any other shape is refused, not quoted."""
    edit_json(
        project / "reports" / "evaluation.json",
        lambda d: d["subgroups"][0]["gap_to_overall"].update({HOSTILE: 0.1}),
    )
    refused(samdkit_cli("comment", cwd=project), "'subgroups[0].gap_to_overall' key #", "metric id")


@pytest.mark.parametrize(
    "place",
    [[], ["validations", 0], ["validations", 0, "suite"], ["validations", 0, "dataset"],
     ["validations", 0, "expectations", 0]],
    ids=dotted,
)  # fmt: skip
def test_an_undeclared_data_check_field_stops_the_report(project, place):
    edit_json(
        project / "reports" / "data-check.json", lambda d: at(d, place).update(patient=HOSTILE)
    )
    name = dotted([*place, "patient"])
    refused(samdkit_cli("report", cwd=project), f"'{name}' is not a field of the data-check result")


def test_row_values_in_a_legacy_data_check_field_are_refused(project):
    def change(doc: dict[str, Any]) -> None:
        doc["validations"][0]["expectations"][0]["partial_unexpected_list"] = [HOSTILE]

    edit_json(project / "reports" / "data-check.json", change)
    refused(samdkit_cli("comment", cwd=project), "partial_unexpected_list", "never row values")


@pytest.mark.parametrize(
    "place",
    [[], ["artifact"], ["artifact", "files", 0], ["determinism"], ["determinism", "golden"],
     ["data"], ["data", "outs", 0], ["git"], ["environment"], ["mlflow"]],
    ids=dotted,
)  # fmt: skip
def test_an_undeclared_lock_field_stops_the_report(project, place):
    key = "format" if not place else "patient"
    edit_json(project / "model.lock", lambda d: at(d, place).update({key: HOSTILE}))
    name = dotted([*place, key])
    refused(samdkit_cli("report", cwd=project), f"'{name}' is not a field of the lock")


def test_the_reference_documents_still_read(tmp_path):
    """What samdkit writes today (and wrote before) reads: tables keyed by data are not 'unknown fields'."""
    from samdkit.data import result
    from samdkit.evaluate import document
    from samdkit.lock import schema

    for name in ("v1-binary.json", "v2-multiclass.json"):
        document.read(DATA / "evaluation" / name)
    for name in ("data-check-pass.json", "data-check-fail.json"):
        result.read(DATA / "report" / name)
    schema.read(DATA / "report" / "model.lock")


# ---------------------------------------------------------------------------- 2. digests of the lock


@pytest.mark.parametrize(
    "path",
    [["artifact", "root_digest"], ["artifact", "files", 0, "sha256"],
     ["determinism", "output_sha256"], ["determinism", "golden", "sha256"]],
    ids=dotted,
)  # fmt: skip
@pytest.mark.parametrize("value", [HOSTILE, "A" * 64, "0" * 63], ids=["text", "upper", "short"])
def test_a_lock_digest_that_is_not_sha256_hex_is_bad_input(project, path, value):
    edit_json(project / "model.lock", lambda d: at(d, path[:-1]).update({path[-1]: value}))
    refused(samdkit_cli("report", cwd=project), f"'{dotted(path)}' must be 64 lowercase hex digits")


def test_verify_lock_names_a_bad_root_digest(project):
    edit_json(project / "model.lock", lambda d: d["artifact"].update(root_digest=HOSTILE))
    refused(samdkit_cli("verify-lock", cwd=project), "'artifact.root_digest'")


# ------------------------------------------------------------ 3. no value quoted; UTF-8 strictly


@pytest.mark.parametrize("name", ["evaluation.json", "data-check.json"])
def test_an_unknown_schema_is_not_quoted(project, name):
    edit_json(project / "reports" / name, lambda d: d.update(schema=HOSTILE))
    line = refused(samdkit_cli("comment", cwd=project), "an unknown schema", "samdkit/")
    assert "samdkit/evaluation/v1" in line or "samdkit/data-check/1" in line


def test_an_unknown_lock_version_is_not_quoted(project):
    edit_json(project / "model.lock", lambda d: d.update(schema_version=12345678))
    refused(samdkit_cli("report", cwd=project), "an unknown lock format version")


@pytest.mark.parametrize(
    "name", ["reports/evaluation.json", "reports/data-check.json", "model.lock"]
)
def test_invalid_utf8_is_refused_not_replaced(project, name):
    path = project / name
    text = path.read_bytes()
    path.write_bytes(text.replace(b'"schema"', b'"\xff\xfeschema"', 1) if b'"schema"' in text
                     else text.replace(b'"created_at"', b'"\xffcreated_at"', 1))  # fmt: skip
    refused(samdkit_cli("report", cwd=project), "not UTF-8")
