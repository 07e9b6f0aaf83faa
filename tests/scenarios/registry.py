"""Every scenario with the finding codes it must produce (empty for healthy trainings)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scenarios import buggy_capture as C  # noqa: N812
from scenarios import buggy_layers as L  # noqa: N812
from scenarios import buggy_loss as S  # noqa: N812
from scenarios import buggy_units as U  # noqa: N812
from scenarios.healthy import HEALTHY


@dataclass(frozen=True)
class Scenario:
    fn: Callable[[Path], Path]
    expected: frozenset[str]

    @property
    def name(self) -> str:
        return self.fn.__name__


def _s(fn: Callable[[Path], Path], *codes: str) -> Scenario:
    return Scenario(fn, frozenset(codes))


BUGGY: list[Scenario] = [
    _s(C.nothing_captured_model_rebuilt, "nothing_captured"),
    _s(C.nothing_captured_watch_after_training, "nothing_captured"),
    _s(L.nonfinite_log_of_relu, "nonfinite"),
    _s(L.nonfinite_corrupt_batch, "nonfinite"),
    _s(L.exploding_large_init_deep_mlp, "exploding_gradients"),
    _s(L.exploding_large_init_cnn, "exploding_gradients"),
    _s(L.exploding_moderate_init_sgd, "exploding_gradients"),
    _s(L.vanishing_deep_sigmoid, "vanishing_gradients"),
    _s(L.vanishing_small_init_tanh, "vanishing_gradients"),
    _s(U.dead_negative_bias, "dead_units"),
    _s(U.dead_high_lr_cnn, "dead_units"),
    _s(U.saturated_sigmoid_large_init, "saturated_activations"),
    _s(U.saturated_tanh_cnn, "saturated_activations"),
    _s(U.no_grad_detached_branch, "no_gradient"),
    _s(U.no_grad_lstm_projection, "no_gradient"),
    _s(U.no_grad_detached_middle, "no_gradient"),
    _s(U.frozen_optimizer_subset, "frozen_parameters"),
    _s(U.frozen_replaced_head, "frozen_parameters"),
    _s(U.unnormalized_raw_pixels, "unnormalized_inputs"),
    _s(U.unnormalized_raw_tabular, "unnormalized_inputs"),
    _s(U.unnormalized_raw_digits_mlp, "unnormalized_inputs"),
    _s(S.overfit_small_digits, "overfitting"),
    _s(S.overfit_noisy_features, "overfitting"),
    _s(S.plateau_tiny_lr_sgd, "loss_plateau"),
    _s(S.plateau_tiny_lr_lstm, "loss_plateau"),
    _s(S.plateau_zero_init_tanh, "loss_plateau"),
    _s(S.oscillation_sgd_high_lr, "loss_oscillation"),
    _s(S.oscillation_sgd_tanh_cnn, "loss_oscillation"),
    _s(S.oscillation_logistic_regression, "loss_oscillation"),
]

SCENARIOS: list[Scenario] = BUGGY + [_s(fn) for fn in HEALTHY]
