"""The PRELUDE round loop with a resumable JSONL log.

Round t, for every stream (one agent on one seed's document order; all streams step together so each model step
is one batched ``generate``): the agent plans (CIPHER-k may merge retrieved preferences), writes a response for
the context, the user edits it, the agent pays ``edit_cost(response, edit)`` and, for CIPHER, asks the model what
the edit reveals (Gao et al. 2024, Algorithm 1; gao-g/prelude ``src/experiment.py``, ``Experiment.iter``).

The log's first line is a header (configuration, model, user, documents); then one record per stream and round,
written (and fsynced) a whole round at a time. A killed run resumes at the next round: the log is read back,
a torn last line or an unfinished round is dropped, and every agent's memory is rebuilt by replaying its records.
Decoding is greedy and the document order comes from the seed, so a resumed run writes what an unbroken run does.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from pluralign.errors import InputError
from pluralign.feedback.edits import prompts
from pluralign.feedback.edits.agents import Agent, Doc, Plan, make_agent
from pluralign.feedback.edits.cost import edit_cost
from pluralign.feedback.edits.documents import schedule
from pluralign.feedback.edits.retrieval import Embedder, lm_embedder, minilm_embedder
from pluralign.feedback.edits.users import Turn
from pluralign.io import atomic_path
from pluralign.records import Provenance

DEFAULT_AGENTS = ["no-learning", "oracle", "icl-edit-3", "cipher-1", "cipher-3"]


class SessionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agents: list[str] = Field(default_factory=lambda: list(DEFAULT_AGENTS), min_length=1,
                              description="agent specs: no-learning, oracle, icl-edit-K, cipher-K[:lm]")
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1, description="one document order each")
    rounds: int = Field(200, ge=1, le=1_000_000, description="rounds per stream")
    max_new_tokens: int = Field(48, ge=1, le=4096, description="tokens per response")
    phrase_tokens: int = Field(24, ge=1, le=512, description="tokens per inferred or merged preference")
    tolerance: int = Field(0, ge=0, description="CIPHER learns from edits costing more than this")


class Stream:
    def __init__(self, agent: Agent, seed: int, docs: list[Doc]):
        self.agent, self.seed, self.docs = agent, seed, docs
        self.key = f"{agent.name}/seed{seed}"
        self.records: list[dict] = []


class Session:
    """Agents x seeds against one user on one model; ``run`` appends to (or resumes) ``log_path``."""

    def __init__(self, lm, user, docs: list[Doc], config: SessionConfig, log_path: str | Path, *,
                 embedders: dict[str, Embedder] | None = None):
        self.lm, self.user, self.config, self.log_path = lm, user, config, Path(log_path)
        self.embedders = embedders or {}
        if any(a.endswith(":lm") for a in config.agents):
            self.embedders.setdefault("lm", lm_embedder(lm))
        if any(a.startswith(("icl-edit", "cipher")) and not a.endswith(":lm") for a in config.agents):
            self.embedders.setdefault("minilm", minilm_embedder())
        self.streams = [Stream(make_agent(spec, user=user, embedders=self.embedders, tolerance=config.tolerance),
                               seed, schedule(docs, config.rounds, seed))
                        for seed in config.seeds for spec in config.agents]
        if len({s.key for s in self.streams}) != len(self.streams):
            raise InputError("agents repeat", field="agents")
        digest = hashlib.sha256(json.dumps([[d.id, d.source, d.text] for d in docs]).encode()).hexdigest()[:16]
        self.header = {"header": True, "config": config.model_dump(exclude={"rounds"}), "model": lm.name,
                       "user": user.name, "documents": digest}
        self._resumed = False

    # ---- the loop ---------------------------------------------------------------------------------------
    def run(self, progress: Callable[[int], None] | None = None) -> list[dict]:
        for t in range(self.resume(), self.config.rounds):
            rows = self.step(t)
            self._append(rows)
            if progress:
                progress(1)
        return [r for s in self.streams for r in s.records]

    def _generate(self, batch: Sequence, max_new_tokens: int) -> list[str]:
        if not batch:
            return []
        out = self.lm.generate(list(batch), n=1, temperature=0.0, max_new_tokens=max_new_tokens,
                               seed=self.config.seeds[0])
        return [o[0] for o in out]

    def step(self, t: int) -> list[dict]:
        """One round for every stream: plan, merge, respond, edit, infer, learn. Returns the round's records."""
        docs = [s.docs[t] for s in self.streams]
        for embedder in self.embedders.values():
            embedder([d.text for d in docs])  # one batched embedding call per round
        plans = [s.agent.plan(d) for s, d in zip(self.streams, docs)]
        merging = [i for i, p in enumerate(plans) if p.merge_prompt is not None]
        for i, text in zip(merging, self._generate([plans[i].merge_prompt for i in merging],
                                                   self.config.phrase_tokens)):
            plans[i].preference = prompts.as_phrase(text) or None
        responses = self._generate([s.agent.respond_prompt(d, p) for s, d, p in zip(self.streams, docs, plans)],
                                   self.config.max_new_tokens)
        edits = self.user.edit([Turn(d.text, d.source, r) for d, r in zip(docs, responses)])
        rows = [self._record(s, t, d, p, r, e) for s, d, p, r, e in zip(self.streams, docs, plans, responses, edits)]
        asks = [(i, s.agent.infer_prompt(rows[i])) for i, s in enumerate(self.streams)]
        asks = [(i, a) for i, a in asks if a is not None]
        for (i, _), text in zip(asks, self._generate([a for _, a in asks], self.config.phrase_tokens)):
            rows[i]["inferred"] = prompts.as_phrase(text) or None
            if rows[i]["inferred"]:
                rows[i]["inferred_provenance"] = Provenance(
                    participants=[self.person(docs[i].source)], rule=f"{self.streams[i].agent.name}/infer",
                    model=self.lm.name,
                    details={"edits": [rows[i]["edit_id"]], "contexts": [rows[i]["doc"]], "rounds": [t]},
                ).model_dump(mode="json")
        for s, row in zip(self.streams, rows):
            s.agent.learn(row)
            s.records.append(row)
        return rows

    def _record(self, s: Stream, t: int, doc: Doc, plan: Plan, response: str, edited: str) -> dict:
        return {"stream": s.key, "agent": s.agent.name, "seed": s.seed, "round": t, "doc": doc.id,
                "source": doc.source, "context": doc.text, "response": response, "edited": edited,
                "cost": edit_cost(response, edited), "edit_id": f"{s.key}/r{t}", "preference": plan.preference,
                "preference_provenance": self._plan_provenance(s, doc, plan), "retrieved": plan.retrieved,
                "inferred": None, "inferred_provenance": None}

    def person(self, source: str) -> str:
        """Who holds a latent preference: the simulated user on one source (as ``edits_from_log`` names it)."""
        return f"{self.user.name}:{source}"

    def _plan_provenance(self, s: Stream, doc: Doc, plan: Plan) -> dict | None:
        if plan.preference is None:
            return None
        if not plan.retrieved:  # the oracle's: the user's own latent preference
            return Provenance(participants=[self.person(doc.source)], rule=f"{s.agent.name}/latent").model_dump(
                mode="json")
        past = [s.records[r] for r in plan.retrieved]
        rule = "merge" if plan.merge_prompt is not None else "retrieve"
        return Provenance(
            participants=sorted({self.person(p["source"]) for p in past}), rule=f"{s.agent.name}/{rule}",
            model=self.lm.name if rule == "merge" else None,
            details={"edits": [p["edit_id"] for p in past], "contexts": [p["doc"] for p in past],
                     "rounds": plan.retrieved, "merged": plan.merged_from},
        ).model_dump(mode="json")

    # ---- the log ----------------------------------------------------------------------------------------
    def _append(self, rows: list[dict]) -> None:
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
            fh.flush()
            os.fsync(fh.fileno())

    def resume(self) -> int:
        """Read the log back (if any), rebuild each agent's memory; return the first round still to run.
        Later calls return the round the session is at."""
        if self._resumed:
            return len(self.streams[0].records)
        self._resumed = True
        if not self.log_path.exists() or self.log_path.stat().st_size == 0:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log_path.write_text(json.dumps(self.header) + "\n", encoding="utf-8")
            return 0
        header, records = read_log(self.log_path)
        if header != self.header:
            raise InputError("the log was written by a different run (configuration, model, user or documents "
                             "differ); use another --log", path=str(self.log_path), line=1)
        by_key = {s.key: s for s in self.streams}
        rows_by_round: dict[int, list[dict]] = {}
        for line, row in records:
            if row["stream"] not in by_key:
                raise InputError(f"unknown stream {row['stream']!r}", path=str(self.log_path), line=line,
                                 field="stream")
            rows_by_round.setdefault(row["round"], []).append(row)
        done = 0
        while len(rows_by_round.get(done, [])) == len(self.streams):
            done += 1
        kept = [r for t in range(done) for r in rows_by_round[t]]
        # Rewrite what is kept (drops an unfinished round and a torn last line), then append from there.
        with atomic_path(self.log_path) as tmp:
            Path(tmp).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in [header] + kept),
                                 encoding="utf-8")
        for row in kept:
            stream = by_key[row["stream"]]
            stream.agent.learn(row)
            stream.records.append(row)
        return done


_FIELDS = {"stream": str, "agent": str, "seed": int, "round": int, "doc": str, "source": str, "context": str,
           "response": str, "edited": str, "cost": int}


def read_log(path: str | Path) -> tuple[dict, list[tuple[int, dict]]]:
    """(header, [(line, record)]) of a session log. A torn last line (a killed write) is skipped."""
    path = str(path)
    try:
        lines = Path(path).read_bytes().decode("utf-8").splitlines()
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path=path) from None
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 ({err.reason})", path=path) from None
    rows = []
    for i, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            rows.append((i, json.loads(text)))
        except json.JSONDecodeError as err:
            if i == len(lines):
                break
            raise InputError(f"invalid JSON: {err.msg}", path=path, line=i) from None
    if not rows or not isinstance(rows[0][1], dict) or rows[0][1].get("header") is not True:
        raise InputError("not a session log (no header line)", path=path, line=1)
    for line, row in rows[1:]:
        if not isinstance(row, dict):
            raise InputError("expected a JSON object", path=path, line=line)
        for key, kind in _FIELDS.items():
            value = row.get(key)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise InputError(f"must be {kind.__name__}", path=path, line=line, field=key)
        if row["round"] < 0 or row["cost"] < 0:
            raise InputError("must be >= 0", path=path, line=line, field="round" if row["round"] < 0 else "cost")
    return rows[0][1], rows[1:]
