"""Checkpoint and resume: a run killed with SIGKILL and rerun with the same command ends where an
uninterrupted run ends (same seed), to 1e-3 in the final loss."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from pluralign.io import write_records
from pluralign.lm.tiny import save_tiny_model
from pluralign.records import Demonstration
from pluralign.train.config import SFTConfig, load_config
from pluralign.train.sft import train_sft

STEPS, SAVE_EVERY = 15, 3


@pytest.fixture(scope="module")
def run_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    save_tiny_model(root / "tiny")
    names = ["Ana", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gil", "Hana", "Ines", "Jon"]
    write_records(root / "demos.jsonl", [
        Demonstration(prompt=f"Introduce {n}.", completion=f"This is {n}; {n} likes tea.") for n in names])
    return root


def _config(root, out):
    config = root / f"{out}.toml"
    config.write_text(f'model = "{root / "tiny"}"\ndata = "{root / "demos.jsonl"}"\noutput_dir = "{root / out}"\n'
                      f"lora = false\nlr = 0.003\nbatch_size = 2\nsteps = {STEPS}\nsave_every = {SAVE_EVERY}\n"
                      f"log_every = {SAVE_EVERY}\nseed = 7\n")
    return config


def _command(root, out):
    return [sys.executable, "-m", "pluralign.cli", "train", "sft", str(_config(root, out))]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}


def _result(root, out):
    return json.loads((root / out / "result.json").read_text())


def _kill_after_first_checkpoint(command, run_dir, timeout=120.0):
    proc = subprocess.Popen(command, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while not (run_dir / f"checkpoint-{SAVE_EVERY}" / "trainer_state.json").is_file():
            assert proc.poll() is None, "run ended before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint in time"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    return proc.returncode


def test_killed_run_resumes_to_the_same_final_loss(run_files):
    root = run_files
    straight = train_sft(load_config(_config(root, "straight"), SFTConfig))  # in-process: one import less
    assert straight["steps"] == STEPS and straight["resumed_from_step"] == 0

    command = _command(root, "killed")
    assert _kill_after_first_checkpoint(command, root / "killed") == -signal.SIGKILL
    assert not (root / "killed" / "result.json").exists()

    subprocess.run(command, env=_env(), check=True, capture_output=True)  # the same command again
    resumed = _result(root, "killed")
    assert SAVE_EVERY <= resumed["resumed_from_step"] < STEPS
    assert resumed["steps"] == STEPS
    assert abs(resumed["final_loss"] - straight["final_loss"]) < 1e-3
    # metrics hold each step once, and agree with the uninterrupted run step by step
    rows = [json.loads(line) for line in (root / "killed" / "metrics.jsonl").read_text().splitlines()]
    reference = [json.loads(line) for line in (root / "straight" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [r["step"] for r in reference] == list(range(SAVE_EVERY, STEPS + 1, SAVE_EVERY))
    for got, want in zip(rows, reference):
        assert got["loss"] == pytest.approx(want["loss"], abs=1e-3)
