"""samdkit: make ML projects in regulated healthcare provable.

The engine is grouped by capability (docs/architecture.md): core, data, evaluate, lock, report, release, ci,
regulatory; `samdkit.cli` is the one command line over them.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
