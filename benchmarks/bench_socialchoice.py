"""Social choice at feedback-data scale: what a user of ``pluralign aggregate`` waits for, against pref_voting.

Anchor: pref_voting (the reference Python library) driven as a user would from the same JSONL file of Ranking
records: ``json.loads`` each line, group ballots by prompt, build a ``Profile`` per prompt, run the rule, take
the (chosen, rejected) pairs of its social ranking with their margins from ``Profile.support``, and write the
same preference records (same fields and provenance) with ``json.dumps``. Ours: ``read_profiles`` (file ->
tensors) + ``apply_rule`` + ``write_preferences``, i.e. the body of ``pluralign aggregate``.

Default size: 10,000 prompts x 7 candidates x 50 annotators (500,000 ballots), impartial-culture orders.
Target: end to end >= 20x for Schulze and Borda. Before a ratio is printed, both sides must give the same
winners on every prompt and the same set of (prompt, chosen, rejected) pairs.

Section 2 times the rules alone on structures already built (ours: tensors; theirs: ``Profile`` objects), and
the build alone (ours: from Ranking records in memory; theirs: the ``Profile`` constructor); those rows exclude
reading and writing, which section 1 includes.

Times are CPU seconds of this process (``time.process_time``), so other work on a shared machine counts less;
both sides run in the same process, alternating, ``--repeat`` times; the table gives the median and the range.

    .venv/bin/python benchmarks/bench_socialchoice.py [--prompts 10000] [--repeat 3]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from importlib.metadata import version  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from pref_voting.c1_methods import copeland  # noqa: E402
from pref_voting.margin_based_methods import beat_path, beat_path_defeat, minimax, ranked_pairs  # noqa: E402
from pref_voting.other_methods import kemeny_young  # noqa: E402
from pref_voting.profiles import Profile  # noqa: E402
from pref_voting.scoring_methods import borda, plurality  # noqa: E402
from pref_voting.social_welfare_functions import borda_ranking  # noqa: E402

from pluralign.aggregate.socialchoice import apply_rule, write_preferences  # noqa: E402
from pluralign.aggregate.voting.profiles import from_rankings  # noqa: E402
from pluralign.aggregate.voting.read import read_profiles  # noqa: E402
from pluralign.io import read_records  # noqa: E402
from pluralign.records import Ranking  # noqa: E402


def write_rankings(path: Path, P: int, C: int, A: int, seed: int) -> np.ndarray:
    """The input file; returns orders (P, A, C), best first."""
    orders = np.argsort(np.random.default_rng(seed).random((P, A, C)), axis=2)
    with open(path, "w") as fh:
        for p in range(P):
            prompt = f"Prompt {p}: how should the assistant answer this question?"
            for a in range(A):
                fh.write(json.dumps({"id": f"r{p}-{a}", "prompt": prompt,
                                     "candidates": [f"response {c}" for c in range(C)],
                                     "order": [[f"response {c}"] for c in orders[p, a]],
                                     "annotator": f"annotator-{a}"}) + "\n")
    return orders


# ---- the anchor: pref_voting from the file --------------------------------------------------------------

def schulze_tiers(prof: Profile) -> dict[int, int]:
    """Schulze's order as pref_voting gives it: score = -(number of candidates that defeat c)."""
    defeats = beat_path_defeat(prof)
    return {c: -defeats.in_degree(c) for c in prof.candidates}


def borda_tiers(prof: Profile) -> dict[int, int]:
    rmap = borda_ranking(prof).rmap
    return {c: -rmap[c] for c in prof.candidates}


ANCHOR_ORDER = {"schulze": schulze_tiers, "borda": borda_tiers}


def theirs_end_to_end(path: Path, rule: str, out: Path) -> tuple[list, set]:
    """(winners per prompt, set of (prompt, chosen, rejected)) after writing the records."""
    groups: dict[str, list[dict]] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            groups.setdefault(row["prompt"], []).append(row)
    winners, pairs = [], set()
    with open(out, "w", encoding="utf-8") as fh:
        for prompt, ballots in groups.items():
            names = list(dict.fromkeys(c for b in ballots for c in b["candidates"]))
            index = {c: i for i, c in enumerate(names)}
            prof = Profile([[index[t[0]] for t in b["order"]] for b in ballots])
            score = ANCHOR_ORDER[rule](prof)
            best = max(score.values())
            winners.append(sorted(c for c in score if score[c] == best))
            weights = {b["annotator"]: 1.0 for b in ballots}
            for i in prof.candidates:
                for j in prof.candidates:
                    if score[i] > score[j]:
                        s_ij, s_ji = prof.support(i, j), prof.support(j, i)
                        fh.write(json.dumps({
                            "id": uuid.uuid4().hex[:12], "prompt": prompt, "chosen": names[i], "rejected": names[j],
                            "weight": 1.0, "margin": (s_ij - s_ji) / (s_ij + s_ji) if s_ij + s_ji else 0.0,
                            "provenance": {"participants": sorted(weights), "principles": [], "rule": rule,
                                           "model": None, "run": None, "source": str(path),
                                           "details": {"weights": weights, "tie_breaking": "none",
                                                       "tiers": [-score[i], -score[j]],
                                                       "scores": [score[i], score[j]]}}},
                            ensure_ascii=False) + "\n")
                        pairs.add((prompt, names[i], names[j]))
    return winners, pairs


def ours_end_to_end(path: Path, rule: str, out: Path):
    profiles = read_profiles(path)
    outcome = apply_rule(rule, profiles)
    write_preferences(out, outcome, profiles, "all", str(path))
    return profiles, outcome


def our_pairs(out: Path) -> set:
    pairs = set()
    with open(out, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            pairs.add((row["prompt"], row["chosen"], row["rejected"]))
    return pairs


# ---- helpers ----------------------------------------------------------------------------------------------

def timed(fn):
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} [{min(values):.3f}, {max(values):.3f}]"


def ratio_text(theirs: list[float], ours: list[float]) -> str:
    ratios = [t / o for t, o in zip(theirs, ours)]
    return f"{statistics.median(ratios):.1f}x [{min(ratios):.1f}, {max(ratios):.1f}]"


def end_to_end(path: Path, tmp: Path, rules: list[str], repeat: int, target: float) -> None:
    head = f"{'rule (read + build + rule + write)':<36}{'ours s':>24}{'pref_voting s':>26}{'ratio':>22}  target"
    print(head + "\n" + "-" * len(head))
    for rule in rules:
        ours_s, theirs_s = [], []
        for _ in range(repeat):  # alternate, so that load on the machine falls on both sides alike
            t, (profiles, outcome) = timed(lambda: ours_end_to_end(path, rule, tmp / "ours.jsonl"))
            ours_s.append(t)
            t, (winners, pairs) = timed(lambda: theirs_end_to_end(path, rule, tmp / "theirs.jsonl"))
            theirs_s.append(t)
        sets = outcome.winner_sets()
        same = sum(list(sets[p]) == w for p, w in enumerate(winners))
        if same != len(winners) or our_pairs(tmp / "ours.jsonl") != pairs:
            print(f"{rule:<36} DISAGREE: winners same on {same}/{len(winners)} prompts; pairs equal: "
                  f"{our_pairs(tmp / 'ours.jsonl') == pairs}")
            continue
        median = statistics.median(t / o for t, o in zip(theirs_s, ours_s))
        print(f"{rule:<36}{spread(ours_s):>24}{spread(theirs_s):>26}{ratio_text(theirs_s, ours_s):>22}  "
              f">={target:g}x {'ok' if median >= target else 'MISSED'}  (winners {same}/{len(winners)}, "
              f"{len(pairs)} pairs equal)")
        parse_s = [timed(lambda: parse_only(path))[0] for _ in range(repeat)]
        print(f"{'  ceiling: JSON parse of the input':<36}{spread(parse_s):>24}{spread(theirs_s):>26}"
              f"{ratio_text(theirs_s, parse_s):>22}  (Arrow's JSON reader alone, 1 thread: no command that reads "
              "this file can beat this ratio)")


def parse_only(path: Path):
    """The first step of ``read_profiles``: the file into Arrow columns, nothing checked or built."""
    import pyarrow as pa
    import pyarrow.json as pj

    text = pa.string()
    known = pa.schema([("prompt", text), ("candidates", pa.list_(text)), ("order", pa.list_(pa.list_(text))),
                       ("annotator", text)])
    return pj.read_json(path, read_options=pj.ReadOptions(use_threads=False),
                        parse_options=pj.ParseOptions(explicit_schema=known, unexpected_field_behavior="infer"))


RULE_ONLY = {"borda": (borda, None), "schulze": (beat_path, None), "copeland": (copeland, None),
             "minimax": (minimax, None), "plurality": (plurality, None), "kemeny_young": (kemeny_young, 300),
             "ranked_pairs": (lambda prof: ranked_pairs(prof, algorithm="from_stacks"), 20)}
"""rule: (pref_voting function, prompts it runs on if fewer than --part-sample: the exact rules are slow)."""


def parts(path: Path, orders: np.ndarray, rules: list[str], repeat: int, sample: int) -> None:
    """Rules alone on built structures, and the builds alone (both exclude reading and writing)."""
    P = orders.shape[0]
    rankings = read_records(path, Ranking)
    profiles = from_rankings(rankings)
    idx = np.arange(min(P, sample))
    build_o, build_t = [], []
    for _ in range(repeat):
        build_o.append(timed(lambda: from_rankings(rankings))[0])
        t, all_profs = timed(lambda: [Profile(o.tolist()) for o in orders[idx]])
        build_t.append(t * P / len(idx))
    for fn, _ in RULE_ONLY.values():  # numba-compiled functions compile on their first call
        fn(all_profs[0])
    print(f"\n{'part (excludes read and write)':<36}{'ours s':>24}{'pref_voting s':>26}{'ratio':>22}")
    print(f"{'build: records -> structures':<36}{spread(build_o):>24}{spread(build_t):>26}"
          f"{ratio_text(build_t, build_o):>22}  (ours from Ranking objects; theirs Profile())")
    for rule in rules:
        fn, cap = RULE_ONLY[rule]
        idx = np.arange(min(len(all_profs), cap or len(all_profs)))
        profs = all_profs[: len(idx)]
        ours_s, theirs_s = [], []
        for _ in range(repeat):
            t, outcome = timed(lambda: apply_rule(rule, profiles))
            ours_s.append(t)
            t, results = timed(lambda: [fn(prof) for prof in profs])
            theirs_s.append(t * P / len(idx))
        sets = outcome.winner_sets()
        same = sum(list(sets[p]) == list(r) for p, r in zip(idx, results))
        mark = "" if len(idx) == P else f" (pref_voting on {len(idx)} prompts, scaled to {P})"
        if same != len(idx):
            print(f"rule only: {rule:<25} DISAGREE on {len(idx) - same}/{len(idx)} prompts")
            continue
        print(f"{'rule only: ' + rule:<36}{spread(ours_s):>24}{spread(theirs_s):>26}"
              f"{ratio_text(theirs_s, ours_s):>22}  winners {same}/{len(idx)}{mark}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=10_000)
    ap.add_argument("--candidates", type=int, default=7)
    ap.add_argument("--annotators", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rules", default="schulze,borda", help="end-to-end rules (schulze, borda)")
    ap.add_argument("--part-rules", default="borda,copeland,minimax,schulze,plurality,kemeny_young,ranked_pairs")
    ap.add_argument("--part-sample", type=int, default=2000, help="pref_voting prompts in section 2 (scaled)")
    ap.add_argument("--target", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    P, C, A = args.prompts, args.candidates, args.annotators
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        path = tmp / "rankings.jsonl"
        orders = write_rankings(path, P, C, A, args.seed)
        print(f"{P} prompts x {C} candidates x {A} annotators ({P * A} ballots, {path.stat().st_size / 1e6:.0f} MB); "
              f"pref_voting {version('pref_voting')}, numpy {np.__version__}, pyarrow {version('pyarrow')}; "
              f"CPU seconds, median [range] of {args.repeat}; load average {os.getloadavg()[0]:.1f}")
        ours_end_to_end(path, "borda", tmp / "warm.jsonl")  # imports and first-call caches, both sides
        [beat_path_defeat(Profile(o.tolist())) for o in orders[:5]]
        [borda_ranking(Profile(o.tolist())) for o in orders[:5]]
        end_to_end(path, tmp, args.rules.split(","), args.repeat, args.target)
        parts(path, orders, args.part_rules.split(","), args.repeat, args.part_sample)


if __name__ == "__main__":
    main()
