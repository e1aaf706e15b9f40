"""The text tasks ("write the answer you would want", "edit this response") over HTTP: the flow, what is
stored, and hostile input (non-UTF-8 bytes, a 1 MB body, control and bidi characters, empty text, unknown
items), on SQLite and, with PLURALIGN_TEST_PG_URL, PostgreSQL."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from pluralign.elicit import schema as S
from pluralign.elicit import task_store as T
from pluralign.elicit.app import create_app
from pluralign.elicit.store import Store
from pluralign.elicit.tasks_demos import create_demonstration_task, demonstrations
from pluralign.elicit.tasks_edits import create_edit_task, edits
from pluralign.records import Demonstration, Edit

JSON = {"accept": "application/json"}
FORM = {**JSON, "content-type": "application/x-www-form-urlencoded"}
MARKUP = "Sure: </textarea><script>alert(1)</script> <b>done</b>"
PAGES = {"demonstration": ("/d/demo", "/d/demo/answer"), "edit": ("/e/edit", "/e/edit/edit")}


def make_tasks(store: Store, **limits):
    """(store, client, {kind: process}, {kind: token}) with a demonstration task and an edit task of 2 items."""
    demo, demo_token = create_demonstration_task(store, "Write the answer you would want", [
        {"prompt": "Write a short note to a neighbour about a parcel."},
        {"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]},
    ], slug="demo")
    edit, edit_token = create_edit_task(store, "Edit this response", [
        {"prompt": "Greet me.", "response": MARKUP},
        {"prompt": "Name a colour.", "response": "Blue.\nOr green."},
    ], model="tiny-test-model", slug="edit")
    client = TestClient(create_app(store, **({"rate": 100, "burst": 100} | limits)))
    return store, client, {"demonstration": demo, "edit": edit}, {"demonstration": demo_token, "edit": edit_token}


@pytest.fixture
def tasks(store):
    return make_tasks(store)


def start(client, path: str) -> tuple[str, str]:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return page.text, re.search(r'name="csrf" value="([^"]*)"', page.text)[1]


def textarea(html: str) -> str:
    import html as h

    return h.unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", html, re.S)[1])


def stored(store: Store, process) -> list[dict]:
    return T.submissions(store, process)


def n_participants(store: Store, process) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(S.Participant)
                            .where(S.Participant.process_id == process.id)).scalar_one()


@pytest.mark.parametrize("kind", ["demonstration", "edit"])
def test_write_every_item_then_revise_one(tasks, kind):
    store, client, processes, _ = tasks
    process, (page, action) = processes[kind], PAGES[kind]
    html, csrf = start(client, page)
    assert "Item 1 of 2" in html and n_participants(store, process) == 0  # a page view writes nothing
    if kind == "edit":
        assert textarea(html) == MARKUP and "<script>alert" not in html  # prefilled, shown as text
    texts = ["First line\r\nsecond line\twith a tab  ", "Hello! 👋"]
    for number, text in enumerate(texts):
        reply = client.post(action, data={"csrf": csrf, "item": number, "text": text}, follow_redirects=False)
        assert reply.status_code == 303 and reply.headers["location"] == f"{page}?saved={number}"
        html = client.get(reply.headers["location"]).text
        assert 'id="saved"' in html
    assert 'id="done"' in html and html.count(f'href="{page}?item=') == 2
    first = stored(store, process)
    assert [(s["item"], s["participant"], s["text"]) for s in first] == [
        (0, 0, "First line\nsecond line\twith a tab"), (1, 0, "Hello! 👋")]

    html, _ = start(client, f"{page}?item=0")  # revise: the page shows what was written
    assert textarea(html) == first[0]["text"] and "saving replaces it" in html
    reply = client.post(action, data={"csrf": csrf, "item": 0, "text": "Revised <b>text</b>"}, headers=JSON)
    assert reply.json() == {"ok": True, "item": 0, "characters": 19}
    assert "Revised &lt;b&gt;text&lt;/b&gt;" in client.get(f"{page}?item=0").text
    again = stored(store, process)
    assert len(again) == 2 and again[0]["text"] == "Revised <b>text</b>"
    assert again[0]["created"] == first[0]["created"] and again[0]["updated"] >= first[0]["updated"]

    records = demonstrations(store, process) if kind == "demonstration" else edits(store, process)
    record = records[1]
    assert record.id == f"{process.slug}-1-0" and record.provenance.participants == ["0"]
    assert record.provenance.source == f"elicit:{process.slug}" and record.provenance.details["item"] == 1
    if kind == "demonstration":
        assert isinstance(record, Demonstration) and record.author == "0" and record.completion == "Hello! 👋"
        assert [m.role for m in record.prompt] == ["system", "user"]  # a conversation prompt stays one
    else:
        assert isinstance(record, Edit) and record.annotator == "0" and record.provenance.model == "tiny-test-model"
        assert (record.prompt, record.original, record.edited) == ("Name a colour.", "Blue.\nOr green.", "Hello! 👋")


def test_an_unchanged_edit_is_stored_as_accepted(tasks):
    store, client, processes, _ = tasks
    html, csrf = start(client, "/e/edit")
    client.post("/e/edit/edit", data={"csrf": csrf, "item": 0, "text": textarea(html)})
    [edit] = edits(store, processes["edit"])
    assert edit.edited == edit.original == MARKUP


TEXT_REFUSALS = [
    ("", "is empty"),
    (" \n\t\u200b\u200b ", "is empty"),
    ("\u0301\u0301", "is empty"),
    ("a\x00b", "control characters"),
    ("\x1b[31mred", "control characters"),
    ("text \u202eevil", "bidirectional"),
    ("\u2069closed first\u2066", "bidirectional"),
    ("x" * (T.MAX_TEXT_CHARS + 1), "too long"),
]
ITEM_REFUSALS = [("99", 404, "item 99 not found"), ("-1", 422, "must be an integer"),
                 ("abc", 422, "must be an integer"), ("\u0663", 422, "must be an integer"),
                 ("1e3", 422, "must be an integer"), ("99999999999", 422, "out of range"), (None, 422, "missing")]


@pytest.mark.parametrize("kind", ["demonstration", "edit"])
def test_refused_texts_and_items_store_nothing(tasks, kind):
    store, client, processes, _ = tasks
    process, (page, action) = processes[kind], PAGES[kind]
    _, csrf = start(client, page)
    for text, message in TEXT_REFUSALS:
        reply = client.post(action, data={"csrf": csrf, "item": 0, "text": text}, headers=JSON)
        assert reply.status_code == 422 and message in reply.json()["detail"], (text[:20], reply.text)
    for item, status, message in ITEM_REFUSALS:
        data = {"csrf": csrf, "text": "fine"} | ({} if item is None else {"item": item})
        reply = client.post(action, data=data, headers=JSON)
        assert reply.status_code == status and message in reply.json()["detail"], (item, reply.text)
    assert client.post(action, data={"csrf": "forged", "item": 0, "text": "fine"}, headers=JSON).status_code == 403
    fresh = TestClient(client.app)  # no cookie
    assert fresh.post(action, data={"csrf": csrf, "item": 0, "text": "fine"}, headers=JSON).status_code == 403
    page_error = client.post(action, data={"csrf": csrf, "item": 0, "text": ""})  # browsers get a page
    assert page_error.status_code == 422 and "is empty" in page_error.text and "text/html" in page_error.headers["content-type"]
    assert stored(store, process) == [] and n_participants(store, process) == 0


@pytest.mark.parametrize("kind", ["demonstration", "edit"])
def test_bytes_that_are_not_utf8(tasks, kind):
    store, client, processes, _ = tasks
    process, (page, action) = processes[kind], PAGES[kind]
    _, csrf = start(client, page)
    for body in (b"item=0&text=caf\xe9 \xff\xfe", b"item=0&text=caf%E9%FF", b"item=0&text=%ED%A0%80"):
        reply = client.post(action, content=body + f"&csrf={csrf}".encode(), headers=FORM)
        assert reply.status_code == 422 and "not valid UTF-8" in reply.json()["detail"], (body, reply.text)
    multipart = (b"--XX\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n" + csrf.encode() +
                 b"\r\n--XX\r\nContent-Disposition: form-data; name=\"item\"\r\n\r\n0\r\n--XX\r\n"
                 b"Content-Disposition: form-data; name=\"text\"\r\n\r\n\xff\xfe\x80\r\n--XX--\r\n")
    reply = client.post(action, content=multipart, headers={**JSON, "content-type": "multipart/form-data; boundary=XX"})
    assert 400 <= reply.status_code < 500 and reply.json()["detail"]
    assert stored(store, process) == []


@pytest.mark.parametrize("kind", ["demonstration", "edit"])
def test_a_megabyte_is_refused_and_the_longest_answer_fits(tasks, kind):
    store, client, processes, _ = tasks
    process, (page, action) = processes[kind], PAGES[kind]
    _, csrf = start(client, page)
    body = f"csrf={csrf}&item=0&text=".encode() + b"a" * 1_000_000
    reply = client.post(action, content=body, headers=FORM)
    assert reply.status_code == 413 and "too large" in reply.json()["detail"]
    chunked = client.post(action, content=iter([body[i:i + 65536] for i in range(0, len(body), 65536)]),
                          headers=FORM)  # no Content-Length: counted as it streams in
    assert chunked.status_code == 413
    assert stored(store, process) == []
    longest = "漢" * T.MAX_TEXT_CHARS  # 9 bytes a character once URL-encoded: still under the default body cap
    reply = client.post(action, data={"csrf": csrf, "item": 1, "text": longest}, headers=JSON)
    assert reply.status_code == 200 and stored(store, process)[0]["text"] == longest


def test_unicode_that_people_write_is_kept(tasks):
    store, client, processes, _ = tasks
    _, csrf = start(client, "/d/demo")
    written = {
        "\u2067שלום\u2069 means hello": "\u2067שלום\u2069 means hello",  # a closed isolate
        "\u200fمرحبا\u200f!": "\u200fمرحبا\u200f!",  # right-to-left marks
        "coder 👩\u200d💻, cafe\u0301": "coder 👩\u200d💻, café",  # joiner kept; NFC composes e + accent
    }
    for number, (text, expected) in enumerate(list(written.items())[:2]):
        assert client.post("/d/demo/answer", data={"csrf": csrf, "item": number, "text": text},
                           headers=JSON).status_code == 200
        assert stored(store, processes["demonstration"])[number]["text"] == expected
    text, expected = list(written.items())[2]
    client.post("/d/demo/answer", data={"csrf": csrf, "item": 0, "text": text}, headers=JSON)
    assert stored(store, processes["demonstration"])[0]["text"] == expected


def test_rate_limit_is_the_apps(store):
    _, client, _, _ = make_tasks(store, rate=1, burst=2)
    _, csrf = start(client, "/d/demo")
    replies = [client.post("/d/demo/answer", data={"csrf": csrf, "item": 0, "text": f"try {i}"}, headers=JSON)
               for i in range(3)]
    assert [r.status_code for r in replies] == [200, 200, 429] and int(replies[2].headers["retry-after"]) >= 1


def test_pages_of_the_wrong_kind_and_unknown_items(tasks):
    _, client, _, _ = tasks
    assert client.get("/d/edit", follow_redirects=False).headers["location"] == "/e/edit"
    assert client.get("/e/demo", follow_redirects=False).headers["location"] == "/d/demo"
    assert client.get("/c/demo", follow_redirects=False).headers["location"] == "/d/demo"
    assert client.get("/t/edit", follow_redirects=False).headers["location"] == "/e/edit"
    _, csrf = start(client, "/d/demo")
    reply = client.post("/d/edit/answer", data={"csrf": csrf, "item": 0, "text": "x"}, headers=JSON)
    assert reply.status_code == 404 and "not a demonstration" in reply.json()["detail"]
    assert client.get("/d/nope", headers=JSON).status_code == 404
    assert client.get("/d/demo?item=99", headers=JSON).json()["detail"] == "item 99 not found in 'demo'"
    assert client.get("/d/demo?item=x", headers=JSON).status_code == 422
    assert client.get("/d/demo?saved=%00x").status_code == 200


def test_organiser_sees_counts_and_exports_the_records(tasks):
    store, client, processes, tokens = tasks
    for kind, (page, action) in PAGES.items():
        _, csrf = start(client, page)
        client.post(action, data={"csrf": csrf, "item": 1, "text": "Mine."})
    for kind, name in (("demonstration", "demonstrations.jsonl"), ("edit", "edits.jsonl")):
        slug, bearer = processes[kind].slug, {"authorization": f"Bearer {tokens[kind]}"}
        admin = client.get(f"/admin/{slug}", headers=bearer)
        assert "texts written</th><td>1<" in admin.text and f'href="{PAGES[kind][0]}"' in admin.text
        assert name in admin.text
        assert client.get(f"/admin/{slug}/export/{name}").status_code == 401
        lines = client.get(f"/admin/{slug}/export/{name}", headers=bearer).text.splitlines()
        record = (Demonstration if kind == "demonstration" else Edit).model_validate(json.loads(lines[0]))
        assert len(lines) == 1 and record.provenance.details["item"] == 1


GARBAGE = [b"", b"\xff\xfe\x00", b"item=0&text=%00", b"item=0&item=1&text=a&text=b", b"=&&==", b"item=&text=",
           b"item=0&text=" + b"%" * 50_000, b"item=0&text=%E2%80%AE", b"text=" + "\u202e".encode() * 1000]


def test_garbage_never_causes_a_server_error(tasks):
    _, client, _, _ = tasks
    _, csrf = start(client, "/d/demo")
    for path in ("/d/demo/answer", "/e/edit/edit", "/d/edit/answer", "/d/%00/answer", "/e/nope/edit"):
        for body in GARBAGE:
            for extra in (b"", b"&csrf=" + csrf.encode()):
                reply = client.post(path, content=body + extra, headers=FORM)
                assert reply.status_code < 500, (path, body[:40], reply.status_code, reply.text[:200])
                assert reply.status_code == 200 or reply.json()["detail"]
