"""Building a constitution from votes: selection, merging near-duplicates, provenance, CLI, report page."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pluralign.aggregate.opinion import analyze, build as build_matrix
from pluralign.cli import main
from pluralign.constitution import load
from pluralign.constitution.build import BuildConfig, build
from pluralign.errors import InputError
from pluralign.io import write_records
from pluralign.records import Statement, Vote

TEXTS = {
    "0": "The AI should never lie to the people it talks with.",
    "1": "The AI must not deceive the people it talks with.",
    "2": "The AI should explain its reasoning in plain language.",
    "3": "The AI should favour the first camp's politics.",
    "4": "The AI should favour the second camp's politics.",
    "5": "The AI should refuse to help with violence.",
}


def votes(seed: int = 0) -> list[Vote]:
    """Two camps of 15: both agree with 0, 1, 2, 5 (5 less so in camp b); each agrees with its own of 3/4."""
    rng = np.random.default_rng(seed)
    out = []
    for camp in "ab":
        for i in range(15):
            for s in TEXTS:
                if s in "34":
                    value = 1 if (s == "3") == (camp == "a") else -1
                elif s == "5":
                    value = 1 if camp == "a" or i < 6 else -1
                else:
                    value = 1 if rng.random() < 0.9 else 0
                out.append(Vote(participant=f"{camp}{i}", statement=s, value=value))
    return out


@pytest.fixture(scope="module")
def result():
    vs = votes()
    return analyze(build_matrix([v.participant for v in vs], [v.statement for v in vs], [v.value for v in vs]))


def test_selection_thresholds_and_order(result):
    config = BuildConfig(top_k=None, min_group_agree=0.5, merge_threshold=None)
    constitution, report = build(result, TEXTS, config)
    chosen = [s["statement"] for s in report["selected"]]
    assert set(chosen) == {"0", "1", "2"}  # 3/4 split the camps; 5 has < 50% in camp b
    consensus = [s["consensus"] for s in report["selected"]]
    assert consensus == sorted(consensus, reverse=True)
    first = constitution.principles[0]
    assert first.provenance.details["statement"] == chosen[0]
    assert len(first.provenance.details["group_agree"]) == result.n_groups == 2
    assert TEXTS[chosen[0]].rstrip(".") in first.critique_request
    looser, _ = build(result, TEXTS, BuildConfig(top_k=None, min_group_agree=None, min_consensus=0.0,
                                                 merge_threshold=None))
    assert len(looser.principles) == 6
    top2, _ = build(result, TEXTS, BuildConfig(top_k=2, min_group_agree=None, merge_threshold=None))
    assert [p.provenance.details["statement"] for p in top2.principles] == [s["statement"] for s in
                                                                             looser_report(result)[:2]]


def looser_report(result):
    _, report = build(result, TEXTS, BuildConfig(top_k=None, min_group_agree=None, merge_threshold=None))
    return report["selected"]


def test_exactly_half_agreeing_is_not_more_than_half(result):
    """CCAI kept statements with *more than* 50% agreement in every group: exactly half is not enough."""
    import copy

    half = copy.deepcopy(result)
    j = half.matrix.statements.index("0")
    half.group_counts["S"][:, j] = 14
    half.group_counts["A"][:, j] = 7  # 7 of 14 voters agree, in every group
    chosen = lambda x: {s["statement"] for s in build(half, TEXTS, BuildConfig(  # noqa: E731
        top_k=None, min_group_agree=x, merge_threshold=None))[1]["selected"]}
    assert "0" not in chosen(0.5)
    assert "0" in chosen(0.49)


def test_near_duplicates_merge_with_real_embeddings(result):
    constitution, report = build(result, TEXTS, BuildConfig(top_k=None, min_group_agree=0.5, merge_threshold=0.7))
    assert len(report["merged"]) == 1 and sorted(report["merged"][0]["members"]) == ["0", "1"]
    assert len(constitution.principles) == 2
    merged = next(p for p in constitution.principles if len(p.provenance.details["merged"]) == 2)
    assert sorted(merged.provenance.details["merged"]) == ["0", "1"]


def test_nothing_selected_is_an_input_error(result):
    with pytest.raises(InputError, match="no statement"):
        build(result, TEXTS, BuildConfig(min_consensus=0.99))


def test_lm_rewrite_keeps_provenance(result, tiny_lm):
    constitution, _ = build(result, TEXTS, BuildConfig(top_k=2, merge_threshold=None), lm=tiny_lm)
    assert all(p.provenance.model == "tiny" and p.text for p in constitution.principles)


def test_cli_build_and_show(tmp_path, capsys):
    write_records(tmp_path / "votes.jsonl", votes())
    write_records(tmp_path / "statements.jsonl", [Statement(id=k, text=v) for k, v in TEXTS.items()])
    out = tmp_path / "constitution.json"
    main(["constitution", "build", "--votes", str(tmp_path / "votes.jsonl"), "--statements",
          str(tmp_path / "statements.jsonl"), "--out", str(out), "--merge-threshold", "0.7"])
    assert "merged" in capsys.readouterr().out
    assert len(load(out).principles) == 2
    main(["constitution", "show", str(out)])
    assert "consensus" in capsys.readouterr().out
    main(["constitution", "show", "--json"])
    assert json.loads(capsys.readouterr().out)["name"] == "pluralign-default"


def test_cli_bad_votes_exit_2(tmp_path):
    bad = tmp_path / "votes.jsonl"
    bad.write_text('{"participant": "a", "statement": "1", "value": 5}\n')
    with pytest.raises(SystemExit) as exit_info:
        main(["constitution", "build", "--votes", str(bad), "--out", str(tmp_path / "c.json")])
    assert exit_info.value.code == 2 and not (tmp_path / "c.json").exists()
