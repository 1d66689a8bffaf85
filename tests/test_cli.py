"""The CLI contract: every command exists, starts fast without heavy imports, and fails in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from samdkit.cli import COMMANDS, main
from samdkit.core import atomic
from samdkit.core.findings import Finding, github_annotation, render
from samdkit.core.privacy import PRIVACY_DEFAULTS, apply_privacy_defaults
from tests.conftest import BIN

HEAVY = ("great_expectations", "mlflow", "weasyprint", "pyhanko", "pandas", "sklearn", "matplotlib")

PROBE = """
import sys
from samdkit.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("HEAVY:" + ",".join(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


@pytest.mark.parametrize("argv", [["--help"], *[[name, "--help"] for name in COMMANDS]])
def test_help_imports_nothing_heavy(argv):
    probe = PROBE.format(heavy=HEAVY)
    result = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY:", f"{argv} imported heavy modules"
    assert "usage: samdkit" in result.stdout


def test_top_level_help_lists_every_command():
    result = subprocess.run([BIN / "samdkit", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for name in COMMANDS:
        assert f"  {name} " in result.stdout


def test_unknown_command_exits_2():
    result = subprocess.run([BIN / "samdkit", "frobnicate"], capture_output=True, text=True)
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_no_command_shows_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "commands:" in capsys.readouterr().out


def test_internal_errors_are_one_line(monkeypatch, capsys):
    import samdkit.scaffold as scaffold

    def explode(_args):  # a library error whose message quotes a cell, as pandas and sklearn do
        raise RuntimeError("could not convert string to float: 'Jane Quokkason'")

    monkeypatch.setattr(scaffold, "run", explode)
    monkeypatch.delenv("SAMDKIT_DEBUG", raising=False)
    assert main(["new"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: RuntimeError at " in err
    assert "Quokkason" not in err and "could not convert" not in err  # the message may quote data
    assert "scaffold" in err or "cli.py" in err  # where to look


def test_privacy_defaults_never_override_a_choice():
    env = {"DO_NOT_TRACK": "false"}
    apply_privacy_defaults(env)
    assert env["DO_NOT_TRACK"] == "false"
    assert env["MLFLOW_DISABLE_TELEMETRY"] == "true" and env["DVC_NO_ANALYTICS"] == "1"
    assert set(PRIVACY_DEFAULTS) <= set(env)


def test_atomic_write_leaves_nothing_half_written(tmp_path, monkeypatch):
    target = tmp_path / "evidence.json"
    atomic.write_json(target, {"b": 1, "a": [1, 2]})
    assert json.loads(target.read_text()) == {"a": [1, 2], "b": 1}
    assert target.read_text().index('"a"') < target.read_text().index('"b"'), "sorted keys"

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        atomic.write_text(target, "new content")
    assert json.loads(target.read_text()) == {"a": [1, 2], "b": 1}, "old file intact"
    assert [p.name for p in tmp_path.iterdir()] == ["evidence.json"], "no temp file left"


def test_github_annotations_escape_what_would_break_them():
    line = github_annotation(Finding("rule:x", "50% bad\nnext", file="a,b.py", line=3))
    assert line == "::error file=a%2Cb.py,line=3,title=rule%3Ax::50%25 bad%0Anext"


def test_render_formats_agree_on_the_verdict():
    findings = [
        Finding("E1", "broken", file="x.py", line=1),
        Finding("W1", "meh", severity="warning"),
    ]
    assert render(findings, "text", title="gate").endswith("gate: FAIL")
    assert json.loads(render(findings, "json", title="gate"))["verdict"] == "FAIL"
    assert render(findings[1:], "github", title="gate").splitlines()[0].startswith("::warning ")
    assert render([], "text", title="gate") == "gate: PASS"
