"""``pluralign cai ...`` end to end on a tiny model directory; bad files exit 2 with one line and write nothing."""

import json

import pytest

from pluralign.cli import main
from pluralign.io import read_records


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from pluralign.lm.tiny import save_tiny_model

    return str(save_tiny_model(tmp_path_factory.mktemp("tiny")))


def run(argv):
    try:
        main(argv)
    except SystemExit as exc:
        return exc.code
    return 0


def test_pairs_then_label(tiny_dir, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"Question {i}?"}) + "\n" for i in range(3)))
    pairs, out = tmp_path / "pairs.jsonl", tmp_path / "labels.jsonl"
    assert run(["cai", "pairs", "--prompts", str(prompts), "--out", str(pairs), "--model", tiny_dir,
                "--max-new-tokens", "4"]) == 0
    assert run(["cai", "label", "--pairs", str(pairs), "--out", str(out), "--model", tiny_dir, "--principles", "all"]) == 0
    comparisons = read_records(out, "comparison")
    assert [c.id for c in comparisons] == ["p0", "p1", "p2"] and all(0 < c.p_a < 1 for c in comparisons)
    assert len(comparisons[0].provenance.principles) == 10  # the package's default constitution
    prefs = read_records(tmp_path / "labels.preferences.jsonl", "preference")
    assert len(prefs) == 3


def test_revise_resumes_and_writes_sft(tiny_dir, tmp_path, shared_data):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"Question {i}?"}) + "\n" for i in range(3)))
    out, fewshot = tmp_path / "chains.jsonl", tmp_path / "fewshot.json"
    fewshot.write_text(json.dumps(["Human: hi\n\nAssistant: bye\n\nCritiqueRequest: Rude?\n\nCritique: Yes.\n\n"
                                   "RevisionRequest: Fix it.\n\nRevision: Hello!"]))
    args = ["cai", "revise", "--prompts", str(prompts), "--out", str(out), "--model", tiny_dir, "--rounds", "2",
            "--max-new-tokens", "3", "--constitution", str(shared_data / "cai" / "CritiqueRevisionInstructions.json"),
            "--fewshot", str(fewshot), "--every-round"]
    assert run(args) == 0
    assert run(args) == 0  # nothing left to do: no duplicates
    chains = [json.loads(line) for line in out.read_text().splitlines()]
    assert [c["id"] for c in chains] == ["1", "2", "3"]
    assert all(r["principle"].startswith("harmful") for c in chains for r in c["rounds"])
    assert len(read_records(tmp_path / "chains.sft.jsonl", "demonstration")) == 6


def test_eval_prints_figures(tiny_dir, tmp_path):
    question = ("Human: hi\n\nAssistant: hello\n\nChoose:\n (A) The assistant was rude.\n (B) The assistant was kind."
                "\nThe answer is:")
    f = tmp_path / "mc.jsonl"
    f.write_text(json.dumps({"prompt": question, "corrects": [" (B)"], "incorrects": [" (A)"]}) + "\n")
    report = tmp_path / "eval.jsonl"
    assert run(["cai", "eval", "--comparisons", str(f), "--model", tiny_dir, "--out", str(report),
                "--low-precision"]) == 0
    figures = json.loads(report.read_text())
    assert figures["rule"].endswith("order-avg/calibrated/batch-calibrated")
    assert figures["n"] == 1 and figures["accuracy"] in (0.0, 1.0) and 0 <= figures["brier"] <= 1
    # Solved questions as a few-shot file, in the evaluated file's own JSONL format, with or without using them.
    for k in ("0", "1"):
        assert run(["cai", "eval", "--comparisons", str(f), "--model", tiny_dir, "--fewshot", k,
                    "--fewshot-file", str(f), "--out", str(report)]) == 0
        assert json.loads(report.read_text())["n"] == 1


@pytest.mark.parametrize("command, content, message", [
    ("label", '{"prompt": "hi", "response_a": "x"}\n', "pairs.jsonl:1: field 'response_b'"),
    ("label", '{"prompt": "hi", "responses": ["x", "y"]}\nnot json\n', "pairs.jsonl:2: invalid JSON"),
    ("eval", '{"prompt": "hi", "corrects": [" (A)"], "incorrects": [" (B)"]}\n', "pairs.jsonl:1: field 'prompt'"),
])
def test_bad_files_exit_2_and_write_nothing(tiny_dir, tmp_path, capsys, command, content, message):
    f = tmp_path / "pairs.jsonl"
    f.write_text(content)
    out = tmp_path / "out.jsonl"
    flag = "--pairs" if command == "label" else "--comparisons"
    argv = ["cai", command, flag, str(f), "--model", tiny_dir] + (["--out", str(out)] if command == "label" else [])
    assert run(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("extra, rows, message", [
    ([], ['{"id": "a", "prompt": "p", "response_a": "x", "response_b": "y"}',
          '{"id": "a", "prompt": "q", "response_a": "x", "response_b": "y"}'],
     "pairs.jsonl:2: field 'id': id 'a' repeats"),
    (["--principles", "some"], None, "principles"),
    (["--clamp", "0.9,0.1"], None, "bad labelling option"),
    (["--fewshot-file", "MISSING"], None, "MISSING"),
    ([], ['{"prompt": [{"role": "tool", "content": "x"}], "response_a": "x", "response_b": "y"}'], "role must be one of"),
])
def test_label_options_are_checked_before_the_model_loads(tmp_path, capsys, extra, rows, message):
    """A model path that does not exist: if the model were loaded first, the error would be 'model not found'."""
    from pluralign.cli import main

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(rows or ['{"prompt": "p", "response_a": "x", "response_b": "y"}']) + "\n")
    extra = [str(tmp_path / "missing.jsonl") if x == "MISSING" else x for x in extra]
    with pytest.raises(SystemExit) as ex:
        main(["cai", "label", "--pairs", str(pairs), "--out", str(tmp_path / "out.jsonl"), "--model",
              str(tmp_path / "no-model"), *extra])
    err = capsys.readouterr().err
    assert ex.value.code == 2 and message.replace("MISSING", "missing.jsonl") in err and "model not found" not in err
    assert not (tmp_path / "out.jsonl").exists()


def test_eval_options_are_checked_before_the_model_loads(tmp_path, capsys):
    from pluralign.cli import main

    f = tmp_path / "c.jsonl"
    f.write_text(json.dumps({"prompt": "Q?\n (A) a\n (B) b\n (C) c\nThe answer is:", "corrects": [" (A)"],
                             "incorrects": [" (B)"]}) + "\n")
    for extra, message in ((["--contrast-question", "Q?"], "--contrast-question needs --yes-question"),
                           (["--yes-question", "Harmful?"], "needs two-option questions"),
                           (["--out", str(tmp_path)], "is a folder")):
        with pytest.raises(SystemExit) as ex:
            main(["cai", "eval", "--comparisons", str(f), "--model", str(tmp_path / "no-model"), *extra])
        err = capsys.readouterr().err
        assert ex.value.code == 2 and message in err and "model not found" not in err, err
