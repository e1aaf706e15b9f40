"""Polis CSV import/export: the three real conversations re-export vote for vote; bad files name the line."""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from pluralign.elicit.polis import export_polis, import_polis
from pluralign.elicit.store import Store
from pluralign.errors import InputError

def read(path):
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def log(path):
    """votes.csv as a multiset of (timestamp, comment, voter, vote): the whole history, re-votes included."""
    return Counter((r["timestamp"], r["comment-id"], r["voter-id"], r["vote"]) for r in read(path))


def assert_round_trip(store, source, out):
    """Import the Polis export in ``source``, export it to ``out`` and compare vote for vote."""
    process, _ = import_polis(store, source, slug=source.name.replace(".", "-"))
    counts = export_polis(store, process, out)

    assert log(out / "votes.csv") == log(source / "votes.csv")
    assert counts["votes.csv"] == len(read(source / "votes.csv"))
    original, exported = read(source / "participants-votes.csv"), read(out / "participants-votes.csv")
    assert list(exported[0]) == list(original[0])  # same columns, same order (comment ids with votes)
    by_id = {r["participant"]: r for r in exported}
    assert len(by_id) == len(original)
    for row in original:  # latest vote per participant and comment, group ids and counts, cell by cell
        assert by_id[row["participant"]] == row
    keep = ("timestamp", "comment-id", "author-id", "moderated", "comment-body")
    assert (Counter(tuple(r[k] for k in keep) for r in read(out / "comments.csv"))
            == Counter(tuple(r[k] for k in keep) for r in read(source / "comments.csv")))
    summary = dict(row for row in csv.reader(open(out / "summary.csv", encoding="utf-8")))
    assert summary["topic"] == dict(csv.reader(open(source / "summary.csv", encoding="utf-8")))["topic"]
    assert int(summary["voters"]) == len(original)


@pytest.mark.parametrize("name", ["london.youth.policing", "scoop-hivemind.ubi"])
def test_real_conversation_round_trips_vote_for_vote(store, shared_data, tmp_path, name):
    assert_round_trip(store, shared_data / "polis" / name, tmp_path)


def test_largest_conversation_round_trips_vote_for_vote(shared_data, tmp_path):
    """vTaiwan uberx: 49,997 votes by 1,921 people (SQLite only; the two above also run on PostgreSQL)."""
    assert_round_trip(Store(str(tmp_path / "vtaiwan.db")), shared_data / "polis" / "vtaiwan.uberx", tmp_path)


def test_revotes_keep_history_latest_counts(store, shared_data):
    """London's log has re-votes: the current table holds one per pair, the history every row."""
    from pluralign.elicit.exports import votes

    source = shared_data / "polis" / "london.youth.policing"
    process, _ = import_polis(store, source, slug="london")
    rows = read(source / "votes.csv")
    assert len(votes(store, process, history=True)) == len(rows)
    current = votes(store, process)
    assert len(current) == len({(r["voter-id"], r["comment-id"]) for r in rows}) < len(rows)


def write(folder, name, text):
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


COMMENTS = "timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,comment-body\n1,x,0,1,0,0,1,Hello world\n"
VOTES = "timestamp,datetime,comment-id,voter-id,vote\n5,x,0,1,1\n"


@pytest.mark.parametrize("comments, votes, message", [
    (COMMENTS, VOTES + "6,x,9,1,1\n", "votes.csv:3: field 'comment-id': vote on comment-id 9"),
    (COMMENTS, VOTES + "6,x,0,1,2\n", "votes.csv:3: field 'vote': must be 1, -1 or 0"),
    (COMMENTS, VOTES + "6,x,0,abc,1\n", "votes.csv:3: field 'voter-id': expected an integer"),
    (COMMENTS.replace(",1,Hello", ",7,Hello"), VOTES, "comments.csv:2: field 'moderated'"),
    ("timestamp,comment-id\n", VOTES, "comments.csv:1: missing columns"),
])
def test_bad_polis_files_name_file_line_and_field(store, tmp_path, comments, votes, message):
    folder = tmp_path / "bad"
    write(folder, "comments.csv", comments)
    write(folder, "votes.csv", votes)
    with pytest.raises(InputError, match=message):
        import_polis(store, folder)
    assert store.processes() == []  # nothing written
