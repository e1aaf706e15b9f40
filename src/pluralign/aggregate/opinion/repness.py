"""Representative statements, consensus and comment priority (Polis's repness.clj, stats.clj, conversation.clj).

Per statement j and group g, over the clustered participants (votes on moderated-out statements count as
passes, as in Polis's zeroed matrix):
  n_a, n_d, n_s   agrees, disagrees, votes seen (agree + disagree + pass) in g;  r_* the same for the other groups
  pa = (n_a + 1) / (n_s + 2)                        probability of agreeing, with a +1/+2 pseudo-count
  pat = prop_test(n_a, n_s)                         z of "pa > 1/2": 2 sqrt(n_s + 1) ((n_a + 1) / (n_s + 1) - 1/2)
  ra = pa / ((r_a + 1) / (r_s + 2))                 how much more g agrees than the rest
  rat = two_prop_test(n_a, r_a, n_s, r_s)           z of that difference (all four counts + 1)
and the same with d for disagree. A statement represents g when (rat > z and pat > z) or (rdt > z and pdt > z),
z = 1.2816 (one-sided 90%). Up to 5 per group, sorted by ra * rat * pa * pat (agree or disagree, whichever
has the larger r*t), the group's "best agree" statement first, agrees before disagrees. With none passing, the
best by z alone stands in.

Group-informed consensus (all statements, clustered participants, raw votes):
  gac_j = prod_g (n_a,g + 1) / (n_s,g + 2)
Overall consensus (all participants): statements with pa > 1/2 and pat > z, top 5 by pa * pat (same for d).
Comment priority: (importance * (1 + 8 * 2^(-S/5)))^2 with importance = (1 - p) (E + 1) a,
p = (P + 1)/(S + 2), a = (A + 1)/(S + 2), E = the statement's extremity in the PCA; meta statements get 7^2.
"""

from __future__ import annotations

import numpy as np

Z_90 = 1.2816
META_PRIORITY = 7.0
PICK_MAX = 5


def prop_test(successes: np.ndarray, trials: np.ndarray) -> np.ndarray:
    """Polis's one-proportion z-test of p > 1/2, with +1 pseudo-counts."""
    s, n = successes + 1.0, trials + 1.0
    return 2.0 * np.sqrt(n) * (s / n - 0.5)


def two_prop_test(succ_in: np.ndarray, succ_out: np.ndarray, n_in: np.ndarray, n_out: np.ndarray) -> np.ndarray:
    """Polis's two-proportion z-test of p_in > p_out, with +1 pseudo-counts on all four counts; 0 when pooled p = 1."""
    s1, s2, n1, n2 = succ_in + 1.0, succ_out + 1.0, n_in + 1.0, n_out + 1.0
    pooled = (s1 + s2) / (n1 + n2)
    denom = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return np.divide(s1 / n1 - s2 / n2, denom, out=np.zeros_like(pooled), where=pooled < 1)


def comment_stats(agree: np.ndarray, disagree: np.ndarray, seen: np.ndarray) -> dict[str, np.ndarray]:
    """na, nd, ns, pa, pd, pat, pdt for arrays of counts (any shape)."""
    return {"na": agree, "nd": disagree, "ns": seen,
            "pa": (agree + 1) / (seen + 2), "pd": (disagree + 1) / (seen + 2),
            "pat": prop_test(agree, seen), "pdt": prop_test(disagree, seen)}


def group_stats(agree: np.ndarray, disagree: np.ndarray, seen: np.ndarray) -> dict[str, np.ndarray]:
    """Per-group comment stats plus comparisons with the other groups. Inputs (n_groups, n_statements)."""
    stats = comment_stats(agree, disagree, seen)
    rest_a, rest_d, rest_s = (x.sum(axis=0, keepdims=True) - x for x in (agree, disagree, seen))
    stats["ra"] = stats["pa"] / ((rest_a + 1) / (rest_s + 2))
    stats["rd"] = stats["pd"] / ((rest_d + 1) / (rest_s + 2))
    stats["rat"] = two_prop_test(agree, rest_a, seen, rest_s)
    stats["rdt"] = two_prop_test(disagree, rest_d, seen, rest_s)
    return stats


def _finalize(stats: dict, g: int, j: int) -> dict:
    """One statement's repness entry for group g, for agree or disagree, whichever has the larger r*t."""
    side = "a" if stats["rat"][g, j] > stats["rdt"][g, j] else "d"
    return {"statement": int(j), "repful_for": "agree" if side == "a" else "disagree",
            "n_success": int(stats["n" + side][g, j]), "n_trials": int(stats["ns"][g, j]),
            "p_success": float(stats["p" + side][g, j]), "p_test": float(stats[f"p{side}t"][g, j]),
            "repness": float(stats["r" + side][g, j]), "repness_test": float(stats[f"r{side}t"][g, j])}


def _metric(entry: dict) -> float:
    return entry["repness"] * entry["repness_test"] * entry["p_success"] * entry["p_test"]


def _best_agree(stats: dict, g: int, candidates: np.ndarray) -> int | None:
    """Polis's running 'best agree' statement for group g (beats-best-agr? applied in statement order)."""
    best = None
    na, nd, ra, rat, pa, pat = (stats[k][g] for k in ("na", "nd", "ra", "rat", "pa", "pat"))
    for j in candidates:
        if na[j] == 0 and nd[j] == 0:
            continue
        if best is not None and ra[best] > 1.0:
            better = ra[j] * rat[j] * pa[j] * pat[j] > ra[best] * rat[best] * pa[best] * pat[best]
        elif best is not None:
            better = pa[j] * pat[j] > pa[best] * pat[best]
        else:
            better = pat[j] > Z_90 or (ra[j] > 1.0 and pa[j] > 0.5)
        if better:
            best = j
    return best


def representative(stats: dict, mod_out: np.ndarray, pick_max: int = PICK_MAX) -> list[list[dict]]:
    """Representative statements per group (list over groups of entries, see module docstring)."""
    n_groups, n_statements = stats["pa"].shape
    candidates = np.setdiff1d(np.arange(n_statements), mod_out)
    passes = ((stats["rat"] > Z_90) & (stats["pat"] > Z_90)) | ((stats["rdt"] > Z_90) & (stats["pdt"] > Z_90))
    out = []
    for g in range(n_groups):
        sufficient = [j for j in candidates if passes[g, j]]
        agree = _best_agree(stats, g, candidates)
        head = [dict(_finalize(stats, g, agree), best_agree=True)] if agree is not None else []
        if not sufficient:
            # Polis's running best by max(rat, rdt), strict improvement, in statement order.
            z = np.maximum(stats["rat"][g, candidates], stats["rdt"][g, candidates])
            fallback = [_finalize(stats, g, candidates[int(np.argmax(z))])] if len(candidates) else []
            out.append(head or fallback)
            continue
        rest = sorted((_finalize(stats, g, j) for j in sufficient if j != agree), key=_metric, reverse=True)
        chosen = (head + rest)[:pick_max]
        out.append([e for e in chosen if e["repful_for"] == "agree"] + [e for e in chosen if e["repful_for"] != "agree"])
    return out


def group_aware_consensus(agree: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """(n_statements,) product over groups of (A_g + 1) / (S_g + 2); inputs (n_groups, n_statements)."""
    return np.prod((agree + 1.0) / (seen + 2.0), axis=0)


def consensus(agree: np.ndarray, disagree: np.ndarray, seen: np.ndarray, mod_out: np.ndarray,
              pick_max: int = PICK_MAX) -> dict[str, list[dict]]:
    """Polis's overall consensus: {"agree": [...], "disagree": [...]}, each up to ``pick_max`` statements with
    p > 1/2 and z > 1.2816, best p * z first. Inputs (n_statements,) counts over all participants."""
    stats = comment_stats(agree, disagree, seen)
    keep = np.ones(len(agree), dtype=bool)
    keep[mod_out] = False
    out = {}
    for side, name in (("a", "agree"), ("d", "disagree")):
        p, z, n = stats["p" + side], stats[f"p{side}t"], stats["n" + side]
        ok = np.flatnonzero(keep & (p > 0.5) & (z > Z_90))
        ok = ok[np.argsort(-(p[ok] * z[ok]), kind="stable")][:pick_max]
        out[name] = [{"statement": int(j), "n_success": int(n[j]), "n_trials": int(seen[j]),
                      "p_success": float(p[j]), "p_test": float(z[j])} for j in ok]
    return out


def priority(agree: np.ndarray, passes: np.ndarray, seen: np.ndarray, extremity: np.ndarray,
             is_meta: np.ndarray) -> np.ndarray:
    """(n_statements,) Polis comment priority (which statement to show next)."""
    p = (passes + 1.0) / (seen + 2.0)
    a = (agree + 1.0) / (seen + 2.0)
    importance = (1 - p) * (extremity + 1) * a
    return np.where(is_meta, META_PRIORITY, importance * (1 + 8 * 2.0 ** (-seen / 5))) ** 2
