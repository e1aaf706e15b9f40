"""Few-shot examples for the two CAI steps, from the package's own files or files in Anthropic's formats.

- Critique/revision examples: a JSON list of strings, each one worked example laid out as
  ``"\\n\\nHuman: ...\\n\\nAssistant: ...\\n\\nCritique Request: ...\\n\\nCritique: ...\\n\\nRevision Request: ...
  \\n\\nRevision: ..."`` (Anthropic's ``CritiqueRevisionFewShotPrompts.json`` writes ``CritiqueRequest:``; both
  spellings are read and written out as ``Critique Request:``).
- Choice examples: a JSON list of ``{"prompt", "corrects": [response], "incorrects": [response]}``
  (Anthropic's ``RLMadisonFewShotPrompts.json``).
- Chain-of-thought choice examples: a JSON list of ``{"prompt"}``, each a worked answer with ``{}`` where the
  principle goes (Anthropic's ``RLMadisonPrecogFewShotPrompts.json``).

The package's own examples (``feedback/data/*.json``) are used when no file is given.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pluralign.errors import InputError
from pluralign.io import read_json

_REQUEST_SPELLING = re.compile(r"\b(Critique|Revision)Request:")
_TRAILING_TURN = re.compile(r"\s*Human:\s*$")


@dataclass(frozen=True)
class ChoiceExample:
    """One solved multiple-choice example: a conversation, the better and the worse response."""

    prompt: str
    better: str
    worse: str


def _read_json_list(path: str | Path | None, package_file: str) -> tuple[list, str]:
    if path is None:
        text = resources.files("pluralign.feedback").joinpath("data", package_file).read_text(encoding="utf-8")
        return json.loads(text), f"pluralign/feedback/data/{package_file}"
    return read_json_list(path), str(path)


def read_json_list(path: str | Path) -> list:
    """A file holding one non-empty JSON list; errors name the file (and line for bad JSON)."""
    data = read_json(path)
    if not isinstance(data, list) or not data:
        raise InputError("expected a non-empty JSON list", path=str(path))
    return data


def load_critique_examples(path: str | Path | None = None) -> list[str]:
    """Critique/revision examples as text blocks, each starting with ``"\\n\\nHuman:"``."""
    data, where = _read_json_list(path, "critique_fewshot.json")
    examples = []
    for i, item in enumerate(data, 1):
        if not isinstance(item, str):
            raise InputError(f"example {i} must be a string", path=where)
        text = _TRAILING_TURN.sub("", _REQUEST_SPELLING.sub(r"\1 Request:", item)).rstrip()
        for marker in ("Human:", "Assistant:", "Critique:", "Revision:"):
            if marker not in text:
                raise InputError(f"example {i} has no {marker!r}", path=where)
        examples.append("\n\n" + text.lstrip("\n"))
    return examples


def load_choice_examples(path: str | Path | None = None) -> list[ChoiceExample]:
    """Solved comparisons from a ``{prompt, corrects, incorrects}`` list (first correct vs first incorrect)."""
    data, where = _read_json_list(path, "choice_fewshot.json")
    examples = []
    for i, item in enumerate(data, 1):
        if not isinstance(item, dict):
            raise InputError(f"example {i} must be an object", path=where)
        for key in ("corrects", "incorrects"):
            if not isinstance(item.get(key), list) or not item[key] or not isinstance(item[key][0], str):
                raise InputError(f"example {i} needs a non-empty list of strings", path=where, field=key)
        if not isinstance(item.get("prompt"), str):
            raise InputError(f"example {i} needs a string", path=where, field="prompt")
        examples.append(ChoiceExample(item["prompt"], item["corrects"][0].strip(), item["incorrects"][0].strip()))
    return examples


def load_cot_examples(path: str | Path | None = None) -> list[str]:
    """Worked chain-of-thought answers, each with a ``{}`` slot for the principle."""
    data, where = _read_json_list(path, "cot_fewshot.json")
    examples = []
    for i, item in enumerate(data, 1):
        text = item.get("prompt") if isinstance(item, dict) else None
        if not isinstance(text, str) or "{}" not in text:
            raise InputError(f"example {i} needs a 'prompt' string with a {{}} principle slot", path=where)
        examples.append(_TRAILING_TURN.sub("", text).rstrip())
    return examples
