"""The data model every stage reads and writes.

Records are pydantic models, so every file is validated at the boundary and a bad field is named.
Derived records (Comparison, Ranking, Preference, Principle, Demonstration, Edit, Constitution) carry a
:class:`Provenance` saying which people, principles, rule, model and run produced them.

Prompts and responses are either plain text or a conversation: a list of ``{"role", "content"}`` messages,
the two shapes TRL accepts ("standard" and "conversational" datasets).

Times (``Vote.timestamp``, ``Statement.created_at``) are seconds since the Unix epoch, finite floats (millisecond
precision), in every record kind; the elicitation store keeps Polis's integer milliseconds and converts where
records leave it.

File I/O lives in :mod:`pluralign.io` (JSONL, Parquet, HF ``datasets``).
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Message(BaseModel):
    """One chat turn, as in TRL's conversational datasets."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant", "tool"]
    content: str


Text = Union[str, list[Message]]
"""Plain text, or a conversation (list of messages)."""


def new_id() -> str:
    return uuid.uuid4().hex[:12]


class Record(BaseModel):
    """Base of all records: strict fields, a stable ``kind`` name for files."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    kind: ClassVar[str] = "record"


class Provenance(BaseModel):
    """Where a derived record came from.

    participants: ids of the people whose input it rests on; principles: ids of constitution principles used;
    rule: the aggregation or labelling rule (e.g. "schulze", "cai-label/order-avg"); model: the model that
    generated or judged; run: an id of the run; source: an input file or dataset; details: anything else
    (weights, consensus figures, seeds).
    """

    model_config = ConfigDict(extra="forbid")
    participants: list[str] = Field(default_factory=list)
    principles: list[str] = Field(default_factory=list)
    rule: str | None = None
    model: str | None = None
    run: str | None = None
    source: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class Participant(Record):
    """A person who gives input. ``attributes`` holds demographics (e.g. age band, country)."""

    kind: ClassVar[str] = "participant"
    id: str
    attributes: dict[str, str] = Field(default_factory=dict)
    weight: float = Field(default=1.0, ge=0.0)
    group: str | None = None


class Statement(Record):
    """A statement people vote on (a Polis comment). ``moderated``: -1 out, 0 unmoderated, 1 in."""

    kind: ClassVar[str] = "statement"
    id: str
    text: str = Field(min_length=1)
    author: str | None = None
    conversation: str | None = None
    moderated: Literal[-1, 0, 1] = 0
    created_at: float | None = Field(default=None, allow_inf_nan=False, description="seconds since the epoch")


VOTE_CODES = {"agree": 1, "disagree": -1, "pass": 0}


class Vote(Record):
    """A participant's vote on a statement: 1 agree, -1 disagree, 0 pass (Polis CSV coding).

    The strings "agree"/"disagree"/"pass" are accepted and stored as their codes.
    """

    kind: ClassVar[str] = "vote"
    participant: str
    statement: str
    value: Literal[-1, 0, 1]
    timestamp: float | None = Field(default=None, allow_inf_nan=False, description="seconds since the epoch")

    @field_validator("value", mode="before")
    @classmethod
    def _vote_words(cls, v: Any) -> Any:
        if isinstance(v, str):
            if v.lower() not in VOTE_CODES:
                raise ValueError(f"must be agree/disagree/pass or 1/-1/0, got {v!r}")
            return VOTE_CODES[v.lower()]
        return v


class Comparison(Record):
    """A judgement between two responses to one prompt.

    label: "a", "b" or "tie"; p_a: soft label, the probability that A is better, in [0, 1].
    At least one must be given; when only ``label`` is, ``p_a`` follows (1, 0 or 0.5). When both are, they must
    agree: "a" needs p_a > 0.5, "b" p_a < 0.5, "tie" p_a = 0.5.
    strength: optional 1..4 on the 8-point A-A-A-A-B-B-B-B scale (4 = "A/B is much better").
    weight: how much this annotator's judgement counts (>= 0).
    """

    kind: ClassVar[str] = "comparison"
    id: str = Field(default_factory=new_id)
    prompt: Text
    response_a: Text
    response_b: Text
    label: Literal["a", "b", "tie"] | None = None
    p_a: float | None = Field(default=None, ge=0.0, le=1.0)
    strength: int | None = Field(default=None, ge=1, le=4)
    annotator: str | None = None
    weight: float = Field(default=1.0, ge=0.0)
    provenance: Provenance = Field(default_factory=Provenance)

    @model_validator(mode="after")
    def _label_or_soft(self) -> "Comparison":
        if self.label is None and self.p_a is None:
            raise ValueError("needs 'label' (a/b/tie) or 'p_a' (probability that A is better)")
        if self.p_a is None:
            object.__setattr__(self, "p_a", {"a": 1.0, "b": 0.0, "tie": 0.5}[self.label])
        elif self.label is not None and not {"a": self.p_a > 0.5, "b": self.p_a < 0.5,
                                             "tie": abs(self.p_a - 0.5) < 1e-12}[self.label]:
            raise ValueError(f"label {self.label!r} contradicts p_a = {self.p_a} (the probability that A is better)")
        return self


class Ranking(Record):
    """One annotator's ranking of candidate responses to a prompt.

    candidates: the responses (text or ids); order: tiers best-first, each a list of candidates that tie.
    Every entry of ``order`` must name a candidate, at most once; candidates left out are unranked (below all).
    """

    kind: ClassVar[str] = "ranking"
    id: str = Field(default_factory=new_id)
    prompt: Text
    candidates: list[str] = Field(min_length=2)
    order: list[list[str]] = Field(min_length=1)
    annotator: str | None = None
    weight: float = Field(default=1.0, ge=0.0)
    provenance: Provenance = Field(default_factory=Provenance)

    @model_validator(mode="after")
    def _order_names_candidates(self) -> "Ranking":
        known, seen = set(self.candidates), set()
        if len(known) != len(self.candidates):
            raise ValueError("candidates must be distinct")
        for tier in self.order:
            if not tier:
                raise ValueError("order has an empty tier")
            for c in tier:
                if c not in known:
                    raise ValueError(f"order names unknown candidate {c!r}")
                if c in seen:
                    raise ValueError(f"order repeats candidate {c!r}")
                seen.add(c)
        return self


class Preference(Record):
    """A pairwise preference in TRL's columns: prompt, chosen, rejected (text or conversation)."""

    kind: ClassVar[str] = "preference"
    id: str = Field(default_factory=new_id)
    prompt: Text
    chosen: Text
    rejected: Text
    weight: float = Field(default=1.0, ge=0.0)
    margin: float | None = None
    provenance: Provenance = Field(default_factory=Provenance)


class Principle(Record):
    """One constitutional principle with the three prompts CAI needs.

    text: the principle in plain words; critique_request: asks the model to find where a response falls short;
    revision_request: asks it to rewrite; choice_prompt: the multiple-choice question for AI feedback
    ("Which of these responses ...?").
    """

    kind: ClassVar[str] = "principle"
    id: str
    text: str = ""
    critique_request: str = Field(min_length=1)
    revision_request: str = Field(min_length=1)
    choice_prompt: str = Field(min_length=1)
    provenance: Provenance = Field(default_factory=Provenance)


class Constitution(Record):
    """A named, ordered list of principles (stored as one JSON file)."""

    kind: ClassVar[str] = "constitution"
    name: str
    principles: list[Principle] = Field(min_length=1)
    provenance: Provenance = Field(default_factory=Provenance)

    @model_validator(mode="after")
    def _unique_ids(self) -> "Constitution":
        ids = [p.id for p in self.principles]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate principle ids: {dupes}")
        return self

    def principle(self, principle_id: str) -> Principle:
        for p in self.principles:
            if p.id == principle_id:
                return p
        raise KeyError(principle_id)


class Demonstration(Record):
    """A prompt with a good response, for SFT (TRL's prompt/completion columns)."""

    kind: ClassVar[str] = "demonstration"
    id: str = Field(default_factory=new_id)
    prompt: Text
    completion: Text
    author: str | None = None
    provenance: Provenance = Field(default_factory=Provenance)


class PromptRecord(Record):
    """A prompt to ask a model, with what is known of it (red-team prompts: language, harm category, and whether
    the harm is global or local to a culture)."""

    kind: ClassVar[str] = "prompt"
    id: str = Field(default_factory=new_id)
    prompt: Text
    language: str | None = None
    category: str | None = None
    global_or_local: Literal["global", "local"] | None = None
    provenance: Provenance = Field(default_factory=Provenance)


class ResponsePair(Record):
    """Two responses to one prompt, not yet judged (what ``cai label`` labels)."""

    kind: ClassVar[str] = "response_pair"
    id: str = Field(default_factory=new_id)
    prompt: Text
    response_a: Text
    response_b: Text
    provenance: Provenance = Field(default_factory=Provenance)


class RevisionRound(BaseModel):
    """One critique -> revision step under one principle."""

    model_config = ConfigDict(extra="forbid")
    principle: str
    critique: str
    revision: str


class RevisionChain(Record):
    """SL-CAI: a prompt, the model's first response, and each round's critique and revision (Bai et al., 2022).
    provenance: model, constitution, principles, seed and the sampling config (details)."""

    kind: ClassVar[str] = "revision_chain"
    id: str
    prompt: Text
    initial: str
    rounds: list[RevisionRound] = Field(default_factory=list)
    provenance: Provenance = Field(default_factory=Provenance)

    @property
    def final(self) -> str:
        return self.rounds[-1].revision if self.rounds else self.initial


class Edit(Record):
    """A person's edit of a model response (preference signal for DITTO/PRELUDE-style learning)."""

    kind: ClassVar[str] = "edit"
    id: str = Field(default_factory=new_id)
    prompt: Text
    original: Text
    edited: Text
    annotator: str | None = None
    provenance: Provenance = Field(default_factory=Provenance)


RECORD_TYPES: dict[str, type[Record]] = {
    cls.kind: cls
    for cls in (Participant, Statement, Vote, Comparison, Ranking, Preference, Principle, Constitution,
                Demonstration, Edit, PromptRecord, ResponsePair, RevisionChain)
}
