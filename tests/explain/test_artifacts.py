from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.datasets import make_moons
from torch import nn

import deepscope as ds
from deepscope.errors import InvalidArgumentError
from deepscope.explain import RESULT_TYPES, load
from deepscope.store import open_reader
from deepscope.store.writer import RunWriter


@pytest.fixture(scope="module")
def results(cnn, mlp, digits, cancer_mlp, cancer):
    flat, images, y = digits
    X, yc, names = cancer
    xm, ym = make_moons(60, random_state=0)
    moons = nn.Sequential(nn.Linear(2, 2))
    return [
        ds.explain.attribute(cnn, images[:4], method="saliency", labels=y[:4]),
        ds.explain.attribute(cancer_mlp, X[:3], method="integrated_gradients", feature_names=names),
        ds.explain.feature_importance(
            cancer_mlp, X[:100], yc[:100], repeats=2, feature_names=names
        ),
        ds.explain.embed(mlp, flat[:40], layer="body.1", labels=y[:40], images=images[:40]),
        ds.explain.maximize(cnn, "conv2", [0, 1], input_shape=(1, 8, 8), steps=4),
        ds.explain.decision_boundary(moons, xm, ym, resolution=10),
        ds.explain.predictions(cnn, images[:50], y[:50]),
        ds.explain.weights(cnn),
    ]


def _same(a, b) -> None:
    _, data_a, blobs_a = a.to_artifact()
    _, data_b, blobs_b = b.to_artifact()
    assert data_a == data_b
    assert blobs_a == blobs_b


def test_every_kind_is_registered_and_json_clean(results):
    assert sorted(RESULT_TYPES) == sorted({r.kind for r in results})
    for r in results:
        kind, data, blobs = r.to_artifact()
        text = json.dumps(data, allow_nan=False)  # no NaN/Inf leaks into JSON
        assert data["version"] == 1 and kind == r.kind
        for key, (mime, payload) in blobs.items():
            assert mime == "image/png" and payload[:4] == b"\x89PNG", key
            assert f'"{key}"' in text  # every blob key is named in data


def test_round_trip_through_the_store(results, tmp_path):
    writer = RunWriter(tmp_path / "run", meta={"name": "explain", "config": {}})
    for r in results:
        kind, data, blobs = r.to_artifact()
        writer.add_artifact(kind, kind, data, blobs, step=3)
    writer.close()
    with open_reader(tmp_path / "run") as reader:
        infos = reader.artifacts()
        assert [i.kind for i in infos] == [r.kind for r in results]
        for info, original in zip(infos, results, strict=True):
            back = load(reader.artifact(info.id))
            assert type(back) is type(original)
            _same(back, original)


def test_run_log_artifact_stores_results(results, tmp_path):
    with ds.init(name="explain", dir=tmp_path) as run:
        run.log_artifact(results[3], step=5)
        run.log_artifact(results[6], name="val predictions")
    with ds.open_run(run.path) as reader:
        (info,) = reader.artifacts("embedding")
        assert info.step == 5 and "sprite" in info.blob_keys
        emb = load(reader.artifact(info.id))
        assert np.allclose(emb.points, results[3].points, atol=1e-4)
        (pred,) = reader.artifacts("predictions")
        assert pred.name == "val predictions"


def test_wrong_kind_and_newer_version_are_refused(results):
    from deepscope.store.records import Artifact, ArtifactInfo

    kind, data, blobs = results[6].to_artifact()
    art = Artifact(ArtifactInfo(9, "p", kind, None, 0.0, tuple(blobs)), data, blobs)
    with pytest.raises(InvalidArgumentError, match="is a 'predictions', not 'embedding'"):
        RESULT_TYPES["embedding"].from_artifact(art)
    newer = Artifact(art.info, {**data, "version": 99}, blobs)
    with pytest.raises(InvalidArgumentError, match="upgrade deepscope"):
        load(newer)
    with pytest.raises(InvalidArgumentError, match="not an explain artifact"):
        load(torch.zeros(1))
