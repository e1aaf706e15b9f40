"""Records: validation, JSONL/Parquet round trips, TRL datasets, and one-line errors on malformed files."""

from __future__ import annotations

import json

import pytest

from pluralign.errors import InputError
from pluralign.io import (
    from_dataset, load_constitution, read_records, save_constitution, to_dataset, write_records,
)
from pluralign.records import (
    Comparison, Constitution, Demonstration, Edit, Participant, Preference, Principle, Provenance, Ranking,
    Statement, Vote,
)

CHAT = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi?"}]


def sample_records():
    prov = Provenance(participants=["p1", "p2"], principles=["c1"], rule="schulze", model="m", run="r1",
                      details={"weights": {"p1": 0.5}})
    principle = Principle(id="c1", text="Be honest.", critique_request="Where is it dishonest?",
                          revision_request="Rewrite it honestly.", choice_prompt="Which is more honest?")
    return [
        Participant(id="p1", attributes={"age": "18-29", "country": "TW"}, weight=1.5, group="0"),
        Statement(id="s1", text="The AI should not use emojis.", author="p1", moderated=1),
        Vote(participant="p1", statement="s1", value="agree"),
        Vote(participant="p2", statement="s1", value=-1, timestamp=12.5),
        Comparison(prompt="Q", response_a="A", response_b="B", label="a", strength=3, annotator="p1", provenance=prov),
        Comparison(prompt=CHAT, response_a="A", response_b="B", p_a=0.3, weight=0.2),
        Ranking(prompt="Q", candidates=["x", "y", "z"], order=[["y"], ["x", "z"]], annotator="p2"),
        Preference(prompt=CHAT, chosen="good", rejected="bad", provenance=prov),
        Preference(prompt="plain", chosen=[{"role": "assistant", "content": "good"}], rejected="bad", margin=0.5),
        principle,
        Constitution(name="ours", principles=[principle], provenance=prov),
        Demonstration(prompt="Q", completion="A", provenance=prov),
        Edit(prompt="Q", original="long answer", edited="short", annotator="p1"),
    ]


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_every_kind_round_trips(tmp_path, suffix):
    records = sample_records()
    by_kind: dict[type, list] = {}
    for r in records:
        by_kind.setdefault(type(r), []).append(r)
    for cls, group in by_kind.items():
        path = tmp_path / f"{cls.kind}{suffix}"
        assert write_records(path, group) == len(group)
        assert read_records(path, cls.kind) == group


def test_vote_words_and_soft_label_defaults():
    assert Vote(participant="a", statement="b", value="disagree").value == -1
    assert Comparison(prompt="q", response_a="a", response_b="b", label="tie").p_a == 0.5
    with pytest.raises(ValueError, match="label"):
        Comparison(prompt="q", response_a="a", response_b="b")


@pytest.mark.parametrize(
    "row, field",
    [
        ({"prompt": "q", "candidates": ["a", "b"], "order": [["a"], ["c"]]}, "order names unknown candidate"),
        ({"prompt": "q", "candidates": ["a", "b"], "order": [["a"], ["a"]]}, "repeats"),
        ({"prompt": "q", "candidates": ["a", "b"], "order": [[]]}, "empty tier"),
        ({"prompt": "q", "candidates": ["a", "b"], "order": [["a"]], "weight": -1}, "weight"),
    ],
)
def test_bad_ranking_is_named(tmp_path, row, field):
    path = tmp_path / "r.jsonl"
    good = {"prompt": "q", "candidates": ["a", "b"], "order": [["a", "b"]]}
    path.write_text(json.dumps(good) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(InputError) as err:
        read_records(path, "ranking")
    assert str(err.value).startswith(f"{path}:2: ")
    assert field in str(err.value)
    assert "\n" not in str(err.value)


def test_malformed_json_names_line_and_field(tmp_path):
    path = tmp_path / "v.jsonl"
    path.write_text('{"participant": "a", "statement": "s", "value": 1}\n\n{"participant": "a", "statement": "s", "value": 2}\n')
    with pytest.raises(InputError, match=r"v\.jsonl:3: field 'value'"):
        read_records(path, "vote")
    path.write_text('{"participant": "a", "statement": "s", "value": 1}\n{oops\n')
    with pytest.raises(InputError, match=r"v\.jsonl:2: invalid JSON"):
        read_records(path, "vote")
    path.write_text('{"participant": "a", "statement": "s", "value": 1, "colour": "red"}\n')
    with pytest.raises(InputError, match="field 'colour'"):
        read_records(path, "vote")


def test_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text("old\n")

    def rows():
        yield Vote(participant="a", statement="s", value=1)
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_records(path, rows())
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_trl_datasets_standard_and_conversational():
    prefs = [r for r in sample_records() if isinstance(r, Preference)]
    standard = to_dataset([Preference(prompt="plain", chosen="good", rejected="bad")])  # plain text only
    assert {"prompt", "chosen", "rejected"} <= set(standard.column_names)
    assert isinstance(standard[0]["prompt"], str) and standard[0]["chosen"] == "good"
    with pytest.raises(InputError, match="is a conversation"):
        to_dataset(prefs, conversational=False)  # would merge the system and user turns
    assert to_dataset(prefs)[0]["prompt"] == CHAT  # a conversation anywhere: conversational, roles kept
    conv = to_dataset(prefs, conversational=True)
    assert conv[0]["prompt"] == CHAT
    assert conv[0]["chosen"] == [{"role": "assistant", "content": "good"}]
    assert conv[1]["prompt"] == [{"role": "user", "content": "plain"}]
    back = from_dataset(conv, "preference")
    assert back[0].provenance == prefs[0].provenance and back[0].prompt == prefs[0].prompt
    demos = to_dataset([r for r in sample_records() if isinstance(r, Demonstration)])
    assert {"prompt", "completion"} <= set(demos.column_names)


def test_constitution_file(tmp_path):
    constitution = next(r for r in sample_records() if isinstance(r, Constitution))
    path = tmp_path / "c.json"
    save_constitution(path, constitution)
    assert load_constitution(path) == constitution
    assert read_records(path, "constitution") == [constitution]
    data = json.loads(path.read_text())
    data["principles"].append(data["principles"][0])
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="duplicate principle ids"):
        load_constitution(path)


@pytest.mark.parametrize("data, line", [
    (b'{"prompt": "q", "chosen": "a", "rejected": "b"}\n{"prompt": "caf\xe9"}\n', 2),  # Latin-1, not UTF-8
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\xff\xd8", 1),  # a binary file
])
def test_non_utf8_jsonl_is_one_line_error_with_line(tmp_path, data, line):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(data)
    with pytest.raises(InputError, match=rf"bad.jsonl:{line}: not UTF-8 text \(byte 0x[0-9a-f]{{2}} at column \d+\)"):
        read_records(path, Preference)


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"prompt": "q", "chosen": "a", "rejected": "b"}\n')
    assert read_records(path, Preference)[0].prompt == "q"


def test_non_utf8_json_and_constitution_files(tmp_path):
    from pluralign.constitution.formats import load
    from pluralign.io import read_json

    path = tmp_path / "constitution.json"
    path.write_bytes(b'{\n"principles": ["\xff\xfe"]}')
    for reader in (read_json, load):
        with pytest.raises(InputError, match=r"constitution.json:2: not UTF-8 text"):
            reader(path)


def test_outputs_follow_the_umask_and_folders_are_refused(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        write_records(tmp_path / "out.jsonl", sample_records()[:1])
        assert (tmp_path / "out.jsonl").stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        write_records(tmp_path / "private.jsonl", sample_records()[:1])
        assert (tmp_path / "private.jsonl").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)
    (tmp_path / "folder").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        write_records(tmp_path / "folder", sample_records()[:1])
    with pytest.raises(InputError, match="is a file, not a folder"):
        write_records(tmp_path / "out.jsonl" / "x.jsonl", sample_records()[:1])


def test_comparison_label_must_agree_with_its_soft_label():
    base = dict(prompt="p", response_a="a", response_b="b")
    assert Comparison(**base, label="a", p_a=0.7).p_a == 0.7
    assert Comparison(**base, label="tie", p_a=0.5).label == "tie"
    for label, p_a in (("a", 0.3), ("b", 0.8), ("a", 0.5), ("tie", 0.9)):
        with pytest.raises(ValueError, match="contradicts"):
            Comparison(**base, label=label, p_a=p_a)


def test_new_record_kinds_round_trip(tmp_path):
    from pluralign.records import PromptRecord, ResponsePair, RevisionChain, RevisionRound

    rows = [PromptRecord(id="r1", prompt="how do I ...", language="French", category="crime", global_or_local="local"),
            ResponsePair(id="p1", prompt=CHAT, response_a="x", response_b="y"),
            RevisionChain(id="c1", prompt="q", initial="first", rounds=[RevisionRound(principle="p", critique="c",
                                                                                      revision="second")])]
    for record in rows:
        path = tmp_path / f"{record.kind}.jsonl"
        write_records(path, [record])
        assert read_records(path, record.kind) == [record]
    assert rows[2].final == "second" and rows[1].prompt[0].role == "system"
    with pytest.raises(InputError, match="global_or_local"):
        bad = tmp_path / "bad.jsonl"
        bad.write_text('{"id": "x", "prompt": "p", "global_or_local": "everywhere"}\n')
        read_records(bad, "prompt")


def test_times_must_be_finite(tmp_path):
    path = tmp_path / "votes.jsonl"
    path.write_text('{"participant": "p", "statement": "s", "value": 1, "timestamp": 1.5}\n'
                    '{"participant": "p", "statement": "s", "value": 1, "timestamp": Infinity}\n')
    with pytest.raises(InputError, match="votes.jsonl:2: field 'timestamp'"):
        read_records(path, "vote")
