"""``pluralign demo`` is ``pluralign run`` on the package's demo.toml. On a tiny model: every stage writes valid
records, the printed social-choice figures tell the lecture's emoji story (the 60% camp wins every prompt under
majority rule and about its share under the proportional rule), the labeller's control result is shown, the
trained model's margin moved on held-out pairs, and trained preferences trace back to the people."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pluralign.io import read_records


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from pluralign.lm.tiny import save_tiny_model

    tmp = tmp_path_factory.mktemp("demo")
    model = save_tiny_model(tmp / "tiny")
    # A relative --out-dir, as `make demo` gives it: every path a stage writes must hold from any directory.
    done = subprocess.run([sys.executable, "-m", "pluralign.cli", "demo", "--model", str(model), "--out-dir",
                           "run"], capture_output=True, text=True, cwd=tmp, timeout=600,
                          env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr[-3000:]
    return tmp / "run", done.stdout


def manifest(run: Path, stage: str) -> dict:
    return json.loads((run / stage / "manifest.json").read_text())


def test_every_stage_writes_records(demo):
    run, _ = demo
    assert len(read_records(run / "panel" / "votes.jsonl", "vote")) > 400
    constitution = read_records(run / "constitution" / "constitution.json", "constitution")[0]
    assert len(constitution.principles) >= 2
    assert all(p.provenance.details["statement"] and p.provenance.details["group_agree"]
               for p in constitution.principles)
    human = read_records(run / "social_choice" / "preferences.jsonl", "preference")
    assert human and all(p.provenance.rule.startswith("perpetual_phragmen+schulze") and p.provenance.participants
                         for p in human)
    ai = read_records(run / "ai_labels" / "ai_comparisons.jsonl", "comparison")
    assert len(ai) == len(human)
    assert all(c.provenance.principles[0] in {p.id for p in constitution.principles} for c in ai)
    assert len(read_records(run / "train" / "data.jsonl", "preference")) == 2 * len(human)
    assert (run / "train" / "run" / "model" / "config.json").is_file() and (run / "report.html").is_file()


def test_majority_rule_gives_the_majority_every_contested_prompt(demo):
    from pluralign.participants.simulate import taste

    run, stdout = demo
    outcome = json.loads((run / "social_choice" / "outcome.json").read_text())
    groups = {g["group"]: g for g in outcome["groups"]}
    assert groups["plain"]["share"] == pytest.approx(0.6) and groups["playful"]["share"] == pytest.approx(0.4)
    # A tiny random model's answers are all about 40 bytes long, so only some prompts are contested: each camp
    # clearly (by >= 2 characters, 3 noise sd) prefers its own answer. There the majority takes every prompt.
    contested = 0
    for p in outcome["prompts"]:
        best = {}
        for camp in ("plain", "playful"):
            t = sorted(((taste(camp, c), i) for i, c in enumerate(p["candidates"])), reverse=True)
            best[camp] = t[0][1] if t[0][0] - t[1][0] >= 0.02 else None
        if None not in best.values() and best["plain"] != best["playful"]:
            contested += 1
            assert p["rule_winners"] == [best["plain"]], p
    assert contested >= 1
    assert groups["playful"]["proportional"] >= groups["playful"]["majority"]
    assert any("plain" in line and "60%" in line for line in stdout.splitlines())
    assert "gives the largest camp (plain, 60% of the panel) its favourite on" in " ".join(stdout.split())


def test_the_demo_panel_tells_the_emoji_story_on_distinct_answers(tmp_path):
    """The demo's panel and rules on answers whose styles differ as a real model's do: the 60% camp wins 100%
    of the prompts under majority rule and 60% under the proportional rule, the 40% camp 0% and 40%."""
    from rich.console import Console

    from pluralign.io import write_records
    from pluralign.participants.simulate import simulate_rankings, simulate_votes
    from pluralign.pipeline.cli import DEMO_PIPELINE
    from pluralign.pipeline.runner import run_pipeline
    from pluralign.pipeline.spec import load

    demo = load(DEMO_PIPELINE)
    panel, choice = demo.stages["panel"], demo.stages["social_choice"]
    participants, _, _ = simulate_votes(panel.n_participants, panel.share_plain, seed=demo.run.seed)
    prompts = [[{"role": "user", "content": f"Question {i}?"}] for i in range(15)]
    candidates = [[f"Answer {i}.", f"Here is a longer answer to question {i}, with a few more words in it.",
                   f"Ooh, question {i}! What fun 🎉 here is a warm and cheerful answer 😀"] for i in range(15)]
    write_records(tmp_path / "rankings.jsonl", simulate_rankings(participants, prompts, candidates,
                                                                 seed=demo.run.seed))
    path = tmp_path / "story.toml"
    path.write_text(f"[stages.panel]\nn_participants = {panel.n_participants}\nshare_plain = {panel.share_plain}\n"
                    f'[stages.rankings]\nsource = "records"\nfile = "rankings.jsonl"\n'
                    f'[stages.social_choice]\nrule = "{choice.rule}"\nproportional = "{choice.proportional}"\n')
    run_pipeline(load(path), tmp_path / "run", console=Console(quiet=True))
    groups = {g["group"]: g for g in json.loads((tmp_path / "run" / "social_choice" / "outcome.json").read_text())
              ["groups"]}
    assert (groups["plain"]["majority"], groups["playful"]["majority"]) == (1.0, 0.0)
    assert groups["plain"]["proportional"] == pytest.approx(0.6) and groups["playful"]["proportional"] == \
        pytest.approx(0.4)


def test_labeller_reliability_is_shown_and_flagged_at_chance(demo):
    run, stdout = demo
    control = json.loads((run / "ai_labels" / "control.json").read_text())
    assert control["n"] == 16 and control["ci95"][0] <= control["accuracy"] <= control["ci95"][1]
    assert control["at_chance"]  # a random tiny model cannot beat chance on 16 pairs
    assert "AT CHANCE" in stdout


def test_trained_model_moved_on_held_out_pairs(demo):
    run, stdout = demo
    held = json.loads((run / "evaluate" / "heldout.json").read_text())
    trained_on = {p.id for p in read_records(run / "train" / "data.jsonl", "preference")}
    assert held["n"] >= 3 and not set(held["ids"]) & trained_on
    change = [a - b for a, b in zip(held["per_pair"]["after"], held["per_pair"]["before"])]
    assert max(abs(c) for c in change) > 1e-3  # the trained weights score held-out pairs differently
    assert held["change"] == pytest.approx(sum(change) / len(change))
    assert "held-out pairs" in stdout
    panel = json.loads((run / "evaluate" / "panel.json").read_text())
    assert panel["statements"] == 12 and set(panel["after"]["similarity"]) == {"group 0", "group 1"}
    for side in ("before", "after"):
        sim = panel[side]["similarity"]["group 0"]
        assert sim["n"] == 12 and 0 <= sim["low"] <= sim["mean"] <= sim["high"] <= 1


def test_demo_traces_a_human_and_an_ai_preference(demo):
    _, stdout = demo
    assert "(people's choice)" in stdout and "(AI label)" in stdout
    assert "<- principle" in stdout and "<- rankings by 50 participants" in stdout


def test_demo_prints_per_stage_times_and_reruns_nothing(demo):
    run, stdout = demo
    assert "per-stage times" in stdout
    first = manifest(run, "train")["finished"]
    from pluralign.pipeline.cli import DEMO_PIPELINE
    from pluralign.pipeline.runner import run_pipeline
    from pluralign.pipeline.spec import load
    from rich.console import Console

    model = manifest(run, "responses")["model"]["spec"]
    runs = run_pipeline(load(DEMO_PIPELINE, model=model), run, console=Console(quiet=True))
    assert {r.status for r in runs} == {"skipped"} and manifest(run, "train")["finished"] == first


CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed (Debian package 'chromium')")
def test_report_renders_in_chromium_without_errors_or_network(demo, tmp_path):
    from playwright.sync_api import sync_playwright

    run, _ = demo
    errors, requests = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda msg: errors.append(msg.text) if msg.type in ("error", "warning") else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("request", lambda req: requests.append(req.url))
        page.goto((run / "report.html").as_uri())
        page.wait_for_load_state("load")
        headings = page.locator("h2").all_inner_texts()
        alarm = page.locator(".alarm").inner_text()
        svgs = page.locator("figure svg").count()
        width = page.evaluate("document.querySelector('figure svg').getBoundingClientRect().width")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert requests == [(run / "report.html").as_uri()]  # self-contained: nothing else is fetched
    for title in ("Panel and its weighting", "Opinion map and groups", "Social choice", "AI labeller reliability",
                  "Training", "Evaluation", "Provenance of each trained preference"):
        assert any(h.startswith(title) for h in headings), (title, headings)
    assert "AT CHANCE" in alarm and svgs >= 4 and width > 100
    assert (tmp_path / "report.png").stat().st_size > 20_000
