"""samdkit: make ML projects in regulated healthcare provable."""

__version__ = "0.1.0"
