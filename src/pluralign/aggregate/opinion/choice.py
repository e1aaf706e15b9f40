"""How an export's groups were computed, decided from the evidence the export carries: replay its vote log or
analyse it once, and whether its math last ran on a freshly loaded server.

Polis's groups are the end of a live history (:mod:`.replay`), so replaying the vote log is the faithful method
wherever the export has one (vote times), one math version ran that whole history, and the replay is affordable.
Otherwise one analysis is: a replay runs one version throughout, so it cannot follow a history across a change of
Polis's math (deployed at times the export does not record); and math newer than the votes' own time means the
conversation was recomputed later, which Polis does from scratch (``load-or-init`` with ``:recompute`` starts a
new conversation from all its votes, conv_man.clj:188-207) -- what one analysis computes.

The fresh load follows Polis's poller: a math server that starts polls the votes and moderations of the last
``poll-from-days-ago`` days (10; polismath poller.clj:15, components/config.clj:51), so a conversation that had
votes in that window is loaded from its saved state (``load-or-init`` marks it ``:recompute :reboot``,
conv_man.clj:188-207) and updated once more with no new votes. With a server restart every ``restart_hours``
(the replay's own assumption), math read more than a restart after the last vote ran on such a server. The
export dates when it was read at the latest by the conversation's ``modified`` time (an API dump's
``conversation.json``) and the math output's ``lastModTimestamp``: the dump was taken after both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pluralign.aggregate.opinion.mathversion import day_of, version_on
from pluralign.aggregate.opinion.matrix import VoteMatrix
from pluralign.aggregate.opinion.replay import ReplayConfig, count_updates
from pluralign.errors import InputError

REPOLL_DAYS = 10.0  # Polis's poll-from-days-ago: how far back a starting server re-reads votes
# A replay's cost, fitted to replays of synthetic conversations on one core of an AMD EPYC (docs/opinion.md):
# seconds per update at the final size, which bounds every earlier, smaller update.
SECONDS_PER_UPDATE, SECONDS_PER_CELL_UPDATE = 5e-3, 7e-8
MAX_REPLAY_SECONDS = 60.0  # the longest estimated replay run by default; --replay forces a longer one


@dataclass(frozen=True)
class Choice:
    """A decision and the evidence for it, in words (printed by the command line)."""

    chosen: bool
    reason: str


def replay_seconds(updates: int, shape: tuple[int, int]) -> float:
    """Estimated upper bound on a replay's time: every update priced at the final matrix size."""
    return updates * (SECONDS_PER_UPDATE + SECONDS_PER_CELL_UPDATE * shape[0] * shape[1])


def choose_replay(matrix: VoteMatrix, updates: int, math: str, *, polis_export: bool = True,
                  max_seconds: float = MAX_REPLAY_SECONDS) -> Choice:
    """Replay when the votes carry times, come from a Polis server (``polis_export``), were all cast under the
    math version ``math`` that computed the export, and the estimated replay of ``updates`` updates stays within
    ``max_seconds``; else analyse once."""
    if not polis_export:
        return Choice(False, "analysed once: no Polis server computed groups for these votes")
    if matrix.log is None or len(matrix.log.times) == 0:
        return Choice(False, "analysed once: the export has no vote times to replay")
    first, last = (day_of(float(t)) for t in (matrix.log.times.min(), matrix.log.times.max()))
    if version_on(first) != version_on(last):
        return Choice(False, f"analysed once: the votes ({first} to {last}) span a change of Polis's math "
                             f"({version_on(first).name} to {version_on(last).name}), and a replay runs one "
                             "version throughout")
    if version_on(last).name != math:
        return Choice(False, f"analysed once: math {math} is not the math of the votes' time ({last}: "
                             f"{version_on(last).name}), so the export was recomputed, from scratch")
    n, m = matrix.shape
    estimate = replay_seconds(updates, matrix.shape)
    size = f"{updates:,} updates of up to {n:,} x {m:,} votes, estimated <= {estimate:,.0f} s"
    if estimate > max_seconds:
        return Choice(False, f"analysed once: a replay would be {size}, over the {max_seconds:.0f} s bound "
                             "(--replay forces it)")
    return Choice(True, f"replayed: Polis's groups are the end of the conversation's history ({size})")


def choose_fresh_load(last_vote: float | None, read_after: dict[str, float], restart_hours: float | None) -> Choice:
    """Whether the math was last computed on a freshly loaded server. last_vote: seconds; read_after: times
    (seconds, by name) the export was taken after; restart_hours: the replay's restart period (None: never)."""
    if last_vote is None or not read_after:
        return Choice(False, "no fresh load: the export carries no date after its last vote")
    name, latest = max(read_after.items(), key=lambda item: item[1])
    gap = (latest - last_vote) / 86400
    if restart_hours is None:
        return Choice(False, "no fresh load: the server never restarts (--restart-hours 0)")
    period = restart_hours * 3600.0
    restart = (last_vote // period + 1) * period  # the replay restarts at multiples of the period
    if restart > latest:
        return Choice(False, f"no fresh load: {name} is {gap:.2f} days after the last vote, before a restart")
    if restart - last_vote > REPOLL_DAYS * 86400:
        return Choice(False, f"no fresh load: the first restart after the last vote is past Polis's "
                             f"{REPOLL_DAYS:.0f}-day re-poll window")
    return Choice(True, f"fresh load: {name} is {gap:.1f} days after the last vote, so a restarted server "
                        "recomputed it")


def export_read_after(directory: Path) -> dict[str, float]:
    """Times (seconds) a Polis API dump was taken after: ``conversation.json`` ``modified`` and
    ``math-pca2.json`` ``lastModTimestamp`` (milliseconds), where present; {} for other sources."""
    from pluralign.aggregate.opinion.matrix import read_json

    out = {}
    for file, key in (("conversation.json", "modified"), ("math-pca2.json", "lastModTimestamp")):
        path = directory / file
        if not directory.is_dir() or not path.is_file():
            continue
        data = read_json(path)
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(value, str) and value.isascii() and value.isdigit():
            value = int(value)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or \
                not 0 <= value < 1e15:
            raise InputError(f"'{key}' must be milliseconds since 1970, got {str(value)[:40]!r}", path=str(path))
        if value > 0:
            out[f"{file} {key}"] = float(value) / 1000.0
    return out


def decide(source: Path, matrix: VoteMatrix, config: ReplayConfig, replay: bool | None = None,
           fresh_load: bool | None = None, forced: bool = False) -> tuple[ReplayConfig | None, list[str]]:
    """The replay to run on ``matrix`` read from ``source`` (None: analyse once) and each decision in words.
    replay / fresh_load: given by the user, else (None) decided from the export; forced: the user fixed k or the
    vote threshold, which only one analysis takes; config: the replay's other settings."""
    if replay is not None:
        method = Choice(replay, "replayed (--replay)" if replay else "analysed once (--no-replay)")
    elif forced:
        method = Choice(False, "analysed once: --groups / --min-votes given")
    else:
        method = choose_replay(matrix, count_updates(matrix, config), config.math,
                               polis_export=source.suffix != ".jsonl")
    if not method.chosen or matrix.log is None or len(matrix.log.times) == 0:
        return None, [method.reason]
    if fresh_load is not None:
        fresh = Choice(fresh_load, "fresh load (--fresh-load)" if fresh_load else "no fresh load (--no-fresh-load)")
    else:
        fresh = choose_fresh_load(float(matrix.log.times.max()), export_read_after(source), config.restart_hours)
    return config.model_copy(update={"fresh_load": fresh.chosen}), [method.reason, fresh.reason]
