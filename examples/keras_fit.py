"""Record a Keras 3 fit (torch backend) with deepscope, then diagnose it.

python examples/keras_fit.py
"""

import os

os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported

import keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import deepscope as ds  # noqa: E402
from deepscope.integrations.keras import DeepscopeCallback  # noqa: E402

X, y = load_digits(return_X_y=True)
X = (X / 16.0 - 0.3) / 0.4

model = keras.Sequential([
    keras.Input((64,)),
    keras.layers.Dense(64, activation="relu", name="hidden"),
    keras.layers.Dense(10, name="logits"),
], name="keras_digits")
model.compile(
    optimizer=keras.optimizers.Adam(1e-2),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
callback = DeepscopeCallback(every=10)  # ds.init and watch arguments
model.fit(X, y, batch_size=32, epochs=3, validation_split=0.15, verbose=0, callbacks=[callback])

print(ds.diagnose(callback.run).to_text())
print(f"dashboard: deepscope ui {callback.run.path.parent}")
