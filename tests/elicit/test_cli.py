"""``pluralign elicit create|list|import-polis|export``: specs in, records and CSVs out, exit 2 on bad input."""

from __future__ import annotations

import json

import pytest

from pluralign.cli import main
from pluralign.io import read_records


def run(capsys, *argv) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as ex:
        code = ex.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_create_conversation_and_comparison_then_export(tmp_path, capsys):
    db = str(tmp_path / "cli.db")
    spec = tmp_path / "rules.toml"
    spec.write_text('kind = "conversation"\ntitle = "Pick rules"\nmin_votes = 2\n'
                    'statements = ["The AI should be honest.", "The AI should be kind."]\n')
    code, out, _ = run(capsys, "elicit", "create", str(spec), "--db", db, "--slug", "rules")
    assert code == 0 and "/c/rules" in out and "organiser token" in out
    task = tmp_path / "task.json"
    task.write_text(json.dumps({"kind": "comparison", "title": "Compare",
                                "items": [{"prompt": "Hi", "responses": ["Hello!", "Go away."]}]}))
    code, out, _ = run(capsys, "elicit", "create", str(task), "--db", db, "--slug", "cmp")
    assert code == 0 and "/t/cmp" in out
    code, out, _ = run(capsys, "elicit", "list", "--db", db)
    assert "rules\tconversation\tPick rules\taccepted statements 2" in out and "cmp\tcomparison" in out
    code, out, _ = run(capsys, "elicit", "export", "rules", "--out-dir", str(tmp_path / "out"), "--db", db)
    assert code == 0
    statements = read_records(tmp_path / "out" / "statements.jsonl", "statement")
    assert [s.text for s in statements] == ["The AI should be honest.", "The AI should be kind."]
    assert all(s.moderated == 1 and s.conversation == "rules" for s in statements)
    assert (tmp_path / "out" / "participants-votes.csv").exists()


@pytest.mark.parametrize("text, message", [
    ('kind = "conversation"\n', "field 'title': required text field"),
    ('kind = "conversation"\ntitle = "x"\ncolour = "red"\n', "unknown fields ['colour']"),
    ('kind = "poll"\ntitle = "x"\n', "kind must be"),
    ('kind = "comparison"\ntitle = "x"\n[[items]]\nprompt = "p"\nresponses = ["only one"]\n', "2 or more"),
    ("kind = \n", "not valid toml"),
    ('kind = "conversation"\ntitle = "x"\nstatements = ["fine statement", "no"]\n', "too short"),
])
def test_bad_specs_exit_2_and_write_nothing(tmp_path, capsys, text, message):
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    db = tmp_path / "bad.db"
    code, _, err = run(capsys, "elicit", "create", str(spec), "--db", str(db))
    assert code == 2 and message in err and err.count("\n") == 1
    code, out, _ = run(capsys, "elicit", "list", "--db", str(db))
    assert out == ""


def test_import_polis_from_the_command_line(tmp_path, capsys, shared_data):
    db = str(tmp_path / "polis.db")
    code, out, _ = run(capsys, "elicit", "import-polis", str(shared_data / "polis" / "london.youth.policing"),
                       "--db", db, "--slug", "london")
    assert code == 0 and "/c/london" in out
    code, out, _ = run(capsys, "elicit", "export", "london", "--out-dir", str(tmp_path / "x"), "--db", db, "--no-polis")
    assert code == 0 and "votes.jsonl\t638 rows" in out and "vote-history.jsonl\t640 rows" in out
    assert not (tmp_path / "x" / "votes.csv").exists()
    code, _, err = run(capsys, "elicit", "export", "nope", "--out-dir", str(tmp_path / "y"), "--db", db)
    assert code == 2 and "no process named 'nope'" in err


@pytest.mark.parametrize("name, data, message", [
    ("lots.toml", b'kind = "conversation"\ntitle = "x"\nmin_votes = "lots"\n', "min_votes must be a whole number"),
    ("huge.toml", b'kind = "conversation"\ntitle = "x"\nmin_votes = 99999999999999\n', "min_votes must be a whole number"),
    ("surrogate.json", b'{"kind": "conversation", "title": "x", "statements": ["ok \\ud800 statement"]}',
     "lone surrogate"),
    ("title.json", b'{"kind": "conversation", "title": "bad \\udfff title"}', "title contains a lone surrogate"),
    ("binary.toml", b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "not UTF-8 text"),
])
def test_hostile_specs_exit_2_and_leave_no_database(tmp_path, capsys, name, data, message):
    spec = tmp_path / name
    spec.write_bytes(data)
    db = tmp_path / "new.db"
    code, _, err = run(capsys, "elicit", "create", str(spec), "--db", str(db))
    assert code == 2 and message in err and err.count("\n") == 1
    assert not db.exists() and list(tmp_path.iterdir()) == [spec]  # no database, no -wal/-shm


def test_bad_database_paths_exit_2(tmp_path, capsys):
    spec = tmp_path / "ok.toml"
    spec.write_text('kind = "conversation"\ntitle = "Fine"\n')
    folder = tmp_path / "folder.db"
    folder.mkdir()
    text = tmp_path / "notes.txt"
    text.write_text("not a database, just notes\n" * 50)
    for db, message in ((folder, "cannot open the database"), (text, "cannot open the database: file is not a database"),
                        (text / "inside.db", "cannot create the database's folder")):
        code, _, err = run(capsys, "elicit", "create", str(spec), "--db", str(db))
        assert code == 2 and message in err and err.count("\n") == 1, err
    assert text.read_text() == "not a database, just notes\n" * 50


def test_failed_import_leaves_no_database(tmp_path, capsys):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "comments.csv").write_text("timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,"
                                         "comment-body\n1,x,0,0,0,0,1,Hello\n")
    (folder / "votes.csv").write_text("timestamp,datetime,comment-id,voter-id,vote\n1,x,7,0,1\n")
    db = tmp_path / "import.db"
    code, _, err = run(capsys, "elicit", "import-polis", str(folder), "--db", str(db))
    assert code == 2 and "votes.csv:2" in err
    assert not db.exists()
