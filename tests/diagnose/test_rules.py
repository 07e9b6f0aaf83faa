"""Each rule on synthetic runs: fires on its problem, quiet on healthy data and one-off noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepscope.diagnose.rules import ALL_RULES
from deepscope.diagnose.rules.dead_units import DeadUnits
from deepscope.diagnose.rules.exploding_gradients import ExplodingGradients
from deepscope.diagnose.rules.frozen_parameters import FrozenParameters
from deepscope.diagnose.rules.loss_oscillation import LossOscillation
from deepscope.diagnose.rules.loss_plateau import LossPlateau
from deepscope.diagnose.rules.no_gradient import NoGradient
from deepscope.diagnose.rules.nonfinite import Nonfinite
from deepscope.diagnose.rules.overfitting import Overfitting
from deepscope.diagnose.rules.saturated_activations import SaturatedActivations
from deepscope.diagnose.rules.unnormalized_inputs import UnnormalizedInputs
from deepscope.diagnose.rules.vanishing_gradients import VanishingGradients
from deepscope.store import open_reader
from diagnose.synth import ROOT, act, healthy_rows, linear, loss_curve, write_run

STEPS = list(range(0, 200, 10))
DENSE = ["fc1", "fc2", "fc3"]
LAYERS = [linear("fc1", 0), act("relu1", 1), linear("fc2", 2), act("relu2", 3),
          linear("fc3", 4), ROOT]


def _check(rule, path: Path) -> list:  # noqa: ANN001
    with open_reader(path) as r:
        return list(rule.check(r))


def test_registry_covers_every_design_code_once() -> None:
    codes = [r.code for r in ALL_RULES]
    assert codes == ["nothing_captured", "nonfinite", "exploding_gradients",
                     "vanishing_gradients", "dead_units", "saturated_activations",
                     "no_gradient", "frozen_parameters",
                     "unnormalized_inputs", "overfitting", "loss_plateau", "loss_oscillation",
                     "gradients_not_zeroed", "train_in_eval_mode", "double_softmax",
                     "no_generalization", "update_underflow",
                     "loss_spikes", "attention_logit_growth", "attention_entropy_collapse",
                     "output_logit_divergence", "outlier_activations"]
    for rule in ALL_RULES:
        assert "Example:" in (rule.__doc__ or ""), rule
        with pytest.raises(AttributeError):
            rule.Params().x = 1  # frozen  # type: ignore[attr-defined]


def _act_rows(step: int, dead: float, sat: float | None = None) -> list:
    rows = [("relu1", "activation", {"count": 6400, "min": 0.0, "max": 2.0, "mean": 0.4,
                                     "zero_frac": 0.5, "dead_frac": dead, "nonfinite": 0}),
            ("<root>", "activation", {"count": 640, "min": -3.0, "max": 3.0, "mean": 0.0,
                                      "nonfinite": 0})]
    return rows


@pytest.mark.parametrize(("dead", "spike", "fires"), [(0.93, False, True), (0.05, False, False),
                                                      (0.05, True, False)])
def test_dead_units(tmp_path: Path, dead: float, spike: bool, fires: bool) -> None:
    def rows(s: int) -> list:
        d = 1.0 if spike and s == 100 else dead
        return healthy_rows(DENSE, s) + _act_rows(s, d)

    found = _check(DeadUnits(), write_run(tmp_path / "r", LAYERS, STEPS, rows))
    assert [f.layer for f in found] == (["relu1"] if fires else [])
    if fires:
        assert found[0].severity == "error" and "93%" in found[0].message
        assert "fc1" in found[0].suggestion


def test_dead_units_ignores_outputs_that_are_not_relu_like(tmp_path: Path) -> None:
    """A linear output (negative values) that is <= 0 for a whole batch is not a dead unit."""
    def rows(s: int) -> list:
        return healthy_rows(DENSE, s) + [("fc3", "activation", {
            "count": 640, "min": -5.0, "max": 1.0, "mean": -1.0, "zero_frac": 0.0,
            "dead_frac": 0.9, "nonfinite": 0})]

    assert _check(DeadUnits(), write_run(tmp_path / "r", LAYERS, STEPS, rows)) == []


@pytest.mark.parametrize(("sat", "fires"), [(0.8, True), (0.1, False)])
def test_saturated_hidden_layer_but_not_output(tmp_path: Path, sat: float, fires: bool) -> None:
    layers = [linear("fc1", 0), act("sig1", 1, "sigmoid"), linear("fc2", 2),
              act("out", 3, "sigmoid"), ROOT]

    def rows(s: int) -> list:
        out = {"count": 64, "min": 0.0, "max": 1.0, "mean": 0.5, "saturated_frac": 0.9}
        return healthy_rows(["fc1", "fc2"], s) + [
            ("sig1", "activation", {"count": 640, "min": 0.0, "max": 1.0, "mean": 0.4,
                                    "saturated_frac": sat}),
            ("out", "activation", out), ("<root>", "activation", out)]

    found = _check(SaturatedActivations(), write_run(tmp_path / "r", layers, STEPS, rows))
    assert [f.layer for f in found] == (["sig1"] if fires else [])


@pytest.mark.parametrize(("kind", "fires"), [("growth", True), ("ratio", True), ("ok", False),
                                             ("one_spike", False)])
def test_exploding_gradients(tmp_path: Path, kind: str, fires: bool) -> None:
    def rows(s: int) -> list:
        g = {"growth": 0.5 * 10 ** (s / 40), "ratio": 500.0, "ok": 0.5,
             "one_spike": 5000.0 if s == 100 else 0.5}[kind]
        return healthy_rows(DENSE, s, grad=g)

    found = _check(ExplodingGradients(), write_run(tmp_path / "r", LAYERS, STEPS, rows))
    assert bool(found) is fires
    if fires:
        assert "clip" in found[0].suggestion


@pytest.mark.parametrize(("first", "fires"), [(1e-7, True), (1e-2, False), (0.0, False)])
def test_vanishing_gradients(tmp_path: Path, first: float, fires: bool) -> None:
    def rows(s: int) -> list:
        out = healthy_rows(DENSE, s)
        out[1] = ("fc1", "grad", {"count": 1000, "norm": first, "nonfinite": 0})
        return out

    found = _check(VanishingGradients(), write_run(tmp_path / "r", LAYERS, STEPS, rows))
    assert [f.layer for f in found] == (["fc1"] if fires else [])


def test_no_gradient_names_the_detached_layer(tmp_path: Path) -> None:
    def rows(s: int) -> list:
        out = healthy_rows(DENSE, s)
        out[3] = ("fc2", "grad", {"count": 0, "nonfinite": 0})
        if s == 0:  # before the first backward nobody has a gradient
            out = [(n, k, {**f, "count": 0}) if k == "grad" else (n, k, f) for n, k, f in out]
        return out

    found = _check(NoGradient(), write_run(tmp_path / "r", LAYERS, STEPS, rows))
    assert [(f.layer, f.step) for f in found] == [("fc2", 10)]


@pytest.mark.parametrize(("in_opt", "moving", "fires"), [(False, False, True), (True, False, False),
                                                        (None, False, True), (None, True, False)])
def test_frozen_parameters(tmp_path: Path, in_opt: bool | None, moving: bool, fires: bool) -> None:
    layers = [linear("fc1", 0, in_optimizer=in_opt), linear("fc2", 1), ROOT]

    def rows(s: int) -> list:
        return healthy_rows(["fc1"], s, moving=moving) + healthy_rows(["fc2"], s)

    found = _check(FrozenParameters(), write_run(tmp_path / "r", layers, STEPS, rows))
    assert [f.layer for f in found] == (["fc1"] if fires else [])


@pytest.mark.parametrize(("scale", "fires"), [(120.0, True), (1.0, False), (0.3, False)])
def test_unnormalized_inputs(tmp_path: Path, scale: float, fires: bool) -> None:
    def rows(s: int) -> list:
        return healthy_rows(DENSE, s) + [("<root>", "input", {
            "count": 4096, "mean": 0.5 * scale, "std": scale, "min": 0.0, "max": 3 * scale,
            "norm": scale * 64.0, "nonfinite": 0})]

    found = _check(UnnormalizedInputs(), write_run(tmp_path / "r", LAYERS, STEPS, rows))
    assert bool(found) is fires
    if fires:
        assert "standardise" in found[0].suggestion and found[0].layer == "<root>"


def test_nonfinite_from_event_stats_and_loss(tmp_path: Path) -> None:
    ev = {"kind": "nonfinite", "step": 42, "layer": "fc2",
          "data": {"source": "activation", "modules": ["fc2", "fc3"], "input_nonfinite": False}}
    [f] = _check(Nonfinite(), write_run(tmp_path / "a", LAYERS, STEPS, None, events=[ev]))
    assert (f.layer, f.step, f.severity) == ("fc2", 42, "error")

    def rows(s: int) -> list:
        out = healthy_rows(DENSE, s)
        if s >= 50:
            out = [(n, k, {**v, "nonfinite": 3}) for n, k, v in out]
        return out

    [f] = _check(Nonfinite(), write_run(tmp_path / "b", LAYERS, STEPS, rows))
    assert (f.layer, f.step) == ("fc1", 50)
    s, v = loss_curve("healthy")
    v[120] = np.nan
    [f] = _check(Nonfinite(), write_run(tmp_path / "c", LAYERS, [], None,
                                        scalars={"train/loss": (s, v)}))
    assert (f.step, f.evidence["source"]) == (120, "loss")


@pytest.mark.parametrize(("curve", "plateau", "oscillation"), [
    ("healthy", False, False), ("flat", True, False), ("diverging", False, True),
    ("unstable", False, True)])
def test_loss_rules(tmp_path: Path, curve: str, plateau: bool, oscillation: bool) -> None:
    path = write_run(tmp_path / "r", LAYERS, [], None, scalars={"loss": loss_curve(curve)})
    assert bool(_check(LossPlateau(), path)) is plateau
    assert bool(_check(LossOscillation(), path)) is oscillation


@pytest.mark.parametrize(("rise", "plateau"), [(0.0, True), (0.4, False)])
def test_a_flat_noisy_loss_whose_first_batches_were_easy_is_a_plateau(
        tmp_path: Path, rise: float, plateau: bool) -> None:
    """Per-batch losses of an untrained model (6% noise): the five-point initial median can sit
    well below the end one by chance, which is still no improvement; a real rise is not."""
    rng = np.random.default_rng(3)
    v = 2.6 * (1 + 0.06 * rng.standard_normal(60)) * np.linspace(1, 1 + rise, 60)
    v[:5] = np.median(v[-12:]) * np.array([0.92, 0.94, 0.935, 0.95, 0.93])  # easy first batches
    path = write_run(tmp_path / "r", LAYERS, [], None, scalars={"train/loss": (np.arange(60), v)})
    assert bool(_check(LossPlateau(), path)) is plateau
    if plateau:  # the noise is what makes it one: without it the start reads as a rise
        assert _check(LossPlateau.with_overrides({"noise_se": 0.0}), path) == []


def test_single_loss_spike_is_not_oscillation(tmp_path: Path) -> None:
    s, v = loss_curve("healthy")
    v[200] = 50.0
    path = write_run(tmp_path / "r", LAYERS, [], None, scalars={"train_loss": (s, v)})
    assert _check(LossOscillation(), path) == []


@pytest.mark.parametrize(("rise", "fires"), [(True, True), (False, False)])
def test_overfitting(tmp_path: Path, rise: bool, fires: bool) -> None:
    s, v = loss_curve("healthy")
    vs = s[::10]
    val = 2.3 * np.exp(-vs / 60) + 0.3 + ((vs - 100).clip(0) / 100 if rise else 0)
    path = write_run(tmp_path / "r", LAYERS, [], None,
                     scalars={"train/loss": (s, v), "val_loss": (vs, val)})
    found = _check(Overfitting(), path)
    assert bool(found) is fires
    if fires:
        assert found[0].evidence["val_tag"] == "val_loss"
        assert 90 <= found[0].step <= 130


@pytest.mark.parametrize(("update", "fires"), [(0.0, True), (1e-3, False)])
def test_frozen_param_group_with_zero_lr(tmp_path: Path, update: float, fires: bool) -> None:
    layers = [linear("fc1", 0), linear("fc2", 1), ROOT]

    def rows(s: int) -> list:
        out = healthy_rows(["fc1"], s, moving=update > 0) + healthy_rows(["fc2"], s)
        return out + [("fc1", "update", {"count": 1000, "norm": update, "nonfinite": 0}),
                      ("fc2", "update", {"count": 1000, "norm": 0.01, "nonfinite": 0})]

    found = _check(FrozenParameters(), write_run(tmp_path / "r", layers, STEPS, rows))
    assert [f.layer for f in found] == (["fc1"] if fires else [])


@pytest.mark.parametrize(("swing", "fires"), [(5, True), (None, False), (2, False)])
def test_validation_swings_are_oscillation(tmp_path: Path, swing: int | None,
                                           fires: bool) -> None:
    s, v = loss_curve("healthy")
    vs = s[::30]
    val = 2.3 * np.exp(-vs / 60) + 0.3
    if swing is not None:
        # Jumps far above its best, then comes back; an early jump in a run that ends at its
        # best is a transient (the peak of a one-cycle schedule), a late one is not.
        val[swing] += 1.5
    path = write_run(tmp_path / "r", LAYERS, [], None,
                     scalars={"train/loss": (s, v), "val/loss": (vs, val)})
    found = _check(LossOscillation(), path)
    assert bool(found) is fires
    if fires:
        assert found[0].evidence["sign"] == ["validation swings"]


@pytest.mark.parametrize(("decay", "fires"), [(25_000.0, False), (1.0, True)])
def test_a_late_swing_the_schedule_took_down_is_a_transient(tmp_path: Path, decay: float,
                                                              fires: bool) -> None:
    """A swing at the middle of a run that ends at its best: silent when the updates (relative
    to the weights) were far larger then than at the end, a warning when they stayed the same."""
    s, v = loss_curve("healthy")
    vs = s[::30]
    val = 2.3 * np.exp(-vs / 60) + 0.3
    val[5] += 1.5

    def rows(step: int) -> list:
        ratio = 1e-2 * decay ** (-step / STEPS[-1])  # the step size falls by ``decay``
        return healthy_rows(["fc1"], step) + [
            ("fc1", "update", {"count": 1000, "norm": 1.0, "update_ratio": ratio, "nonfinite": 0})]

    path = write_run(tmp_path / "r", LAYERS, STEPS, rows,
                     scalars={"train/loss": (s, v), "val/loss": (vs, val)})
    found = _check(LossOscillation(), path)
    assert bool(found) is fires
    if fires:
        assert found[0].evidence["sign"] == ["validation swings"]


def test_inputs_normalised_by_the_first_layer_are_fine(tmp_path: Path) -> None:
    layers = [linear("bn", 0, type_="BatchNorm1d"), linear("fc1", 1), ROOT]

    def rows(s: int) -> list:
        return healthy_rows(["bn", "fc1"], s) + [("<root>", "input", {
            "count": 4096, "mean": 50.0, "std": 100.0, "min": 0.0, "max": 300.0,
            "norm": 100.0 * 64, "nonfinite": 0})]

    assert _check(UnnormalizedInputs(), write_run(tmp_path / "r", layers, STEPS, rows)) == []


def test_overfitting_with_validation_logged_per_epoch(tmp_path: Path) -> None:
    s, v = loss_curve("healthy")
    epochs = np.arange(30)
    val = 2.3 * np.exp(-epochs / 2) + 0.3 + (epochs - 10).clip(0) / 10
    path = write_run(tmp_path / "r", LAYERS, [], None,
                     scalars={"train/loss": (s, v), "val/loss": (epochs, val)})
    [f] = _check(Overfitting(), path)
    assert 8 <= f.step <= 12


def test_all_zero_output_is_not_a_dead_relu(tmp_path: Path) -> None:
    """A zero-initialised linear layer outputs exact zeros: no evidence of ReLU units."""
    def rows(s: int) -> list:
        return healthy_rows(DENSE, s) + [("fc1", "activation", {
            "count": 640, "min": 0.0, "max": 0.0, "mean": 0.0, "zero_frac": 1.0,
            "dead_frac": 1.0, "nonfinite": 0})]

    assert _check(DeadUnits(), write_run(tmp_path / "r", LAYERS, STEPS, rows)) == []


def test_per_epoch_losses_are_enough(tmp_path: Path) -> None:
    epochs = np.arange(8)
    flat = write_run(tmp_path / "f", LAYERS, [], None,
                     scalars={"loss": (epochs, 2.3 + 0.01 * np.sin(epochs))})
    assert [f.code for f in _check(LossPlateau(), flat)] == ["loss_plateau"]
    good = write_run(tmp_path / "g", LAYERS, [], None,
                     scalars={"loss": (epochs, 2.3 * np.exp(-epochs / 2))})
    assert _check(LossPlateau(), good) == [] and _check(LossOscillation(), good) == []


def test_nonfinite_loss_after_divergence_suggests_lower_lr(tmp_path) -> None:
    from deepscope.store.writer import RunWriter

    w = RunWriter(tmp_path / "div", meta={"name": "div"})
    for step, loss in enumerate([3.0, 2.9, 40.0, 5e6, 3e12, float("inf")]):
        w.log_scalars(step, {"train/loss": loss})
    w.add_event("nonfinite", 5, None, {"source": "loss", "tag": "train/loss", "value": "inf"})
    w.close()
    import deepscope as ds

    (f,) = [f for f in ds.diagnose(tmp_path / "div").findings if f.code == "nonfinite"]
    assert f.step == 5 and f.evidence["loss_growth"] > 1e11
    assert "diverged" in f.suggestion and "learning rate" in f.suggestion
