"""Which comparisons DITTO trains on at each step (Shaikh et al., ICLR 2025, Algorithm 1 and Section 3.2).

With samples kept by the step that drew them (``samples[step][demo_id] = [M completions]``) and ``t`` the most
recent sampling step at or before the current one, three pools of comparisons exist for each demonstration:

* **expert**: demonstration > each sample of step ``t`` (the current policy);
* **replay**: demonstration > each sample of every earlier step ``s < t``;
* **intermodel**: each sample of step ``a`` > each sample of step ``b``, for every ``b < a <= t`` (a later policy is
  closer to the expert than an earlier one).

A batch of ``batch_size`` comparisons draws ``round(share x batch_size)`` from each pool (largest remainders, so
the counts add up) without replacement; a pool with fewer pairs gives all it has and the batch is smaller, as in
the reference implementation (``scripts/dataset_utils.py`` lines 354-416 of SALT-NLP/demonstrated-feedback, where
expert/replay/noisy are sampled 0.7/0.2/0.1 of the batch). At the first sampling step only the expert pool exists.
The draw is seeded by (seed, step), so a resumed run draws the same pairs.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

PairKind = Literal["expert", "replay", "intermodel"]
KINDS: tuple[PairKind, ...] = ("expert", "replay", "intermodel")

Samples = Mapping[int, Mapping[str, Sequence[str]]]
"""step -> demo id -> the completions sampled at that step."""


@dataclass(frozen=True)
class DittoPair:
    """One comparison: ``chosen`` > ``rejected`` for the prompt of ``demo_id``.

    chosen_step: the sampling step of ``chosen`` (None: the demonstration); rejected_step: that of ``rejected``;
    chosen_index / rejected_index: which of that step's M samples.
    """

    demo_id: str
    kind: PairKind
    chosen: str
    rejected: str
    chosen_step: int | None
    rejected_step: int
    chosen_index: int | None
    rejected_index: int


def sampling_steps(steps: int, every: int) -> list[int]:
    """The DPO steps at which the policy is sampled: 0, K, 2K, ... below ``steps``."""
    return list(range(0, steps, every))


def pools(demos: Mapping[str, str], samples: Samples, step: int) -> dict[PairKind, list[DittoPair]]:
    """Every comparison available at ``step``, by kind (see the module docstring)."""
    drawn = sorted(s for s in samples if s <= step)
    out: dict[PairKind, list[DittoPair]] = {kind: [] for kind in KINDS}
    if not drawn:
        return out
    current = drawn[-1]
    for demo_id, expert in demos.items():
        for s in drawn:
            kind: PairKind = "expert" if s == current else "replay"
            for j, sample in enumerate(samples[s].get(demo_id, ())):
                out[kind].append(DittoPair(demo_id, kind, expert, sample, None, s, None, j))
        for ia, a in enumerate(drawn):
            for b in drawn[:ia]:
                for i, later in enumerate(samples[a].get(demo_id, ())):
                    for j, earlier in enumerate(samples[b].get(demo_id, ())):
                        out["intermodel"].append(DittoPair(demo_id, "intermodel", later, earlier, a, b, i, j))
    return out


def batch_counts(shares: Mapping[str, float], batch_size: int) -> dict[PairKind, int]:
    """Pairs of each kind in a full batch: shares x batch_size rounded by largest remainder (sums to batch_size)."""
    exact = {kind: shares.get(kind, 0.0) * batch_size for kind in KINDS}
    counts = {kind: math.floor(v) for kind, v in exact.items()}
    # ties (up to float noise) go to the earlier kind: expert, then replay, then intermodel
    by_remainder = sorted(KINDS, key=lambda k: (-round(exact[k] - counts[k], 9), KINDS.index(k)))
    for kind in by_remainder[: batch_size - sum(counts.values())]:
        counts[kind] += 1
    return counts


def draw_batch(demos: Mapping[str, str], samples: Samples, step: int, shares: Mapping[str, float],
               batch_size: int, seed: int) -> list[DittoPair]:
    """The comparisons of one DPO step: expert, then replay, then intermodel pairs."""
    rng = random.Random(f"ditto:{seed}:{step}")
    available = pools(demos, samples, step)
    batch: list[DittoPair] = []
    for kind, count in batch_counts(shares, batch_size).items():
        pool = available[kind]
        batch += rng.sample(pool, min(count, len(pool)))
    return batch
