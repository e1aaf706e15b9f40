"""The multiple-choice step of AI feedback: P("(A)") vs P("(B)") from one forward pass, and the corrections
that make those probabilities mean something for a small model.

A question ends with "The answer is:". The model's next tokens would be " (" "A" ")" on raw text and "(" "A"
")" under a chat template, so the letters are the only tokens that differ: one forward pass over
question + answer prefix gives both letters' probabilities at the last position.

Small models pick a position more than a response (SmolLM2-135M answers (A) 93% of the time on raw text), so:

- :func:`order_average` scores both option orders and averages, cancelling position bias;
- :func:`calibrate` divides by the probabilities given to a content-free question (Zhao et al., 2021,
  "Calibrate before use"), removing the bias the template itself carries;
- :func:`clamp` bounds chain-of-thought answers, which are over-confident (Bai et al., 2022, section 4.1).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch

from pluralign.lm.base import LanguageModel, Prompt

LETTERS = ("A", "B")
YES_NO = ("Yes", "No")


def answer_prefix(chat: bool) -> str:
    """The text the model writes before the letter: "(" under a chat template, " (" after raw text."""
    return "(" if chat else " ("


def letter_probabilities(
    lm: LanguageModel,
    questions: Sequence[Prompt],
    *,
    low_precision: bool = False,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """P(A) normalised over {A, B} for each question; shape (n,).

    low_precision: on a transformers backend, read the letters from the weights it generates with (bf16 on a
    GPU or a bf16-capable CPU, about 2x faster; decisions agree with fp32 on ~96% of questions) instead of fp32.

    Raw-text questions are scored after " (", chat questions (lists of messages) after "(". On a transformers
    backend one forward pass per question reads both letters; other backends score " (A" and " (B" as two
    continuations in one batched call (the closing ")" is left out on both paths, so they agree).
    """
    return answer_probabilities(lm, questions, LETTERS, prefix=answer_prefix, low_precision=low_precision,
                                progress=progress)


def yes_probabilities(
    lm: LanguageModel,
    questions: Sequence[Prompt],
    *,
    low_precision: bool = False,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """P(Yes) normalised over {Yes, No} as the next word of each question; shape (n,).

    Raw text (ending e.g. in "Answer:") is read as " Yes" / " No", a chat question as "Yes" / "No".
    """
    return answer_probabilities(lm, questions, YES_NO, prefix=lambda chat: "" if chat else " ",
                                low_precision=low_precision, progress=progress)


def answer_probabilities(lm, questions, words: Sequence[str], *, prefix: Callable[[bool], str],
                         low_precision: bool = False, progress=None) -> np.ndarray:
    """P(words[0]) normalised over the two ``words`` written after ``prefix(chat)``; shape (n,).

    On a transformers backend, where each word (with the prefix's trailing space, if any) is one token, one
    forward pass per question reads both; otherwise the two continuations are scored.
    """
    kinds = {not isinstance(q, str) for q in questions}
    tokens = {chat: single_tokens(lm.tokenizer, words, _split_space(prefix(chat))[1]) for chat in kinds} \
        if hasattr(lm, "model") and hasattr(lm, "encode_prompt") else {}
    if tokens and None not in tokens.values():
        # The backend's generation weights: a bf16 copy where that is faster, else the fp32 model itself.
        model = lm._generation_model() if low_precision else lm.model
        out = np.empty(len(questions))
        for chat in kinds:  # raw and chat questions may read different tokens (" Yes" vs "Yes")
            idx = [i for i, q in enumerate(questions) if (not isinstance(q, str)) == chat]
            lead = _split_space(prefix(chat))[0]
            lead_ids = lm.tokenizer(lead, add_special_tokens=False)["input_ids"] if lead else []
            rows = [lm.encode_prompt(questions[i]) + lead_ids for i in idx]
            out[idx] = next_token_pair(lm, rows, tokens[chat], model=model, progress=progress)
        return out
    conts = [prefix(not isinstance(q, str)) + word for q in questions for word in words]
    scores = lm.score([q for q in questions for _ in words], conts)
    logp = np.array([s.logprob for s in scores]).reshape(-1, 2)
    if progress:
        progress(len(questions))
    return 1.0 / (1.0 + np.exp(logp[:, 1] - logp[:, 0]))


def _split_space(prefix: str) -> tuple[str, str]:
    """A prefix's leading text and its trailing space: the space belongs to the next word's token."""
    return (prefix[:-1], " ") if prefix.endswith(" ") else (prefix, "")


def single_tokens(tokenizer, words: Sequence[str], space: str = "") -> list[int] | None:
    """The token id of each of ``words`` (after ``space``), or None when one of them is several tokens."""
    ids = [tokenizer(space + word, add_special_tokens=False)["input_ids"] for word in words]
    return [i[0] for i in ids] if all(len(i) == 1 for i in ids) else None


@torch.inference_mode()
def next_token_pair(lm, rows: Sequence[list[int]], token_ids: Sequence[int], *, model=None,
                    progress: Callable[[int], None] | None = None) -> np.ndarray:
    """For token-id rows on a transformers backend: P(first token) / (P(first) + P(second)) as the next token
    after each row; shape (n,). Rows are batched by length and padded on the left."""
    model = model if model is not None else lm.model
    tok = lm.tokenizer
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    out = np.empty(len(rows))
    for start in range(0, len(order), lm.batch_size):
        idx = order[start : start + lm.batch_size]
        width = max(len(rows[i]) for i in idx)
        ids = torch.tensor([[tok.pad_token_id] * (width - len(rows[i])) + rows[i] for i in idx], device=lm.device)
        mask = torch.tensor([[0] * (width - len(rows[i])) + [1] * len(rows[i]) for i in idx], device=lm.device)
        # Left padding: positions come from the mask, or padded rows would see shifted positions.
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=1).logits
        pair = logits[:, -1, list(token_ids)].float()
        out[idx] = torch.softmax(pair, dim=-1)[:, 0].cpu().numpy()
        if progress:
            progress(len(idx))
    return out


@torch.inference_mode()
def shared_stem_probabilities(lm, stems: Sequence[str], endings: Sequence[Sequence[str]], *,
                              low_precision: bool = False, words: Sequence[str] = LETTERS, prefix: str = " (",
                              stems_per_pass: int | None = None,
                              progress: Callable[[int], None] | None = None) -> np.ndarray:
    """P(words[0]) for the raw-text questions ``stems[i] + endings[i][j]``, shape (n_stems, n_endings), on a
    transformers backend: each stem runs once and its endings run as a batch on top of its key/value cache.

    Both option orders of one question (or one conversation with each of two responses) share everything up to
    the point where they differ, so this halves the work when the shared part is longer than the rest. Stems
    share work too: they run in token order, and each starts from the cache of the tokens it has in common with
    the stem before it (few-shot examples, a principle, a conversation asked under several principles), which is
    computed once. Stems are batched ``lm.batch_size`` at a time on accelerators (one at a time on a CPU); endings
    are padded on the right, each row's answer read at its own last token. ``words``/``prefix``: the two answers
    and what precedes them (letters after " (" by default; ``YES_NO`` after " "). Every stem needs the same number
    of endings.
    """
    tok, device = lm.tokenizer, lm.device
    model = lm._generation_model() if low_precision else lm.model
    lead, space = _split_space(prefix)
    word_ids = single_tokens(tok, words, space)
    if word_ids is None:
        raise ValueError(f"answers {list(words)} are not single tokens for this tokenizer")
    n_end = len(endings[0]) if len(endings) else 0
    if any(len(e) != n_end for e in endings) or len(endings) != len(stems):
        raise ValueError("every stem needs the same number of endings")
    stem_rows = [lm.encode_prompt(s) for s in stems]
    end_rows = [[tok(e + lead, add_special_tokens=False)["input_ids"] for e in ends] for ends in endings]
    # The decoder body alone: the vocabulary projection (a fifth of a 135M model's work per token) runs only
    # on the one position per row where an answer is read.
    body, head = model.get_decoder(), model.get_output_embeddings()
    # On a CPU the padding of stems of different lengths costs more than batching saves (measured: 1.5x slower
    # on long conversations; batching only stems within 20% of each other's length gained nothing), so stems go
    # one at a time there by default.
    per_pass = stems_per_pass or (lm.batch_size if torch.device(device).type != "cpu" else 1)
    out = np.empty((len(stems), n_end))
    order = sorted(range(len(stems)), key=lambda i: stem_rows[i])  # neighbours share the longest prefixes
    kept_ids: list[int] = []  # the tokens whose cache (batch of one) is kept from pass to pass
    kept = None
    for start in range(0, len(order), per_pass):
        idx = order[start : start + per_pass]
        rows = [stem_rows[i] for i in idx]
        keep = _common_prefix_length([kept_ids, *rows])
        if kept is not None and keep < len(kept_ids):
            kept.crop(keep - len(kept_ids))  # a negative count: drop that many tokens from the end
        kept, kept_ids = (kept, kept_ids[:keep]) if keep else (None, [])
        common = _common_prefix_length(rows)
        if common > keep:  # the tokens every stem of this pass shares run once, on top of the kept ones
            kept = body(input_ids=torch.tensor([rows[0][keep:common]], device=device), past_key_values=kept,
                        position_ids=torch.arange(keep, common, device=device)[None, :], use_cache=True
                        ).past_key_values
            kept_ids = rows[0][:common]
        cache = copy.deepcopy(kept) if kept is not None else None  # later passes start from ``kept`` too
        if cache is not None:
            cache.batch_repeat_interleave(len(idx))
        rest = [r[common:] for r in rows]
        width = max(len(r) for r in rest)
        own = (torch.arange(width, device=device)[None, :]
               >= torch.tensor([width - len(r) for r in rest], device=device)[:, None]).long()
        stem_mask = torch.cat([torch.ones(len(idx), common, dtype=torch.long, device=device), own], dim=1)
        if width:  # the rest of each stem, padded on the left (between the shared part and its own tokens)
            ids = torch.tensor([[tok.pad_token_id] * (width - len(r)) + r for r in rest], device=device)
            positions = (stem_mask.cumsum(-1) - 1).clamp(min=0)[:, common:]
            cache = body(input_ids=ids, attention_mask=stem_mask, position_ids=positions, past_key_values=cache,
                         use_cache=True).past_key_values
        cache.batch_repeat_interleave(n_end)
        end = [r for i in idx for r in end_rows[i]]
        lengths = torch.tensor([len(r) for r in end], device=device)
        end_width = int(lengths.max())
        ids = torch.tensor([r + [tok.pad_token_id] * (end_width - len(r)) for r in end], device=device)
        end_mask = (torch.arange(end_width, device=device)[None, :] < lengths[:, None]).long()
        mask = torch.cat([stem_mask.repeat_interleave(n_end, dim=0), end_mask], dim=1)
        stem_len = torch.tensor([len(r) for r in rows], device=device).repeat_interleave(n_end)
        positions = stem_len[:, None] + torch.arange(end_width, device=device)[None, :]
        hidden = body(input_ids=ids, attention_mask=mask, position_ids=positions,
                      past_key_values=cache).last_hidden_state
        last = hidden[torch.arange(len(end), device=device), lengths - 1]
        answers = torch.softmax(head(last)[:, word_ids].float(), dim=-1)[:, 0]
        out[idx] = answers.reshape(len(idx), n_end).cpu().numpy()
        if progress:
            progress(len(end))
    return out


def _common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """How many tokens all ``rows`` start with."""
    first, length = rows[0], min(len(r) for r in rows)
    for row in rows[1:]:
        length = next((k for k in range(length) if row[k] != first[k]), length)
    return length


def order_average(p_ab: np.ndarray, p_ba: np.ndarray) -> np.ndarray:
    """P(first response better) from both orders: ``p_ab`` = P(A) with it shown first, ``p_ba`` with it second."""
    return (np.asarray(p_ab) + 1.0 - np.asarray(p_ba)) / 2.0


def calibrate(p: np.ndarray, p_content_free: np.ndarray | float) -> np.ndarray:
    """Contextual calibration: reweight P(A), P(B) by 1 / their content-free probabilities and renormalise."""
    p, q = np.asarray(p, dtype=float), np.clip(np.asarray(p_content_free, dtype=float), 1e-6, 1 - 1e-6)
    a, b = p / q, (1.0 - p) / (1.0 - q)
    return a / (a + b)


def clamp(p: np.ndarray, low: float = 0.4, high: float = 0.6) -> np.ndarray:
    """Bound soft labels to [low, high] (the paper's remedy for over-confident chain-of-thought answers)."""
    if not 0.0 <= low <= 0.5 <= high <= 1.0:
        raise ValueError(f"clamp needs 0 <= low <= 0.5 <= high <= 1, got ({low}, {high})")
    return np.clip(np.asarray(p, dtype=float), low, high)
