"""GPO on held-out groups against every baseline, with bootstrap 95% intervals (docs/gpo.md).

    python benchmarks/bench_gpo.py --data opinionqa          # 1 − Wasserstein/(N−1) over ordinal options
    python benchmarks/bench_gpo.py --data globalopinionqa    # 1 − Jensen–Shannon distance (base 2)
    python benchmarks/bench_gpo.py --data polis              # unseen participants' votes (accuracy)

Survey data: meta-train on 40% of the groups (the reference's split), then for each held-out group draw a
seeded order of its answered questions: the first 20 are the context pool (m = 5, 10, 20 take its first m),
the rest are targets, the same targets for every m and every method. Methods: GPO (``--set prior=...`` and any
other GpoConfig field); uniform; the population's distribution; the nearest training groups (their answers
weighted by agreement on the m context answers); a per-group logistic regression on the same MiniLM
embeddings and the same m answers; and
SmolLM2-135M-Instruct zero-shot, steered by the group's name, and with the m answers in context (option
letters' probabilities through ``option_logprobs``). The LM rows run on a subsample (``--lm-groups`` held-out
groups x ``--lm-questions`` targets); every method is also scored on that subsample, so the comparison there
is on identical items. Intervals: two-level bootstrap (groups, then their questions); "GPO − best" is the
paired difference against the best baseline (highest mean) on the same items.

The anchor for the ratio is the best baseline; both sides are scored on the same items (checked before printing).

Polis: for each conversation, GPO is meta-trained on the participants of the *other* conversations, then
predicts held-out participants' held-out votes from m of their votes; baselines: the statement's majority
among the other participants and the majority of the participant's Polis opinion group (the participant's own
vote left out of both). ``--polis-within`` instead meta-trains on 40% of the conversation's own participants
and scores the others: the Polis user's question, what would those who did not vote on a statement have said.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from pluralign.train.gpo import baselines as bl
from pluralign.train.gpo.data import read_survey
from pluralign.train.gpo.embeddings import cache_for, embed_survey
from pluralign.train.gpo.meta import GpoConfig, meta_train
from pluralign.train.gpo.metrics import alignment, cluster_bootstrap
from pluralign.train.gpo.predict import GpoPredictor
from pluralign.train.gpo.prior import PopulationPrior, prior_for, prior_pool
from pluralign.train.cli import parse_sets

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
PATHS = {"opinionqa": SHARED / "opinionqa", "globalopinionqa": SHARED / "pluralism" /
         "distributional_globalopinionqa.jsonl", "polis": SHARED / "polis"}
MS = (5, 10, 20)
POOL = max(MS)


def train(args, data: str, survey, emb, **extra) -> tuple[GpoPredictor, dict, list[str], list[str]]:
    cfg = GpoConfig(data=data, data_path=str(PATHS[data]), output_dir=str(Path(args.out_dir) / extra.pop("run", data)),
                    steps=args.steps, layers=args.layers, d_model=args.d_model, dim_feedforward=args.d_model,
                    batch_groups=args.batch_groups, seed=args.seed,
                    min_questions=extra.pop("min_questions", POOL + 10), **{**parse_sets(args.set), **extra})
    start = time.perf_counter()
    result = meta_train(cfg, survey, emb, embedder_id="minilm", progress=not args.quiet)
    result["wall_s"] = round(time.perf_counter() - start, 1)
    print(f"meta-training {data}: {result['steps']} steps, {result['wall_s']} s wall on this CPU, "
          f"{result['cpu_seconds']} s of CPU time (1 thread; the wall time on an idle core) "
          f"({result['train_groups']} training / {result['heldout_groups']} held-out groups)", flush=True)
    import torch

    state = torch.load(Path(cfg.output_dir) / "gpo.pt", weights_only=False)
    result["config"] = state["config"]
    return GpoPredictor.load(cfg.output_dir), result, state["train_groups"], state["heldout_groups"]


def gpo_predict(predictor, prior, survey, emb, group, context, targets):
    """GPO's distributions on ``targets`` from the group's answers to ``context`` (question ids)."""
    ctx = [(emb[q], survey.answers[group][q]) for q in context]
    if not predictor.needs_prior:
        return predictor.predict(ctx, [emb[q] for q in targets])
    priors = prior.episode(group, list(context), list(targets))
    return predictor.predict(ctx, [emb[q] for q in targets], priors[:len(context)], priors[len(context):])


def survey_benchmark(args, data: str) -> dict:
    survey = read_survey(data, PATHS[data])
    emb = embed_survey(survey, cache_for("minilm", args.cache_dir))
    predictor, result, train_groups, held = train(args, data, survey, emb)
    prior = prior_for(predictor.config, survey, train_groups)
    rng = np.random.default_rng(args.seed)
    lm_groups = set(rng.choice(held, size=min(args.lm_groups, len(held)), replace=False).tolist())
    # scores[m][method][group] = list of per-target scores; "sub" holds the LM subsample's.
    scores = {m: {"full": {}, "sub": {}} for m in MS}
    lm = None if args.skip_lm else __import__("pluralign.lm", fromlist=["load_model"]).load_model()
    zero_shot: dict[str, np.ndarray] = {}
    lm_seconds = 0.0
    for g in held:
        answered = sorted(survey.answers[g])
        order = [answered[i] for i in np.random.default_rng([args.seed, len(g), sum(map(ord, g))])
                 .permutation(len(answered))]
        pool, targets = order[:POOL], order[POOL:]
        sub = targets[:args.lm_questions] if g in lm_groups else []
        truth = [survey.answers[g][q] for q in targets]
        qs = [survey.questions[q] for q in targets]
        fixed = {"uniform": [bl.uniform(q) for q in qs],
                 "population": [bl.population(survey, q, train_groups) for q in targets]}
        t0 = time.perf_counter()
        steered = bl.lm_distributions(lm, [bl.steered_prompt(q, bl.describe_group(survey.name, g))
                                          for q in qs[:len(sub)]], qs[:len(sub)]) if lm and sub else []
        missing = [survey.questions[q] for q in sub if q not in zero_shot] if lm else []
        if missing:
            zero_shot.update(zip([q.id for q in missing], bl.lm_distributions(
                lm, [bl.zero_shot_prompt(q) for q in missing], missing)))
        lm_seconds += time.perf_counter() - t0
        for m in MS:
            context = [(emb[q], survey.answers[g][q]) for q in pool[:m]]
            preds = dict(fixed, gpo=gpo_predict(predictor, prior, survey, emb, g, pool[:m], targets),
                         logistic=bl.logistic_per_group(context, [emb[q] for q in targets]),
                         nearest_groups=bl.nearest_groups(survey, g, pool[:m], targets, train_groups))
            if lm and sub:
                t0 = time.perf_counter()
                shown = [(survey.questions[q], survey.answers[g][q]) for q in pool[:m]]
                preds["lm_in_context"] = bl.lm_distributions(
                    lm, [bl.in_context_prompt(q, shown) for q in qs[:len(sub)]], qs[:len(sub)])
                preds["lm_steered"] = steered
                preds["lm_zero_shot"] = [zero_shot[q] for q in sub]
                lm_seconds += time.perf_counter() - t0
            for method, p in preds.items():
                s = [alignment(pi, ti, q.ordinal) for pi, ti, q in zip(p, truth, qs)]
                keep = [i for i, v in enumerate(s) if v is not None]
                if not method.startswith("lm_"):
                    scores[m]["full"].setdefault(method, {})[g] = [s[i] for i in keep]
                if sub:
                    scores[m]["sub"].setdefault(method, {})[g] = [s[i] for i in keep if i < len(sub)]
    report = {"data": data, "training": result, "heldout_groups": len(held), "lm_groups": sorted(lm_groups),
              "lm_questions_per_group": args.lm_questions, "lm_seconds": round(lm_seconds, 1), "tables": {}}
    for m in MS:
        for split in ("full", "sub"):
            if scores[m][split]:
                report["tables"][f"m={m} {split}"] = summarise(scores[m][split], args.seed)
    return report


def summarise(by_method: dict[str, dict[str, list[float]]], seed: int) -> dict:
    """Mean [95% interval] per method, and GPO − best baseline (paired, same items)."""
    groups = sorted(by_method["gpo"])
    rows = {}
    for method, per_group in by_method.items():
        assert sorted(per_group) == groups and all(len(per_group[g]) == len(by_method["gpo"][g]) for g in groups), \
            f"{method} was not scored on GPO's items"
        rows[method] = cluster_bootstrap([np.array(per_group[g]) for g in groups], seed=seed)
    best = max((m for m in rows if m != "gpo"), key=lambda m: rows[m][0])
    diff = cluster_bootstrap([np.array(by_method["gpo"][g]) - np.array(by_method[best][g]) for g in groups],
                             seed=seed)
    each = {m: [round(v, 4) for v in cluster_bootstrap([np.array(by_method["gpo"][g]) - np.array(by_method[m][g])
                                                        for g in groups], seed=seed)] for m in rows if m != "gpo"}
    return {"methods": {m: [round(v, 4) for v in r] for m, r in rows.items()}, "best_baseline": best,
            "gpo_minus_best": [round(v, 4) for v in diff], "gpo_minus": each, "items": sum(len(by_method["gpo"][g]) for g in groups),
            "groups": len(groups), "ratio_gpo_over_best": round(rows["gpo"][0] / rows[best][0], 4)}


def polis_benchmark(args) -> dict:
    survey = read_survey("polis", PATHS["polis"])
    emb = embed_survey(survey, cache_for("minilm", args.cache_dir))
    conversations = sorted({m["conversation"] for m in survey.meta.values()})
    report = {"data": "polis", "conversations": {}}
    for conv in conversations:
        members = [g for g in survey.groups if survey.meta[g]["conversation"] == conv]
        if len([g for g in members if len(survey.answers[g]) >= POOL + 5]) < 10:
            continue
        if args.polis_within:  # meta-train on 40% of this conversation's own participants
            predictor, result, _, held = train(args, "polis", survey.subset(members), emb,
                                               run=f"polis-within-{conv}", min_questions=POOL + 5)
        else:
            predictor, result, _, held = train(args, "polis", survey, emb, run=f"polis-{conv}",
                                               holdout_conversations=[conv], min_questions=POOL + 5)
        rng = np.random.default_rng(args.seed)
        held = sorted(rng.choice(held, size=min(args.polis_participants, len(held)), replace=False).tolist())
        report["conversations"][conv] = {"training": result, "participants": len(held), "tables": {
            f"m={m}": summarise(rows, args.seed) for m, rows in polis_scores(args, survey, emb, predictor,
                                                                              members, held).items()}}
    return report


def polis_scores(args, survey, emb, predictor, members, held) -> dict:
    """Per m: accuracy per held-out participant of GPO and the two majority baselines on the same votes."""
    votes = {g: {q: int(np.argmax(y)) for q, y in survey.answers[g].items()} for g in members}
    rows = {m: {"gpo": {}, "statement_majority": {}, "opinion_group_majority": {}} for m in MS}
    prior = PopulationPrior(survey, prior_pool(survey, [])) if predictor.needs_prior else None
    for g in held:
        answered = sorted(survey.answers[g])
        order = [answered[i] for i in np.random.default_rng([args.seed, len(g), sum(map(ord, g))])
                 .permutation(len(answered))]
        pool, targets = order[:POOL], order[POOL:]
        actual = [votes[g][q] for q in targets]
        own = survey.meta[g]["opinion_group"]
        mates = [h for h in members if h != g and own != "" and survey.meta[h]["opinion_group"] == own]
        stmt = [majority(votes, [h for h in members if h != g], q) for q in targets]
        grp = [majority(votes, mates, q) if mates else s for q, s in zip(targets, stmt)]
        for m in MS:
            preds = gpo_predict(predictor, prior, survey, emb, g, pool[:m], targets)
            for name, guess in (("gpo", [int(np.argmax(p)) for p in preds]), ("statement_majority", stmt),
                                ("opinion_group_majority", grp)):
                rows[m][name][g] = [float(a == b) for a, b in zip(guess, actual)]
    return rows


def majority(votes, people, q) -> int:
    counts = np.bincount([votes[h][q] for h in people if q in votes[h]], minlength=3)
    return int(np.argmax(counts))


def show(report: dict) -> None:
    tables = report["tables"] if "tables" in report else {
        f"{c} {k}": t for c, r in report["conversations"].items() for k, t in r["tables"].items()}
    for name, t in tables.items():
        print(f"\n{report['data']} {name}: {t['groups']} held-out groups, {t['items']} items")
        for method, (mean, low, high) in sorted(t["methods"].items(), key=lambda kv: -kv[1][0]):
            print(f"  {method:24s} {mean:.4f}  [{low:.4f}, {high:.4f}]")
        d = t["gpo_minus_best"]
        verdict = "excludes 0: GPO better" if d[1] > 0 else "excludes 0: GPO worse" if d[2] < 0 else "includes 0"
        print(f"  GPO − {t['best_baseline']}: {d[0]:+.4f} [{d[1]:+.4f}, {d[2]:+.4f}] ({verdict}); "
              f"ratio GPO / best baseline {t['ratio_gpo_over_best']:.4f}")
        print("  GPO − each: " + "; ".join(f"{m} {v[0]:+.4f} [{v[1]:+.4f}, {v[2]:+.4f}]"
                                          for m, v in t["gpo_minus"].items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", choices=sorted(PATHS), required=True)
    ap.add_argument("--steps", type=int, default=2500, help="2500 at the default size: about 9 CPU minutes")
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--d-model", type=int, default=128, help="width (and feed-forward width)")
    ap.add_argument("--batch-groups", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lm-groups", type=int, default=6, help="held-out groups the LM baselines run on")
    ap.add_argument("--lm-questions", type=int, default=8, help="target questions per such group")
    ap.add_argument("--skip-lm", action="store_true")
    ap.add_argument("--polis-within", action="store_true",
                    help="meta-train on 40%% of each conversation's own participants instead of other conversations")
    ap.add_argument("--polis-participants", type=int, default=200, help="held-out participants scored")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="any other GpoConfig field, e.g. --set prior=none --set lr=1e-3")
    ap.add_argument("--cache-dir", default="")
    ap.add_argument("--out-dir", default="runs/bench_gpo")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    if not PATHS[args.data].exists():
        raise SystemExit(f"{PATHS[args.data]} is not here: this benchmark reads the shared data")
    report = polis_benchmark(args) if args.data == "polis" else survey_benchmark(args, args.data)
    show(report)
    out = Path(args.out_dir) / f"{args.data}{'-within' if args.polis_within else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
