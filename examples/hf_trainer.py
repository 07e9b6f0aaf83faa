"""Record a Hugging Face Trainer run with deepscope, then diagnose it.

python examples/hf_trainer.py

Any transformers model works the same way (e.g. one from AutoModelForSequenceClassification);
this one is a small custom model so the example runs offline in seconds.
"""

import torch
import transformers
from sklearn.datasets import load_digits
from transformers.modeling_outputs import SequenceClassifierOutput

import deepscope as ds
from deepscope.integrations.hf import DeepscopeCallback


class DigitsConfig(transformers.PretrainedConfig):
    model_type = "digits-mlp"

    def __init__(self, hidden=64, num_labels=10, **kwargs):
        super().__init__(num_labels=num_labels, **kwargs)
        self.hidden = hidden


class DigitsModel(transformers.PreTrainedModel):
    config_class = DigitsConfig

    def __init__(self, config):
        super().__init__(config)
        self.body = torch.nn.Sequential(torch.nn.Linear(64, config.hidden), torch.nn.ReLU())
        self.classifier = torch.nn.Linear(config.hidden, config.num_labels)
        self.post_init()

    def forward(self, pixel_values, labels=None, **kwargs):
        logits = self.classifier(self.body(pixel_values))
        loss = None if labels is None else torch.nn.functional.cross_entropy(logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)


X, y = load_digits(return_X_y=True)
X = torch.tensor((X / 16.0 - 0.3) / 0.4, dtype=torch.float32)
rows = [{"pixel_values": x, "labels": int(t)} for x, t in zip(X, y, strict=True)]
train, val = rows[:1500], rows[1500:]


def accuracy(pred):
    return {"accuracy": float((pred.predictions.argmax(-1) == pred.label_ids).mean())}


args = transformers.TrainingArguments(
    output_dir="hf-out", max_steps=100, learning_rate=1e-2, per_device_train_batch_size=32,
    logging_steps=5, eval_strategy="steps", eval_steps=50, save_strategy="no", report_to="none",
    use_cpu=True, disable_tqdm=True,
)
callback = DeepscopeCallback(name="hf-digits", every=10)  # ds.init and watch arguments
trainer = transformers.Trainer(
    model=DigitsModel(DigitsConfig()), args=args, train_dataset=train, eval_dataset=val,
    compute_metrics=accuracy, callbacks=[callback],
)
trainer.train()

print(ds.diagnose(callback.run).to_text())
print(f"dashboard: deepscope ui {callback.run.path.parent}")
