"""Option log-probs on a transformers model with shared prefixes computed once.

Multiple-choice questions are mostly shared text: the options of one question share the question, the two
option orders of a comparison share the conversation, and a principle's few-shot block is the same for every
question asked under it. :func:`option_logprobs` runs each distinct prefix once and reuses its key/value cache:

- prompts run in token order, and each starts from the cache of the tokens it shares with the prompt before it
  (cropped to that shared part, then extended);
- the options' common first tokens (``"("`` of ``"(A"``/``"(B"``) are part of the prompt's pass, and options that
  are one token past that are read from the prompt's last position, so ``"(A"``/``"(B"``/``"(C"`` cost one pass;
  longer options run as one batch on top of the prompt's cache;
- the vocabulary projection runs only at the positions where an option token is read.

The cache is a plain :class:`~transformers.DynamicCache` with every layer kept whole, also for models with
sliding-window or hybrid attention (Gemma 2/3, Mistral): cropping a sliding-window cache fails once the window is
full ("crop was called, but the current layer does not track past states"), and a whole cache with the model's own
sliding-window mask gives the same attention as the model's full forward pass.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch


def common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """How many tokens all ``rows`` start with.

    >>> common_prefix_length([[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 9]])
    2
    """
    first, length = rows[0], min(len(r) for r in rows)
    for row in rows[1:]:
        length = next((k for k in range(length) if row[k] != first[k]), length)
    return length


def has_sliding_window(config) -> bool:
    """True when some attention layer sees only a window of recent tokens (Gemma 2/3, Mistral, ...)."""
    text = config.get_text_config()
    layer_types = getattr(text, "layer_types", None)
    if layer_types:
        return any("sliding" in kind for kind in layer_types)
    return bool(getattr(text, "sliding_window", None)) and getattr(text, "use_sliding_window", True)


def _new_cache():
    from transformers import DynamicCache

    return DynamicCache()  # no config: every layer is a full layer, so crop() always works


def _logits(model, hidden: torch.Tensor) -> torch.Tensor:
    """The vocabulary projection of some hidden states, with the model's final soft-capping if it has one."""
    logits = model.get_output_embeddings()(hidden).float()
    cap = getattr(model.config.get_text_config(), "final_logit_softcapping", None)
    return torch.tanh(logits / cap) * cap if cap else logits


@torch.inference_mode()
def option_logprobs(model, pad_id: int, prompt_rows: Sequence[list[int]], option_rows: Sequence[list[int]], *,
                    device, prompts_per_pass: int = 1,
                    progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Summed log-prob of each option's tokens after each prompt's tokens; shape (n_prompts, n_options), nats.

    ``prompts_per_pass`` prompts run as one batch, each padded between the part they share and its own tokens
    (worth it on accelerators; on a CPU the padding of prompts of different lengths costs more than batching
    saves, so one at a time there). Models with sliding-window layers always run one prompt per pass: padding
    inside a row would move real tokens out of each other's window.
    """
    if has_sliding_window(model.config):
        prompts_per_pass = 1
    common = common_prefix_length(option_rows)
    lead = option_rows[0][:common]  # the tokens every option starts with: part of each prompt's pass
    rests = [o[common:] for o in option_rows]  # what differs; an empty rest is an option that is all ``lead``
    stems = [list(p) + lead for p in prompt_rows]
    n_read = len(lead) + 1  # positions read at each stem's end: the lead's tokens and the first differing one
    if any(len(p) == 0 for p in prompt_rows):
        raise ValueError("every prompt needs at least one token")
    body = model.get_decoder()
    out = np.empty((len(stems), len(option_rows)))
    order = sorted(range(len(stems)), key=lambda i: stems[i])  # neighbours share the longest prefixes
    kept_ids: list[int] = []  # the tokens whose cache (batch of one) is kept from pass to pass
    kept = None
    for start in range(0, len(order), prompts_per_pass):
        idx = order[start : start + prompts_per_pass]
        rows = [stems[i] for i in idx]
        # The last n_read positions of every stem are computed in this pass, whatever is cached.
        reusable = min(len(r) for r in rows) - n_read
        keep = min(common_prefix_length([kept_ids, *rows]), reusable)
        if kept is not None and keep < len(kept_ids):
            kept.crop(keep - len(kept_ids))  # a negative count: drop that many tokens from the end
        kept, kept_ids = (kept, kept_ids[:keep]) if keep else (None, [])
        shared = min(common_prefix_length(rows), reusable)
        if shared > keep:  # what every stem of this pass shares runs once, on top of the kept tokens
            kept = body(input_ids=torch.tensor([rows[0][keep:shared]], device=device),
                        cache=kept if kept is not None else _new_cache(),
                        position_ids=torch.arange(keep, shared, device=device)[None, :], use_cache=True
                        ).cache
            kept_ids = rows[0][:shared]
        start_len = len(kept_ids)
        alone = len(idx) == 1  # one prompt: extend the kept cache in place and keep all of it for the next
        cache = (kept if alone else _copy_cache(kept, len(idx))) if kept is not None else _new_cache()
        rest = [r[start_len:] for r in rows]
        width = max(len(r) for r in rest)
        own = (torch.arange(width, device=device)[None, :]
               >= torch.tensor([width - len(r) for r in rest], device=device)[:, None]).long()
        stem_mask = torch.cat([torch.ones(len(idx), start_len, dtype=torch.long, device=device), own], dim=1)
        ids = torch.tensor([[pad_id] * (width - len(r)) + r for r in rest], device=device)
        positions = (stem_mask.cumsum(-1) - 1).clamp(min=0)[:, start_len:]
        result = body(input_ids=ids, attention_mask=stem_mask, position_ids=positions, cache=cache, use_cache=True)
        cache = result.cache
        if alone:
            kept, kept_ids = cache, rows[0]
        stem_logp = torch.log_softmax(_logits(model, result.last_hidden_state[:, -n_read:]), dim=-1)
        # The lead's tokens, read where each is predicted; then the first differing token of every option.
        lead_lp = (stem_logp[:, :-1].gather(-1, torch.tensor(lead, device=device).expand(len(idx), -1)[..., None])
                   .squeeze(-1).sum(-1) if lead else torch.zeros(len(idx), device=device))
        scores = lead_lp[:, None].repeat(1, len(rests))
        for j, r in enumerate(rests):
            if r:
                scores[:, j] += stem_logp[:, -1, r[0]]
        longer = [j for j, r in enumerate(rests) if len(r) > 1]
        if longer:  # options longer than one differing token: their remaining tokens as one batch on the cache
            scores[:, longer] += _continuations(model, body, _copy_cache(cache, 1) if alone else cache, stem_mask, [rests[j] for j in longer],
                                                [len(r) for r in rows], pad_id, device)
        out[idx] = scores.cpu().numpy()
        if progress:
            progress(len(idx))
    return out


def _copy_cache(cache, batch: int):
    """A batch-``batch`` copy of a batch-1 cache, leaving the original as it was."""
    copied = copy.deepcopy(cache)
    if batch > 1:
        copied.batch_repeat_interleave(batch)
    return copied


def _continuations(model, body, cache, stem_mask, rests: list[list[int]], stem_lengths: list[int], pad_id, device):
    """Summed log-prob of tokens 2.. of each rest after its stem, shape (n_stems, n_rests); ``cache`` holds the
    stems (batch n_stems) and is repeated once per rest."""
    n_stems, n_rests = stem_mask.shape[0], len(rests)
    cache.batch_repeat_interleave(n_rests)
    inputs = [r[:-1] for r in rests]  # each rest's tokens but the last predict its next ones
    lengths = torch.tensor([len(r) for r in inputs], device=device).repeat(n_stems)
    width = int(lengths.max())
    ids = torch.tensor([r + [pad_id] * (width - len(r)) for r in inputs], device=device).repeat(n_stems, 1)
    end_mask = (torch.arange(width, device=device)[None, :] < lengths[:, None]).long()
    mask = torch.cat([stem_mask.repeat_interleave(n_rests, dim=0), end_mask], dim=1)
    base = torch.tensor(stem_lengths, device=device).repeat_interleave(n_rests)
    positions = base[:, None] + torch.arange(width, device=device)[None, :]
    hidden = body(input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache).last_hidden_state
    logp = torch.log_softmax(_logits(model, hidden), dim=-1)  # (n_stems * n_rests, width, vocab)
    targets = torch.tensor([r[1:] + [0] * (width - len(r) + 1) for r in rests], device=device).repeat(n_stems, 1)
    picked = logp.gather(-1, targets[..., None]).squeeze(-1) * end_mask
    return picked.sum(-1).reshape(n_stems, n_rests)
