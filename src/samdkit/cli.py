"""The samdkit command line: one engine behind every action, GitLab include and template workflow.

Start-up speed matters (every CI step calls it), so this module imports only argparse and the one
command module asked for; heavy libraries are imported inside the command that needs them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from samdkit import __version__
from samdkit.core.errors import UserError
from samdkit.core.privacy import apply_privacy_defaults

# command -> (module under samdkit, one-line help). Each module defines
# add_arguments(parser) and run(args) -> int, and imports nothing heavy at module level.
COMMANDS: dict[str, tuple[str, str]] = {
    "new": ("scaffold", "scaffold a project from the bundled cookiecutter template"),
    "lint": ("lint", "ruff (code + notebooks) and pynblint (notebook practices), one summary"),
    "check-data": ("data.command", "validate datasets against Great Expectations suites"),
    "evaluate": (
        "evaluate.command",
        "metrics with 95% CIs, calibration, subgroups, acceptance criteria",
    ),
    "lock": (
        "lock.command",
        "write model.lock: artifact digests, determinism fingerprint, data version",
    ),
    "verify-lock": ("lock.command", "recompute model.lock and fail on any difference"),
    "report": (
        "report.command",
        "clinical validation report and model card (PDF, HTML, Markdown, JSON)",
    ),
    "sign": ("release.sign", "PAdES-sign the PDFs and sign the release manifest"),
    "verify": (
        "release.verify",
        "the auditor's check: signatures, manifest, digests inside the report",
    ),
    "comment": ("ci.comment", "pull/merge request comment markdown; posts it via CML when asked"),
    "pipeline-status": (
        "ci.pipeline_status",
        "is dvc.lock up to date with dvc.yaml, params and deps (names stale stages, the fix)",
    ),
    "gate": ("ci.outputs", "run one gate command and record its verdict; --verdict reads them all"),
}

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="samdkit",
        description=(
            "Make ML projects in regulated healthcare provable: gate every pull request, "
            "produce signed evidence on every release. Run a command with --help for details."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="commands:\n"
        + "\n".join(f"  {name:<12} {text}" for name, (_, text) in COMMANDS.items())
        + "\n\nexit codes: 0 ok, 1 a check failed, 2 bad input, 3 internal error",
    )
    parser.add_argument("--version", action="version", version=f"samdkit {__version__}")
    parser.add_argument("command", nargs="?", choices=list(COMMANDS), metavar="command")
    return parser


def _command_parser(name: str) -> tuple[argparse.ArgumentParser, object]:
    module_name, text = COMMANDS[name]
    module = importlib.import_module(f"samdkit.{module_name}")
    parser = argparse.ArgumentParser(prog=f"samdkit {name}", description=text)
    adder = getattr(module, f"add_{name.replace('-', '_')}_arguments", None) or module.add_arguments
    adder(parser)
    if name == "verify":  # the auditor's rebuild (samdkit.lock.rebuild) rides on verify's checks
        from samdkit.lock.rebuild import add_verify_flag

        add_verify_flag(parser)
    return parser, module


def _where(exc: BaseException) -> str:
    """module:line of the innermost samdkit frame of a traceback (where to look, no values)."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "samdkit" in f.filename.replace("\\", "/")] or frames
    if not ours:
        return "an unknown place"
    frame = ours[-1]
    parts = frame.filename.replace("\\", "/").split("/")
    where = "/".join(parts[parts.index("samdkit") + 1 :]) if "samdkit" in parts else parts[-1]
    return f"{where}:{frame.lineno} ({frame.name})"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in COMMANDS:
        top = _top_parser()
        top.parse_args(args)  # handles --help, --version and unknown commands (exit 2)
        top.print_help()
        return EXIT_BAD_INPUT
    name = args[0]
    apply_privacy_defaults()
    try:
        parser, module = _command_parser(name)
        ns = parser.parse_args(args[1:])
        runner = getattr(module, f"run_{name.replace('-', '_')}", None) or module.run
        if name == "verify" and ns.rebuild:
            from samdkit.lock.rebuild import run_verify_rebuild

            return run_verify_rebuild(ns, runner)
        return int(runner(ns) or 0)
    except UserError as exc:
        from samdkit.core.escape import terminal

        # the message names files, columns and keys from the project: one visible line, whatever they hold
        print(f"samdkit {name}: error: {terminal(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"samdkit {name}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the promise is one line, never a traceback
        if os.environ.get("SAMDKIT_DEBUG"):
            raise
        # the message is left out: a library's message may quote data (a patient's value)
        print(
            f"samdkit {name}: internal error: {type(exc).__name__} at {_where(exc)} "
            "(message withheld, it may quote data; SAMDKIT_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
