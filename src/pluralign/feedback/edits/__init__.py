"""Learning a user's latent preference from their edits (PRELUDE / CIPHER, Gao et al. 2024).

- :mod:`.cost` — the cost of an edit: word-level Levenshtein distance (rapidfuzz), its tokenizer stated.
- :mod:`.users` — simulated users: deterministic text transforms, or any model, one latent preference per source.
- :mod:`.agents` — no-learning, oracle, ICL-edit, CIPHER-1 and CIPHER-k.
- :mod:`.retrieval` — MiniLM or the model's own embeddings; top-k past contexts.
- :mod:`.session` — the round loop and its resumable, seeded JSONL log.
- :mod:`.metrics` — cumulative cost with intervals; preference-inference accuracy with controls.
- :mod:`.principles` — a learned preference as a Principle (a personal constitution for ``cai label``).
"""
