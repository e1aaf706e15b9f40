"""Reward-hacking monitors: they fire on a synthetic hacking trace, stay quiet on a clean one, and write files."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from pluralign.train.monitors import (
    MetricsLogger,
    RewardHackingWarning,
    from_trl_logs,
    length_explosion,
    proxy_gold_divergence,
)


def _trace(steps: int, proxy_slope: float, gold_slope: float, length_growth: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    proxy = 0.1 * proxy_slope * t + rng.normal(0, 0.05, steps)
    gold = 0.1 * gold_slope * t + rng.normal(0, 0.05, steps)
    length = 20 * (1 + length_growth * t / steps) + rng.normal(0, 1, steps)
    kl = 0.2 * t + rng.normal(0, 0.01, steps)
    return proxy, gold, length, kl


def _run(tmp_path, proxy, gold, length, kl, **kwargs):
    logger = MetricsLogger(tmp_path, window=10, **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in range(len(proxy)):
            logger.log(step, reward=proxy[step], gold=gold[step], response_length=length[step], kl=kl[step])
        fired = logger.finish()
    return logger, fired, [w for w in caught if issubclass(w.category, RewardHackingWarning)]


def test_hacking_trace_fires_both_warnings(tmp_path):
    logger, fired, caught = _run(tmp_path, *_trace(40, proxy_slope=1, gold_slope=-1, length_growth=3))
    assert len(fired) == 2 and len(caught) == 2  # each kind fires once, not every step
    assert any("gold reward falls" in w for w in fired)
    assert any("response length grew" in w for w in fired)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(40))
    assert {"reward", "gold", "kl", "response_length"} <= rows[0].keys()
    assert (tmp_path / "metrics.png").read_bytes()[:4] == b"\x89PNG"
    page = (tmp_path / "metrics.html").read_text()
    assert "gold reward falls" in page and "data:image/png;base64," in page


def test_clean_trace_is_quiet(tmp_path):
    for seed in range(3):  # proxy and gold rise together, length drifts by 30%: nothing to warn about
        _, fired, caught = _run(tmp_path / str(seed), *_trace(40, 1, 1, 0.3, seed=seed))
        assert fired == [] and caught == []
        assert "<li>none</li>" in (tmp_path / str(seed) / "metrics.html").read_text()


def test_check_functions():
    assert proxy_gold_divergence([1, 2, 3, 4], [4, 3, 2, 1], window=4)
    assert proxy_gold_divergence([1, 2, 3], [3, 2, 1], window=4) is None  # not enough steps yet
    assert proxy_gold_divergence([1, 2, 3, 4], [1, 2, 3, 4], window=4) is None
    assert length_explosion([10, 10, 30, 30], factor=2, window=4)
    assert length_explosion([10, 10, 15, 15], factor=2, window=4) is None


def test_gold_scorer_is_applied_to_responses(tmp_path):
    logger = MetricsLogger(tmp_path, gold_scorer=lambda prompts, responses: [len(r) for r in responses])
    row = logger.log(0, prompts=["p", "q"], responses=["ab", "abcd"], reward=1.0)
    assert row["gold"] == 3.0
    with pytest.raises(ValueError, match="one prompt per response"):
        logger.log(1, prompts=["p"], responses=["a", "b"])


def test_resumed_run_replaces_repeated_steps(tmp_path):
    first = MetricsLogger(tmp_path)
    for step in range(5):
        first.log(step, reward=step)
    again = MetricsLogger(tmp_path)  # restarted from a checkpoint at step 3
    again.log(3, reward=30.0)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["reward"]) for r in rows] == [(0, 0.0), (1, 1.0), (2, 2.0), (3, 30.0)]


def test_trl_logs_are_mapped():
    logs = {"reward": 0.5, "rewards/proxy/mean": 0.5, "rewards/gold/mean": 0.1, "kl": 0.02,
            "completions/mean_length": 10.0, "loss": 1.5, "note": "text"}
    mapped = from_trl_logs(logs)
    assert mapped["reward"] == 0.5 and mapped["gold"] == 0.1 and mapped["response_length"] == 10.0
    assert mapped["kl"] == pytest.approx(0.2) and mapped["kl_per_token"] == 0.02 and "note" not in mapped

