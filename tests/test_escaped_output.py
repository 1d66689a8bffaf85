"""Names from the project reach a terminal or a CI log as visible escapes, never as control characters.

A column, file or key name can hold a line break, a terminal escape (ESC[2K erases the line, ESC[1A moves
up) or a bidirectional override: printed raw it could draw a fake `PASS` line or reverse the verdict.
Every gate's text and github output and the CLI's `error:` line go through `samdkit.core.escape.terminal`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from samdkit.core.escape import terminal
from samdkit.core.findings import Finding, GateResult, render_result
from tests.conftest import samdkit_cli as samdkit

HOSTILE = "age\nsamdkit check-data: PASS\x1b[2K\u202eLIAF"
VISIBLE = "age\\nsamdkit check-data: PASS\\x1b[2K\\u202eLIAF"
RAW = ("\n", "\x1b", "\u202e", "\r")


def _no_raw(text: str, lines: int | None = None) -> None:
    body = text.rstrip("\n")
    assert not any(ch in body.replace("\n", "") for ch in RAW), repr(text)
    if lines is not None:
        assert len(body.splitlines()) == lines, repr(text)


def test_terminal_makes_control_format_and_line_characters_visible() -> None:
    assert terminal(HOSTILE) == VISIBLE
    assert terminal("a\u2028b\u200bc\u0085d\te") == "a\\u2028b\\u200bc\\x85d\\te"
    assert terminal("écrit, 数据, snake_case") == "écrit, 数据, snake_case"  # text stays text
    assert terminal(terminal(HOSTILE)) == VISIBLE  # escaping twice changes nothing
    assert terminal("a\nb", keep="\n") == "a\nb"


@pytest.mark.parametrize("fmt", ["text", "github"])
def test_every_rendered_field_is_escaped(fmt: str) -> None:
    finding = Finding(
        check=f"column {HOSTILE}", message=f"missing {HOSTILE}", file=f"d/{HOSTILE}.csv"
    )
    result = GateResult("check-data", "FAIL", [finding], summary={"failed": HOSTILE})
    out = render_result(result, fmt)
    lines = out.splitlines()
    assert len(lines) == 2 and lines[-1].startswith("samdkit check-data: FAIL")
    for ch in ("\x1b", "\u202e", "\r"):
        assert ch not in out
    if fmt == "text":
        assert out.count(VISIBLE) == 4  # file, check, message and the summary
    else:  # a workflow command keeps its own %0A for line breaks; the rest is visible
        assert lines[0].startswith(
            "::error file=d/age%0Asamdkit check-data%3A PASS\\x1b[2K\\u202eLIAF"
        )
        assert "::missing age%0Asamdkit check-data: PASS\\x1b[2K\\u202eLIAF" in lines[0]


def test_github_annotation_still_escapes_percent() -> None:
    out = render_result(GateResult("lint", "FAIL", [Finding("c", "100%\r\ndone")]), "github")
    assert out.splitlines()[0] == "::error title=c::100%25%0D%0Adone"


def test_cli_error_line_shows_a_hostile_path_as_escapes(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    proc = samdkit("lint", "--root", str(tmp_path), f"nb/{HOSTILE}.ipynb", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1  # one line, whatever the name holds
    _no_raw(proc.stderr, lines=1)
    assert f"nb/{VISIBLE}.ipynb" in proc.stderr


def test_check_data_text_names_a_hostile_column_as_escapes(tmp_path: Path) -> None:
    """A dataset column named to draw a fake verdict line: the finding shows it escaped."""
    data = tmp_path / "data" / "prepared"
    data.mkdir(parents=True)
    (data / "test.csv").write_text('sample_id,"' + HOSTILE + '"\n1,\n2,3\n', encoding="utf-8")
    suites = tmp_path / "compliance" / "expectations"
    suites.mkdir(parents=True)
    suite = {
        "name": "hostile",
        "expectations": [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": HOSTILE}}
        ],
    }
    (suites / "test.json").write_text(json.dumps(suite), encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        '[[tool.samdkit.data.checks]]\ndataset = "test_data"\nsuite = "test.json"\n',
        encoding="utf-8",
    )
    proc = samdkit("check-data", "--format", "text", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    for stream in (proc.stdout, proc.stderr):
        for ch in ("\x1b", "\u202e", "\r"):
            assert ch not in stream, repr(stream)
        assert "\nsamdkit check-data: PASS" not in stream  # no line the name drew
    finding = [line for line in proc.stdout.splitlines() if line.startswith("ERROR")]
    assert len(finding) == 1 and f"column '{VISIBLE}'" in finding[0]
    assert proc.stdout.splitlines()[-1].startswith("samdkit check-data: FAIL")
