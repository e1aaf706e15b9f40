"""Aggregation: from many people's votes and rankings to collective judgements.

Submodules: ``socialchoice`` (voting rules over rankings, vectorised over prompts), ``proportional``
(proportional aggregation across prompts), ``opinion`` (Polis-style opinion groups and consensus).
"""
