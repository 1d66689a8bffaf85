"""Write samdkit's GitLab CI/CD component project (templates/*.yml) from the include files in gitlab/.

GitLab wants a component project to ship each component as templates/<name>.yml at the project's root; the
`include: project:` users read gitlab/<name>.yml. One source: gitlab/ is edited, templates/ is this script's
output (each file's first line says so), and tests/test_gitlab_components.py fails when they differ. The only
change is where nested includes point: `local: /gitlab/x.yml` becomes `local: /templates/x.yml`, so a
component reads its siblings from the component project at the same version.

    python gitlab/components.py          # rewrite templates/
    python gitlab/components.py --check  # exit 1, one line per stale file, when templates/ is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "gitlab"
TARGET = REPO / "templates"
HEADER = (
    "# GENERATED from gitlab/{name} by gitlab/components.py: edit gitlab/{name}, then run"
    " `python gitlab/components.py`.\n"
)


def rendered() -> dict[str, str]:
    """Each component's text, by file name: gitlab/<name>.yml with its nested includes in templates/."""
    out = {}
    for path in sorted(SOURCE.glob("*.yml")):
        text = path.read_text(encoding="utf-8").replace("local: /gitlab/", "local: /templates/")
        out[path.name] = HEADER.format(name=path.name) + text
    return out


def stale() -> list[str]:
    """Files of templates/ that differ from what gitlab/ gives, or that gitlab/ no longer has."""
    wanted = rendered()
    found = {p.name for p in TARGET.glob("*.yml")} if TARGET.is_dir() else set()
    wrong = [
        name
        for name, text in wanted.items()
        if not (TARGET / name).is_file() or (TARGET / name).read_text(encoding="utf-8") != text
    ]
    return sorted([*wrong, *(found - set(wanted))])


def write() -> None:
    """Rewrite templates/ from gitlab/ (and drop components whose source is gone)."""
    TARGET.mkdir(exist_ok=True)
    wanted = rendered()
    for name, text in wanted.items():
        (TARGET / name).write_text(text, encoding="utf-8")
    for path in TARGET.glob("*.yml"):
        if path.name not in wanted:
            path.unlink()


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        names = stale()
        for name in names:
            print(
                f"templates/{name} is out of date: run python gitlab/components.py", file=sys.stderr
            )
        return 1 if names else 0
    if argv:
        print("usage: python gitlab/components.py [--check]", file=sys.stderr)
        return 2
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
