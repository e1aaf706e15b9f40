"""Turning a principle's plain text into the three prompts Constitutional AI needs.

A principle stated as people wrote it ("The AI should admit when it does not know") becomes:
  - a critique request: asks a model to find where a response falls short of it,
  - a revision request: asks it to rewrite the response to meet it,
  - a choice prompt: the multiple-choice question for AI feedback ("Which response ...?").

The templates are plain ``str.format`` strings with one slot, ``{principle}``; callers may pass their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CRITIQUE_TEMPLATE = (
    "Identify specific ways in which the assistant's last response goes against this principle: {principle}"
)
REVISION_TEMPLATE = "Please rewrite the assistant's response so that it follows this principle: {principle}"
CHOICE_TEMPLATE = "Which of these assistant responses better follows this principle: {principle}"


@dataclass(frozen=True)
class PrincipleTemplates:
    """The three ``{principle}`` templates; the defaults suit statements written as rules for an AI."""

    critique: str = CRITIQUE_TEMPLATE
    revision: str = REVISION_TEMPLATE
    choice: str = CHOICE_TEMPLATE

    def fill(self, principle: str) -> dict[str, str]:
        """Principle text -> {critique_request, revision_request, choice_prompt}."""
        text = as_sentence(principle)
        return {
            "critique_request": self.critique.format(principle=text),
            "revision_request": self.revision.format(principle=text),
            "choice_prompt": self.choice.format(principle=text),
        }


def as_sentence(text: str) -> str:
    """Collapse whitespace and end with a full stop, so the text reads well inside a template."""
    text = re.sub(r"\s+", " ", text).strip()
    if text and text[-1] not in ".!?":
        text += "."
    return text
