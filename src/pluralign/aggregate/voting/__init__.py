"""Vectorised voting rules: a whole dataset of ballots as padded numpy tensors, one pure function per rule.

``profiles`` builds the tensors, ``pairwise`` the margin graph and path algebra, ``outcome`` the result type,
``rules`` the positional and margin rules, ``orders`` the rules that search over orders (Kemeny–Young, ranked
pairs), ``lotteries`` maximal lotteries and Bradley–Terry.
"""
