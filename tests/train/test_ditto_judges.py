"""The authorship-classifier judge on synthetic authors with distinct habits, and win rates with intervals."""

from __future__ import annotations

import random

import pytest

from pluralign.train.ditto.judges import AuthorshipJudge, win_rate

TOPICS = ["the river", "my garden", "the election", "winter", "the market", "our school", "the train", "music"]


def _text(author: str, rng: random.Random) -> str:
    topic = rng.choice(TOPICS)
    if author == "formal":
        return (f"With regard to {topic}, I must observe that it is, in my considered view; rather remarkable. "
                f"Furthermore, one ought to consider {rng.choice(TOPICS)} as well; indeed, it is notable.")
    if author == "loud":
        return (f"omg {topic} is sooo good!!! honestly lol i can't even!!! "
                f"and {rng.choice(TOPICS)} too!!! gonna tell everyone lol!!")
    return (f"{topic.capitalize()} - short note. {rng.choice(TOPICS).capitalize()} - another note. "
            f"Numbers: {rng.randint(10, 99)}, {rng.randint(10, 99)}. End.")


@pytest.fixture(scope="module")
def judge():
    rng = random.Random(0)
    texts, authors = [], []
    for author in ("formal", "loud", "terse"):
        for _ in range(12):
            texts.append(_text(author, rng))
            authors.append(author)
    return AuthorshipJudge().fit(texts, authors)


def test_classifier_attributes_held_out_texts(judge):
    rng = random.Random(1)
    held = [(a, _text(a, rng)) for a in ("formal", "loud", "terse") for _ in range(10)]
    assert judge.accuracy([t for _, t in held], [a for a, _ in held]) == 1.0
    assert judge.authors == ["formal", "loud", "terse"]


def test_closer_output_wins_for_its_author(judge):
    rng = random.Random(2)
    formal = [_text("formal", rng) for _ in range(6)]
    loud = [_text("loud", rng) for _ in range(6)]
    verdicts = judge.compare("Write about a topic.", formal, loud, "formal", ("ditto", "sft"), unit="p1")
    assert [c.p_a for c in verdicts] == [1.0] * 6
    assert verdicts[0].provenance.details["system_a"] == "ditto" and verdicts[0].provenance.participants == ["formal"]
    assert verdicts[0].provenance.details["p_author_a"] > verdicts[0].provenance.details["p_author_b"]
    flipped = judge.compare("Write about a topic.", formal, loud, "loud", ("ditto", "sft"), unit="p1")
    assert [c.p_a for c in flipped] == [0.0] * 6
    same = judge.compare("p", formal[:2], formal[:2], "formal", ("a", "b"), unit="p1")
    assert [c.p_a for c in same] == [0.5, 0.5]


def test_win_rate_intervals_resample_prompts(judge):
    rng = random.Random(3)
    verdicts = []
    for unit in range(8):  # the formal output wins on 6 prompts of 8, loses on 2
        a, b = ("formal", "loud") if unit < 6 else ("loud", "formal")
        verdicts += judge.compare(f"p{unit}", [_text(a, rng) for _ in range(4)], [_text(b, rng) for _ in range(4)],
                                  "formal", ("x", "y"), unit=f"p{unit}")
    result = win_rate(verdicts)
    assert result["win_rate"] == pytest.approx(0.75) and result["units"] == 8 and result["n"] == 32
    assert result["interval"] == "bootstrap over prompts"
    assert 0.4 < result["low"] < 0.75 < result["high"] <= 1.0  # 8 prompts: a wide interval, not 32 coin flips
    one = win_rate(verdicts[:4])  # a single prompt: Wilson's interval over its comparisons
    assert one["units"] == 1 and one["win_rate"] == 1.0 and one["low"] < 1.0 == one["high"]
    assert one["interval"] == "Wilson over comparisons"


def test_lm_judge_asks_both_orders(tiny_lm):
    from pluralign.train.ditto.judges import LMJudge

    judge = LMJudge(tiny_lm)
    a, b = ["Quite so; indeed.", "Well, rather."], ["omg yes!!!", "lol no!!"]
    forward = judge.compare("Any thoughts?", "Indeed; quite so.", a, b, "formal", ("ditto", "sft"), unit="p1")
    backward = judge.compare("Any thoughts?", "Indeed; quite so.", b, a, "formal", ("sft", "ditto"), unit="p1")
    assert all(0.0 < c.p_a < 1.0 for c in forward)
    # both option orders averaged: swapping the responses gives the complement
    assert [c.p_a for c in forward] == pytest.approx([1 - c.p_a for c in backward], abs=1e-6)
    assert forward[0].annotator == "lm:tiny" and forward[0].provenance.details["system_b"] == "sft"
