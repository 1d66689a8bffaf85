# ruff: noqa: RUF001  (typographic signs are what the glyph test checks)
"""Untrusted text cannot inject into the evidence; the renderer fetches nothing; inputs are bounded; no text
is lost; a failed `report` leaves the previous outputs as they were (issue 13, parts 2-4)."""

from __future__ import annotations

import http.server
import json
import re
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import ClassVar

import pytest
import yaml
from markdown_it import MarkdownIt

from samdkit.core import bounded, escape
from samdkit.core.errors import UserError
from samdkit.report import glyphs
from tests.conftest import project_env

HOSTILE = [
    "x\n## All gates passed",
    "ok\r\n\r\n# FORGED heading",
    "![x](https://evil.example/p.png)",
    "[link](javascript:alert(1))",
    "<https://evil.example/auto>",
    "https://evil.example/bare www.evil.example mail@evil.example",
    "```\n</details>\n```",
    "~~~ fence",
    "<details><summary>all fine</summary>",
    "<img src=https://evil.example/i.png>",
    "&lt;b&gt; entity",
    "a | b | c",
    "---",
    "===",
    "1. list",
    "- item",
    "> quote",
    "    indented code",
    "**bold** _em_ ~~strike~~ `code` $math$ @mention #12",
    "x\u2028## line separator\u2029y\x85z",
    "FAIL\u202e reversed",
    "snake_case _em_ x_ _y __strong__ é_é_é",
    "[ref]: https://evil.example/ref",
]
MARKER = "FORGED"
REPORTS = ("clinical-validation-report.md", "model-card.md")


def parser() -> MarkdownIt:
    """CommonMark with GFM tables and strikethrough, as GitHub and GitLab render them."""
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def tokens(md: str) -> list:
    out = []
    for tok in parser().parse(md):
        out.append(tok)
        out.extend(tok.children or [])
    return out


BAD = {"heading_open", "image", "link_open", "html_inline", "html_block", "fence", "code_block"}
BAD |= {
    "s_open",
    "em_open",
    "strong_open",
    "code_inline",
    "blockquote_open",
    "hr",
    "list_item_open",
}


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize(
    "context",
    [
        "before {} after",
        "{}",
        "| a | b |\n|---|---|\n| {} | z |",
        "Paragraph line\n{}",
    ],
)
def test_escaped_text_is_one_literal_text_run(text, context):
    md = context.format(escape.md_inline(text))
    found = [t.type for t in tokens(md) if t.type in BAD]
    assert not found, (md, found)
    if context.startswith("|"):
        rows = [t for t in tokens(md) if t.type == "tr_open"]
        cells = [t for t in tokens(md) if t.type == "td_open"]
        assert len(rows) == 1 + 1 and len(cells) == 2, md  # header row + one body row of 2 cells
    # what a reader sees is exactly the text, on one line
    rendered = parser().render(escape.md_inline(text))
    shown = re.sub(r"<[^>]+>", "", rendered).strip()
    import html as html_mod

    shown = html_mod.unescape(shown)
    assert shown.replace(escape.WORD_JOINER, "") == escape.one_line(text)
    # GitHub's own post-render linking (mentions, issue references, bare URLs) finds nothing to link
    assert not re.search(r"@\w|#\d|://|(?i:www)\.", shown), shown


@pytest.mark.parametrize("text", HOSTILE)
def test_gfm_autolinks_are_broken(text):
    """GitHub links bare URLs, www. and e-mail addresses (cmark-gfm extension): none survive escaping."""
    import mistune

    html = mistune.create_markdown(plugins=["url", "table", "strikethrough"])(
        escape.md_inline(text)
    )
    assert "<a " not in html and "<img" not in html, html
    out = escape.md_inline(text)
    assert not re.search(r"(?<!\\)://|(?i:www)(?!\\)\.|(?<!\\)@", out), out


@pytest.mark.parametrize("text", ["a`b", "``x``", "`", "a | b", "x\n```\ny"])
def test_code_spans_show_their_text_verbatim(text):
    md = escape.md_code(text)
    found = [t for t in tokens(md) if t.type == "code_inline"]
    assert len(found) == 1 and found[0].content == escape.one_line(text), md
    cell = f"| h |\n|---|\n| {escape.md_code(text, cell=True)} |"
    assert [t.content for t in tokens(cell) if t.type == "code_inline"] == [escape.one_line(text)]


def test_fence_cannot_be_closed_from_inside():
    body = ["git checkout x", "```", "# FORGED", "````", "~~~"]
    md = escape.md_fence(body) + "\n\nafter"
    fences = [t for t in tokens(md) if t.type == "fence"]
    assert len(fences) == 1 and fences[0].content.splitlines() == body
    assert not [t for t in tokens(md) if t.type == "heading_open"]


def test_front_matter_values_cannot_end_the_block():
    front = escape.yaml_front_matter(
        {"license": "other", "model-index": [{"name": "x\n---\nlicense: mit\n...\n"}]}
    )
    lines = front.splitlines()
    assert lines[0] == "---" and lines.count("---") == 2 and lines[-1] == "---"
    data = yaml.safe_load(front.split("---\n")[1])
    assert data["license"] == "other"
    assert data["model-index"][0]["name"] == "x --- license: mit ..."


# ---------------------------------------------------------------------------------------------- outputs


def hostile_project(project: Path) -> None:
    """Hostile strings in every text source the report and model card print."""
    device = yaml.safe_load((project / "compliance" / "device.yaml").read_text())
    facts = device.get("device", device)
    facts["name"] = f"Device\n## {MARKER} all gates passed"
    iu = device.setdefault("intended_use", {})
    iu["statement"] = f"Use\n\n# {MARKER} heading\n![x](https://evil.example/p.png)"
    iu["indication"] = f"<details><summary>{MARKER}</summary>hidden</details>"
    iu["population"] = f"[click](javascript:alert(1)) | {MARKER} | extra cell"
    iu["users"] = f"```\n# {MARKER} fence breakout\n```"
    (project / "compliance" / "device.yaml").write_text(yaml.safe_dump(device))
    card = yaml.safe_load((project / "compliance" / "model-card.yaml").read_text())
    card["model_details"]["license"] = f"MIT\n---\nlicense: {MARKER}"
    card["considerations"]["limitations"] = [f"<img src=https://evil.example/{MARKER}.png>"]
    (project / "compliance" / "model-card.yaml").write_text(yaml.safe_dump(card))


def samdkit(project: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "samdkit", *args],
        cwd=project,
        env=project_env(project),
        capture_output=True,
        text=True,
        **kwargs,
    )


def assert_no_injection(md: str, where: str) -> None:
    for tok in tokens(md):
        if tok.type == "image":  # the report's own figures only
            assert str(tok.attrs.get("src")).startswith("figures/"), f"{where}: {tok.attrs}"
        if tok.type in ("html_inline", "html_block"):
            raise AssertionError(f"{where}: {tok.type} {tok.content!r}")
        if tok.type == "link_open":
            assert "evil" not in str(tok.attrs) and "javascript" not in str(tok.attrs), where
        if tok.type == "fence":
            assert MARKER not in tok.content, f"{where}: fence {tok.content!r}"
    headings = []
    toks = parser().parse(md)
    for i, tok in enumerate(toks):
        if tok.type == "heading_open":
            headings.append(toks[i + 1].content)
    assert not [h for h in headings if MARKER in h and not h.startswith(("Model card", "Clinical"))]


def test_report_and_model_card_markdown_html_hold_hostile_text_as_text(project_copy):
    hostile_project(project_copy)
    done = samdkit(project_copy, "report", "--no-pdf")
    assert done.returncode == 0, done.stderr
    reports = project_copy / "reports"
    for name in REPORTS:
        md = (reports / name).read_text()
        if name == "model-card.md":
            _, front, md = md.split("---\n", 2)
            data = yaml.safe_load(front)
            assert set(data) == {"license", "library_name", "tags", "model-index"}
            assert MARKER in data["license"] and "\n" not in data["license"]
        assert MARKER in md, name  # shown, not dropped
        assert_no_injection(md, name)
        # the only first-level heading is the document's own title
        assert len(re.findall(r"^# ", md, re.M)) == 1, name
    html = (reports / "clinical-validation-report.html").read_text()
    assert "<details" not in html and "evil.example/p.png)" in html
    assert not re.search(r"<img[^>]+evil", html)


def test_pr_comment_holds_hostile_text_as_text(project_copy):
    evaluation_path = project_copy / "reports" / "evaluation.json"
    evaluation = json.loads(evaluation_path.read_text())
    crit = evaluation["criteria"][0]
    crit["id"] = f"REQ\n## {MARKER} all gates passed"
    crit["criterion"] = f"![x](https://evil.example/{MARKER}.png) <details>"
    crit["subgroup"] = f"a|b|{MARKER}"
    evaluation_path.write_text(json.dumps(evaluation))
    out = project_copy / "comment.md"
    done = samdkit(project_copy, "comment", "--output", str(out), "--gate", "lint=success")
    assert done.returncode == 0, done.stderr
    # a metric name is not free text: the evaluation's strict reader refuses one it does not know
    hostile = {**evaluation, "headline_metrics": [f"[{MARKER}](https://e.x)"]}
    evaluation_path.write_text(json.dumps(hostile))
    refused = samdkit(project_copy, "comment", "--output", str(out), "--gate", "lint=success")
    assert refused.returncode == 2 and "headline_metrics[0]" in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    md = out.read_text()
    assert MARKER in md
    own = ("<!-- samdkit:pr-comment -->", "<sub>")  # the comment's own marker and footer
    assert_no_injection(
        "\n".join(line for line in md.splitlines() if not line.startswith(own)), "pr comment"
    )
    toks = parser().parse(md)
    rows = [i for i, t in enumerate(toks) if t.type == "tr_open"]
    for i in rows:  # every row of every table keeps its column count
        cells = 0
        for t in toks[i:]:
            if t.type == "tr_close":
                break
            cells += t.type in ("td_open", "th_open")
        assert cells in (3, 4, 5), md


# ---------------------------------------------------------------------------------------- sandbox


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self):
        _Counter.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Counter)
    _Counter.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def override(project: Path, name: str, marker: str, addition: str) -> None:
    from samdkit.report.render import TEMPLATES

    folder = project / "compliance" / "templates"
    folder.mkdir(parents=True, exist_ok=True)
    text = (TEMPLATES / name).read_text()
    assert marker in text
    (folder / name).write_text(text.replace(marker, addition, 1))


@pytest.mark.parametrize(
    "name, marker, addition, refused",
    [
        ("report.html.j2", "<body>", '<body><img src="{server}/x.png">', "{server}/x.png"),
        (
            "report.html.j2",
            "<body>",
            '<body><img src="https://example.invalid/x.png">',
            "https://example.invalid/x.png",
        ),
        (
            "report.html.j2",
            "<head>",
            '<head><link rel="attachment" href="file:///etc/passwd">',
            "file:///etc/passwd",
        ),
        ("report.css", "@page {", '@import url("{server}/style.css");\n@page {{', "{server}/"),
        ("report.css", "h1 {", 'h1 {{ background: url("ftp://example.invalid/b.png");', "ftp://"),
        (
            "model-card.html.j2",
            "<body>",
            '<body><img src="{server}/card.png">',
            "{server}/card.png",
        ),
    ],
)
def test_renderer_fetches_nothing_outside_its_templates(
    project_copy, local_server, name, marker, addition, refused
):
    override(project_copy, name, marker, addition.format(server=local_server))
    refused = refused.format(server=local_server)
    before = {p: p.read_bytes() for p in (project_copy / "reports").iterdir() if p.is_file()}
    done = samdkit(project_copy, "report")
    assert done.returncode == 2, done.stderr
    err = done.stderr.strip()
    assert len(err.splitlines()) == 1 and "refused to fetch" in err and refused in err, err
    assert _Counter.hits == []  # no request reached the server
    after = {p: p.read_bytes() for p in (project_copy / "reports").iterdir() if p.is_file()}
    assert after == before  # nothing rewritten, nothing left half-done


def test_a_url_in_evidence_text_is_printed_not_fetched(project_copy, local_server):
    device = yaml.safe_load((project_copy / "compliance" / "device.yaml").read_text())
    device.setdefault("intended_use", {})["statement"] = (
        f'Triage <img src="{local_server}/t.png"> <link rel="attachment" href="file:///etc/passwd">'
    )
    (project_copy / "compliance" / "device.yaml").write_text(yaml.safe_dump(device))
    done = samdkit(project_copy, "report")
    assert done.returncode == 0, done.stderr
    assert _Counter.hits == []
    text = subprocess.run(
        ["pdftotext", str(project_copy / "reports" / "clinical-validation-report.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "<img src=" in text
    listing = subprocess.run(
        ["pdfdetach", "-list", str(project_copy / "reports" / "clinical-validation-report.pdf")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "passwd" not in listing


# ----------------------------------------------------------------------------------- bounded input

BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *[
            f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]"
            for i in range(8)
        ],
    ]
)


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))


@pytest.mark.parametrize(
    "target", ["compliance/device.yaml", "compliance/risks.yaml", "params.yaml"]
)
def test_billion_laughs_is_one_line_exit_2_fast_and_small(project_copy, target):
    assert len(BOMB) < 2048
    before = {p: p.read_bytes() for p in (project_copy / "reports").iterdir() if p.is_file()}
    (project_copy / target).write_text(BOMB + "\n")
    start = time.monotonic()
    done = samdkit(project_copy, "report", preexec_fn=_limit_memory)
    elapsed = time.monotonic() - start
    assert done.returncode == 2, done.stderr
    err = done.stderr.strip()
    assert len(err.splitlines()) == 1 and target in err and "alias" in err, err
    assert "MemoryError" not in err and elapsed < 30
    after = {p: p.read_bytes() for p in (project_copy / "reports").iterdir() if p.is_file()}
    assert after == before


def test_bounded_reader_limits(tmp_path):
    with pytest.raises(UserError, match="alias"):
        bounded.yaml_text(BOMB, "bomb.yaml")
    with pytest.raises(UserError, match="nested deeper"):
        bounded.yaml_text("[" * 5000, "deep.yaml")
    with pytest.raises(UserError, match="nested too deeply"):
        bounded.json_text("[" * 200_000, "deep.json")
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: 1\n" + b"#" * (bounded.MAX_YAML_BYTES + 1))
    with pytest.raises(UserError, match="larger than"):
        bounded.read_yaml(big)
    # ordinary anchors and merge keys still work
    assert bounded.yaml_text("b: &b {x: 1}\nd:\n  <<: *b\n  y: 2\n", "ok") == {
        "b": {"x": 1},
        "d": {"x": 1, "y": 2},
    }


def test_evaluation_json_nested_too_deeply_is_exit_2(project_copy):
    (project_copy / "reports" / "evaluation.json").write_text("[" * 100_000 + "]" * 100_000)
    done = samdkit(project_copy, "report", "--no-pdf")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr


# ----------------------------------------------------------------------------- write all or nothing


def test_late_failure_leaves_every_previous_output_byte_identical(project_copy):
    """The model card renders last; a mistake in the project's card template leaves all outputs as they were."""
    assert samdkit(project_copy, "report").returncode == 0
    files = sorted(p for p in (project_copy / "reports").rglob("*") if p.is_file())
    before = {p: p.read_bytes() for p in files}
    # something else changes, so a rewrite would show
    device = yaml.safe_load((project_copy / "compliance" / "device.yaml").read_text())
    device.setdefault("intended_use", {})["statement"] = "changed statement"
    (project_copy / "compliance" / "device.yaml").write_text(yaml.safe_dump(device))
    override(project_copy, "model-card.html.j2", "</body>", "{{ no_such_field.x }}</body>")
    done = samdkit(project_copy, "report")
    assert done.returncode == 2, done.stderr
    assert "model-card.html.j2" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    after = sorted(p for p in (project_copy / "reports").rglob("*") if p.is_file())
    assert after == files  # no temp file left either
    assert {p: p.read_bytes() for p in after} == before


# ------------------------------------------------------------------------------------ no lost text


def test_character_without_a_glyph_is_exit_2_naming_field_and_code_point(project_copy):
    if not glyphs.missing({"日"}, ["DejaVu Sans"]):
        pytest.skip("a font with Japanese glyphs is installed here")
    before = {p: p.read_bytes() for p in (project_copy / "reports").iterdir() if p.is_file()}
    device = yaml.safe_load((project_copy / "compliance" / "device.yaml").read_text())
    device.setdefault("intended_use", {})["statement"] = "乳房病変のトリアージ"
    (project_copy / "compliance" / "device.yaml").write_text(
        yaml.safe_dump(device, allow_unicode=True)
    )
    done = samdkit(project_copy, "report")
    assert done.returncode == 2, done.stderr
    err = done.stderr.strip()
    first = min("乳房病変のトリアージ")
    assert len(err.splitlines()) == 1
    assert "compliance/device.yaml: intended_use.statement" in err, err
    assert f"U+{ord(first):04X}" in err and "fonts-noto-cjk" in err, err
    after = {p: p.read_bytes() for p in (project_copy / "reports").iterdir() if p.is_file()}
    assert after == before


def test_glyph_check_reads_the_fonts_the_css_names():
    css = (
        'html { font-family: "DejaVu Sans", sans-serif; } code { font-family: "DejaVu Sans Mono"; }'
    )
    assert glyphs.families(css) == ["DejaVu Sans", "DejaVu Sans Mono"]
    assert glyphs.missing(set("Sensitivity ≥ 0.85 − CO₂ µg → ✓ é ß"), glyphs.families(css)) == set()
    assert glyphs.missing({"\ue000"}, ["DejaVu Sans"]) == {"\ue000"}  # private use: no font has it


def test_every_yaml_and_json_reader_is_bounded(tmp_path):
    """requirements.yaml (evaluate), params.yaml (every stage) and model.lock (verify-lock, comment)."""
    from samdkit.core.project import read_yaml
    from samdkit.evaluate import criteria
    from samdkit.lock import schema as lockfile

    bomb = tmp_path / "requirements.yaml"
    bomb.write_text(BOMB)
    for read in (criteria.load, read_yaml):
        with pytest.raises(UserError, match="aliases"):
            read(bomb)
    with pytest.raises(UserError, match="nested too deeply"):
        lockfile.parse("[" * 200_000, "model.lock")


def test_glyph_check_without_fc_match_reads_every_installed_font(monkeypatch, tmp_path):
    """CI images often have pango's fontconfig library but not the fc-match program."""
    monkeypatch.setenv("PATH", str(tmp_path))  # no fc-match on PATH
    glyphs._fallback_files.cache_clear()
    try:
        assert glyphs.missing(set("Sensitivity ≥ 0.85 − CO₂"), ["DejaVu Sans"]) == set()
        if glyphs.missing({"日"}, ["DejaVu Sans"]):
            assert glyphs.missing({"日", "a"}, ["DejaVu Sans"]) == {"日"}
    finally:
        glyphs._fallback_files.cache_clear()


def test_template_environments_escape_for_their_output(tmp_path):
    """HTML templates are autoescaped; Markdown templates escape every {{ }} unless the template marks it."""
    from samdkit.core.project import load_project
    from samdkit.report.render import environment

    project = load_project(tmp_path)
    html, md = environment(project), environment(project, markdown=True)
    for name in ("report.html.j2", "model-card.html.j2", "_macros.html.j2"):
        assert html.autoescape(name) is True, name
    assert html.autoescape("report.css") is False
    hostile = "x\n# <details>[a](b)"
    assert html.from_string("{{ s }}").render(s=hostile) == "x\n# &lt;details&gt;[a](b)"
    out = md.from_string("{{ s }} {{ '**kept**' | safe }} {{ s | code }}").render(s=hostile)
    assert out == "x \\#\u2060 \\<details>\\[a\\](b) **kept** `x # <details>[a](b)`"
