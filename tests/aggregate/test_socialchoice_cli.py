"""``pluralign aggregate`` as a user runs it: preferences written, summary table, raking, exit 2 on bad input."""

from __future__ import annotations

import json

import pytest

from pluralign.io import read_records
from pluralign.records import Preference


@pytest.fixture
def run(capsys):
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


@pytest.fixture
def files(tmp_path):
    """10 prompts x 5 annotators (3 prefer "plain", 2 prefer "emoji"), participants with groups and ages."""
    rankings = tmp_path / "rankings.jsonl"
    people = tmp_path / "people.jsonl"
    with open(rankings, "w") as fh:
        for t in range(10):
            for i in range(5):
                order = [["plain"], ["emoji"], ["meh"]] if i < 3 else [["emoji"], ["plain"], ["meh"]]
                fh.write(json.dumps({"prompt": f"q{t}", "candidates": ["plain", "emoji", "meh"], "order": order,
                                     "annotator": f"a{i}"}) + "\n")
    with open(people, "w") as fh:
        for i in range(5):
            fh.write(json.dumps({"id": f"a{i}", "group": "plain" if i < 3 else "emoji",
                                 "attributes": {"age": "old" if i in (0, 3) else "young"}}) + "\n")
    margins = tmp_path / "margins.json"
    margins.write_text(json.dumps({"age": {"old": 0.5, "young": 0.5}}))
    return tmp_path, rankings, people, margins


def test_aggregate_writes_preferences_and_group_table(run, files):
    tmp, rankings, people, _ = files
    code, out, err = run("aggregate", "--rankings", rankings, "--rule", "copeland", "--participant-groups", people,
                         "--out", tmp / "prefs.jsonl")
    assert code == 0, err
    prefs = read_records(tmp / "prefs.jsonl", Preference)
    assert len(prefs) == 30 and all(p.chosen == "plain" for p in prefs if p.rejected == "emoji")
    assert "top choice won" in err and "100.0%" in err and "0.0%" in err
    assert "agreement of the social ranking" in err and "wrote 30 preferences" in out
    assert "annotators" in err and "a4" in err and "0.667" in err  # the emoji annotators agree on 2 of 3 pairs


def test_proportional_with_raked_weights(run, files):
    tmp, rankings, people, margins = files
    code, out, err = run("aggregate", "--rankings", rankings, "--rule", "borda", "--proportional",
                         "--participant-groups", people, "--weights", people, "--rake", margins, "--pairs", "best-worst",
                         "--out", tmp / "prefs.jsonl")
    assert code == 0, err
    assert "design effect" in out
    prefs = read_records(tmp / "prefs.jsonl", Preference)
    winners = [p.chosen for p in prefs]
    # raking to 50/50 age gives weights 1.25 / 0.833: the emoji group holds 1.25 + 0.833 of 5 = 41.7%
    assert winners.count("emoji") == 4 and winners.count("plain") == 6
    assert prefs[0].provenance.rule == "perpetual_phragmen+borda"
    assert prefs[0].provenance.details["weights"]["a0"] == pytest.approx(1.25)


def test_comparisons_with_tie_break(run, tmp_path):
    comps = tmp_path / "comparisons.jsonl"
    rows = [("x", "y", "a"), ("y", "z", "tie"), ("x", "z", "a")]
    comps.write_text("".join(json.dumps({"prompt": "q", "response_a": a, "response_b": b, "label": label}) + "\n"
                             for a, b, label in rows))
    code, out, err = run("aggregate", "--comparisons", comps, "--rule", "schulze", "--out", tmp_path / "p.jsonl")
    assert code == 0, err
    assert {(p.chosen, p.rejected) for p in read_records(tmp_path / "p.jsonl", Preference)} == {("x", "y"), ("x", "z")}
    code, out, err = run("aggregate", "--comparisons", comps, "--rule", "schulze", "--tie-break", "candidate-order",
                         "--out", tmp_path / "p.jsonl")
    prefs = read_records(tmp_path / "p.jsonl", Preference)
    assert code == 0 and len(prefs) == 3 and prefs[0].provenance.details["tie_breaking"] == "broken by candidate-order"


def test_groups_from_opinion_analysis_json(run, files):
    tmp, rankings, _, _ = files
    analysis = tmp / "opinion.json"
    analysis.write_text(json.dumps({"n_groups": 2, "groups": {"a0": 0, "a1": 0, "a2": 0, "a3": 1, "a4": 1}}))
    code, _, err = run("aggregate", "--rankings", rankings, "--proportional", "--participant-groups", analysis,
                       "--proportional-method", "equal-shares", "--out", tmp / "prefs.jsonl")
    assert code == 0, err
    assert "group 0" in err and "60.0%" in err and "40.0%" in err
    analysis.write_text(json.dumps({"groups": []}))
    code, _, err = run("aggregate", "--rankings", rankings, "--participant-groups", analysis,
                       "--out", tmp / "prefs2.jsonl")
    assert code == 2 and "'groups' object" in err


@pytest.mark.parametrize("args,message", [
    (["--rule", "dictator"], "unknown rule"),
    (["--proportional"], "--proportional needs --participant-groups"),
    (["--weights", "{missing}"], "cannot read"),
    (["--tie-break", "coin"], "tie-break must be one of"),
])
def test_bad_input_exits_2_and_writes_nothing(run, files, args, message):
    tmp, rankings, _, _ = files
    args = [a.replace("{missing}", str(tmp / "missing.jsonl")) for a in args]
    code, _, err = run("aggregate", "--rankings", rankings, *args, "--out", tmp / "prefs.jsonl")
    assert code == 2 and message in err
    assert not (tmp / "prefs.jsonl").exists()


def test_bad_ballot_names_file_and_line(run, files):
    tmp, rankings, _, _ = files
    with open(rankings, "a") as fh:
        fh.write(json.dumps({"prompt": "q0", "candidates": ["plain", "emoji"], "order": [["plain"], ["gif"]],
                             "annotator": "a9"}) + "\n")
    code, _, err = run("aggregate", "--rankings", rankings, "--out", tmp / "prefs.jsonl")
    assert code == 2 and "rankings.jsonl:51" in err and "unknown candidate 'gif'" in err


@pytest.mark.parametrize("margins, message", [
    ({"age": {"old": "half", "young": 0.5}}, "field 'age.old': a share must be a finite number"),
    ({"age": {"old": True, "young": 0.5}}, "field 'age.old': a share must be a finite number"),
    ({"age": ["old", "young"]}, "field 'age': expected an object"),
    (b"\xff\xfe{}", "not UTF-8 text"),
])
def test_bad_rake_margins_exit_2(run, files, margins, message):
    tmp, rankings, people, path = files
    path.write_bytes(margins if isinstance(margins, bytes) else json.dumps(margins).encode())
    code, _, err = run("aggregate", "--rankings", rankings, "--weights", people, "--rake", path,
                       "--out", tmp / "prefs.jsonl")
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp / "prefs.jsonl").exists()


def test_infinite_weight_out_folder_and_binary_inputs_exit_2(run, files):
    tmp, rankings, people, _ = files
    with open(rankings, "a") as fh:
        fh.write('{"prompt": "q0", "candidates": ["plain", "emoji"], "order": [["emoji"]], "annotator": "a9", '
                 '"weight": Infinity}\n')
    code, _, err = run("aggregate", "--rankings", rankings, "--out", tmp / "prefs.jsonl")
    assert code == 2 and "weight must be a finite number" in err and "rankings.jsonl" in err
    (tmp / "outdir").mkdir()
    code, _, err = run("aggregate", "--rankings", rankings, "--out", tmp / "outdir")
    assert code == 2 and "is a folder" in err and err.count("\n") == 1
    binary = tmp / "binary.jsonl"
    binary.write_bytes(b"\x00\x01\xff\xfe" * 64)
    for option in ("--rankings", "--comparisons"):
        code, _, err = run("aggregate", option, binary, "--out", tmp / "prefs.jsonl")
        assert code == 2 and "binary.jsonl:1: not UTF-8 text" in err and err.count("\n") == 1
    groups = tmp / "groups.json"
    groups.write_bytes(b'{"groups": {"a0": "\xe9"}}')
    code, _, err = run("aggregate", "--rankings", tmp / "rankings.jsonl", "--participant-groups", groups,
                       "--out", tmp / "p.jsonl")
    assert code == 2 and "groups.json:1: not UTF-8 text" in err
