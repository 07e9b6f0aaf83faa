"""Notebook rendering, tested by executing a real notebook (nbclient + ipykernel)."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import deepscope as ds

STATIC = Path(__file__).resolve().parents[2] / "src" / "deepscope" / "server" / "static"

SETUP = """
import torch
torch.set_num_threads(1)  # the test machine's cores are shared
from torch import nn
from sklearn.datasets import load_digits
import deepscope as ds

torch.manual_seed(0)
X, y = load_digits(return_X_y=True)
X = torch.tensor(X[:400] / 16.0, dtype=torch.float32); y = torch.tensor(y[:400])
model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
cnn = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
run = ds.init(name="nb <run>", config={"lr": 1e-2})
run.watch(model, optimizer=opt, every=5)
for step in range(40):
    idx = torch.randint(0, 400, (32,))
    opt.zero_grad(); loss = nn.functional.cross_entropy(model(X[idx]), y[idx]); loss.backward()
    opt.step(); run.log({"train/loss": loss.item()}, step=step)
"""
# (code, a string its text/html output must contain)
CELLS = [
    ("reader = ds.open_run(run); reader", "deepscope run nb &lt;run&gt;"),
    ("ds.diagnose(run)", "Diagnosis of"),
    ("ds.summary(model, input_size=(1, 64))", "Sequential"),
    ("ds.explain.attribute(model, X[:4], method='saliency')", "attributions"),
    ("ds.explain.feature_importance(model, X[:100], y[:100], repeats=2)", "feature importance"),
    ("ds.explain.embed(model, X[:60], layer='1', labels=y[:60], method='pca')", "embedding"),
    ("ds.explain.maximize(cnn, '0', [0, 1], input_shape=(1, 8, 8), steps=4)", "maximization"),
    ("ds.explain.decision_boundary(model, X[:100], y[:100], resolution=10)", "decision boundary"),
    ("ds.explain.predictions(model, X[:100], y[:100])", "predictions"),
    ("ds.explain.weights(model)", "weights"),
]
SHOW = "run.finish(); ds.show(run)"
CRASH = """
from deepscope.integrations._common import OPEN_RUNS
broken = ds.init(name="broken")
OPEN_RUNS.started(broken)  # what the HF and Keras adapters do when training starts
raise RuntimeError("training blew up")
"""


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[nbformat.NotebookNode, Path]:
    if not (STATIC / "index.html").is_file():
        pytest.fail("web UI not built: run `make web`")
    work = tmp_path_factory.mktemp("nb")
    cells = [nbformat.v4.new_code_cell(SETUP)]
    cells += [nbformat.v4.new_code_cell(code) for code, _ in CELLS]
    cells += [nbformat.v4.new_code_cell(SHOW), nbformat.v4.new_code_cell(CRASH),
              nbformat.v4.new_code_cell("print(broken.path)")]
    cells[-2].metadata["tags"] = ["raises-exception"]
    nb = nbformat.v4.new_notebook(cells=cells)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(work)}}).execute()
    return nb, work


def _html(cell: nbformat.NotebookNode) -> str:
    found = [o["data"]["text/html"] for o in cell.outputs if "text/html" in o.get("data", {})]
    assert found, cell.outputs
    return found[0]


@pytest.mark.parametrize("index", range(len(CELLS)), ids=[c.split("(")[0] for c, _ in CELLS])
def test_each_object_renders_self_contained_html(executed, index: int) -> None:  # noqa: ANN001
    nb, _ = executed
    html = _html(nb.cells[1 + index])
    assert CELLS[index][1] in html
    # Self-contained: no script, nothing fetched, figures inline.
    assert "<script" not in html and not re.search(r'src="(?!data:)', html)
    if index >= 3:
        assert 'src="data:image/png;base64,' in html


def test_reader_shows_status_scalars_and_escapes_names(executed) -> None:  # noqa: ANN001
    nb, _ = executed
    html = _html(nb.cells[1])
    assert "nb <run>" not in html and "finished" not in html  # still running when rendered
    assert "train/loss" in html and "running" in html


@pytest.mark.browser
def test_show_embeds_the_report(executed, browser) -> None:  # noqa: ANN001
    nb, work = executed
    html = _html(nb.cells[1 + len(CELLS)])
    assert html.startswith('<iframe sandbox="allow-scripts" srcdoc="')
    page_html = unescape(html.split('srcdoc="', 1)[1].rsplit('" style=', 1)[0])
    assert 'id="deepscope-payload"' in page_html and "Content-Security-Policy" in page_html
    out = work / "cell.html"
    out.write_text(f"<!doctype html><html><body>{html}</body></html>", encoding="utf-8")
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    try:
        page.goto(out.as_uri())
        frame = page.frame_locator("iframe")
        frame.get_by_role("heading", name="nb <run>").wait_for(timeout=30_000)
        frame.get_by_text("no problems found").wait_for(timeout=30_000)
        frame.locator("nav a[data-view=scalars]").click()
        frame.locator(".view[data-view=scalars] [data-tag='train/loss'] canvas").first.wait_for(
            timeout=30_000)
    finally:
        page.close()
    assert not errors, errors


def test_a_cell_that_raises_ends_open_runs_crashed(executed) -> None:  # noqa: ANN001
    nb, work = executed
    path = nb.cells[-1].outputs[0]["text"].strip()
    meta = ds.open_run(work / path).meta()
    assert meta.status == "crashed" and meta.error == "RuntimeError: training blew up"
