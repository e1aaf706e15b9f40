"""Data-parallel training: the same ``pluralign train`` command under ``accelerate launch`` with two CPU
processes (DDP on gloo); both ranks must see the same loss and end every step with the same weights."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pluralign.io import write_records
from pluralign.lm.tiny import save_tiny_model
from pluralign.records import Demonstration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_two_processes_agree_on_loss_and_weights(tmp_path):
    accelerate = Path(sys.executable).with_name("accelerate")
    if not accelerate.is_file() and shutil.which("accelerate") is None:
        pytest.skip("the accelerate launcher is not installed")
    save_tiny_model(tmp_path / "tiny")
    words = ["red", "green", "blue", "teal", "gold", "pink", "gray", "navy"]
    write_records(tmp_path / "demos.jsonl", [
        Demonstration(prompt=f"Name a {w} thing.", completion=f"A {w} ball.") for w in words])
    command = [
        str(accelerate if accelerate.is_file() else "accelerate"), "launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(_free_port()),
        "-m", "pluralign.cli", "train", "sft", "--model", str(tmp_path / "tiny"), "--data", str(tmp_path / "demos.jsonl"),
        "--out-dir", str(tmp_path / "run"), "--full", "--steps", "4", "--batch-size", "2", "--lr", "0.003",
        "--set", "log_every=1", "--set", "save_every=4",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
           "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]

    rank0, rank1 = _rows(tmp_path / "run" / "metrics.jsonl"), _rows(tmp_path / "run" / "rank1" / "metrics.jsonl")
    assert [r["step"] for r in rank0] == [r["step"] for r in rank1] == [1, 2, 3, 4]
    # 8 examples, 2 per process per step, 2 processes: an epoch every 2 steps (one process would need 4)
    assert rank0[0]["epoch"] == pytest.approx(0.5)
    for a, b in zip(rank0, rank1):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-6)
        assert a["weight_sum"] == pytest.approx(b["weight_sum"], rel=1e-9)
    assert rank0[0]["weight_sum"] != pytest.approx(rank0[-1]["weight_sum"], rel=1e-9)  # it did train
    assert (tmp_path / "run" / "model" / "config.json").is_file()
