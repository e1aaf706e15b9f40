"""Few-shot files: the package's own, Anthropic's formats, and clear errors for bad files."""

import json

import pytest

from pluralign.errors import InputError
from pluralign.feedback.fewshot import load_choice_examples, load_cot_examples, load_critique_examples


def test_package_examples_load():
    critiques = load_critique_examples()
    assert critiques and all(c.startswith("\n\nHuman:") and "Critique Request:" in c and "Revision:" in c
                             for c in critiques)
    choices = load_choice_examples()
    assert len(choices) >= 2 and all(c.better != c.worse for c in choices)
    assert all("{}" in c for c in load_cot_examples())


def test_anthropic_files_are_read_and_normalised(shared_data):
    critiques = load_critique_examples(shared_data / "cai" / "CritiqueRevisionFewShotPrompts.json")
    assert len(critiques) == 5
    assert all("CritiqueRequest:" not in c and "Critique Request:" in c for c in critiques)
    assert all(not c.rstrip().endswith("Human:") for c in critiques)
    assert len(load_choice_examples(shared_data / "cai" / "RLMadisonFewShotPrompts.json")) == 5
    assert len(load_cot_examples(shared_data / "cai" / "RLMadisonPrecogFewShotPrompts.json")) == 6


def test_bad_files_name_the_problem(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="bad.json:1: invalid JSON"):
        load_critique_examples(bad)
    bad.write_text(json.dumps([{"prompt": "x", "corrects": [], "incorrects": ["y"]}]))
    with pytest.raises(InputError, match="field 'corrects'"):
        load_choice_examples(bad)
    bad.write_text(json.dumps(["Human: hi Assistant: hello"]))
    with pytest.raises(InputError, match="no 'Critique:'"):
        load_critique_examples(bad)
