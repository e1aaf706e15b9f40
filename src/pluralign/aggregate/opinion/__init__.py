"""Opinion groups and consensus from a vote matrix: Polis's math on sparse input.

    from pluralign.aggregate.opinion import read_polis_export, analyze
    result = analyze(read_polis_export("conversation/"))
    result.groups, result.gac, result.repness, result.consensus

Modules, one idea each: :mod:`.matrix` (votes in, readers), :mod:`.pca` (PCA with missing votes and
projections), :mod:`.clusters` (participant filter, base clusters, groups by silhouette), :mod:`.repness`
(representative statements, consensus, priority), :mod:`.analysis` (all of it in one call).
"""

import importlib

# Names resolve on first use, so that importing the command line (``.cli``) does not load scikit-learn.
_HOME = {"OpinionResult": "analysis", "analyze": "analysis", "VoteMatrix": "matrix", "build": "matrix",
         "from_votes": "matrix", "read_polis_api": "matrix", "read_polis_export": "matrix",
         "read_polis_groups": "matrix"}


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)


__all__ = ["OpinionResult", "VoteMatrix", "analyze", "build", "from_votes", "read_polis_api", "read_polis_export",
           "read_polis_groups"]
