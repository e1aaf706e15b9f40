"""Readers: the shared layouts parse, and hostile files fail with one line naming file, line and field."""

from __future__ import annotations

import pytest

from pluralign.errors import InputError
from pluralign.evaluate.data import (question_header, question_key, read_bbq, read_overton, read_prompts, read_questions,
                                     read_value_kaleidoscope, subsample)
from tests.evaluate.conftest import write_jsonl

GOOD = {"question": "Question: Tea?\nOptions: A. Yes B. No\nAnswer:", "options": ["Yes", "No"],
        "attribute": "Kenya", "gold_distribution": [0.25, 0.75], "id": 1}


def test_question_header():
    assert question_header(GOOD["question"]) == "Tea?"
    assert question_header("Pick one.\nScenario: x\nA. do\nB. don't\nAnswer:") == "Pick one.\nScenario: x"


@pytest.mark.parametrize("row, field", [
    ({**GOOD, "gold_distribution": [0.5, float("nan")]}, "gold_distribution"),
    ({**GOOD, "gold_distribution": [1e300, 1]}, "gold_distribution"),
    ({**GOOD, "gold_distribution": [0.5]}, "gold_distribution"),
    ({**GOOD, "gold_distribution": ["0.5", "0.5"]}, "gold_distribution"),
    ({**GOOD, "options": ["Yes", ""]}, "options"),
    ({k: v for k, v in GOOD.items() if k != "attribute"}, "attribute"),
])
def test_bad_question_rows_name_file_line_field(tmp_path, row, field):
    path = write_jsonl(tmp_path / "q.jsonl", [GOOD, row])
    with pytest.raises(InputError) as err:
        read_questions(path)
    assert str(err.value).startswith(f"{path}:2: field '{field}'") and "\n" not in str(err.value)


def test_unreadable_files(tmp_path):
    (tmp_path / "bytes.jsonl").write_bytes(b'{"question": "\xff\xfe"}\n')
    with pytest.raises(InputError, match="bytes.jsonl"):
        read_questions(tmp_path / "bytes.jsonl")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(InputError, match="no questions"):
        read_questions(tmp_path / "empty.jsonl")
    (tmp_path / "broken.jsonl").write_text('{"situation": "s", "vrd": ["v"], "explanation": ["e"]}\n{oops\n')
    with pytest.raises(InputError, match="broken.jsonl:2"):
        read_overton(tmp_path / "broken.jsonl")
    (tmp_path / "nothing_here").mkdir()
    with pytest.raises(InputError, match="no .jsonl"):
        read_bbq(tmp_path / "nothing_here")


def test_bbq_row_checks(tmp_path):
    row = {"context": "c", "question": "q", "ans0": "a", "ans1": "b", "ans2": "Unknown", "label": 2,
           "context_condition": "ambig", "question_polarity": "neg", "category": "Age",
           "answer_info": {"ans0": ["old man", "old"], "ans1": ["girl", "nonOld"], "ans2": ["Unknown", "unknown"]},
           "additional_metadata": {"stereotyped_groups": ["old"]}}
    item = read_bbq(write_jsonl(tmp_path / "a.jsonl", [row]))[0]
    assert (item.unknown, item.target, item.ambiguous, item.negative) == (2, 0, True, True)
    with pytest.raises(InputError, match="a.jsonl:1: field 'label'"):
        read_bbq(write_jsonl(tmp_path / "a.jsonl", [{**row, "label": 7}]))
    with pytest.raises(InputError, match="field 'answer_info'"):
        read_bbq(write_jsonl(tmp_path / "a.jsonl", [{**row, "answer_info": {
            "ans0": ["x", "old"], "ans1": ["y", "nonOld"], "ans2": ["z", "young"]}}]))


def test_other_readers(tmp_path):
    vk = read_value_kaleidoscope(write_jsonl(tmp_path / "vk.jsonl", [{"situation": "s", "vrd": "v", "label": "B"}]))
    assert vk[0]["label"] == 1
    with pytest.raises(InputError, match="vk.jsonl:1: field 'label'"):
        read_value_kaleidoscope(write_jsonl(tmp_path / "vk.jsonl", [{"situation": "s", "vrd": "v", "label": "D"}]))
    with pytest.raises(InputError, match="field 'explanation'"):
        read_overton(write_jsonl(tmp_path / "o.jsonl", [{"situation": "s", "vrd": ["a", "b"], "explanation": ["x"]}]))
    rows = read_prompts(write_jsonl(tmp_path / "p.jsonl", [
        {"prompt": "p", "provenance": {"details": {"language": "French", "global_or_local": "local"}}}]))
    assert rows[0]["language"] == "French" and rows[0]["global_or_local"] == "local"
    with pytest.raises(InputError, match="field 'global_or_local'"):
        read_prompts(write_jsonl(tmp_path / "p.jsonl", [{"prompt": "p", "global_or_local": "everywhere"}]))


def test_subsample_keeps_whole_questions():
    items = [("q1", "a"), ("q1", "b"), ("q2", "a"), ("q3", "a")]
    picked = subsample(items, 2, seed=0, key=lambda x: x[0])
    assert len({k for k, _ in picked}) == 2 and all((k, g) in picked for k, g in items if k in {x for x, _ in picked})
    assert subsample(items, 2, seed=0, key=lambda x: x[0]) == picked
    assert subsample(items, None, seed=0) == items


def test_shared_layouts(shared_data):
    questions = read_questions(shared_data / "opinionqa")
    assert all(q.ordinal and len(q.ordinal) <= len(q.options) for q in questions)
    assert "Refused" not in {o for q in questions for o in q.options}
    glob = read_questions(shared_data / "pluralism" / "distributional_globalopinionqa.jsonl")
    assert all("Options:" not in q.header for q in glob)
    bbq = read_bbq(shared_data / "bbq")
    assert all(item.target is not None for item in bbq)


def test_question_key_groups_a_question_across_countries(tmp_path):
    rows = [{**GOOD, "id": i, "attribute": c} for i, c in enumerate(["Kenya", "Chile", "Peru"])]
    rows.append({**GOOD, "question": "Question: Coffee?\nOptions: A. Yes B. No\nAnswer:", "id": 9})
    picked = subsample(read_questions(write_jsonl(tmp_path / "q.jsonl", rows)), 1, seed=0, key=question_key)
    assert len(picked) in (1, 3) and len({question_key(q) for q in picked}) == 1


def test_opinionqa_directory(tmp_path):
    wave = tmp_path / "American_Trends_Panel_W1"
    wave.mkdir()
    header = ",key,option_mapping,question,references,option_ordinal\n"
    (wave / "info.csv").write_text(header + "0,Q1,{},Safe?,\"['Very', 'Not', 'Not sure', 'Refused']\",\"[1.0, 2.0]\"\n")
    (wave / "SEX_data.json").write_text('{"Q1": {"MC_options": [], "Male": {"Very": 3, "Not": 1, "Refused": 2}, '
                                        '"Female": {"Very": 0, "Not": 0}}}')
    (qs,) = read_questions(tmp_path)  # Female gave no answers on the scale: left out
    assert qs.group == "SEX_Male" and qs.options == ["Very", "Not", "Not sure"] and qs.gold == [3, 1, 0]
    assert qs.ordinal == [1.0, 2.0]
    (wave / "info.csv").write_text(header + "0,Q1,{},Safe?,\"['Very', 'Not']\",\"[1.0, nan]\"\n")
    with pytest.raises(InputError, match=r"info.csv:2: field 'option_ordinal'"):
        read_questions(tmp_path)
