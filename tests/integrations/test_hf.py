"""The transformers Trainer adapter on a real Trainer: a tiny BERT classifies digits as tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import transformers
from frameworks import assert_recorded, digits_arrays, root_output_count, run_python, stat_steps

import deepscope as ds
from deepscope.integrations._common import OPEN_RUNS
from deepscope.integrations.hf import DeepscopeCallback, hf_tag

BATCH = 16
HEAD = "classifier"


class DigitTokens(torch.utils.data.Dataset):
    """Each 8x8 digit as 64 tokens (pixel intensity 0..16)."""

    def __init__(self, start: int, stop: int) -> None:
        X, y = digits_arrays()
        self.ids = torch.as_tensor((X[start:stop] * 16).round(), dtype=torch.long)
        self.labels = torch.as_tensor(y[start:stop])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def tiny_bert() -> torch.nn.Module:
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=17, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64, num_labels=10,
    )
    return transformers.BertForSequenceClassification(config)


class DigitsConfig(transformers.PretrainedConfig):
    model_type = "digits-mlp"

    def __init__(self, hidden: int = 64, num_labels: int = 10, **kwargs) -> None:  # noqa: ANN003
        super().__init__(num_labels=num_labels, **kwargs)
        self.hidden = hidden


class DigitsMLP(transformers.PreTrainedModel):
    """A small custom transformers model (the way users add their own): pixels in, ModelOutput."""

    config_class = DigitsConfig

    def __init__(self, config: DigitsConfig) -> None:
        super().__init__(config)
        self.body = torch.nn.Sequential(torch.nn.Linear(64, config.hidden), torch.nn.ReLU())
        self.classifier = torch.nn.Linear(config.hidden, config.num_labels)
        self.post_init()

    def forward(self, pixel_values, labels=None, **kwargs):  # noqa: ANN001, ANN003, ANN201
        logits = self.classifier(self.body(pixel_values))
        loss = None if labels is None else torch.nn.functional.cross_entropy(logits, labels)
        return transformers.modeling_outputs.SequenceClassifierOutput(loss=loss, logits=logits)


class DigitPixels(torch.utils.data.Dataset):
    def __init__(self, start: int, stop: int) -> None:
        X, y = digits_arrays()
        self.x, self.y = torch.as_tensor(X[start:stop]), torch.as_tensor(y[start:stop])

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"pixel_values": (self.x[i] - 0.3) / 0.4, "labels": self.y[i]}


def digits_mlp() -> DigitsMLP:
    torch.manual_seed(0)
    return DigitsMLP(DigitsConfig())


def accuracy(pred) -> dict[str, float]:  # noqa: ANN001
    return {"accuracy": float((pred.predictions.argmax(-1) == pred.label_ids).mean())}


def train(tmp_path: Path, cb: DeepscopeCallback, *, steps: int, lr: float = 3e-3,
          accumulation: int = 1, model: torch.nn.Module | None = None,
          optimizer: torch.optim.Optimizer | None = None) -> None:
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=steps, learning_rate=lr,
        per_device_train_batch_size=BATCH, per_device_eval_batch_size=64,
        gradient_accumulation_steps=accumulation, logging_steps=1, eval_strategy="steps",
        eval_steps=20, save_strategy="no", report_to="none", use_cpu=True, disable_tqdm=True,
        dataloader_num_workers=0, seed=0,
    )
    model = model if model is not None else tiny_bert()
    data = DigitPixels if isinstance(model, DigitsMLP) else DigitTokens
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=data(0, 900),
        eval_dataset=data(900, 1024), compute_metrics=accuracy, callbacks=[cb],
        optimizers=(optimizer, None),
    )
    trainer.train()


def test_trainer_run_has_layers_scalars_graph_and_config(tmp_path: Path) -> None:
    probe = DigitTokens(0, 1).ids  # one fixed sequence: its attention patterns are kept
    cb = DeepscopeCallback(name="bert-digits", dir=tmp_path / "runs", config={"data": "digits"},
                           every=5, probe={"input_ids": probe},
                           tokens=[str(int(t)) for t in probe[0]])
    # Two micro-batches per optimizer step: a step is one optimizer step, not one forward.
    train(tmp_path, cb, steps=60, accumulation=2)
    with ds.open_run(cb.run.path) as r:
        assert_recorded(r, "bert.encoder.layer.0.attention.self.query", loss_tag="train/loss")
        tags = set(r.scalar_tags())
        assert {"train/loss", "train/learning_rate", "train/grad_norm", "eval/loss", "eval/acc",
                "summary/train_loss", "summary/train_runtime"} <= tags, tags
        assert not {"loss", "train_loss", "eval_loss"} & tags
        assert r.scalars("train/loss").steps.tolist() == list(range(60))
        assert r.scalars("eval/loss").steps.tolist() == [19, 39, 59]
        config = r.meta().config
        assert config["learning_rate"] == 3e-3 and config["gradient_accumulation_steps"] == 2
        assert config["data"] == "digits" and r.meta().name == "bert-digits"
        # The Trainer hands over accelerate's AcceleratedOptimizer; the real one is watched.
        assert r.meta().watches[""]["optimizer"] == "AdamW"
        grads = stat_steps(r, "grad")
        assert grads and max(grads) <= 59, grads
        assert stat_steps(r, "update") == grads
        # The output statistic is the logits (BATCH x 10), not the 0-d loss of the ModelOutput.
        assert root_output_count(r) == BATCH * 10
        # The attention of the Trainer's BERT is seen; the probe's patterns carry its tokens.
        info = r.transformer_info()
        assert [(m.name, m.type, m.heads) for m in info.attention] == [
            ("bert.encoder.layer.0.attention.self", "BertSelfAttention", 2)]
        assert r.head_matrix("entropy_mean").steps.tolist() == grads
        pattern = r.attention_pattern("bert.encoder.layer.0.attention.self", head=1)
        assert pattern.probs.shape == (64, 64) and pattern.tokens[:3] == tuple(
            str(int(t)) for t in probe[0, :3])
    codes = ds.diagnose(cb.run.path).codes()
    # input_ids are tokens and num_items_in_batch is no input: nothing is "unnormalised".
    assert "unnormalized_inputs" not in codes and "nothing_captured" not in codes, codes


@pytest.mark.parametrize("broken", [False, True], ids=["healthy", "frozen-head-lr-1e-7"])
def test_broken_config_is_diagnosed(tmp_path: Path, broken: bool) -> None:
    model = digits_mlp()
    lr = 1e-7 if broken else 1e-2
    # Broken: the head is missing from the optimizer and the learning rate is 1e-7.
    params = [p for n, p in model.named_parameters() if not (broken and n.startswith(HEAD))]
    cb = DeepscopeCallback(dir=tmp_path / "runs", every=5)
    train(tmp_path, cb, steps=50, lr=lr, model=model, optimizer=torch.optim.AdamW(params, lr=lr))
    found = ds.diagnose(cb.run)
    if broken:
        assert {"frozen_parameters", "loss_plateau"} <= set(found.codes("info")), found.to_text()
        assert any(f.code == "frozen_parameters" and f.layer == HEAD for f in found.findings)
    else:
        assert found.ok, found.to_text()
        with ds.open_run(cb.run.path) as r:
            assert r.scalars("eval/acc").values[-1] > 0.7


class Exploding(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.bert = tiny_bert()
        self.calls = 0

    def forward(self, input_ids, labels=None, **kwargs):  # noqa: ANN001, ANN003, ANN201
        self.calls += 1
        if self.calls == 8:
            raise RuntimeError("data loader gave a bad batch")
        return self.bert(input_ids=input_ids, labels=labels)


def test_a_training_that_raises_ends_crashed(tmp_path: Path) -> None:
    cb = DeepscopeCallback(dir=tmp_path / "runs")
    with pytest.raises(RuntimeError, match="bad batch"):
        train(tmp_path, cb, steps=20, model=Exploding())
    assert ds.open_run(cb.run.path).meta().status == "running"
    OPEN_RUNS.crash_all()  # what interpreter exit (or a notebook cell's error) does
    meta = ds.open_run(cb.run.path).meta()
    assert meta.status == "crashed" and "did not reach its end" in meta.error


def test_tag_table() -> None:
    assert hf_tag("eval_runtime") == "eval/runtime"
    assert hf_tag("test_accuracy") == "test/acc"
    assert hf_tag("total_flos") == "summary/total_flos"
    assert hf_tag("num_input_tokens_seen") == "train/num_input_tokens_seen"


def test_report_to_name_is_refused_by_transformers() -> None:
    # What the module docstring says: report_to names come from a closed table.
    from transformers.integrations.integration_utils import get_reporting_integration_callbacks

    with pytest.raises(ValueError, match="not supported"):
        get_reporting_integration_callbacks(["deepscope"])


def test_missing_transformers_fails_at_construction(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['transformers'] = None\n"
        "from deepscope.integrations.hf import DeepscopeCallback\n"
        "from deepscope.errors import OptionalDependencyError\n"
        "try:\n    DeepscopeCallback()\nexcept OptionalDependencyError as e:\n    print(e)\n"
    )
    out = run_python(code, tmp_path)
    assert out.stdout.strip() == (
        'deepscope.integrations.hf.DeepscopeCallback needs transformers: '
        'pip install "deepscope[hf]"'
    ), out.stderr


def test_unknown_watch_argument_fails_at_construction() -> None:
    with pytest.raises(ds.DeepscopeError, match="unknown argument 'evry'"):
        DeepscopeCallback(evry=10)
