"""Opinion groups and consensus from a vote matrix: Polis's math on sparse input.

    from pluralign.aggregate.opinion import read_polis_export, analyze
    result = analyze(read_polis_export("conversation/"))
    result.groups, result.gac, result.repness, result.consensus

Modules, one idea each: :mod:`.matrix` (votes in, readers), :mod:`.pca` (PCA with missing votes and
projections), :mod:`.kmeans` (Polis's k-means and silhouette), :mod:`.clusters` (participant filter, base
clusters, groups by silhouette), :mod:`.repness` (representative statements, consensus, priority),
:mod:`.mathversion` (which Polis math computed an export), :mod:`.replay` (a conversation's history, update by
update, as a live Polis server ran it), :mod:`.choice` (replay or analyse once, fresh load or not, from an
export's evidence), :mod:`.analysis` (all of it in one call).
"""

from pluralign.lazy import lazy_getattr

# Names resolve on first use, so that importing the command line (``.cli``) does not load scikit-learn.
_HOME = {"OpinionResult": "analysis", "analyze": "analysis", "VoteMatrix": "matrix", "build": "matrix",
         "drop_participants": "matrix", "from_votes": "matrix", "read_polis_api": "matrix",
         "read_polis_export": "matrix", "read_polis_groups": "matrix", "read_votes": "matrix",
         "ReplayConfig": "replay", "detect_export": "mathversion"}

__getattr__ = lazy_getattr(__name__, _HOME)

__all__ = ["OpinionResult", "ReplayConfig", "VoteMatrix", "analyze", "build", "detect_export", "drop_participants",
           "from_votes", "read_polis_api", "read_polis_export", "read_polis_groups", "read_votes"]
