"""Steerable pluralism: the three steering formats, the gain, and the command end to end on tiny models."""

from __future__ import annotations

import json

import pytest

from pluralign.evaluate.ask import AskConfig
from pluralign.evaluate.data import Question
from pluralign.evaluate.steerable import evaluate_steering, persona
from tests.evaluate.conftest import write_jsonl


def test_personas():
    assert persona("POLPARTY_Republican", "qa").endswith("Answer: Republican")
    assert "I consider myself a Democrat." in persona("POLPARTY_Democrat", "bio")
    assert persona("RELIG_Hindu", "portray").startswith("Answer the following question as if")
    assert "Hindu" in persona("RELIG_Hindu", "portray")
    with pytest.raises(ValueError):
        persona("SEX_Male", "poem")


def test_gain_is_steered_minus_unsteered(tiny_lm):
    qs = [Question("1", "Tea?", ["yes", "no"], "SEX_Male", [0.9, 0.1]),
          Question("1", "Tea?", ["yes", "no"], "SEX_Female", [0.2, 0.8])]
    result = evaluate_steering(tiny_lm, qs, AskConfig(rotations="none"), style="bio")
    for row in result.rows:
        assert row["gain"] == pytest.approx(row["steered"] - row["unsteered"])
    assert result.rows[0]["unsteered"] != result.rows[1]["unsteered"]  # same answer, different gold
    assert result.rows[0]["answer_steered"] != result.rows[1]["answer_steered"]  # a different persona


def test_command_end_to_end(tmp_path, tiny_dirs, run_cli):
    oqa = write_jsonl(tmp_path / "oqa.jsonl", [
        {"question": "Question: Q?\nOptions: A. x B. y\nAnswer:", "options": ["x", "y"], "attribute": g,
         "gold_distribution": gold, "id": 1} for g, gold in (("POLPARTY_Republican", [0.8, 0.2]),
                                                              ("POLPARTY_Democrat", [0.3, 0.7]))])
    vk = write_jsonl(tmp_path / "vk.jsonl", [{"situation": "s", "vrd": v, "label": lab, "id": i}
                                             for i, (v, lab) in enumerate([("Honesty", "A"), ("Safety", "B"), ("Care", "C")])])
    out = tmp_path / "rows.jsonl"
    code, stdout, err = run_cli("eval", "steerable", "--opinionqa", oqa, "--kaleidoscope", vk, "--format", "qa",
                                "-m", tiny_dirs[0], "--baseline", tiny_dirs[1], "--out", out)
    assert code == 0, err
    assert "macro-F1" in stdout and "POLPARTY_Democrat" in stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sum(r["task"] == "kaleidoscope" for r in rows) == 6 and sum(r["task"] == "opinionqa" for r in rows) == 4
    code, _, err = run_cli("eval", "steerable", "-m", tiny_dirs[0])
    assert code == 2 and "--opinionqa" in err
