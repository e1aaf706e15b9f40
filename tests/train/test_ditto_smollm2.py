"""One real, short DITTO run on SmolLM2-135M-Instruct: SFT, two samplings, two DPO updates, a usable model."""

from __future__ import annotations

import json
import math

import pytest

from pluralign.io import read_records, write_records
from pluralign.records import Demonstration, Preference


@pytest.mark.slow
def test_short_run_on_smollm2(tmp_path):
    from pluralign.lm import load_model
    from pluralign.train.ditto.config import DittoConfig
    from pluralign.train.ditto.loop import train_ditto

    write_records(tmp_path / "demos.jsonl", [
        Demonstration(id="tea", prompt="How do you take your tea?", completion="Black, no sugar; always.",
                      author="kim"),
        Demonstration(id="rain", prompt="What do you think of rain?", completion="Rain? Lovely; truly lovely.",
                      author="kim")])
    cfg = DittoConfig(demos=str(tmp_path / "demos.jsonl"), output_dir=str(tmp_path / "run"), sft_steps=1,
                      sft_batch_size=2, steps=2, resample_every=1, samples=2, batch_size=3, demo_tokens=16,
                      max_new_tokens=8, max_length=48, sample_batch=2, save_every=2)
    result = train_ditto(cfg)
    run = tmp_path / "run"
    for step in (0, 1):
        rows = [json.loads(line) for line in (run / "samples" / f"step-{step:06d}.jsonl").read_text().splitlines()]
        assert sorted(r["demo_id"] for r in rows) == ["rain", "tea"] and all(len(r["samples"]) == 2 for r in rows)
    second = read_records(run / "pairs" / "step-000001.jsonl", Preference)
    assert sorted(p.provenance.details["kind"] for p in second) == ["expert", "expert", "replay"]
    assert result["pairs"] == {"expert": 4, "replay": 1, "intermodel": 0}
    first = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
    assert math.isclose(first["loss"], math.log(2), rel_tol=1e-3)  # the policy starts as its reference (SFT)
    outputs = load_model(str(run / "model")).generate(["Hello"], n=1, temperature=0.0, max_new_tokens=4)
    assert isinstance(outputs[0][0], str)
