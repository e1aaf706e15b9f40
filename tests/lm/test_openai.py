"""The OpenAI-compatible backend against a real server: llama-cpp-python's ``llama_cpp.server`` serving the
default GGUF on 127.0.0.1 (the optional ``pluralign[llamacpp]`` extra, which CI installs)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

pytest.importorskip("llama_cpp", reason="needs the optional extra: pip install 'pluralign[llamacpp]' (make llamacpp)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(proc, url: str, log, timeout: float = 180) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"server exited: {log.read()[-2000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                return url
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    pytest.fail(f"server at {url} did not start in {timeout} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from pluralign.lm.cache import default_gguf_path

    port = free_port()
    # The server logs a lot; a file, not a pipe, so it never blocks on a full pipe buffer.
    log = open(tmp_path_factory.mktemp("llama") / "server.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf_path()), "--host", "127.0.0.1",
         "--port", str(port), "--logits_all", "True", "--n_ctx", "1024", "--model_alias", "smollm2",
         "--n_threads", "2"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = wait_until_up(proc, f"http://127.0.0.1:{port}/v1", log)
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def test_generate_over_http(server):
    from pluralign.lm import load_model

    lm = load_model(f"openai:{server}#smollm2")
    q = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
    out = lm.generate([q, "The sky is"], n=2, temperature=0.0, max_new_tokens=8, seed=1)
    assert len(out) == 2 and all(len(samples) == 2 for samples in out)
    assert "Paris" in out[0][0]
    assert out[0][0] == out[0][1]  # greedy is deterministic
    seeded = lm.generate(["Once upon a time"], n=1, temperature=1.0, max_new_tokens=8, seed=3)
    assert seeded == lm.generate(["Once upon a time"], n=1, temperature=1.0, max_new_tokens=8, seed=3)


def test_shifted_server_logprobs_are_refused(server):
    """llama-cpp-python's server shifts echoed log-probs by one token; scoring must refuse, not mislead."""
    from pluralign.lm import load_model
    from pluralign.lm.openai import ScoringUnsupported

    lm = load_model(f"openai:{server}#smollm2")
    with pytest.raises(ScoringUnsupported, match="shifts them by one token"):
        lm.score(["The capital of France is"], [" Paris"])


@pytest.fixture(scope="module")
def pluralign_server(tmp_path_factory):
    """`pluralign model serve` on the default model: a real uvicorn process with OpenAI's log-prob layout."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("serve") / "server.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "pluralign", "model", "serve", "--port", str(port),
                             "--served-name", "smollm2"], stdout=log, stderr=subprocess.STDOUT)
    url = wait_until_up(proc, f"http://127.0.0.1:{port}/v1", log)
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def test_score_over_http_matches_transformers(pluralign_server, smollm2):
    from pluralign.lm import load_model

    lm = load_model(f"openai:{pluralign_server}#smollm2")
    prompts = ["The capital of France is", "The capital of France is", "One, two, three,"]
    conts = [" Paris", " a banana", " four"]
    remote, local = lm.score(prompts, conts), smollm2.score(prompts, conts)
    assert remote[0].logprob > remote[1].logprob + 3
    for r, l in zip(remote, local):
        assert r.n_tokens == l.n_tokens
        assert r.logprob == pytest.approx(l.logprob, abs=1e-3)
    [[answer]] = lm.generate([[{"role": "user", "content": "Say hello."}]], temperature=0.0, max_new_tokens=5)
    assert answer


def test_chat_scoring_needs_a_template(server):
    from pluralign.lm import load_model

    lm = load_model(f"openai:{server}#smollm2")
    with pytest.raises(ValueError, match="chat_template_from"):
        lm.score([[{"role": "user", "content": "hi"}]], ["hello"])


def test_server_without_prompt_logprobs_is_a_clear_error(smollm2):
    """A server that answers completions without echoed log-probs: a real HTTP server on 127.0.0.1."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from pluralign.lm.openai import OpenAIBackend, ScoringUnsupported

    class NoLogprobs(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers["Content-Length"]))
            body = (b'{"id":"x","object":"text_completion","created":0,"model":"m",'
                    b'"choices":[{"index":0,"text":"hi","finish_reason":"length","logprobs":null}]}')
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), NoLogprobs)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        lm = OpenAIBackend(f"http://127.0.0.1:{httpd.server_address[1]}/v1", "m")
        with pytest.raises(ScoringUnsupported, match="prompt log-probs"):
            lm.score(["a"], ["b"])
    finally:
        httpd.shutdown()
