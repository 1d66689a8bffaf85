"""No lost text: every character of the evidence must have a glyph in the fonts the PDF will embed.

Pango draws a character that no installed font has as an empty box, and the PDF is then signed with it.
Before rendering, the text of each document is checked against the fonts its CSS names, in fontconfig's
fallback order (`fc-match -s`, the same order Pango uses), each font's character map read with fontTools. A
character none of them has stops the report with one line naming the input field and the character (exit 2);
docs/report.md says how to add a font.
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
from functools import cache
from html import unescape
from pathlib import Path
from typing import Any

from samdkit.core.errors import UserError

DEFAULT_FAMILIES = ("DejaVu Sans",)
_FAMILY = re.compile(r"font-family\s*:\s*([^;}]+)")
_GENERIC = {"serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui"}


def families(css: str) -> list[str]:
    """The font families the CSS names, first choices first (generic names only when nothing else)."""
    found: list[str] = []
    for declaration in _FAMILY.findall(css):
        for name in declaration.split(","):
            name = name.strip().strip("\"'")
            if name and name.lower() not in _GENERIC and name not in found:
                found.append(name)
    return found or list(DEFAULT_FAMILIES)


FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")


@cache
def _fallback_files(family: str) -> tuple[str, ...]:
    """The font files fontconfig (and so Pango) tries for `family`, in order.

    Without the `fc-match` program (Debian's fontconfig package; pango needs only the library), every font
    file of the usual folders, those named like the family first: Pango falls back to any of them.
    """
    try:
        out = subprocess.run(
            ["fc-match", "-s", family, "--format", "%{file}\n"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        return tuple(dict.fromkeys(line for line in out.splitlines() if line))
    except (OSError, subprocess.SubprocessError):
        key = family.replace(" ", "").lower()
        files = sorted(
            str(path)
            for folder in FONT_DIRS
            for path in Path(folder).expanduser().rglob("*")
            if path.suffix.lower() in (".ttf", ".otf", ".ttc")
        )
        return tuple(sorted(files, key=lambda f: key not in Path(f).name.lower()))


@cache
def _cmap(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    try:
        with TTFont(path, lazy=True, fontNumber=0) as font:
            return frozenset(font.getBestCmap() or {})
    except Exception:  # a font fontTools cannot read covers nothing we can prove
        return frozenset()


def _characters(html: str) -> set[str]:
    """Printable characters of the document's text (tags, styles and data URIs removed)."""
    text = re.sub(r"<style.*?</style>|<[^>]*>", " ", html, flags=re.S)
    return {c for c in unescape(text) if not c.isspace() and unicodedata.category(c)[0] not in "CZ"}


def missing(chars: set[str], names: list[str]) -> set[str]:
    """The characters that no font in the fallback lists of `names` has."""
    left = {ord(c) for c in chars}
    for family in names:
        for path in _fallback_files(family):
            left -= _cmap(path)
            if not left:
                return set()
    return {chr(c) for c in left}


def _where(char: str, sources: dict[str, Path]) -> str | None:
    """'file: dotted.key' of the first input string holding `char`, else None."""
    from samdkit.core import bounded

    def walk(node: Any, key: str):
        if isinstance(node, dict):
            for k, v in node.items():
                yield from walk(v, f"{key}.{k}" if key else str(k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from walk(v, f"{key}[{i}]")
        elif isinstance(node, str):
            yield key, node

    for rel, path in sources.items():
        if not path.is_file() or path.suffix not in (".yaml", ".yml", ".json"):
            continue
        try:
            data = (bounded.read_json if path.suffix == ".json" else bounded.read_yaml)(path, rel)
        except UserError:
            continue
        for key, text in walk(data, ""):
            if char in text:
                return f"{rel}: {key or '(document)'}"
    return None


def check(documents: dict[str, str], css: str, sources: dict[str, Path]) -> None:
    """Raise UserError on the first character of any document that the embedded fonts cannot show."""
    names = families(css)
    for what, html in documents.items():
        lost = missing(_characters(html), names)
        if not lost:
            continue
        char = min(lost)
        where = _where(char, sources) or f"the {what}'s own text"
        name = unicodedata.name(char, "unnamed character")
        raise UserError(
            f"{where}: character {char!r} (U+{ord(char):04X} {name}) has no glyph in the report's "
            f"fonts ({', '.join(names)} and their fallbacks) and would print as an empty box; "
            "install a font that has it (e.g. Debian fonts-noto-cjk), see docs/report.md"
        )
