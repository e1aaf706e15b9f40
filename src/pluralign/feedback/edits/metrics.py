"""What a session measures: cumulative cost per agent (with intervals) and preference-inference accuracy.

Cumulative cost is PRELUDE's headline (Gao et al. 2024, Sec. 4.2, Table 2: the sum of every round's edit cost,
averaged over 3 seeds). Two 95% intervals: Student's t over seeds (what varies is the document order), and a
bootstrap that resamples rounds within each seed (how much the total depends on which documents came up).

Preference accuracy (the paper's Sec. 4.3 uses a BERTScore judge between inferred and true preferences): here
each inferred description is embedded with MiniLM with every source's true description, and counts as right when
its true description is the most similar. Controls: chance (1 / number of descriptions), the same score with the
sources shuffled across rows (what the scorer gives to an unrelated answer), and the majority control (always
guessing the one description the scorer favours most).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from scipy import stats


def totals(records: list[dict]) -> dict[str, dict[int, int]]:
    """agent -> seed -> cumulative cost."""
    out: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for r in records:
        out[r["agent"]][r["seed"]] += r["cost"]
    return {a: dict(s) for a, s in out.items()}


def curves(records: list[dict]) -> dict[str, np.ndarray]:
    """agent -> mean cumulative cost after each round (averaged over seeds)."""
    per: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for r in sorted(records, key=lambda r: r["round"]):
        per[r["agent"]][r["seed"]].append(r["cost"])
    return {a: np.mean([np.cumsum(c) for c in seeds.values()], axis=0) for a, seeds in per.items()}


def t_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): Student's t interval of the mean; one value gives a zero-width interval."""
    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return mean, mean - half, mean + half


def bootstrap_interval(records: list[dict], agent: str, n: int = 2000, seed: int = 0,
                       level: float = 0.95) -> tuple[float, float]:
    """Interval of the seed-averaged cumulative cost, resampling rounds within each seed."""
    rng = np.random.default_rng(seed)
    by_seed: dict[int, list[int]] = defaultdict(list)
    for r in records:
        if r["agent"] == agent:
            by_seed[r["seed"]].append(r["cost"])
    sims = np.zeros(n)
    for costs in by_seed.values():
        c = np.asarray(costs, dtype=float)
        sims += c[rng.integers(0, len(c), size=(n, len(c)))].sum(axis=1)
    sims /= len(by_seed)
    lo, hi = np.quantile(sims, [(1 - level) / 2, 0.5 + level / 2])
    return float(lo), float(hi)


def cost_table(records: list[dict]) -> list[dict]:
    """One row per agent: mean cumulative cost, t interval over seeds, round-bootstrap interval, per seed."""
    rows = []
    for agent, by_seed in totals(records).items():
        mean, lo, hi = t_interval(list(by_seed.values()))
        blo, bhi = bootstrap_interval(records, agent)
        rounds = sum(1 for r in records if r["agent"] == agent) / len(by_seed)
        accepted = np.mean([r["cost"] == 0 for r in records if r["agent"] == agent])
        rows.append({"agent": agent, "cumulative_cost": mean, "t95": (lo, hi), "bootstrap95": (blo, bhi),
                     "per_seed": by_seed, "rounds": rounds, "zero_cost_share": float(accepted)})
    return sorted(rows, key=lambda r: r["cumulative_cost"])


def preference_accuracy(inferred: list[str], truth: list[str], descriptions: list[str], embed,
                        permutations: int = 200, seed: int = 0) -> dict:
    """Accuracy of inferred descriptions against the true ones among ``descriptions``, with controls.

    ``embed``: texts -> unit vectors (MiniLM). Returns accuracy with a bootstrap 95% interval, chance, the
    shuffled-sources control, the majority control, and the mean similarity to the true vs the other
    descriptions.
    """
    if not inferred:
        return {"n": 0}
    descriptions = sorted(set(descriptions))
    index = {d: i for i, d in enumerate(descriptions)}
    sims = embed(list(inferred)) @ embed(descriptions).T  # (n, d)
    true = np.array([index[t] for t in truth])
    guess = sims.argmax(axis=1)
    right = guess == true
    rng = np.random.default_rng(seed)
    boots = right[rng.integers(0, len(right), size=(2000, len(right)))].mean(axis=1)
    shuffled = np.mean([(guess == rng.permutation(true)).mean() for _ in range(permutations)])
    favoured = np.bincount(guess, minlength=len(descriptions)).argmax()
    others = (sims.sum(axis=1) - sims[np.arange(len(true)), true]) / max(len(descriptions) - 1, 1)
    return {"n": int(len(right)), "accuracy": float(right.mean()),
            "accuracy95": tuple(float(q) for q in np.quantile(boots, [0.025, 0.975])),
            "chance": 1 / len(descriptions), "shuffled_control": float(shuffled),
            "majority_control": float((true == favoured).mean()),
            "similarity_true": float(sims[np.arange(len(true)), true].mean()),
            "similarity_other": float(others.mean())}


def paired_difference(records: list[dict], a: str, b: str, n: int = 2000, seed: int = 0,
                      level: float = 0.95) -> tuple[float, float, float]:
    """Cumulative cost of ``a`` minus ``b`` (seed-averaged), with a bootstrap interval that resamples the same
    rounds for both (every agent sees the same document in a seed's round, so the pairing removes the
    documents' share of the variance)."""
    cost = {(r["agent"], r["seed"], r["round"]): r["cost"] for r in records}
    seeds = sorted({r["seed"] for r in records if r["agent"] == a})
    rng = np.random.default_rng(seed)
    total, sims = 0.0, np.zeros(n)
    for s in seeds:
        rounds = sorted(r for (agent, sd, r) in cost if agent == a and sd == s and (b, s, r) in cost)
        d = np.array([cost[(a, s, r)] - cost[(b, s, r)] for r in rounds], dtype=float)
        total += d.sum()
        sims += d[rng.integers(0, len(d), size=(n, len(d)))].sum(axis=1)
    lo, hi = np.quantile(sims / len(seeds), [(1 - level) / 2, 0.5 + level / 2])
    return total / len(seeds), float(lo), float(hi)
