"""The prepare stage: load the data, check each column has its declared role, split the data.

The split is stratified on the label, with a fixed seed, by sample id: no sample can be in both
train and test (independence of the test data, a Good Machine Learning Practice principle).
Messages name columns and counts, never a cell value (an id may be a record number).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.model_selection import train_test_split

from {{ cookiecutter.package_name }}.config import (
    EMBEDDED_PREFIX,
    DataError,
    data_settings,
    load_params,
    run_cli,
)

OUT_DIR = Path("data/prepared")


def load_source(source: str) -> pd.DataFrame:
    if source.startswith(EMBEDDED_PREFIX):
        try:
            from {{ cookiecutter.package_name }}.example import load_embedded
        except ImportError:
            raise DataError(f"params.yaml data.source: {source}: the example was removed") from None
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


def checked(frame: pd.DataFrame, data: dict[str, Any]) -> pd.DataFrame:
    """The frame with its roles checked, excluded columns dropped and numeric features as floats."""
    id_col, label_col = data["id_column"], data["label_column"]
    declared = [id_col, label_col, *data["features"], *data["subgroup_columns"]]
    declared += data["exclude_columns"]
    missing = [c for c in dict.fromkeys(declared) if c not in frame.columns]
    if missing:
        raise DataError(f"dataset lacks column(s) named in params.yaml data: {', '.join(missing)}")
    unroled = [c for c in frame.columns if c not in declared]
    if unroled:
        raise DataError(
            f"column(s) with no role in params.yaml data: {', '.join(map(str, unroled))} (list "
            "each under numeric_features, categorical_features, subgroup_columns, exclude_columns)"
        )
    if frame.empty:
        raise DataError("dataset is empty")
    if frame[id_col].isna().any() or frame[id_col].duplicated().any():
        count = int(frame[id_col].isna().sum() + frame[id_col].duplicated().sum())
        raise DataError(f"dataset has {count} empty or duplicate {id_col} value(s)")
    labels = frame[label_col]
    if labels.isna().any():
        raise DataError(f"{int(labels.isna().sum())} row(s) have an empty {label_col}")
    found = set(labels.astype(str))
    if data["classes"] is None and (len(found) != 2 or str(data["positive_label"]) not in found):
        raise DataError(
            f"a binary {label_col} holds params.yaml data.positive_label and one other value; "
            f"found {len(found)} distinct value(s) (a multiclass outcome sets data.classes)"
        )
    if data["classes"] is not None and found != {str(c) for c in data["classes"]}:
        unknown = len(found - {str(c) for c in data["classes"]})
        raise DataError(
            f"{label_col} and params.yaml data.classes differ ({unknown} value(s) not listed, "
            "or a listed class never seen)"
        )
    frame = frame.drop(columns=data["exclude_columns"])
    for column in data["numeric_features"]:
        values = pd.to_numeric(frame[column], errors="coerce")
        if int((values.isna() & frame[column].notna()).sum()):
            raise DataError(
                f"numeric feature {column} holds text (list it under categorical_features)"
            )
        frame[column] = values.astype("float64")  # same type in every split: one model schema
    return frame


def split(frame: pd.DataFrame, data: dict[str, Any]) -> dict[str, pd.DataFrame]:
    frame = checked(frame, data)
    train, test = train_test_split(
        frame,
        test_size=data["test_size"],
        random_state=data["seed"],
        stratify=frame[data["label_column"]],
    )
    return {"train": train, "test": test, "golden": test.head(int(data["golden_rows"]))}


def main() -> None:
    data = data_settings(load_params())
    parts = split(load_source(str(data["source"])), data)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, part in parts.items():
        tmp = OUT_DIR / f".{name}.csv.tmp"
        part.to_csv(tmp, index=False)
        tmp.replace(OUT_DIR / f"{name}.csv")
    sizes = ", ".join(f"{name} {len(part)}" for name, part in parts.items())
    print(f"prepare: {sizes} rows -> {OUT_DIR}/")


if __name__ == "__main__":
    run_cli(main)
