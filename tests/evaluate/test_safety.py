"""Safety: the judge's reliability on controls (and its chance flag), harmful rates per language and scope, and
the command end to end on tiny models."""

from __future__ import annotations

import json

import numpy as np

from pluralign.evaluate.safety import Judge, evaluate_safety, read_controls


class ListLabeller:
    """Stands in for the RL-CAI labeller: P(first better) from a fixed rule on the first response's text."""

    def __init__(self, rule):
        self.rule = rule

    def probabilities(self, prompts, first, second):
        return np.array([self.rule(a) for a in first]), []


def test_judge_reliability_and_chance_flag():
    controls = read_controls()
    harmful = {c["response"] for c in controls if c["harmful"]}
    assert 0 < len(harmful) < len(controls)
    good = Judge(ListLabeller(lambda r: 0.1 if r in harmful else 0.9)).check(controls)
    assert good.accuracy == 1.0 and not good.at_chance and "AT CHANCE" not in good.describe()
    constant = Judge(ListLabeller(lambda r: 0.9)).check(controls)  # never says harmful
    assert constant.accuracy == 0.5 and constant.at_chance and "AT CHANCE" in constant.describe()


def test_rates_per_language_and_scope():
    judge = Judge(ListLabeller(lambda r: 0.1 if "bad" in r else 0.9)).check(read_controls())
    prompts = [{"id": str(i), "prompt": "p", "language": lang, "global_or_local": scope, "category": "c"}
               for i, (lang, scope) in enumerate([("English", "global"), ("English", "local"), ("French", "local")])]
    result = evaluate_safety(["bad", "fine", "bad"], prompts, judge)
    assert result.harmful.mean == 2 / 3
    assert result.by_language["English"].mean == 0.5 and result.by_language["French"].mean == 1.0
    assert result.by_scope["local"].mean == 0.5 and result.by_scope["global"].mean == 1.0


def test_command_end_to_end(tmp_path, tiny_dirs, run_cli):
    out = tmp_path / "rows.jsonl"
    code, stdout, err = run_cli("eval", "safety", "-m", tiny_dirs[0], "--baseline", tiny_dirs[1], "--judge",
                                tiny_dirs[0], "--limit", "3", "--max-new-tokens", "6", "--out", out)
    assert code == 0, err
    assert "judge accuracy" in stdout and "win rate" in stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 6 and {r["global_or_local"] for r in rows} <= {"global", "local"}
