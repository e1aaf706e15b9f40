"""The cost of a user's edit: the word-level Levenshtein distance between the response and its edit.

PRELUDE's cost (Gao et al. 2024, Sec. 2; gao-g/prelude ``src/correction.py``, ``edit_distance``) is the
Levenshtein distance over NLTK ``word_tokenize`` tokens. We tokenise with one regular expression, ``WORD``: a run of
word characters (with an inner apostrophe part, so "don't" is one token where NLTK makes "do" + "n't"), or any
single other non-space character (punctuation, an emoji, a bullet's "-"). Line breaks and spaces cost nothing.
The distance itself is rapidfuzz's Levenshtein over the token lists (unit insert/delete/substitute).
"""

from __future__ import annotations

import re

from rapidfuzz.distance import Levenshtein

WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")


def tokens(text: str) -> list[str]:
    """The tokens the cost counts (see ``WORD``)."""
    return WORD.findall(text)


def edit_cost(response: str, edited: str) -> int:
    """Word-level Levenshtein distance: how many tokens the user inserted, deleted or replaced."""
    return Levenshtein.distance(tokens(response), tokens(edited))
