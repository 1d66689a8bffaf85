"""Defects a reviewer found trying the product as an attacker and as a new user (real GX, pandas,
weasyprint, poppler, cookiecutter, uv; nothing mocked)."""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from samdkit.core import escape
from tests.conftest import BIN, project_env, samdkit_cli


def _data_project(root: Path, csv: str, data_settings: str = "", suite: dict | None = None) -> Path:
    """A minimal project: one CSV checked by compliance/expectations/d.json."""
    (root / "data").mkdir(parents=True)
    (root / "compliance" / "expectations").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "0.1.0"\n[tool.samdkit.data]\nid_column = "mrn"\n'
        f'{data_settings}\n[[tool.samdkit.data.checks]]\ndataset = "data/d.csv"\nsuite = "d.json"\n'
    )
    (root / "data" / "d.csv").write_text(csv)
    if suite is not None:
        (root / "compliance" / "expectations" / "d.json").write_text(json.dumps(suite))
    return root


def _expectation(kind: str, **kwargs) -> dict:
    return {"type": kind, "kwargs": kwargs}


def _results(root: Path) -> list[dict]:
    report = json.loads((root / "reports" / "data-check.json").read_text())
    return [e for v in report["validations"] for e in v["expectations"]]


# -- 1. a drafted suite copies no rare value ------------------------------------------------------

RARE_NAME = "Jane Quokkason"


def _referrals(root: Path) -> Path:
    rows = ["mrn,referrer,site"] + [
        f"MRN{i:05d},{'Dr Wombatley' if i % 2 else 'Dr Pangolini'},{'north' if i % 3 else 'south'}"
        for i in range(200)
    ]
    rows[50] = f"MRN00049x,{RARE_NAME},north"  # one patient's name typed into the wrong column
    return _data_project(root, "\n".join(rows) + "\n")


def test_draft_copies_no_value_seen_under_the_small_cell_minimum(tmp_path):
    root = _referrals(tmp_path)
    drafted = samdkit_cli("check-data", "--init", cwd=root)
    assert drafted.returncode == 0, drafted.stderr
    assert "no value set drafted for 'referrer'" in drafted.stdout
    assert "11 times" in drafted.stdout
    checked = samdkit_cli("check-data", cwd=root)
    suite = json.loads((root / "compliance" / "expectations" / "d.json").read_text())
    outputs = [json.dumps(suite), (root / "reports" / "data-check.json").read_text()]
    outputs += [drafted.stdout, drafted.stderr, checked.stdout, checked.stderr]
    assert not any(RARE_NAME in text for text in outputs)
    sets = {
        e["kwargs"]["column"]: e["kwargs"]["value_set"]
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_in_set"
    }
    assert sets == {"site": ["north", "south"]}  # values each seen often still make a value set
    assert suite["meta"]["no_value_set"]["columns"] == ["referrer"]
    assert checked.returncode == 0, checked.stdout


def test_draft_uses_the_projects_small_cell_minimum(tmp_path):
    root = _referrals(tmp_path)
    (root / "compliance" / "requirements.yaml").write_text("publication:\n  min_cell_size: 150\n")
    drafted = samdkit_cli("check-data", "--init", cwd=root)
    assert drafted.returncode == 0, drafted.stderr
    suite = json.loads((root / "compliance" / "expectations" / "d.json").read_text())
    assert not [
        e for e in suite["expectations"] if e["type"] == "expect_column_values_to_be_in_set"
    ]
    assert suite["meta"]["no_value_set"]["columns"] == ["referrer", "site"]
    assert "150 times" in drafted.stdout


# -- 2. an identifying column's observed values are withheld -------------------------------------


def test_identifying_columns_observed_values_are_withheld_counts_kept(tmp_path):
    suite = {
        "name": "d",
        "expectations": [
            _expectation(
                "expect_column_max_to_be_between", column="mrn", min_value=0, max_value=10
            ),
            _expectation(
                "expect_column_mean_to_be_between", column="mrn", min_value=0, max_value=1
            ),
            _expectation(
                "expect_column_min_to_be_between", column="birth_year", min_value=0, max_value=1
            ),
            _expectation(
                "expect_column_unique_value_count_to_be_between", column="mrn", max_value=1
            ),
            _expectation(
                "expect_column_max_to_be_between", column="size", min_value=0, max_value=1
            ),
            _expectation("expect_column_values_to_be_between", column="mrn", max_value=200),
        ],
    }
    csv = "mrn,birth_year,size\n000123,1987,4\n004711,1990,6\n"
    root = _data_project(tmp_path, csv, 'identifying_columns = ["birth_year"]', suite)
    done = samdkit_cli("check-data", cwd=root)
    assert done.returncode == 1, done.stderr
    results = _results(root)
    text = done.stdout + done.stderr + json.dumps(results)  # (the file's digests are hex)
    for value in ("4711", "123", "2417", "1987"):  # max, min, mean (2417.0) of the MRNs; a year
        assert value not in text
    for result in results[:3]:
        assert result["observed_value"] == {"withheld": "identifier"}
        assert "withheld (an identifying column" in result["reason"]
    assert results[3]["observed_value"] == 2  # a count of an id column is not one of its values
    assert results[4]["observed_value"] == 6  # a column that identifies no one keeps its statistic
    counted = results[5]  # row counts of an identifying column stay
    assert (counted["element_count"], counted["unexpected_count"]) == (2, 1)
    assert counted["reason"].startswith("observed 1 of 2 values unexpected (50.0%)")


def test_identifying_columns_must_be_a_list_of_names(tmp_path):
    root = _data_project(tmp_path, "mrn\n1\n", 'identifying_columns = "name"', {"name": "d"})
    done = samdkit_cli("check-data", cwd=root)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "identifying_columns" in done.stderr


# -- 3. GX's own text type names hold on text samdkit read -----------------------------------------

TEXT_NAMES = ["str", "object", "string", "object_", "unicode", "StringDtype"]


def test_every_text_type_name_holds_on_text(tmp_path):
    expectations = [
        _expectation("expect_column_values_to_be_of_type", column="name", type_=n)
        for n in TEXT_NAMES
    ]
    expectations += [
        _expectation("expect_column_values_to_be_in_type_list", column="name", type_list=[n])
        for n in TEXT_NAMES
    ]
    expectations.append(
        _expectation("expect_column_values_to_be_in_type_list", column="name", type_list=["int"])
    )
    csv = "mrn,name\n000123,Alice Zebrafish\n004711,Bob Quokkason\n"
    root = _data_project(tmp_path, csv, suite={"name": "d", "expectations": expectations})
    done = samdkit_cli("check-data", cwd=root)
    results = _results(root)
    assert [r["success"] for r in results] == [True] * (2 * len(TEXT_NAMES)) + [False], done.stdout
    # what was written is reported, not what GX was asked
    assert [r["kwargs"].get("type_") for r in results[: len(TEXT_NAMES)]] == TEXT_NAMES


def test_a_suite_built_with_gx_own_api_passes_on_text(tmp_path):
    import great_expectations as gx

    context = gx.get_context(mode="file", project_root_dir=str(tmp_path / "gxproject"))
    suite = context.suites.add(gx.ExpectationSuite(name="d"))
    suite.add_expectation(
        gx.expectations.ExpectColumnValuesToBeOfType(column="name", type_="object")
    )
    suite.add_expectation(
        gx.expectations.ExpectColumnValuesToBeInTypeList(column="name", type_list=["str"])
    )
    suite.add_expectation(
        gx.expectations.ExpectColumnValuesToMatchRegex(column="mrn", regex=r"^\d+$")
    )
    suite.save()
    saved = next((tmp_path / "gxproject" / "gx" / "expectations").glob("*.json"))
    root = _data_project(tmp_path / "p", "mrn,name\n000123,Alice\n004711,Bob\n")
    (root / "compliance" / "expectations" / "d.json").write_text(saved.read_text())
    done = samdkit_cli("check-data", cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [r["success"] for r in _results(root)] == [True, True, True]


# -- 4. unexpected and missing say what they count ------------------------------------------------


def test_unexpected_share_is_of_the_non_missing_values(tmp_path):
    expectations = [
        _expectation("expect_column_values_to_match_regex", column="code", regex=r"^\d+$"),
        _expectation("expect_column_values_to_match_regex", column="full", regex=r"^\d+$"),
    ]
    csv = "mrn,code,full\n1,x,x\n2,,2\n3,,3\n4,,4\n"
    root = _data_project(tmp_path, csv, suite={"name": "d", "expectations": expectations})
    done = samdkit_cli("check-data", cwd=root)
    assert done.returncode == 1
    sparse, full = (r["reason"] for r in _results(root))
    assert sparse.startswith(
        "observed 1 of the 1 non-missing value unexpected (100.0%), 3 of 4 missing;"
    )
    assert full.startswith("observed 1 of 4 values unexpected (25.0%);")
    assert "of the 1 non-missing value unexpected (100.0%), 3 of 4 missing" in done.stdout


# -- 5. report outside a project -------------------------------------------------------------------


def test_report_outside_a_project_is_one_line_exit_2_and_writes_nothing(tmp_path):
    done = samdkit_cli("report", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "not a samdkit project" in done.stderr and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


# -- 6. bidirectional controls, one rule for every output context ---------------------------------

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def test_every_context_drops_every_bidi_control():
    from markupsafe import Markup

    text = f"class {BIDI}IIa"
    for clean in (
        escape.md_inline(text),
        escape.md_finalize(text),
        escape.md_finalize(Markup(text)),
        escape.html_finalize(text),
        str(escape.html_finalize(Markup(text))),
        escape.one_line(text),
    ):
        assert clean == "class IIa"
    assert isinstance(escape.html_finalize(Markup("<b>x\u202e</b>")), Markup)


def test_device_class_override_is_gone_from_markdown_html_and_pdf(project_copy):
    device = project_copy / "compliance" / "device.yaml"
    text = device.read_text()
    original = next(line for line in text.splitlines() if "device_class:" in line)
    indent = original.split("device_class:")[0]
    device.write_text(
        text.replace(original, f'{indent}device_class: "EU MDR class \u202eIIa\u202c, Rule 11"')
    )
    done = subprocess.run(
        [str(BIN / "samdkit"), "report"],
        cwd=project_copy,
        env=project_env(project_copy),
        capture_output=True,
        text=True,
    )
    assert done.returncode in (0, 1), done.stderr
    reports = project_copy / "reports"
    pdf = reports / "clinical-validation-report.pdf"
    pdf_text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    outputs = {
        "md": (reports / "clinical-validation-report.md").read_text(),
        "html": (reports / "clinical-validation-report.html").read_text(),
        "pdf": pdf_text,
    }
    for name, out in outputs.items():
        assert not any(c in out for c in BIDI), name
        assert "class IIa" in out, name
        assert "aII" not in out, name


# -- 7. two signing keys set ----------------------------------------------------------------------

SECRET_PATH = "/run/secret-k3y-path"


@pytest.mark.parametrize(
    "names",
    [
        ("SAMDKIT_SIGNING_P12", "SAMDKIT_SIGNING_KEY"),
        ("SAMDKIT_SIGNING_P12_BASE64", "SAMDKIT_SIGNING_P12"),
        ("SAMDKIT_SIGNING_P12_BASE64", "SAMDKIT_SIGNING_CERT"),
    ],
)
def test_two_key_sources_are_one_line_exit_2_naming_variables_only(tmp_path, names):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMDKIT_SIGNING")}
    env.update({name: f"{SECRET_PATH}-{i}" for i, name in enumerate(names)})
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n')
    done = samdkit_cli("sign", cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "ambiguous signing key" in done.stderr
    assert all(name in done.stderr for name in names)
    assert SECRET_PATH not in done.stdout + done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]


# -- 8. the generated project installs samdkit from the pinned source ------------------------------


@pytest.mark.parametrize("source", ["OWNER/samdkit@v1", "acme-health/samdkit-fork@v2.3.1"])
def test_dev_extra_installs_samdkit_from_the_source_the_ci_pins(bake, source):
    project = bake(samdkit_source=source)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    requirements = [Requirement(r) for r in pyproject["project"]["optional-dependencies"]["dev"]]
    samdkit = [r for r in requirements if r.name == "samdkit"]
    repo, ref = source.split("@")
    assert len(samdkit) == 1 and samdkit[0].extras == {"all"}
    assert samdkit[0].url == f"git+https://github.com/{repo}@{ref}"
    assert pyproject["tool"]["hatch"]["metadata"]["allow-direct-references"] is True
    readme = (project / "README.md").read_text()
    assert f"git+https://github.com/{repo}@{ref}" in readme and "PyPI" in readme


def test_the_generated_project_installs_offline_without_its_dependencies(bake, tmp_path):
    """As the CI and the demo install it (--no-deps): the git reference is never resolved."""
    project = bake(samdkit_source="acme/samdkit@v9")
    env = {**os.environ, "UV_OFFLINE": "1"}
    uv = str(BIN / "uv")
    subprocess.run([uv, "venv", "-q", str(tmp_path / "v")], check=True, env=env)
    python = str(tmp_path / "v" / "bin" / "python")
    done = subprocess.run(
        [uv, "pip", "install", "-q", "--python", python, "--no-deps", "-e", str(project)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    requires = subprocess.run(
        [python, "-c", "import importlib.metadata as m; print(m.requires('breast-lesion-triage'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "samdkit[all] @ git+https://github.com/acme/samdkit@v9" in requires


def test_tests_and_demo_install_projects_without_their_dependencies():
    """Every install of a generated project by the demo, the tests or the CI is --no-deps."""
    repo = Path(__file__).resolve().parent.parent
    files = [repo / "scripts" / "demo", repo / "actions" / "setup" / "action.yml"]
    files += [repo / "gitlab" / "pipeline.yml", *sorted((repo / "tests").glob("*.py"))]
    files.remove(Path(__file__).resolve())
    for path in files:
        for line in path.read_text().splitlines():
            if "pip" in line and "install" in line and ("-e ." in line or '"-e", str(p' in line):
                assert "--no-deps" in line, f"{path.name}: {line.strip()}"
