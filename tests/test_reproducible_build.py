"""Byte-reproducible training (issue 16): same commit, data and params give the same model bytes.

The fast tests save the same fitted model twice, at different times in different folders, and check the
normalised folders are byte-identical and still load and predict the same. The slow test scaffolds the
default project a second time in another folder, trains it later without SOURCE_DATE_EPOCH (the build
time then comes from its commit, dated like the first project's build) and compares root digests with
the shared default project's model.lock.
"""

from __future__ import annotations

import os
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from samdkit.core import digests
from samdkit.core.errors import UserError
from samdkit.lock.reproducible import (
    ZIP_EPOCH,
    normalise_model,
    pin_numerics,
    recorded_epoch,
    source_date_epoch,
)
from tests.conftest import bake_project, project_env, run
from tests.factories import save_model, write_split

EPOCH = 1767225600  # 2026-01-01T00:00:00Z


def _root(model: Path) -> str:
    return digests.root_digest((f.path, f.sha256) for f in digests.tree_digests(model))


@pytest.fixture(scope="module")
def two_saves(tmp_path_factory) -> tuple[Path, Path, Path]:
    """The same model saved twice, two seconds apart (zip times have 2 s resolution), in two folders."""
    base = tmp_path_factory.mktemp("saves")
    split = write_split(base / "data")
    first = save_model(base / "one" / "model", split["train"])
    time.sleep(2.1)
    second = save_model(base / "two" / "model", split["train"])
    return first, second, split["golden"]


def test_raw_saves_differ_so_the_check_can_fail(two_saves):
    first, second, _ = two_saves
    assert _root(first) != _root(second)  # model_uuid, creation time, skops member names and times


def test_normalised_saves_are_byte_identical(two_saves, tmp_path):
    import shutil

    copies = []
    for i, model in enumerate(two_saves[:2]):
        copy = tmp_path / str(i) / "model"
        shutil.copytree(model, copy)
        assert normalise_model(copy, EPOCH) == EPOCH
        copies.append(copy)
    assert _root(copies[0]) == _root(copies[1])
    text = (copies[0] / "MLmodel").read_text()
    assert "utc_time_created: '2026-01-01 00:00:00.000000'" in text
    with zipfile.ZipFile(copies[0] / "model.skops") as archive:
        assert {i.date_time for i in archive.infolist()} == {(2026, 1, 1, 0, 0, 0)}
        names = archive.namelist()
    assert "schema.json" in names
    assert all(
        n == "schema.json" or (n.split(".")[0].isdigit() and int(n.split(".")[0]) < 100)
        for n in names
    )  # ordinals, not memory addresses
    assert recorded_epoch(copies[0]) == EPOCH
    assert recorded_epoch(two_saves[0]) is None  # a wall-clock time: not normalised


def test_normalised_model_predicts_exactly_as_saved(two_saves, tmp_path):
    import shutil

    import mlflow.pyfunc
    import numpy as np
    import pandas as pd

    copy = tmp_path / "model"
    shutil.copytree(two_saves[0], copy)
    normalise_model(copy, EPOCH)
    golden = pd.read_csv(two_saves[2]).drop(columns=["sample_id", "size_tertile", "label"])
    before = mlflow.pyfunc.load_model(str(two_saves[0])).predict(golden)
    after = mlflow.pyfunc.load_model(str(copy)).predict(golden)
    assert np.array_equal(np.asarray(before), np.asarray(after))


def test_another_build_time_gives_other_bytes(two_saves, tmp_path):
    import shutil

    roots = []
    for epoch in (EPOCH, EPOCH + 86400):
        copy = tmp_path / str(epoch) / "model"
        shutil.copytree(two_saves[0], copy)
        normalise_model(copy, epoch)
        roots.append(_root(copy))
    assert roots[0] != roots[1]


def test_build_time_sources(monkeypatch, tmp_path):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
    assert source_date_epoch(tmp_path) == EPOCH
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(UserError, match="SOURCE_DATE_EPOCH"):
        source_date_epoch(tmp_path)
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert (
        source_date_epoch(tmp_path) == ZIP_EPOCH
    )  # not a git checkout: the zip format's first day
    identity = ["-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    env = {**os.environ, "GIT_COMMITTER_DATE": f"{EPOCH + 5} +0000"}
    subprocess.run(
        ["git", "-C", str(tmp_path), *identity, "commit", "-q", "--allow-empty", "-m", "x"],
        check=True,
        env=env,
    )
    assert source_date_epoch(tmp_path) == EPOCH + 5


def test_pin_numerics_limits_blas_threads_and_seeds():
    import random

    from threadpoolctl import threadpool_info

    limiter = pin_numerics(7)
    try:
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
        first = random.random()
        pin_numerics(7)
        assert random.random() == first
    finally:
        limiter.restore_original_limits()


@pytest.mark.slow
def test_default_project_trained_twice_in_two_folders_at_two_times_is_byte_identical(
    default_project, tmp_path
):
    """Issue 16: scaffold twice, train at two times, compare the root digests (model.lock)."""
    from samdkit.lock import schema as lockfile

    lock = lockfile.read(default_project / "model.lock")
    epoch = int(project_env(default_project)["SOURCE_DATE_EPOCH"])
    assert lock["build"]["source_date_epoch"] == epoch
    second = bake_project(tmp_path / "elsewhere")
    assert second.resolve() != default_project.resolve()
    env = {k: v for k, v in project_env(second).items() if k != "SOURCE_DATE_EPOCH"}
    dated = {**env, "GIT_COMMITTER_DATE": f"{epoch} +0000", "GIT_AUTHOR_DATE": f"{epoch} +0000"}
    identity = ["-c", "user.name=samdkit tests", "-c", "user.email=tests@samdkit.invalid"]
    run(["git", "add", "-A"], second, env=env)
    run(["git", *identity, "commit", "-q", "--no-verify", "-m", "scaffold"], second, env=dated)
    run(["dvc", "repro", "train"], second, env=env)  # later than the shared project, wall clock
    rebuilt = digests.tree_digests(second / "models" / "model")
    assert {f.path: f.sha256 for f in rebuilt} == {
        f["path"]: f["sha256"] for f in lock["artifact"]["files"]
    }
    assert _root(second / "models" / "model") == lock["artifact"]["root_digest"]
