"""Batch sizing of the transformers backend: rows sorted by length, padding bounded, results unchanged."""

import pytest

from pluralign.lm.hf import AUTO_ROWS, TOKEN_BUDGET, HFBackend
from pluralign.lm.tiny import tiny_model


@pytest.fixture(scope="module")
def tiny():
    return tiny_model(seed=0)


def test_fixed_batches_take_rows_shortest_first(tiny):
    lm = HFBackend(model_obj=tiny[0], tokenizer=tiny[1], device="cpu", batch_size=3)
    lengths = [9, 1, 5, 7, 3, 2, 8]
    assert lm.batches(lengths) == [[1, 5, 4], [2, 3, 6], [0]]


def test_automatic_batches_bound_padding_and_tokens(tiny):
    lm = HFBackend(model_obj=tiny[0], tokenizer=tiny[1], device="cpu")
    lengths = [10] * 40 + [12] * 5 + [400, 410, 1000, 30]
    batches = lm.batches(lengths, new_tokens=64)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        rows = [lengths[i] for i in b]
        assert len(b) <= AUTO_ROWS and rows == sorted(rows)
        assert max(rows) <= 1.5 * min(rows) + 16  # long conversations are not padded to short prompts
        assert len(b) == 1 or len(b) * (max(rows) + 64) <= TOKEN_BUDGET
    assert [len(b) for b in batches][:2] == [32, 14]  # short prompts fill whole batches
    assert any(b == [lengths.index(1000)] for b in batches)


def test_scores_do_not_depend_on_batching(tiny):
    prompts = ["a b", "a b c d e f g h i j k l", "x", "hello there how are you today"] * 3
    conts = ["c", "d e", "y z w", "fine"] * 3
    one = HFBackend(model_obj=tiny[0], tokenizer=tiny[1], device="cpu", batch_size=1).score(prompts, conts)
    auto = HFBackend(model_obj=tiny[0], tokenizer=tiny[1], device="cpu").score(prompts, conts)
    assert [s.n_tokens for s in one] == [s.n_tokens for s in auto]
    assert [s.logprob for s in auto] == pytest.approx([s.logprob for s in one], abs=1e-4)
