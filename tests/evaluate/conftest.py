"""Fixtures for the evaluation tests: two tiny saved models (a "model" and its "baseline"), small data files in
the shared layouts, and the CLI run in-process."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory):
    """Two tiny transformers directories with different random weights (for --model and --baseline)."""
    from pluralign.lm.tiny import save_tiny_model

    root = tmp_path_factory.mktemp("models")
    return str(save_tiny_model(root / "model", seed=0)), str(save_tiny_model(root / "base", seed=1))


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def run_cli(capsys):
    """Run ``pluralign`` in this process; returns (exit code, stdout, stderr)."""
    from pluralign.cli import main

    def _run(*args):
        code = 0
        try:
            main([str(a) for a in args])
        except SystemExit as ex:
            code = ex.code or 0
        out, err = capsys.readouterr()
        return code, out, err

    return _run
