"""Streamed SHA-256 of files and directory trees, with one root digest over a tree.

Memory stays flat whatever the artifact size (one reusable buffer per file being hashed), and the files of
a multi-file artifact are hashed in parallel threads: hashlib releases the GIL while it hashes, so two large
files on two cores take about the time of one.

Root digest of a tree: SHA-256 over the UTF-8 lines ``"<relpath>\\0<sha256 hex>\\n"``, one per regular
file, sorted by relpath (POSIX separators, relative to the tree root; code-point order, which equals
UTF-8 byte order). Empty directories do not count. A single file is a tree of one entry named by its
file name. Recompute it in a shell with::

    (cd models/model && find . -type f | sed 's|^\\./||' | LC_ALL=C sort | while read -r f; do
        printf '%s\\0%s\\n' "$f" "$(openssl dgst -sha256 -r "$f" | cut -d' ' -f1)"; done) | sha256sum
"""

from __future__ import annotations

import hashlib
import os
from collections import namedtuple
from collections.abc import Iterable
from pathlib import Path

from samdkit.core.errors import UserError

ALGORITHM = "sha256"
# 1 MiB: large enough to amortise the system calls, small enough to stay in the CPU cache
# (measured here: 1 MiB matches `openssl dgst`, 4 MiB and more are slower).
BUFFER_SIZE = 1 << 20


class FileDigest(namedtuple("FileDigest", "path sha256 size")):
    """One file of an artifact: its path relative to the artifact root, SHA-256 and size in bytes.

    A named tuple, not a dataclass: dataclasses imports inspect (~13 ms), a tenth of hashing 100 MiB.
    """

    __slots__ = ()

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}


def file_sha256(path: str | os.PathLike[str], buffer_size: int = BUFFER_SIZE) -> tuple[str, int]:
    """SHA-256 (hex) and size of one file, read in fixed-size chunks into one reused buffer."""
    digest = hashlib.sha256()
    buffer = bytearray(buffer_size)
    view = memoryview(buffer)
    size = 0
    with open(path, "rb", buffering=0) as handle:
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        while count := handle.readinto(buffer):
            digest.update(view[:count])
            size += count
    return digest.hexdigest(), size


def sha256_hex(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of one file: the digest evidence files record for their inputs."""
    return file_sha256(path)[0]


def list_files(root: str | os.PathLike[str]) -> list[str]:
    """Relative POSIX paths of every regular file under root (or root's own name if it is a file), sorted."""
    root = Path(root)
    if root.is_file():
        return [root.name]
    found = []
    for folder, dirs, files in os.walk(root):
        linked = [d for d in dirs if Path(folder, d).is_symlink()]
        if linked:  # os.walk would skip its content silently: refuse rather than lock half a model
            where = Path(folder, linked[0]).relative_to(root).as_posix()
            raise UserError(f"{root}: {where} is a symlinked directory; copy it into the artifact")
        dirs.sort()
        for name in files:
            full = Path(folder, name)
            if full.is_file():
                found.append(full.relative_to(root).as_posix())
    return sorted(found)


def tree_digests(root: str | os.PathLike[str], workers: int | None = None) -> list[FileDigest]:
    """Digest every file of an artifact (a directory or one file), in parallel, sorted by path."""
    root = Path(root)
    names = list_files(root)
    base = root.parent if root.is_file() else root
    workers = max(1, min(workers or os.cpu_count() or 1, len(names) or 1))

    def one(name: str) -> FileDigest:
        sha, size = file_sha256(base / name)
        return FileDigest(name, sha, size)

    if workers == 1:
        return [one(name) for name in names]
    # imported here: concurrent.futures pulls in logging (~12 ms), a third of a one-file lock's start-up
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="samdkit-hash") as pool:
        return list(pool.map(one, names))


def root_digest(entries: Iterable[tuple[str, str]]) -> str:
    """SHA-256 over the sorted ``relpath\\0sha256\\n`` lines (see the module docstring)."""
    digest = hashlib.sha256()
    for path, sha in sorted(entries):
        digest.update(f"{path}\0{sha}\n".encode())
    return digest.hexdigest()


def bytes_sha256(data: bytes) -> str:
    """SHA-256 (hex) of bytes in memory (an attachment, a certificate's DER, an array's buffer)."""
    return hashlib.sha256(data).hexdigest()
