"""Opinion analysis speed and agreement with Polis, against red-dwarf 0.4 (the anchor), in one process.

For each real conversation in ../shared/data/polis/: wall time of the full analysis (PCA, clustering,
repness, consensus; input already in memory for both), best of --repeats, as a ratio red-dwarf / ours; and each
one's adjusted Rand index against Polis's own ``group-id``. Then a synthetic sparse matrix (default 100k
participants x 2k statements, 5% density = 10M votes): wall time and peak memory of the analysis.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_opinion.py
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import time
import tracemalloc
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from pluralign.aggregate.opinion import analyze, build, read_polis_export, read_polis_groups  # noqa: E402
from pluralign.aggregate.opinion.replay import ReplayConfig, math_version_of_export  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "polis"
CONVERSATIONS = ["london.youth.policing", "scoop-hivemind.ubi", "vtaiwan.uberx"]
# Demographic questions, which Polis keeps out of its math as meta statements; its CSV export does not mark them.
# Both implementations get them as moderated out.
META = {"london.youth.policing": list(range(0, 15)), "scoop-hivemind.ubi": list(range(32, 43))}


def best_time(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def reddwarf_votes(folder: Path) -> tuple[list[dict], list[int]]:
    """Latest vote per (participant, statement), as red-dwarf's run_pipeline expects, and moderated-out ids."""
    latest = {}
    with open(folder / "votes.csv", encoding="utf-8") as fh:
        for row in sorted(csv.DictReader(fh), key=lambda r: int(r["timestamp"])):
            latest[(row["voter-id"], row["comment-id"])] = row
    votes = [{"participant_id": int(r["voter-id"]), "statement_id": int(r["comment-id"]), "vote": int(r["vote"]),
              "modified": int(r["timestamp"])} for r in latest.values()]
    with open(folder / "comments.csv", encoding="utf-8") as fh:
        mod_out = [int(r["comment-id"]) for r in csv.DictReader(fh) if r["moderated"] == "-1"]
    return votes, mod_out


def ari(polis: dict[str, int], labels: dict[str, int]) -> float:
    common = [p for p in polis if p in labels]
    return adjusted_rand_score([polis[p] for p in common], [labels[p] for p in common])


def real_conversations(repeats: int, replay_all: bool) -> None:
    from reddwarf.implementations.polis import run_pipeline

    print(f"{'conversation':24} {'shape':>11} {'ours s':>8} {'red-dwarf s':>11} {'ratio':>6} "
          f"{'ARI ours':>9} {'ARI red-dwarf':>13} {'k ours/rd/polis':>15} {'math':>7} {'replay s':>8} "
          f"{'ARI replay':>10}")
    for name in CONVERSATIONS:
        folder = DATA / name
        meta = META.get(name, [])
        matrix, polis = read_polis_export(folder, meta=meta), read_polis_groups(folder)
        votes, mod_out = reddwarf_votes(folder)
        mod_out = sorted(set(mod_out) | set(meta))
        ours_s, result = best_time(lambda: analyze(matrix), repeats)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rd_s, rd = best_time(lambda: run_pipeline(votes=votes, mod_out_statement_ids=mod_out, random_state=0),
                                 repeats)
        ours = {matrix.participants[i]: int(g) for i, g in enumerate(result.groups) if g >= 0}
        df = rd.participants_df
        theirs = {str(p): int(g) for p, g in zip(df.index, df["cluster_id"]) if df.loc[p, "to_cluster"]}
        shape = f"{matrix.shape[0]}x{matrix.shape[1]}"
        k = f"{result.n_groups}/{len(set(theirs.values()))}/{len(set(polis.values()))}"
        # The export's groups come from the Polis math of its time, told apart by whom it clustered; replaying
        # the vote log is how a live server reached them (slow on big conversations: on request for those).
        math = math_version_of_export(matrix, polis)
        replayed = "-", "-"
        if math == "2017" or replay_all or matrix.codes.nnz < 5000:
            replay_s, replay_result = best_time(lambda: analyze(matrix, replay=ReplayConfig(math=math)), 1)
            groups = {matrix.participants[i]: int(g) for i, g in enumerate(replay_result.groups) if g >= 0}
            replayed = f"{replay_s:.1f}", f"{ari(polis, groups):.3f}"
        print(f"{name:24} {shape:>11} {ours_s:8.3f} {rd_s:11.3f} {rd_s / ours_s:6.1f} "
              f"{ari(polis, ours):9.3f} {ari(polis, theirs):13.3f} {k:>15} {math:>7} {replayed[0]:>8} "
              f"{replayed[1]:>10}")


def known_answers() -> None:
    """Both Polis known-answer conversations, from their votes alone: analysed once, and replayed."""
    import json

    from pluralign.aggregate.opinion import read_polis_api

    print(f"{'known answer':32} {'mode':>8} {'s':>6} {'ARI':>6} {'in-conv equal':>13} {'k ours/polis':>12} "
          f"{'max |gac diff|':>14}")
    for folder in sorted((DATA / "polismath-known-answers").iterdir()):
        math = json.loads((folder / "math-pca2.json").read_text())
        base = dict(zip(math["base-clusters"]["id"], math["base-clusters"]["members"]))
        truth = {str(p): g["id"] for g in math["group-clusters"] for b in g["members"] for p in base[b]}
        matrix = read_polis_api(folder)
        # Both dumps' conversations were modified days after their last vote: the math ran on a fresh load.
        for mode, config in (("once", None), ("replay", ReplayConfig()), ("fresh", ReplayConfig(fresh_load=True))):
            seconds, result = best_time(lambda: analyze(matrix, replay=config), 1)
            groups = {matrix.participants[i]: int(g) for i, g in enumerate(result.groups) if g >= 0}
            gac = result.to_dict()["group_aware_consensus"]
            diff = max(abs(gac[t] - v) for t, v in math["group-aware-consensus"].items())
            same = set(groups) == set(map(str, math["in-conv"]))
            k = f"{result.n_groups}/{len(math['group-clusters'])}"
            print(f"{folder.name:32} {mode:>8} {seconds:6.2f} {ari(truth, groups):6.3f} {str(same):>13} "
                  f"{k:>12} {diff:14.2e}")


def synthetic(n: int, m: int, density: float, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    nnz = int(n * m * density)
    # Two latent camps so the groups mean something; each vote agrees with the camp's side 70% of the time.
    camp = rng.integers(0, 2, n)
    side = rng.choice([-1, 1], size=(2, m))
    rows, cols = rng.integers(0, n, nnz), rng.integers(0, m, nnz)
    values = np.where(rng.random(nnz) < 0.7, side[camp[rows], cols], rng.integers(-1, 2, nnz))
    matrix = build(rows, cols, values)
    del rows, cols, values
    tracemalloc.start()
    start = time.perf_counter()
    result = analyze(matrix)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    agree = adjusted_rand_score(camp[[int(p) for p in np.array(matrix.participants)[result.clustering.in_conv]]],
                                result.groups[result.clustering.in_conv])
    print(f"synthetic {n}x{m} at {density:.0%} ({matrix.codes.nnz:,} votes): {seconds:.2f} s, "
          f"peak traced memory {peak / 2**20:.0f} MiB, process max RSS {rss:.0f} MiB, "
          f"{result.n_groups} groups, ARI vs planted camps {agree:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--statements", type=int, default=2_000)
    parser.add_argument("--density", type=float, default=0.05)
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--replay-all", action="store_true",
                        help="also replay large conversations whose export uses the current math (slow)")
    args = parser.parse_args()
    if DATA.is_dir():
        real_conversations(args.repeats, args.replay_all)
        known_answers()
    else:
        print(f"skipping real conversations: {DATA} not found")
    if not args.skip_synthetic:
        synthetic(args.participants, args.statements, args.density)


if __name__ == "__main__":
    main()
