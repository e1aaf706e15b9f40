"""Asking a model many multiple-choice questions, each distinct question once, with a progress bar.

Every evaluation reads answers the same way (:mod:`pluralign.lm.multiple_choice`): lettered options, the
letters as the model writes them, and position bias handled by averaging over the options' cyclic rotations
(and optionally content-free calibration). :class:`AskConfig` names those choices once for all commands.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import ConfigDict, Field

from pluralign.config import Config
from pluralign.lm.base import LanguageModel
from pluralign.lm.multiple_choice import Format, choice_distributions
from pluralign.progress import progress_bar


class AskConfig(Config):
    """How every evaluation asks a multiple-choice question."""

    model_config = ConfigDict(frozen=True)

    rotations: Literal["all", "none"] = Field("all", description="all: each option once at every position, "
                                              "averaged; none: options as given")
    calibrate: bool = Field(False, description="divide by a content-free question's letter probabilities")
    chat: bool = Field(True, description="ask under the chat template")

    @property
    def label(self) -> str:
        return "/".join(["rotations-" + self.rotations] + (["calibrated"] if self.calibrate else [])
                        + ["chat" if self.chat else "raw"])


def ask(lm: LanguageModel, headers: Sequence[str], options: Sequence[Sequence[str]], config: AskConfig,
        *, system: Sequence[str | None] | None = None, description: str = "asking") -> list[np.ndarray]:
    """The answer distribution of each question (one (k,) array each, in the options' order); identical
    questions (same system text, header and options) are asked once."""
    system = list(system) if system is not None else [None] * len(headers)
    keys = [(s, h, tuple(o)) for s, h, o in zip(system, headers, options)]
    distinct = list(dict.fromkeys(keys))
    answers: dict = {}
    rotations = None if config.rotations == "all" else 1
    with progress_bar(f"{description} ({lm.name})", len(distinct)) as advance:
        for persona in dict.fromkeys(s for s, _, _ in distinct):
            batch = [k for k in distinct if k[0] == persona]
            fmt = Format(chat=config.chat, system=persona)
            dists = choice_distributions(lm, [h for _, h, _ in batch], [list(o) for _, _, o in batch], fmt,
                                         rotations=rotations, calibrate=config.calibrate, progress=advance)
            answers.update(zip(batch, dists))
    return [answers[k] for k in keys]
