"""The prompts of the PRELUDE task, in our words, with the roles of gao-g/prelude ``src/task/summarization.py``:

- ``respond``: the task (summarise a document), optionally for a stated preference (``get_task_prompt``);
- ``respond_from_edits``: the task after a few retrieved (response, user's edit) pairs (``get_task_prompt_icl``);
- ``infer``: what preference does this edit reveal? a short phrase (``get_preference_inference_prompt``);
- ``merge``: one short phrase for what retrieved preferences share (``get_majority_preference_prompt``);
- ``user_accepts`` / ``user_rewrites``: the simulated user's yes/no question and rewrite (``get_edit_prompts``).

Every prompt is a one-turn chat; ``clip`` keeps documents and examples short enough for a small model on a CPU.
"""

from __future__ import annotations

from collections.abc import Sequence

TASK = "Summarize the text above."


def clip(text: str, max_words: int) -> str:
    words = text.split()
    return text.strip() if len(words) <= max_words else " ".join(words[:max_words]) + " ..."


def _chat(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def respond(context: str, preference: str | None = None) -> list[dict]:
    if not preference:
        return _chat(f"Text:\n{context}\n\n{TASK}")
    return _chat(f"Text:\n{context}\n\nSummarize the text above for a reader whose preferred style is: "
                 f"{preference}. Write the summary in that style.")


def respond_from_edits(context: str, examples: Sequence[tuple[str, str]], max_words: int = 60) -> list[dict]:
    shown = "".join(f"My summary:\n{clip(o, max_words)}\nThe user's revision:\n{clip(e, max_words)}\n\n"
                    for o, e in examples)
    return _chat(f"{shown}Text:\n{context}\n\nSummarize the text above the way this user revised the "
                 "summaries before.")


def changes(response: str, edited: str, max_items: int = 8) -> str:
    """The edit as a list of word changes (rapidfuzz opcodes over the cost's tokens): a small model reads what
    the user added or removed more easily than it compares two texts."""
    from rapidfuzz.distance import Levenshtein

    from pluralign.feedback.edits.cost import tokens

    a, b = tokens(response), tokens(edited)
    out = []
    for op in Levenshtein.opcodes(a, b):
        old, new = " ".join(a[op.src_start:op.src_end]), " ".join(b[op.dest_start:op.dest_end])
        if op.tag == "insert":
            out.append(f'added "{clip(new, 8)}"')
        elif op.tag == "delete":
            out.append(f'removed "{clip(old, 8)}"')
        elif op.tag == "replace":
            out.append(f'changed "{clip(old, 8)}" to "{clip(new, 8)}"')
    more = f"; and {len(out) - max_items} more" if len(out) > max_items else ""
    return "; ".join(out[:max_items]) + more if out else "no change"


def infer(response: str, edited: str, max_words: int = 40) -> list[dict]:
    return _chat(f"My summary:\n{clip(response, max_words)}\n\nThe user's revision:\n{clip(edited, max_words)}\n\n"
                 f"The user's changes: {changes(response, edited)}.\n\n"
                 "What does the revision say about the user's general preference in writing style and format? "
                 "Answer with a short phrase only.")


def merge(preferences: Sequence[str]) -> list[dict]:
    listed = "".join(f"- {p}\n" for p in preferences)
    return _chat(f"Preferences this user showed on similar texts:\n{listed}\n"
                 "Give, as one short phrase, the preference most of them share.")


def user_accepts(context: str, response: str, preference: str) -> list[dict]:
    return _chat(f"Text:\n{context}\n\nSummary:\n{response}\n\nIs this summary good for someone whose preferred "
                 f"style is: {preference}? Answer Yes or No.")


def user_rewrites(response: str, preference: str) -> list[dict]:
    return _chat(f"Summary:\n{response}\n\nYour preferred style is: {preference}. Rewrite the summary above in "
                 "your style. Reply with the rewritten summary only.")


def as_phrase(text: str, max_words: int = 25) -> str:
    """A generated preference as one line: the first non-empty line that is not a heading (ending in ":"),
    clipped (small models ramble, and often echo a label of the prompt first)."""
    lines = (ln.strip(" -*\"'") for ln in text.splitlines())
    line = next((ln for ln in lines if ln and not ln.endswith(":")), "")
    return " ".join(line.split()[:max_words])
