"""option_logprobs with shared prefixes equals scoring every (prompt, option) pair whole, on a Llama and on a
Gemma 3 with sliding-window layers (whose transformers cache cannot be cropped once its window is full)."""

from __future__ import annotations

import numpy as np
import pytest

from pluralign.lm.base import option_distribution, option_logprobs_by_scoring
from pluralign.lm.prefix import common_prefix_length

FEWSHOT = "Question: is the sky blue? Answer: (A) yes (B) no. The answer is: (A)\n" * 3
PROMPTS = [
    FEWSHOT + "Question: is grass red? The answer is:",
    FEWSHOT + "Question: is grass green? The answer is:",
    FEWSHOT + "Question: is grass green? The answer is:",  # a repeated prompt
    "short",
    [{"role": "user", "content": "Which is better, (A) or (B)?"}],
    FEWSHOT,  # a prompt that is entirely the shared prefix of others
]
OPTION_SETS = [
    [" (A", " (B"],  # the letters only differ
    [" (A", " (B", " (C", " (D", " (E", " (F", " (G", " (H", " (I"],
    [" Agree", " Disagree", " Pass"],  # several tokens each on a byte-level tokenizer
    [" A", " AB", " ABC"],  # one option is a prefix of another
]


@pytest.fixture(scope="module", params=["llama", "gemma3"])
def backend(request):
    from pluralign.lm.hf import HFBackend
    from pluralign.lm.tiny import tiny_gemma3, tiny_model

    model, tok = tiny_model(seed=1) if request.param == "llama" else tiny_gemma3(seed=1, sliding_window=4)
    return HFBackend(model_obj=model, tokenizer=tok, device="cpu", batch_size=3)


@pytest.mark.parametrize("options", OPTION_SETS, ids=["letters", "nine", "words", "nested"])
@pytest.mark.parametrize("per_pass", [1, 2, 3, 8])
def test_equals_whole_scoring(backend, options, per_pass):
    whole = option_logprobs_by_scoring(backend, PROMPTS, options)
    fast = backend.option_logprobs(PROMPTS, options, prompts_per_pass=per_pass)
    assert fast.shape == (len(PROMPTS), len(options))
    np.testing.assert_allclose(fast, whole, atol=2e-4)


def test_progress_counts_every_prompt(backend):
    seen = []
    backend.option_logprobs(PROMPTS, [" (A", " (B"], progress=seen.append)
    assert sum(seen) == len(PROMPTS)


def test_bad_options_are_refused(backend):
    for bad in ([], [""], [" A", " A"], " A"):
        with pytest.raises(ValueError):
            backend.option_logprobs(["x"], bad)


def test_distribution_normalises_and_survives_extremes():
    p = option_distribution(np.array([[-1000.0, -1001.0, -2000.0], [0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(p.sum(-1), 1.0)
    np.testing.assert_allclose(p[1], 1 / 3)
    assert p[0, 0] == pytest.approx(1 / (1 + np.exp(-1)))


def test_embed_is_batch_invariant_and_normalised(backend):
    texts = ["a", "a much longer text than the first one", "mid length text", "é ü 中文"]
    together = backend.embed(texts)
    alone = np.concatenate([backend.embed([t]) for t in texts])
    hidden = backend.model.config.get_text_config().hidden_size
    assert together.shape == (4, hidden) and together.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(together, alone, atol=1e-4)
    assert not np.allclose(together[0], together[1])
    assert backend.embed([]).shape == (0, hidden)


def test_common_prefix_length():
    assert common_prefix_length([[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 9]]) == 2
    assert common_prefix_length([[1, 2], [1, 2, 3]]) == 2
    assert common_prefix_length([[7, 1], [8, 1]]) == 0
    assert common_prefix_length([[], [1]]) == 0


def test_no_deprecation_warnings_from_our_calls(backend, recwarn, caplog):
    """Users of every command see no transformers deprecation notices caused by how we call the model."""
    import logging

    caplog.set_level(logging.WARNING)
    backend.option_logprobs(PROMPTS, [" Agree", " Disagree"])
    backend.score(["hi"], [" there"])
    backend.embed(["hi"])
    backend.generate(["hi"], max_new_tokens=2, temperature=0.0)
    said = [str(w.message) for w in recwarn] + [r.getMessage() for r in caplog.records]
    assert not [s for s in said if "deprecat" in s.lower()], said
