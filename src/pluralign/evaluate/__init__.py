"""Evaluation: whose values did the model end up with?

- :mod:`.distributional` — answer distributions vs each group's (1 − Jensen–Shannon distance; 1 − W1/(N−1)).
- :mod:`.steerable` — answering as a group member vs unsteered; Value Kaleidoscope support/oppose/either.
- :mod:`.overton` — how many of a situation's values one answer covers, with the judge's own controls.
- :mod:`.panel` — the model asked the run's own statements, vs each opinion group's votes.
- :mod:`.bias` — BBQ accuracy and bias scores (s_DIS, s_AMB).
- :mod:`.safety` — harmful rate per language and global/local, judged under a constitution, with the judge's
  reliability; win rate against a baseline.
- :mod:`.capability` — held-out answer log-likelihood and BBQ disambiguated accuracy, before vs after.
- :mod:`.report` — one self-contained HTML page of all of it.

Shared: :mod:`.metrics` (distances, bootstrap intervals), :mod:`.data` (readers), :mod:`.ask` (asking many
multiple-choice questions through :mod:`pluralign.lm.multiple_choice`).
"""
