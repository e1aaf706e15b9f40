"""Loading and saving constitutions: our JSON, and the Anthropic Constitutional AI prompt files.

Formats :func:`load` recognises (by content, not by file name):

- **pluralign JSON** — one object ``{"name", "principles": [...], "provenance"}`` (see :mod:`pluralign.records`).
- **Anthropic critique/revision instructions** (``CritiqueRevisionInstructions.json``) — an object
  ``{"<id>": {"prompt": ["\\n\\nCritiqueRequest: ... \\n\\nCritique:"], "edit_request": "\\n\\nRevisionRequest: ...
  \\n\\nRevision:"}}``. The ``CritiqueRequest:``/``Critique:`` scaffolding is stripped (feedback code adds its own);
  the choice prompt, which the file lacks, is filled from the critique with the default template.
- **Anthropic RL instructions** (``RLMadisonInstructions.json``) — a list of choice prompts ending in
  ``Options:``. The trailing ``Options:`` is stripped; critique and revision requests come from the templates.
- **A directory** holding both Anthropic files: principle *i* takes its critique and revision from the first file
  and its choice prompt from the second. The paper uses the two lists in separate stages (SL-CAI and RL-CAI), so
  pairing them by position only fills one record per principle; neither stage reads the other's prompts.

The raw Anthropic strings are kept in each principle's ``provenance.details["raw"]`` so the exact published
prompt can be rebuilt.
"""

from __future__ import annotations

import re
from pathlib import Path

from pluralign.errors import InputError
from pluralign.io import load_constitution, read_json, save_constitution
from pluralign.records import Constitution, Principle, Provenance
from pluralign.constitution.templates import PrincipleTemplates

CRITIQUE_FILE = "CritiqueRevisionInstructions.json"
CHOICE_FILE = "RLMadisonInstructions.json"

# The Anthropic files state each principle as an instruction (a critique request, or a choice question), not as a
# rule, so the missing prompts wrap that instruction rather than using the rule templates.
FROM_CRITIQUE = PrincipleTemplates(choice="Which of these assistant responses does better when judged this way: {principle}")
FROM_CHOICE = PrincipleTemplates(
    critique="Identify specific ways in which the assistant's last response falls short of this standard: {principle}",
    revision="Please rewrite the assistant's response so that it would be chosen under this standard: {principle}",
)


def load(path: str | Path, templates: PrincipleTemplates | None = None) -> Constitution:
    """Load a constitution from our JSON, an Anthropic CAI instructions file, or a directory holding both.

    ``templates`` fill the prompts an Anthropic file lacks (defaults: :data:`FROM_CRITIQUE`, :data:`FROM_CHOICE`).
    Raises :class:`~pluralign.errors.InputError` naming the file for anything it cannot read.
    """
    path = Path(path)
    if path.is_dir():
        return _load_anthropic_dir(path, templates)
    data = read_json(path)
    if isinstance(data, dict) and "principles" in data:
        return load_constitution(path)
    if isinstance(data, dict):
        return _from_critique_revision(data, str(path), templates or FROM_CRITIQUE)
    if isinstance(data, list):
        return _from_choice_prompts(data, str(path), templates or FROM_CHOICE)
    raise InputError("not a constitution: expected a JSON object or list", path=str(path))


def save(path: str | Path, constitution: Constitution) -> None:
    """Write a constitution as our JSON, atomically."""
    save_constitution(path, constitution)


def _strip_scaffold(text: str, label: str, answer: str) -> str:
    """'\\n\\nCritiqueRequest: X\\n\\nCritique:' -> 'X' (label/answer are the scaffold words)."""
    text = re.sub(rf"^\s*{label}\s*:\s*", "", text)
    text = re.sub(rf"\s*{answer}\s*:\s*$", "", text)
    return text.strip()


def _critique_pairs(data: dict, where: str) -> list[tuple[str, str, str, dict]]:
    """Anthropic critique/revision object -> [(id, critique, revision, raw)]."""
    out = []
    for key, entry in data.items():
        if not isinstance(entry, dict) or "prompt" not in entry or "edit_request" not in entry:
            raise InputError("expected {'prompt': [...], 'edit_request': ...}", path=where, field=str(key))
        prompt = entry["prompt"][0] if isinstance(entry["prompt"], list) and entry["prompt"] else entry["prompt"]
        if not isinstance(prompt, str) or not isinstance(entry["edit_request"], str):
            raise InputError("prompt and edit_request must be text", path=where, field=str(key))
        critique = _strip_scaffold(prompt, "CritiqueRequest", "Critique")
        revision = _strip_scaffold(entry["edit_request"], "RevisionRequest", "Revision")
        if not critique or not revision:
            raise InputError("empty critique or revision request", path=where, field=str(key))
        out.append((str(key), critique, revision, {"critique": prompt, "revision": entry["edit_request"]}))
    if not out:
        raise InputError("no principles in file", path=where)
    return out


def _choice_prompts(data: list, where: str) -> list[tuple[str, str]]:
    """Anthropic RL list -> [(choice prompt, raw)]."""
    out = []
    for i, raw in enumerate(data, 1):
        if not isinstance(raw, str) or not raw.strip():
            raise InputError("expected a non-empty string", path=where, field=f"[{i - 1}]")
        out.append((re.sub(r"\s*Options:\s*$", "", raw).strip(), raw))
    if not out:
        raise InputError("no principles in file", path=where)
    return out


def _from_critique_revision(data: dict, where: str, templates: PrincipleTemplates) -> Constitution:
    principles = [
        Principle(id=key, text=critique, critique_request=critique, revision_request=revision,
                  choice_prompt=templates.fill(critique)["choice_prompt"],
                  provenance=Provenance(source=where, details={"raw": raw}))
        for key, critique, revision, raw in _critique_pairs(data, where)
    ]
    return Constitution(name=Path(where).stem, principles=principles, provenance=Provenance(source=where))


def _from_choice_prompts(data: list, where: str, templates: PrincipleTemplates) -> Constitution:
    principles = []
    for i, (choice, raw) in enumerate(_choice_prompts(data, where)):
        filled = templates.fill(choice)
        principles.append(Principle(id=f"choice{i}", text=choice, critique_request=filled["critique_request"],
                                    revision_request=filled["revision_request"], choice_prompt=choice,
                                    provenance=Provenance(source=where, details={"raw": {"choice": raw}})))
    return Constitution(name=Path(where).stem, principles=principles, provenance=Provenance(source=where))


def _load_anthropic_dir(path: Path, templates: PrincipleTemplates | None) -> Constitution:
    critique_path, choice_path = path / CRITIQUE_FILE, path / CHOICE_FILE
    if not critique_path.is_file() and not choice_path.is_file():
        raise InputError(f"directory holds neither {CRITIQUE_FILE} nor {CHOICE_FILE}", path=str(path))
    if not choice_path.is_file():
        return load(critique_path, templates)
    if not critique_path.is_file():
        return load(choice_path, templates)
    pairs = _critique_pairs(read_json(critique_path), str(critique_path))
    choices = _choice_prompts(read_json(choice_path), str(choice_path))
    principles = []
    for i in range(max(len(pairs), len(choices))):
        # Lists of unequal length: the shorter one's missing prompts come from the templates.
        key, critique, revision, raw = pairs[i] if i < len(pairs) else (f"choice{i}", "", "", {})
        choice, raw_choice = choices[i] if i < len(choices) else ("", None)
        text = critique or choice
        filled = (templates or (FROM_CRITIQUE if critique else FROM_CHOICE)).fill(text)
        principles.append(Principle(
            id=key, text=text,
            critique_request=critique or filled["critique_request"],
            revision_request=revision or filled["revision_request"],
            choice_prompt=choice or filled["choice_prompt"],
            provenance=Provenance(source=str(path), details={"raw": {**raw, "choice": raw_choice}}),
        ))
    return Constitution(name=path.name, principles=principles, provenance=Provenance(source=str(path)))
