"""Reward-hacking monitors: log every RL/DPO step, plot it, and warn when the proxy reward is being gamed.

Goodhart's law in RLHF: the policy optimises a *proxy* (a learned reward model), so a rising proxy reward is
no proof of a better model. Two cheap symptoms are checked online, over a trailing ``window`` of logged steps:

- **proxy up, gold down** -- the proxy reward's least-squares slope over the window is positive and the gold
  reward's is negative, each significant at ``p < 0.05`` (a t-test on the slope, ``scipy.stats.linregress``);
- **length explosion** -- the mean response length of the latest half-window exceeds ``length_explosion`` times
  the mean of the first half-window of the run (reward models often like long answers).

Each fires once per run as a :class:`RewardHackingWarning` (``warnings.warn`` and the ``pluralign.train`` logger).

Files in ``output_dir``: ``metrics.jsonl`` (one JSON object per logged step, appended as it happens),
``metrics.png`` (reward vs KL; length over steps; proxy vs gold) and ``metrics.html`` (the plot, the warnings and
the last step's figures).
"""

from __future__ import annotations

import base64
import html
import json
import logging
import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from pluralign.io import atomic_path, iter_jsonl, write_jsonl

log = logging.getLogger("pluralign.train")

Scorer = Callable[[Sequence, Sequence[str]], Sequence[float]]


class RewardHackingWarning(UserWarning):
    """The proxy reward looks gamed: it rises while the gold reward falls, or responses grow without bound."""


# ---- the checks: small pure functions over the history -----------------------------------------------------
def _significant_slope(values: Sequence[float]) -> float:
    """Least-squares slope of ``values`` against their index, or 0.0 when it is not significant (p >= 0.05)."""
    from scipy.stats import linregress

    y = np.asarray(values, dtype=float)
    if len(y) < 3 or np.ptp(y) == 0:
        return 0.0
    fit = linregress(np.arange(len(y)), y)
    return float(fit.slope) if fit.pvalue < 0.05 else 0.0


def proxy_gold_divergence(proxy: Sequence[float], gold: Sequence[float], window: int) -> str | None:
    """A message when, over the last ``window`` steps, the proxy reward rises and the gold reward falls."""
    if len(proxy) < window or len(gold) < window:
        return None
    up, down = _significant_slope(proxy[-window:]), _significant_slope(gold[-window:])
    if up > 0 and down < 0:
        return (f"proxy reward rises ({up:+.3g}/step) while gold reward falls ({down:+.3g}/step) "
                f"over the last {window} steps: the policy may be hacking the reward model")
    return None


def length_explosion(lengths: Sequence[float], factor: float, window: int) -> str | None:
    """A message when the latest half-window's mean length exceeds ``factor`` x the first half-window's mean."""
    if len(lengths) < window:
        return None
    half = max(1, window // 2)
    start, now = float(np.mean(lengths[:half])), float(np.mean(lengths[-half:]))
    if start > 0 and now > factor * start:
        return (f"mean response length grew {now / start:.2f}x (from {start:.1f} to {now:.1f}), "
                f"past the {factor:g}x limit: the reward may favour length")
    return None


# ---- the logger ------------------------------------------------------------------------------------------
class MetricsLogger:
    """Append per-step metrics to ``output_dir/metrics.jsonl`` and watch them for reward hacking.

    Args:
        output_dir: where ``metrics.jsonl``, ``metrics.png`` and ``metrics.html`` go.
        gold_scorer: optional second scorer ``f(prompts, responses) -> list[float]``, never optimised; when
            :meth:`log` receives the step's prompts and responses, their mean gold score is logged as ``gold``.
        length_explosion: warn when mean response length grows past this factor of its start.
        window: number of logged steps each check looks at.

    Canonical metric names (others are logged as given): ``reward`` (mean proxy reward), ``gold``,
    ``kl`` (mean summed KL to the reference, nats per response), ``response_length`` (mean tokens), ``loss``,
    ``beta``. A restarted run that logs a step it already logged replaces that step and everything after it.
    """

    def __init__(self, output_dir: str | Path, gold_scorer: Scorer | None = None, length_explosion: float = 2.0,
                 window: int = 10):
        if length_explosion <= 1:
            raise ValueError(f"length_explosion must be > 1, got {length_explosion}")
        if window < 3:
            raise ValueError(f"window must be >= 3 steps, got {window}")
        self.output_dir = Path(output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.output_dir / "metrics.jsonl"
        self.gold_scorer = gold_scorer
        self.length_factor = length_explosion
        self.window = window
        self.history: list[dict] = [row for _, row in iter_jsonl(self.path)] if self.path.is_file() else []
        self.warnings: list[str] = []
        self._fired: set[str] = set()  # each kind of warning fires once per run

    def log(self, step: int, *, prompts: Sequence | None = None, responses: Sequence[str] | None = None,
            **metrics: float) -> dict:
        """Record one step. Values may be floats, ints or 0-d tensors. Returns the row written."""
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        row: dict = {"step": int(step)}
        for name, value in metrics.items():
            if value is not None:
                row[name] = float(value)
        if self.gold_scorer is not None and responses is not None:
            if prompts is None or len(prompts) != len(responses):
                raise ValueError("the gold scorer needs one prompt per response")
            row["gold"] = float(np.mean(self.gold_scorer(list(prompts), list(responses))))
        if self.history and step <= self.history[-1]["step"]:
            # A resumed run repeats steps after its last checkpoint: keep one copy of each step.
            self.history = [r for r in self.history if r["step"] < step]
            write_jsonl(self.path, self.history)
        self.history.append(row)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        self._check()
        return row

    def series(self, name: str) -> tuple[list[int], list[float]]:
        """(steps, values) of one metric, skipping steps that did not log it."""
        pairs = [(r["step"], r[name]) for r in self.history if name in r and math.isfinite(r[name])]
        return [s for s, _ in pairs], [v for _, v in pairs]

    def _check(self) -> None:
        proxy, gold = self._aligned("reward", "gold")
        found = {
            "proxy_gold": proxy_gold_divergence(proxy, gold, self.window),
            "length": length_explosion(self.series("response_length")[1], self.length_factor, self.window),
        }
        for kind, message in found.items():
            if message and kind not in self._fired:
                self._fired.add(kind)
                message = f"step {self.history[-1]['step']}: {message}"
                self.warnings.append(message)
                log.warning(message)
                warnings.warn(message, RewardHackingWarning, stacklevel=3)

    def _aligned(self, a: str, b: str) -> tuple[list[float], list[float]]:
        rows = [r for r in self.history if a in r and b in r]
        return [r[a] for r in rows], [r[b] for r in rows]

    # ---- the report ------------------------------------------------------------------------------------
    def finish(self) -> list[str]:
        """Write ``metrics.png`` and ``metrics.html``; return the warnings fired during the run."""
        png = self.output_dir / "metrics.png"
        self._plot(png)
        with atomic_path(self.output_dir / "metrics.html") as tmp:
            tmp.write_text(self._html(png), encoding="utf-8")
        return list(self.warnings)

    def _plot(self, path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
        kl, reward = self._aligned("kl", "reward")
        axes[0].scatter(kl, reward, c=range(len(kl)), cmap="viridis", s=14)
        axes[0].set(xlabel="KL to reference (nats)", ylabel="reward", title="reward vs KL")
        axes[1].plot(*self.series("response_length"), marker=".")
        axes[1].set(xlabel="step", ylabel="mean tokens", title="response length")
        axes[2].plot(*self.series("reward"), marker=".", label="proxy")
        if self.series("gold")[0]:
            axes[2].plot(*self.series("gold"), marker=".", label="gold")
        axes[2].set(xlabel="step", ylabel="mean reward", title="proxy vs gold")
        axes[2].legend()
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=90)
        plt.close(fig)

    def _html(self, png: Path) -> str:
        image = base64.b64encode(png.read_bytes()).decode()
        items = "".join(f"<li>{html.escape(w)}</li>" for w in self.warnings) or "<li>none</li>"
        last = self.history[-1] if self.history else {}
        cells = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:.4g}</td></tr>" for k, v in last.items())
        return (f"<!doctype html><html><head><meta charset='utf-8'><title>training metrics</title></head><body>"
                f"<h1>Training metrics</h1><img alt='reward vs KL, length, proxy vs gold' "
                f"src='data:image/png;base64,{image}'><h2>Reward-hacking warnings</h2><ul>{items}</ul>"
                f"<h2>Last step</h2><table>{cells}</table></body></html>")


# ---- TRL / transformers Trainer logs ----------------------------------------------------------------------
# TRL's log names -> ours. GRPO/RLOO log one "rewards/<function name>/mean" per reward function: pluralign names
# the optimised scorer "proxy" and a zero-weight gold scorer "gold" (see pluralign.train.rl_trl).
TRL_NAMES = {
    "rewards/proxy/mean": "reward",
    "rewards/gold/mean": "gold",
    "completions/mean_length": "response_length",
    "rewards/margins": "reward",  # DPO: the implicit reward margin beta * (log-ratio chosen - log-ratio rejected)
    "learning_rate": "lr",
}


def from_trl_logs(logs: dict) -> dict:
    """Map one Trainer ``logs`` dict to our metric names; non-numeric entries are dropped.

    TRL's ``kl`` is a per-token mean; ours is per response, so it is scaled by the mean completion length
    (an approximation: the product of means) and TRL's own figure is kept as ``kl_per_token``.
    """
    out = {}
    for name, value in logs.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out.setdefault(TRL_NAMES.get(name, name.replace("/", "_")), float(value))
    if "kl" in logs:
        out["kl_per_token"] = float(logs["kl"])
        out["kl"] = float(logs["kl"]) * float(logs.get("completions/mean_length", 1.0))
    return out

