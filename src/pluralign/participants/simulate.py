"""A simulated panel: two opinion camps voting on rules for a chatbot and ranking responses by taste.

For demos and tests of the whole flow where no real people are at hand. It mirrors the lecture's emoji example:
60% of people find emojis unprofessional and want short answers ("plain"), 40% like a warm, playful tone
("playful"); both camps share core values (honesty, privacy, no help with harm). Votes are drawn from each camp's
agree/disagree/pass probabilities; rankings follow each camp's taste (noise only breaks near-ties), so camps
disagree on style but agree on substance. The two tastes pull in opposite directions (plain: fewer emojis, fewer
characters; playful: more of both), so on every prompt each camp has its own favourite and, with everyone ranking
every prompt, the 60% camp wins every prompt's majority vote: the lecture's point that prompt-by-prompt
aggregation hands a 60% majority all of the rankings. Deterministic for a given seed.
"""

from __future__ import annotations

import re

import numpy as np

from pluralign.records import Participant, Provenance, Ranking, Statement, Text, Vote

# id, statement, P(agree) for (plain, playful). P(pass) is 0.1; the rest is disagree.
STATEMENTS: list[tuple[str, str, tuple[float, float]]] = [
    ("s1", "The AI should tell people when it is not sure about an answer.", (0.95, 0.94)),
    ("s2", "The AI should refuse to help anyone hurt another person.", (0.97, 0.95)),
    ("s3", "The AI should keep what people tell it private.", (0.96, 0.94)),
    ("s4", "The AI should use emojis to sound friendly.", (0.08, 0.85)),
    ("s5", "The AI should keep its answers short and to the point.", (0.85, 0.2)),
    ("s6", "The AI should share its own opinions on political questions.", (0.15, 0.4)),
    ("s7", "The AI should never pretend to be a human being.", (0.94, 0.9)),
    ("s8", "The AI should use casual, chatty language.", (0.1, 0.85)),
    ("s9", "The AI should treat people of every culture with equal respect.", (0.97, 0.97)),
    ("s10", "The AI should be upfront about the limits of what it can do.", (0.94, 0.92)),
    ("s11", "The AI should add jokes to lighten serious topics.", (0.05, 0.55)),
    ("s12", "The AI should explain the reasons behind its advice.", (0.9, 0.85)),
]
CAMPS = ("plain", "playful")
EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF]")


def simulate_votes(n_participants: int = 50, share_plain: float = 0.6, seen: float = 0.9, seed: int = 0
                   ) -> tuple[list[Participant], list[Statement], list[Vote]]:
    """Participants (``group`` = their camp), the statements, and their votes (each statement seen with
    probability ``seen``)."""
    rng = np.random.default_rng(seed)
    n_plain = round(n_participants * share_plain)
    camps = [CAMPS[0] if i < n_plain else CAMPS[1] for i in range(n_participants)]
    participants = [Participant(id=f"p{i + 1}", group=camp, attributes={"camp": camp}) for i, camp in enumerate(camps)]
    statements = [Statement(id=sid, text=text, moderated=1) for sid, text, _ in STATEMENTS]
    votes = []
    for person in participants:
        camp = CAMPS.index(person.group)
        for sid, _, agree in STATEMENTS:
            if rng.random() > seen:
                continue
            p_agree = agree[camp] * 0.9
            draw = rng.random()
            value = 1 if draw < p_agree else (0 if draw < p_agree + 0.1 else -1)
            votes.append(Vote(participant=person.id, statement=sid, value=value))
    return participants, statements, votes


def taste(camp: str, response: str) -> float:
    """How much a camp likes a response: plain wants it short and emoji-free; playful wants emojis and a longer,
    warmer answer. One emoji counts as much as 200 characters (about 40 words); length is counted in characters,
    so two different answers rarely tie."""
    emojis = min(len(EMOJI.findall(response)), 3)
    length = min(len(response.strip()), 800) / 100
    if camp == "plain":
        return -2.0 * emojis - length
    return 2.0 * emojis + length + 0.5 * ("!" in response)


def simulate_rankings(participants: list[Participant], prompts: list[Text], candidates: list[list[str]],
                      raters_per_prompt: int | None = None, noise: float = 0.005, seed: int = 0) -> list[Ranking]:
    """Each prompt ranked, best first, by ``raters_per_prompt`` randomly drawn participants (default: every
    participant, so each prompt's electorate is the panel itself) by their camp's taste plus Gaussian noise
    (sd ``noise`` in taste units, 1 = 100 characters: the default only breaks near-ties, so a camp ranks as one,
    as in the lecture's example)."""
    rng = np.random.default_rng(seed)
    n_raters = len(participants) if raters_per_prompt is None else min(raters_per_prompt, len(participants))
    rankings = []
    for p, (prompt, options) in enumerate(zip(prompts, candidates)):
        raters = rng.choice(len(participants), size=n_raters, replace=False)
        for r in raters:
            person = participants[r]
            scores = [taste(person.group, text) + rng.normal(0, noise) for text in options]
            order = [[options[i]] for i in np.argsort(scores)[::-1]]
            rankings.append(Ranking(id=f"r{p}-{person.id}", prompt=prompt, candidates=list(options), order=order,
                                    annotator=person.id,
                                    provenance=Provenance(participants=[person.id], rule="simulated-taste",
                                                          details={"camp": person.group})))
    return rankings
