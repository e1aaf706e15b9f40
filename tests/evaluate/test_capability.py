"""Capability parity: reference answers scored per token, the paired difference, and the command on tiny models."""

from __future__ import annotations

import numpy as np
import pytest

from pluralign.evaluate.capability import paired_difference, reference_pairs, token_loglik
from tests.evaluate.test_overton import ITEMS
from tests.evaluate.conftest import write_jsonl


def test_per_token_loglik_matches_score(tiny_lm):
    prompts, answers = reference_pairs(ITEMS)
    assert len(prompts) == 4 and answers[0] == ITEMS[0]["explanation"][0]
    ll = token_loglik(tiny_lm, prompts[:2], answers[:2])
    s = tiny_lm.score(prompts[:1], answers[:1])[0]
    assert ll[0] == pytest.approx(s.logprob / s.n_tokens) and ll[0] < 0


def test_paired_difference():
    d = paired_difference(np.array([1.0, 2.0, 3.0]), np.array([0.5, 1.5, 2.5]))
    assert d.mean == pytest.approx(0.5) and d.low == pytest.approx(0.5) and d.high == pytest.approx(0.5)


def test_command_end_to_end(tmp_path, tiny_dirs, run_cli):
    data = write_jsonl(tmp_path / "o.jsonl", ITEMS)
    code, stdout, err = run_cli("eval", "capability", "--data", data, "-m", tiny_dirs[0], "--baseline", tiny_dirs[1])
    assert code == 0, err
    assert "difference vs baseline" in stdout and "per token" in stdout
