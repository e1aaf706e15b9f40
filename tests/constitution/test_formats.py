"""Loading/saving constitutions: our JSON, the Anthropic CAI files, the package default, bad files."""

from __future__ import annotations

import json

import pytest

from pluralign.constitution import default_constitution, load, save
from pluralign.errors import InputError


def test_default_constitution_round_trips(tmp_path):
    const = default_constitution()
    assert len(const.principles) == 10
    assert all(p.choice_prompt.endswith("?") for p in const.principles)
    save(tmp_path / "c.json", const)
    assert load(tmp_path / "c.json") == const


def test_anthropic_critique_revision_file(shared_data):
    const = load(shared_data / "cai" / "CritiqueRevisionInstructions.json")
    assert len(const.principles) == 16
    first = const.principle("harmful0")
    # The CritiqueRequest:/Critique: scaffolding is stripped, the raw prompt kept in provenance.
    assert first.critique_request.startswith("Identify specific ways")
    assert not first.critique_request.endswith("Critique:")
    assert first.revision_request.startswith("Please rewrite") and "Revision:" not in first.revision_request
    assert first.provenance.details["raw"]["critique"].strip().startswith("CritiqueRequest:")
    assert first.critique_request in first.choice_prompt


def test_anthropic_choice_file_and_directory(shared_data):
    const = load(shared_data / "cai" / "RLMadisonInstructions.json")
    assert len(const.principles) == 16
    assert all(not p.choice_prompt.endswith("Options:") for p in const.principles)
    both = load(shared_data / "cai")
    assert len(both.principles) == 16
    assert both.principles[3].choice_prompt == const.principles[3].choice_prompt
    assert both.principles[3].critique_request.startswith("Identify specific ways")


@pytest.mark.parametrize("content, message", [
    ("{not json", "invalid JSON"),
    ('{"h0": {"prompt": ["x"]}}', "edit_request"),
    ("[1, 2]", "non-empty string"),
    ("[]", "no principles"),
    ('{"name": "x", "principles": []}', "principles"),
    ("3", "not a constitution"),
])
def test_bad_files_name_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as err:
        load(path)
    assert str(path) in str(err.value)


def test_missing_file_and_empty_directory(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        load(tmp_path / "absent.json")
    with pytest.raises(InputError, match="neither"):
        load(tmp_path)


def test_saved_json_is_plain(tmp_path):
    save(tmp_path / "c.json", default_constitution())
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["name"] == "pluralign-default" and data["principles"][0]["id"] == "honest"
