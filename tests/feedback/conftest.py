import pytest


class ScoreOnly:
    """A model seen only through the protocol's score(), as a remote backend would be: every question is
    asked whole."""

    def __init__(self, lm):
        self.lm, self.name = lm, "score-only"

    def score(self, prompts, continuations):
        return self.lm.score(prompts, continuations)


@pytest.fixture(scope="session")
def score_only_lm(tiny_lm):
    return ScoreOnly(tiny_lm)
