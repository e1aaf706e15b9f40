"""The text tasks end to end in real headless Chromium against ``pluralign serve``: a participant types an
answer / edits a response, submits, revises, and the database holds the Demonstration / Edit records."""

from __future__ import annotations

from pathlib import Path

import pytest

from pluralign.elicit.store import Store
from pluralign.elicit.tasks_demos import create_demonstration_task, demonstrations
from pluralign.elicit.tasks_edits import create_edit_task, edits
from tests.elicit.test_browser import CHROMIUM, FLAGS, serve

ORIGINAL = "Dear team,\nthe meeting moves to <b>Friday</b>. </textarea><script>document.title='x'</script>\nBest"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed (Debian package 'chromium')")]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """(base URL, db path): ``pluralign serve`` with a demonstration task and an edit task of two items each."""
    db = tmp_path_factory.mktemp("tasks") / "tasks.db"
    store = Store(str(db))
    create_demonstration_task(store, "Write the answer you would want", [
        {"prompt": "Write a two-line note to a neighbour who took in your parcel."},
        {"prompt": [{"role": "user", "content": "How should I say no to a meeting?"}]}], slug="demo")
    create_edit_task(store, "Edit this response", [{"prompt": "Tell the team the meeting moved.", "response": ORIGINAL},
                                                   {"prompt": "Name a colour.", "response": "Blue."}],
                     model="tiny-test-model", slug="edit")
    store.engine.dispose()
    base, proc = serve(db)
    yield base, db
    proc.kill()
    proc.wait()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.mark.timeout(120)
def test_write_the_answer_you_would_want_in_chromium(site, browser):
    base, db = site
    page = browser.new_context().new_page()
    page.goto(f"{base}/d/demo")
    assert "neighbour who took in your parcel" in page.inner_text("#prompt")
    assert page.input_value("#text") == ""
    page.locator("#text").press_sequentially("Thank you for taking my parcel!\nCake is on me <3")
    page.click("#submit")
    assert "Saved" in page.inner_text("#saved") and "Item 2 of 2" in page.inner_text("#position")
    assert "user: How should I say no" in page.inner_text("#prompt")
    page.fill("#text", "I can't make it, sorry.  ")
    page.click("#submit")
    assert "written all 2 items" in page.inner_text("#done")

    page.click("#written a >> nth=0")  # revise the first answer
    assert page.input_value("#text") == "Thank you for taking my parcel!\nCake is on me <3"
    page.fill("#text", "Thanks a lot for the parcel!")
    page.click("#submit")

    store = Store(str(db))
    records = {d.provenance.details["item"]: d for d in demonstrations(store, store.process("demo"))}
    assert records[0].completion == "Thanks a lot for the parcel!" and records[0].author == "0"
    assert records[1].completion == "I can't make it, sorry."
    assert records[1].prompt[0].content == "How should I say no to a meeting?"


@pytest.mark.timeout(120)
def test_edit_this_response_in_chromium(site, browser):
    base, db = site
    page = browser.new_context().new_page()
    page.goto(f"{base}/e/edit")
    assert page.inner_text("#original") == ORIGINAL  # markup shown as text, nothing run
    assert page.locator("#original b, #original script").count() == 0 and page.title() != "x"
    assert page.input_value("#text") == ORIGINAL
    page.locator("#text").press("Control+End")
    page.locator("#text").press_sequentially(",\nSam")
    page.click("#submit")
    assert "Item 2 of 2" in page.inner_text("#position") and page.input_value("#text") == "Blue."
    page.click("#submit")  # unchanged: the response is already right
    assert "written all 2 items" in page.inner_text("#done")

    store = Store(str(db))
    records = {e.provenance.details["item"]: e for e in edits(store, store.process("edit"))}
    assert records[0].original == ORIGINAL and records[0].edited == ORIGINAL + ",\nSam"
    assert records[1].edited == records[1].original == "Blue."
    assert records[0].annotator == "0" and records[0].provenance.model == "tiny-test-model"
