"""``pluralign train gpo``, ``gpo predict`` and ``gpo label`` end to end on a small file and a tiny model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pluralign.cli import main
from pluralign.io import read_records
from pluralign.lm.tiny import save_tiny_model

COUNTRIES = [f"Land{i}" for i in range(8)]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpo_cli")
    rng = np.random.default_rng(0)
    rows = []
    for q in range(14):
        for c in COUNTRIES:
            rows.append({"question": f"Question: Is policy {q} good?\nOptions: A. Yes B. No\nAnswer:",
                         "options": ["Yes", "No"], "attribute": c,
                         "gold_distribution": rng.dirichlet([1, 1]).tolist()})
    data = root / "g.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    save_tiny_model(root / "tiny")
    out = root / "run"
    main(_train(root, out))
    return root, out


def _train(root, out, *extra: str) -> list[str]:
    small = ["min_questions=8", "d_model=16", "layers=1", "heads=2", "dim_feedforward=16", "min_context=2",
             "max_context=4", "min_target=2", "max_target=4", "batch_groups=4", "save_every=3", *extra]
    return ["train", "gpo", "--data", "globalopinionqa", "--data-path", str(root / "g.jsonl"), "--embedder",
            str(root / "tiny"), "--out-dir", str(out), "--steps", "6", "--set", f"cache_dir='{root / 'cache'}'",
            *[a for kv in small for a in ("--set", kv)]]


def test_train_writes_the_model_and_curve(run):
    _, out = run
    result = json.loads((out / "result.json").read_text())
    assert result["steps"] == 6 and result["train_groups"] == 3 and result["heldout_groups"] == 5
    assert (out / "gpo.pt").is_file() and len((out / "metrics.jsonl").read_text().splitlines()) >= 1


def test_predict_gives_a_distribution_per_unseen_question(run, tmp_path):
    _, out = run
    main(["gpo", "predict", "-m", str(out), "--group", "Land5", "--context", "3", "--out", str(tmp_path / "p.jsonl")])
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert len(rows) == 14 - 3
    assert all(abs(sum(r["predicted"]) - 1) < 1e-5 and 0 <= r["alignment"] <= 1 for r in rows)
    assert not {r["question_id"] for r in rows} & set(rows[0]["context_questions"])


def test_label_writes_comparisons_with_provenance(run, tmp_path):
    _, out = run
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"prompt": "Is policy 99 good?", "response_a": "Yes", "response_b": "No",
                                 "population": [0.5, 0.5]}) + "\n")
    main(["gpo", "label", "-m", str(out), "--group", "Land1", "--pairs", str(pairs), "--out", str(tmp_path / "c.jsonl")])
    (record,) = read_records(tmp_path / "c.jsonl", "comparison")
    assert record.label in ("a", "b") and 0 < record.p_a < 1
    assert record.provenance.details["group"] == "Land1" and record.provenance.model.endswith("gpo.pt")
    assert len(record.provenance.details["context_questions"]) == 10


def test_nearest_groups_and_reference_columns_predict_and_label(run, tmp_path):
    root, _ = run
    out = tmp_path / "run"
    main(_train(root, out, "prior='nearest_groups'", "reference_groups=true"))
    main(["gpo", "predict", "-m", str(out), "--group", "Land6", "--context", "3", "--out", str(tmp_path / "p.jsonl")])
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert len(rows) == 11 and all(abs(sum(r["predicted"]) - 1) < 1e-5 for r in rows)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"prompt": "Is policy 99 good?", "response_a": "Yes", "response_b": "No",
                                 "population": [0.9, 0.1]}) + "\n")
    main(["gpo", "label", "-m", str(out), "--group", "Land6", "--pairs", str(pairs), "--out", str(tmp_path / "c.jsonl")])
    (record,) = read_records(tmp_path / "c.jsonl", "comparison")
    assert record.label == "a" and record.p_a > 0.5  # 6 steps from the prior: still near the population's 0.9


def test_cli_errors_are_one_line_exit_2(run, tmp_path, capsys):
    root, out = run
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"prompt": "Q?", "response_a": "Yes"}) + "\n")
    no_prior = tmp_path / "no_prior.jsonl"
    no_prior.write_text(json.dumps({"prompt": "Q?", "response_a": "Yes", "response_b": "No",
                                    "population": [0.5, 0.5]}) + "\n" +
                        json.dumps({"prompt": "Q?", "response_a": "Yes", "response_b": "No"}) + "\n")
    bad_prior = tmp_path / "bad_prior.jsonl"
    bad_prior.write_text(json.dumps({"prompt": "Q?", "response_a": "Yes", "response_b": "No",
                                     "population": [0.5, float("nan")]}) + "\n")
    label = ["gpo", "label", "-m", str(out), "--group", "Land1", "--out", str(tmp_path / "c"), "--pairs"]
    for argv, message in [
        (label + [str(pairs)], "field 'response_b'"),
        (label + [str(no_prior)], f"{no_prior}:2: field 'population': this GPO model starts from the population"),
        (label + [str(bad_prior)], f"{bad_prior}:1"),
        (["gpo", "predict", "-m", str(out), "--group", "Nowhere", "--out", str(tmp_path / "p")], "unknown group"),
        (["train", "gpo", "--data", "globalopinionqa", "--data-path", str(root / "g.jsonl"), "--out-dir", str(out),
          "--embedder", str(root / "tiny"), "--set", "lr=0.5", "--set", f"cache_dir='{root / 'cache'}'"],
         "different config"),
        (["train", "gpo", "--set", "layers=0"], "field 'layers'"),
    ]:
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        last = capsys.readouterr().err.strip().splitlines()[-1]  # above it: model-loading bars, if any
        assert last.startswith("error: ") and message in last
    assert not (tmp_path / "c").exists() and not (tmp_path / "p").exists()
