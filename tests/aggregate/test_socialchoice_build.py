"""The bulk ballot -> tensor build equals a per-ballot reference build on random inputs with ties, weights,
unranked and unshown candidates, and the file reader gives the same tensors as reading the records."""

import numpy as np
import pytest

from pluralign.aggregate.voting.profiles import from_rankings, prompt_key
from pluralign.errors import InputError
from pluralign.records import Message, Ranking


def per_ballot(rankings, annotator_weights=None):
    """The straightforward build: one assignment per ballot and per tier."""
    groups = {}
    for r in rankings:
        groups.setdefault(prompt_key(r.prompt), []).append(r)
    P, A = len(groups), max(len(g) for g in groups.values())
    names = [list(dict.fromkeys(c for r in g for c in r.candidates)) for g in groups.values()]
    C = max(len(n) for n in names)
    ranks = np.full((P, A, C), C + 1, np.int16)
    weights = np.zeros((P, A))
    for p, (ballots, cands) in enumerate(zip(groups.values(), names)):
        index = {c: i for i, c in enumerate(cands)}
        for a, r in enumerate(ballots):
            weights[p, a] = r.weight * (1.0 if annotator_weights is None else annotator_weights[r.annotator])
            ranks[p, a, [index[c] for c in r.candidates]] = C
            for tier, members in enumerate(r.order):
                ranks[p, a, [index[c] for c in members]] = tier
    return ranks, weights, [n + [""] * (C - len(n)) for n in names], [g[0].prompt for g in groups.values()], \
        [[r.annotator for r in g] + [None] * (A - len(g)) for g in groups.values()], \
        np.arange(C) < np.array([len(n) for n in names])[:, None]


def random_rankings(rng, n_prompts=30, conversations=False):
    pool = [f"response {i}" for i in range(9)] + ["é ünïcode", ""]
    out = []
    for p in range(n_prompts):
        prompt = ([Message(role="user", content=f"q{p}")] if conversations and p % 3 == 0 else f"prompt {p}")
        names = list(rng.choice(pool, rng.integers(2, 8), replace=False))
        for a in rng.permutation(12)[: rng.integers(1, 12)]:
            shown = [c for c in names if rng.random() < 0.8] or names[:2]
            shown = shown if len(shown) >= 2 else names[:2]
            ranked = [c for c in rng.permutation(shown) if rng.random() < 0.8] or [shown[0]]
            cuts = sorted(set(rng.integers(1, len(ranked) + 1, rng.integers(0, 3)).tolist()) | {len(ranked)})
            order = [ranked[i:j] for i, j in zip([0] + cuts[:-1], cuts)]
            out.append(Ranking(prompt=prompt, candidates=list(rng.permutation(shown)), order=order,
                               annotator=None if rng.random() < 0.1 else f"a{a}", weight=float(rng.random() * 3)))
    return [out[i] for i in rng.permutation(len(out))]  # prompts interleaved in the file


@pytest.mark.parametrize("seed", range(6))
def test_bulk_build_equals_per_ballot_build(seed):
    rng = np.random.default_rng(seed)
    rankings = random_rankings(rng, conversations=seed % 2 == 1)
    annotator_weights = {f"a{a}": float(w) for a, w in enumerate(rng.random(12) * 2)} if seed % 3 else None
    if annotator_weights is not None:
        rankings = [r for r in rankings if r.annotator is not None]
    ranks, weights, candidates, prompts, annotators, present = per_ballot(rankings, annotator_weights)
    got = from_rankings(rankings, annotator_weights)
    np.testing.assert_array_equal(got.ranks, ranks)
    np.testing.assert_allclose(got.weights, weights)
    assert got.candidates == candidates and got.prompts == prompts and got.annotators == annotators
    np.testing.assert_array_equal(got.present, present)


def test_annotator_ranking_a_prompt_twice_is_named():
    rs = [Ranking(id=f"r{i}", prompt=p, candidates=["x", "y"], order=[["x"]], annotator=a)
          for i, (p, a) in enumerate([("p", "ann"), ("q", "ann"), ("p", "other"), ("p", "ann")])]
    with pytest.raises(InputError, match="ranking r3: annotator 'ann' ranks this prompt twice"):
        from_rankings(rs)


def test_missing_or_bad_annotator_weight_is_named():
    rs = [Ranking(id="r0", prompt="p", candidates=["x", "y"], order=[["x"]], annotator="ann")]
    with pytest.raises(InputError, match="ranking r0: annotator 'ann' has no weight"):
        from_rankings(rs, {"someone": 1.0})
    with pytest.raises(InputError, match="weights must be >= 0"):
        from_rankings(rs, {"ann": float("nan")})


@pytest.mark.parametrize("rule,pairs", [("schulze", "all"), ("borda", "best-worst"), ("instant_runoff", "all")])
def test_written_lines_are_the_records(tmp_path, rule, pairs):
    """The JSONL the command writes is exactly what writing the Preference records gives, and reads back."""
    from pluralign.aggregate.socialchoice import apply_rule, social_preferences, write_preferences
    from pluralign.io import read_records, write_records
    from pluralign.records import Preference

    rankings = random_rankings(np.random.default_rng(7), conversations=True)
    profiles = from_rankings(rankings)
    outcome = apply_rule(rule, profiles)
    records = social_preferences(outcome, profiles, pairs, "in.jsonl")
    write_records(tmp_path / "a.jsonl", records)
    n = write_preferences(tmp_path / "b.jsonl", outcome, profiles, pairs, "in.jsonl")
    assert n == len(records) > 0
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()
    again = read_records(tmp_path / "b.jsonl", Preference)
    assert [r.model_dump() for r in again] == [Preference.model_validate(r.model_dump()).model_dump() for r in records]
    assert len({r.id for r in records}) == len(records)
    assert [r.id for r in social_preferences(outcome, profiles, pairs, "in.jsonl")] == [r.id for r in records]


def _write_lines(path, rows):
    import json

    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_file_read_column_wise_equals_records(tmp_path):
    from pluralign.aggregate.voting import read
    from pluralign.io import write_records

    rankings = random_rankings(np.random.default_rng(3))
    write_records(tmp_path / "r.jsonl", rankings)
    assert read._columns(tmp_path / "r.jsonl") is not None  # the column-wise path is the one tested
    got, want = read.read_profiles(tmp_path / "r.jsonl"), from_rankings(rankings)
    np.testing.assert_array_equal(got.ranks, want.ranks)
    np.testing.assert_array_equal(got.weights, want.weights)
    assert (got.prompts, got.candidates, got.annotators) == (want.prompts, want.candidates, want.annotators)


GOOD = {"id": "r1", "prompt": "p", "candidates": ["x", "y", "z"], "order": [["x"], ["y", "z"]], "annotator": "a"}


@pytest.mark.parametrize("bad,match", [
    ({"order": [["x"], ["w"]]}, "unknown candidate 'w'"),
    ({"order": [["x"], ["x"]]}, "repeats candidate 'x'"),
    ({"candidates": ["x", "x", "y"]}, "distinct"),
    ({"order": [["x"], []]}, "empty tier"),
    ({"candidates": ["x"], "order": [["x"]]}, "candidates"),
    ({"weight": -1}, "weight"),
    ({"weight": None}, "weight"),
    ({"prompt": 5}, "prompt"),
    ({"colour": "red"}, "colour"),
    ({"provenance": {"rule": "x", "extra": 1}}, "extra"),
    ({"id": None}, "id"),
])
def test_bad_rows_give_the_record_error_with_file_and_line(tmp_path, bad, match):
    """Whatever the column-wise read cannot vouch for is read record by record: the error names file:line."""
    from pluralign.aggregate.voting.read import read_profiles

    path = _write_lines(tmp_path / "r.jsonl", [GOOD | {"id": "r0", "annotator": "b"}, GOOD | bad])
    with pytest.raises(InputError, match=match) as err:
        read_profiles(path)
    assert "r.jsonl" in str(err.value) and ":2" in str(err.value)


@pytest.mark.parametrize("raw", ['{"id": "r1", "prompt": "p", "candidates": ["x", "y"], "order": [["x"]], "weight": NaN}',
                                 '{"id": "r1", "prompt": "p", "candidates": ["x", "y"], "order": [["x"]], "weight": 1e999}',
                                 b'{"id": "r1", "prompt": "p\xff", "candidates": ["x", "y"], "order": [["x"]]}', "{not json"])
def test_hostile_lines_are_refused(tmp_path, raw):
    from pluralign.aggregate.voting.read import read_profiles

    path = tmp_path / "r.jsonl"
    path.write_bytes((raw if isinstance(raw, bytes) else raw.encode()) + b"\n")
    with pytest.raises(InputError):
        read_profiles(path)


def test_empty_file_and_twice_ranked_prompt(tmp_path):
    from pluralign.aggregate.voting.read import read_profiles

    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(InputError, match="no rankings"):
        read_profiles(tmp_path / "empty.jsonl")
    path = _write_lines(tmp_path / "r.jsonl", [GOOD, GOOD | {"id": "r2"}])
    with pytest.raises(InputError, match="ranking r2: annotator 'a' ranks this prompt twice"):
        read_profiles(path)
