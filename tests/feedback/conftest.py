import pytest

from pluralign.lm.base import option_logprobs_by_scoring


class ScoreOnly:
    """A model seen only through the protocol's score(), as a remote backend would be: every question is
    asked whole."""

    def __init__(self, lm):
        self.lm, self.name = lm, "score-only"

    def score(self, prompts, continuations, progress=None):
        return self.lm.score(prompts, continuations, progress=progress)

    def option_logprobs(self, prompts, options, progress=None, low_precision=False):
        return option_logprobs_by_scoring(self, prompts, options, progress=progress)


@pytest.fixture(scope="session")
def score_only_lm(tiny_lm):
    return ScoreOnly(tiny_lm)
