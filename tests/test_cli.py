"""The command line as a user runs it: help, model info, generate with a progress bar, and exit 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def run(capsys):
    """Run the CLI in this process (one torch import for the whole module) and capture what it prints."""
    from pluralign.cli import main

    def _run(*args, check=True):
        code = 0
        try:
            main(list(args))
        except SystemExit as ex:
            code = ex.code or 0
        out, err = capsys.readouterr()
        if check:
            assert code == 0, err
        return Result(code, out, err)

    return _run


def test_entry_point_exits_2_on_bad_input(tmp_path):
    """The installed entry point, as a separate process: status 2 and one line on stderr."""
    proc = subprocess.run([sys.executable, "-m", "pluralign", "generate", "--prompts", str(tmp_path / "none.jsonl"),
                           "--out", str(tmp_path / "o.jsonl")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {tmp_path / 'none.jsonl'}: cannot read: No such file or directory"


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from pluralign.lm.tiny import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def test_model_info(run, tiny_dir):
    out = run("model", "info", "--model", str(tiny_dir)).stdout
    assert "parameters:" in out and str(tiny_dir) in out


def test_generate_writes_every_prompt(run, tmp_path, tiny_dir):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"id": "x", "prompt": "hello"}\n{"prompt": [{"role": "user", "content": "hi"}]}\n')
    out = tmp_path / "out.jsonl"
    run("generate", "--prompts", str(prompts), "--out", str(out), "--model", str(tiny_dir), "--n", "2",
        "--max-new-tokens", "4")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["x", "2"]
    assert all(len(r["responses"]) == 2 and r["model"] == "model" for r in rows)


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"prompt": "ok"}\n{"text": "no prompt"}\n', "p.jsonl:2: field 'prompt': missing"),
        ('{"prompt": "ok"}\n{"prompt": [{"content": "x"}]}\n', "p.jsonl:2: field 'prompt'"),
        ('{"prompt": "ok"}\nnot json\n', "p.jsonl:2: invalid JSON"),
    ],
)
def test_bad_prompts_exit_2_and_write_nothing(run, tmp_path, tiny_dir, content, message):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(content)
    out = tmp_path / "out.jsonl"
    proc = run("generate", "--prompts", str(prompts), "--out", str(out), "--model", str(tiny_dir), check=False)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_missing_model_exits_2(run, tmp_path):
    proc = run("model", "info", "--model", str(tmp_path / "missing"), check=False)
    assert proc.returncode == 2 and "model not found" in proc.stderr


def test_usage_errors_exit_2_without_a_traceback():
    proc = subprocess.run([sys.executable, "-m", "pluralign", "generate", "--bogus"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2
    assert "No such option: --bogus" in proc.stderr and "Traceback" not in proc.stderr
