"""The agents of PRELUDE: how each one writes a response and what it learns from the user's edit.

A round has three model steps, each batched over all agents (and seeds) running side by side:
``plan`` (CIPHER-k may need the model to merge retrieved preferences: ``Plan.merge_prompt``), the response
(``respond_prompt``), and for CIPHER the preference the edit reveals (``infer_prompt``). ``learn`` reads the
finished round's record only, so an agent's memory is rebuilt exactly by replaying a session log.

- ``no-learning``: the task prompt alone (gao-g/prelude ``src/agent/no_learning.py``).
- ``oracle``: told the user's true latent preference (``oracle_preference.py``).
- ``icl-edit-K``: the K past (response, edit) pairs of the most similar contexts in the prompt (``icl_edit.py``).
- ``cipher-1``: uses the preference stored with the most similar past context (``cipher.py``, ``Cipher1Agent``).
- ``cipher-K``: merges the K retrieved preferences with the model (``CipherNAgent``); when they are all the
  same phrase the merge is skipped (the model would be asked to merge one thing).
  After an edit costing more than ``tolerance`` (the paper's delta, Algorithm 1; the reference uses 0) CIPHER
  stores the inferred preference with the context; otherwise the one it used.
Append ``:lm`` to a retrieving agent (``cipher-3:lm``) to retrieve with the model's own embeddings, not MiniLM.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pluralign.errors import InputError
from pluralign.feedback.edits import prompts
from pluralign.feedback.edits.retrieval import Embedder, Memory


@dataclass(frozen=True)
class Doc:
    """A context: a document, its id and the source it comes from (the user's preference depends on it)."""

    id: str
    text: str
    source: str


@dataclass
class Plan:
    """How the response will be written: for which preference, after which examples, from which past rounds."""

    preference: str | None = None
    examples: list[tuple[str, str]] = field(default_factory=list)
    retrieved: list[int] = field(default_factory=list)
    merge_prompt: Any = None
    merged_from: list[str] = field(default_factory=list)


class Agent:
    name = "agent"
    infers = False  # asks the model what each edit reveals

    def plan(self, doc: Doc) -> Plan:
        return Plan()

    def respond_prompt(self, doc: Doc, plan: Plan):
        return prompts.respond(doc.text, plan.preference)

    def infer_prompt(self, record: dict):
        return None

    def learn(self, record: dict) -> None:
        """Update memory from a finished round (keys: round, context, response, edited, cost, preference,
        inferred)."""


class NoLearning(Agent):
    name = "no-learning"


class Oracle(Agent):
    name = "oracle"

    def __init__(self, user):
        self.user = user

    def plan(self, doc: Doc) -> Plan:
        return Plan(preference=self.user.latent(doc.source))


class IclEdit(Agent):
    def __init__(self, embedder: Embedder, k: int = 3):
        self.memory, self.k = Memory(embedder), k
        self.name = f"icl-edit-{k}"

    def plan(self, doc: Doc) -> Plan:
        hits = self.memory.top_k(doc.text, self.k)
        return Plan(examples=[self.memory.items[i] for i in hits], retrieved=[self.memory.rounds[i] for i in hits])

    def respond_prompt(self, doc: Doc, plan: Plan):
        if not plan.examples:
            return prompts.respond(doc.text)
        return prompts.respond_from_edits(doc.text, plan.examples)

    def learn(self, record: dict) -> None:
        self.memory.add(record["context"], (record["response"], record["edited"]), record["round"])


class Cipher(Agent):
    infers = True

    def __init__(self, embedder: Embedder, k: int = 1, tolerance: int = 0):
        self.memory, self.k, self.tolerance = Memory(embedder), k, tolerance
        self.name = f"cipher-{k}"

    def plan(self, doc: Doc) -> Plan:
        hits = self.memory.top_k(doc.text, self.k)
        rounds = [self.memory.rounds[i] for i in hits]
        found = [self.memory.items[i] for i in hits if self.memory.items[i]]
        if not found:
            return Plan(retrieved=rounds)
        if self.k == 1 or len(set(found)) == 1:
            return Plan(preference=found[0], retrieved=rounds, merged_from=found)
        return Plan(retrieved=rounds, merge_prompt=prompts.merge(found), merged_from=found)

    def infer_prompt(self, record: dict):
        if record["cost"] <= self.tolerance:
            return None
        return prompts.infer(record["response"], record["edited"])

    def learn(self, record: dict) -> None:
        stored = record.get("inferred") or record.get("preference")
        self.memory.add(record["context"], stored, record["round"])


_SPEC = re.compile(r"^(no-learning|oracle|icl-edit|cipher)(?:-(\d+))?(?::(minilm|lm))?$")


def parse_spec(spec: str) -> tuple[str, int, str | None]:
    """``no-learning``, ``oracle``, ``icl-edit-K``, ``cipher-K`` (K >= 1), a retriever's ``:minilm`` (default)
    or ``:lm`` -> (kind, K, retriever)."""
    m = _SPEC.match(spec.strip())
    if not m or (m.group(1) in ("no-learning", "oracle") and (m.group(2) or m.group(3))):
        raise InputError(f"unknown agent {spec!r}: no-learning, oracle, icl-edit-K, cipher-K, "
                         "with :minilm or :lm for the retrievers", field="agents")
    kind, k, retriever = m.group(1), int(m.group(2) or (3 if m.group(1) == "icl-edit" else 1)), m.group(3)
    if k < 1:
        raise InputError(f"K must be >= 1 in {spec!r}", field="agents")
    return kind, k, retriever


def make_agent(spec: str, *, user, embedders: dict[str, Embedder], tolerance: int = 0) -> Agent:
    """The agent a spec names (see :func:`parse_spec`), retrieving with ``embedders[retriever]``."""
    kind, k, retriever = parse_spec(spec)
    if kind == "no-learning":
        agent: Agent = NoLearning()
    elif kind == "oracle":
        agent = Oracle(user)
    else:
        embedder = embedders[retriever or "minilm"]
        agent = IclEdit(embedder, k) if kind == "icl-edit" else Cipher(embedder, k, tolerance)
        if retriever:
            agent.name += f":{retriever}"
    return agent
