"""Retrieval, and each agent's control flow: what it asks the model, what it stores, what it retrieves.

``ScriptedLM`` implements the model protocol with answers that depend only on the prompt (a preference phrase
for inference, the first phrase for a merge, a bullet list when asked for bullet points), so a test can say
exactly which step ran; the same session also runs end to end on the tiny model.
"""

import numpy as np
import pytest

from pluralign.errors import InputError
from pluralign.feedback.edits.agents import Doc, make_agent
from pluralign.feedback.edits.retrieval import Embedder, Memory
from pluralign.feedback.edits.session import Session, SessionConfig
from pluralign.feedback.edits.users import ProgrammaticUser


class ScriptedLM:
    name = "scripted"

    def __init__(self):
        self.asked: list[str] = []

    def generate(self, prompts, n=1, temperature=0.7, top_p=1.0, max_new_tokens=128, seed=None,
                 repetition_penalty=None, progress=None):
        out = []
        for p in prompts:
            text = p[-1]["content"]
            self.asked.append(text)
            if "general preference" in text:  # inference: name what the revision did
                out.append(["bullet points\nextra line"] if "\n- " in text or "revision:\n- " in text
                           else ["no change seen"])
            elif text.startswith("Preferences this user showed"):
                out.append([text.split("\n- ")[0].split("\n")[1].removeprefix("- ") + " (merged)"])
            elif "bullet" in text:
                out.append(["- Short point.\n- Another point."])
            else:
                out.append(["A plain summary. It has two sentences."])
        return [o * n for o in out]

    def embed(self, texts, progress=None):
        return np.stack([_onehot(t) for t in texts])


def _onehot(text: str) -> np.ndarray:
    v = np.zeros(3, np.float32)
    v[0 if "cats" in text else 1 if "dogs" in text else 2] = 1
    return v


TOY = {"minilm": Embedder(lambda ts: np.stack([_onehot(t) for t in ts]), "toy")}
DOCS = [Doc(f"d{i}", f"Text {i} about {'cats' if i % 2 else 'dogs'}.", "pets") for i in range(6)]


def test_memory_top_k_by_cosine():
    emb = Embedder(lambda ts: np.array([[1, 0], [0.8, 0.6], [0, 1], [0.6, 0.8]], np.float32)[[int(t) for t in ts]],
                   "hand")
    mem = Memory(emb)
    assert mem.top_k("0", 2) == []
    for i in (1, 2, 3):
        mem.add(str(i), f"item{i}", round_=i)
    assert mem.top_k("0", 1) == [0]          # 0.8 beats 0.6 and 0
    assert mem.top_k("0", 2) == [0, 2]
    assert mem.top_k("2", 3) == [1, 2, 0]    # 1.0, 0.8, 0.6
    assert mem.top_k("2", 10) == [1, 2, 0]   # k larger than memory
    mem.add("1", "again", round_=4)
    assert mem.top_k("1", 2) == [0, 3]       # a tie goes to the earlier entry


def test_embedder_caches_each_text_once():
    calls = []
    emb = Embedder(lambda ts: (calls.append(list(ts)), np.eye(3, dtype=np.float32)[: len(ts)])[1], "count")
    emb(["a", "b"])
    emb(["b", "a", "c", "c"])
    assert calls == [["a", "b"], ["c"]]


def _run(agents, tmp_path, rounds=4):
    lm, user = ScriptedLM(), ProgrammaticUser({"pets": "bullets"})
    cfg = SessionConfig(agents=agents, seeds=[0], rounds=rounds, max_new_tokens=8, phrase_tokens=8)
    recs = Session(lm, user, DOCS, cfg, tmp_path / "log.jsonl", embedders=dict(TOY)).run()
    return lm, recs


def test_no_learning_and_oracle(tmp_path):
    lm, recs = _run(["no-learning", "oracle"], tmp_path)
    plain = [r for r in recs if r["agent"] == "no-learning"]
    oracle = [r for r in recs if r["agent"] == "oracle"]
    assert all(r["cost"] > 0 and r["preference"] is None and r["inferred"] is None for r in plain)
    assert all(r["preference"] == "bullet points, one short point per line" and r["cost"] == 0 for r in oracle)
    assert oracle[0]["preference_provenance"]["rule"] == "oracle/latent"
    assert not any("general preference" in a for a in lm.asked)  # neither asks what an edit reveals


def test_icl_edit_puts_retrieved_edits_in_the_prompt(tmp_path):
    lm, recs = _run(["icl-edit-2"], tmp_path)
    assert recs[0]["retrieved"] == []
    assert all(len(r["retrieved"]) == min(2, r["round"]) for r in recs)
    checked = 0
    for r in recs[1:]:  # the most similar past context comes first: the same animal, earliest on a tie
        same = [p for p in recs[: r["round"]] if ("cats" in p["context"]) == ("cats" in r["context"])]
        if same:
            assert r["retrieved"][0] == same[0]["round"]
            checked += 1
    assert checked
    assert sum("The user's revision" in a for a in lm.asked) == 3  # rounds 1..3 show examples


def test_cipher_1_infers_after_an_edit_and_reuses_it(tmp_path):
    lm, recs = _run(["cipher-1"], tmp_path)
    first, second = recs[0], recs[1]
    assert first["preference"] is None and first["cost"] > 0
    assert first["inferred"] == "bullet points"  # first line of the answer only
    assert first["inferred_provenance"]["details"] == {"edits": [first["edit_id"]], "contexts": [first["doc"]],
                                                       "rounds": [0]}
    assert first["inferred_provenance"]["participants"] == ["programmatic:pets"]
    assert second["preference"] == "bullet points"  # retrieved, no merge for k = 1
    assert second["preference_provenance"]["rule"] == "cipher-1/retrieve"
    assert second["cost"] == 0 and second["inferred"] is None  # accepted: nothing to infer
    assert sum("general preference" in a for a in lm.asked) == 1


def test_cipher_k_merges_distinct_preferences_only(tmp_path):
    lm, recs = _run(["cipher-3"], tmp_path, rounds=3)
    assert not any(a.startswith("Preferences this user showed") for a in lm.asked)  # one phrase: no merge
    assert recs[2]["preference"] == "bullet points"
    agent = make_agent("cipher-3", user=None, embedders=dict(TOY))
    for i, pref in enumerate(["bullet points", "lower case"]):
        agent.learn({"round": i, "context": DOCS[i].text, "inferred": pref, "preference": None})
    plan = agent.plan(DOCS[2])
    assert plan.preference is None and plan.merged_from == ["bullet points", "lower case"]
    assert plan.merge_prompt[0]["content"].count("\n- ") == 2
    # With a tolerance, an edit that costs little teaches nothing.
    tolerant = make_agent("cipher-1", user=None, embedders=dict(TOY), tolerance=5)
    assert tolerant.infer_prompt({"cost": 5, "response": "a", "edited": "b"}) is None
    assert tolerant.infer_prompt({"cost": 6, "response": "a", "edited": "b"}) is not None


def test_cipher_with_the_models_own_embeddings(tmp_path):
    lm, recs = _run(["cipher-2:lm", "cipher-2"], tmp_path)
    lm_recs = [r for r in recs if r["agent"] == "cipher-2:lm"]
    assert [r["retrieved"] for r in lm_recs] == [r["retrieved"] for r in recs if r["agent"] == "cipher-2"]
    assert lm_recs[1]["preference"] == "bullet points"


@pytest.mark.parametrize("spec", ["cipher-0", "oracle-2", "icl", "cipher-2:bert", "no-learning:lm"])
def test_bad_agent_specs(spec):
    with pytest.raises(InputError, match="agent"):
        make_agent(spec, user=None, embedders=dict(TOY))


def test_every_agent_runs_on_the_tiny_model(tiny_lm, tmp_path):
    """The same loop through a real (tiny) transformers model: batched generate, its own embeddings."""
    user = ProgrammaticUser({"pets": "question"})  # an empty response still gets edited
    cfg = SessionConfig(agents=["no-learning", "oracle", "icl-edit-2", "cipher-1", "cipher-2", "cipher-2:lm"],
                        seeds=[0, 1], rounds=3, max_new_tokens=4, phrase_tokens=4)
    recs = Session(tiny_lm, user, DOCS, cfg, tmp_path / "log.jsonl", embedders=dict(TOY)).run()
    assert len(recs) == 6 * 2 * 3
    assert {r["stream"] for r in recs} == {f"{a}/seed{s}" for a in cfg.agents for s in (0, 1)}
    assert all(r["cost"] >= 0 for r in recs)
    assert all(r["retrieved"] == [] for r in recs if r["round"] == 0)
