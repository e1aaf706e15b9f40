"""The GPO transformer (Zhao et al. 2024, sec. 3; reference ``models/tnp.py`` and ``models/gpo.py``).

Every option of every question is one point. A context point carries (x, y, 0): the embedding of "question +
option", the group's share choosing that option, and a flag 0; a target point carries (x, 0, 1). An MLP embeds
the points (tnp.py:38), a transformer encoder mixes them with a mask under which *every point attends only to
context points* (tnp.py:73-74; padding is masked out too, tnp.py:68-71), so a target's prediction depends on
the context and on its own x alone. A head (gpo.py:36-40) gives each point a logit and a log-std; the logits
are soft-maxed over each question's options (gpo.py:52-58), so the output for a target question is a
distribution over its options.

With ``prior="population"`` (:mod:`.prior`; beyond the paper) every point also reads p_pop, the population's
share of its option, and a context point the group's deviation from it, y − p_pop (a target's is 0); the
logit is a residual, log p_pop + delta, whose delta head starts at zero, so an untrained model is the
population baseline and training moves it only where the context says the group departs from it.
``prior="nearest_groups"`` puts the nearest-training-groups prediction in p_pop's place. With
``n_reference`` > 0 a point also reads each training group's departure from p_pop on its option (:mod:`.prior`).

Loss (gpo.py:60-78): the negative log-likelihood of the targets' y under Normal(mean = softmaxed share,
std = exp(log-std)), summed over target points (we divide by the number of target questions so the scale does
not grow with the number of targets); ``cross_entropy`` instead scores the predicted distribution against the
group's distribution directly (-sum y log p).
"""

from __future__ import annotations

import torch
from torch import nn


def mlp(dim_in: int, dim_hidden: int, dim_out: int, depth: int) -> nn.Sequential:
    """``depth`` linear layers with ReLUs between (reference models/modules.py:12-18)."""
    layers: list[nn.Module] = [nn.Linear(dim_in, dim_hidden), nn.ReLU()]
    for _ in range(depth - 2):
        layers += [nn.Linear(dim_hidden, dim_hidden), nn.ReLU()]
    layers.append(nn.Linear(dim_hidden, dim_out))
    return nn.Sequential(*layers)


class GPO(nn.Module):
    def __init__(self, dim_x: int, d_model: int = 128, layers: int = 6, heads: int = 4,
                 dim_feedforward: int = 128, emb_depth: int = 4, dropout: float = 0.0, prior: str = "none",
                 n_reference: int = 0):
        super().__init__()
        self.heads, self.prior, self.n_reference = heads, prior, n_reference
        extra = 2 + n_reference if prior != "none" else 0  # p_pop, y − p_pop, the reference columns
        self.embedder = mlp(dim_x + 2 + extra, d_model, d_model, emb_depth)  # x, y, is-target flag (+ extra)
        layer = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.predictor = nn.Sequential(nn.Linear(d_model, dim_feedforward), nn.ReLU(),
                                       nn.Linear(dim_feedforward, 2))
        if prior != "none":  # delta = 0 at the start: the prior itself (the population baseline)
            nn.init.zeros_(self.predictor[-1].weight[0])
            nn.init.zeros_(self.predictor[-1].bias[0])

    def attention_mask(self, is_target: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        """(B * heads, L, L) additive mask: query i may attend to key j iff j is a real context point."""
        keys = ~is_target & ~pad  # (B, L)
        mask = torch.zeros(keys.shape, dtype=torch.float32, device=keys.device).masked_fill(~keys, float("-inf"))
        length = keys.shape[1]
        return mask[:, None, :].expand(-1, length, -1).repeat_interleave(self.heads, dim=0)

    def forward(self, x, y, is_target, question, pad, prior=None):
        """x (B, L, dim_x), y (B, L), is_target / pad (B, L) bool, question (B, L) long: which question of its
        batch row each point's option belongs to; prior (B, L, 1 + n_reference): p_pop, then the reference
        groups' departures from it (read only where prior is not "none").
        Returns (probabilities (B, L): per-question softmax; zero on padding, log-std (B, L))."""
        hidden_y = is_target | pad
        y_in = torch.where(hidden_y, torch.zeros_like(y), y)  # targets never see their own answer
        features = [x, y_in[..., None], is_target[..., None].to(x.dtype)]
        if self.prior != "none":
            if prior is None:
                raise ValueError("this GPO model reads the population's share of each option: pass prior")
            p_pop = torch.where(pad, torch.ones_like(y), prior[..., 0])
            deviation = torch.where(hidden_y, torch.zeros_like(y), y - p_pop)
            features += [p_pop[..., None], deviation[..., None], prior[..., 1:1 + self.n_reference]]
        hidden = self.encoder(self.embedder(torch.cat(features, dim=-1)), mask=self.attention_mask(is_target, pad))
        logits, log_std = self.predictor(hidden).unbind(-1)
        if self.prior != "none":
            logits = logits + torch.log(p_pop)
        return segment_softmax(logits, question, pad), log_std


def segment_softmax(logits: torch.Tensor, question: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
    """Softmax of ``logits`` within each (batch row, question) segment; padding gets probability 0."""
    batch, length = logits.shape
    seg = (question + torch.arange(batch, device=logits.device)[:, None] * length).reshape(-1)
    flat = logits.masked_fill(pad, float("-inf")).reshape(-1)
    top = torch.full((batch * length,), float("-inf"), device=logits.device).scatter_reduce(
        0, seg, flat, reduce="amax", include_self=True)
    shifted = torch.where(pad.reshape(-1), torch.zeros_like(flat), flat - top[seg])
    e = torch.exp(shifted).masked_fill(pad.reshape(-1), 0.0)
    total = torch.zeros(batch * length, device=logits.device).scatter_add(0, seg, e)
    return (e / total[seg].clamp_min(1e-30)).reshape(batch, length)


def gpo_loss(probs, log_std, y, is_target, pad, question, kind: str = "gaussian") -> torch.Tensor:
    """Mean over batch rows of the summed target-point NLL, divided by each row's number of target questions."""
    weight = (is_target & ~pad).to(probs.dtype)
    if kind == "gaussian":
        nll = -torch.distributions.Normal(probs, torch.exp(log_std)).log_prob(y)
    else:
        nll = -y * torch.log(probs.clamp_min(1e-12))
    per_row = (nll * weight).sum(1)
    n_questions = torch.stack([question[b][weight[b] > 0].unique().numel() * torch.ones(())
                               for b in range(question.shape[0])]).to(probs.dtype)
    return (per_row / n_questions.clamp_min(1)).mean()
