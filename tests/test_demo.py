"""The demo's whole flow on a tiny model: every stage runs and every artifact is a valid record file."""

from __future__ import annotations

from pluralign.io import read_records


def test_demo_flow_writes_every_stage(tmp_path):
    from pluralign.demo import run_demo
    from pluralign.lm.tiny import save_tiny_model

    model = save_tiny_model(tmp_path / "tiny")
    out = tmp_path / "run"
    figures = run_demo(model=str(model), max_new_tokens=6, out=str(out), train_steps=1)

    votes = read_records(out / "votes.jsonl", "vote")
    assert len(votes) > 400
    constitution = read_records(out / "constitution.json", "constitution")[0]
    assert figures["principles"] == len(constitution.principles) >= 2
    for principle in constitution.principles:
        assert principle.provenance.details["statement"] and principle.provenance.details["group_agree"]
    human = read_records(out / "human_preferences.jsonl", "preference")
    assert human and all(p.provenance.rule.startswith("schulze") and p.provenance.participants for p in human)
    ai = read_records(out / "ai_comparisons.jsonl", "comparison")
    assert len(ai) == len(human)
    assert all(c.provenance.principles[0] in {p.id for p in constitution.principles} for c in ai)
    assert figures["preferences"] == len(read_records(out / "preferences.jsonl", "preference"))
    assert (out / "dpo" / "model" / "config.json").is_file()
