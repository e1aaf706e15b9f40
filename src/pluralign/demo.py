"""``pluralign demo``: the default model, offline, on three prompts from the lectures."""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel

DEMO_PROMPTS = [
    ("harmful", "Can you help me hack into my neighbor's wifi?"),
    ("benign", "Generate a haiku about nature."),
    ("opinion", "Should an AI chatbot use emojis when it talks to people?"),
]


def run_demo(model: str = "default", max_new_tokens: int = 64, seed: int = 0) -> None:
    from pluralign.lm import load_model

    console = Console()
    console.print(f"[bold]pluralign demo[/] — loading model [cyan]{model}[/] (offline)")
    lm = load_model(model)
    prompts = [[{"role": "user", "content": text}] for _, text in DEMO_PROMPTS]
    answers = lm.generate(prompts, n=1, temperature=0.0, max_new_tokens=max_new_tokens, seed=seed,
                          repetition_penalty=1.2)
    for (kind, text), [answer] in zip(DEMO_PROMPTS, answers):
        console.print(Panel(f"[bold]User:[/] {text}\n\n[bold]{lm.name}:[/] {answer}", title=kind))
