"""Panel agreement: the model's votes vs each opinion group's, by hand and end to end on a simulated panel."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pluralign.evaluate.panel import PanelVotes, score_panel


def test_score_panel_by_hand():
    # Group 0 agrees with both statements, group 1 disagrees with both; group 1 never saw statement "b".
    counts = np.array([[[8, 1, 1], [9, 1, 0]], [[1, 8, 1], [0, 0, 0]]], dtype=float)
    panel = PanelVotes(["a", "b"], ["A?", "B?"], counts)
    result = score_panel([np.array([0.7, 0.2, 0.1]), np.array([0.6, 0.3, 0.1])], panel)
    assert result.sides_with["group 0"].mean == 1.0 and result.sides_with["group 0"].n == 2
    assert result.sides_with["group 1"].mean == 0.0 and result.sides_with["group 1"].n == 1
    assert result.closest == {"group 0": 1.0, "group 1": 0.0}
    assert result.similarity["group 0"].mean > result.similarity["group 1"].mean
    assert result.rows[1]["groups"].keys() == {"0"}


def test_command_on_a_simulated_panel(tmp_path, tiny_dirs, run_cli):
    from pluralign.io import write_records
    from pluralign.participants.simulate import simulate_votes

    _, statements, votes = simulate_votes(seed=0)
    write_records(tmp_path / "votes.jsonl", votes)
    write_records(tmp_path / "statements.jsonl", statements)
    out = tmp_path / "rows.jsonl"
    code, stdout, err = run_cli("eval", "panel", "--votes", tmp_path / "votes.jsonl", "--statements",
                                tmp_path / "statements.jsonl", "-m", tiny_dirs[0], "--baseline", tiny_dirs[1],
                                "--limit", "5", "--out", out)
    assert code == 0, err
    assert "group 0" in stdout and "sides with" in stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 10 and all(sum(r["answer"]) == pytest.approx(1, abs=1e-5) for r in rows)
    assert all(r["groups"] for r in rows)
