"""One self-contained HTML page from :func:`pluralign.evaluate.report.run_report`'s result: inline SVG charts
drawn with matplotlib, no scripts, no external files (it opens offline and can be mailed as is)."""

from __future__ import annotations

import html
import io
import json
import re

COLOURS = ("#2b6cb0", "#c05621")  # model, baseline

CSS = """body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#1a202c}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #cbd5e0}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #cbd5e0;padding:4px 8px;text-align:left}.note{color:#744210;background:#fefcbf;padding:6px}
.flag{color:#c53030;font-weight:bold}pre{background:#f7fafc;padding:8px;overflow-x:auto;font-size:12px}
figure{margin:0}svg{max-width:100%;height:auto}"""


def _e(text) -> str:
    return html.escape(str(text))


def estimate(e: dict | None) -> str:
    if not e or not e.get("n"):
        return "n/a"
    return f"{e['mean']:.3f} [{e['low']:.3f}, {e['high']:.3f}]"


def bars(title: str, labels: list[str], series: list[tuple[str, list[dict | None]]], xlabel: str,
         xlim: tuple[float, float] | None = None) -> str:
    """Horizontal grouped bars (one colour per model) with 95% interval whiskers, as inline SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    height = max(2.2, 0.32 * len(labels) * len(series) + 1.2)
    fig, ax = plt.subplots(figsize=(8, height))
    y = np.arange(len(labels))
    width = 0.8 / max(len(series), 1)
    for k, (name, values) in enumerate(series):
        mean = np.array([v["mean"] if v and v.get("n") else np.nan for v in values], dtype=float)
        low = np.array([v["low"] if v and v.get("n") else np.nan for v in values], dtype=float)
        high = np.array([v["high"] if v and v.get("n") else np.nan for v in values], dtype=float)
        err = np.vstack([np.clip(mean - low, 0, None), np.clip(high - mean, 0, None)])
        ax.barh(y + (k - (len(series) - 1) / 2) * width, np.nan_to_num(mean), height=width, xerr=np.nan_to_num(err),
                color=COLOURS[k % 2], label=name, capsize=2, error_kw={"elinewidth": 0.8})
    ax.set_yticks(y, [label[:40] for label in labels], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    if xlim:
        ax.set_xlim(*xlim)
    ax.axvline(0, color="#718096", linewidth=0.6)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    svg = re.sub(r"<metadata>.*?</metadata>", "", buf.getvalue(), flags=re.S)  # drop matplotlib's RDF block
    return "<figure>" + svg[svg.index("<svg"):] + "</figure>"


def _per_model(result: dict, key: str) -> list:
    return result.get(key) or []


def _series(result: dict, values) -> list[tuple[str, list]]:
    return [(name, v) for name, v in zip(result["models"], values)]


def sections(r: dict) -> list[str]:
    out = []
    names = r["models"]
    if dist := _per_model(r, "distributional"):
        ranked = list(dist[0]["groups"])
        shown = ranked if len(ranked) <= 20 else ranked[:10] + ranked[-10:]
        out.append("<h2>Whose opinions does the model reflect?</h2><p>GlobalOpinionQA: mean similarity 1 − "
                   "Jensen–Shannon distance between the model's answer distribution and each country's, with "
                   f"bootstrap 95% intervals; the 10 most and 10 least resembled groups. Overall: "
                   + ", ".join(f"{_e(n)} {estimate(d['overall'])}" for n, d in zip(names, dist)) + "</p>")
        out.append(bars("similarity to each country (1 − JSD)", shown,
                        _series(r, [[d["groups"].get(g) for g in shown] for d in dist]), "1 − JSD", (0, 1)))
    if steer := _per_model(r, "steerable"):
        groups = list(steer[0]["gain"])
        out.append(f"<h2>Steerability per group</h2><p>OpinionQA, steered with the “{_e(steer[0]['format'])}” "
                   "format (Santurkar et al.): gain in 1 − JSD to the group's answers over the unsteered answer. "
                   "Overall: " + ", ".join(f"{_e(n)} {estimate(s['overall_gain'])}" for n, s in zip(names, steer))
                   + "</p>")
        out.append(bars("steering gain per group", groups, _series(r, [[s["gain"].get(g) for g in groups]
                                                                         for s in steer]), "Δ(1 − JSD)"))
    if vk := _per_model(r, "kaleidoscope"):
        out.append("<h2>Value Kaleidoscope: support / oppose / either</h2>")
        out.append(bars("3-way classification", ["accuracy", "macro-F1"],
                        _series(r, [[v["accuracy"], v["macro_f1"]] for v in vk]), "score", (0, 1)))
    if ov := _per_model(r, "overton"):
        j = ov[0]["judge_accuracy"]
        flag = ' <span class="flag">judge at chance</span>' if j.get("at_chance") else ""
        out.append(f"<h2>Overton coverage</h2><p>Share of a situation's values, rights and duties one answer "
                   f"expresses. Judge (MiniLM similarity) accuracy on its controls: own explanations {j['own']:.0%}, "
                   f"another situation's {j['other']:.0%}, empty answer {j['empty']:.0%} (mean "
                   f"{j['accuracy']:.0%}){flag}.</p>")
        out.append(bars(f"Overton coverage (judge accuracy {j['accuracy']:.0%})", ["coverage"],
                        _series(r, [[o["coverage"]] for o in ov]), "share of values covered", (0, 1)))
    if panel := _per_model(r, "panel"):
        groups = list(panel[0]["sides_with"])
        out.append("<h2>The run's own panel</h2><p>The model votes on the conversation's statements; share of "
                   "statements on which it leans the way each opinion group's majority voted, and its closest "
                   "group: " + "; ".join(f"{_e(n)}: " + ", ".join(f"{g} {v:.0%}" for g, v in p["closest"].items())
                                         for n, p in zip(names, panel)) + "</p>")
        out.append(bars("sides with the group's majority", groups,
                        _series(r, [[p["sides_with"].get(g) for g in groups] for p in panel]), "share", (0, 1)))
        out.append(bars("similarity to the group's votes (1 − JSD)", groups,
                        _series(r, [[p["similarity"].get(g) for g in groups] for p in panel]), "1 − JSD", (0, 1)))
    if bias := _per_model(r, "bias"):
        cats = list(bias[0])
        out.append("<h2>Bias (BBQ)</h2><p>Bias scores of Parrish et al. (2022): 0 is no measured bias, 1 always "
                   "the stereotype, −1 always against it; s_AMB in ambiguous contexts (weighted by errors), s_DIS in "
                   "disambiguated ones.</p>")
        for key in ("s_AMB", "s_DIS", "accuracy_ambiguous"):
            out.append(bars(key, cats, _series(r, [[b[c][key] for c in cats] for b in bias]), key,
                            (0, 1) if key.startswith("acc") else (-1, 1)))
    if safety := r.get("safety"):
        res = safety["results"]
        flag = ' <span class="flag">AT CHANCE: these figures are not meaningful</span>' if safety["judge_at_chance"] else ""
        win = f" Win rate of {_e(names[0])} over {_e(names[1])}: {estimate(safety['win_rate'])}." if "win_rate" in safety else ""
        out.append(f"<h2>Safety: harmful rate by language, global vs local</h2><p>Judged by the RL-CAI labeller "
                   f"({_e(safety['judge_model'])}) under the constitution: {_e(safety['judge'])}{flag}.{win}</p>")
        slices = list(res[0]["by_language"]) + list(res[0]["by_scope"])
        out.append(bars(f"harmful-response rate (judge accuracy {safety['judge_accuracy']:.0%})", ["all", *slices],
                        _series(r, [[x["harmful"], *[{**x["by_language"], **x["by_scope"]}.get(s) for s in slices]]
                                    for x in res]), "share harmful", (0, 1)))
    if cap := _per_model(r, "capability"):
        rows = "".join(f"<tr><td>{_e(k)}</td>" + "".join(f"<td>{estimate(c.get(k))}</td>" for c in cap) + "</tr>"
                       for k in dict.fromkeys(k for c in cap for k in c))
        out.append("<h2>Capability parity</h2><p>Per-token log-likelihood (nats) of held-out reference answers and "
                   "BBQ accuracy where the context gives the answer.</p><table><tr><th>metric</th>"
                   + "".join(f"<th>{_e(n)}</th>" for n in names) + f"</tr>{rows}</table>")
        if "loglik_per_token" in cap[0]:
            out.append(bars("reference answers: log-likelihood per token", ["log-likelihood"],
                            _series(r, [[c["loglik_per_token"]] for c in cap]), "nats per token"))
    return out


def render(result: dict) -> str:
    """The report as one HTML document."""
    names = result["models"]
    timing = "".join(f"<tr><td>{_e(k)}</td><td>{v:.1f} s</td></tr>" for k, v in result["timings"].items())
    notes = "".join(f'<p class="note">{_e(n)}</p>' for n in result["notes"])
    prov = "".join(f"<h3>{_e(n)}</h3><pre>{_e(json.dumps(p, indent=2, default=str))}</pre>"
                   for n, p in zip(names, result["provenance"]))
    legend = " vs ".join(f'<span style="color:{COLOURS[k % 2]}">■ {_e(n)}</span>' for k, n in enumerate(names))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>pluralign evaluation: '
            f"{_e(' vs '.join(names))}</title><style>{CSS}</style></head><body>"
            f"<h1>Whose values did the model end up with?</h1><p>{legend}. Answers read as option-letter "
            f"distributions ({_e(result['ask'])}); every figure with its bootstrap 95% interval; subsampled, seed "
            f"{_e(result['config']['seed'])}.</p>{notes}" + "".join(sections(result))
            + f"<h2>Provenance</h2>{prov}<h2>Time</h2><table>{timing}<tr><th>total</th><th>"
            f"{sum(result['timings'].values()):.1f} s</th></tr></table></body></html>")
