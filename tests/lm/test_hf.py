"""The transformers backend on a tiny config-built model: batched scoring equals a plain forward pass,
seeded sampling is reproducible, chat prompts go through the template."""

from __future__ import annotations

import pytest
import torch

from pluralign.lm.base import Score


def reference_logprob(model, tok, prompt_ids, cont_ids):
    """One sequence, no padding, no batching: the plain forward pass batched scoring must match."""
    ids = torch.tensor([prompt_ids + cont_ids])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits.float(), -1)[0]
    return sum(float(logp[len(prompt_ids) + i - 1, t]) for i, t in enumerate(cont_ids))


def test_batched_score_matches_per_sequence_forward(tiny, tiny_lm):
    model, tok = tiny
    prompts = ["a", "hello there, how long", [{"role": "user", "content": "hi"}], "xyz" * 20, "q"]
    conts = ["b", " is this?", "fine thanks", "!", ""]
    tiny_lm.batch_size = 3  # forces batches with padding of mixed lengths
    scores = tiny_lm.score(prompts, conts)
    for p, c, s in zip(prompts, conts, scores):
        p_ids = tiny_lm.encode_prompt(p)
        c_ids = tok(c, add_special_tokens=False)["input_ids"] if c else []
        assert s.n_tokens == len(c_ids)
        expected = reference_logprob(model, tok, p_ids, c_ids) if c_ids else 0.0
        assert s.logprob == pytest.approx(expected, abs=1e-4)


def test_chat_prompt_uses_template(tiny_lm):
    text, templated = tiny_lm.render([{"role": "user", "content": "hi"}])
    assert templated and text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tiny_lm.render("raw") == ("raw", False)
    with pytest.raises(ValueError, match="role, content"):
        tiny_lm.render([{"text": "no role"}])


def test_generation_shapes_and_seeds(tiny_lm):
    prompts = ["abc", [{"role": "user", "content": "hello"}], "a longer prompt than the others"]
    first = tiny_lm.generate(prompts, n=3, temperature=1.0, max_new_tokens=6, seed=7)
    again = tiny_lm.generate(prompts, n=3, temperature=1.0, max_new_tokens=6, seed=7)
    other = tiny_lm.generate(prompts, n=3, temperature=1.0, max_new_tokens=6, seed=8)
    assert len(first) == 3 and all(len(s) == 3 for s in first)
    assert first == again
    assert first != other
    greedy = tiny_lm.generate(prompts, n=2, temperature=0.0, max_new_tokens=6)
    assert all(a == b for a, b in greedy)


def test_bad_sampling_arguments(tiny_lm):
    with pytest.raises(ValueError, match="top_p"):
        tiny_lm.generate(["x"], top_p=0.0)
    with pytest.raises(ValueError, match="continuations"):
        tiny_lm.score(["x", "y"], ["z"])


def test_load_model_errors(tmp_path):
    from pluralign.errors import InputError
    from pluralign.lm import load_model

    with pytest.raises(InputError, match="model not found"):
        load_model(str(tmp_path / "nope"))
    with pytest.raises(InputError, match="no config.json"):
        load_model(str(tmp_path))


def test_saved_tiny_model_loads_by_path(tmp_path, tiny_lm):
    from pluralign.lm import load_model
    from pluralign.lm.tiny import save_tiny_model

    lm = load_model(str(save_tiny_model(tmp_path / "tiny")), device="cpu")
    assert lm.score(["ab"], ["cd"]) == tiny_lm.score(["ab"], ["cd"])


@pytest.mark.slow
def test_smollm2_generates_and_scores(smollm2):
    """The real default model: a sensible answer beats a wrong one, and chat generation returns text."""
    q = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
    right, wrong = smollm2.score([q, q], ["Paris", "Banana"])
    assert isinstance(right, Score) and right.n_tokens >= 1
    assert right.logprob > wrong.logprob + 3
    [[answer]] = smollm2.generate([q], temperature=0.0, max_new_tokens=8)
    assert "Paris" in answer
    assert smollm2.num_parameters() == 134_515_008
