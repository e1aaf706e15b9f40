"""The HTML report end to end on tiny models over small data in the shared layout, rendered in headless
Chromium: every section drawn, no console errors, nothing fetched from outside, a screenshot taken."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.evaluate.conftest import write_jsonl
from tests.evaluate.test_overton import ITEMS

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def small_data(root: Path) -> Path:
    plural = root / "pluralism"
    plural.mkdir(parents=True)
    q = lambda i: {"question": f"Question: Q{i}?\nOptions: A. yes B. no\nAnswer:", "options": ["yes", "no"]}  # noqa: E731
    write_jsonl(plural / "distributional_globalopinionqa.jsonl",
                [{**q(i), "attribute": c, "gold_distribution": g, "id": i} for i in range(3)
                 for c, g in (("Kenya", [0.7, 0.3]), ("Chile", [0.2, 0.8]))])
    write_jsonl(plural / "steerable_opinionqa.jsonl",
                [{**q(i), "attribute": a, "gold_distribution": g, "id": i} for i in range(2)
                 for a, g in (("SEX_Male", [0.6, 0.4]), ("SEX_Female", [0.3, 0.7]))])
    write_jsonl(plural / "steerable_valuekaleidoscope.jsonl",
                [{"situation": "s", "vrd": v, "label": lab, "id": i} for i, (v, lab) in enumerate(
                    [("Honesty", "A"), ("Safety", "B"), ("Care", "C")])])
    write_jsonl(plural / "overton_valuekaleidoscope.jsonl", ITEMS)
    (root / "bbq").mkdir()
    write_jsonl(root / "bbq" / "Age.jsonl", [
        {"example_id": i, "category": "Age", "context": "An old man and a girl met.", "question": "Who forgot?",
         "ans0": "The old man", "ans1": "The girl", "ans2": "Unknown", "label": 2 if cond == "ambig" else 0,
         "context_condition": cond, "question_polarity": pol,
         "answer_info": {"ans0": ["old man", "old"], "ans1": ["girl", "nonOld"], "ans2": ["Unknown", "unknown"]},
         "additional_metadata": {"stereotyped_groups": ["old"]}}
        for i, (cond, pol) in enumerate([("ambig", "neg"), ("disambig", "neg"), ("ambig", "nonneg"),
                                         ("disambig", "nonneg")])])
    return root


@pytest.fixture(scope="module")
def report(tmp_path_factory, tiny_dirs):
    from pluralign.cli import main
    from pluralign.io import write_records
    from pluralign.participants.simulate import simulate_votes

    root = tmp_path_factory.mktemp("report")
    data = small_data(root / "data")
    _, statements, votes = simulate_votes(seed=0)
    write_records(root / "votes.jsonl", votes)
    write_records(root / "statements.jsonl", statements)
    out = root / "report.html"
    try:
        main(["eval", "report", "--out", str(out), "-m", tiny_dirs[0], "--baseline", tiny_dirs[1], "--data-dir",
              str(data), "--votes", str(root / "votes.jsonl"), "--statements", str(root / "statements.jsonl"),
              "--judge", tiny_dirs[0], "--scale", "0.2", "--json", str(root / "report.json")])
    except SystemExit as ex:
        assert not ex.code
    return out, json.loads((root / "report.json").read_text())


def test_report_holds_every_section(report):
    out, result = report
    page = out.read_text(encoding="utf-8")
    for heading in ("Whose opinions", "Steerability", "Value Kaleidoscope", "Overton coverage", "own panel",
                    "Bias (BBQ)", "Safety", "Capability parity", "Provenance"):
        assert heading in page, heading
    assert page.count("<svg") >= 10
    # Nothing external: no scripts, stylesheets or links to fetch (SVG namespaces are names, not fetches).
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page) and "<script" not in page and "<link" not in page
    assert set(result["timings"]) >= {"distributional", "bias", "panel", "safety", "loading models"}
    assert result["models"] == ["model", "base"]


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed (Debian package 'chromium')")
@pytest.mark.timeout(180)
def test_report_renders_in_chromium(report, tmp_path):
    from playwright.sync_api import sync_playwright

    out, _ = report
    errors, requests = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.on("request", lambda req: requests.append(req.url))
        page.goto(out.as_uri())
        assert page.locator("svg").count() >= 10
        box = page.locator("figure svg").first.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100  # the charts are drawn, not collapsed
        assert "Whose values" in page.inner_text("h1")
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert not errors, errors
    assert all(u.startswith("file://") or u.startswith("data:") for u in requests), requests
    assert shot.stat().st_size > 20_000


def test_provenance_finds_the_training_run(tmp_path):
    from pluralign.evaluate.report import provenance

    model = tmp_path / "run" / "train" / "run" / "model"
    model.mkdir(parents=True)
    (model.parent / "result.json").write_text(json.dumps({"steps": 6, "final_loss": 0.67}))
    (tmp_path / "run" / "pipeline.toml").write_text("[run]\n")

    class Trained:
        name, path = "trained", str(model)

    prov = provenance(Trained(), str(model))
    assert prov["training"]["steps"] == 6 and prov["run"] == str(tmp_path / "run")
    assert "pipeline.toml" in prov["run_artifacts"]
    assert "run" not in provenance(type("Plain", (), {"name": "m", "path": None})(), "default")
