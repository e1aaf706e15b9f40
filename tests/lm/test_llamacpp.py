"""The in-process llama.cpp backend (optional extra) on the default GGUF."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_cpp", reason="needs the optional extra: pip install 'pluralign[llamacpp]' (make llamacpp)")


@pytest.fixture(scope="module")
def cpp():
    from pluralign.lm import load_model

    backend = load_model("llamacpp:default")
    yield backend
    backend.close()


def test_generate_and_seed(cpp):
    chat = [{"role": "user", "content": "Name a colour."}]
    [[a], [b]] = cpp.generate([chat, "One, two, three,"], temperature=0.0, max_new_tokens=6)
    assert a and b
    first = cpp.generate(["Once upon a time"], n=2, temperature=1.0, max_new_tokens=6, seed=5)
    assert first == cpp.generate(["Once upon a time"], n=2, temperature=1.0, max_new_tokens=6, seed=5)


def test_score_agrees_with_transformers(cpp, smollm2):
    """Same GGUF: llama.cpp computes with the quantized weights, transformers with their fp32 dequantization."""
    chat = [{"role": "user", "content": "What is the capital of France?"}]
    prompts = [chat, "The capital of France is", "The capital of France is"]
    conts = ["The capital of France is Paris.", " Paris", " a banana"]
    ours, theirs = cpp.score(prompts, conts), smollm2.score(prompts, conts)
    for a, b in zip(ours, theirs):
        assert a.n_tokens == b.n_tokens
        assert a.logprob == pytest.approx(b.logprob, abs=0.25 * b.n_tokens + 0.25)
    assert ours[1].logprob > ours[2].logprob + 3
