"""Which unseen statement a participant sees next.

The default shows higher ``priority`` first and, within a priority, a random order that is fixed per
participant (a hash of participant and statement), so two people see statements in different orders and a
reload does not reshuffle. ``priority`` is the hook for Polis-style comment routing: a later stage may write
priorities (e.g. from vote counts or group-informed consensus) and this order follows them; or pass another
``Router`` to :class:`~pluralign.elicit.store.Store`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import NamedTuple


class Candidate(NamedTuple):
    """An accepted statement the participant has not voted on."""

    number: int
    priority: float


Router = Callable[[Sequence[Candidate], str], list[Candidate]]
"""(unseen candidates, participant key) -> the same candidates, first to show first."""


def shuffle_key(participant_key: str, number: int) -> bytes:
    """A per-participant pseudo-random sort key for a statement (stable across requests)."""
    return hashlib.blake2b(f"{participant_key}:{number}".encode(), digest_size=8).digest()


def priority_then_random(candidates: Sequence[Candidate], participant_key: str) -> list[Candidate]:
    """Highest priority first; ties in a random order fixed per participant."""
    return sorted(candidates, key=lambda c: (-c.priority, shuffle_key(participant_key, c.number)))
