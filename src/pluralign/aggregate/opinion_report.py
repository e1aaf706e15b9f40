"""A self-contained HTML page for an opinion analysis: the 2-D opinion map (participants coloured by group,
statements as labelled points), each group's representative statements and the consensus lists.

The map is a matplotlib figure embedded as an inline SVG, so the page needs no network and no scripts to view.
"""

from __future__ import annotations

import html
import io
from pathlib import Path

import numpy as np

from pluralign.aggregate.opinion import OpinionResult
from pluralign.io import atomic_path

COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"]


def opinion_map_svg(result: OpinionResult, label_top: int = 12) -> str:
    """The opinion map as SVG text: participants (dots, grey if not clustered), group centres, and the
    ``label_top`` most extreme statements (crosses with their ids)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 6))
    xy, groups = result.projection.participants, result.groups
    ax.scatter(*xy[groups < 0].T, s=6, c="#bbbbbb", label="not clustered")
    for g in range(result.n_groups):
        members = xy[groups == g]
        colour = COLOURS[g % len(COLOURS)]
        ax.scatter(*members.T, s=10, c=colour, alpha=0.7, label=f"group {g} ({len(members)})")
        ax.scatter(*members.mean(0), s=120, c=colour, edgecolors="black", marker="o")
    statements = result.projection.statements
    kept = np.setdiff1d(np.arange(len(statements)), result.matrix.mod_out)
    top = kept[np.argsort(-result.projection.extremity[kept])][:label_top]
    ax.scatter(*statements[top].T, marker="x", c="black", s=25, label="statements (agree position)")
    for j in top:
        ax.annotate(result.matrix.statements[j], statements[j], fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.legend(fontsize=8, loc="best")
    ax.set_title("Opinion map")
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]


def _table(rows: list[list[str]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render(result: OpinionResult, texts: dict[str, str], title: str = "Opinion groups") -> str:
    """The report page as an HTML string."""
    m = result.matrix
    text = lambda j: html.escape(texts.get(m.statements[j], ""))  # noqa: E731
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>{m.shape[0]} participants, {m.shape[1]} statements ({len(m.mod_out)} moderated out), "
             f"{m.codes.nnz} votes; {len(result.clustering.in_conv)} clustered into {result.n_groups} group(s).</p>"]
    if result.note:
        parts.append(f"<p class='note'>{html.escape(result.note)}</p>")
    parts.append(opinion_map_svg(result))
    for g, entries in enumerate(result.repness):
        size = int((result.groups == g).sum())
        rows = [[html.escape(m.statements[e["statement"]]), text(e["statement"]), e["repful_for"],
                 f"{100 * e['p_success']:.0f}%", f"{e['repness']:.2f}"] for e in entries]
        parts.append(f"<h2 style='color:{COLOURS[g % len(COLOURS)]}'>Group {g} ({size} participants)</h2>")
        parts.append(_table(rows, ["id", "statement", "group tends to", "share (smoothed)", "vs others"]))
    moderated = set(m.mod_out.tolist())
    order = [j for j in np.argsort(-result.gac) if j not in moderated][:15]
    rows = [[html.escape(m.statements[j]), text(j), f"{result.gac[j]:.3f}",
             " / ".join(f"{100 * r:.0f}%" for r in result.agree_rate[:, j])] for j in order]
    parts.append("<h2>Group-informed consensus</h2>")
    parts.append(_table(rows, ["id", "statement", "consensus", "agree rate per group"]))
    for side in ("agree", "disagree"):
        rows = [[html.escape(m.statements[e["statement"]]), text(e["statement"]), f"{100 * e['p_success']:.0f}%"]
                for e in result.consensus[side]]
        parts.append(f"<h2>Overall consensus: {side}</h2>" + (_table(rows, ["id", "statement", "share"]) if rows
                                                               else "<p>none significant</p>"))
    style = ("body{font-family:sans-serif;max-width:960px;margin:2em auto}table{border-collapse:collapse;width:100%}"
             "td,th{border:1px solid #ccc;padding:4px;font-size:90%;text-align:left}.note{color:#a00}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")


def write_report(path: str | Path, result: OpinionResult, texts: dict[str, str], title: str = "Opinion groups") -> None:
    """Write :func:`render`'s page atomically."""
    page = render(result, texts, title)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(page, encoding="utf-8")
