"""A dataset of ranked ballots as padded tensors, so that every rule runs over all prompts at once.

Shapes: P prompts, A ballot slots (the most ballots any prompt has), C candidate slots (the most candidates any
prompt has). Prompts with fewer ballots or candidates are padded; padding has weight 0 / ``present`` False.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from pluralign.errors import InputError
from pluralign.records import Ranking


@dataclass(frozen=True)
class Profiles:
    """Ballots of many prompts.

    ranks: (P, A, C) int16 — tier of candidate c on ballot a of prompt p, 0 = best; candidates in one tier tie.
        ``C`` (the number of candidate slots) marks a candidate the ballot leaves unranked: below every ranked
        one. ``C + 1`` marks a candidate the ballot was not shown: it is compared with nothing.
    weights: (P, A) float64 — how much each ballot counts (annotator weight x ballot weight); 0 = no ballot.
    present: (P, C) bool — whether candidate slot c exists for prompt p.
    prompts, candidates, annotators: names for each prompt / candidate slot / ballot slot (for records).
    """

    ranks: np.ndarray
    weights: np.ndarray
    present: np.ndarray
    prompts: list = field(default_factory=list)
    candidates: list[list[str]] = field(default_factory=list)
    annotators: list[list[str | None]] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.ranks.shape  # type: ignore[return-value]

    @property
    def unranked(self) -> int:
        """The rank value meaning "not ranked on this ballot" (below every ranked candidate)."""
        return self.ranks.shape[2]

    @property
    def not_shown(self) -> int:
        """The rank value meaning "this ballot never saw the candidate"."""
        return self.ranks.shape[2] + 1

    def with_weights(self, weights: np.ndarray) -> "Profiles":
        """The same ballots with other (P, A) weights, e.g. one annotator group's."""
        return Profiles(self.ranks, _check_weights(weights, self.weights.shape), self.present, self.prompts,
                        self.candidates, self.annotators)


def _check_weights(weights: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != shape:
        raise InputError(f"weights have shape {weights.shape}, expected {shape}")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise InputError("weights must be finite and >= 0")
    return weights


def from_arrays(ranks, weights=None, present=None) -> Profiles:
    """Validated :class:`Profiles` from arrays.

    ranks: (P, A, C) integers, lower is better, equal values tie, a negative value leaves the candidate unranked.
    weights: (P, A) >= 0, default 1 for every ballot. present: (P, C) bool, default all True.
    """
    ranks = np.asarray(ranks)
    if ranks.ndim != 3 or not np.issubdtype(ranks.dtype, np.integer):
        raise InputError(f"ranks must be a (prompts, ballots, candidates) integer array, got {ranks.dtype}{ranks.shape}")
    P, A, C = ranks.shape
    if C < 2:
        raise InputError("need at least 2 candidates")
    weights = np.ones((P, A)) if weights is None else _check_weights(weights, (P, A))
    present = np.ones((P, C), bool) if present is None else np.asarray(present, bool)
    if present.shape != (P, C):
        raise InputError(f"present has shape {present.shape}, expected {(P, C)}")
    return Profiles(_dense_tiers(ranks, (ranks < 0) | ~present[:, None, :]), weights, present, list(range(P)),
                    [[str(c) for c in range(C)]] * P, [[None] * A] * P)


def _dense_tiers(ranks: np.ndarray, unranked: np.ndarray) -> np.ndarray:
    """(P, A, C) int16 tiers below C keeping each ballot's order and ties; ``unranked`` entries -> C.

    Rules only compare tiers, so values already in 0..C-1 are kept; others are renumbered 0, 1, 2, ...
    """
    C = ranks.shape[2]
    if np.all(unranked | (ranks < C)):
        return np.where(unranked, C, ranks).astype(np.int16)
    values = np.where(unranked, np.iinfo(np.int64).max, ranks.astype(np.int64))
    order = np.argsort(values, axis=2, kind="stable")
    ascending = np.take_along_axis(values, order, axis=2)
    tier = np.concatenate([np.zeros_like(ascending[..., :1]), np.diff(ascending, axis=2) != 0], axis=2).cumsum(axis=2)
    tiers = np.empty_like(tier)
    np.put_along_axis(tiers, order, tier, axis=2)
    return np.where(unranked, C, tiers).astype(np.int16)


def prompt_key(prompt) -> str:
    """A hashable key for a prompt (text or a conversation)."""
    if isinstance(prompt, str):
        return prompt
    return json.dumps([m.model_dump() if hasattr(m, "model_dump") else m for m in prompt], sort_keys=True)


def from_rankings(rankings: Iterable[Ranking], annotator_weights: Mapping[str, float] | None = None) -> Profiles:
    """Group Ranking records by prompt into :class:`Profiles`.

    A prompt's candidates are the union of its ballots' candidates (first-seen order). A candidate a ballot
    lists but leaves out of ``order`` is unranked (below the ranked ones); one the ballot does not list at all
    was not shown to that annotator and is compared with nothing on that ballot. A ballot's weight is
    ``ranking.weight`` times its annotator's weight in ``annotator_weights`` (when given, every annotator must be
    in it). Errors name the record. One pass collects the fields; the tensors are built in bulk (:func:`from_columns`).
    """
    import pyarrow as pa

    rankings = list(rankings)
    if not rankings:
        raise InputError("no rankings given")
    by_key: dict[str, int] = {}
    codes = [by_key.setdefault(prompt_key(r.prompt), len(by_key)) for r in rankings]
    first = np.full(len(by_key), -1)
    first[np.asarray(codes)[::-1]] = np.arange(len(rankings))[::-1]  # first ballot of each prompt
    return from_columns(
        np.asarray(codes), [rankings[i].prompt for i in first],
        pa.array([r.candidates for r in rankings], pa.list_(pa.string())),
        pa.array([r.order for r in rankings], pa.list_(pa.list_(pa.string()))),
        pa.array([r.annotator for r in rankings], pa.string()),
        np.fromiter((r.weight for r in rankings), np.float64, len(rankings)),
        [r.id for r in rankings], annotator_weights)


def from_columns(prompt_codes: np.ndarray, prompts: list, candidates, order, annotators, weights: np.ndarray,
                 ids, annotator_weights: Mapping[str, float] | None = None, validate: bool = False) -> Profiles:
    """:class:`Profiles` from N ballots held column-wise (validated Ranking fields).

    prompt_codes: (N,) prompt index of each ballot, numbered in first-seen order; prompts: those prompts;
    candidates: pyarrow list<string> (N,); order: list<list<string>> (N,) tiers best-first; annotators:
    string (N,) with nulls; weights: (N,) ballot weights; ids: the rankings' ids (for messages).
    Each tensor entry is written by one fancy-index assignment over all ballots. ``validate``: check Ranking's
    rules on the names (for columns read without pydantic); an error names the first ranking that breaks one.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(prompt_codes)
    P = int(prompt_codes.max()) + 1
    # slot of each ballot within its prompt, in file order
    by_prompt = np.argsort(prompt_codes, kind="stable")
    count = np.bincount(prompt_codes, minlength=P)
    start = np.cumsum(count) - count
    slot = np.empty(n, np.int64)
    slot[by_prompt] = np.arange(n) - start[prompt_codes[by_prompt]]
    A = int(count.max())

    # one name table for listed and ranked candidates
    listed_len = pc.list_value_length(candidates).to_numpy(zero_copy_only=False)
    tiers = pc.list_flatten(order)
    tiers_per_ballot = pc.list_value_length(order).to_numpy(zero_copy_only=False)
    tier_len = pc.list_value_length(tiers).to_numpy(zero_copy_only=False)
    names = pc.dictionary_encode(pa.concat_arrays([pc.list_flatten(candidates), pc.list_flatten(tiers)]))
    name_codes = names.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    n_names = len(names.dictionary)
    listed_code, ranked_code = name_codes[: listed_len.sum()], name_codes[listed_len.sum():]
    listed_ballot = np.repeat(np.arange(n), listed_len)
    tier_ballot = np.repeat(np.arange(n), tiers_per_ballot)
    tier_number = np.arange(len(tier_ballot)) - np.repeat(np.cumsum(tiers_per_ballot) - tiers_per_ballot,
                                                          tiers_per_ballot)
    ranked_ballot, ranked_tier = np.repeat(tier_ballot, tier_len), np.repeat(tier_number, tier_len)

    # candidate slots: each prompt's distinct listed names in first-seen order
    # hash tables (Arrow) rather than sorts: the distinct (prompt, name) keys come out in first-seen order
    keys = pc.dictionary_encode(pa.array(prompt_codes[listed_ballot] * n_names + listed_code))
    uniq, inverse = keys.dictionary.to_numpy(), keys.indices.to_numpy().astype(np.int64)
    uniq_prompt = uniq // n_names
    seen_order = np.argsort(uniq_prompt, kind="stable")
    per_prompt = np.bincount(uniq_prompt, minlength=P)
    cand_slot = np.empty(len(uniq), np.int64)
    cand_slot[seen_order] = np.arange(len(uniq)) - np.repeat(np.cumsum(per_prompt) - per_prompt, per_prompt)
    C = int(per_prompt.max())
    ranked_at = pc.index_in(pa.array(prompt_codes[ranked_ballot] * n_names + ranked_code), value_set=keys.dictionary)
    found = ranked_at.is_valid().to_numpy(zero_copy_only=False)
    ranked_slot = cand_slot[ranked_at.fill_null(0).to_numpy().astype(np.int64)]

    ranks = np.full((P, A, C), C + 1, np.int16)
    ranks[prompt_codes[listed_ballot], slot[listed_ballot], cand_slot[inverse]] = C  # shown, unranked so far
    if validate:  # Ranking's rules: distinct candidates; order names listed ones, each once
        _check(np.bincount(listed_ballot, minlength=n) == (ranks <= C).sum(axis=2)[prompt_codes, slot], ids,
               "candidates must be distinct")
        at = (prompt_codes[ranked_ballot], slot[ranked_ballot], ranked_slot)
        _check(np.bincount(ranked_ballot, found & (ranks[at] == C), minlength=n) == np.bincount(ranked_ballot, minlength=n),
               ids, "order names a candidate the ranking does not list")
    ranks[prompt_codes[ranked_ballot], slot[ranked_ballot], ranked_slot] = ranked_tier
    if validate:
        _check(np.bincount(ranked_ballot, minlength=n) == (ranks < C).sum(axis=2)[prompt_codes, slot], ids,
               "order repeats a candidate")
    present = np.arange(C) < per_prompt[:, None]
    dictionary = names.dictionary.to_pylist()
    slot_names = [[""] * C for _ in range(P)]
    for u, s in zip(uniq[seen_order].tolist(), cand_slot[seen_order].tolist()):
        slot_names[u // n_names][s] = dictionary[u % n_names]

    who = annotators.to_pylist()
    _check_annotators_once(prompt_codes, annotators, ids, who)
    ballot_weights = np.zeros((P, A))
    ballot_weights[prompt_codes, slot] = weights * _annotator_weights(who, ids, annotator_weights)
    names_by_slot = np.full((P, A), None, object)
    names_by_slot[prompt_codes, slot] = np.array(who, object)
    return Profiles(ranks, ballot_weights, present, prompts, slot_names, names_by_slot.tolist())


def _check(ok: np.ndarray, ids, message: str) -> None:
    if not ok.all():
        raise InputError(f"ranking {ids[int(np.argmin(ok))]}: {message}")


def _check_annotators_once(prompt_codes: np.ndarray, annotators, ids, who: list) -> None:
    """An annotator ranks each prompt at most once; the error names the second ranking."""
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(annotators)
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    named = np.nonzero(codes >= 0)[0]
    key = prompt_codes[named] * (len(encoded.dictionary) + 1) + codes[named]
    if pc.count_distinct(pa.array(key)).as_py() < len(named):
        _, first = np.unique(key, return_index=True)
        repeated = np.setdiff1d(np.arange(len(named)), first)[0]
        b = int(named[repeated])
        raise InputError(f"ranking {ids[b]}: annotator {who[b]!r} ranks this prompt twice")


def _annotator_weights(who: list, ids, annotator_weights: Mapping[str, float] | None) -> np.ndarray:
    if annotator_weights is None:
        return np.ones(len(who))
    lookup = {name: _annotator_weight(ids[b], name, annotator_weights) for name, b in
              {name: b for b, name in reversed(list(enumerate(who)))}.items()}
    return np.array([lookup[name] for name in who])


def _annotator_weight(ranking_id: str, annotator: str | None, annotator_weights: Mapping[str, float]) -> float:
    if annotator not in annotator_weights:
        raise InputError(f"ranking {ranking_id}: annotator {annotator!r} has no weight")
    w = float(annotator_weights[annotator])  # type: ignore[index]
    if not np.isfinite(w) or w < 0:
        raise InputError(f"ranking {ranking_id}: annotator {annotator!r} has weight {w}; weights must be >= 0")
    return w
