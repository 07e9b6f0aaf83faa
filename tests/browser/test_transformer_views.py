"""The attention and residual-stream views on a 4-layer GPT-2 trained at a stable and at an
unstable learning rate: heatmap, step slider, head series, probe patterns with tokens, residual
norms, outlier ratios and output logits, in the dashboard and in the offline report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from browser_support import ARTIFACTS, Console, Server
from helpers import run_id, wait_painted

import deepscope as ds
from models import tiny_gpt2
from scenarios import text
from scenarios.transformer_cases import STABLE_LR, UNSTABLE_LR
from scenarios.transformer_loops import LM, train

pytestmark = pytest.mark.browser

STABLE, UNSTABLE = "gpt2-stable", "gpt2-unstable"


@pytest.fixture(scope="module")
def gpt2_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("gpt2-runs")
    torch.manual_seed(0)
    stable = train(LM(STABLE, tiny_gpt2(text.vocab_size()), STABLE_LR, steps=150, warmup=30,
                      cosine=True), root, 0)
    torch.manual_seed(0)
    unstable = train(LM(UNSTABLE, tiny_gpt2(text.vocab_size()), UNSTABLE_LR, steps=150), root, 0)
    return {"root": root, STABLE: stable.path, UNSTABLE: unstable.path}


@pytest.fixture(scope="module")
def gpt2_server(gpt2_runs: dict[str, Path], spa: Path) -> Iterator[Server]:
    with Server(gpt2_runs["root"], spa) as s:
        yield s


def _open(page: object, base: str, rid: str, view: str) -> None:
    page.goto(f"{base}/#/run/{rid}/{view}")
    page.wait_for_selector(f".view[data-view='{view}']")
    page.wait_for_function("() => !document.querySelector('.view .loading')")


def _set_slider(page: object, testid: str, value: int) -> None:
    page.locator(f"[data-testid={testid}]").evaluate(
        "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input')); }", value)


def _pick(page: object, testid: str, value: str, caption: str) -> None:
    """Choose ``value`` and wait until the pattern caption starts with ``caption``."""
    page.select_option(f"[data-testid={testid}]", value)
    page.wait_for_function("(want) => document.querySelector('[data-testid=pattern-caption]')"
                           ".textContent.startsWith(want)", arg=caption)


def _extreme(reader: ds.RunReader, field: str, si: int, lowest: bool) -> str:
    m = reader.head_matrix(field)
    v = np.where(np.isnan(m.values[si]), np.inf if lowest else -np.inf, m.values[si])
    mi, h = np.unravel_index(np.argmin(v) if lowest else np.argmax(v), v.shape)
    return f"{m.modules[mi]} head {h}"


def test_unstable_run_is_diagnosed_with_the_heads_and_the_stable_one_is_clean(gpt2_runs) -> None:
    bad = ds.diagnose(gpt2_runs[UNSTABLE])
    assert {"attention_logit_growth", "attention_entropy_collapse"} & set(bad.codes("warning"))
    growth = next(f for f in bad.findings if f.code in ("attention_logit_growth",
                                                        "attention_entropy_collapse"))
    assert growth.evidence["heads"] and growth.layer.startswith("transformer.h.")
    assert ds.diagnose(gpt2_runs[STABLE]).ok


def test_attention_view_heatmap_slider_series_and_pattern(page, gpt2_server, gpt2_runs) -> None:
    rid = run_id(page, gpt2_server.url, UNSTABLE)
    reader = ds.open_run(gpt2_runs[UNSTABLE])
    steps = reader.head_matrix("entropy_mean").steps
    _open(page, gpt2_server.url, rid, "attention")
    info = page.locator("[data-testid=attention-info]").inner_text()
    assert "4 × GPT2Attention via sdpa" in info and "4 block(s)" in info
    wait_painted(page, "[data-testid=head-heatmap]")
    caption = page.locator("[data-testid=head-caption]")
    assert caption.inner_text().startswith(f"step {steps[-1]} ·")
    assert f"lowest {_extreme(reader, 'entropy_mean', -1, True)} " in caption.inner_text()
    # the step slider moves the heatmap through training
    _set_slider(page, "head-step", 0)
    assert caption.inner_text().startswith("step 0 ·")
    assert f"lowest {_extreme(reader, 'entropy_mean', 0, True)} " in caption.inner_text()
    assert "step=0" in page.evaluate("location.hash")
    # another statistic: the largest attention logit
    page.select_option("[data-testid=head-stat]", "max_logit")
    # the slider is rebuilt once the new statistic has loaded
    page.wait_for_function("() => document.querySelector('[data-testid=head-caption]')"
                           ".textContent.includes('Max |q·k|')")
    assert caption.inner_text().startswith("step 0 ·")  # the chosen step is kept
    _set_slider(page, "head-step", len(steps) - 1)
    assert page.locator("[data-testid=head-step]").input_value() == str(len(steps) - 1)
    assert f"highest {_extreme(reader, 'max_logit', -1, False)} " in caption.inner_text()
    wait_painted(page, "[data-testid=head-series]")
    # the probe pattern of any layer and head, with the stored steps on a slider
    wait_painted(page, "[data-testid=attention-pattern]")
    _pick(page, "pattern-module", "transformer.h.2.attn", "transformer.h.2.attn head ")
    _pick(page, "pattern-head", "1", "transformer.h.2.attn head 1 ")
    pattern = page.locator("[data-testid=pattern-caption]")
    stored = reader.attention_pattern("transformer.h.2.attn", head=1)
    assert f"at step {stored.step} " in pattern.inner_text()
    assert f"{stored.probs.shape[0]} queries" in pattern.inner_text()
    _set_slider(page, "pattern-step", 0)
    page.wait_for_function("() => document.querySelector('[data-testid=pattern-caption]')"
                           ".textContent.includes('at step 0 ')")
    first = reader.attention_pattern("transformer.h.2.attn", step=0, head=1).probs[1:, 0].mean()
    share = float(pattern.inner_text().rsplit(" ", 1)[-1])
    assert abs(share - first) < 0.01 + 0.02 * first  # rows with more than one key
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "attention-unstable.png"), full_page=True)


def test_a_click_on_a_head_follows_it_and_shows_its_pattern(page, gpt2_server) -> None:
    _open(page, gpt2_server.url, run_id(page, gpt2_server.url, STABLE), "attention")
    wait_painted(page, "[data-testid=head-heatmap]")
    box = page.locator("[data-testid=head-heatmap] canvas").first.bounding_box()
    # the chart's grid sits inside the host; click well inside it (lower right: last layer)
    page.mouse.click(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.75)
    page.wait_for_function("() => location.hash.includes('module=')")
    hash_ = page.evaluate("location.hash")
    module = hash_.split("module=")[1].split("&")[0]
    head = hash_.split("head=")[1].split("&")[0]
    page.wait_for_function(
        "(want) => document.querySelector('[data-testid=pattern-caption]').textContent"
        ".startsWith(want)", arg=f"{module} head {head}")
    page.screenshot(path=str(ARTIFACTS / "attention-stable.png"), full_page=True)


def test_residual_view_norms_outliers_and_output_logits(page, gpt2_server, gpt2_runs) -> None:
    rid = run_id(page, gpt2_server.url, UNSTABLE)
    reader = ds.open_run(gpt2_runs[UNSTABLE])
    _open(page, gpt2_server.url, rid, "residual")
    for testid in ("residual-norm", "outlier-ratio", "output-logits"):
        wait_painted(page, f"[data-testid={testid}]")
    ratio, channel = reader.block_matrix("outlier_ratio"), reader.block_matrix("channel")
    i = int(np.nanargmax(ratio.values[:, -1]))
    caption = page.locator("[data-testid=outlier-ratio-caption]").inner_text()
    assert f"in {ratio.layers[i]} (channel {int(channel.values[i, -1])})" in caption
    z = reader.output_series()["lse_mean"]
    assert f"{z[0]:.4g}"[:4] in page.locator("[data-testid=output-logits-caption]").inner_text()
    page.screenshot(path=str(ARTIFACTS / "residual-unstable.png"), full_page=True)


def test_views_say_how_to_record_on_a_model_without_attention(page, server) -> None:
    rid = run_id(page, server.url, "demo-healthy-cnn")
    for view in ("attention", "residual"):
        _open(page, server.url, rid, view)
        ph = page.locator(f".view[data-view={view}] [data-testid=not-recorded]").first
        ph.wait_for()
        assert "run.watch(model)" in ph.inner_text()


@pytest.fixture()
def offline(browser):  # noqa: ANN001, ANN201
    """A page that may load the report file and nothing else."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    console, blocked = Console(page), []

    def route(r: object) -> None:
        if r.request.url == page.report_url:
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    yield page
    page.screenshot(path=str(ARTIFACTS / "report-attention.png"), full_page=True)
    context.close()
    assert blocked == [] and console.errors == [], (blocked, console.errors)


def test_report_embeds_the_views(offline, gpt2_runs, tmp_path, spa) -> None:  # noqa: ANN001
    from deepscope.report.build import build_report

    page = offline
    out = build_report(gpt2_runs[UNSTABLE], tmp_path / "unstable.html", static_dir=spa)
    page.report_url = out.resolve().as_uri()
    page.goto(page.report_url)
    page.wait_for_selector("[data-testid=mode]")
    page.click("nav a[data-view=attention]")
    wait_painted(page, "[data-testid=head-heatmap]")
    wait_painted(page, "[data-testid=attention-pattern]")
    _pick(page, "pattern-module", "transformer.h.3.attn", "transformer.h.3.attn head 0 ")
    page.click("nav a[data-view=residual]")
    wait_painted(page, "[data-testid=outlier-ratio]")
