"""Every diagnosis rule, one class per finding code, in reporting order.

The list is explicit (no registration side effects); a test checks it covers every code of
DESIGN.md exactly once.
"""

from __future__ import annotations

from deepscope.diagnose.base import Rule
from deepscope.diagnose.rules.attention_entropy_collapse import AttentionEntropyCollapse
from deepscope.diagnose.rules.attention_logit_growth import AttentionLogitGrowth
from deepscope.diagnose.rules.dead_units import DeadUnits
from deepscope.diagnose.rules.double_softmax import DoubleSoftmax
from deepscope.diagnose.rules.exploding_gradients import ExplodingGradients
from deepscope.diagnose.rules.frozen_parameters import FrozenParameters
from deepscope.diagnose.rules.gradients_not_zeroed import GradientsNotZeroed
from deepscope.diagnose.rules.loss_oscillation import LossOscillation
from deepscope.diagnose.rules.loss_plateau import LossPlateau
from deepscope.diagnose.rules.loss_spikes import LossSpikes
from deepscope.diagnose.rules.no_generalization import NoGeneralization
from deepscope.diagnose.rules.no_gradient import NoGradient
from deepscope.diagnose.rules.nonfinite import Nonfinite
from deepscope.diagnose.rules.nothing_captured import NothingCaptured
from deepscope.diagnose.rules.outlier_activations import OutlierActivations
from deepscope.diagnose.rules.output_logit_divergence import OutputLogitDivergence
from deepscope.diagnose.rules.overfitting import Overfitting
from deepscope.diagnose.rules.saturated_activations import SaturatedActivations
from deepscope.diagnose.rules.train_in_eval_mode import TrainInEvalMode
from deepscope.diagnose.rules.unnormalized_inputs import UnnormalizedInputs
from deepscope.diagnose.rules.update_underflow import UpdateUnderflow
from deepscope.diagnose.rules.vanishing_gradients import VanishingGradients

ALL_RULES: tuple[type[Rule], ...] = (
    NothingCaptured,
    Nonfinite,
    ExplodingGradients,
    VanishingGradients,
    DeadUnits,
    SaturatedActivations,
    NoGradient,
    FrozenParameters,
    UnnormalizedInputs,
    Overfitting,
    LossPlateau,
    LossOscillation,
    GradientsNotZeroed,
    TrainInEvalMode,
    DoubleSoftmax,
    NoGeneralization,
    UpdateUnderflow,
    LossSpikes,
    AttentionLogitGrowth,
    AttentionEntropyCollapse,
    OutputLogitDivergence,
    OutlierActivations,
)

RULES_BY_CODE: dict[str, type[Rule]] = {r.code: r for r in ALL_RULES}

__all__ = ["ALL_RULES", "RULES_BY_CODE"]
