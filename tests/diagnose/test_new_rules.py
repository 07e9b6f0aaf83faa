"""The rules of issue 10 on synthetic runs: each fires on its problem and stays quiet on the
healthy look-alike, live and after training alike; tag choice and adversarial runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import deepscope as ds
from deepscope.diagnose.live import LiveMonitor
from deepscope.diagnose.rules.double_softmax import DoubleSoftmax, loss_floor
from deepscope.diagnose.rules.exploding_gradients import ExplodingGradients
from deepscope.diagnose.rules.gradients_not_zeroed import GradientsNotZeroed
from deepscope.diagnose.rules.loss_oscillation import LossOscillation
from deepscope.diagnose.rules.loss_plateau import LossPlateau
from deepscope.diagnose.rules.no_generalization import NoGeneralization
from deepscope.diagnose.rules.train_in_eval_mode import TrainInEvalMode
from deepscope.diagnose.rules.update_underflow import UpdateUnderflow
from deepscope.diagnose.rules.vanishing_gradients import VanishingGradients
from deepscope.store import open_reader
from deepscope.store.records import LayerInfo
from diagnose.synth import ROOT, act, healthy_rows, linear, loss_curve, write_run

STEPS = [0, 1, 2, *range(10, 200, 10)]
DENSE = ["fc1", "fc2", "fc3"]
LAYERS = [linear("fc1", 0), act("relu1", 1), linear("fc2", 2), LayerInfo(
    "drop", "Dropout", "other", 3, 0, 0, ()), linear("fc3", 4), ROOT]


def _check(rule, path: Path) -> list:  # noqa: ANN001
    with open_reader(path) as r:
        return list(rule.check(r))


def _rows(s: int) -> list:
    return healthy_rows(DENSE, s)


def _carried(step: int, layers: list[str] | None = None) -> dict:
    layers = layers or DENSE
    return {"kind": "grads_not_zeroed", "step": step, "layer": layers[0],
            "data": {"layers": layers, "layers_with_grad": len(layers), "layers_checked": 3,
                     "carried_norm": 0.8, "grad_norm": 1.6}}


# -- gradients_not_zeroed -----------------------------------------------------------------------
def test_carried_gradients_fire_from_two_sampled_steps(tmp_path: Path) -> None:
    one = write_run(tmp_path / "one", LAYERS, STEPS, _rows, events=[_carried(10)])
    assert _check(GradientsNotZeroed(), one) == []
    two = write_run(tmp_path / "two", LAYERS, STEPS, _rows, events=[_carried(1), _carried(2)])
    [f] = _check(GradientsNotZeroed(), two)
    assert (f.severity, f.layer, f.step) == ("error", None, 1)
    assert "zero_grad(set_to_none=True)" in f.suggestion and f.evidence["steps"] == [1, 2]


def test_parameters_outside_the_optimizer_are_frozen_parameters_not_this(tmp_path: Path) -> None:
    layers = [linear("fc1", 0, in_optimizer=False), linear("fc2", 1), linear("fc3", 2), ROOT]
    events = [_carried(s, ["fc1"]) for s in (1, 2, 10)]
    path = write_run(tmp_path / "r", layers, STEPS, _rows, events=events)
    assert _check(GradientsNotZeroed(), path) == []


def test_carried_gradients_reported_live_once() -> None:
    mon = LiveMonitor()
    mon.check(_StubReader(), 0)  # the run can be read: layers known
    assert mon.on_event(_carried(1)) == []
    [f] = mon.on_event(_carried(2))
    assert f.code == "gradients_not_zeroed"
    assert mon.on_event(_carried(10)) == []


class _StubReader:
    """A run being written whose layers are known and that has no statistics yet."""

    path = ""

    def layers(self) -> list:
        return LAYERS

    def stat_steps(self, kind: str | None = None) -> np.ndarray:
        return np.array([0, 1, 2, 10], dtype=np.int64)

    def stat_kinds(self) -> list:
        return []

    def scalar_tags(self) -> list:
        return []


# -- train_in_eval_mode -------------------------------------------------------------------------
def _eval(step: int, *, root: bool = True, dropout: int = 1, norm: int = 0,
          modules: list[str] | None = None) -> dict:
    modules = modules or ["<root>", "drop"]
    return {"kind": "eval_mode", "step": step, "layer": modules[0],
            "data": {"root_eval": root, "modules": modules,
                     "dropout_eval": dropout, "dropout_total": 1, "norm_eval": norm,
                     "norm_total": norm}}


@pytest.mark.parametrize(("steps", "fires"), [
    ([30, 40, 50, 60], True),   # model.eval() left on from step 30
    ([0, 50, 100, 150], False),  # an evaluation forward with grad at the top of every 50th
    ([20], False),
])
def test_eval_mode_needs_consecutive_sampled_steps(tmp_path: Path, steps: list[int],
                                                  fires: bool) -> None:
    path = write_run(tmp_path / "r", LAYERS, STEPS, _rows, events=[_eval(s) for s in steps])
    found = _check(TrainInEvalMode(), path)
    assert [(f.severity, f.layer, f.step) for f in found] == (
        [("warning", None, steps[0])] if fires else [])
    if fires:
        assert found[0].suggestion.startswith("call model.train()")


def test_frozen_batchnorm_is_info_and_a_dropout_left_off_a_warning(tmp_path: Path) -> None:
    layers = [linear("enc.fc", 0), LayerInfo("enc.drop", "Dropout", "other", 1, 0, 0, ()),
              linear("enc.bn", 2, type_="BatchNorm1d"), linear("head", 3), ROOT]
    bn = [_eval(s, root=False, dropout=0, norm=1, modules=["enc.bn"]) for s in (10, 20, 30)]
    [f] = _check(TrainInEvalMode(), write_run(tmp_path / "bn", layers, STEPS, _rows, events=bn))
    assert (f.severity, f.layer) == ("info", "enc.bn") and "frozen statistics" in f.message
    drop = [_eval(s, root=False, modules=["enc.drop"]) for s in (10, 20, 30)]
    [f] = _check(TrainInEvalMode(), write_run(tmp_path / "d", layers, STEPS, _rows, events=drop))
    assert f.severity == "warning" and "'enc.drop'" in f.message


@pytest.mark.parametrize(("norm", "demoted"), [(1, True), (0, False)])
def test_a_stalled_loss_under_eval_mode_batchnorm_is_its_symptom(tmp_path: Path, norm: int,
                                                                 demoted: bool) -> None:
    # The whole model in eval mode: with BatchNorm that means normalising with the initial
    # running statistics, which stalls training; Dropout alone does not explain a flat loss.
    events = [_eval(s, norm=norm) for s in (30, 40, 50, 60)]
    path = write_run(tmp_path / "r", LAYERS, STEPS, _rows, events=events,
                     scalars={"train/loss": loss_curve("flat")})
    result = ds.diagnose(path)
    [plateau] = [f for f in result.findings if f.code == "loss_plateau"]
    assert "train_in_eval_mode" in result.codes("warning")
    assert (plateau.severity == "info") is demoted
    if demoted:
        assert plateau.evidence["explained_by"] == "train_in_eval_mode"


def test_eval_mode_judged_live_at_the_next_check(tmp_path: Path) -> None:
    path = write_run(tmp_path / "r", LAYERS, STEPS[:6], _rows)
    mon = LiveMonitor()
    with open_reader(path) as reader:
        mon.check(reader, 0)
        assert mon.on_event(_eval(10)) == [] and mon.on_event(_eval(20)) == []
        found = mon.check(reader, 20)
        assert [f.code for f in found] == ["train_in_eval_mode"]
        assert mon.check(reader, 30) == []


# -- double_softmax -----------------------------------------------------------------------------
def _probs(step: int, width: int = 10) -> dict:
    return {"kind": "probability_outputs", "step": step, "layer": "<root>",
            "data": {"width": width, "max_row_dev": 2e-7, "min": 0.01}}


def test_loss_floor_of_cross_entropy_on_probabilities() -> None:
    import torch

    p = torch.eye(10)  # the best a softmax output can do: one-hot probabilities
    ce = torch.nn.functional.cross_entropy(p, torch.arange(10)).item()
    assert ce == pytest.approx(loss_floor(10), rel=1e-6)


@pytest.mark.parametrize(("loss", "severity"),
                         [(1.6, "warning"), (0.05, "info"), (None, "warning")])
def test_double_softmax_unless_the_loss_goes_below_the_floor(
        tmp_path: Path, loss: float | None, severity: str) -> None:
    s = np.arange(100)
    curve = 2.3 - (2.3 - (loss or 0.0)) * (1 - np.exp(-s / 20))
    scalars = {} if loss is None else {"train/loss": (s, curve)}
    path = write_run(tmp_path / "r", LAYERS, STEPS, _rows, events=[_probs(0), _probs(1)],
                     scalars=scalars)
    [f] = _check(DoubleSoftmax(), path)
    assert (f.severity, f.layer) == (severity, "<root>")
    if severity == "warning":
        assert f.suggestion.startswith("remove the final softmax")
    assert _check(DoubleSoftmax(), write_run(tmp_path / "one", LAYERS, STEPS, _rows,
                                             events=[_probs(0)])) == []


def test_a_live_double_softmax_warning_is_revised_after_training(tmp_path: Path) -> None:
    s = np.arange(100)
    live = {"code": "double_softmax", "severity": "warning", "layer": "<root>", "step": 0,
            "message": "probabilities", "evidence": {}, "suggestion": "remove the softmax"}
    path = write_run(tmp_path / "r", LAYERS, STEPS, _rows, events=[_probs(0), _probs(1)],
                     scalars={"train/loss": (s, 2.3 * np.exp(-s / 10))}, findings=[live])
    result = ds.diagnose(path)
    assert [f.severity for f in result.findings if f.code == "double_softmax"] == ["info"]


# -- no_generalization --------------------------------------------------------------------------
def _val(kind: str) -> tuple[np.ndarray, np.ndarray]:
    vs = np.arange(10, 300, 30)
    if kind == "chance":
        return vs, 2.35 + vs / 300
    return vs, 2.3 * np.exp(-vs / 60) + 0.1


@pytest.mark.parametrize(("train", "val", "fires"), [
    ("healthy", "chance", True), ("healthy", "learns", False), ("flat", "chance", False)])
def test_no_generalization(tmp_path: Path, train: str, val: str, fires: bool) -> None:
    path = write_run(tmp_path / "r", LAYERS, [], None,
                     scalars={"train/loss": loss_curve(train), "val/loss": _val(val)})
    found = _check(NoGeneralization(), path)
    assert bool(found) is fires
    if fires:
        assert "overfit them" in found[0].suggestion and found[0].evidence["val_tag"] == "val/loss"


@pytest.mark.parametrize(("acc", "fires"), [(0.14, True), (0.9, False)])
@pytest.mark.parametrize(("train_tag", "acc_tag"), [("train/loss", "val/acc"),
                                                    ("loss", "eval_accuracy")])
def test_no_generalization_on_validation_accuracy(tmp_path: Path, acc: float, fires: bool,
                                                  train_tag: str, acc_tag: str) -> None:
    vs = np.arange(10, 300, 30)
    path = write_run(tmp_path / "r", LAYERS, [], None, scalars={
        train_tag: loss_curve("healthy"), acc_tag: (vs, np.full(len(vs), acc))})
    found = _check(NoGeneralization(), path)
    assert bool(found) is fires
    if fires:
        assert found[0].evidence["chance_accuracy"] == pytest.approx(0.1, abs=0.02)
        assert found[0].evidence["val_tag"] == acc_tag  # the transformers-style name is read


def test_fine_tuning_a_trained_model_is_not_chance_level(tmp_path: Path) -> None:
    s = np.arange(200)
    train = 0.01 * np.exp(-s / 100) + 0.001
    vs = np.arange(10, 200, 20)
    path = write_run(tmp_path / "r", LAYERS, [], None, scalars={
        "train/loss": (s, train), "val/loss": (vs, np.full(len(vs), 0.11)),
        "val/acc": (vs, np.full(len(vs), 0.97))})
    assert _check(NoGeneralization(), path) == []


def test_overfitting_is_reported_as_a_symptom_of_no_generalization(tmp_path: Path) -> None:
    path = write_run(tmp_path / "r", LAYERS, [], None,
                     scalars={"train/loss": loss_curve("healthy"), "val/loss": _val("chance")})
    result = ds.diagnose(path)
    assert result.codes() == ["no_generalization"]
    [over] = [f for f in result.findings if f.code == "overfitting"]
    assert over.severity == "info" and over.evidence["explained_by"] == "no_generalization"


# -- update_underflow ---------------------------------------------------------------------------
def _bf16(name: str, order: int) -> LayerInfo:
    params = ({"name": "weight", "shape": [1000], "numel": 1000, "requires_grad": True,
               "in_optimizer": True, "dtype": "torch.bfloat16"},)
    return LayerInfo(name, "Linear", "other", order, 1000, 1000, params)


def _update_rows(upd_zero: float, grad_zero: float, norm: float = 1e-3):  # noqa: ANN202
    def rows(s: int) -> list:
        out = healthy_rows(DENSE, s)
        out = [(n, k, {**v, "zero_frac": grad_zero}) if k == "grad" else (n, k, v)
               for n, k, v in out]
        return out + [(n, "update", {"count": 1000, "norm": norm, "zero_frac": upd_zero,
                                     "nonfinite": 0}) for n in DENSE]
    return rows


@pytest.mark.parametrize(("upd", "grad", "norm", "fires"), [
    (0.9, 0.0, 1e-3, True),    # bf16 weights, lr too small: most elements never move
    (0.9, 0.9, 1e-3, False),   # sparse gradients (embedding rows not in the batch)
    (0.3, 0.0, 1e-3, False),   # pure bf16 at a healthy lr: some large weights round away
    (1.0, 0.0, 0.0, False),    # float32 param group with lr 0: frozen_parameters' case
])
def test_update_underflow(tmp_path: Path, upd: float, grad: float, norm: float,
                          fires: bool) -> None:
    path = write_run(tmp_path / "r", LAYERS, STEPS, _update_rows(upd, grad, norm))
    found = _check(UpdateUnderflow(), path)
    assert bool(found) is fires
    if fires:
        assert found[0].layer in DENSE and "fp32 master weights" in found[0].suggestion


def test_bf16_layers_that_never_move_are_underflow_and_frozen_is_its_symptom(
        tmp_path: Path) -> None:
    layers = [_bf16("fc1", 0), _bf16("fc2", 1), _bf16("fc3", 2), ROOT]

    def rows(s: int) -> list:  # fc1, fc2 never move; fc3 barely does
        out = [(n, k, {**v, "zero_frac": 0.0}) for n, k, v in
               healthy_rows(["fc1", "fc2"], s, moving=False) + healthy_rows(["fc3"], s)]
        return out + [(n, "update", {"count": 1000, "norm": 0.0 if n != "fc3" else 1e-3,
                                     "zero_frac": 1.0 if n != "fc3" else 0.95, "nonfinite": 0})
                      for n in DENSE]

    path = write_run(tmp_path / "r", layers, STEPS, rows)
    [f] = _check(UpdateUnderflow(), path)
    assert f.evidence["dtype"] == "torch.bfloat16" and "bfloat16 weights" in f.message
    result = ds.diagnose(path)
    assert "update_underflow" in result.codes()
    frozen = [f for f in result.findings if f.code == "frozen_parameters"]
    assert frozen and all(f.severity == "info" for f in frozen)


# -- tag choice, adversarial runs, scale and role comparisons -----------------------------------
def test_a_one_off_summary_tag_does_not_shadow_the_per_step_series(tmp_path: Path) -> None:
    s, flat = loss_curve("flat")
    path = write_run(tmp_path / "r", LAYERS, [], None,
                     scalars={"train_loss": (np.array([300]), np.array([0.01])),
                              "loss": (s, flat)})
    [f] = _check(LossPlateau(), path)
    assert f.evidence["tag"] == "loss" and f.message.startswith("loss did not improve")


def test_gan_losses_skip_the_loss_curve_rules(tmp_path: Path) -> None:
    path = write_run(tmp_path / "r", LAYERS, [], None,
                     scalars={"loss": loss_curve("unstable"), "g_loss": loss_curve("diverging")})
    result = ds.diagnose(path)
    assert result.codes() == []
    assert "adversarial" in result.skipped["loss_oscillation"]
    with open_reader(path) as r:
        assert LossOscillation().missing(r) is not None


def test_gradients_from_large_targets_are_scale(tmp_path: Path) -> None:
    def rows(s: int) -> list:
        return healthy_rows(DENSE, s, grad=5e4) + [("<root>", "activation", {
            "count": 32, "norm": 0.3 * np.sqrt(32), "nonfinite": 0})]

    s = np.arange(200)
    for loss0, fires in ((2.6e7, False), (2.3, True)):
        path = write_run(tmp_path / f"r{loss0}", LAYERS, STEPS, rows,
                         scalars={"train/loss": (s, loss0 * np.exp(-s / 100))})
        found = _check(ExplodingGradients(), path)
        assert bool(found) is fires
        if fires:
            assert "1.0)" not in found[0].suggestion  # clips at the measured norm


def test_vanishing_compares_layers_of_one_role(tmp_path: Path) -> None:
    names = [f"l.{i}.q" for i in range(2)] + ["classifier"]
    layers = [linear(n, i) for i, n in enumerate(names)] + [ROOT]

    def rows(s: int) -> list:
        out = healthy_rows(names, s)
        return [(n, k, {**v, "norm": 1e-4}) if k == "grad" and n != "classifier" else (n, k, v)
                for n, k, v in out]

    assert _check(VanishingGradients(), write_run(tmp_path / "r", layers, STEPS, rows)) == []
