"""Vectorised social choice vs pref_voting looping over profiles, at feedback-data scale.

Anchor: pref_voting (the reference Python library) run profile by profile, as a user would: build a
``Profile`` per prompt (its construction is counted) and call the rule. Default size: 10,000 prompts x 7
candidates x 50 annotators, impartial-culture ballots. Targets: >= 50x for Borda, Copeland, Schulze, minimax;
>= 1000x for Kemeny–Young; exact ranked-pairs winners for every prompt (checked against pref_voting's
``from_stacks`` on a sample; its default algorithm does not finish on most such profiles).

Times are CPU seconds of this process (``time.process_time``, best of ``--repeat`` for ours), so that other
work on a shared machine does not count; numpy runs single-threaded. pref_voting on slow rules runs on a
sample and is extrapolated to all prompts (marked "~").

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_socialchoice.py
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
from importlib.metadata import version  # noqa: E402

import numpy as np  # noqa: E402
from pref_voting.c1_methods import copeland  # noqa: E402
from pref_voting.iterative_methods import instant_runoff  # noqa: E402
from pref_voting.margin_based_methods import beat_path, minimax, ranked_pairs  # noqa: E402
from pref_voting.other_methods import bradley_terry, bucklin, kemeny_young  # noqa: E402
from pref_voting.probabilistic_methods import maximal_lottery  # noqa: E402
from pref_voting.profiles import Profile  # noqa: E402
from pref_voting.scoring_methods import borda, plurality  # noqa: E402

from pluralign.aggregate.socialchoice import apply_rule  # noqa: E402
from pluralign.aggregate.voting.pairwise import support  # noqa: E402
from pluralign.aggregate.voting.profiles import from_arrays  # noqa: E402

# rule: (pref_voting function, default sample size (0 = every prompt), target ratio)
ANCHORS = {
    "plurality": (plurality, 0, None),
    "borda": (borda, 0, 50),
    "copeland": (copeland, 0, 50),
    "minimax": (minimax, 0, 50),
    "schulze": (beat_path, 0, 50),
    "instant_runoff": (instant_runoff, 0, None),
    "bucklin": (bucklin, 0, None),
    "kemeny_young": (kemeny_young, 300, 1000),
    "ranked_pairs": (lambda prof: ranked_pairs(prof, algorithm="from_stacks"), 20, None),
    "maximal_lotteries": (maximal_lottery, 1000, None),
    "bradley_terry": (bradley_terry, 1000, None),
}


def cpu_seconds(fn, repeat: int = 1):
    """(best CPU seconds over ``repeat`` runs, last result)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.process_time()
        out = fn()
        best = min(best, time.process_time() - start)
    return best, out


def their_winners(rule: str, result) -> list[int]:
    if rule == "maximal_lotteries":  # a distribution: compare it, not a winner set
        return result
    return list(result)


def agree(rule: str, ours, theirs: list, idx: np.ndarray, support: np.ndarray) -> str:
    if rule == "maximal_lotteries":  # with an even electorate margins tie and the maximal lottery may not be unique
        same = sum(np.abs(ours.lottery[p, : len(t)] - [t[c] for c in range(len(t))]).max() < 1e-6
                   for p, t in zip(idx, theirs))
        margin = support - np.swapaxes(support, 1, 2)
        maximal = (np.einsum("pi,pij->pj", ours.lottery, margin) >= -1e-6 * np.abs(margin).max()).all(axis=1)
        return f"{same}/{len(idx)} same lottery; ours maximal (no candidate beats it) on {maximal.sum()}/{len(maximal)}"
    sets = ours.winner_sets()
    same = sum(list(sets[p]) == t for p, t in zip(idx, theirs))
    return f"{same}/{len(idx)}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=10_000)
    ap.add_argument("--candidates", type=int, default=7)
    ap.add_argument("--annotators", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3, help="best of N for our timings")
    ap.add_argument("--scale-samples", type=float, default=1.0, help="multiply pref_voting sample sizes")
    ap.add_argument("--rules", default=",".join(ANCHORS))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    P, C, A = args.prompts, args.candidates, args.annotators
    rng = np.random.default_rng(args.seed)
    orders = np.argsort(rng.random((P, A, C)), axis=2)  # orders[p, a] = candidates best first
    ranks = np.argsort(orders, axis=2)

    print(f"{P} prompts x {C} candidates x {A} annotators; pref_voting {version('pref_voting')}, numpy "
          f"{np.__version__}, OMP/OPENBLAS threads {os.environ['OMP_NUM_THREADS']}/"
          f"{os.environ['OPENBLAS_NUM_THREADS']}, load average {os.getloadavg()[0]:.1f}")
    build_ours, profiles = cpu_seconds(lambda: from_arrays(ranks), args.repeat)
    margins_from = support(profiles)
    for rule in ANCHORS:  # warm caches: permutation tables; pref_voting's numba functions
        apply_rule(rule, from_arrays(ranks[:20]))
    [borda(Profile(o.tolist())) for o in orders[:5]]
    build_theirs, theirs = cpu_seconds(lambda: [Profile(o.tolist()) for o in orders])
    print(f"build: ours {build_ours:.3f} s (tensors); pref_voting Profile construction "
          f"{build_theirs / P * 1e3:.3f} ms/profile, counted in every rule below\n")

    head = f"{'rule':<18}{'ours s':>9}{'pref_voting s':>16}{'ms/profile':>12}{'ratio':>10}{'target':>13}  winners agree"
    print(head + "\n" + "-" * len(head))
    for rule in args.rules.split(","):
        fn, sample, target = ANCHORS[rule]
        ours_s, ours = cpu_seconds(lambda: apply_rule(rule, profiles), args.repeat)
        n = P if sample == 0 else min(P, max(1, int(sample * args.scale_samples)))
        idx = np.arange(P) if n == P else rng.choice(P, n, replace=False)
        loop_s, results = cpu_seconds(lambda: [fn(theirs[p]) for p in idx])
        per_profile = loop_s / n + build_theirs / P
        total = per_profile * P
        mark = "" if n == P else "~"
        verdict = "" if target is None else f">={target}x " + ("ok" if total / ours_s >= target else "MISSED")
        print(f"{rule:<18}{ours_s:>9.3f}{mark + f'{total:.1f}':>16}{per_profile * 1e3:>12.3f}"
              f"{total / ours_s:>9.0f}x{verdict:>13}  "
              f"{agree(rule, ours, [their_winners(rule, r) for r in results], idx, margins_from)}"
              + ("" if n == P else f"  (pref_voting on {n} sampled prompts, extrapolated)"))


if __name__ == "__main__":
    main()
