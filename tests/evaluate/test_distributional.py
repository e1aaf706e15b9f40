"""Distributional pluralism: per-question distances, groups ranked, and the command end to end on tiny models."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from pluralign.evaluate.data import Question
from pluralign.evaluate.distributional import evaluate_distributional, score_rows
from tests.evaluate.conftest import write_jsonl


def test_score_rows_by_hand():
    qs = [Question("1", "q", ["a", "b"], "near", [0.9, 0.1]), Question("1", "q", ["a", "b"], "far", [0.1, 0.9]),
          Question("2", "r", ["x", "y", "z"], "near", [1, 0, 0], ordinal=[1.0, 2.0])]
    model = [np.array([0.8, 0.2]), np.array([0.8, 0.2]), np.array([0.5, 0.5, 0.0])]
    result = score_rows(qs, model)
    assert [g for g, _ in result.ranked()] == ["near", "far"]
    assert result.rows[1]["jsd"] == pytest.approx(jensenshannon([0.8, 0.2], [0.1, 0.9], base=2))
    # ordinal: the scale's two options, renormalised: [.5, .5] vs [1, 0] -> W1 = .5 over a span of 1
    assert result.rows[2]["wasserstein_similarity"] == pytest.approx(0.5)
    assert "wasserstein_similarity" not in result.rows[0]
    assert result.similarity["near"].n == 2


def test_tiny_model_distributions(tiny_lm):
    qs = [Question("1", "Tea or coffee?", ["tea", "coffee"], "g1", [0.5, 0.5]),
          Question("1", "Tea or coffee?", ["tea", "coffee"], "g2", [0.9, 0.1]),
          Question("2", "Pick", ["a", "b", "c"], "g1", [0.2, 0.3, 0.5])]
    result = evaluate_distributional(tiny_lm, qs, samples=3)
    assert len(result.rows) == 3 and result.rows[0]["answer"] == result.rows[1]["answer"]  # asked once
    assert all(0 <= r["jsd"] <= 1 and 0 <= r["sampled_jsd"] <= 1 for r in result.rows)
    assert sum(result.rows[2]["answer"]) == pytest.approx(1.0, abs=1e-5)


def test_command_end_to_end(tmp_path, tiny_dirs, run_cli):
    rows = [{"question": f"Question: Q{i}?\nOptions: A. yes B. no C. maybe\nAnswer:", "options": ["yes", "no", "maybe"],
             "attribute": g, "gold_distribution": gold, "id": i}
            for i in range(4) for g, gold in (("North", [0.6, 0.3, 0.1]), ("South", [0.1, 0.3, 0.6]))]
    data = write_jsonl(tmp_path / "q.jsonl", rows)
    out = tmp_path / "rows.jsonl"
    model, base = tiny_dirs
    code, stdout, err = run_cli("eval", "distributional", "--data", data, "-m", model, "--baseline", base,
                                "--limit", "3", "--out", out)
    assert code == 0, err
    assert "North" in stdout and "South" in stdout and "overall" in stdout
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(written) == 12 and {r["model"] for r in written} == {"model", "base"}
    code, _, err = run_cli("eval", "distributional", "--data", write_jsonl(tmp_path / "bad.jsonl", [{"x": 1}]))
    assert code == 2 and "bad.jsonl:1" in err and len(err.strip().splitlines()) == 1
