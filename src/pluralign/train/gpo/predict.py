"""A trained GPO as a predictor: ``GpoPredictor.load("runs/gpo/gpo.pt").predict(context, targets)``.

Targets never attend to each other (the mask, :mod:`.model`), so predicting them in chunks gives the same
numbers as predicting them all at once; chunks keep the attention matrices small. A model meta-trained with
a prior (``prior`` not "none") also needs the prior of every context and target question
(:meth:`.prior.PopulationPrior.episode` builds them from the data it was trained on).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pluralign.errors import InputError
from pluralign.train.gpo.meta import GpoConfig, pack
from pluralign.train.gpo.model import GPO


class GpoPredictor:
    def __init__(self, model: GPO, dim_x: int, config: GpoConfig, embedder: str = "", source: str = "",
                 train_groups: list[str] | None = None):
        self.model, self.dim_x, self.config, self.embedder, self.source = model.eval(), dim_x, config, embedder, source
        self.train_groups = list(train_groups or [])

    @property
    def needs_prior(self) -> bool:
        return self.config.prior != "none"

    @classmethod
    def load(cls, path: str | Path) -> "GpoPredictor":
        path = Path(path)
        if path.is_dir():
            path = path / "gpo.pt" if (path / "gpo.pt").is_file() else path / "checkpoint.pt"
        if not path.is_file():
            raise InputError("no GPO model here (expected gpo.pt or checkpoint.pt)", path=str(path))
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
            config = GpoConfig(**{"prior": "none", **state["config"]})  # models from before the prior had none
        except Exception as err:  # a torch file of another kind, or a damaged one
            raise InputError(f"not a GPO checkpoint ({type(err).__name__})", path=str(path)) from None
        model = GPO(state["dim_x"], **config.model_kwargs(), n_reference=state.get("n_reference", 0))
        model.load_state_dict(state["model"])
        return cls(model, state["dim_x"], config, state.get("embedder", ""), str(path), state.get("train_groups"))

    @torch.no_grad()
    def predict(self, context, targets, context_prior=None, target_prior=None, chunk: int = 64) -> list[np.ndarray]:
        """context: list of (x (k, dim_x), y (k,)) answered questions; targets: list of x (k, dim_x); the priors
        (needed where ``needs_prior``): the prior's distribution over each one's options, (k,) or (k, F).
        Returns one distribution over each target's options."""
        return self.predict_many([(context, targets, context_prior, target_prior)], chunk)[0]

    @torch.no_grad()
    def predict_many(self, episodes, chunk: int = 64) -> list[list[np.ndarray]]:
        """episodes: (context, targets) or (context, targets, context_prior, target_prior) as in :meth:`predict`."""
        episodes = [tuple(e) + (None,) * (4 - len(e)) for e in episodes]
        if self.needs_prior and any(e[2] is None or e[3] is None for e in episodes):
            raise InputError(f"this GPO model was meta-trained with prior={self.config.prior!r}: it needs the prior "
                             "distribution of every context and target question", field="prior")
        pieces = [(e, start) for e, ep in enumerate(episodes) for start in range(0, len(ep[1]), chunk)]
        out: list[list[np.ndarray]] = [[] for _ in episodes]
        for i in range(0, len(pieces), 8):
            group = pieces[i:i + 8]
            batch = pack([self._piece(episodes[e], s, chunk) for e, s in group], self.dim_x)
            probs, _ = self.model(batch["x"], batch["y"], batch["is_target"], batch["question"], batch["pad"],
                                  batch["prior"])
            for row, (e, s) in enumerate(group):
                n_ctx = len(episodes[e][0])
                q, p = batch["question"][row].numpy(), probs[row].numpy()
                real = ~batch["pad"][row].numpy() & batch["is_target"][row].numpy()
                for j in range(len(episodes[e][1][s:s + chunk])):
                    out[e].append(p[real & (q == n_ctx + j)].astype(np.float64))
        return out

    @staticmethod
    def _piece(episode, start: int, chunk: int):
        context, targets, context_prior, target_prior = episode
        piece = (context, targets[start:start + chunk])
        return piece if context_prior is None else piece + (list(context_prior) +
                                                             list(target_prior[start:start + chunk]),)
