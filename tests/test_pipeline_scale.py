"""Scale by configuration: a stage's model work on an OpenAI-compatible server named by URL (here `pluralign model
serve`, a real uvicorn process, standing in for vLLM) and training under `accelerate launch` with 2 CPU processes.

Only generation goes over HTTP here: the OpenAI backend refuses to score on a server whose echoed log-probs fail
its counting-sequence check, and a random tiny model fails it by construction."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from pluralign.pipeline.runner import run_pipeline
from pluralign.pipeline.spec import load

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served_tiny(tmp_path):
    from pluralign.lm.tiny import save_tiny_model

    model = save_tiny_model(tmp_path / "tiny")
    port = free_port()
    log = open(tmp_path / "server.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "pluralign.cli", "model", "serve", "--model", str(model), "--port",
                             str(port), "--served-name", "tiny"], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log.seek(0)
                pytest.fail(f"server did not start: {log.read()[-2000:]}")
            time.sleep(0.2)
    yield model, f"openai:http://127.0.0.1:{port}/v1#tiny"
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def test_model_work_on_a_server_and_training_under_accelerate(tmp_path, served_tiny, monkeypatch):
    if not Path(sys.executable).with_name("accelerate").is_file() and shutil.which("accelerate") is None:
        pytest.skip("the accelerate launcher is not installed")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # DDP over 2 CPU processes (gloo)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    model, server = served_tiny
    path = tmp_path / "pipeline.toml"
    path.write_text(f"""
[run]
model = "{model}"

[stages.panel]
n_participants = 12

[stages.opinion]

[stages.constitution]
top_k = 2

[stages.responses]
model = "{server}"
prompts = ["Hi!", "Name a fruit.", "Say a colour."]
styles = ["Be brief.", "Be playful."]
max_new_tokens = 5

[stages.rankings]

[stages.social_choice]
held_out = 1

[stages.train]
method = "dpo"
launcher = {{ kind = "accelerate", num_processes = 2 }}
config = {{ steps = 2, batch_size = 1, max_length = 48, lr = 1e-3, save_every = 2, log_every = 1 }}
""")
    runs = run_pipeline(load(path), tmp_path / "run", console=Console(quiet=True))
    assert {r.status for r in runs} == {"ran"}
    run = tmp_path / "run"
    assert json.loads((run / "responses" / "manifest.json").read_text())["model"] == {"spec": server}
    assert json.loads((run / "responses" / "manifest.json").read_text())["figures"]["model"] == \
        f"tiny@{server[len('openai:'):].split('#')[0]}"  # the candidates came over HTTP
    assert json.loads((run / "train" / "manifest.json").read_text())["model"]["path"] == str(model)
    rank0 = [json.loads(x) for x in (run / "train" / "run" / "metrics.jsonl").read_text().splitlines()]
    rank1 = [json.loads(x) for x in (run / "train" / "run" / "rank1" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rank0] == [r["step"] for r in rank1] == [1, 2]
    assert rank0[-1]["weight_sum"] == pytest.approx(rank1[-1]["weight_sum"], rel=1e-9)  # one model, two processes
    assert (run / "train" / "launch.log").is_file()
    assert (run / "train" / "run" / "model" / "config.json").is_file()
