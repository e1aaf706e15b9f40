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
    (COMMENTS, VOTES + "6,x,0,1,2\n", "votes.csv:3: field 'vote': expected -1, 0 or 1, got '2'"),
    (COMMENTS, VOTES + "6,x,0,abc,1\n", "votes.csv:3: field 'voter-id': expected an integer"),
    (COMMENTS.replace(",1,Hello", ",7,Hello"), VOTES, "comments.csv:2: field 'moderated'"),
    ("timestamp,comment-id\n", VOTES, "comments.csv:1: missing columns"),
    # An unquoted comma in a body adds a field: rejected, not "Hello" stored as the whole comment.
    (COMMENTS.replace("Hello world", "Hello, world"), VOTES, "comments.csv:2: field 'comment-body': 9 fields where"),
    (COMMENTS, VOTES + "6,x,0,1,0.9\n", "votes.csv:3: field 'vote': expected -1, 0 or 1, got '0.9'"),
    (COMMENTS, VOTES + "inf,x,0,1,1\n", "votes.csv:3: field 'timestamp': expected an integer, got 'inf'"),
    (COMMENTS, VOTES + "6,x,0,1,\u0661\n", "votes.csv:3: field 'vote': expected -1, 0 or 1"),  # Arabic-Indic 1
    (COMMENTS, VOTES + "9" * 30 + ",x,0,1,1\n", "votes.csv:3: field 'timestamp': integer out of range"),
    (COMMENTS, VOTES.replace(",vote\n", "\n"), "votes.csv:1: missing column 'vote'"),
    # A body over three lines: the next record's error names its own line (5), as the csv reader counts.
    (COMMENTS.replace("Hello world", '"Hello\nworld\nagain"') + "2,x,1,1,0,0,7,Bye\n", VOTES,
     "comments.csv:5: field 'moderated'"),
])
def test_bad_polis_files_name_file_line_and_field(store, tmp_path, comments, votes, message):
    """Each case also fails the opinion reader the same way: both read through elicit.polis_csv."""
    folder = tmp_path / "bad"
    write(folder, "comments.csv", comments)
    write(folder, "votes.csv", votes)
    with pytest.raises(InputError, match=message):
        import_polis(store, folder)
    assert store.processes() == []  # nothing written
    from pluralign.aggregate.opinion import read_polis_export

    # The analysis needs fewer comments.csv columns, and names unknown statements without a line.
    if "comment-id 9" not in message and "comments.csv:1" not in message:
        with pytest.raises(InputError, match=message):
            read_polis_export(folder)


def test_non_utf8_and_empty_files_are_one_line_errors(store, tmp_path):
    from pluralign.aggregate.opinion import read_polis_export

    folder = tmp_path / "bytes"
    write(folder, "comments.csv", COMMENTS)
    (folder / "votes.csv").write_bytes(VOTES.encode() + b"6,x,0,1,\xff\n")
    for read in (lambda: import_polis(store, folder), lambda: read_polis_export(folder)):
        with pytest.raises(InputError, match=r"votes.csv:3: not UTF-8 text \(byte 0xff\)"):
            read()
    (folder / "votes.csv").write_text("")
    with pytest.raises(InputError, match="votes.csv:1: empty file"):
        import_polis(store, folder)
    assert store.processes() == []


def test_fast_and_line_by_line_reads_agree_on_real_exports(shared_data):
    from pluralign.elicit import polis_csv as P

    folder = shared_data / "polis" / "london.youth.policing"
    kinds = {"participant": P.INT, "group-id": P.OPT_INT, "xid": P.TEXT}
    fast = P.read_polis_csv(folder / "participants-votes.csv", kinds, others=P.OPT_VOTE)
    slow = P._slow_read(folder / "participants-votes.csv", kinds, (), P.OPT_VOTE)
    assert fast._starts is None and fast.header == slow.header and len(fast) == len(slow) == 26
    for name in fast.blank:
        assert (fast.columns[name] == slow.columns[name]).all() and (fast.blank[name] == slow.blank[name]).all()
    comments = {"comment-id": P.INT, "comment-body": P.TEXT}
    assert (P.read_polis_csv(folder / "comments.csv", comments).columns["comment-body"]
            == P._slow_read(folder / "comments.csv", comments, (), None).columns["comment-body"])


HOSTILE_CELLS = ["", "0", "1", "-1", "-0", "007", "+1", "0x1", " 1", "1 ", "-", "--1", "1-", "١", "1e3", '"1"',
                 '""', "9" * 18, "-" + "9" * 18, "9" * 19, "9223372036854775807", "-9223372036854775808",
                 "9223372036854775808", " ", "a", "1.0", "nan", "2", "-2", "1\u00a0"]


def test_fast_read_accepts_only_what_the_line_by_line_read_accepts_and_agrees_with_it(tmp_path):
    """Random tables of hostile integer cells: the vectorised read either hands the file to the csv module or
    gives exactly its values and blanks; it never accepts a cell the csv module rejects."""
    import random

    from pluralign.elicit import polis_csv as P

    def outcome(read, path):
        try:
            t = read(path, {"a": P.OPT_INT, "b": P.INT}, (), P.OPT_VOTE)
        except InputError:
            return "error"
        return ({k: [int(x) for x in v] for k, v in t.columns.items()},
                {k: [bool(x) for x in v] for k, v in t.blank.items()})

    rng, fast_reads = random.Random(0), 0
    for trial in range(400):
        rows = [[rng.choice(HOSTILE_CELLS) for _ in range(3)] for _ in range(rng.randint(0, 5))]
        path = tmp_path / f"t{trial}.csv"
        path.write_text("a,b,7\n" + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
        try:
            fast = outcome(P._fast_read, path)
        except P._Fallback:
            continue
        fast_reads += 1
        assert fast == outcome(P._slow_read, path), path.read_text()
    assert fast_reads > 20  # the vectorised read is exercised, not always handed over


def test_reading_an_export_does_not_import_pyarrow_compute(shared_data):
    """Its import alone is 0.03 s of every `opinion analyze`; the integer columns are parsed by numpy."""
    import subprocess
    import sys

    folder = shared_data / "polis" / "london.youth.policing"
    code = ("import sys; from pluralign.aggregate.opinion.matrix import read_polis_export; "
            f"m = read_polis_export({str(folder)!r}); print('pyarrow.compute' in sys.modules, m.codes.nnz)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "False" and int(out[1]) > 0
