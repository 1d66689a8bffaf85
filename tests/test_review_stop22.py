"""Review (stop 22): regression tests for faults found by trying the newest work as a user, attacker
and auditor. Each test failed before its fix."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.test_model_signing import (  # noqa: F401 (locked, signed_model: module fixtures)
    MODEL,
    MODEL_SIGNING,
    SIG,
    locked,
    model_findings,
    pdf_cert,
    signed_model,
    verify,
)
from tests.test_signing import samdkit

needs_poppler = pytest.mark.skipif(
    not (shutil.which("pdfsig") and shutil.which("pdftotext")), reason="poppler-utils needed"
)


@pytest.fixture
def release(signed_model, tmp_path):  # noqa: F811
    root = tmp_path / "proj"
    shutil.copytree(signed_model, root)
    return root


@needs_poppler
@pytest.mark.parametrize("name", [".gitattributes", ".gitignore", ".github/hook.py", ".git/x"])
def test_a_git_named_file_planted_in_the_model_folder_fails_verify(release, name):
    """model-signing skips .git*, names by default: a file planted under one passed verify."""
    planted = release / MODEL / name
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_bytes(b"planted")
    done = verify(release)
    assert done.returncode == 1, done.stdout
    [finding] = model_findings(done)
    assert finding["severity"] == "error"
    assert finding["message"] == f"{name}: in the model folder, not covered by the signature"


@needs_poppler
def test_a_git_named_model_file_is_signed_and_checked_by_both_tools(locked, tmp_path):  # noqa: F811
    from tests.test_model_signing import write_lock
    from tests.test_signing import write_pdfs

    root = tmp_path / "proj"
    shutil.copytree(locked, root)
    (root / MODEL / ".gitattributes").write_bytes(b"*.skops binary\n")
    write_lock(root)
    write_pdfs(root)  # the report prints model.lock's digest
    done = samdkit(root, "sign", "--demo")
    assert done.returncode == 0, done.stderr
    assert "OpenSSF model signature of 3 model files" in done.stdout
    assert verify(root).returncode == 0
    cli = subprocess.run(
        [str(MODEL_SIGNING), "verify", "certificate", "--no-ignore-git-paths", "--signature", SIG,
         "--certificate_chain", str(pdf_cert(root, tmp_path)), MODEL],
        cwd=root, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    (root / MODEL / ".gitattributes").write_bytes(b"changed")
    [finding] = model_findings(verify(root))
    assert finding["message"].startswith(".gitattributes: modified after signing")


# -- (b) data sources ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres():
    from tests import engines

    yield from engines.postgres_server()


def test_a_raw_at_sign_in_a_url_env_password_never_shows_in_the_label():
    """make_url splits `user:p@ss@host` at the first '@': the label printed `user@ss@host`."""
    from samdkit.data.sources import public_url

    shown = public_url("postgresql+psycopg://reader:Sx@Secret-7@db.hospital:5432/omop")
    assert "Secret-7" not in shown and "Secret" not in shown
    assert shown.startswith("postgresql://") and "%40" in shown


@pytest.mark.parametrize(
    "url",
    [
        "mssql+pyodbc:///?odbc_connect=DRIVER%3D%7BODBC%7D%3BUID%3Du%3BPWD%3Dhunter2%3BDATABASE%3Dx",
        "mssql+pyodbc:///?odbc_connect=DRIVER={ODBC};UID=u;Password=hunter2;",
    ],
)
def test_a_password_inside_an_odbc_connect_string_is_refused_and_redacted(url, tmp_path):
    from samdkit.data.sources import redact, written_secret

    assert written_secret(url)
    assert "hunter2" not in redact(f"samdkit check-data --url {url} --table t")
    (tmp_path / "s.json").write_text('{"name": "s", "expectations": []}', encoding="utf-8")
    done = samdkit(tmp_path, "check-data", "--url", url, "--table", "t", "--suite", "s.json")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "hunter2" not in done.stderr


def test_a_database_error_quoting_a_row_value_says_why_and_withholds_it(postgres, tmp_path):
    """PostgreSQL quotes the value a query could not cast: the reason is said, the value is not."""
    import json

    from tests import engines

    postgres.execute(
        "CREATE TABLE review_mrn (mrn text)", "INSERT INTO review_mrn VALUES ('MRN-000123')"
    )
    (tmp_path / "s.json").write_text(
        json.dumps({"name": "s", "expectations": [
            {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}}
        ]}),
        encoding="utf-8",
    )  # fmt: skip
    done = samdkit(
        tmp_path, "check-data", "--url-env", "REVIEW_URL", "--query",
        "SELECT CAST(mrn AS integer) AS mrn FROM review_mrn", "--suite", "s.json",
        env={"REVIEW_URL": postgres.url()},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    # the database's own reason (GX keeps it per metric: it was lost as "KeyError: 'observed_value'")
    assert (
        'cannot read: RuntimeError: (psycopg.errors.InvalidTextRepresentation) invalid input syntax for type integer: "…"'
        in done.stderr
    )
    assert "MRN-000123" not in done.stderr + done.stdout
    assert engines.PASSWORD not in done.stderr
