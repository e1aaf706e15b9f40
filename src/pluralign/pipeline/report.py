"""RUN/report.html: one self-contained page per run (no scripts, no CDN; plots are inline SVG from matplotlib),
built from the run directory's manifests and records alone.

Sections appear for the stages the run has: stages and manifests, the panel and its weighting, the opinion map
and groups, the constitution with each principle's consensus and per-group agreement, the social-choice outcome
(majority vs proportional), the AI labeller's reliability on its control set (a red banner when at chance),
training curves with the reward-hacking monitors, the evaluation (held-out margins; the model's votes on the
panel's statements vs each opinion group, before and after), and each trained preference's provenance.
"""

from __future__ import annotations

import html
import io
import json
from pathlib import Path

from pluralign.pipeline.context import read_json
from pluralign.pipeline.trace import lines as trace_lines
from pluralign.pipeline.trace import manifests, trace

MAX_TRACED = 60  # preferences shown in the per-preference view
CSS = """body{font:15px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;
vertical-align:top}th{background:#f4f4f4}.num{text-align:right;font-variant-numeric:tabular-nums}
.alarm{background:#b00020;color:#fff;padding:1em;font-size:1.15em;font-weight:bold;border-radius:4px}
.ok{background:#e6f4ea;padding:.8em;border-radius:4px}.muted{color:#777}pre{white-space:pre-wrap;background:#f7f7f7;
padding:.6em;font-size:.85em}details{margin:.3em 0}figure{margin:.5em 0}svg{max-width:100%;height:auto}"""


def _e(value) -> str:
    return html.escape(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))


def _table(header: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td class='num'>{_e(c)}</td>" if i in numeric else f"<td>{_e(c)}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    return "<figure>" + text[text.index("<svg"):] + "</figure>"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"  # text stays text: smaller, searchable
    return plt


def _figure(width: float = 6.0, height: float = 3.2):
    return _plt().subplots(1, 1, figsize=(width, height))


def _pct(x) -> str:
    return "—" if x is None or x != x else f"{x:.0%}"


# ---- sections ------------------------------------------------------------------------------------------------

def _stages(found: dict) -> str:
    rows = [[n, m["uses"], m["finished"], f"{m['wall_s']:.1f}", m["seed"], (m.get("model") or {}).get("spec", "—"),
             m["key"][:12], len(m["outputs"])] for n, m in found.items()]
    return ("<h2>Stages</h2><p>Each stage's manifest (<code>RUN/&lt;stage&gt;/manifest.json</code>) holds its inputs' "
            "content hashes, resolved settings, package versions, model identity, seed and wall time.</p>"
            + _table(["stage", "kind", "finished (UTC)", "wall s", "seed", "model", "key", "files"], rows, {3, 4, 7}))


def _panel(run: Path, name: str) -> str:
    w = read_json(run / name / "weighting.json")
    rows = [[g, v["n"], _pct(v["share"]), _pct(v["weighted_share"])] for g, v in w["groups"].items()]
    out = f"<h2>Panel and its weighting</h2>" + _table(["camp / group", "participants", "share", "weighted share"],
                                                        rows, {1, 2, 3})
    if w["raked"]:
        out += (f"<p>Raked to the population margins {_e(w['targets'])}: design effect {w['design_effect']:.2f}, "
                f"effective n {w['effective_n']:.1f}, largest margin error {w['max_margin_error']:.2g}"
                f"{'' if w['converged'] else ' (did not converge)'}.</p>")
    else:
        out += "<p>Unweighted: every participant counts 1.</p>"
    return out


def _opinion(run: Path, name: str) -> str:
    o = read_json(run / name / "opinion.json")
    fig, ax = _figure(5.5, 4.0)
    groups = o["groups"]
    for g in sorted(set(groups.values())):
        pts = [o["participant_projection"][p] for p, gg in groups.items() if gg == g]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], label=f"group {g} ({len(pts)})", alpha=0.7)
    for sid, xy in o["statement_projection"].items():
        ax.annotate(sid, xy, fontsize=7, color="#555")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.legend(fontsize=8)
    ax.set_title("opinion map: participants by opinion group, statements by id")
    rows = [[sid, o["texts"].get(sid, ""), f"{o['group_aware_consensus'][sid]:.2f}",
             *[_pct(a) for a in o["agree_fraction"][sid]]]
            for sid in sorted(o["group_aware_consensus"], key=lambda s: -o["group_aware_consensus"][s])]
    return (f"<h2>Opinion map and groups</h2><p>{o['n_groups']} opinion groups among {len(groups)} clustered "
            f"participants. {_e(o['note'])}</p>" + _svg(fig)
            + _table(["id", "statement", "consensus", *[f"group {g} agree" for g in range(o["n_groups"])]], rows,
                     set(range(2, 3 + o["n_groups"]))))


def _constitution(run: Path, name: str) -> str:
    c = read_json(run / name / "constitution.json")
    rows = [[p["id"], p["text"], p["provenance"]["details"]["statement"],
             f"{p['provenance']['details']['consensus']:.2f}",
             ", ".join(_pct(a) for a in p["provenance"]["details"]["group_agree"])] for p in c["principles"]]
    return (f"<h2>Constitution: {_e(c['name'])}</h2><p>Statements every opinion group supports, best group-informed "
            f"consensus first.</p>" + _table(["principle", "text", "statement", "consensus", "agree by group"],
                                             rows, {3}))


def _social_choice(run: Path, name: str) -> str:
    o = read_json(run / name / "outcome.json")
    rows = [[g["group"], _pct(g["share"]), _pct(g["majority"]), _pct(g["proportional"])] for g in o["groups"]]
    fig, ax = _figure(6.0, 2.8)
    xs = range(len(o["groups"]))
    ax.bar([x - 0.27 for x in xs], [g["share"] for g in o["groups"]], 0.27, label="share of panel")
    ax.bar(xs, [g["majority"] for g in o["groups"]], 0.27, label=f"{o['rule_label']} (majority)")
    ax.bar([x + 0.27 for x in xs], [g["proportional"] for g in o["groups"]], 0.27, label=o["proportional_label"])
    ax.set_xticks(list(xs), [g["group"] for g in o["groups"]])
    ax.set_ylabel("share of prompts won")
    ax.legend(fontsize=8)
    per_prompt = [[i, p["prompt"] if isinstance(p["prompt"], str) else p["prompt"][-1]["content"],
                   p["rule_winners"], p["proportional_winners"], p["group_tops"],
                   "held out" if i in o["held_out_prompts"] else ""] for i, p in enumerate(o["prompts"])]
    return (f"<h2>Social choice: majority rule vs a proportional rule</h2><p>Each camp's share of the panel, and "
            f"the share of prompts on which its favourite response won. Aggregating prompt by prompt "
            f"({_e(o['rule_label'])}) lets a majority win every prompt; {_e(o['proportional_label'])} treats the "
            f"prompts as one long decision and gives each camp about its share. Training used the "
            f"<b>{_e(o['train_on'])}</b> winners.</p>"
            + _table(["camp", "share of panel", f"won: {o['rule_label']}", f"won: {o['proportional_label']}"], rows,
                     {1, 2, 3}) + _svg(fig)
            + "<details><summary>per prompt (candidate indices)</summary>"
            + _table(["#", "prompt", "majority winner", "proportional winner", "each camp's favourite", ""],
                     per_prompt) + "</details>")


def _labeller(run: Path, name: str) -> str:
    c = read_json(run / name / "control.json")
    line = (f"accuracy {c['accuracy']:.0%} (95% Wilson interval {c['ci95'][0]:.0%}–{c['ci95'][1]:.0%}) on {c['n']} "
            f"control pairs with known answers, Brier {c['brier']:.3f}; labeller {_e(c['model'])}")
    banner = (f"<p class='alarm'>⚠ The AI labeller is AT CHANCE: {line}. Its {c['n_labelled']} preference labels "
              f"are noise; use a stronger labeller or leave the AI labels out of training.</p>" if c["at_chance"]
              else f"<p class='ok'>AI labeller above chance: {line}.</p>")
    return (f"<h2>AI labeller reliability</h2>{banner}<p>On the run's own pairs it sided with the panel on "
            f"{c['agree_with_panel']} of {c['n_labelled']}.</p>")


def _training(run: Path, name: str) -> str:
    from pluralign.train.monitors import length_explosion, proxy_gold_divergence

    path = run / name / "run" / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
    if not rows:
        return f"<h2>Training ({_e(name)})</h2><p class='muted'>no metrics logged.</p>"
    keys = [k for k in ("loss", "rewards_chosen", "rewards_rejected", "rewards_accuracies", "reward", "gold",
                        "kl", "response_length", "grad_norm") if any(k in r for r in rows)]
    fig, axes = _plt().subplots((len(keys) + 2) // 3, min(len(keys), 3),
                             figsize=(3.4 * min(len(keys), 3), 2.6 * ((len(keys) + 2) // 3)), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        pts = [(r["step"], r[key]) for r in rows if key in r]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".")
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.tight_layout()
    series = {k: [r[k] for r in rows if k in r] for k in ("reward", "gold", "response_length")}
    window = max(4, min(10, len(rows)))
    checks = [("proxy reward up, gold reward down", proxy_gold_divergence(series["reward"], series["gold"], window)
               if series["gold"] else None, "needs a gold scorer's reward logged (`gold`)" if not series["gold"]
               else None),
              ("response length explosion", length_explosion(series["response_length"], 2.0, window)
               if series["response_length"] else None,
               "needs sampled responses (RL methods log `response_length`)" if not series["response_length"] else None)]
    monitor_rows = [[label, "not measured: " + why if why else ("FIRED: " + msg if msg else f"quiet over {len(rows)} "
                                                                                            f"steps")]
                    for label, msg, why in checks]
    summary = read_json(run / name / "summary.json") if (run / name / "summary.json").is_file() else {}
    return (f"<h2>Training ({_e(name)})</h2><p>{summary.get('steps', len(rows))} steps, final loss "
            f"{summary.get('final_loss', float('nan')):.4f}.</p>" + _svg(fig)
            + "<h3>Reward-hacking monitors</h3>" + _table(["monitor", "state"], monitor_rows))


def _evaluate(run: Path, name: str) -> str:
    h = read_json(run / name / "heldout.json")
    fig, ax = _figure(5.0, 2.8)
    ax.plot(h["per_pair"]["before"], "o", label="before")
    ax.plot(h["per_pair"]["after"], "s", label="after")
    ax.axhline(0, color="#999", lw=0.8)
    ax.set_xlabel("held-out pair")
    ax.set_ylabel("log p(chosen) − log p(rejected)")
    ax.legend(fontsize=8)
    out = (f"<h2>Evaluation</h2><h3>Did the model move? (held-out pairs)</h3><p>Mean log-prob margin of the "
           f"chosen over the rejected response on {h['n']} pairs from prompts never trained on: {h['before']:+.3f} "
           f"before, {h['after']:+.3f} after; change {h['change']:+.3f} (95% bootstrap interval "
           f"{h['change_ci95'][0]:+.3f} to {h['change_ci95'][1]:+.3f}); {h['moved_toward_chosen']:.0%} of pairs "
           f"moved toward the chosen response.</p>" + _svg(fig))
    if (run / name / "panel.json").is_file():
        p = read_json(run / name / "panel.json")
        groups = list(p["before"]["similarity"])
        est = lambda e: "n/a" if not e["n"] else f"{e['mean']:.3f} [{e['low']:.3f}, {e['high']:.3f}]"  # noqa: E731
        rows = [[g, est(p["before"]["similarity"][g]), est(p["after"]["similarity"][g]),
                 est(p["before"]["sides_with"][g]), est(p["after"]["sides_with"][g]),
                 _pct(p["before"]["closest"][g]), _pct(p["after"]["closest"][g])] for g in groups]
        fig, ax = _figure(5.5, 2.8)
        for k, side in enumerate(("before", "after")):
            sims = [p[side]["similarity"][g] for g in groups]
            xs = [i + (k - 0.5) * 0.35 for i in range(len(groups))]
            ax.bar(xs, [e["mean"] for e in sims], 0.35, label=side,
                   yerr=[[e["mean"] - e["low"] for e in sims], [e["high"] - e["mean"] for e in sims]])
        ax.set_xticks(range(len(groups)), groups)
        ax.set_ylabel("1 − JSD to the group's votes")
        ax.legend(fontsize=8)
        out += (f"<h3>Whose values? The model votes on the panel's {p['statements']} statements</h3><p>Asked each "
                f"statement as a participant is (Agree / Disagree / Pass; {_e(p['ask'])}), the model's answer "
                f"distribution is compared with each opinion group's votes (pluralign.evaluate.panel): similarity "
                f"1 − Jensen–Shannon distance, the share of statements where it leans the group's majority way, "
                f"and the share where that group is the closest. Intervals: bootstrap 95%.</p>"
                + _table(["opinion group", "similarity before", "after", "sides with before", "after",
                          "closest before", "after"], rows) + _svg(fig))
    return out


def _provenance(run: Path) -> str:
    from pluralign.pipeline.trace import trained_preferences

    prefs = trained_preferences(run)
    shown = prefs[:MAX_TRACED]
    items = "".join(f"<details><summary>{_e(p.id)} — {'AI label' if p.provenance.principles else 'people'}"
                    f"</summary><pre>{_e(chr(10).join(trace_lines(trace(run, p.id))))}</pre></details>" for p in shown)
    more = (f"<p class='muted'>{len(prefs) - len(shown)} more: `pluralign trace RUN ID`.</p>"
            if len(prefs) > len(shown) else "")
    return (f"<h2>Provenance of each trained preference</h2><p>{len(prefs)} preferences trained on; each walks back "
            f"to its rule, principle, statement, opinion groups and participants (as "
            f"<code>pluralign trace RUN ID</code> prints).</p>{items}{more}")


SECTIONS = {"panel": _panel, "opinion": _opinion, "constitution": _constitution, "social_choice": _social_choice,
            "ai_labels": _labeller, "train": _training, "evaluate": _evaluate}


def write_report(run_dir: str | Path, pipeline) -> Path:
    """Write RUN/report.html from what is on disk; returns its path."""
    from pluralign.io import atomic_path

    run = Path(run_dir)
    found = manifests(run)
    parts = [f"<h1>{_e(pipeline.run.name)}</h1><p>{_e(pipeline.run.description)}</p>"
             f"<p class='muted'>pipeline {_e(str(pipeline.path))}; model {_e(pipeline.run.model)}; "
             f"{len(found)} of {len(pipeline.stages)} stages finished.</p>", _stages(found)]
    for name, m in found.items():
        if m["uses"] in SECTIONS:
            parts.append(SECTIONS[m["uses"]](run, name))
    if any(m["uses"] == "train" and m["config"]["method"] != "sft" for m in found.values()):
        parts.append(_provenance(run))
    page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{_e(pipeline.run.name)}</title>"
            f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>")
    path = run / "report.html"
    with atomic_path(path) as tmp:
        Path(tmp).write_text(page, encoding="utf-8")
    return path
