"""The session log: a killed run resumes at the next round and writes what an unbroken run writes; bad files
(documents, logs, edits) fail with one line naming file, line and field; the commands end to end."""

import json

import numpy as np
import pytest

from pluralign.errors import InputError
from pluralign.feedback.edits.agents import Doc
from pluralign.feedback.edits.documents import read_documents, schedule
from pluralign.feedback.edits.retrieval import Embedder
from pluralign.feedback.edits.session import Session, SessionConfig, read_log
from pluralign.feedback.edits.users import ProgrammaticUser

AGENTS = ["no-learning", "icl-edit-2", "cipher-2"]
DOCS = [Doc(f"d{i}", f"Story {i} about {'cats' if i % 2 else 'dogs'}.", "cats" if i % 2 else "dogs")
        for i in range(8)]


def _toy():
    return {"minilm": Embedder(lambda ts: np.stack([np.eye(2, dtype=np.float32)[int("cats" in t)] for t in ts]), "toy")}


class Killed(Exception):
    pass


class DyingUser(ProgrammaticUser):
    """Edits like the programmatic user, then dies during round ``at`` (after ``at`` full rounds)."""

    def __init__(self, prefs, at):
        super().__init__(prefs)
        self.at, self.calls = at, 0

    def edit(self, turns):
        if self.calls == self.at:
            raise Killed
        self.calls += 1
        return super().edit(turns)


PREFS = {"cats": "question", "dogs": "emojis"}


def _session(lm, user, path, rounds=5):
    cfg = SessionConfig(agents=AGENTS, seeds=[0, 1], rounds=rounds, max_new_tokens=4, phrase_tokens=4)
    return Session(lm, user, DOCS, cfg, path, embedders=_toy())


def _body(path):
    return [json.loads(x) for x in path.read_text().splitlines()[1:]]


def test_resume_after_a_kill_matches_an_unbroken_run(tiny_lm, tmp_path):
    whole = tmp_path / "whole.jsonl"
    _session(tiny_lm, ProgrammaticUser(PREFS), whole).run()
    broken = tmp_path / "broken.jsonl"
    with pytest.raises(Killed):
        _session(tiny_lm, DyingUser(PREFS, at=3), broken).run()
    assert len(_body(broken)) == 3 * 6  # three whole rounds were written, nothing of the fourth
    with open(broken, "a") as fh:      # and a torn line, as a kill during a write leaves
        fh.write('{"stream": "no-learning/seed0", "ro')
    resumed = _session(tiny_lm, ProgrammaticUser(PREFS), broken)
    assert resumed.resume() == 3
    assert [len(s.records) for s in resumed.streams] == [3] * 6
    resumed.run()
    assert _body(broken) == _body(whole)


def test_unfinished_round_is_dropped_and_redone(tiny_lm, tmp_path):
    path = tmp_path / "log.jsonl"
    _session(tiny_lm, ProgrammaticUser(PREFS), path, rounds=2).run()
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-2]) + "\n")  # a round with only 4 of its 6 records
    again = _session(tiny_lm, ProgrammaticUser(PREFS), path, rounds=2)
    assert again.resume() == 1
    assert len(_body(path)) == 6
    again.run()
    assert len(_body(path)) == 12


def test_a_log_from_another_run_is_refused(tiny_lm, tmp_path):
    path = tmp_path / "log.jsonl"
    _session(tiny_lm, ProgrammaticUser(PREFS), path, rounds=1).run()
    other = ProgrammaticUser({"cats": "brief", "dogs": "emojis"})
    other.name = "someone-else"
    with pytest.raises(InputError, match="different run"):
        _session(tiny_lm, other, path, rounds=2).run()
    # More rounds of the same run are fine: the log is extended.
    _session(tiny_lm, ProgrammaticUser(PREFS), path, rounds=2).run()
    assert max(r["round"] for r in _body(path)) == 1


@pytest.mark.parametrize("body, where", [
    (b"", "no header"),
    (b'{"x": 1}\n', "no header"),
    (b'\xff\xfe\n', "not UTF-8"),
    (b'{"header": true}\n[1, 2]\n', ":2: expected a JSON object"),
    (b'{"header": true}\n{bad\n{"a": 1}\n', ":2: invalid JSON"),
    (b'{"header": true}\n{"stream": "a", "agent": "a", "seed": 0, "round": NaN}\n', "field 'round'"),
    (b'{"header": true}\n' + json.dumps({"stream": "a", "agent": "a", "seed": 0, "round": 1, "doc": "d",
                                         "source": "s", "context": "c", "response": "r", "edited": "e",
                                         "cost": -3}).encode() + b"\n", "field 'cost'"),
])
def test_bad_logs(tmp_path, body, where):
    path = tmp_path / "log.jsonl"
    path.write_bytes(body)
    with pytest.raises(InputError, match=where):
        read_log(path)


@pytest.mark.parametrize("body, where", [
    (b"", "no documents"),
    (b"\n\n", "no documents"),
    (b'\xff\xfe{"text": "a"}\n', "doc.jsonl"),
    (b'{"text": "a"}\n', ":1: field 'source'"),
    (b'{"text": "", "source": "s"}\n', ":1: field 'text'"),
    (b'{"text": 1e999, "source": "s"}\n', ":1: field 'text'"),
    (b'{"text": "a", "source": "s"}\n"just a string"\n', ":2: expected a JSON object"),
    (b'{"text": "a", "source": "s", "id": 1}\n{"text": "b", "source": "s", "id": "1"}\n', ":2: field 'id'"),
    (b'{"text": "a", "source": "s", "id": [1]}\n', ":1: field 'id'"),
    (b'{"text": "a", "source": "s"}\n{"text": "b", "sou', ":2: invalid JSON"),
])
def test_bad_documents(tmp_path, body, where):
    path = tmp_path / "doc.jsonl"
    path.write_bytes(body)
    with pytest.raises(InputError, match=where):
        read_documents(path)


def test_documents_are_clipped_and_scheduled_by_seed(tmp_path):
    path = tmp_path / "doc.jsonl"
    rows = [{"text": " ".join(["w"] * 50), "source": "a" if i < 2 else "b"} for i in range(10)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    docs = read_documents(path, context_words=10)
    assert docs[0].text == " ".join(["w"] * 10) + " ..."
    order = schedule(docs, 12, seed=0)
    assert len(order) == 12 and sum(d.source == "a" for d in order) == 6  # balanced, "a" reused
    assert [d.id for d in schedule(docs, 12, seed=0)] == [d.id for d in order]
    assert [d.id for d in schedule(docs, 12, seed=1)] != [d.id for d in order]
