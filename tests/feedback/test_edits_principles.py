"""Learned preferences as Principles (with provenance), a personal constitution `cai label` can read, the
LM-backed user's control flow, and both commands end to end on the tiny model."""

import json

import numpy as np
import pytest

from pluralign.cli import main
from pluralign.constitution import load
from pluralign.feedback.edits.principles import edits_from_log, learn_preferences, personal_constitution
from pluralign.feedback.edits.users import LMUser, Turn
from pluralign.io import read_records, write_records
from pluralign.records import Edit


class Counting:
    """The tiny model seen through the protocol, counting what each step asks."""

    def __init__(self, lm):
        self.lm, self.name, self.generated, self.asked = lm, lm.name, [], []

    def generate(self, prompts, **kw):
        self.generated.append(len(prompts))
        return self.lm.generate(prompts, **kw)

    def option_logprobs(self, prompts, options, progress=None):
        self.asked.append((len(prompts), tuple(options)))
        return self.lm.option_logprobs(prompts, options)


EDITS = [
    Edit(id="e1", prompt="Summarize: the budget", original="The budget grew.", edited="- the budget grew 🙂",
         annotator="ana"),
    Edit(id="e2", prompt="Summarize: the match", original="We won.", edited="- we won 🙂", annotator="ana"),
    Edit(id="e3", prompt="Summarize: rain", original="It rained.", edited="It rained.", annotator="ana"),  # no edit
    Edit(id="e4", prompt="Summarize: a trip", original="A long trip.", edited="A trip.", annotator="bo"),
    Edit(id="e5", prompt="x", original="same", edited="same", annotator="cy"),  # nothing to learn from
]


class PhraseLM:
    """Answers through the protocol with a phrase read off the prompt: what an edit added, or a merge."""

    name = "phrase"

    def __init__(self):
        self.batches = []

    def generate(self, prompts, n=1, temperature=0.7, top_p=1.0, max_new_tokens=128, seed=None,
                 repetition_penalty=None, progress=None):
        texts = [p[-1]["content"] for p in prompts]
        self.batches.append(texts)
        return [["merged: " + t.split("\n- ")[1].split("\n")[0]] if t.startswith("Preferences")
                else ["Answer:\nemojis"] if "🙂" in t else ["shorter"] for t in texts]


def test_learn_preferences_one_principle_per_person():
    lm = PhraseLM()
    edits = EDITS + [Edit(id="e6", prompt="p", original="Long words here.", edited="Long.", annotator="ana")]
    found = {p.provenance.participants[0]: p for p in learn_preferences(lm, edits, phrase_tokens=4)}
    assert len(lm.batches[0]) == 4  # one inference per real edit (e3 and e5 change nothing), one batch
    assert [t.startswith("Preferences") for t in lm.batches[1]] == [True]  # only ana has two phrases to merge
    assert "- emojis\n- shorter" in lm.batches[1][0]  # the most frequent phrase first
    assert found["ana"].text == "merged: emojis" and found["bo"].text == "shorter"
    assert found["ana"].provenance.details["inferred"] == ["emojis", "emojis", "shorter"]
    assert set(found) == {"ana", "bo"}
    for person, p in found.items():
        prov = p.provenance
        assert prov.model == "phrase" and prov.rule == "cipher/infer+merge"
        assert prov.details["edits"] == {"ana": ["e1", "e2", "e6"], "bo": ["e4"]}[person]
        assert len(prov.details["contexts"]) == len(prov.details["edits"])
        assert p.text in p.choice_prompt and p.id == f"edits-{person}"


def test_personal_constitution_loads_for_cai_label(tmp_path, tiny_lm):
    from pluralign.feedback.edits.principles import principle_for
    from pluralign.io import save_constitution

    p = principle_for("bullet points with emojis", person="ana@example.org", edits=["e1"], contexts=["c"],
                      model="tiny")
    assert p.id == "edits-ana-example.org"
    save_constitution(tmp_path / "c.json", personal_constitution(p))
    cons = load(tmp_path / "c.json")
    assert cons.principles[0].choice_prompt.endswith("bullet points with emojis.")
    assert cons.principles[0].provenance.participants == ["ana@example.org"]


def test_lm_user_asks_yes_no_then_rewrites_only_the_rejected(tiny_lm):
    from pluralign.feedback.edits import prompts

    lm = Counting(tiny_lm)
    user = LMUser(lm, {"s": "brief"}, max_new_tokens=4)
    turns = [Turn("A text.", "s", f"Response number {i}.") for i in range(6)]
    user.edit(turns)
    assert lm.asked == [(6, ("Yes", "No"))]
    scores = tiny_lm.option_logprobs([prompts.user_accepts(t.context, t.response, user.latent("s")) for t in turns],
                                     ["Yes", "No"])
    rejected = int((scores[:, 1] > scores[:, 0]).sum())
    assert lm.generated == ([rejected] if rejected else [])  # one batched rewrite of exactly the rejected
    assert user.latent("s").startswith("very brief") and user.name == "lm:tiny"


def test_simulate_then_learn_on_the_command_line(tmp_path, capsys):
    from pluralign.lm.tiny import save_tiny_model

    model = save_tiny_model(tmp_path / "tiny")
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"text": f"Note {i} on {s}.", "source": s}) + "\n"
                            for i, s in enumerate(["rain", "sun"] * 3)))
    log, edits = tmp_path / "log.jsonl", tmp_path / "edits.jsonl"
    args = ["edits", "simulate", "--documents", str(docs), "--log", str(log), "--agents", "no-learning,cipher-1:lm",
            "--seeds", "0,1", "--rounds", "2", "--model", str(model), "--max-new-tokens", "3",
            "--phrase-tokens", "3", "--preferences", "rain=question,sun=emojis", "--edits-out", str(edits)]
    main(args)
    out = capsys.readouterr().out
    assert "cipher-1:lm" in out and "cumulative cost" in out
    recs = read_records(edits, "edit")
    assert len(recs) == 2 * 2 * 2 and {r.annotator for r in recs} <= {"programmatic:rain", "programmatic:sun"}
    main(args)  # a rerun resumes: nothing left to do, the same log
    assert len(log.read_text().splitlines()) == 1 + 8
    prefs, cons = tmp_path / "prefs.jsonl", tmp_path / "cons"
    main(["edits", "learn", "--edits", str(edits), "--out", str(prefs), "--constitutions", str(cons),
          "--model", str(model), "--phrase-tokens", "3"])
    learned = read_records(prefs, "principle")  # the random tiny model may state no phrase at all
    assert all(p.provenance.details["edits"] for p in learned)
    out = capsys.readouterr().out
    assert f"wrote {len(learned)} learned preferences" in out
    assert "no preference inferred" in out or learned
    assert sorted(f.name for f in cons.iterdir()) == sorted(f"{p.id}.json" for p in learned)


@pytest.mark.parametrize("body, message", [
    (b"", "no edits"),
    (b'{"prompt": "p", "original": "o"}\n', "field 'edited'"),
    (b'\xff\n', "edits.jsonl"),
])
def test_learn_refuses_bad_edit_files(tmp_path, body, message, capsys):
    path = tmp_path / "edits.jsonl"
    path.write_bytes(body)
    with pytest.raises(SystemExit) as exit_:
        main(["edits", "learn", "--edits", str(path), "--out", str(tmp_path / "out.jsonl"), "--model", "x"])
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("extra, message", [
    (["--agents", "cipher-0"], "field 'agents'"),
    (["--seeds", "a,b"], "field 'seeds'"),
    (["--seeds", "\u0663"], "field 'seeds'"),  # an Arabic-Indic digit
    (["--seeds", ","], "field 'seeds'"),
    (["--rounds", "10000000000"], "rounds"),
    (["--preferences", "rain=shout"], "field 'preferences'"),
    (["--user", "robot"], "field 'user'"),
])
def test_simulate_refuses_bad_options(tmp_path, extra, message, capsys):
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"text": "t", "source": "rain"}) + "\n")
    with pytest.raises(SystemExit) as exit_:
        main(["edits", "simulate", "--documents", str(docs), "--log", str(tmp_path / "log.jsonl"),
              "--model", "does-not-exist", *extra])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_edits_from_a_log_keep_their_round(tmp_path):
    rec = {"stream": "cipher-1/seed0", "agent": "cipher-1", "seed": 0, "round": 3, "doc": "d", "source": "news",
           "context": "ctx", "response": "a", "edited": "b", "cost": 1, "edit_id": "cipher-1/seed0/r3"}
    (e,) = edits_from_log([rec], user="programmatic", model="m")
    assert e.annotator == "programmatic:news" and e.provenance.details["round"] == 3
    write_records(tmp_path / "e.jsonl", [e])
    assert read_records(tmp_path / "e.jsonl", "edit")[0].id == "cipher-1/seed0/r3"
    assert np.isfinite(rec["cost"])
