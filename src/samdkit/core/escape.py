"""Escaping of untrusted text, one function per output context.

Compliance texts, requirement ids, column names, subgroup values and lock fields reach published Markdown
(the PR comment, report.md, model-card.md, which is also a Hugging Face card) and HTML. None of them may add
a heading, link, image, HTML element, code fence, table cell or new block there. HTML is escaped by jinja's
autoescape (markupsafe); Markdown has no standard escaper, so this module has one: CommonMark renders any
backslash-escaped ASCII punctuation as itself, and line breaks, which would start a new block, become spaces.
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup

# characters with a meaning anywhere in a GitHub/GitLab line: emphasis, code, links, images, raw HTML and
# entities, table cells, strikethrough, math, @mentions, #issue references; "_" only where it could open or
# close emphasis (an underscore between letters or digits never does: snake_case stays readable)
_ALWAYS = re.compile(r"([\\`*\[\]<&|~$!#@{}])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# autolinks (GFM extension): scheme:// and www. (email autolinks need the escaped "@")
_AUTOLINK = re.compile(r"(?i)(:)(?=//)|(?<=www)(\.)")
_LINKED = re.compile(r"[@#]|:(?=//)")
_WWW = re.compile(r"(?i)(?<=www)(?=\\\.)")
WORD_JOINER = "\u2060"
# block starters when the text lands at the start of a line: list, quote, setext, ordered list
_LEADING = re.compile(r"^ ?(>|[-+=](?=[\s\-+=]|$))|^ ?(\d{1,9})([.)])(?=\s|$)")
# anything that breaks a line in some renderer, control characters, and bidirectional overrides (which
# reorder what a reader sees, e.g. "FAIL" shown as "LIAF")
_BREAKS = re.compile(r"[\r\n\v\f\x85\u2028\u2029]+")
# bidirectional controls: embeddings/overrides (U+202A-202E), isolates (U+2066-2069), marks (LRM, RLM, ALM)
BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_BIDI = re.compile(f"[{BIDI}]")
_CONTROLS = re.compile(f"[\\x00-\\x08\\x0e-\\x1f\\x7f\\x80-\\x84\\x86-\\x9f{BIDI}]")


def terminal(value: Any, *, keep: str = "") -> str:
    """Untrusted text (a file or column name, a certificate subject, a library's message) for a terminal
    or CI log, as one visible line: line breaks, terminal escapes, other control and format characters
    (bidi overrides, zero-width) written as Python escapes (`\\n`, `\\x1b`, `\\u202e`), so a hostile
    name cannot draw a fake line, rewrite the one above or hide the verdict. `keep`: characters the
    caller escapes its own way (GitHub annotations encode CR/LF as %0D/%0A)."""
    import unicodedata

    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if ch not in keep and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")
        else ch
        for ch in str(value)
    )


def no_bidi(value: str) -> str:
    """The text without bidirectional controls, the one rule every output context (Markdown, HTML, the
    PDF made from the HTML) applies: an override makes a reader see "class IIa" as "class aII"."""
    return _BIDI.sub("", value)


def html_finalize(value: Any) -> Any:
    """jinja `finalize` of the HTML templates: bidi controls dropped, then autoescape does the rest
    (a value already marked safe stays safe: removing characters adds no markup)."""
    if isinstance(value, Markup):
        return Markup(no_bidi(str(value)))
    return no_bidi(value) if isinstance(value, str) else value


def _flat(value: Any) -> str:
    text = "" if value is None else str(value)
    return _CONTROLS.sub("", _BREAKS.sub(" ", text).replace("\t", " "))


def one_line(value: Any) -> str:
    """The text on one line: line breaks and tabs become spaces, control characters are dropped."""
    return _flat(value).strip()


def md_inline(value: Any) -> str:
    """Plain text for any inline Markdown context (paragraph, list item, heading text, table cell).

    A run of spaces at either end becomes one space (four at the start of a line would open a code block).
    """
    text = re.sub(r"^ {2,}| {2,}$", " ", _flat(value))
    text = _ALWAYS.sub(lambda m: "\\" + m.group(0), text)
    text = _AUTOLINK.sub(lambda m: "\\" + (m.group(1) or m.group(2)), text)
    # GitHub links @mentions, #123 and URLs after rendering, in the text itself: an invisible word joiner
    # after "@", "#", "://" and "www." breaks those patterns without changing what a reader sees
    text = _WWW.sub(WORD_JOINER, _LINKED.sub(lambda m: m.group(0) + WORD_JOINER, text))
    return _LEADING.sub(_escape_marker, text)


def _escape_marker(match: re.Match[str]) -> str:
    marker = match.group(1) or match.group(3)
    return match.group(0)[: -len(marker)] + "\\" + marker


def md_cell(value: Any, empty: str = "—") -> str:
    """A Markdown table cell (GFM): inline text whose "|" cannot start a new column."""
    text = md_inline(value)
    return text if text.strip() else empty


def md_code(value: Any, cell: bool = False) -> str:
    """An inline code span showing `value` verbatim: the fence is longer than any backtick run inside."""
    text = one_line(value)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    if cell:  # GFM splits table cells before it parses code spans
        text = text.replace("|", "\\|")
    return f"{fence}{pad}{text}{pad}{fence}"


def md_fence(lines: list[str], info: str = "") -> str:
    """A fenced code block around `lines`, with a fence no line of the content can close."""
    body = "\n".join(_CONTROLS.sub("", str(line)) for line in lines)
    longest = max((len(run) for run in re.findall(r"`{3,}|~{3,}", body)), default=2)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{one_line(info)}\n{body}\n{fence}"


def md_finalize(value: Any) -> Any:
    """jinja `finalize` of the Markdown templates: every `{{ }}` is escaped unless marked safe."""
    if isinstance(value, Markup):
        return no_bidi(str(value))
    if value is None or isinstance(value, bool | int | float):
        return value
    return md_inline(value)


class _Quoted(str):
    """A front-matter string value: always written double-quoted."""


def yaml_front_matter(data: dict[str, Any]) -> str:
    """YAML front matter (Hugging Face card): every string value on one line and double-quoted, so no
    value can end the block or add a key."""
    import yaml

    def clean(node: Any) -> Any:
        if isinstance(node, dict):
            return {one_line(k): clean(v) for k, v in node.items()}
        if isinstance(node, list):
            return [clean(v) for v in node]
        return _Quoted(one_line(node)) if isinstance(node, str) else node

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(
        _Quoted, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", str(s), style='"')
    )
    body = yaml.dump(clean(data), Dumper=Dumper, sort_keys=False, allow_unicode=True, width=10**6)
    return "---\n" + body + "---\n"
