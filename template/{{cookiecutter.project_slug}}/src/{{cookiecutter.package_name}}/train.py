"""The train stage: fit the model, measure its energy and CO2, log and register it in MLflow.

The model is saved as an MLflow model directory with skops serialisation, whose loading cannot run
arbitrary code (unlike pickle): the artifact hashed in model.lock is safe to load and verify.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pandas as pd
from samdkit.lock.reproducible import pin_numerics

from {{ cookiecutter.package_name }}.config import (
    DataError,
    data_settings,
    load_params,
    require,
    run_cli,
)
from {{ cookiecutter.package_name }}.model import (
    build_pipeline,
    feature_columns,
    skops_trusted_types,
)

TRAIN_CSV = Path("data/prepared/train.csv")
MODEL_DIR = Path("models/model")
RUN_FILE = Path("reports/train_run.json")
REPORTS = Path("reports")


def fit_with_emissions(pipeline, x: pd.DataFrame, y: pd.Series, country: str):
    """Fit inside codecarbon's offline tracker; the record lands in reports/emissions.csv."""
    from codecarbon import OfflineEmissionsTracker

    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "emissions.csv").unlink(missing_ok=True)
    tracker = OfflineEmissionsTracker(
        project_name="train",
        country_iso_code=country,
        output_dir=str(REPORTS),
        output_file="emissions.csv",
        log_level="error",
        save_to_file=True,
        allow_multiple_runs=True,
    )
    tracker.start()
    try:
        pipeline.fit(x, y)
    finally:
        emissions = tracker.stop()
    return pipeline, emissions


def model_save_options(pipeline, x: pd.DataFrame) -> dict:
    """skops serialisation, predict_proba scores, explicit signature and requirements."""
    import sklearn
    import skops
    from mlflow.models import infer_signature

    example = x.head(5)
    return {
        "serialization_format": "skops",
        "pyfunc_predict_fn": "predict_proba",
        "signature": infer_signature(example, pipeline.predict_proba(example)),
        "pip_requirements": [f"scikit-learn=={sklearn.__version__}", f"skops=={skops.__version__}"],
    }


def save_local(pipeline, options: dict) -> None:
    """Write models/model whole or not at all (temporary folder, then rename), byte-reproducible.

    MLflow's model id and creation time and the skops archive's member names and times are fixed
    from the commit (or SOURCE_DATE_EPOCH): same commit, data and params, same bytes (model.lock).
    """
    import mlflow.sklearn
    from samdkit.lock.reproducible import normalise_model

    MODEL_DIR.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".model.", dir=MODEL_DIR.parent))
    try:
        mlflow.sklearn.save_model(pipeline, str(staging / "model"), **options)
        normalise_model(staging / "model")
        shutil.rmtree(MODEL_DIR, ignore_errors=True)
        (staging / "model").rename(MODEL_DIR)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main() -> None:
    import mlflow
    import mlflow.sklearn

    params = load_params()
    data = data_settings(params, full=False)
    train_params = require(params, "train")
    pin_numerics(train_params.get("seed"))  # seeds and one BLAS/OpenMP thread: same sums, same bits
    threshold = float(require(params, "evaluate.threshold"))
    tracking = require(params, "mlflow")
    if not TRAIN_CSV.is_file():
        raise FileNotFoundError(
            f"{TRAIN_CSV}: not found (run the prepare stage: dvc repro prepare)"
        )
    train = pd.read_csv(TRAIN_CSV)
    features = feature_columns(data)
    x, y = train[features], train[data["label_column"]]

    wanted = [data["positive_label"]] if data["classes"] is None else data["classes"]
    absent = {str(c) for c in wanted} - set(y.astype(str))
    if absent:
        raise DataError(f"{len(absent)} outcome(s) of params.yaml data: not in {TRAIN_CSV}")
    pipeline, emissions = fit_with_emissions(
        build_pipeline(train_params, data), x, y, str(train_params.get("country_iso_code", "FRA"))
    )
    options = model_save_options(pipeline, x)
    # skops trusts exactly the types this pipeline is built of (model.skops_trusted_types)
    options["skops_trusted_types"] = skops_trusted_types(pipeline)
    save_local(pipeline, options)

    # the project's own store for runs and registry alike, whatever MLFLOW_* the shell carries
    mlflow.set_tracking_uri(tracking["tracking_uri"])
    mlflow.set_registry_uri(tracking["tracking_uri"])
    mlflow.set_experiment(tracking["experiment"])
    with mlflow.start_run() as run:
        mlflow.log_params({f"train.{k}": v for k, v in train_params.items()})
        mlflow.log_params(
            {"evaluate.threshold": threshold, "n_features": len(features), "n_train": len(x)}
        )
        mlflow.log_metric("train_accuracy", float(pipeline.score(x, y)))
        mlflow.log_metric("emissions_kg_co2eq", float(emissions or 0.0))
        mlflow.log_artifact(str(REPORTS / "emissions.csv"))
        info = mlflow.sklearn.log_model(
            pipeline, name="model", registered_model_name=tracking["registered_model"], **options
        )
    client = mlflow.MlflowClient()
    version = str(info.registered_model_version)
    client.set_registered_model_alias(tracking["registered_model"], "candidate", version)
    record = {
        "run_id": run.info.run_id,
        "experiment_id": run.info.experiment_id,
        "model_name": tracking["registered_model"],
        "model_version": version,
        "model_uri": f"models:/{tracking['registered_model']}@candidate",
        "tracking_uri": tracking["tracking_uri"],
        "features": features,
        "classes": [c.item() if hasattr(c, "item") else c for c in pipeline.classes_],
        "positive_label": data.get("positive_label"),
        "threshold": threshold,
    }
    RUN_FILE.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(
        f"train: {len(x)} rows, {len(features)} features; MLflow run {run.info.run_id}, "
        f"registered {tracking['registered_model']} v{version} (@candidate); "
        f"{float(emissions or 0.0):.2e} kg CO2eq -> {MODEL_DIR}/"
    )


if __name__ == "__main__":
    run_cli(main)
