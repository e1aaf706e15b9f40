"""Text tasks in the store and the CLI: specs (one-line errors, exit 2), one row per participant and item
under concurrent submissions, the schema migration, and ``elicit export`` of Demonstration and Edit records."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import func, select, text

from pluralign.elicit import schema as S
from pluralign.elicit import task_store as T
from pluralign.elicit.store import Rejected, Store
from pluralign.elicit.tasks_demos import create_demonstration_task
from pluralign.elicit.tasks_edits import create_edit_task
from pluralign.io import read_records
from tests.elicit.test_cli import run


def test_concurrent_duplicates_leave_one_row(store):
    """Eight writers (each its own Store, so SQLite's lock is the database's, not ours) submit for the same
    browser and item at once: one participant, one row, holding one of the texts."""
    process, _ = create_demonstration_task(store, "Race", [{"prompt": "Go"}], slug="race")
    writers = [Store(store.engine) for _ in range(8)]
    barrier, errors = threading.Barrier(len(writers)), []

    def write(i: int, writer: Store) -> None:
        barrier.wait()
        try:
            T.submit(writer, writer.process("race"), "same-browser", 0, f"answer {i}")
        except Exception as err:  # noqa: BLE001 - collected and reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=write, args=(i, w)) for i, w in enumerate(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = T.submissions(store, process)
    assert len(rows) == 1 and rows[0]["text"] in {f"answer {i}" for i in range(8)} and rows[0]["participant"] == 0
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(S.Participant)).scalar_one() == 1


def test_resubmission_replaces_the_text_and_keeps_the_first_time(store):
    process, _ = create_edit_task(store, "Edit", [{"prompt": "p", "response": "r"}], slug="e1")
    T.submit(store, process, "browser-a", 0, "one")
    T.submit(store, process, "browser-b", 0, "other person")
    first = T.submissions(store, process)
    T.submit(store, process, "browser-a", 0, "two")
    after = T.submissions(store, process)
    assert [(s["participant"], s["text"]) for s in after] == [(0, "two"), (1, "other person")]
    assert after[0]["created"] == first[0]["created"]
    with pytest.raises(Rejected, match="not a text task"):
        T.task_view(store, store.create_process("comparison", "c", slug="cmp")[0], None)


def test_a_version_2_database_gains_the_submissions_table(tmp_path):
    db = str(tmp_path / "old.db")
    old = Store(db)
    with old.engine.begin() as conn:
        conn.execute(text("DROP TABLE submissions"))
        conn.execute(text("UPDATE schema_version SET version = 2"))
    old.engine.dispose()
    store = Store(db)
    with store.engine.connect() as conn:
        assert S.current_version(conn) == S.SCHEMA_VERSION == 3
    process, _ = create_demonstration_task(store, "After", [{"prompt": "p"}], slug="after")
    T.submit(store, process, "browser", 0, "works")
    assert T.submissions(store, process)[0]["text"] == "works"


def test_create_tasks_from_specs_and_export_records(tmp_path, capsys):
    db = str(tmp_path / "cli.db")
    demo = tmp_path / "demo.toml"
    demo.write_text('kind = "demonstration"\ntitle = "Write the answer you would want"\n'
                    '[[items]]\nprompt = "Write to your landlord."\n'
                    '[[items]]\nprompt = [{role = "user", content = "Say hi."}]\n', encoding="utf-8")
    code, out, _ = run(capsys, "elicit", "create", str(demo), "--db", db, "--slug", "demo")
    assert code == 0 and "participants open /d/demo" in out
    edit = tmp_path / "edit.json"
    edit.write_text(json.dumps({"kind": "edit", "title": "Edit this", "model": "SmolLM2-135M-Instruct",
                                "items": [{"prompt": "Greet me.", "response": "Hello there."}]}), encoding="utf-8")
    code, out, _ = run(capsys, "elicit", "create", str(edit), "--db", db, "--slug", "edit")
    assert code == 0 and "participants open /e/edit" in out

    store = Store(db)
    T.submit(store, store.process("demo"), "browser", 1, "Hi!")
    T.submit(store, store.process("edit"), "browser", 0, "Hello.")
    code, out, _ = run(capsys, "elicit", "list", "--db", db)
    assert "demo\tdemonstration\tWrite the answer you would want\tparticipants 1, texts written 1" in out
    code, out, _ = run(capsys, "elicit", "export", "demo", "--out-dir", str(tmp_path / "d"), "--db", db)
    assert code == 0 and "demonstrations.jsonl\t1 rows" in out and "participants.jsonl\t1 rows" in out
    [d] = read_records(tmp_path / "d" / "demonstrations.jsonl", "demonstration")
    assert d.completion == "Hi!" and d.author == "0" and d.prompt[0].content == "Say hi."
    code, out, _ = run(capsys, "elicit", "export", "edit", "--out-dir", str(tmp_path / "e"), "--db", db, "--no-polis")
    [e] = read_records(tmp_path / "e" / "edits.jsonl", "edit")
    assert (e.original, e.edited, e.annotator, e.provenance.model) == ("Hello there.", "Hello.", "0",
                                                                        "SmolLM2-135M-Instruct")


@pytest.mark.parametrize("spec, message", [
    ('kind = "demonstration"\ntitle = "x"\n', "needs a list of items"),
    ('kind = "demonstration"\ntitle = "x"\nitems = []\n', "needs a list of items"),
    ('kind = "demonstration"\ntitle = "x"\n[[items]]\nprompt = "p"\nresponse = "r"\n', "item 1 needs exactly ['prompt']"),
    ('kind = "edit"\ntitle = "x"\n[[items]]\nprompt = "p"\n', "item 1 needs exactly ['prompt', 'response']"),
    ('kind = "edit"\ntitle = "x"\n[[items]]\nprompt = "p"\nresponse = "  "\n', "item 1: response is empty"),
    ('kind = "edit"\ntitle = "x"\n[[items]]\nprompt = "p"\nresponse = "a\\u0000b"\n', "control characters"),
    ('kind = "edit"\ntitle = "x"\n[[items]]\nprompt = "p"\nresponse = "a\\u202eb"\n', "bidirectional"),
    ('kind = "edit"\ntitle = "x"\n[[items]]\nprompt = "p"\nresponse = "' + "r" * 7001 + '"\n', "too long"),
    ('kind = "edit"\ntitle = "x"\n[[items]]\nprompt = 3\nresponse = "r"\n', "item 1: prompt must be text"),
    ('kind = "demonstration"\ntitle = "x"\n[[items]]\nprompt = [{role = "robot", content = "c"}]\n',
     "item 1: prompt must be text or a list of {role, content}"),
    ('kind = "demonstration"\ntitle = "x"\n[[items]]\nprompt = []\n', "empty conversation"),
    ('kind = "demonstration"\ntitle = "x"\nmodel = "m"\n[[items]]\nprompt = "p"\n', "only edit tasks"),
    ('kind = "conversation"\ntitle = "x"\nmodel = "m"\n', "only edit tasks"),
    ('kind = "essay"\ntitle = "x"\n', "'demonstration' or 'edit'"),
])
def test_bad_text_task_specs_exit_2_and_write_nothing(tmp_path, capsys, spec, message):
    path = tmp_path / "bad.toml"
    path.write_text(spec, encoding="utf-8")
    db = str(tmp_path / "bad.db")
    code, _, err = run(capsys, "elicit", "create", str(path), "--db", db)
    assert code == 2 and message in err and err.count("\n") == 1, err
    code, out, _ = run(capsys, "elicit", "list", "--db", db)
    assert out == ""


def test_text_rules():
    assert T.clean_text(" a\r\nb\rc\t ") == "a\nb\nc"
    assert T.clean_text("cafe\u0301") == "caf\u00e9"
    assert T.clean_text("\u2066x\u2069 \u200fy") == "\u2066x\u2069 \u200fy"
    for bad in ("\ud800", "\x7f", "\u0085", "\ufffd", "\u202a", "\u2068open", "\u200b"):
        with pytest.raises(Rejected):
            T.clean_text(bad)
