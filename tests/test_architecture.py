"""The engine's shape, checked from source (issue 18; docs/architecture.md).

Every check reads `src/samdkit` with `ast` only: nothing of samdkit or of a heavy library is imported, so this
file runs in about a second. Each failure lists every offender (file:line) so one run shows the whole debt.
"""

from __future__ import annotations

import ast
import functools
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PKG = SRC / "samdkit"

# Cross-package imports allowed besides samdkit.core.* and `from samdkit import __version__` (API contract of
# issue 18). Each entry names a module (or package, then its submodules too) under samdkit and why it may be
# imported from another package. Adding an entry is a design decision: say it in docs/architecture.md too.
ALLOWED_CROSS_PACKAGE: dict[str, str] = {
    "evaluate.document": "the evaluation JSON's one strict, versioned reader/writer (report, comment, MLflow)",
    "evaluate.criteria": "the acceptance-criteria engine (regulatory/pccp) and its publication rule (data/drafting)",
    "data.result": "the data-check result's one strict, versioned reader/writer (report, comment)",
    "data.sources": "database URL redaction, so the CI gate result never records a password",
    "lock.schema": "model.lock's one strict, versioned reader/writer (report, comment, verify, signature)",
    "lock.rebuild": "reports/rebuild.json's reader and describe(), and verify's --rebuild flag",
    "lock.reproducible": "the fixed-timestamp rules the template's training imports",
    "lock.diff": "the model.lock difference the PR comment prints",
    "release.manifest": "the release manifest's one strict reader (verify --rebuild, report)",
    "release.report_digests": "the evidence-digests attachment: report writes it, verify parses it",
    "release.layout": "the planned signers and the record status line the report prints (sign uses the same)",
    "regulatory": "the regulatory mapping: checklists, CHAI card and PCCP the report lays out",
}
# allowed entries whose user is outside src/samdkit (the generated project's code)
USED_OUTSIDE_THE_ENGINE = {"lock.reproducible"}
# the one module allowed to compute SHA-256, run git, declare --format (rule f)
ONLY_DIGESTS = "samdkit.core.digests"
ONLY_GIT = "samdkit.core.gitinfo"
ONLY_FORMAT = "samdkit.core.options"
MAX_FUNCTION_LINES = 80
SUBPROCESS_CALLS = {
    "run",
    "Popen",
    "check_output",
    "check_call",
    "call",
    "getoutput",
    "getstatusoutput",
}


@dataclass
class Module:
    name: str  # dotted, e.g. samdkit.core.digests; a package is named by its __init__
    path: Path
    tree: ast.Module | None
    error: str = ""
    is_package: bool = False
    source: str = field(default="", repr=False)

    @property
    def rel(self) -> str:
        return self.path.relative_to(SRC.parent).as_posix()

    @property
    def unit(self) -> str:
        """The package a module belongs to (core, lock, ...); a top-level module is its own unit."""
        parts = self.name.split(".")
        return (
            parts[1] if len(parts) > 1 else "samdkit"
        )  # cli, lint, scaffold, __main__: their own unit


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    names: tuple[str, ...]  # names imported from target (empty for `import x`)
    top_level: bool


@functools.cache
def modules() -> dict[str, Module]:
    found: dict[str, Module] = {}
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        parts = list(rel.parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        source = path.read_text(encoding="utf-8")
        try:
            tree, error = ast.parse(source, filename=str(path)), ""
        except SyntaxError as exc:
            tree, error = None, f"{exc.msg} (line {exc.lineno})"
        name = ".".join(parts)
        found[name] = Module(name, path, tree, error, is_package, source)
    return found


def parsed() -> list[Module]:
    return [m for m in modules().values() if m.tree is not None]


def _resolve_base(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _top_level_nodes(tree: ast.Module) -> set[int]:
    """ids of the import nodes that run at import time (not inside a def)."""
    ids: set[int] = set()

    def visit(body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.Import | ast.ImportFrom):
                ids.add(id(stmt))
            elif not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                for child in ast.iter_child_nodes(stmt):
                    if isinstance(child, ast.stmt):
                        visit([child])
                for handler in getattr(stmt, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return ids


def _dynamic_target(node: ast.Call) -> str:
    """The samdkit module a literal `__import__(...)` / `importlib.import_module(...)` names, else ""."""
    func = node.func
    name = (
        func.id
        if isinstance(func, ast.Name)
        else func.attr
        if isinstance(func, ast.Attribute)
        else ""
    )
    if name not in ("__import__", "import_module") or not node.args:
        return ""
    arg = node.args[0]
    if (
        isinstance(arg, ast.Constant)
        and isinstance(arg.value, str)
        and arg.value.startswith("samdkit")
    ):
        return arg.value
    return ""


@functools.cache
def edges() -> list[Edge]:
    """Every samdkit import of every module, module-level and inside functions."""
    known = modules()
    out: list[Edge] = []
    for module in parsed():
        top = _top_level_nodes(module.tree)
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "samdkit":
                        out.append(Edge(module.name, alias.name, node.lineno, (), id(node) in top))
            elif isinstance(node, ast.Call) and _dynamic_target(node):  # __import__("samdkit.x")
                target = _dynamic_target(node)
                out.append(Edge(module.name, target, node.lineno, (), id(node) in top))
            elif isinstance(node, ast.ImportFrom):
                base = _resolve_base(module, node)
                if base.split(".")[0] != "samdkit":
                    continue
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    target, names = (sub, ()) if sub in known else (base, (alias.name,))
                    out.append(Edge(module.name, target, node.lineno, names, id(node) in top))
    return out


def _where(edge: Edge) -> str:
    return f"{modules()[edge.source].rel}:{edge.line}{'' if edge.top_level else ' in a function'}"


def _allowed_target(target: str) -> bool:
    rest = target.removeprefix("samdkit.")
    return any(rest == entry or rest.startswith(entry + ".") for entry in ALLOWED_CROSS_PACKAGE)


def _unit_of(name: str) -> str:
    known = modules()
    return known[name].unit if name in known else name.split(".")[1] if "." in name else "samdkit"


def _command_modules() -> set[str]:
    return {f"samdkit.{module}" for module, _ in _commands().values()}


@functools.cache
def _commands() -> dict[str, tuple[str, str]]:
    cli = modules().get("samdkit.cli")
    if cli is None or cli.tree is None:
        return {}
    for node in cli.tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "COMMANDS" and node.value is not None:
            return ast.literal_eval(node.value)
    return {}


def _find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle path per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def strongconnect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                strongconnect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            strongconnect(node)
    return [_cycle_path(graph, component) for component in components]


def _cycle_path(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """The shortest path from the component's first module back to itself (breadth first)."""
    start, members = component[0], set(component)
    previous: dict[str, str] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in members:
                continue
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return [*component, start]


def _fail(title: str, offenders: list[str]) -> None:
    if offenders:
        pytest.fail(
            f"{title} ({len(offenders)}):\n  " + "\n  ".join(sorted(set(offenders))), pytrace=False
        )


# --- the checks ----------------------------------------------------------------------------------------------


def test_every_module_parses() -> None:
    _fail(
        "modules that do not parse",
        [f"{m.rel}: {m.error}" for m in modules().values() if m.tree is None],
    )


def test_every_samdkit_import_names_an_existing_module() -> None:
    known = modules()
    _fail(
        "imports of a samdkit module that does not exist",
        [f"{_where(e)} imports {e.target}" for e in edges() if e.target not in known],
    )


def test_import_graph_has_no_cycles() -> None:
    """(a) module-level and function-level imports together: a cycle means two modules know each other."""
    graph: dict[str, set[str]] = {}
    lines: dict[tuple[str, str], Edge] = {}
    for e in edges():
        if e.source != e.target and e.target in modules():
            graph.setdefault(e.source, set()).add(e.target)
            lines.setdefault((e.source, e.target), e)
    offenders = []
    for cycle in _find_cycles(graph):
        steps = [f"{a} -> {b} ({_where(lines[(a, b)])})" for a, b in itertools.pairwise(cycle)]
        offenders.append("cycle " + " -> ".join(cycle) + "\n      " + "\n      ".join(steps))
    _fail("import cycles between modules", offenders)


def test_core_imports_nothing_else_of_samdkit() -> None:
    """(b) core is the bottom layer: every other package may use it, it uses none of them."""
    _fail(
        "samdkit.core importing outside core",
        [
            f"{_where(e)} {e.source} imports {e.target}{' ' + ', '.join(e.names) if e.names else ''}"
            for e in edges()
            if _unit_of(e.source) == "core" and _unit_of(e.target) != "core"
        ],
    )


def _cross_package_ok(edge: Edge) -> bool:
    source, target = _unit_of(edge.source), _unit_of(edge.target)
    if source == target or target == "core":
        return True
    if edge.target == "samdkit":
        return edge.names == ("__version__",)
    if edge.source == "samdkit.cli" and edge.target in _command_modules():
        return True
    if edge.source == "samdkit.__main__" and edge.target == "samdkit.cli":
        return True
    return _allowed_target(edge.target)


def test_cross_package_imports_only_core_and_documented_readers() -> None:
    """(c) another package is reached only through core and the readers/APIs in ALLOWED_CROSS_PACKAGE."""
    _fail(
        "cross-package imports outside core and ALLOWED_CROSS_PACKAGE",
        [
            f"{_where(e)} {e.source} imports {e.target}{' (' + ', '.join(e.names) + ')' if e.names else ''}"
            for e in edges()
            if not _cross_package_ok(e)
        ],
    )


def test_allow_list_is_current() -> None:
    """Every exception names a module that exists and that another package still imports (none goes stale)."""
    known = modules()
    used = {
        entry
        for e in edges()
        if _unit_of(e.source) != _unit_of(e.target)
        for entry in ALLOWED_CROSS_PACKAGE
        if e.target.removeprefix("samdkit.") == entry
        or e.target.removeprefix("samdkit.").startswith(entry + ".")
    }
    _fail(
        "ALLOWED_CROSS_PACKAGE entries with no module, or that no other package imports",
        [
            f"{entry}: no module samdkit.{entry}"
            for entry in ALLOWED_CROSS_PACKAGE
            if f"samdkit.{entry}" not in known
        ]
        + [
            f"{entry}: no other package imports it (adopt it, or remove the entry)"
            for entry in ALLOWED_CROSS_PACKAGE
            if entry not in used
            and entry not in USED_OUTSIDE_THE_ENGINE
            and f"samdkit.{entry}" in known
        ],
    )


def test_no_function_over_80_lines() -> None:
    """(d) a function that does not fit on a screen hides its steps; split it into named ones."""
    offenders = []
    for module in parsed():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    offenders.append(f"{module.rel}:{node.lineno} {node.name}() is {length} lines")
    _fail(f"functions over {MAX_FUNCTION_LINES} lines", offenders)


def _defined_names(tree: ast.Module) -> set[str]:
    """Names bound at a module's top level (through if/try blocks, not inside defs or classes)."""
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(stmt.name)
            elif isinstance(stmt, ast.Import | ast.ImportFrom):
                for alias in stmt.names:
                    names.add(alias.asname or alias.name.split(".")[0])
            elif isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
            else:
                for attr in ("body", "orelse", "finalbody"):
                    visit(getattr(stmt, attr, []) or [])
                for handler in getattr(stmt, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return names


def _dunder_all(tree: ast.Module) -> tuple[list[str], int] | None:
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "__all__" and node.value is not None:
            try:
                return list(ast.literal_eval(node.value)), node.lineno
            except ValueError:
                return [], node.lineno
    return None


def test_every_package_init_declares_its_public_api() -> None:
    """(e) `__all__` says what a package offers; every name in it must be defined there or be a submodule."""
    folders = {p.parent for p in PKG.rglob("*.py") if "__pycache__" not in p.parts}
    offenders = [
        f"{f.relative_to(SRC.parent).as_posix()}/ holds modules but no __init__.py"
        for f in sorted(folders)
        if not (f / "__init__.py").is_file()
    ]
    for module in parsed():
        if not module.is_package:
            continue
        declared = _dunder_all(module.tree)
        if declared is None:
            offenders.append(f"{module.rel}:1 defines no __all__")
            continue
        names, line = declared
        submodules = {p.stem for p in module.path.parent.glob("*.py")} | {
            p.parent.name for p in module.path.parent.glob("*/__init__.py")
        }
        defined = _defined_names(module.tree) | submodules
        offenders += [
            f"{module.rel}:{line} __all__ names {n!r}, not defined"
            for n in names
            if n not in defined
        ]
    _fail("package __init__ files without a valid __all__", offenders)


def _subprocess_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """(aliases of the subprocess module, names of its functions imported directly)."""
    modules_, functions = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules_ |= {a.asname or a.name for a in node.names if a.name == "subprocess"}
        elif isinstance(node, ast.ImportFrom) and node.module == "subprocess":
            functions |= {a.asname or a.name for a in node.names if a.name in SUBPROCESS_CALLS}
    return modules_, functions


def _is_git_command(node: ast.expr) -> bool:
    if isinstance(node, ast.List | ast.Tuple) and node.elts:
        first = node.elts[0]
        return isinstance(first, ast.Constant) and first.value == "git"
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.startswith("git ")
    )


def _hash_offences(module: Module) -> list[str]:
    out = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Attribute) and node.attr in ("sha256", "file_digest"):
            if isinstance(node.value, ast.Name) and node.value.id == "hashlib":
                out.append(f"{module.rel}:{node.lineno} hashlib.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "hashlib":
            out += [
                f"{module.rel}:{node.lineno} from hashlib import {a.name}"
                for a in node.names
                if a.name in ("sha256", "file_digest", "new")
            ]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "new"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "hashlib"
        ):
            out.append(f"{module.rel}:{node.lineno} hashlib.new(...)")
    return out


def _git_names(scope: ast.AST) -> set[str]:
    """Names a scope binds to a git command list (cmd = ["git", ...])."""
    return {
        target.id
        for node in ast.walk(scope)
        if isinstance(node, ast.Assign | ast.AnnAssign)
        and node.value is not None
        and _is_git_command(node.value)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }


def _git_offences(module: Module) -> list[str]:
    """A subprocess call whose command is git: a literal list/string, or a name the same function binds to one."""
    aliases, direct = _subprocess_names(module.tree)
    if not aliases and not direct:
        return []

    def calls_subprocess(func: ast.expr, names: set[str]) -> bool:
        return (isinstance(func, ast.Name) and func.id in names) or (
            isinstance(func, ast.Attribute)
            and func.attr in SUBPROCESS_CALLS
            and isinstance(func.value, ast.Name)
            and func.value.id in aliases
        )

    defs = [
        n for n in ast.walk(module.tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    # a local wrapper (def _run(cmd, ...): subprocess.run(cmd, ...)) counts as subprocess too
    runners = direct | {
        d.name
        for d in defs
        if any(isinstance(c, ast.Call) and calls_subprocess(c.func, direct) for c in ast.walk(d))
    }
    lines: set[int] = set()
    for scope in [module.tree, *defs]:
        git_names = _git_names(scope) if scope is not module.tree else set()
        for node in ast.walk(scope):
            if not isinstance(node, ast.Call) or not calls_subprocess(node.func, runners):
                continue
            args = node.args[:1] or [k.value for k in node.keywords if k.arg == "args"]
            if any(
                _is_git_command(a) or (isinstance(a, ast.Name) and a.id in git_names) for a in args
            ):
                lines.add(node.lineno)
    return [f"{module.rel}:{line} runs git through subprocess" for line in sorted(lines)]


def _format_offences(module: Module) -> list[str]:
    return [
        f"{module.rel}:{node.lineno} declares --format"
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "add_argument"
        and any(isinstance(a, ast.Constant) and a.value == "--format" for a in node.args)
    ]


def test_one_sha256_one_git_runner_one_format_option() -> None:
    """(f) the small things written once: SHA-256 in core.digests, git in core.gitinfo, --format in core.options."""
    offenders = []
    for module in parsed():
        if module.name != ONLY_DIGESTS:
            offenders += _hash_offences(module)
        if module.name != ONLY_GIT:
            offenders += _git_offences(module)
        if module.name != ONLY_FORMAT:
            offenders += _format_offences(module)
    _fail("SHA-256 / git / --format outside their one core module", offenders)


SCHEMA_ID = re.compile(r"samdkit[-/][a-z0-9-]+/v?[0-9]+")


def _schema_ids(module: Module) -> dict[str, int]:
    """Schema ids a module spells as a whole string constant (docstrings and messages do not count)."""
    docstrings = {
        id(node.value)
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    found: dict[str, int] = {}
    for node in ast.walk(module.tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and SCHEMA_ID.fullmatch(node.value)
        ):
            found.setdefault(node.value, node.lineno)
    return found


def test_each_schema_id_is_spelled_by_one_module() -> None:
    """Rule 4: a schema id lives with its one reader/writer; another module comparing it is a second reader."""
    where: dict[str, list[str]] = {}
    for module in parsed():
        for schema, line in _schema_ids(module).items():
            where.setdefault(schema, []).append(f"{module.rel}:{line}")
    _fail(
        "schema ids spelled in more than one module (import the owner's constant)",
        [
            f"{schema}: {', '.join(sorted(places))}"
            for schema, places in where.items()
            if len(places) > 1
        ],
    )


def _top_level_names(tree: ast.Module) -> set[str]:
    return _defined_names(tree)


def test_cli_commands_point_at_command_modules() -> None:
    """(g) every COMMANDS entry names a module defining the adder and runner cli.py looks up."""
    commands = _commands()
    assert commands, "src/samdkit/cli.py: no COMMANDS dict literal found"
    known = modules()
    offenders = []
    for command, (module_name, _help) in commands.items():
        module = known.get(f"samdkit.{module_name}")
        if module is None or module.tree is None:
            offenders.append(
                f"{command}: module samdkit.{module_name} does not exist or does not parse"
            )
            continue
        names = _top_level_names(module.tree)
        stem = command.replace("-", "_")
        if not {f"add_{stem}_arguments", "add_arguments"} & names:
            offenders.append(
                f"{module.rel}: {command} has neither add_{stem}_arguments nor add_arguments"
            )
        if not {f"run_{stem}", "run"} & names:
            offenders.append(f"{module.rel}: {command} has neither run_{stem} nor run")
    _fail("CLI commands without their module's entry points", offenders)


# --- the checks can fail: each detector on a small bad module -------------------------------------------------


def _snippet(source: str) -> Module:
    return Module(
        "samdkit.example.bad", PKG / "example" / "bad.py", ast.parse(source), source=source
    )


def test_detectors_find_what_they_look_for() -> None:
    bad = _snippet(
        "import hashlib, subprocess\n"
        "from subprocess import check_output\n"
        "def _run(cmd):\n"
        "    return subprocess.run(cmd, check=False)\n"
        "def show(parser, path):\n"
        "    parser.add_argument('--format', choices=('text',))\n"
        "    cmd = ['git', 'log']\n"
        "    subprocess.run(cmd)\n"
        "    check_output('git rev-parse HEAD', shell=True)\n"
        "    _run(['git', 'status'])\n"
        "    return hashlib.sha256(path.read_bytes()).hexdigest()\n"
    )
    assert [o.split()[0] for o in _hash_offences(bad)] == ["src/samdkit/example/bad.py:11"]
    assert sorted(o.split()[0] for o in _git_offences(bad)) == [
        "src/samdkit/example/bad.py:10",
        "src/samdkit/example/bad.py:8",
        "src/samdkit/example/bad.py:9",
    ]
    assert [o.split()[0] for o in _format_offences(bad)] == ["src/samdkit/example/bad.py:6"]
    shown = _snippet(
        "import subprocess\n"
        "def fix(files):\n"
        "    return ' '.join(['git', 'add', *files])  # a command printed for the user, not run\n"
    )
    assert _git_offences(shown) == []
    hidden = _snippet("import importlib\nm = __import__('samdkit.evaluate.metrics')\n")
    assert [_dynamic_target(n) for n in ast.walk(hidden.tree) if isinstance(n, ast.Call)] == [
        "samdkit.evaluate.metrics"
    ]
    ids = _snippet('"""Reads samdkit/x/v1."""\nS = "samdkit/x/v1"\nM = "not samdkit/x/v1 data"\n')
    assert _schema_ids(ids) == {"samdkit/x/v1": 2}
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _find_cycles(graph) == [["a", "b", "c", "a"]]
    assert _find_cycles({"a": {"b"}, "b": set()}) == []


# --- the maps in the docs match the tree ----------------------------------------------------------------------

ARCHITECTURE_MD = SRC.parent / "docs" / "architecture.md"
README_MD = SRC.parent / "README.md"


def _documented_tree() -> set[str]:
    """Paths under src/samdkit named in docs/architecture.md's package map (two spaces per folder level)."""
    text = ARCHITECTURE_MD.read_text(encoding="utf-8")
    block = text.split("## Package map", 1)[1].split("```", 2)[1]
    named: set[str] = set()
    folders: list[str] = []  # the folder open at each depth
    for line in block.splitlines()[2:]:  # after the language tag line and src/samdkit/
        if not line.strip():
            continue
        depth = (len(line) - len(line.lstrip())) // 2 - 1
        if depth < 0:
            continue
        entry = line.split()[0]
        folders = folders[:depth]
        named.add("".join(folders) + entry)
        if entry.endswith("/"):
            folders.append(entry)
    return named


def _actual_tree() -> set[str]:
    """Every module and folder of src/samdkit (not the files inside data folders such as templates/)."""
    found: set[str] = set()
    for path in PKG.rglob("*"):
        rel = path.relative_to(PKG)
        if "__pycache__" in rel.parts:
            continue
        if path.is_dir() and (path.parent / "__init__.py").is_file():
            found.add(rel.as_posix() + "/")
        elif path.suffix == ".py":
            found.add(rel.as_posix())
    return found


def test_architecture_map_names_every_module_and_no_other() -> None:
    """docs/architecture.md's package map: every module and folder of src/samdkit, nothing that is gone."""
    actual, named = _actual_tree(), _documented_tree()
    optional = {
        p for p in actual if p.endswith("__init__.py")
    }  # an __init__ is listed when it holds code
    _fail(
        "docs/architecture.md package map out of date",
        [f"{p}: not in the map" for p in sorted(actual - named - optional)]
        + [f"{p}: in the map, not in src/samdkit" for p in sorted(named - actual)],
    )


def test_readme_layout_names_every_package() -> None:
    layout = README_MD.read_text(encoding="utf-8").split("## Layout", 1)[1].split("\n## ", 1)[0]
    packages = [p.name for p in PKG.iterdir() if (p / "__init__.py").is_file()]
    _fail(
        "packages missing from the README's Layout tree",
        [f"{name}/" for name in sorted(packages) if f"\n  {name}/ " not in layout],
    )
