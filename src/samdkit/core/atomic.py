"""Atomic writes: a reader never sees a half-written evidence file (temp file in the same folder + rename)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_bytes(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` atomically; the file appears whole or not at all."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_text(path: str | os.PathLike[str], text: str, mode: int = 0o644) -> Path:
    return write_bytes(path, text.encode("utf-8"), mode)


def dumps_json(obj: Any, *, allow_nan: bool = True) -> str:
    """Stable JSON text (sorted keys, 2-space indent, trailing newline): the same bytes for the same data,
    so digests of evidence are reproducible; what write_json writes, for stdout and attachments."""
    text = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=allow_nan)
    return text + "\n"


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write dumps_json(obj) atomically."""
    return write_text(path, dumps_json(obj))
