"""SL-CAI chains on the tiny model: layout, principle draws, SFT records, and resumption after a crash."""

import json

import pytest

from pluralign.constitution import default_constitution
from pluralign.errors import InputError
from pluralign.feedback.critique import (ReviseConfig, cut_section, finished_ids, principle_for, read_chains, revise,
                                         sft_records)
from pluralign.feedback.fewshot import load_critique_examples
from pluralign.records import Provenance, RevisionChain, RevisionRound

ROWS = [{"id": f"q{i}", "prompt": f"Question number {i}?"} for i in range(5)]
CONFIG = ReviseConfig(rounds=2, max_new_tokens=4, batch_size=2)


class Recording:
    """Wraps a backend: records the prompts it is asked, and can crash after a number of generate calls."""

    def __init__(self, lm, crash_after: int | None = None):
        self.lm, self.name, self.crash_after, self.prompts = lm, lm.name, crash_after, []

    def generate(self, prompts, **kwargs):
        if self.crash_after is not None and len(self.prompts) >= self.crash_after:
            raise KeyboardInterrupt
        self.prompts.append(list(prompts))
        return self.lm.generate(prompts, **kwargs)


def test_chain_layout_and_fewshot(tiny_lm, tmp_path):
    lm = Recording(tiny_lm)
    fewshot = load_critique_examples()[:1]
    cons = default_constitution()
    revise(lm, ROWS[:2], cons, fewshot, tmp_path / "c.jsonl", CONFIG)
    chains = read_chains(tmp_path / "c.jsonl")
    assert [c.id for c in chains] == ["q0", "q1"] and all(c.kind == "revision_chain" for c in chains)
    assert all(len(c.rounds) == 2 and c.final == c.rounds[-1].revision for c in chains)
    assert chains[0].rounds[1].principle == principle_for("q0", 1, cons.principles, 0).id
    assert chains[0].provenance.principles == [r.principle for r in chains[0].rounds]
    assert chains[0].provenance.model == tiny_lm.name and chains[0].provenance.details["seed"] == CONFIG.seed
    # calls: initial answer, then critique and revision per round
    assert len(lm.prompts) == 1 + 2 * 2
    assert lm.prompts[0][0] == [{"role": "user", "content": "Question number 0?"}]
    critique_prompt = lm.prompts[1][0]
    assert critique_prompt.startswith("".join(fewshot))
    assert critique_prompt.endswith("\n\nCritique:") and "Critique Request: " in critique_prompt
    second_revision = lm.prompts[4][0]
    assert second_revision.count("Revision Request:") == 2 + len(fewshot) and second_revision.endswith("Revision:")


def test_interrupted_run_resumes_without_duplicates(tiny_lm, tmp_path):
    out = tmp_path / "chains.jsonl"
    cons, fewshot = default_constitution(), load_critique_examples()[:1]
    crashing = Recording(tiny_lm, crash_after=5 + 2)  # the first batch (5 calls) finishes, the second does not
    with pytest.raises(KeyboardInterrupt):
        revise(crashing, ROWS, cons, fewshot, out, CONFIG)
    assert finished_ids(out) == {"q0", "q1"}
    first = read_chains(out)
    resumed = Recording(tiny_lm)
    assert revise(resumed, ROWS, cons, fewshot, out, CONFIG) == 3
    chains = read_chains(out)
    assert [c.id for c in chains] == [r["id"] for r in ROWS]
    assert chains[:2] == first  # finished work is kept as it was
    assert all(p[0]["content"] != "Question number 0?" for p in resumed.prompts[0])  # q0 not asked again
    assert revise(resumed, ROWS, cons, fewshot, out, CONFIG) == 0


def test_a_line_cut_by_a_kill_is_dropped(tmp_path):
    out = tmp_path / "chains.jsonl"
    chain = json.dumps({"id": "a", "rounds": []})
    out.write_text(chain + "\n" + '{"id": "b", "rou')
    assert finished_ids(out) == {"a"}
    assert out.read_text() == chain + "\n"
    out.write_text('{"id": "a"\n' + chain + "\n")
    with pytest.raises(InputError, match="chains.jsonl:1"):
        finished_ids(out)


def test_only_a_torn_chain_of_our_own_is_ever_removed(tmp_path):
    out = tmp_path / "chains.jsonl"
    whole = json.dumps({"id": "a", "rounds": []}) + "\n" + json.dumps({"id": "b", "rounds": []})
    out.write_text(whole)  # the last chain is whole, only its newline is missing: kept, newline restored
    assert finished_ids(out) == {"a", "b"} and out.read_text() == whole + "\n"
    prompts = tmp_path / "prompts.jsonl"  # --out naming the prompts file by mistake
    text = '{"id": "q0", "prompt": "Hi?"}\n{"prompt": "no id, no newline"}'
    prompts.write_text(text)
    with pytest.raises(InputError, match="prompts.jsonl:1: not a chain"):
        finished_ids(prompts)
    assert prompts.read_text() == text
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\x00\xff\xfe\x93" * 100)
    with pytest.raises(InputError, match="model.bin:1: not UTF-8 text"):
        finished_ids(binary)
    assert binary.read_bytes() == b"\x00\xff\xfe\x93" * 100
    with pytest.raises(InputError, match="is a folder"):
        finished_ids(tmp_path)


def test_cli_checks_out_before_loading_the_model(tmp_path, capsys):
    from pluralign.cli import main

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"id": "q0", "prompt": "Hi?"}\n')
    (tmp_path / "chains").mkdir()
    for out in (tmp_path / "chains", prompts):
        with pytest.raises(SystemExit) as ex:
            main(["cai", "revise", "--prompts", str(prompts), "--out", str(out), "--model", str(tmp_path / "no-model")])
        err = capsys.readouterr().err
        assert ex.value.code == 2 and ("is a folder" in err or "not a chain" in err) and "model" not in err, err
    assert prompts.read_text() == '{"id": "q0", "prompt": "Hi?"}\n'


def test_sft_records_from_every_round():
    chain = RevisionChain(id="x", prompt="p", initial="r0", provenance=Provenance(model="m", details={"seed": 0}),
                          rounds=[RevisionRound(principle="kind", critique="c1", revision="r1"),
                                  RevisionRound(principle="honest", critique="c2", revision="r2")])
    final = sft_records([chain])
    assert [(d.completion, d.provenance.principles) for d in final] == [("r2", ["kind", "honest"])]
    every = sft_records([chain], every_round=True)
    assert [(d.completion, d.provenance.principles) for d in every] == [("r1", ["kind"]), ("r2", ["kind", "honest"])]


def test_cut_section_stops_at_the_next_section():
    assert cut_section(" It is rude.\n\nRevision Request: again") == "It is rude."
    assert cut_section("Fine.\nHuman: next question") == "Fine."


def test_duplicate_ids_are_rejected(tiny_lm, tmp_path):
    with pytest.raises(InputError, match="unique"):
        revise(tiny_lm, [ROWS[0], ROWS[0]], default_constitution(), [], tmp_path / "c.jsonl", CONFIG)
