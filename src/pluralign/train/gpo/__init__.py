"""Group Preference Optimization (Zhao et al., ICLR 2024): predict a group's answer distributions on new
questions from a few of its answers, with a small transformer meta-trained across many groups.

- :mod:`.data`: readers (OpinionQA, GlobalOpinionQA, Polis) into one :class:`~.data.Survey` of groups x questions
- :mod:`.embeddings`: "question + option" embeddings, cached on disk by (model, text)
- :mod:`.prior`: the population (or nearest-groups) prior the model can start from, beyond the paper
- :mod:`.model`: the transformer (context points attend to context points only; per-question softmax)
- :mod:`.meta`: the meta-training loop (seeded, resumable) and :class:`~.meta.GpoConfig`
- :mod:`.predict`: a trained model as a predictor (load a checkpoint, predict a group's distributions)
- :mod:`.metrics`: alignment scores and bootstrap intervals
- :mod:`.baselines`: uniform, population, per-group logistic regression, LM zero-shot / steered / in-context
- :mod:`.label`: label response pairs for one group as Comparison records
"""
