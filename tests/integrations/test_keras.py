"""The Keras 3 adapter on real Keras (torch backend, set in conftest before keras is imported)."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from frameworks import assert_recorded, digits_arrays, root_output_count, run_python, stat_steps

import deepscope as ds
from deepscope.integrations._common import OPEN_RUNS
from deepscope.integrations.keras import DeepscopeCallback

BATCH = 16


def data() -> tuple[np.ndarray, np.ndarray]:
    X, y = digits_arrays()
    return (X - 0.3) / 0.4, y


def mlp(lr: float, frozen_head: bool = False) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(64, activation="relu", name="fc1"),
        keras.layers.Dense(10, name="head"),
    ], name="digits_mlp")
    model.layers[-1].trainable = not frozen_head
    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def fit(model: keras.Model, cb: DeepscopeCallback, epochs: int = 1, **kw) -> None:  # noqa: ANN003
    X, y = data()
    model.fit(X[:900], y[:900], batch_size=BATCH, epochs=epochs, verbose=0, shuffle=False,
              validation_data=(X[900:], y[900:]), callbacks=[cb], **kw)


def test_fit_records_layers_scalars_and_graph(tmp_path: Path) -> None:
    assert keras.backend.backend() == "torch"
    cb = DeepscopeCallback(dir=tmp_path / "runs", config={"data": "digits"}, every=5)
    fit(mlp(1e-2), cb, epochs=2)  # 57 steps per epoch
    with ds.open_run(cb.run.path) as r:
        assert_recorded(r, "fc1", loss_tag="train/loss", min_points=114)
        assert r.meta().name == "digits_mlp"
        names = [info.name for info in r.layers()]
        # Keras' own layers, in forward order; no torch ParameterDict.
        assert names[:2] == ["fc1", "head"] and not any("torch_params" in n for n in names)
        fc1 = next(info for info in r.layers() if info.name == "fc1")
        assert fc1.family == "relu" and fc1.num_params == 64 * 64 + 64
        assert {p["name"] for p in fc1.params} == {"kernel", "bias"}
        assert {"train/loss", "train/acc", "val/loss", "val/acc"} <= set(r.scalar_tags())
        assert r.scalars("train/loss").steps.tolist() == list(range(114))
        assert r.scalars("val/loss").steps.tolist() == [56, 113]
        assert r.scalars("val/acc").values[-1] > 0.8
        assert set(stat_steps(r, "update")) == set(stat_steps(r, "grad"))
        assert "update" in r.stat_kinds() and "input" in r.stat_kinds()
        assert root_output_count(r) == BATCH * 10
        dead = r.stat_series("fc1", "activation")["dead_frac"]
        assert np.isfinite(dead).all()
        config = r.meta().config
        assert config["learning_rate"] == pytest.approx(1e-2) and config["data"] == "digits"
        assert config["fit/epochs"] == 2 and config["optimizer"] == "Adam"
        graph = r.graph()
        assert graph["tracer"] == "keras"
        edges = {(e["source"], e["target"]) for e in graph["edges"]}
        assert edges == {("input", "fc1"), ("fc1", "head"), ("head", "output")}
    assert ds.diagnose(cb.run).ok


def test_functional_graph_has_the_branches(tmp_path: Path) -> None:
    keras.utils.set_random_seed(0)
    inp = keras.Input((64,))
    a = keras.layers.Dense(16, activation="tanh", name="a")(inp)
    b = keras.layers.Dense(16, activation="relu", name="b")(inp)
    out = keras.layers.Dense(10, name="head")(keras.layers.Concatenate(name="cat")([a, b]))
    model = keras.Model(inp, out, name="branches")
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(True))
    cb = DeepscopeCallback(dir=tmp_path / "runs", every=1)
    X, y = data()
    model.fit(X[:160], y[:160], batch_size=BATCH, epochs=1, verbose=0, callbacks=[cb])
    with ds.open_run(cb.run.path) as r:
        edges = {(e["source"], e["target"]) for e in r.graph()["edges"]}
        assert {("input", "a"), ("input", "b"), ("a", "cat"), ("b", "cat"), ("cat", "head"),
                ("head", "output")} == edges
        assert next(i for i in r.layers() if i.name == "a").family == "tanh"
        sat = r.stat_series("a", "activation")["saturated_frac"]
        assert np.isfinite(sat).all()
        assert len(stat_steps(r, "grad")) == 10


def test_frozen_head_and_tiny_lr_are_diagnosed(tmp_path: Path) -> None:
    cb = DeepscopeCallback(dir=tmp_path / "runs", every=5)
    model = mlp(1e-7, frozen_head=True)
    X, y = data()  # shuffled, as by default: the digits' order makes the last batches easier
    model.fit(X[:900], y[:900], batch_size=BATCH, verbose=0, callbacks=[cb])
    found = ds.diagnose(cb.run)
    assert "loss_plateau" in found.codes(), found.to_text()
    with ds.open_run(cb.run.path) as r:
        head = next(i for i in r.layers() if i.name == "head")
        assert head.trainable_params == 0  # Keras' trainable=False: no gradient, no update


def test_gradients_are_recorded_unscaled(tmp_path: Path) -> None:
    norms = []
    optimizers = (
        lambda: keras.optimizers.SGD(0.1),
        lambda: keras.optimizers.SGD(0.1, loss_scale_factor=1024.0),
        lambda: keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1), initial_scale=4096),
    )
    for make in optimizers:
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, name="head")])
        model.compile(optimizer=make(),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        cb = DeepscopeCallback(dir=tmp_path / "runs", every=1)
        X, y = data()
        model.fit(X[:64], y[:64], batch_size=BATCH, epochs=1, verbose=0, shuffle=False,
                  callbacks=[cb])
        norms.append(ds.open_run(cb.run.path).stat_series("head", "grad")["norm"])
    np.testing.assert_allclose(norms[1], norms[0], rtol=1e-4)
    np.testing.assert_allclose(norms[2], norms[0], rtol=1e-4)


def test_a_fit_that_raises_ends_crashed(tmp_path: Path) -> None:
    class Boom(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):  # noqa: ANN001
            if batch == 5:
                raise RuntimeError("out of memory")

    cb = DeepscopeCallback(dir=tmp_path / "runs")
    X, y = data()
    model = mlp(1e-2)
    with pytest.raises(RuntimeError, match="out of memory"):
        model.fit(X[:320], y[:320], batch_size=BATCH, verbose=0, callbacks=[cb, Boom()])
    OPEN_RUNS.crash_all()
    meta = ds.open_run(cb.run.path).meta()
    assert meta.status == "crashed" and "did not reach its end" in meta.error


def test_arguments_that_do_not_apply_fail_at_construction() -> None:
    with pytest.raises(ds.DeepscopeError, match="'optimizer' does not apply to Keras"):
        DeepscopeCallback(optimizer=None)


def test_missing_keras_or_wrong_backend_fails_at_construction(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['keras'] = None\n"
        "from deepscope.integrations.keras import DeepscopeCallback\n"
        "from deepscope.errors import OptionalDependencyError\n"
        "try:\n    DeepscopeCallback()\nexcept OptionalDependencyError as e:\n    print(e)\n"
    )
    out = run_python(code, tmp_path)
    assert out.stdout.strip() == (
        'deepscope.integrations.keras.DeepscopeCallback needs keras: pip install "deepscope[keras]"'
    ), out.stderr


def test_watching_a_keras_model_directly_points_to_the_callback(tmp_path) -> None:
    from deepscope.errors import InvalidArgumentError

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    run = ds.init(dir=tmp_path)
    with pytest.raises(InvalidArgumentError, match="DeepscopeCallback"):
        run.watch(model)
    run.finish()


def test_train_scalars_are_each_batchs_own_values_not_keras_running_means(tmp_path: Path) -> None:
    """Keras' batch logs average over the epoch so far and restart at each epoch: recorded as
    they are, the first batch of an epoch is a jump the loss rules read as a spike. With a zero
    learning rate every batch's loss is known in advance, and each point must be its own."""
    model = mlp(0.0)
    X, y = data()
    n = 10 * BATCH
    logits = keras.ops.convert_to_numpy(model(X[:n]))
    z = logits - logits.max(axis=1, keepdims=True)
    per_sample = np.log(np.exp(z).sum(axis=1)) - z[np.arange(n), y[:n]]
    expected = per_sample.reshape(10, BATCH).mean(axis=1)
    correct = (logits.argmax(axis=1) == y[:n]).reshape(10, BATCH).mean(axis=1)
    cb = DeepscopeCallback(dir=tmp_path / "runs", every=5)
    model.fit(X[:n], y[:n], batch_size=BATCH, epochs=2, verbose=0, shuffle=False,
              callbacks=[cb])
    with ds.open_run(cb.run.path) as r:
        loss, acc = r.scalars("train/loss"), r.scalars("train/acc")
        assert loss.steps.tolist() == list(range(20))
        np.testing.assert_allclose(loss.values, np.r_[expected, expected], rtol=1e-4)
        np.testing.assert_allclose(acc.values, np.r_[correct, correct], atol=1e-5)
    assert len(set(np.round(expected, 4))) > 5  # the batches differ: the check can fail
