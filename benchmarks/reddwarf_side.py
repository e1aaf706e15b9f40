"""red-dwarf's side of ``bench_opinion.py``: its own CSV export reader and pipeline, importing nothing of ours, so
that the fresh-process row times red-dwarf's imports and start-up alone."""

from __future__ import annotations

import warnings
from pathlib import Path

# Demographic questions, which Polis keeps out of its math as meta statements; its CSV export does not mark them.
# Both implementations get them as moderated out.
META = {"london.youth.policing": list(range(0, 15)), "scoop-hivemind.ubi": list(range(32, 43))}


class LocalFiles:
    """Stands in for red-dwarf's HTTP session so that its CSV export reader reads local files."""

    def get(self, url: str):
        response = type("Response", (), {})()
        response.text = Path(url).read_text(encoding="utf-8")
        return response


def reddwarf_read(folder: Path):
    """red-dwarf's own CSV export reading (Loader.load_remote_export_data without the network)."""
    from reddwarf.data_loader import Loader

    loader = Loader()
    loader.session = LocalFiles()
    loader.load_remote_export_data_comments(f"{folder}/")
    loader.load_remote_export_data_votes(f"{folder}/")
    loader.filter_duplicate_votes(keep="recent")
    mod_out = [c["statement_id"] for c in loader.comments_data if c["moderated"] == -1]
    return loader.votes_data, sorted(set(mod_out) | set(META.get(folder.name, [])))


def reddwarf_run(votes, mod_out, seed: int = 0):
    from reddwarf.implementations.polis import run_pipeline

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_pipeline(votes=votes, mod_out_statement_ids=mod_out, random_state=seed)
    df = result.participants_df
    return {str(p): int(g) for p, g in zip(df.index, df["cluster_id"]) if df.loc[p, "to_cluster"]}
