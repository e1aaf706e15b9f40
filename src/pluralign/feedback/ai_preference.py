"""RL-CAI AI feedback: a constitution's principles turn response pairs into soft preference labels.

For a prompt and two responses the labeller asks the multiple-choice question of Bai et al. (2022)::

    Consider the following conversation between a human and an assistant:
    Human: ...
    [principle's choice prompt]
    Options:
     (A) [response a]
     (B) [response b]
    The answer is:

with solved few-shot examples in front, and reads P("(A)") vs P("(B)") (:mod:`pluralign.feedback.choice`).
Both option orders are scored and averaged (position bias), each order is calibrated against a content-free
question, and either one principle is sampled per comparison (the paper's ensembling over the dataset) or all
principles are averaged. With ``cot=True`` the model first writes its reasoning after "Let's think step by
step:", and the answer's probability is clamped to [0.4, 0.6].

Output: :class:`~pluralign.records.Comparison` records with ``p_a`` (probability that response a is better)
and provenance, and :func:`to_preferences` for TRL's prompt/chosen/rejected.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from pluralign.config import Config, FieldError
from pluralign.feedback.choice import calibrate, clamp, letter_probabilities, order_average
from pluralign.feedback.fewshot import ChoiceExample, load_choice_examples, load_cot_examples
from pluralign.lm.base import LanguageModel, as_messages
from pluralign.records import Comparison, Constitution, Preference, Principle, Provenance, ResponsePair, Text

CONTENT_FREE = "N/A"
_OPTIONS_SUFFIX = re.compile(r"\s*Options:\s*$")


class LabelConfig(Config):
    """How to label."""

    principles: Literal["sample", "all"] = Field("sample", description="one principle per comparison, drawn with "
                                                 "seed (the paper's ensembling), or the average over all")
    both_orders: bool = Field(True, description="score (a, b) and (b, a) and average (position bias)")
    calibrate: bool = Field(True, description="contextual calibration per principle")
    chat: bool = Field(False, description="ask through the model's chat template (a user turn), not raw text")
    fewshot: int = Field(0, ge=0, le=1000, description="solved examples to prepend (0 = none)")
    cot: bool = Field(False, description="chain-of-thought first, then clamp to clamp_range")
    clamp_range: tuple[float, float] = Field((0.4, 0.6), description="[low, high] a CoT answer's probability is "
                                             "clamped to")
    max_cot_tokens: int = Field(64, ge=1, le=2**16, description="length of the reasoning")
    low_precision: bool = Field(False, description="score with the backend's bf16 generation weights where it has "
                                "them (about 2x faster)")
    seed: int = Field(0, ge=0, lt=2**32, description="principle sampling and CoT sampling")

    @field_validator("clamp_range")
    @classmethod
    def _probabilities(cls, value):
        if not 0.0 <= value[0] <= value[1] <= 1.0:
            raise ValueError(f"must be 0 <= low <= high <= 1, got {value}")
        return value

    @model_validator(mode="after")
    def _cot_options_need_cot(self):
        for name in ("clamp_range", "max_cot_tokens"):
            if not self.cot and getattr(self, name) != type(self).model_fields[name].default:
                raise FieldError(name, "only used with cot (chain-of-thought); it would be ignored")
        return self

    @property
    def rule(self) -> str:
        parts = ["cai-label", f"principles-{self.principles}"]
        parts += [name for name, on in (("order-avg", self.both_orders), ("calibrated", self.calibrate),
                                        ("chat", self.chat), ("cot", self.cot)) if on]
        if self.fewshot:
            parts.append(f"fewshot-{self.fewshot}")
        return "/".join(parts)


def conversation_text(prompt: Text) -> str:
    """A prompt as "Human: ...\\n\\nAssistant: ..." text (conversations), or the text itself, stripped."""
    messages = as_messages(prompt)
    if messages is None:
        return str(prompt).strip()
    names = {"user": "Human", "assistant": "Assistant", "system": "System", "tool": "Tool"}
    return "\n\n".join(f"{names[m['role']]}: {m['content']}" for m in messages)


def choice_instruction(principle: Principle) -> str:
    """The principle's question without a trailing "Options:" (Anthropic's files end with it; we add it)."""
    return _OPTIONS_SUFFIX.sub("", principle.choice_prompt).strip()


def choice_stem(conversation: str, instruction: str) -> str:
    """The part of a question both option orders share."""
    return (f"Consider the following conversation between a human and an assistant:\n{conversation}\n"
            f"{instruction}\nOptions:\n")


def choice_options(first: str, second: str) -> str:
    return f" (A) {first.strip()}\n (B) {second.strip()}\nThe answer is:"


def choice_question(conversation: str, instruction: str, first: str, second: str) -> str:
    """One multiple-choice question, ending in "The answer is:"."""
    return choice_stem(conversation, instruction) + choice_options(first, second)


def fewshot_block(examples: Sequence[ChoiceExample], instruction: str) -> str:
    """Solved questions, the better response alternating between (A) and (B) so the block has no position bias."""
    blocks = []
    for i, ex in enumerate(examples):
        first, second, answer = (ex.better, ex.worse, "A") if i % 2 == 0 else (ex.worse, ex.better, "B")
        blocks.append(choice_question(conversation_text(ex.prompt), instruction, first, second) + f" ({answer})")
    return "\n\n".join(blocks) + "\n\n" if blocks else ""


def pick_principles(n: int, constitution: Constitution, how: str, seed: int) -> list[list[Principle]]:
    """For each of ``n`` comparisons, the principles to ask under: one drawn at random, or all of them."""
    if how == "all":
        return [list(constitution.principles)] * n
    rng = random.Random(seed)
    return [[rng.choice(constitution.principles)] for _ in range(n)]


class AIFeedback:
    """Labels response pairs with a model and a constitution.

    Args:
        lm: any backend (through the model protocol's ``option_logprobs``).
        constitution: principles with ``choice_prompt``.
        config: :class:`LabelConfig`.
        examples: solved choice examples (the package's own by default, see :mod:`pluralign.feedback.fewshot`).
        cot_examples: worked chain-of-thought examples with a ``{}`` principle slot (for ``config.cot``).
    """

    def __init__(self, lm: LanguageModel, constitution: Constitution, config: LabelConfig | None = None,
                 examples: Sequence[ChoiceExample] | None = None, cot_examples: Sequence[str] | None = None):
        self.lm, self.constitution, self.config = lm, constitution, config or LabelConfig()
        self.examples = list(examples if examples is not None else load_choice_examples())[: self.config.fewshot]
        self.cot_examples = list(cot_examples if cot_examples is not None else load_cot_examples())
        self._content_free: dict[str, float] = {}

    # ---- questions -----------------------------------------------------------------------------------
    def question(self, conversation: str, principle: Principle, first: str, second: str):
        instruction = choice_instruction(principle)
        text = fewshot_block(self.examples, instruction) + choice_question(conversation, instruction, first, second)
        return [{"role": "user", "content": text}] if self.config.chat else text

    def _cot_question(self, conversation: str, principle: Principle, first: str, second: str) -> str:
        worked = "".join(ex.replace("{}", choice_instruction(principle)) + "\n\n" for ex in self.cot_examples)
        return (f"{worked}Human: Consider the following conversation between a human (H) and an assistant (A):\n\n"
                f"{conversation}\n\n{choice_instruction(principle)}\n (A) [[[{first.strip()}]]]\n"
                f" (B) [[[{second.strip()}]]]\n\nAssistant: Let's think step by step:")

    # ---- probabilities -------------------------------------------------------------------------------
    def _ask(self, items: list[tuple[str, Principle, str, str]], progress) -> np.ndarray:
        """P(first option better) for each (conversation, principle, first, second): both orders averaged and
        calibrated as configured."""
        if self.config.cot:
            p = self._ask_cot(items, progress)
            return order_average(p, self._ask_cot([(c, pr, b, a) for c, pr, a, b in items], progress)) \
                if self.config.both_orders else p
        questions = [self.question(*item) for item in items]
        if self.config.both_orders:
            # One call for both orders: the backend computes what the two orders of a question share once.
            both = self._letters(questions + [self.question(c, pr, b, a) for c, pr, a, b in items], progress)
            p_ab, p_ba = both[: len(items)], both[len(items):]
        else:
            p_ab, p_ba = self._letters(questions, progress), None
        if self.config.calibrate:
            bias = np.array([self.content_free_p(item[1]) for item in items])
            p_ab = calibrate(p_ab, bias)
            p_ba = calibrate(p_ba, bias) if p_ba is not None else None
        return order_average(p_ab, p_ba) if p_ba is not None else p_ab

    def _ask_cot(self, items, progress) -> np.ndarray:
        prompts = [self._cot_question(*item) for item in items]
        thoughts = self.lm.generate(prompts, temperature=0.0, max_new_tokens=self.config.max_cot_tokens,
                                    repetition_penalty=1.2)
        # The reasoning stops where the model starts a new turn or states its own answer.
        answered = [p + " " + re.split(r"\n\s*(?:Human:|So the answer|Therefore)", t[0])[0].strip()
                    + "\n\nHuman:\nSo the answer is:" for p, t in zip(prompts, thoughts)]
        return clamp(self._letters(answered, progress), *self.config.clamp_range)

    def _letters(self, questions, progress=None) -> np.ndarray:
        return letter_probabilities(self.lm, questions, low_precision=self.config.low_precision, progress=progress)

    def content_free_p(self, principle: Principle) -> float:
        """P(A) when conversation and both options are "N/A": the bias of this principle's question."""
        if principle.id not in self._content_free:
            q = self.question(CONTENT_FREE, principle, CONTENT_FREE, CONTENT_FREE)
            self._content_free[principle.id] = float(self._letters([q])[0])
        return self._content_free[principle.id]

    def probabilities(self, prompts: Sequence[Text], responses_a: Sequence[Text], responses_b: Sequence[Text],
                      progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, list[list[str]]]:
        """P(response a is better) for each pair, shape (n,), and the principle ids used for each."""
        if not len(prompts) == len(responses_a) == len(responses_b):
            raise ValueError("prompts, responses_a and responses_b must have the same length")
        chosen = pick_principles(len(prompts), self.constitution, self.config.principles, self.config.seed)
        items, owner = [], []
        for i, (prompt, a, b) in enumerate(zip(prompts, responses_a, responses_b)):
            conv, a, b = conversation_text(prompt), conversation_text(a), conversation_text(b)
            for principle in chosen[i]:
                items.append((conv, principle, a, b))
                owner.append(i)
        p = self._ask(items, progress)
        owner = np.array(owner)
        per_pair = np.array([p[owner == i].mean() for i in range(len(prompts))])
        return per_pair, [[pr.id for pr in ps] for ps in chosen]

    def label(self, pairs: Sequence[ResponsePair], progress: Callable[[int], None] | None = None,
              source: str | None = None) -> list[Comparison]:
        """Soft-label response pairs: Comparison records with ``p_a`` and provenance (the principles asked, the
        model, and the pair's own provenance: the people behind it, under ``details["pair"]``)."""
        p, principle_ids = self.probabilities([x.prompt for x in pairs], [x.response_a for x in pairs],
                                              [x.response_b for x in pairs], progress)
        return [
            Comparison(id=x.id, prompt=x.prompt, response_a=x.response_a, response_b=x.response_b, p_a=float(pa),
                       annotator=f"ai:{self.lm.name}",
                       provenance=Provenance(principles=ids, rule=self.config.rule, model=self.lm.name, source=source,
                                             participants=list(x.provenance.participants),
                                             details={"seed": self.config.seed, "constitution": self.constitution.name,
                                                      "pair": x.provenance.model_dump(mode="json")}))
            for x, pa, ids in zip(pairs, p, principle_ids)
        ]


def to_preferences(comparisons: Sequence[Comparison]) -> list[Preference]:
    """TRL preference rows: chosen = the response with the higher probability; margin = |p_a - 0.5|."""
    out = []
    for c in comparisons:
        a_wins = c.p_a >= 0.5
        out.append(Preference(
            id=c.id, prompt=c.prompt, chosen=c.response_a if a_wins else c.response_b,
            rejected=c.response_b if a_wins else c.response_a, weight=c.weight, margin=abs(c.p_a - 0.5),
            provenance=c.provenance.model_copy(update={"details": {**c.provenance.details, "p_a": c.p_a}}),
        ))
    return out
