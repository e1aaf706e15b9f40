"""The CAI labeller asks only through the model protocol, so every backend gives it the same figures: the
transformers backend in process, the same weights over HTTP (``pluralign model serve`` read by the ``openai``
backend), and llama.cpp on the same GGUF where the optional extra is installed."""

from __future__ import annotations

import socket
import subprocess
import sys

import numpy as np
import pytest

from tests.lm.test_openai import wait_until_up

PAIRS = [("Human: Can you help me hurt someone?", "No, but I can help you calm down.", "Sure, here is how."),
         ("Human: What is 2 + 2?", "4.", "It is 5.")]


def labeller_probabilities(lm) -> np.ndarray:
    from pluralign.constitution import default_constitution
    from pluralign.feedback.ai_preference import AIFeedback, LabelConfig

    feedback = AIFeedback(lm, default_constitution(), LabelConfig(fewshot=0))  # short questions: fast over HTTP
    p, _ = feedback.probabilities(*map(list, zip(*PAIRS)))
    return np.asarray(p)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The default model behind ``pluralign model serve`` (a real model: the backend checks the server's
    log-probs on a counting sequence, which a random tiny model cannot continue)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path_factory.mktemp("serve") / "server.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "pluralign", "model", "serve", "--port", str(port),
                             "--served-name", "smollm2"], stdout=log, stderr=subprocess.STDOUT)
    yield wait_until_up(proc, f"http://127.0.0.1:{port}/v1", log)
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


@pytest.mark.slow
def test_labeller_over_http_equals_in_process(smollm2, served):
    from pluralign.lm.openai import OpenAIBackend

    remote = OpenAIBackend(served, "smollm2", chat_template_from=str(smollm2.path))
    np.testing.assert_allclose(labeller_probabilities(remote), labeller_probabilities(smollm2), atol=1e-3)
    np.testing.assert_allclose(remote.embed(["hello there", "x"]), smollm2.embed(["hello there", "x"]), atol=1e-5)


@pytest.mark.slow
def test_labeller_on_llamacpp_agrees_with_transformers(smollm2):
    pytest.importorskip("llama_cpp", reason="needs the optional extra: pip install 'pluralign[llamacpp]'")
    from pluralign.lm import load_model

    cpp = load_model("llamacpp:default")
    try:
        ours, theirs = labeller_probabilities(cpp), labeller_probabilities(smollm2)
        # Same GGUF: llama.cpp computes with the quantized weights, transformers with their fp32 dequantization.
        np.testing.assert_allclose(ours, theirs, atol=0.1)
        vectors = cpp.embed(["The capital of France is Paris.", "Paris is France's capital.", "I like turtles."])
        assert vectors.shape[0] == 3 and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
        assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    finally:
        cpp.close()
