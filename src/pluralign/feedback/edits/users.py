"""Simulated users: each document source has one latent preference, and the user edits a response to meet it.

PRELUDE's user (Gao et al. 2024, Sec. 4.1; gao-g/prelude ``src/user.py``, ``User.edit``) first answers whether
the response already suits its preference (yes/no) and, if not, rewrites it. Two users here share that shape:

- :class:`ProgrammaticUser`: the preference is a deterministic text transform with a plain-words description
  (``TRANSFORMS``). The edit is ``transform(response)``; a response that already meets it (the transform changes
  nothing) is accepted at zero cost. Reproducible, free, and the true preference is known exactly.
- :class:`LMUser`: any model of the protocol asks itself the yes/no question (``option_logprobs`` over Yes/No)
  and rewrites the rejected responses (``generate``), given the same descriptions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pluralign.errors import InputError
from pluralign.feedback.edits import prompts


@dataclass(frozen=True)
class Turn:
    """What the user sees in one round: the document, its source, and the agent's response."""

    context: str
    source: str
    response: str


# ---- the transforms -----------------------------------------------------------------------------------------

_EMOJI = "\U0001F300-\U0001FAFF\u2600-\u27BF"
# A sentence ends at . ! ? (or at an emoji that closes it); lines are split first.
_SENTENCE_END = re.compile(rf"(?<=[.!?])\s+(?![{_EMOJI}])|(?<=[{_EMOJI}])\s+")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_PRONOUNS = {
    "i": "you", "me": "you", "we": "you", "us": "you", "he": "you", "she": "you", "they": "you", "him": "you",
    "them": "you", "my": "your", "our": "your", "his": "your", "their": "your", "her": "your", "mine": "yours",
    "ours": "yours", "hers": "yours", "theirs": "yours", "myself": "yourself", "himself": "yourself",
    "herself": "yourself", "ourselves": "yourselves", "themselves": "yourselves",
}
_WORD = re.compile(r"[A-Za-z]+")


def sentences(text: str) -> list[str]:
    """Split into sentences (and lines), dropping list markers, so a transform sees the same pieces twice."""
    lines = (_BULLET.sub("", line).strip() for line in text.splitlines())
    return [p.strip() for line in lines if line for p in _SENTENCE_END.split(line) if p.strip()]


def _is_emoji(ch: str) -> bool:
    return unicodedata.category(ch) == "So"


def bullets(text: str) -> str:
    return "\n".join(f"- {s}" for s in sentences(text))


def brief(text: str, max_words: int = 20) -> str:
    first = sentences(text)[:1]
    return " ".join(" ".join(first).split()[:max_words])


def second_person(text: str) -> str:
    def swap(m: re.Match) -> str:
        word = m.group(0)
        new = _PRONOUNS.get(word.lower())
        if new is None:
            return word
        return new.capitalize() if word[0].isupper() else new

    out = _WORD.sub(swap, text)
    if not re.search(r"\byou(r|rs|rself|rselves)?\b", out, flags=re.IGNORECASE):
        out = "For you: " + out
    return out


def question_first(text: str) -> str:
    parts = sentences(text)
    if parts and parts[0].endswith("?"):
        return text
    return "What is this about? " + text


def emojis(text: str) -> str:
    return " ".join(s if _is_emoji(s[-1]) else s + " 🙂" for s in sentences(text))


def lower_case(text: str) -> str:
    return text.lower()


def exclaim(text: str) -> str:
    return " ".join(s if s.endswith("!") else s.rstrip(".?") + "!" for s in sentences(text))


@dataclass(frozen=True)
class Transform:
    """A latent preference a program can apply: its name, its description in plain words, the edit."""

    name: str
    description: str
    apply: Callable[[str], str]


TRANSFORMS: dict[str, Transform] = {t.name: t for t in (
    Transform("bullets", "bullet points, one short point per line", bullets),
    Transform("brief", "very brief, a single sentence of at most twenty words", brief),
    Transform("second-person", "second person, speaking to the reader as you", second_person),
    Transform("question", "question answering style, opening with a question", question_first),
    Transform("emojis", "playful, with an emoji at the end of every sentence", emojis),
    Transform("lower-case", "all lower case, no capital letters", lower_case),
    Transform("exclaim", "enthusiastic, every sentence ending with an exclamation mark", exclaim),
)}


def assign(sources: Sequence[str], spec: str | None = None) -> dict[str, str]:
    """Source -> transform name. ``spec`` "src=name,src=name" names them; otherwise sorted sources take the
    transforms in ``TRANSFORMS`` order (cycling if there are more sources than transforms)."""
    sources = sorted(set(sources))
    if not spec:
        names = list(TRANSFORMS)
        return {s: names[i % len(names)] for i, s in enumerate(sources)}
    out = {}
    for item in spec.split(","):
        source, sep, name = item.partition("=")
        source, name = source.strip(), name.strip()
        if not sep or name not in TRANSFORMS:
            raise InputError(f"expected SOURCE=TRANSFORM with TRANSFORM one of {sorted(TRANSFORMS)}, got {item!r}",
                             field="preferences")
        out[source] = name
    missing = [s for s in sources if s not in out]
    if missing:
        raise InputError(f"no preference given for sources {missing}", field="preferences")
    return out


# ---- the users ----------------------------------------------------------------------------------------------

class ProgrammaticUser:
    """Edits with the transform of the document's source; accepts a response the transform leaves unchanged."""

    def __init__(self, preferences: dict[str, str]):
        unknown = sorted(set(preferences.values()) - set(TRANSFORMS))
        if unknown:
            raise InputError(f"unknown transforms {unknown}; one of {sorted(TRANSFORMS)}", field="preferences")
        self.preferences = dict(preferences)
        self.name = "programmatic"

    def transform(self, source: str) -> Transform:
        if source not in self.preferences:
            raise InputError(f"no latent preference for source {source!r}", field="source")
        return TRANSFORMS[self.preferences[source]]

    def latent(self, source: str) -> str:
        """The true preference, in words (what the oracle agent is told)."""
        return self.transform(source).description

    def edit(self, turns: Sequence[Turn]) -> list[str]:
        out = []
        for t in turns:
            edited = self.transform(t.source).apply(t.response)
            # Accept when the edit changes nothing but spacing (the cost ignores it too).
            out.append(t.response if edited.split() == t.response.split() else edited)
        return out


class LMUser:
    """A model plays the user: yes/no on each response, then a rewrite of the rejected ones (batched)."""

    def __init__(self, lm, preferences: dict[str, str], *, max_new_tokens: int = 64, seed: int = 0):
        self.programmatic = ProgrammaticUser(preferences)  # same latent preferences, so the runs compare
        self.lm, self.max_new_tokens, self.seed = lm, max_new_tokens, seed
        self.name = f"lm:{lm.name}"

    def latent(self, source: str) -> str:
        return self.programmatic.latent(source)

    def edit(self, turns: Sequence[Turn]) -> list[str]:
        if not turns:
            return []
        asks = [prompts.user_accepts(t.context, t.response, self.latent(t.source)) for t in turns]
        yes_no = self.lm.option_logprobs(asks, ["Yes", "No"])
        rejected = [i for i, (yes, no) in enumerate(yes_no) if no > yes]
        out = [t.response for t in turns]
        if rejected:
            rewrites = self.lm.generate(
                [prompts.user_rewrites(turns[i].response, self.latent(turns[i].source)) for i in rejected],
                temperature=0.0, max_new_tokens=self.max_new_tokens, seed=self.seed)
            for i, (text,) in zip(rejected, rewrites):
                out[i] = text.strip() or turns[i].response
        return out
