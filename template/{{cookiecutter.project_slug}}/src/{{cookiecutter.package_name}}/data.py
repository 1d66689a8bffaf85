"""The prepare stage: load the data, derive the predetermined subgroups, split train/test/golden.

The split is stratified on the label, with a fixed seed, by sample id: no sample can be in both
train and test (independence of the test data, a Good Machine Learning Practice principle).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.model_selection import train_test_split

from {{ cookiecutter.package_name }}.config import DataError, load_params, require, run_cli

OUT_DIR = Path("data/prepared")
EMBEDDED = "sklearn:breast_cancer"


def _snake(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def load_embedded() -> pd.DataFrame:
    """scikit-learn's bundled Wisconsin diagnostic breast-cancer data; label 1 = malignant."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    frame = pd.DataFrame(bunch.data, columns=[_snake(n) for n in bunch.feature_names])
    frame.insert(0, "sample_id", [f"BC-{i + 1:04d}" for i in range(len(frame))])
    frame = add_size_tertile(frame)
    frame["label"] = (bunch.target == 0).astype(int)
    return frame


def add_size_tertile(frame: pd.DataFrame) -> pd.DataFrame:
    """Lesion-size tertile from mean radius: the default predetermined subgroup."""
    if "mean_radius" in frame.columns and "size_tertile" not in frame.columns:
        tertile = pd.qcut(frame["mean_radius"], 3, labels=["small", "medium", "large"])
        frame = frame.assign(size_tertile=tertile.astype(str))
    return frame


def load_source(source: str) -> pd.DataFrame:
    if source == EMBEDDED:
        return load_embedded()
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"params.yaml data.source: {source}: file not found")
    try:
        if path.suffix.lower() in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as exc:  # the reader's message may quote a cell: only its type is shown
        raise DataError(
            f"params.yaml data.source: {source}: unreadable ({type(exc).__name__})"
        ) from None


def split(frame: pd.DataFrame, data: dict[str, Any]) -> dict[str, pd.DataFrame]:
    id_col, label_col = data["id_column"], data["label_column"]
    missing = [c for c in [id_col, label_col, *data.get("subgroup_columns", [])] if c not in frame]
    if missing:
        raise DataError(f"dataset lacks column(s): {', '.join(missing)}")
    if frame.empty:
        raise DataError("dataset is empty")
    if frame[id_col].duplicated().any():  # counted, never listed: an id may be a record number
        count = int(frame[id_col].duplicated().sum())
        raise DataError(f"dataset has {count} duplicate {id_col} value(s)")
    train, test = train_test_split(
        frame,
        test_size=data["test_size"],
        random_state=data["seed"],
        stratify=frame[label_col],
    )
    return {"train": train, "test": test, "golden": test.head(int(data["golden_rows"]))}


def main() -> None:
    params = load_params()
    data = {
        key: require(params, f"data.{key}")
        for key in ("source", "id_column", "label_column", "subgroup_columns", "test_size", "seed")
    }
    data["golden_rows"] = require(params, "data.golden_rows")
    frame = add_size_tertile(load_source(data["source"]))
    parts = split(frame, data)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, part in parts.items():
        tmp = OUT_DIR / f".{name}.csv.tmp"
        part.to_csv(tmp, index=False)
        tmp.replace(OUT_DIR / f"{name}.csv")
    sizes = ", ".join(f"{name} {len(part)}" for name, part in parts.items())
    print(f"prepare: {sizes} rows -> {OUT_DIR}/")


if __name__ == "__main__":
    run_cli(main)
