"""`samdkit new`: scaffold a project from the bundled cookiecutter template.

The template ships inside the wheel (samdkit/_template); in a source checkout it is the repository's
template/ folder. Both `cookiecutter .` and `samdkit new` render that same folder, so they agree.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from samdkit.core.errors import UserError


def template_dir() -> Path:
    """The bundled template: packaged copy first, then the source checkout's template/."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_template", here.parent.parent / "template"):
        if (candidate / "cookiecutter.json").is_file():
            return candidate
    raise UserError("the bundled project template is missing from this samdkit installation")


def _extra_context(pairs: list[str]) -> dict[str, str]:
    context = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[a-z_][a-z0-9_]*", key):
            raise UserError(f"--set expects KEY=VALUE with a template variable name, got {pair!r}")
        context[key] = value
    return context


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-input",
        action="store_true",
        help="use the defaults (and --set values) without prompting",
    )
    parser.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="template variable, e.g. --set project_name='Retina Screen' (repeatable)",
    )
    parser.add_argument(
        "-o", "--output-dir", default=".", help="where to create the project folder"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="overwrite an existing project folder"
    )


def run(args: argparse.Namespace) -> int:
    import logging

    # cookiecutter logs a traceback for a rejected variable; the hook's ERROR lines already say it all
    logging.getLogger("cookiecutter").addHandler(logging.NullHandler())
    from cookiecutter.exceptions import (
        CookiecutterException,
        FailedHookException,
        OutputDirExistsException,
    )
    from cookiecutter.main import cookiecutter

    try:
        project = cookiecutter(
            str(template_dir()),
            no_input=args.no_input,
            extra_context=_extra_context(args.set),
            output_dir=args.output_dir,
            overwrite_if_exists=args.overwrite,
        )
    except FailedHookException:
        raise UserError("template variables rejected (the ERROR lines above say why)") from None
    except OutputDirExistsException as exc:
        raise UserError(f"{exc} (use --overwrite to replace it)") from None
    except (
        CookiecutterException,
        ValueError,
    ) as exc:  # ValueError: a --set value outside a choice list
        raise UserError(f"template error: {exc}") from None
    print(project)
    return 0
