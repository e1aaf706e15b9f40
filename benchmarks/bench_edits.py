"""PRELUDE on the DITTO texts: cumulative edit cost per agent, and how well CIPHER infers the latent preference.

Documents: the author texts of ``../shared/data/ditto/`` (read its SOURCE.md), grouped into sources: the CMCC
emails and essays by their topic question (6 sources, both genres together) and the CCAT50 news articles (1
source); each text clipped to ``--context-words`` words. Sorted sources take the deterministic user's transforms
in order (``pluralign.feedback.edits.users.TRANSFORMS``): one latent preference per source, as in the paper's
Table 1 (five sources, five preferences). The task is to summarise the document (the paper's summarisation task).

Agents (greedy decoding, SmolLM2-135M-Instruct by default): no-learning, oracle, icl-edit-3, cipher-1, cipher-3
(MiniLM retrieval) and cipher-3:lm (the model's own embeddings). All (agent, seed) streams step together, so
each round is at most three batched ``generate`` calls. The log is resumable: rerun the same command after a kill.

Anchor (Gao et al. 2024, NeurIPS, Table 2; GPT-4 as agent and user, 200 rounds x 3 seeds): CIPHER has the
lowest cumulative cost of the learning agents, well below no-learning and ICL-edit, toward the oracle. Target
here: CIPHER-3 below no-learning and below ICL-edit-3, with 95% intervals that do not overlap, on the
deterministic user. Both intervals are printed: Student's t over the seeds' totals, and a bootstrap over the
rounds within each seed; more seeds (``--seeds``, one process per core with ``--merge-logs``) narrow both.

Usage: python benchmarks/bench_edits.py [--rounds 200] [--seeds 0,1,2] [--user programmatic|lm]
                                        [--out-dir runs/bench_edits] [--agents ...]
       python benchmarks/bench_edits.py --report-only --seeds 0,...,9 --merge-logs A/log... B/log...
Prints the cost table with both intervals, the ratios to no-learning, the target check, the preference-inference
accuracy with its controls, and the wall time (total and per round).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
DITTO = ROOT.parent / "shared" / "data" / "ditto"
AGENTS = "no-learning,oracle,icl-edit-3,cipher-1,cipher-3,cipher-3:lm"


def ditto_documents(out: Path) -> Path:
    """Write the documents file: CMCC grouped by topic question, CCAT50 as one news source."""
    rows, topics = [], {}
    for name in ("cmcc_train.jsonl", "cmcc_val.jsonl", "cmcc_test.jsonl"):
        for i, line in enumerate(open(DITTO / name, encoding="utf-8")):
            r = json.loads(line)
            question = r["prompt"].split(":", 1)[-1].strip()  # the same topic in both genres
            topics.setdefault(question, f"cmcc-topic{len(topics) + 1}")
            rows.append({"id": f"{name}:{i}", "text": r["demonstration"], "source": topics[question]})
    for i, line in enumerate(open(DITTO / "ccat50_val.jsonl", encoding="utf-8")):
        rows.append({"id": f"ccat50_val.jsonl:{i}", "text": json.loads(line)["demonstration"],
                     "source": "ccat50-news"})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return out


def overlap(a, b) -> bool:
    return not (a[1] < b[0] or b[1] < a[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--agents", default=AGENTS)
    ap.add_argument("--user", choices=["programmatic", "lm"], default="programmatic")
    ap.add_argument("--model", default="default")
    ap.add_argument("--context-words", type=int, default=120)
    ap.add_argument("--max-new-tokens", type=int, default=40)
    ap.add_argument("--phrase-tokens", type=int, default=16)
    ap.add_argument("--batch-size", type=lambda v: None if v == "auto" else int(v), default=8,
                    help="rows per generate call, or 'auto' (the commands' sizing: rows of similar length together)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads; 1 is fastest on a shared, oversubscribed CPU")
    ap.add_argument("--out-dir", type=Path, default=ROOT / "runs" / "bench_edits")
    ap.add_argument("--report-only", action="store_true",
                    help="report the rounds the log has finished (for all streams) without running more")
    ap.add_argument("--merge-logs", type=Path, nargs="+", default=None,
                    help="with --report-only: report over these logs together (runs of the same settings on "
                         "disjoint seeds, e.g. one process per core); --seeds names all of their seeds")
    args = ap.parse_args()
    if not DITTO.is_dir():
        sys.exit(f"needs the DITTO texts at {DITTO}")

    import torch

    torch.set_num_threads(args.threads)
    from pluralign.embed import embed
    from pluralign.feedback.edits.documents import read_documents
    from pluralign.feedback.edits.metrics import cost_table, curves, paired_difference, preference_accuracy
    from pluralign.feedback.edits.session import Session, SessionConfig, read_log
    from pluralign.feedback.edits.users import LMUser, ProgrammaticUser, assign
    from pluralign.lm import load_model

    docs = read_documents(ditto_documents(args.out_dir / "documents.jsonl"), context_words=args.context_words)
    mapping = assign([d.source for d in docs])
    config = SessionConfig(agents=args.agents.split(","), seeds=[int(s) for s in args.seeds.split(",")],
                           rounds=args.rounds, max_new_tokens=args.max_new_tokens, phrase_tokens=args.phrase_tokens)
    lm = load_model(args.model, batch_size=args.batch_size)
    user = ProgrammaticUser(mapping) if args.user == "programmatic" else LMUser(
        lm, mapping, max_new_tokens=args.max_new_tokens)
    log = args.out_dir / f"log-{args.user}-{args.rounds}x{len(config.seeds)}.jsonl"
    session = Session(lm, user, docs, config, log)
    started = time.time()

    def tick(_):
        done = sum(len(s.records) for s in session.streams) // len(session.streams)
        if done % 10 == 0:
            print(f"  round {done}/{args.rounds}  {time.time() - started:.0f}s", flush=True)

    if args.report_only:  # read the log without touching it (a run may still be appending to it)
        def settings(header: dict) -> dict:  # everything a log's header fixes but its seeds
            return {**header, "config": {k: v for k, v in header["config"].items() if k != "seeds"}}

        rows = []
        for path in args.merge_logs or [log]:
            header, part = read_log(path)
            if settings(header) != settings(session.header):
                sys.exit(f"{path}: written with other settings than these")
            if not set(header["config"]["seeds"]) <= set(config.seeds):
                sys.exit(f"{path}: has seeds {header['config']['seeds']} not all in --seeds")
            rows += [r for _, r in part]
        done = 0
        while sum(r["round"] == done for r in rows) == len(session.streams):
            done += 1
        records = [r for r in rows if r["round"] < done]
        for s in session.streams:
            s.records = [r for r in records if r["stream"] == s.key]
        print(f"report only: {done} finished rounds in the log")
    else:
        records = session.run(progress=tick)
    wall = time.time() - started
    print(f"\nuser: {user.name}; model: {lm.name}; {len(docs)} documents in {len(mapping)} sources: "
          + ", ".join(f"{s}={t}" for s, t in mapping.items()))
    rounds_done = len(session.streams[0].records)
    print(f"{rounds_done} of {args.rounds} rounds x {len(config.seeds)} seeds; wall time this run {wall:.0f}s "
          f"(log: {log})\n")
    curve = curves(records)
    marks = sorted({m for m in (1, 5, 10, 20, 50, 100, 200, rounds_done) if 0 < m <= rounds_done})
    print("mean cumulative cost after round: " + "  ".join(f"{m:>7}" for m in marks))
    for agent, c in sorted(curve.items()):
        print(f"{agent:>32}: " + "  ".join(f"{c[m - 1]:7.1f}" for m in marks))
    print()
    # The ratios compare like with like only if every agent saw the same document in each seed's round.
    seen: dict = {}
    for r in records:
        if seen.setdefault((r["seed"], r["round"]), r["doc"]) != r["doc"]:
            sys.exit(f"agents saw different documents in seed {r['seed']} round {r['round']}")
    table = cost_table(records)
    base = {r["agent"]: r for r in table}
    print(f"{'agent':>14} {'cum. cost':>10} {'95% t (seeds)':>20} {'95% bootstrap':>20} {'/no-learn':>9} "
          f"{'zero-cost':>9}")
    for r in table:
        print(f"{r['agent']:>14} {r['cumulative_cost']:10.1f} {'[%.0f, %.0f]' % r['t95']:>20} "
              f"{'[%.0f, %.0f]' % r['bootstrap95']:>20} "
              f"{r['cumulative_cost'] / base['no-learning']['cumulative_cost']:9.2f} {r['zero_cost_share']:9.0%}")
    if {"cipher-3", "no-learning", "icl-edit-3"} <= base.keys():
        c, n, i = base["cipher-3"], base["no-learning"], base["icl-edit-3"]
        for other in (n, i):
            below = c["cumulative_cost"] < other["cumulative_cost"]
            t_says = ("need 2+ seeds" if len(c["per_seed"]) < 2 else
                      "overlap" if overlap(c["t95"], other["t95"]) else "do not overlap")
            print(f"target cipher-3 < {other['agent']}: {'yes' if below else 'no'}; t intervals "
                  f"{t_says}; bootstrap intervals "
                  f"{'overlap' if overlap(c['bootstrap95'], other['bootstrap95']) else 'do not overlap'}")
            diff, lo, hi = paired_difference(records, "cipher-3", other["agent"])
            print(f"    paired difference cipher-3 - {other['agent']}: {diff:+.1f} [{lo:+.1f}, {hi:+.1f}] "
                  "(bootstrap over the same rounds)")
    print("anchor (paper, GPT-4): CIPHER lowest of the learning agents, well below no-learning and ICL-edit")

    descriptions = sorted({user.latent(s) for s in mapping})
    print("\npreference inference (MiniLM: is the true description the most similar of "
          f"{len(descriptions)}?)")
    for agent in sorted({r["agent"] for r in records if r["agent"].startswith("cipher")}):
        for what in ("inferred", "preference"):
            rows = [r for r in records if r["agent"] == agent and r.get(what)]
            acc = preference_accuracy([r[what] for r in rows], [user.latent(r["source"]) for r in rows],
                                      descriptions, embed)
            if acc["n"]:
                print(f"{agent:>12} {what:>10}: n={acc['n']:4d} accuracy {acc['accuracy']:.2f} "
                      f"[{acc['accuracy95'][0]:.2f}, {acc['accuracy95'][1]:.2f}]  chance {acc['chance']:.2f}  "
                      f"shuffled {acc['shuffled_control']:.2f}  majority {acc['majority_control']:.2f}  "
                      f"sim true {acc['similarity_true']:.2f} vs other {acc['similarity_other']:.2f}")
    oracle = [r["preference"] for r in records if r["agent"] == "oracle"]
    if oracle:
        acc = preference_accuracy(oracle, oracle, descriptions, embed)
        print(f"{'control':>12} {'truth':>10}: the true descriptions themselves score {acc['accuracy']:.2f}")


if __name__ == "__main__":
    main()
