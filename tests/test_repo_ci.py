"""This repository's own CI and release: valid, least privilege, and every action folder kept up to date."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from tests.conftest import BIN, REPO

RELEASE_CHECK = REPO / "scripts/release-check"
VERSION = __import__("tomllib").loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def release_check(tag: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(RELEASE_CHECK), tag], capture_output=True, text=True)


def test_release_tag_must_name_the_package_version():
    done = release_check(f"v{VERSION}")
    assert done.returncode == 0 and done.stdout.strip() == f"version={VERSION}"
    major, minor, patch = (int(p) for p in VERSION.split("."))
    other = release_check(f"v{major}.{minor}.{patch + 1}")
    assert other.returncode == 1 and "does not match the package version" in other.stderr
    for bad in ("v1", "1.0.0", f"v{VERSION}-rc1"):
        done = release_check(bad)
        assert done.returncode == 1 and "is not vX.Y.Z" in done.stderr, bad
        assert "Traceback" not in done.stderr


def test_dependabot_lists_every_action_folder():
    config = yaml.safe_load((REPO / ".github/dependabot.yml").read_text())
    [actions] = [u for u in config["updates"] if u["package-ecosystem"] == "github-actions"]
    folders = {
        f"/actions/{p.name}" for p in (REPO / "actions").iterdir() if (p / "action.yml").is_file()
    }
    assert folders | {"/"} == set(actions["directories"])


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ("vendor.dependabot", ".github/dependabot.yml"),
        ("vendor.github-workflows", ".github/workflows/ci.yml"),
        ("vendor.github-workflows", ".github/workflows/release.yml"),
    ],
)
def test_repository_files_validate(schema, path):
    done = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", schema, str(REPO / path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_reports_nothing_on_this_repository():
    done = subprocess.run(
        [str(BIN / "zizmor"), "--offline", str(REPO / ".github"), str(REPO / "actions")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout


def test_release_publishes_only_after_validation_and_with_least_privilege():
    workflow = yaml.safe_load((REPO / ".github/workflows/release.yml").read_text())
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    assert jobs["publish"]["needs"] == "validate"
    assert set(jobs["tags"]["needs"]) == {"validate", "publish"}
    assert jobs["validate"]["permissions"] == {"contents": "read"}
    assert jobs["publish"]["permissions"] == {"id-token": "write"}
    assert jobs["tags"]["permissions"] == {"contents": "write"}
    steps = " ".join(str(s.get("run", "")) for s in jobs["validate"]["steps"])
    assert "scripts/release-check" in steps and "./scripts/test" in steps
