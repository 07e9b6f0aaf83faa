"""Architecture of a randomly initialised GPT-2 (no download): table, Mermaid, and a short training.

python examples/transformer_structure.py
"""

import torch
from transformers import GPT2Config, GPT2LMHeadModel

import deepscope as ds

config = GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=500, n_positions=64)
model = GPT2LMHeadModel(config)
tokens = torch.randint(0, 500, (4, 32))

summary = ds.summary(model, (tokens,))
print(summary)
print(summary.to_mermaid()[:400], "...")

opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
with ds.init(name="gpt2-tiny", config=config.to_diff_dict()) as run:
    run.watch(model, optimizer=opt, every=5)
    for step in range(30):
        opt.zero_grad()
        out = model(tokens, labels=tokens)
        out.loss.backward()
        opt.step()
        run.log({"train/loss": out.loss.item()}, step=step)
print(ds.diagnose(run.path))
