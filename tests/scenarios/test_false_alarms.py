"""The false alarms of issue 10, each reproduced on a real training and shown silent.

Each test first proves the run still sets the trap the old rule fell into (measured from the
stored statistics, the way that rule read them), then that the diagnosis stays clean.
"""

from __future__ import annotations

import numpy as np
import torch

import deepscope as ds
from deepscope.diagnose import Diagnosis, trends
from deepscope.diagnose.rules._layers import is_dense
from deepscope.diagnose.view import RunView
from scenarios import wild_healthy as H  # noqa: N812
from scenarios import wild_unusual as U  # noqa: N812

torch.set_num_threads(1)


def _clean(path) -> Diagnosis:  # noqa: ANN001
    result = ds.diagnose(path)
    assert result.codes("warning") == [], result.to_text()
    return result


def test_tiny_bert_attention_gradients_are_not_vanishing(trained) -> None:  # noqa: ANN001
    out = trained(H.bert_tiny_classifier, 0)
    assert max(a for _, a in out.probe.val_acc) >= 0.95
    with ds.open_run(out.path) as r:
        view = RunView(r)
        norm, count = view.stat_matrix("grad", "norm"), view.stat_matrix("grad", "count")
        info = {i.name: i for i in view.layers()}
        dense = [i for i, n in enumerate(norm.layers) if is_dense(info.get(n))]
        g = trends.rms(norm.values, count.values)
        first, last = norm.layers[dense[0]], norm.layers[dense[-1]]
        ratio = g[dense[0]] / g[dense[-1]]
    # The trap: the first attention projection against the classifier, as the old rule compared.
    assert first.endswith("attention.self.query") and last == "classifier"
    assert np.mean(ratio < 1e-2) >= 0.75
    _clean(out.path)


def test_large_regression_targets_are_scale_not_explosion(trained) -> None:  # noqa: ANN001
    out = trained(H.regression_large_targets, 0)
    with ds.open_run(out.path) as r:
        view = RunView(r)
        g = view.stat_matrix("grad", "norm").values
        w = view.stat_matrix("weight", "norm").values
    dwarf = np.sqrt(np.nansum(g**2, 0)) / np.sqrt(np.nansum(w**2, 0))
    assert np.mean(dwarf >= 3.0) >= 0.5  # the old ratio sign: gradients dwarf the weights
    assert out.probe.quality_gain() > 0.2  # ... while the fit converges
    _clean(out.path)


def test_converged_fine_tuning_noise_is_not_oscillation(trained) -> None:  # noqa: ANN001
    out = trained(H.finetune_converged, 0)
    losses = np.asarray(out.probe.losses)
    smooth = trends.rolling_median(losses, max(3, len(losses) // 20))
    rise, _, _ = trends.largest_giveback(smooth)
    initial = trends.level(losses[:5])
    # The old "gives back" sign: a rise of 30% of the progress and 20% of the initial level.
    assert rise >= 0.3 * (initial - smooth.min()) and rise >= 0.2 * initial
    val = [v for _, v in out.probe.quality]
    assert val[-1] <= val[0]  # the validation loss keeps falling
    _clean(out.path)


def test_a_gan_loss_logged_as_loss_is_not_a_training_curve(trained) -> None:  # noqa: ANN001
    out = trained(H.gan_moons, 0)
    losses = np.asarray(out.probe.losses)
    smooth = trends.rolling_median(losses, max(3, len(losses) // 20))
    assert trends.largest_giveback(smooth)[0] > 0.2 * trends.level(losses[:5])
    result = _clean(out.path)
    assert "adversarial" in result.skipped["loss_oscillation"]


def test_a_one_off_train_loss_does_not_shadow_the_per_step_loss(trained) -> None:  # noqa: ANN001
    out = trained(H.gpt2_warmup_cosine_hf_logging, 0)
    with ds.open_run(out.path) as r:
        assert r.scalars("train_loss").total_points == 1
        assert r.scalars("loss").total_points == 100
    _clean(out.path)
    flat = ds.diagnose(out.path, config={"loss_plateau.min_improvement": 0.99})
    [f] = [f for f in flat.findings if f.code == "loss_plateau"]
    assert f.evidence["tag"] == "loss" and f.message.startswith("loss did not improve")


def test_a_one_cycle_peak_the_run_grows_out_of_is_not_oscillation(trained) -> None:  # noqa: ANN001
    out = trained(U.resnet_one_cycle, 0)
    val = np.asarray([v for _, v in out.probe.quality])
    rise = val - np.minimum.accumulate(val)
    # The trap (found on a held-out training): the validation loss jumps above its best by the
    # "validation swings" margin early, at the schedule's peak, and falls back ...
    jump = int(np.argmax(rise))
    assert jump < len(val) // 2 and rise[jump] >= 0.3 * (val[0] - val.min())
    assert val[-1] == val.min()  # ... and the run ends at its best
    assert max(a for _, a in out.probe.val_acc) >= 0.95
    _clean(out.path)
