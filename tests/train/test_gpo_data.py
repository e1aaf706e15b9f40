"""GPO's readers (one-line errors on hostile input), the embedding cache, and the real data's shape."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pluralign.errors import InputError
from pluralign.train.gpo.data import read_globalopinionqa, read_opinionqa, read_polis, read_survey, split_groups
from pluralign.train.gpo.embeddings import EmbeddingCache, embed_survey
from pluralign.train.gpo.metrics import alignment, cluster_bootstrap

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"

ROW = {"question": "Question: Is tea good?\nOptions: A. Yes B. No\nAnswer:", "options": ["Yes", "No"],
       "attribute": "Atlantis", "gold_distribution": [0.7, 0.3], "id": 1}


def _jsonl(path: Path, rows) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_globalopinionqa_reads_and_strips_the_scaffold(tmp_path):
    survey = read_globalopinionqa(_jsonl(tmp_path / "g.jsonl", [ROW, dict(ROW, attribute="Lemuria",
                                                                         gold_distribution=[1, 3])]))
    assert survey.groups == ["Atlantis", "Lemuria"]
    (question,) = survey.questions.values()
    assert question.text == "Is tea good?" and question.options == ["Yes", "No"]
    np.testing.assert_allclose(survey.answers["Lemuria"][question.id], [0.25, 0.75])


@pytest.mark.parametrize("line, match", [
    (json.dumps(dict(ROW, gold_distribution=[0.5, "NaN"])), "finite"),
    (json.dumps(ROW).replace("0.3", "NaN"), "NaN is not a number"),
    (json.dumps(ROW).replace("0.3", "Infinity"), "Infinity is not a number"),
    (json.dumps(dict(ROW, gold_distribution=[0.5, 1e300])), "finite"),
    (json.dumps(dict(ROW, gold_distribution=[0.5])), "list of 2 numbers"),
    (json.dumps(dict(ROW, gold_distribution=[0, 0])), "all zero"),
    (json.dumps({k: v for k, v in ROW.items() if k != "options"}), "field 'options': missing"),
    (json.dumps(dict(ROW, attribute="")), "field 'attribute': missing"),
    ("{not json", "invalid JSON"),
    ("[1, 2]", "expected a JSON object"),
])
def test_globalopinionqa_bad_lines_name_file_line_and_field(tmp_path, line, match):
    path = _jsonl(tmp_path / "g.jsonl", [ROW, line])
    with pytest.raises(InputError, match=match) as err:
        read_globalopinionqa(path)
    assert f"{path}:2" in str(err.value)


def test_non_utf8_and_empty_files_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(json.dumps(ROW).encode() + b"\n\xff\xfe\n")
    with pytest.raises(InputError, match="not UTF-8"):
        read_globalopinionqa(bad)
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(InputError, match="no rows"):
        read_globalopinionqa(tmp_path / "empty.jsonl")
    with pytest.raises(InputError, match="no such file"):
        read_survey("globalopinionqa", tmp_path / "missing.jsonl")


def _wave(root: Path, counts: str, ordinal: str = "[1.0, 2.0]") -> Path:
    wave = root / "American_Trends_Panel_W1"
    wave.mkdir(parents=True)
    (wave / "info.csv").write_text(
        ",key,question,references,option_ordinal\n"
        f"0,Q1_W1,Is tea good?,\"['Yes', 'No', 'Refused']\",\"{ordinal}\"\n", encoding="utf-8")
    (wave / "SEX_data.json").write_text(
        '{"Q1_W1": {"MC_options": ["Yes", "No", "Refused"], "question_text": "Is tea good?", ' + counts + "}}",
        encoding="utf-8")
    return root


def test_opinionqa_groups_drop_refused_and_sum_the_population(tmp_path):
    root = _wave(tmp_path, '"Male": {"Yes": 30, "No": 10, "Refused": 5}, "Female": {"Yes": 10, "No": 10}, '
                           '"Refused": {"Yes": 1}')
    survey = read_opinionqa(root)
    assert survey.groups == ["SEX:Female", "SEX:Male"]
    np.testing.assert_allclose(survey.answers["SEX:Male"]["Q1_W1"], [0.75, 0.25])
    np.testing.assert_allclose(survey.population["Q1_W1"], [41 / 61, 20 / 61])
    assert survey.questions["Q1_W1"].ordinal == [1.0, 2.0]


@pytest.mark.parametrize("counts, ordinal, match", [
    ('"Male": {"Yes": NaN, "No": 1}', "[1.0, 2.0]", "NaN is not a number"),
    ('"Male": {"Yes": -3, "No": 1}', "[1.0, 2.0]", "Q1_W1.Male.Yes"),
    ('"Male": {"Yes": "7", "No": 1}', "[1.0, 2.0]", "finite non-negative count"),
    ('"Male": [1, 2]', "[1.0, 2.0]", "expected {option: count}"),
    ('"Male": {"Yes": 1, "No": 1}', "[1.0, 2.0, 3.0, 4.0]", "option_ordinal"),
    ('"Male": {"Yes": 1, "No": 1}', "not a list", "option_ordinal"),
])
def test_opinionqa_bad_values_are_one_line_errors(tmp_path, counts, ordinal, match):
    with pytest.raises(InputError, match=match):
        read_opinionqa(_wave(tmp_path, counts, ordinal))


def test_opinionqa_missing_field_and_non_utf8(tmp_path):
    root = _wave(tmp_path / "a", '"Male": {"Yes": 1, "No": 1}')
    info = root / "American_Trends_Panel_W1" / "info.csv"
    info.write_text(",key,question,references\n0,Q1_W1,Is tea good?,\"['Yes', 'No']\"\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"info.csv:2: field 'option_ordinal': missing"):
        read_opinionqa(root)
    info.write_bytes(b",key,question,references,option_ordinal\n0,Q1,caf\xe9,\"['Yes']\",\"[1.0]\"\n")
    with pytest.raises(InputError, match="not UTF-8"):
        read_opinionqa(root)
    with pytest.raises(InputError, match="no info.csv"):
        read_opinionqa(tmp_path)


def _polis(root: Path) -> Path:
    folder = root / "conv"
    folder.mkdir(parents=True)
    (folder / "comments.csv").write_text(
        "timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,comment-body\n"
        "1,x,0,1,1,1,1,Buses should be free\n2,x,1,1,1,1,-1,moderated out\n", encoding="utf-8")
    (folder / "participants-votes.csv").write_text(
        "participant,group-id,n-comments,n-votes,n-agree,n-disagree,0,1\n1,0,0,2,1,1,1,-1\n2,,0,1,0,1,-1,\n",
        encoding="utf-8")
    return folder


def test_polis_votes_become_one_hot_answers(tmp_path):
    survey = read_polis([_polis(tmp_path)])
    assert sorted(survey.questions) == ["conv/0"]
    np.testing.assert_array_equal(survey.answers["conv/1"]["conv/0"], [1, 0, 0])
    np.testing.assert_array_equal(survey.answers["conv/2"]["conv/0"], [0, 1, 0])
    assert survey.meta["conv/1"] == {"conversation": "conv", "opinion_group": "0"}
    assert survey.meta["conv/2"]["opinion_group"] == ""


def test_polis_non_utf8_is_one_line_error(tmp_path):
    folder = _polis(tmp_path)
    (folder / "comments.csv").write_bytes((folder / "comments.csv").read_bytes().replace(b"free", b"fr\xe9e"))
    with pytest.raises(InputError, match=r"comments.csv:\d+: not UTF-8"):
        read_polis([folder])


def test_split_is_seeded_and_disjoint():
    groups = [f"g{i}" for i in range(20)]
    train, held = split_groups(groups, 0.4, seed=3)
    assert (train, held) == split_groups(groups, 0.4, seed=3)
    assert len(train) == 8 and not set(train) & set(held) and sorted(train + held) == sorted(groups)


def test_alignment_scores():
    assert alignment([0.5, 0.5], [0.5, 0.5]) == pytest.approx(1.0)
    assert alignment([1, 0], [0, 1]) == pytest.approx(0.0)  # base 2: disjoint supports are distance 1
    assert alignment([1, 0, 0], [0, 0, 1], ordinal=[1, 2, 3]) == pytest.approx(0.0)
    assert alignment([1, 0, 0], [0, 1, 0], ordinal=[1, 2, 3]) == pytest.approx(0.5)
    assert alignment([1, 0], [0, 1], ordinal=[1, 1]) is None
    mean, low, high = cluster_bootstrap([np.array([0.1, 0.2]), np.array([0.3, 0.5, 0.4])], n_boot=200)
    assert low <= mean <= high and mean == pytest.approx((0.15 + 0.4) / 2)


def test_embedding_cache_hits_on_disk_and_keys_by_model(tmp_path):
    from pluralign.lm.hf import HFBackend
    from pluralign.lm.tiny import tiny_model

    model, tok = tiny_model(seed=0)
    lm = HFBackend(model_obj=model, tokenizer=tok, name="tiny-a")
    texts = ["is tea good\nAnswer: yes", "is tea good\nAnswer: no", "is tea good\nAnswer: yes"]
    first = EmbeddingCache(tmp_path, lm)
    a = first.embed(texts)
    assert first.misses == 2 and a.shape[0] == 3 and np.allclose(a[0], a[2])
    again = EmbeddingCache(tmp_path, lm)  # a new process would see the same files
    np.testing.assert_array_equal(again.embed(texts), a)
    assert again.misses == 0
    other = EmbeddingCache(tmp_path, HFBackend(model_obj=tiny_model(seed=1)[0], tokenizer=tok, name="tiny-b"))
    other.embed(texts[:1])
    assert other.misses == 1


def test_real_data_shapes():
    if not SHARED.is_dir():
        pytest.skip("../shared/data is not present (the real OpinionQA / GlobalOpinionQA / Polis files)")
    oqa = read_opinionqa(SHARED / "opinionqa")
    assert len(oqa.groups) >= 22 and len(oqa.questions) > 400 and len(oqa.population) == len(oqa.questions)
    gqa = read_globalopinionqa(SHARED / "pluralism" / "distributional_globalopinionqa.jsonl")
    assert len(gqa.groups) > 50
    polis = read_survey("polis", SHARED / "polis")
    assert {m["conversation"] for m in polis.meta.values()} >= {"vtaiwan.uberx", "scoop-hivemind.ubi"}


def test_embed_survey_orders_options_per_question(tmp_path):
    survey = read_globalopinionqa(_jsonl(tmp_path / "g.jsonl", [ROW]))

    class Counting:
        name = "counting"

        def embed(self, texts, progress=None):
            return np.array([[len(t), t.endswith("Yes")] for t in texts], dtype=np.float32)

    (emb,) = embed_survey(survey, EmbeddingCache(None, Counting())).values()
    assert emb.shape == (2, 2) and emb[0, 1] == 1 and emb[1, 1] == 0
