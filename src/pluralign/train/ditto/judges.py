"""Judges of "which output is closer to the author", and head-to-head win rates with 95% intervals.

The paper's judge is GPT-4 asked which of two outputs is closer to the author's held-out text (Shaikh et al.,
ICLR 2025, Section 4.1). Two judges here:

* :class:`AuthorshipJudge` -- objective and offline: an authorship-attribution classifier (character n-gram
  TF-IDF + logistic regression, scikit-learn) fitted on the authors' training texts. Output a beats output b for
  author x when the classifier gives a higher P(x | a) than P(x | b) (equal: a tie, 0.5). Check its held-out
  attribution accuracy on real texts (:meth:`AuthorshipJudge.accuracy`) before trusting its verdicts.
* :class:`LMJudge` -- the paper's question put to any model through the AI labeller of
  :mod:`pluralign.feedback.ai_preference` (multiple choice, both option orders averaged, calibrated).

Every verdict is a :class:`~pluralign.records.Comparison` (``p_a`` = 1, 0 or 0.5 for the classifier, a
probability for the LM) whose provenance names the author, the prompt, the two systems and the judge.
:func:`win_rate` bootstraps over prompts (samples of one prompt are not independent).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from pluralign.lm.base import LanguageModel
from pluralign.records import Comparison, Constitution, Principle, Provenance


def _comparison(prompt, a: str, b: str, p_a: float, judge: str, author: str, names: tuple[str, str],
                unit: str, **details) -> Comparison:
    return Comparison(prompt=prompt, response_a=a, response_b=b, p_a=float(p_a), annotator=judge,
                      provenance=Provenance(participants=[author], rule=f"ditto-judge/{judge}", details={
                          "author": author, "system_a": names[0], "system_b": names[1], "unit": unit, **details}))


class AuthorshipJudge:
    """Character n-gram TF-IDF (``char_wb``, sublinear tf) + multinomial logistic regression over authors.

    Args:
        ngram_range: character n-gram lengths (2-4: function-word fragments, punctuation and spelling habits, the
            classic stylometric features; Stamatatos 2009).
        C: inverse regularisation of the logistic regression.
    """

    def __init__(self, ngram_range: tuple[int, int] = (2, 4), C: float = 10.0, max_features: int = 100_000):
        self.ngram_range, self.C, self.max_features = ngram_range, C, max_features
        self.pipeline = None

    def fit(self, texts: Sequence[str], authors: Sequence[str]) -> "AuthorshipJudge":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        if len(set(authors)) < 2:
            raise ValueError("an attribution classifier needs texts by at least two authors")
        self.pipeline = make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=self.ngram_range, sublinear_tf=True,
                            max_features=self.max_features),
            LogisticRegression(C=self.C, max_iter=2000))
        self.pipeline.fit(list(texts), list(authors))
        return self

    @property
    def authors(self) -> list[str]:
        return list(self.pipeline.classes_)

    def proba(self, texts: Sequence[str], author: str) -> np.ndarray:
        """P(author | text) for each text."""
        column = self.authors.index(author)
        return self.pipeline.predict_proba(list(texts))[:, column]

    def accuracy(self, texts: Sequence[str], authors: Sequence[str]) -> float:
        """Share of texts attributed to their true author (top-1)."""
        return float(np.mean(self.pipeline.predict(list(texts)) == np.asarray(authors)))

    def compare(self, prompt, outputs_a: Sequence[str], outputs_b: Sequence[str], author: str,
                names: tuple[str, str], unit: str = "") -> list[Comparison]:
        """Output i of system a vs output i of system b, for ``author``."""
        pa, pb = self.proba(outputs_a, author), self.proba(outputs_b, author)
        return [_comparison(prompt, a, b, 1.0 if x > y else 0.0 if x < y else 0.5, "authorship-classifier", author,
                            names, unit, p_author_a=float(x), p_author_b=float(y))
                for a, b, x, y in zip(outputs_a, outputs_b, pa, pb)]


JUDGE_QUESTION = ("Here is a text the human wrote themselves for this request:\n\n{reference}\n\n"
                  "Which of these responses is closer to the human's own text, in style and in content?")


class LMJudge:
    """The paper's judge question through the AI labeller: P(a closer to the author's held-out text than b)."""

    def __init__(self, lm: LanguageModel, reference_chars: int = 1500):
        self.lm, self.reference_chars = lm, reference_chars

    def compare(self, prompt, reference: str, outputs_a: Sequence[str], outputs_b: Sequence[str], author: str,
                names: tuple[str, str], unit: str = "") -> list[Comparison]:
        from pluralign.feedback.ai_preference import AIFeedback, LabelConfig

        principle = Principle(id=f"closer-to-author-{unit or author}", text="closer to the author's own text",
                              critique_request="How does the response differ from the human's own text?",
                              revision_request="Rewrite the response the way the human would have written it.",
                              choice_prompt=JUDGE_QUESTION.format(reference=reference[: self.reference_chars]))
        labeller = AIFeedback(self.lm, Constitution(name="ditto-judge", principles=[principle]),
                              LabelConfig(both_orders=True, calibrate=True))
        p, _ = labeller.probabilities([prompt] * len(outputs_a), list(outputs_a), list(outputs_b))
        return [_comparison(prompt, a, b, x, f"lm:{self.lm.name}", author, names, unit)
                for a, b, x in zip(outputs_a, outputs_b, p)]


def win_rate(comparisons: Sequence[Comparison], confidence: float = 0.95, seed: int = 0,
             min_units: int = 5) -> dict:
    """Mean ``p_a`` (ties count half) with a percentile-bootstrap interval over units (prompts).

    Samples for one prompt share that prompt, so the unit of resampling is the prompt (``provenance.details
    ["unit"]``), not the comparison. With fewer than ``min_units`` prompts a bootstrap over them means nothing, and
    the interval is Wilson's over comparisons (too narrow where samples of a prompt agree); ``interval`` says which.
    """
    from scipy import stats

    units: dict[str, list[float]] = defaultdict(list)
    for c in comparisons:
        units[str(c.provenance.details.get("unit", ""))].append(c.p_a)
    scores = np.array([c.p_a for c in comparisons], dtype=float)
    if len(scores) == 0:
        raise ValueError("no comparisons")
    if len(units) >= min_units:
        method = "bootstrap over prompts"
        means = np.array([np.mean(v) for v in units.values()])
        if np.ptp(means) == 0:
            lo = hi = float(means[0])
        else:
            ci = stats.bootstrap((means,), np.mean, confidence_level=confidence, n_resamples=9999,
                                 method="percentile", random_state=seed).confidence_interval
            lo, hi = float(ci.low), float(ci.high)
        rate = float(means.mean())
    else:
        method = "Wilson over comparisons"
        rate = float(scores.mean())
        ci = stats.binomtest(int(round(scores.sum())), len(scores)).proportion_ci(confidence, method="wilson")
        lo, hi = float(ci.low), float(ci.high)
    return {"win_rate": rate, "low": lo, "high": hi, "n": len(scores), "units": len(units), "interval": method}
