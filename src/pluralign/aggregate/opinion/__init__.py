"""Opinion groups and consensus from a vote matrix: Polis's math on sparse input.

    from pluralign.aggregate.opinion import read_polis_export, analyze
    result = analyze(read_polis_export("conversation/"))
    result.groups, result.gac, result.repness, result.consensus

Modules, one idea each: :mod:`.matrix` (votes in, readers), :mod:`.pca` (PCA with missing votes and
projections), :mod:`.clusters` (participant filter, base clusters, groups by silhouette), :mod:`.repness`
(representative statements, consensus, priority), :mod:`.analysis` (all of it in one call).
"""

from pluralign.aggregate.opinion.analysis import OpinionResult, analyze
from pluralign.aggregate.opinion.matrix import (VoteMatrix, build, from_votes, read_polis_api, read_polis_export,
                                                read_polis_groups)

__all__ = ["OpinionResult", "VoteMatrix", "analyze", "build", "from_votes", "read_polis_api", "read_polis_export",
           "read_polis_groups"]
