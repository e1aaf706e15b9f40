"""Constitutions: ordered lists of principles, each with a critique request, a revision request and a
choice prompt.

- :func:`load` / :func:`save` — our JSON, or the Anthropic CAI instruction files (see :mod:`.formats`).
- :func:`default_constitution` — the package's own ten principles.
"""

from pluralign.constitution.default import default_constitution
from pluralign.constitution.formats import load, save
from pluralign.constitution.templates import PrincipleTemplates

__all__ = ["PrincipleTemplates", "default_constitution", "load", "save"]
