"""Byte-reproducible model artifacts: every volatile field a save writes is fixed from the source.

MLflow writes a fresh `model_uuid` and the wall-clock `utc_time_created` into `MLmodel`; skops names the
archive members after memory addresses (`id()` of each array) and stamps every zip member with the
current time. `normalise_model` rewrites them from the source alone, so the same commit, data and
parameters give the same bytes in any folder at any time (docs/model-lock.md, "Reproducible builds"):

- time: `SOURCE_DATE_EPOCH` when set (reproducible-builds.org), else the commit time of HEAD, else
  1980-01-01 (the zip format's first day);
- `model_uuid`: a name-based UUID (uuid5) of the other files' SHA-256 and the time; `run_id` removed,
  `model_id` null (they name a tracking-store run, not the artifact);
- zip archives: members in their written order, stamped with the time, mode 0644, Unix creator; in a
  skops archive the object ids and member names become ordinals in schema order.

`pin_numerics` fixes the numerical sources of variation a training process controls: the seeds of
`random` and NumPy's global generator, and one thread for BLAS/OpenMP pools (sums in a fixed order).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import uuid
import zipfile
from pathlib import Path
from typing import Any

from samdkit.core import gitinfo
from samdkit.core.errors import UserError

ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip member can carry
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # MLflow's utc_time_created (str(datetime))
_SKOPS_FILE = re.compile(r"^[0-9A-Za-z-]+(\.[a-z0-9]+)$")


def source_date_epoch(root: str | Path = ".") -> int:
    """The build time: SOURCE_DATE_EPOCH, else HEAD's commit time, else 1980-01-01."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if raw:
        if not raw.isdigit():
            raise UserError(f"SOURCE_DATE_EPOCH must be whole seconds since 1970, got {raw!r}")
        return max(int(raw), ZIP_EPOCH)
    committed = gitinfo.commit_time(root)
    return max(committed, ZIP_EPOCH) if committed is not None else ZIP_EPOCH


def pin_numerics(seed: int | None) -> Any:
    """Seed `random` and NumPy's global generator; one BLAS/OpenMP thread. Returns the limiter."""
    import random

    import numpy as np
    from threadpoolctl import threadpool_limits

    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"  # pools a library starts later, and child processes
    if seed is not None:
        random.seed(int(seed))
        np.random.seed(int(seed) % 2**32)
    return threadpool_limits(limits=1)


def _renumber_skops(schema: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Object ids and member names of a skops schema as ordinals in document (= save) order."""
    ids: dict[int, int] = {}
    files: dict[str, str] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key == "__id__" and isinstance(value, int) and not isinstance(value, bool):
                out[key] = ids.setdefault(value, len(ids) + 1)
            elif key == "file" and isinstance(value, str) and _SKOPS_FILE.match(value):
                suffix = _SKOPS_FILE.match(value).group(1)
                out[key] = files.setdefault(value, f"{len(files) + 1}{suffix}")
            else:
                out[key] = walk(value)
        return out

    return walk(schema), files


def normalise_zip(path: Path, epoch: int) -> None:
    """Rewrite a zip archive with fixed member times and modes (a skops archive also renumbered)."""
    stamp = dt.datetime.fromtimestamp(max(epoch, ZIP_EPOCH), dt.UTC).timetuple()[:6]
    with zipfile.ZipFile(path) as source:
        infos = source.infolist()
        members = [(info, source.read(info)) for info in infos]
    names = {info.filename for info, _ in members}
    renames: dict[str, str] = {}
    if "schema.json" in names:
        schema_info, raw = next((i, d) for i, d in members if i.filename == "schema.json")
        schema, renames = _renumber_skops(json.loads(raw))
        unnamed = names - set(renames) - {"schema.json"}
        if unnamed:
            raise UserError(
                f"{path.name}: {len(unnamed)} archive member(s) not named in schema.json; "
                "cannot make the archive reproducible"
            )
        text = json.dumps(schema, indent=2).encode("utf-8")  # skops writes indent=2
        members = [(i, text if i is schema_info else d) for i, d in members]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for info, data in members:
            fixed = zipfile.ZipInfo(renames.get(info.filename, info.filename), date_time=stamp)
            fixed.compress_type = info.compress_type
            fixed.external_attr = 0o100644 << 16
            fixed.create_system = 3
            target.writestr(fixed, data)
    path.write_bytes(buffer.getvalue())


def _content_digest(model_dir: Path, skip: str) -> str:
    """model.lock's root digest of the folder without `skip` (samdkit.digests, the one SHA-256)."""
    from samdkit.core.digests import root_digest, tree_digests

    return root_digest(
        (e.path, e.sha256) for e in tree_digests(model_dir, workers=1) if e.path != skip
    )


def _normalise_mlmodel(path: Path, epoch: int, content: str, size_delta: int) -> None:
    text = path.read_text(encoding="utf-8")
    created = dt.datetime.fromtimestamp(epoch, dt.UTC).strftime(TIME_FORMAT)
    model_uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"samdkit:model:{content}:{epoch}").hex
    text = re.sub(r"(?m)^model_uuid: .*$", f"model_uuid: {model_uuid}", text)
    text = re.sub(r"(?m)^utc_time_created: .*$", f"utc_time_created: '{created}'", text)
    text = re.sub(r"(?m)^model_id: .*$", "model_id: null", text)
    text = re.sub(r"(?m)^run_id: .*\n", "", text)
    if size_delta:
        text = re.sub(
            r"(?m)^model_size_bytes: (\d+)$",
            lambda m: f"model_size_bytes: {int(m.group(1)) + size_delta}",
            text,
        )
    path.write_text(text, encoding="utf-8")


def normalise_model(model_dir: str | Path, epoch: int | None = None) -> int:
    """Make a saved model folder byte-reproducible in place; returns the build time used."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise UserError(f"{model_dir}: model folder not found")
    epoch = source_date_epoch() if epoch is None else max(int(epoch), ZIP_EPOCH)
    size_delta = 0
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        if zipfile.is_zipfile(path):
            before = path.stat().st_size
            normalise_zip(path, epoch)
            size_delta += path.stat().st_size - before
    mlmodel = model_dir / "MLmodel"
    if mlmodel.is_file():
        _normalise_mlmodel(mlmodel, epoch, _content_digest(model_dir, "MLmodel"), size_delta)
    return epoch


def recorded_epoch(model_dir: str | Path) -> int | None:
    """The build time a normalised model carries (MLmodel utc_time_created), else None."""
    mlmodel = Path(model_dir) / "MLmodel"
    if not mlmodel.is_file():
        return None
    found = re.search(
        r"(?m)^utc_time_created: '?([0-9: .-]+?)'?$", mlmodel.read_text(encoding="utf-8")
    )
    if not found:
        return None
    try:
        when = dt.datetime.strptime(found.group(1), TIME_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    if when.microsecond:
        return None  # a wall-clock time: this model was not normalised
    return int(when.timestamp())
