"""The rules on what participants and organisers type, shared by the store, the web app and the CLI.

A refused input raises :class:`Rejected` with an HTTP status and a one-line message; a refused value is quoted
cut to 40 characters (:func:`shown`), so messages never echo megabytes back.
"""

from __future__ import annotations

import unicodedata

from pluralign.errors import InputError

MIN_STATEMENT_CHARS = 3
MAX_STATEMENT_CHARS = 400
VOTE_WORDS = {"agree": 1, "disagree": -1, "pass": 0}


class Rejected(InputError):
    """Input the store refuses; ``status`` is the HTTP status the web app answers with."""

    def __init__(self, status: int, message: str, *, field: str | None = None):
        super().__init__(message)
        self.status, self.field = status, field


def parse_vote(value: int | str) -> int:
    """1/-1/0 or agree/disagree/pass -> the Polis CSV code."""
    if isinstance(value, str):
        word = value.strip().lower()
        if word in VOTE_WORDS:
            return VOTE_WORDS[word]
        try:
            value = int(word)
        except ValueError:
            raise Rejected(422, f"vote must be agree, disagree or pass, got {shown(value)}", field="vote") from None
    if isinstance(value, bool) or value not in (-1, 0, 1):
        raise Rejected(422, f"vote must be 1, -1 or 0, got {shown(value)}", field="vote")
    return int(value)


def shown(value, limit: int = 40) -> str:
    """``repr`` of a refused value for a message, cut to ``limit`` characters (messages never echo megabytes)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(str(value)):,} characters)"


BIDI_OPENERS = {"\u202a": "embed", "\u202b": "embed", "\u202d": "embed", "\u202e": "embed",
                "\u2066": "isolate", "\u2067": "isolate", "\u2068": "isolate"}
BIDI_CLOSERS = {"\u202c": "embed", "\u2069": "isolate"}  # PDF, PDI (Unicode UAX #9, section 2)


def bidi_balanced(text: str) -> bool:
    """Whether every bidi embedding/override/isolate is closed in order (an unclosed one reverses the
    text after it, e.g. in the moderation queue)."""
    stack = []
    for ch in text:
        if ch in BIDI_OPENERS:
            stack.append(BIDI_OPENERS[ch])
        elif ch in BIDI_CLOSERS:
            if not stack or stack.pop() != BIDI_CLOSERS[ch]:
                return False
    return not stack


def check_text(text, field: str) -> str:
    """A text field without control characters or lone surrogates (which no database encoding stores)."""
    if not isinstance(text, str):
        raise Rejected(422, f"{field} must be text, got {type(text).__name__}", field=field)
    bad = next((ch for ch in text if unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\t\n\r"), None)
    if bad is not None:
        kind = "a lone surrogate" if unicodedata.category(bad) == "Cs" else "control characters"
        raise Rejected(422, f"{field} contains {kind} ({ascii(bad)})", field=field)
    return text


def validate_statement_text(text: str) -> str:
    """Trimmed statement text within the length limits (characters), visible and with balanced bidi controls."""
    text = " ".join(check_text(text, "text").split())
    visible = sum(unicodedata.category(ch)[0] not in "CZM" for ch in text)  # letters, digits, punctuation, symbols
    if visible < MIN_STATEMENT_CHARS:
        raise Rejected(422, f"statement is too short (at least {MIN_STATEMENT_CHARS} visible characters)",
                       field="text")
    if len(text) > MAX_STATEMENT_CHARS:
        raise Rejected(422, f"statement is too long ({len(text)} characters; at most {MAX_STATEMENT_CHARS})",
                       field="text")
    if not bidi_balanced(text):
        raise Rejected(422, "statement has an unclosed or unmatched bidirectional override", field="text")
    return text
