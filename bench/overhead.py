"""Training overhead of deepscope versus TensorBoard histograms and a hand-written hook.

Every variant trains its own copy of the same model on the same batches in this process, in
lockstep beside a plain copy (one step of each in turn, the order rotating), so a drift in
machine speed hits both alike; repetitions repeat that (``--sequential``: the variants one after
another instead). A variant's background thread (deepscope's writer) slows the plain copy beside
it a little too, so those ratios err towards 1 by that thread's share; every-step histograms
and TensorBoard, whose threads work all the time, train alone against plain alone. The figure that
matters is **total** time (the mean step: what a user pays); the median is printed too, and so
is the cost of a sampled step and of the step after it, because a median hides them.

    python bench/overhead.py [--quick] [--only gpt2] [--device cpu|cuda] [--reps 3]
    python bench/overhead.py --only gpt-2 --variants "default,no transformer,probe" --reps 5
    python bench/overhead.py --only gpt-2 --variants "every=1 + hist" --pair-all --reps 2

The transformer capture (attention heads, residual blocks, output logits; on by default) is
measured two ways on GPT-2 small: "deepscope default" against "deepscope default, no
transformer" (a ratio of totals, with and without a probe batch; noisy at the percent level),
and "deepscope default, transformer timed": the time spent inside the capture's own code as a
share of that run's total time.

Models: an MLP on digits (0.7 ms steps), a small CNN on digits, a 6x1024 MLP (batch 256) and
GPT-2 small (the default ``transformers`` GPT2 config, random init, batch 2x64 tokens, AdamW).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

import deepscope as ds
from deepscope.demo import DigitsCNN

warnings.filterwarnings("ignore")

Batch = Callable[[int], tuple[object, torch.Tensor]]


@dataclass
class Case:
    title: str
    build: Callable[[str], tuple[nn.Module, Batch, Callable[..., torch.Tensor]]]
    steps: int
    warmup: int = 10


def _ce(model: nn.Module, x: object, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(model(x), y)


def _digits(images: bool, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    d = load_digits()
    x = torch.tensor((d.data - d.data.mean()) / d.data.std(), dtype=torch.float32)
    x = x.reshape(-1, 1, 8, 8) if images else x
    return x.to(device), torch.tensor(d.target).to(device)


def _slices(x: torch.Tensor, y: torch.Tensor, b: int = 64) -> Batch:
    n = (len(x) // b) * b
    return lambda i: (x[(i * b) % n : (i * b) % n + b], y[(i * b) % n : (i * b) % n + b])


def mlp_digits(device: str):  # noqa: ANN201
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                          nn.Linear(64, 10))
    return model.to(device), _slices(*_digits(False, device)), _ce


def cnn_digits(device: str):  # noqa: ANN201
    return DigitsCNN().to(device), _slices(*_digits(True, device)), _ce


def wide_mlp(device: str):  # noqa: ANN201
    layers: list[nn.Module] = []
    for _ in range(5):
        layers += [nn.Linear(1024, 1024), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(1024, 10)).to(device)
    g = torch.Generator().manual_seed(0)
    xs = torch.randn(4, 256, 1024, generator=g).to(device)
    ys = torch.randint(0, 10, (4, 256), generator=g).to(device)
    return model, lambda i: (xs[i % 4], ys[i % 4]), _ce


def gpt2_small(device: str):  # noqa: ANN201
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config()).to(device)  # 124M parameters, random init
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 50257, (4, 2, 64), generator=g).to(device)

    def loss(m: nn.Module, x: object, y: torch.Tensor) -> torch.Tensor:
        return m(input_ids=x, labels=y).loss

    return model, lambda i: (ids[i % 4], ids[i % 4]), loss


CASES = [
    Case("MLP on digits (b=64)", mlp_digits, 400),
    Case("small CNN on digits (b=64)", cnn_digits, 300),
    Case("6x1024 MLP (b=256)", wide_mlp, 60),
    Case("GPT-2 small (b=2x64)", gpt2_small, 30, warmup=3),
]

VARIANTS = [
    "plain",
    "deepscope default",
    "deepscope default, no transformer",
    "deepscope default + probe",
    "deepscope default, transformer timed",
    "deepscope economy",
    "deepscope every=1 + hist",
    "tensorboard hist w+g",
    "hand hook mean/std",
]


class TransformerTimer:
    """Time spent inside the transformer capture while ``default`` trains: its hooks, the
    statistics, the probe, and the attention mode's dispatch of every torch call it sees
    (counted, times a per-call cost calibrated here with the same mode on a trivial op).

    A ratio of two runs' totals cannot resolve a fraction of a percent on a machine whose
    step time varies by 10 %; the time the capture's own code takes can. The timing wrappers
    add their own cost, so this errs high.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.mode_calls = 0
        self.per_call = 0.0
        self._saved: list[tuple[object, str, object]] = []

    @property
    def total(self) -> float:
        return self.seconds + self.mode_calls * self.per_call

    def __enter__(self) -> TransformerTimer:
        from deepscope.capture import attention, transformer

        self.per_call = _mode_cost(attention.AttentionMode)
        cap = transformer.TransformerCapture
        for name in ("open", "close", "rows", "patterns", "_on_call"):
            self._patch(cap, name, self._timed(getattr(cap, name)))
        block_hook = cap._block_hook
        self._patch(cap, "_block_hook", lambda tx, name: self._timed(block_hook(tx, name)))
        mode = attention.AttentionMode
        through = mode.__torch_function__
        timer = self

        def counted(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN202
            timer.mode_calls += 1
            return through(self, func, types, args, kwargs)

        self._patch(mode, "__torch_function__", counted)
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, value in reversed(self._saved):
            setattr(owner, name, value)

    def _patch(self, owner: object, name: str, value: object) -> None:
        self._saved.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, value)

    def _timed(self, f: Callable[..., object]) -> Callable[..., object]:
        def timed(*a: object, **k: object) -> object:
            t0 = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                self.seconds += time.perf_counter() - t0

        return timed


def _mode_cost(mode: type, calls: int = 5000) -> float:
    """Seconds the attention mode adds to one torch call it passes through (best of 5)."""
    x = torch.zeros(4, 4)

    def loop() -> float:
        t0 = time.perf_counter()
        for _ in range(calls):
            x.view(-1)
        return time.perf_counter() - t0

    bare = min(loop() for _ in range(5))
    with mode(lambda *a: None):
        seen = min(loop() for _ in range(5))
    return max(seen - bare, 0.0) / calls


#: (seconds inside the transformer capture, total seconds) of each timed run, per case.
TIMED: dict[str, list[tuple[float, float]]] = {}


#: Variants trained alone (against plain alone): their background threads work all the time.
ALONE = ("deepscope every=1 + hist", "tensorboard hist w+g")


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


class Training:
    """One variant's model, optimizer and instrumentation, trained a step at a time."""

    def __init__(self, case: Case, variant: str, root: str, device: str) -> None:
        torch.manual_seed(0)
        self.case, self.variant, self.device = case, variant, device
        self.model, self.batch, self.loss_fn = case.build(device)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-4)
        self.run = self.tb = self.timer = None
        self.handles: list[object] = []
        self.times: list[float] = []
        model, opt = self.model, self.opt
        if variant.startswith("deepscope"):
            self.run = run = ds.init(name="bench", dir=root)
            if variant == "deepscope default, transformer timed":
                self.timer = TransformerTimer().__enter__()
                run.watch(model, optimizer=opt)
            elif variant == "deepscope default":
                run.watch(model, optimizer=opt)
            elif variant == "deepscope default, no transformer":
                run.watch(model, optimizer=opt, transformer=False)
            elif variant == "deepscope default + probe":
                first, _ = self.batch(0)
                probe = {"input_ids": first[:1]} if isinstance(first, torch.Tensor) and \
                    not first.is_floating_point() else first[:1]
                run.watch(model, optimizer=opt, probe=probe)
            elif variant == "deepscope economy":
                run.watch(model, optimizer=opt, preset="economy")
            else:
                run.watch(model, optimizer=opt, every=1, histograms=True)
        elif variant == "tensorboard hist w+g":
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(tempfile.mkdtemp(dir=root))
        elif variant == "hand hook mean/std":
            sink: list[torch.Tensor] = []

            def hook(_m, _i, out):  # noqa: ANN001, ANN202 - the minimal hook people write by hand
                if isinstance(out, torch.Tensor):
                    sink.append(torch.stack([out.detach().mean(), out.detach().std()]).cpu())

            self.handles = [m.register_forward_hook(hook) for m in model.modules()
                            if not list(m.children())]

    def step(self, i: int) -> None:
        if self.timer is not None and i == self.case.warmup:  # counted like the steps
            self.timer.seconds, self.timer.mode_calls = 0.0, 0
        model, opt, run, tb = self.model, self.opt, self.run, self.tb
        x, y = self.batch(i)
        _sync(self.device)
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = self.loss_fn(model, x, y)
        loss.backward()
        opt.step()
        value = loss.item()
        if run is not None:
            run.log({"train/loss": value}, step=i)
        if tb is not None:
            tb.add_scalar("train/loss", value, i)
            for name, p in model.named_parameters():
                tb.add_histogram(f"w/{name}", p, i)
                tb.add_histogram(f"g/{name}", p.grad, i)
        _sync(self.device)
        self.times.append(time.perf_counter() - t0)

    def end(self) -> np.ndarray:
        """Finish (counted in the last step: the user waits for it); the timed steps."""
        times = self.times
        if self.run is not None:
            t0 = time.perf_counter()
            self.run.finish()
            times[-1] += time.perf_counter() - t0
        if self.tb is not None:
            self.tb.close()
        if self.timer is not None:
            self.timer.__exit__()
            TIMED.setdefault(self.case.title, []).append(
                (self.timer.total, sum(times[self.case.warmup:])))
        for h in self.handles:
            h.remove()  # type: ignore[attr-defined]
        return np.array(times[self.case.warmup:])


def run_lockstep(case: Case, variants: list[str], steps: int, root: str, device: str
                 ) -> dict[str, np.ndarray]:
    """Train the variants at once, one step of each in turn (the order rotating every step):
    a drift in machine speed, seconds long on a shared machine, hits every variant's step
    ``i`` alike instead of whichever variant ran in those seconds.
    """
    runs = [Training(case, v, root, device) for v in variants]
    for i in range(case.warmup + steps):
        k = i % len(runs)
        for t in runs[k:] + runs[:k]:
            t.step(i)
    out = {}
    for t in runs:
        out[t.variant] = t.end()
        del t.model, t.opt
    return out


def _sampled(case: Case, steps: int, every: int = 10) -> np.ndarray:
    idx = np.arange(case.warmup, case.warmup + steps)
    return idx % every == 0


def report(case: Case, res: dict[str, list[np.ndarray]], base: dict[str, list[np.ndarray]],
           steps: int) -> None:
    """One line per variant: median and mean step against the plain copies it trained beside
    (``base[v]``), with the per-repetition spread of the mean ratio."""
    sampled = _sampled(case, steps)
    after = np.roll(sampled, 1)
    ratio: dict[str, float] = {}
    for v in [v for v in VARIANTS if res.get(v)]:
        plain = base.get(v) or res["plain"]
        plain_mean = float(np.mean([t.mean() for t in plain]))
        plain_med = float(np.median([np.median(t) for t in plain]))
        mean = float(np.mean([t.mean() for t in res[v]]))
        med = float(np.median([np.median(t) for t in res[v]]))
        ratio[v] = mean / plain_mean
        reps = ", ".join(f"{a.mean() / b.mean():.2f}" for a, b in zip(res[v], plain, strict=True))
        extra = f"  (per repetition {reps})" if v != "plain" else ""
        if v == "deepscope default":
            s = float(np.mean([t[sampled].mean() for t in res[v]]))
            a = float(np.mean([t[after].mean() for t in res[v]]))
            extra += f"  sampled step {s / plain_mean:5.2f}x, next step {a / plain_mean:5.2f}x"
        print(f"{case.title:28s} {v:34s} {med * 1e3:10.2f}ms {med / plain_med:6.2f}x "
              f"{mean * 1e3:10.2f}ms {mean / plain_mean:6.3f}x{extra}", flush=True)
    _transformer_cost(case, res, base)
    _transformer_timed(case, steps)
    tb, full = ratio.get("tensorboard hist w+g"), ratio.get("deepscope every=1 + hist")
    if tb is None or full is None:
        return
    print(f"{case.title:28s} {'-> every=1+hist vs TB':34s} {'':>12s} {tb / full:6.2f}x faster",
          flush=True)


def _transformer_cost(case: Case, res: dict[str, list[np.ndarray]],
                      base: dict[str, list[np.ndarray]]) -> None:
    """What the transformer capture (and the probe) add to the default watch's total time:
    the ratio of the two variants' ratios to their plain copies, per repetition and overall."""
    off = "deepscope default, no transformer"
    if not res.get(off):
        return

    def ratios(v: str) -> np.ndarray:
        plain = base.get(v) or res["plain"]
        return np.array([a.mean() / b.mean() for a, b in zip(res[v], plain, strict=True)])

    for v in ("deepscope default", "deepscope default + probe"):
        if not res.get(v):
            continue
        per_rep = 100 * (ratios(v) / ratios(off) - 1)
        total = 100 * (ratios(v).mean() / ratios(off).mean() - 1)
        spread = ", ".join(f"{x:+.1f}%" for x in per_rep)
        print(f"{case.title:28s} {'-> ' + v[10:] + ' vs no transformer':34s} {total:+10.2f}% "
              f"(per repetition: {spread})", flush=True)


def _transformer_timed(case: Case, steps: int) -> None:
    """The transformer capture's own time as a share of the default watch's total time."""
    timed = TIMED.get(case.title)
    if not timed:
        return
    inside = sum(t for t, _ in timed)
    total = sum(t for _, t in timed)
    sampled = int(_sampled(case, steps).sum()) * len(timed)
    per = ", ".join(f"{100 * t / tot:.2f}%" for t, tot in timed)
    label = "-> transformer capture, timed inside"
    print(f"{case.title:28s} {label:34s} {100 * inside / total:10.2f}% of the total time, "
          f"{1e3 * inside / max(sampled, 1):.1f} ms per sampled step "
          f"(per repetition: {per})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer steps (noisier)")
    ap.add_argument("--only", default="", help="run only cases whose title contains this")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--variants", default="", help="comma-separated variants to run (plain "
                    "always runs), e.g. 'default,no transformer,probe'")
    ap.add_argument("--sequential", action="store_true", help="train the variants one after "
                    "another instead of each in lockstep beside a plain copy")
    ap.add_argument("--pair-all", action="store_true", help="train every variant in lockstep "
                    "beside a plain copy, every-step histograms and TensorBoard too (their threads "
                    "slow the plain copy a little: the ratio errs towards 1; alone, the drift of "
                    "the machine is in it)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"device {args.device}, {args.threads} threads, {args.reps} interleaved repetitions; "
          "ratio = variant / plain (mean = total time)")
    print(f"{'model':28s} {'variant':34s} {'median step':>12s} {'ratio':>7s} "
          f"{'mean step':>12s} {'ratio':>7s}")
    with tempfile.TemporaryDirectory() as root:
        for case in [c for c in CASES if args.only.lower() in c.title.lower()]:
            steps = max(case.steps // 4, 10) if args.quick else case.steps
            res: dict[str, list[np.ndarray]] = {v: [] for v in VARIANTS}
            chosen = _chosen(args.variants)
            # Pairs: a variant's background thread (deepscope's writer) holds the GIL now and
            # then and slows the plain copy beside it too, so a pair errs towards 1 by that
            # thread's share. The variants whose threads work all the time (every-step
            # histograms, TensorBoard's event writer) train alone, against plain alone.
            alone = [v for v in chosen if args.sequential or v == "plain"
                     or (v in ALONE and not args.pair_all)]
            groups = [[v] for v in alone] + [["plain", v] for v in chosen if v not in alone]
            base: dict[str, list[np.ndarray]] = {}  # the plain copies each variant ran beside
            for _rep in range(args.reps):
                solo: list[np.ndarray] = []
                for group in groups:
                    for v, times in run_lockstep(case, group, steps, root, args.device).items():
                        res[v].append(times)
                        if v == "plain":
                            (solo if len(group) == 1 else base.setdefault(group[-1], [])
                             ).append(times)
                for v in alone[1:]:
                    base.setdefault(v, []).extend(solo)
            report(case, res, base, steps)


def _chosen(spec: str) -> list[str]:
    """``plain`` plus the variants whose name ends with one of the comma-separated ``spec``s."""
    if not spec:
        return VARIANTS
    wanted = [w.strip() for w in spec.split(",") if w.strip()]
    return ["plain"] + [v for v in VARIANTS[1:] if any(v.endswith(w) for w in wanted)]


if __name__ == "__main__":
    main()
