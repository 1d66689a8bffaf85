"""samdkit.core: the one SHA-256, git runner, rel(), paths table, params reader, JSON text and --format."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from samdkit.core import atomic, digests, gitinfo, options, params
from samdkit.core.errors import UserError
from samdkit.core.project import DEFAULT_PATHS, Project, load_project

IDENTITY = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *IDENTITY, *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q")
    (root / "a.txt").write_text("one\n", encoding="utf-8")
    _git(root, "add", "a.txt")
    env = {**os.environ, "GIT_COMMITTER_DATE": "1700000000 +0000"}
    subprocess.run(
        ["git", "-C", str(root), *IDENTITY, "commit", "-q", "-m", "first"], check=True, env=env
    )
    return root


# --------------------------------------------------------------------------- digests


def test_sha256_hex_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    data = os.urandom(3 * digests.BUFFER_SIZE + 17)
    path.write_bytes(data)
    assert digests.sha256_hex(path) == hashlib.sha256(data).hexdigest()
    assert digests.bytes_sha256(data) == hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- gitinfo


def test_gitinfo_reads_a_checkout(repo: Path) -> None:
    head = gitinfo.head_commit(repo)
    assert head == _git(repo, "rev-parse", "HEAD") and len(head) == 40
    assert gitinfo.commit_time(repo) == 1700000000
    assert gitinfo.show_file(repo, "HEAD", "a.txt") == b"one\n"
    assert gitinfo.show_file(repo, "HEAD", "missing.txt") is None
    assert "missing.txt" in gitinfo.show_error(repo, "HEAD", "missing.txt")
    assert gitinfo.is_dirty(repo) is False
    (repo / "a.txt").write_text("two\n", encoding="utf-8")
    assert gitinfo.is_dirty(repo) is True
    assert gitinfo.is_dirty(repo, ["a.txt"]) is True
    (repo / "b.txt").write_text("untracked\n", encoding="utf-8")
    assert gitinfo.is_dirty(repo, ["b.txt"]) is False  # untracked files are no change to HEAD


def test_gitinfo_show_file_in_a_subfolder_is_relative_to_it(repo: Path) -> None:
    sub = repo / "sub"
    sub.mkdir()
    (sub / "c.txt").write_text("sub\n", encoding="utf-8")
    _git(repo, "add", "sub/c.txt")
    _git(repo, "commit", "-q", "-m", "sub")
    assert gitinfo.show_file(sub, "HEAD", "c.txt") == b"sub\n"
    assert gitinfo.prefix(sub) == "sub/"


def test_gitinfo_outside_a_checkout_is_none(tmp_path: Path) -> None:
    assert gitinfo.head_commit(tmp_path) is None
    assert gitinfo.commit_time(tmp_path) is None
    assert gitinfo.is_dirty(tmp_path) is None
    assert gitinfo.show_file(tmp_path, "HEAD", "a.txt") is None
    assert gitinfo.resolve_commit(tmp_path, "HEAD") is None


def test_gitinfo_without_git_is_none(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(repo / "no-such-bin"))
    assert gitinfo.run_git(repo, "status") is None
    assert gitinfo.head_commit(repo) is None
    assert gitinfo.commit_time(repo) is None
    assert gitinfo.is_dirty(repo) is None
    assert gitinfo.show_error(repo, "HEAD", "a.txt") == "git is not available"


def test_gitinfo_timeout_is_none(repo: Path) -> None:
    # a real git that cannot answer within a microsecond: the runner gives up and never raises
    assert gitinfo.run_git(repo, "log", timeout=1e-6) is None


# --------------------------------------------------------------------------- project


def test_rel_inside_outside_and_relative(tmp_path: Path) -> None:
    project = Project(root=tmp_path, settings={})
    (tmp_path / "reports").mkdir()
    assert project.rel(tmp_path / "reports" / "x.json") == "reports/x.json"
    assert project.rel("reports/x.json") == "reports/x.json"
    assert project.rel(tmp_path) == "."
    assert project.rel(tmp_path.parent / "elsewhere.txt") is None
    assert project.rel(tmp_path / ".." / "escape.txt") is None


def test_rel_resolve_false_keeps_the_symlink(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "target.pdf").write_bytes(b"%PDF")
    (root / "link.pdf").symlink_to(outside / "target.pdf")
    project = Project(root=root, settings={})
    assert project.rel(root / "link.pdf") is None  # resolved: the file lies outside the root
    assert project.rel(root / "link.pdf", resolve=False) == "link.pdf"


def test_shown_is_the_project_path_else_the_path_as_given(tmp_path: Path) -> None:
    from samdkit.core.project import shown_path

    project = Project(root=tmp_path, settings={})
    assert project.shown(tmp_path / "reports" / "x.json") == "reports/x.json"
    assert project.shown("reports/../x.json") == "x.json"
    outside = tmp_path.parent / "elsewhere.txt"
    assert project.shown(outside) == outside.as_posix()  # outside: as given, not None
    assert project.shown(tmp_path / ".." / "e.txt") == (tmp_path / ".." / "e.txt").as_posix()
    assert shown_path(tmp_path, tmp_path / "a" / "b.csv") == "a/b.csv"  # the same rule from a root


def test_shown_resolve_false_names_the_link(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "target.pdf").write_bytes(b"%PDF")
    (root / "link.pdf").symlink_to(outside / "target.pdf")
    project = Project(root=root, settings={})
    assert project.shown(root / "link.pdf", resolve=False) == "link.pdf"
    assert project.shown(root / "link.pdf") == (root / "link.pdf").as_posix()


def test_no_copy_of_the_relative_path_rule_is_left() -> None:
    """Every "relative to the root, else as given" goes through core.project (relative/shown_path)."""
    src = Path(__file__).resolve().parents[1] / "src" / "samdkit"
    copies = {
        p.relative_to(src).as_posix()
        for p in src.rglob("*.py")
        if "def _rel(" in (text := p.read_text(encoding="utf-8"))
        or "def rel(path" in text
        or "def project_relative(" in text
    }
    assert copies == set()


def test_paths_table_has_every_evidence_file_and_overrides_apply(tmp_path: Path) -> None:
    for key in ("manifest", "rebuild", "model_signature", "gate_results", "comment", "report_pdf"):
        assert key in DEFAULT_PATHS
    # one name per file: no two keys share a path
    assert len(set(DEFAULT_PATHS.values())) == len(DEFAULT_PATHS)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.samdkit.paths]\nrebuild = "out/rebuild.json"\n', encoding="utf-8"
    )
    project = load_project(tmp_path)
    assert project.path("rebuild") == tmp_path / "out" / "rebuild.json"
    assert project.path("manifest") == tmp_path / "release" / "manifest.json"
    with pytest.raises(KeyError):
        project.path("no-such-key")


# --------------------------------------------------------------------------- params


def _project(tmp_path: Path, text: str | None) -> Project:
    if text is not None:
        (tmp_path / "params.yaml").write_text(text, encoding="utf-8")
    return Project(root=tmp_path, settings={})


def test_read_params_absent_empty_and_malformed(tmp_path: Path) -> None:
    assert params.read_params(_project(tmp_path, None)) == {}
    assert params.read_params(_project(tmp_path, "")) == {}
    assert params.read_params(_project(tmp_path, "evaluate: {threshold: 0.4}\n")) == {
        "evaluate": {"threshold": 0.4}
    }
    with pytest.raises(UserError, match=r"params\.yaml: must be a mapping"):
        params.read_params(_project(tmp_path, "- a\n- b\n"))
    with pytest.raises(UserError, match=r"params\.yaml"):
        params.read_params(_project(tmp_path, "data: [unclosed\n"))


def test_read_params_explicit_path(tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("evaluate: {threshold: 0.7}\n", encoding="utf-8")
    assert params.read_params(path=other)["evaluate"]["threshold"] == 0.7


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({}, None),
        ({"evaluate": {}}, None),
        ({"evaluate": {"threshold": None}}, None),
        ({"evaluate": {"threshold": 0.5}}, 0.5),
        ({"evaluate": {"threshold": 0}}, 0.0),
        ({"evaluate": {"threshold": 1}}, 1.0),
    ],
)
def test_decision_threshold_accepts(doc: dict, expected: float | None) -> None:
    assert params.decision_threshold(doc) == expected


@pytest.mark.parametrize("value", [True, "0.5", 1.5, -0.1, [0.5]])
def test_decision_threshold_refuses(value: object) -> None:
    with pytest.raises(UserError, match=r"evaluate\.threshold must be a number in \[0, 1\]"):
        params.decision_threshold({"evaluate": {"threshold": value}})


def test_decision_threshold_evaluate_not_a_mapping() -> None:
    with pytest.raises(UserError, match="evaluate must be a mapping"):
        params.decision_threshold({"evaluate": 0.5})


# --------------------------------------------------------------------------- atomic, options


def test_dumps_json_is_what_write_json_writes(tmp_path: Path) -> None:
    obj = {"b": [1, 2], "a": {"é": 1.5}}
    text = atomic.dumps_json(obj)
    assert text.endswith("\n") and text.index('"a"') < text.index('"b"') and "é" in text
    path = atomic.write_json(tmp_path / "x.json", obj)
    assert path.read_text(encoding="utf-8") == text
    assert json.loads(text) == obj


def test_add_format_option() -> None:
    parser = argparse.ArgumentParser()
    options.add_format_option(parser)
    assert parser.parse_args([]).format == "text"
    assert parser.parse_args(["--format", "json"]).format == "json"
    with pytest.raises(SystemExit):
        parser.parse_args(["--format", "xml"])
    narrow = argparse.ArgumentParser()
    options.add_format_option(narrow, ("text", "json"))
    with pytest.raises(SystemExit):
        narrow.parse_args(["--format", "github"])


# --------------------------------------------------------------------------- settings

TEMPLATE_PYPROJECT = (
    Path(__file__).resolve().parent.parent
    / "template"
    / "{{cookiecutter.project_slug}}"
    / "pyproject.toml"
)


def _settings(tmp_path: Path, text: str) -> Project:
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    return load_project(tmp_path)


def test_every_table_of_the_template_pyproject_is_accepted(tmp_path: Path) -> None:
    text = TEMPLATE_PYPROJECT.read_text(encoding="utf-8")
    project = _settings(tmp_path, text)
    import tomllib

    declared = tomllib.loads(text)["tool"]["samdkit"]
    assert set(project.settings) == set(declared) == {"lint", "data", "lock"}
    for table in declared:
        assert project.section(table) == project.settings[table]
    assert project.section("lock")["tolerance"] == 1e-9
    assert project.section("data")["checks"][0] == {"dataset": "train_data", "suite": "train.json"}


def test_every_declared_key_is_accepted(tmp_path: Path) -> None:
    """One value of each kind per declared key loads (a key a command reads cannot be refused)."""
    from samdkit.core import settings

    samples = {
        settings.TEXT: '"x"',
        settings.INTEGER: "3",
        settings.NUMBER: "0.5",
        settings.BOOLEAN: "true",
        settings.TEXTS: '["a"]',
        settings.NUMBERS: "[1, 2.5]",
        settings.TEXT_MAP: '{ a = "b" }',
        settings.ANY: '"x"',
    }
    lines = []
    for table, keys in settings.SCHEMA.items():
        lines.append(f"[tool.samdkit.{table}]")
        for key, kind in keys.items():
            if isinstance(kind, settings.Tables):
                entry = "{ " + ", ".join(f'{k} = "v"' for k in (kind.keys or {"x": None})) + " }"
                lines.append(
                    f"{key} = [{entry}]" if kind.listed else f"{key} = {{ one = {entry} }}"
                )
            else:
                lines.append(f"{key} = {samples[kind]}")
    project = _settings(tmp_path, "\n".join(lines) + "\n")
    assert project.section("lock")["tolerance"] == 0.5
    assert project.section("sign")["signers"] == [{"role": "v", "meaning": "v", "name": "v"}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[tool.samdkit.lock]\nrunz = 5\n",
            "pyproject.toml: [tool.samdkit.lock] has an unknown key 'runz' (did you mean 'runs'?)",
        ),
        (
            "[tool.samdkit.report]\ndocument_idd = 'X'\n",
            "[tool.samdkit.report] has an unknown key 'document_idd' (did you mean 'document_id'?)",
        ),
        (
            "[tool.samdkit.lok]\nruns = 3\n",
            "[tool.samdkit] has an unknown table 'lok' (did you mean 'lock'?)",
        ),
        (
            "[tool.samdkit.paths]\nmodle = 'm'\n",
            "[tool.samdkit.paths] has an unknown key 'modle' (did you mean 'model'?)",
        ),
        (
            "[[tool.samdkit.data.checks]]\ndataset = 'train_data'\nsuit = 'train.json'\n",
            "[tool.samdkit.data] checks[0] has an unknown key 'suit' (did you mean 'suite'?)",
        ),
        (
            "[tool.samdkit.lock]\nruns = '3'\n",
            "[tool.samdkit.lock] runs must be a whole number, got text",
        ),
        (
            "[tool.samdkit.lock]\ntag_mlflow = 1\n",
            "[tool.samdkit.lock] tag_mlflow must be true or false, got a number",
        ),
        (
            "[tool.samdkit.lint]\npaths = 'src'\n",
            "[tool.samdkit.lint] paths must be a list of strings, got text",
        ),
        (
            "[tool.samdkit.sign]\nsigners = [{ role = 'QA', meaning = 5 }]\n",
            "[tool.samdkit.sign] signers[0] meaning must be text (a quoted string), got a number",
        ),
        ("[tool.samdkit]\nlock = 3\n", "[tool.samdkit.lock] must be a table"),
    ],
)
def test_a_typo_or_a_wrong_type_is_one_line_naming_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(UserError) as caught:
        _settings(tmp_path, text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_wrong_value_is_never_echoed(tmp_path: Path) -> None:
    """A secret pasted into the wrong key must not reach a CI log through the error line."""
    with pytest.raises(UserError) as caught:
        _settings(tmp_path, "[tool.samdkit.lock]\nruns = 'hunter2-secret'\n")
    assert "hunter2" not in str(caught.value)


def test_bad_settings_exit_2_from_the_cli(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.samdkit.lock]\nrunz = 5\n", encoding="utf-8")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "samdkit"), "verify-lock"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "samdkit verify-lock: error: pyproject.toml: [tool.samdkit.lock] has an unknown key "
        "'runz' (did you mean 'runs'?)"
    ]
