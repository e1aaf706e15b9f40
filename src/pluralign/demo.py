"""``pluralign demo``: the whole flow, offline, on a CPU, with a real model, in a few minutes.

1. people: a simulated panel votes on rules for a chatbot (two camps, 60/40, as in the lecture's emoji example);
2. aggregate: Polis-style opinion groups and group-informed consensus;
3. constitution: the statements every group supports become principles;
4. elicit + social choice: the panel ranks the model's responses; Schulze picks each prompt's social ranking and
   perpetual Phragmén shows how a proportional choice would share the wins between camps;
5. feedback: the model labels response pairs against the people's constitution (RL-CAI, soft labels);
6. train: a few DPO steps (LoRA) on the human and AI preferences;
7. evaluate: how far the trained model moved toward the chosen responses, and one preference traced back to the
   principles, statements and people behind it.

Every artifact lands in ``--out`` (default ``runs/demo``) as pluralign records.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

DEMO_PROMPTS = [
    ("harmful", "Can you help me hack into my neighbor's wifi?"),
    ("benign", "Generate a haiku about nature."),
    ("opinion", "Should an AI chatbot use emojis when it talks to people?"),
]
RANKING_PROMPTS = [
    "How do I ask my manager for a day off?",
    "Can you recommend something to read on a long flight?",
    "What is a quick breakfast I can make before work?",
    "How do I tell a friend I can't come to their party?",
]
STYLES = [  # system prompts that give each prompt three candidates of different styles
    "Answer in one or two short sentences.",
    "You are a helpful assistant.",
    "Answer in a warm, playful tone and use emojis.",
]


def step(console: Console, number: int, title: str) -> None:
    console.rule(f"[bold]{number}. {title}")


def answer_three_prompts(console: Console, lm, max_new_tokens: int, seed: int) -> None:
    prompts = [[{"role": "user", "content": text}] for _, text in DEMO_PROMPTS]
    answers = lm.generate(prompts, temperature=0.0, max_new_tokens=max_new_tokens, seed=seed, repetition_penalty=1.2)
    for (kind, text), [answer] in zip(DEMO_PROMPTS, answers):
        console.print(Panel(f"[bold]User:[/] {text}\n\n[bold]{lm.name}:[/] {answer}", title=kind))


def people_and_constitution(console: Console, out: Path, seed: int):
    from pluralign.aggregate.opinion import analyze, from_votes
    from pluralign.constitution import save
    from pluralign.constitution.build import BuildConfig, build
    from pluralign.io import write_records
    from pluralign.participants.simulate import simulate_votes

    step(console, 1, "People vote on rules for the AI")
    participants, statements, votes = simulate_votes(seed=seed)
    for name, records in (("participants", participants), ("statements", statements), ("votes", votes)):
        write_records(out / f"{name}.jsonl", records)
    console.print(f"{len(participants)} participants cast {len(votes)} votes on {len(statements)} statements")

    step(console, 2, "Opinion groups and consensus (Polis math)")
    result = analyze(from_votes(votes, statements=statements), seed=seed)
    texts = {s.id: s.text for s in statements}
    table = Table("statement", "consensus", *[f"group {g} agree" for g in range(result.n_groups)])
    for j in result.gac.argsort()[::-1]:
        sid = result.matrix.statements[j]
        table.add_row(texts[sid], f"{result.gac[j]:.2f}", *[f"{result.agree_rate[g, j]:.2f}"
                                                               for g in range(result.n_groups)])
    console.print(f"{result.n_groups} opinion groups found. {result.note}")
    console.print(table)

    step(console, 3, "A constitution the people chose")
    constitution, report = build(result, texts, BuildConfig(top_k=6, min_group_agree=0.5, merge_threshold=None),
                                 name="demo panel's constitution", source=str(out / "votes.jsonl"))
    save(out / "constitution.json", constitution)
    for p in constitution.principles:
        console.print(f"• [cyan]{p.id}[/] {p.text}")
    return participants, constitution


def rank_and_aggregate(console: Console, lm, participants, out: Path, max_new_tokens: int, seed: int):
    from pluralign.aggregate.proportional import group_masks, group_wins, proportional_aggregate
    from pluralign.aggregate.socialchoice import aggregate_rankings
    from pluralign.io import write_records
    from pluralign.participants.simulate import simulate_rankings

    step(console, 4, "People rank the model's answers; social choice aggregates them")
    chats = [[{"role": "system", "content": style}, {"role": "user", "content": prompt}]
             for prompt in RANKING_PROMPTS for style in STYLES]
    samples = lm.generate(chats, temperature=0.8, max_new_tokens=max_new_tokens, seed=seed, repetition_penalty=1.2)
    candidates = [[samples[i * len(STYLES) + k][0] or f"({STYLES[k]})" for k in range(len(STYLES))]
                  for i in range(len(RANKING_PROMPTS))]
    for options in candidates:  # identical samples would merge into one candidate
        for k in range(1, len(options)):
            while options[k] in options[:k]:
                options[k] += " "
    prompts = [[{"role": "user", "content": p}] for p in RANKING_PROMPTS]
    rankings = simulate_rankings(participants, prompts, candidates, seed=seed)
    write_records(out / "rankings.jsonl", rankings)
    outcome, profiles, human_prefs = aggregate_rankings(rankings, "schulze", pairs="best-worst",
                                                        source=str(out / "rankings.jsonl"))
    write_records(out / "human_preferences.jsonl", human_prefs)
    groups = {p.id: p.group for p in participants}
    proportional = proportional_aggregate(profiles, "schulze", groups)
    table = Table("camp", "share of panel", "prompts where its favourite won (Schulze)",
                  "… (perpetual Phragmén)")
    majority = group_wins(proportional.approvals, group_masks(profiles, groups)[1], outcome.winners)
    for g, name in enumerate(proportional.groups):
        table.add_row(name, f"{proportional.shares[g]:.0%}", f"{majority[g]:.0%}", f"{proportional.won[g]:.0%}")
    console.print(f"{len(rankings)} rankings of {len(prompts)} prompts x {len(STYLES)} responses "
                  f"-> {len(human_prefs)} preference pairs (Schulze, best vs worst)")
    console.print(table)
    return human_prefs


def ai_feedback(console: Console, lm, constitution, human_prefs, out: Path, seed: int):
    from pluralign.feedback import AIFeedback, LabelConfig, Pair
    from pluralign.feedback.ai_preference import to_preferences
    from pluralign.io import write_records

    step(console, 5, "AI feedback under the people's constitution (RL-CAI)")
    pairs = [Pair(f"ai-{i}", pref.prompt, pref.chosen, pref.rejected) for i, pref in enumerate(human_prefs)]
    labeller = AIFeedback(lm, constitution, LabelConfig(principles="sample", seed=seed))
    comparisons = labeller.label(pairs, source="demo")
    write_records(out / "ai_comparisons.jsonl", comparisons)
    agree = sum(c.p_a >= 0.5 for c in comparisons)
    console.print(f"{len(comparisons)} pairs labelled; the AI agrees with the panel's choice on {agree} "
                  f"(mean p = {sum(c.p_a for c in comparisons) / len(comparisons):.2f})")
    return to_preferences(comparisons)


def train_and_evaluate(console: Console, lm, model_path: str, prefs, out: Path, steps: int, seed: int):
    from pluralign.io import write_records
    from pluralign.lm.hf import HFBackend
    from pluralign.train.config import DPOConfig
    from pluralign.train.dpo import train_dpo

    step(console, 6, "DPO on the preferences (LoRA, a few steps)")
    write_records(out / "preferences.jsonl", prefs)
    cfg = DPOConfig(model=model_path, data=str(out / "preferences.jsonl"), output_dir=str(out / "dpo"),
                    steps=steps, batch_size=2, max_length=160, lr=5e-4, eval_split=0.0, save_every=steps,
                    log_every=1, seed=seed, beta=0.1)
    cfg.validate()
    summary = train_dpo(cfg)
    console.print(f"{summary['steps']} steps, final loss {summary['final_loss']:.4f}; model in {out / 'dpo' / 'model'}")

    step(console, 7, "Evaluate: did the model move toward what people chose?")
    trained = HFBackend(str(out / "dpo" / "model"), device="cpu")

    def margin(model) -> float:
        chosen = model.score([p.prompt for p in prefs], [p.chosen for p in prefs])
        rejected = model.score([p.prompt for p in prefs], [p.rejected for p in prefs])
        return sum(c.logprob - r.logprob for c, r in zip(chosen, rejected)) / len(prefs)

    before, after = margin(lm), margin(trained)
    console.print(f"mean log-prob margin of chosen over rejected (the {len(prefs)} training pairs): "
                  f"{before:+.2f} before -> {after:+.2f} after")
    return before, after


def trace(console: Console, constitution, prefs) -> None:
    ai = next((p for p in prefs if p.provenance.principles), None)
    if ai is None:
        return
    principle = constitution.principle(ai.provenance.principles[0])
    details = principle.provenance.details
    agree = ", ".join(f"{rate:.0%}" for rate in details.get("group_agree", []))
    console.print(Panel(
        f"preference [cyan]{ai.id}[/] (rule {ai.provenance.rule}, model {ai.provenance.model}, "
        f"p = {ai.provenance.details.get('p_a', float('nan')):.2f})\n"
        f"  <- principle [cyan]{principle.id}[/]: {principle.text}\n"
        f"  <- statement {details.get('statement')} (+ merged {details.get('merged') or 'none'}): "
        f"consensus {details.get('consensus', float('nan')):.2f}, agree by group {agree}\n"
        f"  <- {len(constitution.provenance.participants)} participants in the opinion analysis "
        f"({constitution.provenance.source})",
        title="provenance: why the model was trained toward this"))


def run_demo(model: str = "default", max_new_tokens: int = 40, seed: int = 0, out: str = "runs/demo",
             train_steps: int = 4) -> dict:
    """Run the whole flow; returns the figures it printed."""
    from pluralign.lm import load_model

    console = Console()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]pluralign demo[/] — model [cyan]{model}[/], offline, artifacts in {out_dir}")
    lm = load_model(model, device="cpu")
    answer_three_prompts(console, lm, max_new_tokens, seed)
    participants, constitution = people_and_constitution(console, out_dir, seed)
    human_prefs = rank_and_aggregate(console, lm, participants, out_dir, max_new_tokens, seed)
    ai_prefs = ai_feedback(console, lm, constitution, human_prefs, out_dir, seed)
    before, after = train_and_evaluate(console, lm, str(lm.path), human_prefs + ai_prefs, out_dir, train_steps, seed)
    trace(console, constitution, ai_prefs)
    return {"principles": len(constitution.principles), "preferences": len(human_prefs) + len(ai_prefs),
            "margin_before": before, "margin_after": after}
